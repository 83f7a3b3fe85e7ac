-- A user list is newest first (`created_at DESC, user_id DESC`, as Auth0 lists them): an
-- index on both columns walks it in order instead of sorting every user (2.2 s at a
-- million users without it; docs/benchmarks.md, "Admin console").
CREATE INDEX users_created_at_user_id ON users (created_at, user_id);
DROP INDEX users_created_at;
