-- Users' second factors (Auth0's authentication methods), imported with the user or
-- enrolled: kind 'totp' (secret: the Base32 secret, sealed by the store, see sealed.rs),
-- 'phone' or 'email' (value: the number or address). last_step is the last TOTP time
-- step accepted, so no code is accepted twice. position orders the factors created at one
-- time (an import record's, in the record's order).
CREATE TABLE mfa_factors (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    secret       TEXT,
    value        TEXT,
    confirmed    INTEGER NOT NULL DEFAULT 1,
    last_step    INTEGER,
    created_at   TEXT NOT NULL,
    position     INTEGER NOT NULL DEFAULT 0,
    last_auth_at TEXT
);
CREATE INDEX mfa_factors_user ON mfa_factors (user_id, created_at);
