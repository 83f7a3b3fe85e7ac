-- OpenID Connect provider state. Every secret (session ids, codes, refresh tokens,
-- login transaction handles) is stored only as its SHA-256, hex-encoded.
-- Times here are unix seconds (BIGINT), compared numerically.

-- Single sign-on sessions behind the `gh_session` cookie. `sid` is public: it goes
-- into ID tokens and logout requests.
CREATE TABLE login_sessions (
    id_hash     TEXT PRIMARY KEY,
    sid         TEXT NOT NULL UNIQUE,
    user_id     TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    auth_time   BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX login_sessions_user ON login_sessions (user_id);

-- /authorize requests waiting for the user to log in on /u/login, bound to the
-- browser that started them.
CREATE TABLE login_transactions (
    id_hash      TEXT PRIMARY KEY,
    browser_hash TEXT NOT NULL,
    params       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);

-- Authorization codes: single use (used_at is set by the one redemption that wins).
CREATE TABLE authorization_codes (
    code_hash      TEXT PRIMARY KEY,
    family_id      TEXT NOT NULL,
    client_id      TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT,
    code_challenge_method TEXT,
    nonce          TEXT,
    scope          TEXT NOT NULL,
    audience       TEXT,
    user_id        TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    auth_time      BIGINT NOT NULL,
    sid            TEXT,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT
);

-- Refresh tokens. Each redemption rotates: the old row gets rotated_at, a new row joins
-- the same family. Presenting a rotated token revokes the whole family.
CREATE TABLE refresh_tokens (
    token_hash  TEXT PRIMARY KEY,
    family_id   TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    scope       TEXT NOT NULL,
    audience    TEXT,
    sid         TEXT,
    auth_time   BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    rotated_at  BIGINT,
    revoked_at  BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
