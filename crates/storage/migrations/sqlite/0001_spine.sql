-- Spine: organisation, staff, sessions, patients, episodes, audit.
-- Instants are TEXT in UTC, fixed width ("2026-11-27T16:24:00.000000Z") so they sort as text;
-- calendar dates are TEXT "YYYY-MM-DD". The PostgreSQL migration uses the same types and names.

CREATE TABLE sites (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    timezone TEXT NOT NULL,
    address TEXT,
    phone TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE programs (
    id INTEGER PRIMARY KEY,
    site_id INTEGER NOT NULL REFERENCES sites(id),
    name TEXT NOT NULL,
    population TEXT NOT NULL,
    level_of_care TEXT NOT NULL,
    weekly_minimum_hours DOUBLE PRECISION NOT NULL,
    max_group_size INTEGER NOT NULL,
    active INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (site_id, name)
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    email TEXT,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    active INTEGER NOT NULL,
    mfa_secret TEXT,
    mfa_enabled INTEGER NOT NULL,
    failed_logins INTEGER NOT NULL,
    locked_until TEXT,
    last_login_at TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE staff_assignments (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    site_id INTEGER NOT NULL REFERENCES sites(id),
    program_id INTEGER REFERENCES programs(id),
    UNIQUE (user_id, site_id, program_id)
);
CREATE INDEX staff_assignments_user ON staff_assignments (user_id);

CREATE TABLE role_policies (
    role TEXT PRIMARY KEY,
    mfa_required INTEGER NOT NULL
);

CREATE TABLE staff_sessions (
    id_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    csrf_token TEXT NOT NULL,
    mfa_verified INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    ip TEXT
);
CREATE INDEX staff_sessions_user ON staff_sessions (user_id);

CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY,
    ip TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX login_failures_ip_at ON login_failures (ip, at);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT,
    last_used_at TEXT
);

CREATE TABLE patients (
    id INTEGER PRIMARY KEY,
    site_id INTEGER NOT NULL REFERENCES sites(id),
    legal_first_name TEXT NOT NULL,
    legal_last_name TEXT NOT NULL,
    preferred_name TEXT,
    first_name_key TEXT NOT NULL,
    last_name_key TEXT NOT NULL,
    date_of_birth TEXT NOT NULL,
    sex TEXT NOT NULL,
    gender_identity TEXT,
    pronouns TEXT,
    phone TEXT,
    email TEXT,
    address TEXT,
    emergency_contact_name TEXT,
    emergency_contact_phone TEXT,
    emergency_contact_relationship TEXT,
    preferred_language TEXT,
    created_at TEXT NOT NULL,
    created_by INTEGER NOT NULL REFERENCES users(id),
    updated_at TEXT NOT NULL
);
CREATE INDEX patients_last_name_key ON patients (last_name_key, first_name_key);
CREATE INDEX patients_dob ON patients (date_of_birth);
CREATE INDEX patients_site ON patients (site_id);

CREATE TABLE episodes (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    program_id INTEGER NOT NULL REFERENCES programs(id),
    site_id INTEGER NOT NULL REFERENCES sites(id),
    status TEXT NOT NULL,
    admitted_on TEXT NOT NULL,
    referral_source TEXT NOT NULL,
    primary_counselor_id INTEGER REFERENCES users(id),
    current_level TEXT NOT NULL,
    discharged_on TEXT,
    discharge_reason INTEGER,
    discharge_note TEXT,
    created_at TEXT NOT NULL,
    created_by INTEGER NOT NULL REFERENCES users(id)
);
CREATE INDEX episodes_patient ON episodes (patient_id);
CREATE INDEX episodes_program_status ON episodes (program_id, status);
CREATE INDEX episodes_counselor_status ON episodes (primary_counselor_id, status);
CREATE INDEX episodes_admitted_on ON episodes (admitted_on);

CREATE TABLE level_of_care_changes (
    id INTEGER PRIMARY KEY,
    episode_id INTEGER NOT NULL REFERENCES episodes(id),
    level TEXT NOT NULL,
    effective_on TEXT NOT NULL,
    reason TEXT NOT NULL,
    decided_by INTEGER NOT NULL REFERENCES users(id),
    recorded_at TEXT NOT NULL
);
CREATE INDEX level_of_care_changes_episode ON level_of_care_changes (episode_id);

CREATE TABLE patient_flags (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    summary TEXT NOT NULL,
    raised_at TEXT NOT NULL,
    raised_by INTEGER REFERENCES users(id),
    resolved_at TEXT,
    resolved_by INTEGER REFERENCES users(id),
    resolution TEXT
);
CREATE INDEX patient_flags_open ON patient_flags (patient_id, resolved_at);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    user_id INTEGER,
    username TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    record_type TEXT NOT NULL,
    record_id INTEGER,
    patient_id INTEGER,
    ip TEXT,
    request_id TEXT,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_patient ON audit_log (patient_id, at);
CREATE INDEX audit_log_user ON audit_log (user_id, at);
CREATE INDEX audit_log_at ON audit_log (at);

-- One row: the chain's head. Appending updates it first, which serialises writers on both engines.
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_id INTEGER NOT NULL,
    last_hash TEXT NOT NULL
);
INSERT INTO audit_head (id, last_id, last_hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- The audit log is append-only: the application never updates or deletes it.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
