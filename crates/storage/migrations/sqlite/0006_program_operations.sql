-- Program operations: rooms, tracks with their weekly pattern and curriculum, closures and
-- cancellations, concrete group sessions, group enrolment, attendance, and the outreach runs
-- already acted on. Session times are UTC instants computed in Rust from the site's local time.
CREATE TABLE rooms (
    id INTEGER PRIMARY KEY,
    site_id INTEGER NOT NULL REFERENCES sites(id),
    name TEXT NOT NULL,
    capacity INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (site_id, name)
);

CREATE TABLE tracks (
    id INTEGER PRIMARY KEY,
    program_id INTEGER NOT NULL REFERENCES programs(id),
    name TEXT NOT NULL,
    room_id INTEGER REFERENCES rooms(id),
    telehealth INTEGER NOT NULL,
    starts_on TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (program_id, name)
);

CREATE TABLE track_slots (
    id INTEGER PRIMARY KEY,
    track_id INTEGER NOT NULL REFERENCES tracks(id),
    weekday INTEGER NOT NULL,
    start_time TEXT NOT NULL,
    end_time TEXT NOT NULL
);
CREATE INDEX track_slots_track ON track_slots (track_id);

CREATE TABLE track_topics (
    id INTEGER PRIMARY KEY,
    track_id INTEGER NOT NULL REFERENCES tracks(id),
    position INTEGER NOT NULL,
    title TEXT NOT NULL,
    materials TEXT NOT NULL,
    UNIQUE (track_id, position)
);

CREATE TABLE site_closures (
    id INTEGER PRIMARY KEY,
    site_id INTEGER NOT NULL REFERENCES sites(id),
    closed_on TEXT NOT NULL,
    reason TEXT NOT NULL,
    UNIQUE (site_id, closed_on)
);

CREATE TABLE track_cancellations (
    id INTEGER PRIMARY KEY,
    track_id INTEGER NOT NULL REFERENCES tracks(id),
    cancelled_on TEXT NOT NULL,
    reason TEXT NOT NULL,
    UNIQUE (track_id, cancelled_on)
);

CREATE TABLE group_sessions (
    id INTEGER PRIMARY KEY,
    track_id INTEGER NOT NULL REFERENCES tracks(id),
    local_date TEXT NOT NULL,
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    minutes INTEGER NOT NULL,
    topic_position INTEGER,
    one_off INTEGER NOT NULL,
    UNIQUE (track_id, starts_at)
);
CREATE INDEX group_sessions_date ON group_sessions (local_date);

CREATE TABLE track_enrolments (
    id INTEGER PRIMARY KEY,
    track_id INTEGER NOT NULL REFERENCES tracks(id),
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    enrolled_on TEXT NOT NULL,
    ended_on TEXT,
    created_at TEXT NOT NULL,
    created_by INTEGER NOT NULL REFERENCES users(id)
);
CREATE INDEX track_enrolments_track ON track_enrolments (track_id, ended_on);
CREATE INDEX track_enrolments_patient ON track_enrolments (patient_id);

CREATE TABLE attendance (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES group_sessions(id),
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    status TEXT NOT NULL,
    minutes_attended INTEGER NOT NULL,
    session_minutes INTEGER NOT NULL,
    service_type TEXT NOT NULL,
    service_start TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    recorded_by INTEGER NOT NULL REFERENCES users(id),
    UNIQUE (session_id, patient_id)
);
CREATE INDEX attendance_service_start ON attendance (service_start);
CREATE INDEX attendance_patient ON attendance (patient_id, service_start);

CREATE TABLE outreach_runs (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    first_session_id INTEGER NOT NULL REFERENCES group_sessions(id),
    task_id INTEGER REFERENCES tasks(id),
    created_at TEXT NOT NULL,
    UNIQUE (patient_id, first_session_id)
);
