-- A login whose first factor passed and whose second has not yet: never a session or a
-- token until it does. Hosted logins are bound to the browser that began them
-- (browser_hash); an mfa_token of the password grants has none. id_hash is the SHA-256
-- of the handle (the page's state, or the mfa_token); context is what the login resumes
-- (JSON). An emailed code and an out-of-band challenge are kept as hashes too. passed_at:
-- the factor passed and only a recovery code remains to be shown (hosted).
CREATE TABLE mfa_pending (
    id_hash         TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    client_id       TEXT NOT NULL,
    browser_hash    TEXT,
    context         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    passed_at       BIGINT,
    email_code_hash TEXT,
    email_sent_at   BIGINT,
    oob_code_hash   TEXT
);
CREATE INDEX mfa_pending_expires ON mfa_pending (expires_at);

-- Browsers a user asked to be remembered after a second factor (Auth0: 30 days). Only
-- the cookie's SHA-256 is kept; every row of a user goes when an administrator
-- invalidates them or the password changes.
CREATE TABLE mfa_remembered_browsers (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX mfa_remembered_browsers_user ON mfa_remembered_browsers (user_id);

-- The authentication methods of the login a code was issued for (OIDC amr, space
-- separated: "pwd", "pwd mfa", "federated mfa").
ALTER TABLE authorization_codes ADD COLUMN amr TEXT;
