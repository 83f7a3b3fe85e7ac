-- Passkeys as a first factor of a database connection (options.authentication_methods
-- .passkey.enabled) are kept in mfa_factors with kind 'passkey', as WebAuthn second
-- factors are (secret: the relying-party library's credential, sealed; credential_id: its
-- id, unique across users, by which a sign-in finds its user; last_step: the signature
-- counter): one table for every credential a user holds, listed and removed through
-- Auth0's authentication-methods API, and deleted with the user (ON DELETE CASCADE). No
-- Guardian factor enables the kind, so the second step of a login never offers one.
-- A passkey sign-up's or sign-in's ceremony is a webauthn_ceremonies row bound to the
-- login transaction's id hash; a pending sign-up lives only there (the user is written
-- with the passkey once the ceremony succeeded).

-- Progressive enrolment (passkey_options.progressive_enrollment_enabled): after a password
-- login, a user is offered to create a passkey ONCE; this row says the offer was made,
-- whatever the answer.
CREATE TABLE passkey_enrolment_offers (
    user_id    TEXT PRIMARY KEY REFERENCES users(user_id) ON DELETE CASCADE,
    offered_at TEXT NOT NULL
);
