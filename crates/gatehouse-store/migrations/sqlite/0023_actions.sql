-- Auth0 Actions: an action's draft (code, dependencies, the triggers it supports, its
-- secrets — each value sealed by the store, see `sealed`), the versions deploying it
-- made (one of them deployed), the bindings that run deployed actions on a trigger in
-- `position` order, and the record of each trigger's run (`action_executions`).
CREATE TABLE actions (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL UNIQUE,
    supported_triggers TEXT NOT NULL,
    code               TEXT NOT NULL,
    dependencies       TEXT NOT NULL,
    runtime            TEXT NOT NULL,
    secrets            TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);
CREATE TABLE action_versions (
    id                 TEXT PRIMARY KEY,
    action_id          TEXT NOT NULL REFERENCES actions(id) ON DELETE CASCADE,
    number             INTEGER NOT NULL,
    code               TEXT NOT NULL,
    dependencies       TEXT NOT NULL,
    runtime            TEXT NOT NULL,
    supported_triggers TEXT NOT NULL,
    deployed           INTEGER NOT NULL DEFAULT 0,
    created_at         TEXT NOT NULL,
    UNIQUE (action_id, number)
);
CREATE TABLE action_bindings (
    id                 TEXT PRIMARY KEY,
    trigger_id         TEXT NOT NULL,
    position           INTEGER NOT NULL,
    action_id          TEXT NOT NULL REFERENCES actions(id) ON DELETE CASCADE,
    display_name       TEXT NOT NULL,
    created_at         TEXT NOT NULL
);
CREATE INDEX action_bindings_trigger ON action_bindings (trigger_id, position);
CREATE TABLE action_executions (
    id                 TEXT PRIMARY KEY,
    trigger_id         TEXT NOT NULL,
    status             TEXT NOT NULL,
    results            TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);
