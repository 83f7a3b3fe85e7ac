-- Authorization: APIs (Auth0's resource servers), roles, and the permissions — an API's
-- scopes — that roles and users hold. A permission names its API by identifier (the
-- audience), so deleting an API, a role or a user takes with it what hangs off it.
CREATE TABLE resource_servers (
    id          TEXT PRIMARY KEY,
    identifier  TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    is_system   INTEGER NOT NULL DEFAULT 0,
    scopes      TEXT NOT NULL DEFAULT '[]',
    signing_alg TEXT NOT NULL DEFAULT 'RS256',
    token_lifetime INTEGER NOT NULL,
    token_lifetime_for_web INTEGER NOT NULL,
    allow_offline_access INTEGER NOT NULL DEFAULT 0,
    skip_consent_for_verifiable_first_party_clients INTEGER NOT NULL DEFAULT 0,
    enforce_policies INTEGER NOT NULL DEFAULT 0,
    token_dialect TEXT NOT NULL DEFAULT 'access_token',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE roles (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE role_permissions (
    role_id     TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    resource_server_identifier TEXT NOT NULL
        REFERENCES resource_servers(identifier) ON DELETE CASCADE ON UPDATE CASCADE,
    permission_name TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (role_id, resource_server_identifier, permission_name)
);
CREATE INDEX role_permissions_api ON role_permissions (resource_server_identifier, permission_name);

CREATE TABLE user_roles (
    user_id     TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    role_id     TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (user_id, role_id)
);
CREATE INDEX user_roles_role ON user_roles (role_id, user_id);

CREATE TABLE user_permissions (
    user_id     TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    resource_server_identifier TEXT NOT NULL
        REFERENCES resource_servers(identifier) ON DELETE CASCADE ON UPDATE CASCADE,
    permission_name TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (user_id, resource_server_identifier, permission_name)
);
CREATE INDEX user_permissions_api ON user_permissions (resource_server_identifier, permission_name);

-- Refresh grants are revoked by API when an API goes.
CREATE INDEX refresh_tokens_audience ON refresh_tokens (audience);
