-- Job files (an import's upload and password-hash export, an export's result) kept in
-- the database, so that every node reaches them without a shared disk ([jobs] files =
-- "database", the default on PostgreSQL). A file is its chunks in order; its job_files
-- row is written first (stored_at: when, for the sweep of files no job took) and marked
-- complete with its size after the last chunk, so a file cut short is never read.
CREATE TABLE job_files (
    name      TEXT PRIMARY KEY,
    size      INTEGER,
    stored_at TEXT NOT NULL
);

CREATE TABLE job_file_chunks (
    name TEXT NOT NULL REFERENCES job_files(name) ON DELETE CASCADE,
    seq  INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (name, seq)
);
