-- WebAuthn credentials are second factors (mfa_factors, kind 'webauthn-roaming' or
-- 'webauthn-platform'): secret is the relying-party library's credential (public key,
-- algorithm, flags; sealed like every factor secret), value the name shown to people,
-- last_step the authenticator's signature counter, and credential_id the credential's id
-- (base64url), unique across users: a credential registered once cannot join another
-- account, and a passkey sign-in finds its user by it.
ALTER TABLE mfa_factors ADD COLUMN credential_id TEXT;
CREATE UNIQUE INDEX mfa_factors_credential ON mfa_factors (credential_id);

-- A WebAuthn ceremony between its two requests: the challenge and what the library checks
-- the answer against (state, JSON). bound_to is what it belongs to: a waiting login's
-- id_hash (mfa_pending) for a second factor. Taken once (deleted as it is read), and
-- worthless after expires_at; a new ceremony for the same login replaces the old one.
CREATE TABLE webauthn_ceremonies (
    bound_to   TEXT PRIMARY KEY,
    purpose    TEXT NOT NULL,
    state      TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX webauthn_ceremonies_expires ON webauthn_ceremonies (expires_at);
