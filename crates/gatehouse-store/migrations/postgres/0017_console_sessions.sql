-- Admin console sessions behind the `gh_console` cookie: apart from end users' single
-- sign-on, so signing in to an application never opens the console. The session id is
-- stored only as its SHA-256 (hex). Times are unix seconds. An idle session ends after
-- `idle_expires_at`, any session at `expires_at`; deleting the user ends them all.
CREATE TABLE console_sessions (
    id_hash          TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    created_at       BIGINT NOT NULL,
    last_seen_at     BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    ip               TEXT,
    user_agent       TEXT
);
CREATE INDEX console_sessions_user ON console_sessions (user_id);
