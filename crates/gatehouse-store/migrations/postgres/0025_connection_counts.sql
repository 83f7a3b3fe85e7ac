-- Users per connection, and arrival markers per connection and source, kept by triggers
-- so the console and the migration figures read a row instead of counting a million.
-- source '' counts the connection's users; any other source counts user_arrivals rows.
-- Statement-level triggers with transition tables: a bulk insert of 10,000 users
-- updates each counter once, not 10,000 times.
CREATE TABLE connection_counts (
    connection_id TEXT NOT NULL,
    source        TEXT NOT NULL,
    users         BIGINT NOT NULL,
    PRIMARY KEY (connection_id, source)
);
INSERT INTO connection_counts (connection_id, source, users)
SELECT connection_id, '', COUNT(*) FROM users GROUP BY connection_id;
INSERT INTO connection_counts (connection_id, source, users)
SELECT connection_id, source, COUNT(*) FROM user_arrivals GROUP BY connection_id, source;

CREATE FUNCTION count_users_in() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO connection_counts (connection_id, source, users)
    SELECT connection_id, '', COUNT(*) FROM inserted GROUP BY connection_id
    ORDER BY connection_id
    ON CONFLICT (connection_id, source) DO UPDATE SET users = connection_counts.users + EXCLUDED.users;
    RETURN NULL;
END $$;
CREATE FUNCTION count_users_out() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE connection_counts c SET users = c.users - d.n
    FROM (SELECT connection_id, COUNT(*) AS n FROM deleted GROUP BY connection_id) d
    WHERE c.connection_id = d.connection_id AND c.source = '';
    RETURN NULL;
END $$;
CREATE FUNCTION count_user_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE connection_counts SET users = users - 1 WHERE connection_id = OLD.connection_id AND source = '';
    INSERT INTO connection_counts (connection_id, source, users) VALUES (NEW.connection_id, '', 1)
    ON CONFLICT (connection_id, source) DO UPDATE SET users = connection_counts.users + 1;
    RETURN NULL;
END $$;
CREATE FUNCTION count_arrivals_in() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO connection_counts (connection_id, source, users)
    SELECT connection_id, source, COUNT(*) FROM inserted GROUP BY connection_id, source
    ORDER BY connection_id, source
    ON CONFLICT (connection_id, source) DO UPDATE SET users = connection_counts.users + EXCLUDED.users;
    RETURN NULL;
END $$;
CREATE FUNCTION count_arrivals_out() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE connection_counts c SET users = c.users - d.n
    FROM (SELECT connection_id, source, COUNT(*) AS n FROM deleted GROUP BY connection_id, source) d
    WHERE c.connection_id = d.connection_id AND c.source = d.source;
    RETURN NULL;
END $$;

CREATE TRIGGER users_counted_in AFTER INSERT ON users
REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION count_users_in();
CREATE TRIGGER users_counted_out AFTER DELETE ON users
REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION count_users_out();
CREATE TRIGGER users_counted_moved AFTER UPDATE OF connection_id ON users
FOR EACH ROW WHEN (OLD.connection_id IS DISTINCT FROM NEW.connection_id) EXECUTE FUNCTION count_user_moved();
CREATE TRIGGER arrivals_counted_in AFTER INSERT ON user_arrivals
REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION count_arrivals_in();
CREATE TRIGGER arrivals_counted_out AFTER DELETE ON user_arrivals
REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION count_arrivals_out();

CREATE INDEX user_arrivals_connection_source ON user_arrivals (connection_id, source, arrived_at);
