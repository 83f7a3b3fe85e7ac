-- Audit log events (Auth0's tenant logs). `body` is the event's JSON; the columns
-- beside it are what searches filter on.
CREATE TABLE logs (
    log_id        TEXT PRIMARY KEY,
    date          TEXT NOT NULL,
    type          TEXT NOT NULL,
    user_id       TEXT,
    client_id     TEXT,
    connection_id TEXT,
    ip            TEXT,
    body          TEXT NOT NULL
);
CREATE INDEX logs_date ON logs (date);
CREATE INDEX logs_user ON logs (user_id, log_id);
