-- Passwordless one-time codes (connections of strategy email and sms): at most one live
-- code per connection and identifier (a new /passwordless/start replaces it). Only a
-- salted SHA-256 of the code is stored (the salt is the row's random id). Each check
-- spends one of `attempts` before comparing, so a code is tried at most a few times
-- however many requests race; the check that matches deletes the row (single use).
-- Times are unix seconds.
CREATE TABLE passwordless_codes (
    id            TEXT PRIMARY KEY,
    connection_id TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    identifier    TEXT NOT NULL,
    client_id     TEXT NOT NULL,
    code_hash     TEXT NOT NULL,
    send          TEXT NOT NULL,
    auth_params   TEXT NOT NULL DEFAULT '{}',
    attempts      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    UNIQUE (connection_id, identifier)
);
CREATE INDEX passwordless_codes_expires_at ON passwordless_codes (expires_at);
