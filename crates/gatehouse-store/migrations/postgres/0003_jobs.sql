-- Background jobs (bulk import/export), their per-record errors, and secrets the
-- server generates for itself (e.g. the key that signs export download links).
CREATE TABLE jobs (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    status        TEXT NOT NULL,
    connection_id TEXT,
    params        JSONB NOT NULL DEFAULT '{}',
    summary       JSONB,
    resume_at     BIGINT NOT NULL DEFAULT 0,
    percentage_done BIGINT NOT NULL DEFAULT 0,
    time_left_seconds BIGINT,
    status_details TEXT,
    file          TEXT,
    claimed_by    TEXT,
    heartbeat_at  TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX jobs_status_created ON jobs (status, created_at);

CREATE TABLE job_errors (
    job_id       TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    record_index BIGINT NOT NULL,
    error        JSONB NOT NULL,
    PRIMARY KEY (job_id, record_index)
);

CREATE TABLE server_secrets (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at TEXT NOT NULL
);
