-- How every user arrived, so a connection's migration has one honest count: the legacy
-- store's markers ('login', 'reset', 'bulk' = migrate-remaining) are joined by
-- 'signup' (hosted or API sign-up, social sign-in), 'api' (POST /api/v2/users),
-- 'delegated' (local copies of a delegating legacy store) and 'unlinked' (a user given
-- back by unlinking an identity). A user without a row came by bulk import: the import
-- path writes no marker, so a million-user import pays nothing for it.
ALTER TABLE legacy_migrations RENAME TO user_arrivals;
ALTER TABLE user_arrivals RENAME COLUMN migrated_at TO arrived_at;
-- Sign-ups from before this table knew them, from the audit log.
INSERT INTO user_arrivals (user_id, connection_id, source, arrived_at)
SELECT u.user_id, u.connection_id, 'signup', u.created_at FROM users u
WHERE EXISTS (SELECT 1 FROM logs l WHERE l.user_id = u.user_id AND l.type = 'ss')
ON CONFLICT (user_id) DO NOTHING;
-- Daily statistics and active users read the log by type and date.
CREATE INDEX logs_type_date ON logs (type, date);
CREATE INDEX users_last_login ON users (last_login);
