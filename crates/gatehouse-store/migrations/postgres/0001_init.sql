-- Timestamps are ISO-8601 UTC strings with milliseconds ("2024-05-01T12:00:00.000Z"):
-- fixed width, so they sort and compare as text the same way in both backends.
CREATE TABLE connections (
    id          TEXT PRIMARY KEY,
    name        TEXT COLLATE "C" NOT NULL UNIQUE,
    display_name TEXT,
    strategy    TEXT NOT NULL,
    options     JSONB NOT NULL DEFAULT '{}',
    enabled_clients JSONB NOT NULL DEFAULT '[]',
    realms      JSONB NOT NULL DEFAULT '[]',
    is_domain_connection BOOLEAN NOT NULL DEFAULT FALSE,
    metadata    JSONB NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE users (
    user_id        TEXT PRIMARY KEY,
    connection_id  TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    connection     TEXT NOT NULL,
    provider       TEXT NOT NULL,
    email          TEXT,
    email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    username       TEXT,
    phone_number   TEXT,
    phone_verified BOOLEAN NOT NULL DEFAULT FALSE,
    name           TEXT,
    nickname       TEXT,
    given_name     TEXT,
    family_name    TEXT,
    picture        TEXT,
    password_hash  TEXT,
    user_metadata  JSONB NOT NULL DEFAULT '{}',
    app_metadata   JSONB NOT NULL DEFAULT '{}',
    blocked        BOOLEAN NOT NULL DEFAULT FALSE,
    logins_count   BIGINT NOT NULL DEFAULT 0,
    last_login     TEXT,
    last_ip        TEXT,
    last_password_reset TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE UNIQUE INDEX users_connection_email ON users (connection_id, email) WHERE email IS NOT NULL;
CREATE UNIQUE INDEX users_connection_username ON users (connection_id, username) WHERE username IS NOT NULL;
CREATE INDEX users_email ON users (email);
CREATE INDEX users_created_at ON users (created_at);

CREATE TABLE clients (
    client_id   TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT,
    app_type    TEXT,
    is_first_party BOOLEAN NOT NULL DEFAULT TRUE,
    grant_types JSONB NOT NULL DEFAULT '[]',
    callbacks   JSONB NOT NULL DEFAULT '[]',
    allowed_logout_urls JSONB NOT NULL DEFAULT '[]',
    web_origins JSONB NOT NULL DEFAULT '[]',
    allowed_origins JSONB NOT NULL DEFAULT '[]',
    token_endpoint_auth_method TEXT NOT NULL DEFAULT 'client_secret_post',
    client_secret_hash TEXT,
    client_metadata JSONB NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE client_grants (
    id        TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    audience  TEXT NOT NULL,
    scope     JSONB NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    UNIQUE (client_id, audience)
);

CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    alg         TEXT NOT NULL,
    private_pem TEXT NOT NULL,
    public_jwk  JSONB NOT NULL,
    current     BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TEXT NOT NULL,
    retired_at  TEXT
);
CREATE INDEX users_email_pattern ON users (email text_pattern_ops);
