-- Brute-force protection: consecutive failed logins per connection, identifier and IP
-- (IP '' when counting per identifier across every address). A row is a block once
-- blocked_at is set; it lapses 30 days after last_failure_at.
CREATE TABLE login_failures (
    connection_id   TEXT NOT NULL,
    identifier      TEXT COLLATE "C" NOT NULL,
    ip              TEXT NOT NULL,
    user_id         TEXT,
    failures        BIGINT NOT NULL,
    last_failure_at TEXT NOT NULL,
    blocked_at      TEXT,
    PRIMARY KEY (connection_id, identifier, ip)
);
CREATE INDEX login_failures_identifier ON login_failures (identifier);
CREATE INDEX login_failures_user ON login_failures (user_id);

-- Tenant-wide settings edited through the Management API (attack protection), one JSON
-- document per name.
CREATE TABLE tenant_settings (
    name       TEXT PRIMARY KEY,
    body       JSONB NOT NULL,
    updated_at TEXT NOT NULL
);
