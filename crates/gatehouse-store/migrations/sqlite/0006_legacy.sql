-- Users moved in from a legacy identity store: on their first login ('login') or by
-- `migrate-remaining` ('bulk'). Migration progress is read from here.
CREATE TABLE legacy_migrations (
    user_id       TEXT PRIMARY KEY REFERENCES users(user_id) ON DELETE CASCADE,
    connection_id TEXT NOT NULL,
    source        TEXT NOT NULL,
    migrated_at   TEXT NOT NULL
);
CREATE INDEX legacy_migrations_connection ON legacy_migrations (connection_id, migrated_at);
