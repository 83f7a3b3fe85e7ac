-- Users per connection, and arrival markers per connection and source, kept by triggers
-- so the console and the migration figures read a row instead of counting a million.
-- source '' counts the connection's users; any other source counts user_arrivals rows.
CREATE TABLE connection_counts (
    connection_id TEXT NOT NULL,
    source        TEXT NOT NULL,
    users         INTEGER NOT NULL,
    PRIMARY KEY (connection_id, source)
);
INSERT INTO connection_counts (connection_id, source, users)
SELECT connection_id, '', COUNT(*) FROM users GROUP BY connection_id;
INSERT INTO connection_counts (connection_id, source, users)
SELECT connection_id, source, COUNT(*) FROM user_arrivals GROUP BY connection_id, source;

CREATE TRIGGER users_counted_in AFTER INSERT ON users BEGIN
    INSERT INTO connection_counts (connection_id, source, users) VALUES (NEW.connection_id, '', 1)
    ON CONFLICT (connection_id, source) DO UPDATE SET users = users + 1;
END;
CREATE TRIGGER users_counted_out AFTER DELETE ON users BEGIN
    UPDATE connection_counts SET users = users - 1 WHERE connection_id = OLD.connection_id AND source = '';
END;
CREATE TRIGGER users_counted_moved AFTER UPDATE OF connection_id ON users
WHEN OLD.connection_id <> NEW.connection_id BEGIN
    UPDATE connection_counts SET users = users - 1 WHERE connection_id = OLD.connection_id AND source = '';
    INSERT INTO connection_counts (connection_id, source, users) VALUES (NEW.connection_id, '', 1)
    ON CONFLICT (connection_id, source) DO UPDATE SET users = users + 1;
END;
CREATE TRIGGER arrivals_counted_in AFTER INSERT ON user_arrivals BEGIN
    INSERT INTO connection_counts (connection_id, source, users) VALUES (NEW.connection_id, NEW.source, 1)
    ON CONFLICT (connection_id, source) DO UPDATE SET users = users + 1;
END;
CREATE TRIGGER arrivals_counted_out AFTER DELETE ON user_arrivals BEGIN
    UPDATE connection_counts SET users = users - 1 WHERE connection_id = OLD.connection_id AND source = OLD.source;
END;

-- The last arrival from the legacy store, per connection: an index seek per source.
CREATE INDEX user_arrivals_connection_source ON user_arrivals (connection_id, source, arrived_at);
