-- Social and OpenID Connect connections.

-- Identities linked to a user. The users row is always the user's primary identity;
-- these are the accounts linked to it (Auth0's identities[1..]), each with the profile
-- it had when it was linked. (provider, identity_user_id) is the Auth0 user_id the
-- identity had on its own ("github" + "123" = "github|123"), unique like users.user_id.
CREATE TABLE user_identities (
    provider         TEXT NOT NULL,
    identity_user_id TEXT NOT NULL,
    user_id          TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    connection_id    TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    connection       TEXT NOT NULL,
    is_social        BOOLEAN NOT NULL DEFAULT FALSE,
    profile_data     JSONB NOT NULL DEFAULT '{}',
    created_at       TEXT NOT NULL,
    PRIMARY KEY (provider, identity_user_id)
);
CREATE INDEX user_identities_user ON user_identities (user_id);

-- Sign-ins through an upstream provider in flight, bound to the browser (gh_browser)
-- that started them. id_hash is the SHA-256 of the state sent upstream (or, while the
-- user proves an existing account before linking, of the link page's handle); the PKCE
-- verifier and nonce are derived from that secret, so nothing here lets anyone finish a
-- sign-in. params is the waiting /authorize request; profile and link_user_id are set
-- only for a pending link.
CREATE TABLE upstream_transactions (
    id_hash       TEXT PRIMARY KEY,
    browser_hash  TEXT NOT NULL,
    connection_id TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    params        TEXT NOT NULL,
    profile       TEXT,
    link_user_id  TEXT REFERENCES users(user_id) ON DELETE CASCADE,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX upstream_transactions_expiry ON upstream_transactions (expires_at);
