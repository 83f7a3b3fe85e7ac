-- Sign-up, password reset and email verification.

-- Tickets: the links of verification and password-change emails. Only the SHA-256 of a
-- ticket is stored (hex). Single use: the one conditional UPDATE that sets used_at wins.
-- Times are unix seconds.
CREATE TABLE tickets (
    ticket_hash TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    client_id   TEXT,
    result_url  TEXT,
    params      JSONB NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX tickets_expires_at ON tickets (expires_at);
CREATE INDEX tickets_user ON tickets (user_id);

-- Passwords a user has had (their stored hashes), newest last, for password_history.
CREATE TABLE password_history (
    id BIGSERIAL PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE INDEX password_history_user ON password_history (user_id, id);
