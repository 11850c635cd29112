-- Background jobs, shared by every server on the database: a job is claimed by one server
-- (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite has one writer) under a lease, so it runs once
-- even with several servers, and again only if the server that held it died mid-run.
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    -- Scheduling the same key twice (from two servers) makes one job.
    unique_key TEXT UNIQUE,
    payload TEXT NOT NULL,
    run_at TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    locked_by TEXT,
    locked_until TEXT,
    finished_at TEXT,
    result TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX jobs_due ON jobs (status, run_at);
