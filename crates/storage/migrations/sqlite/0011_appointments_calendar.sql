-- Appointments (therapy, family, psychiatry, case management, drug screens), the patient's weekly
-- availability and obligations, the facilitator of a track, and calendar feed tokens.
-- Times are UTC instants computed in Rust from the site's local date and time, which are kept
-- too so the booking reads back as it was entered.
CREATE TABLE appointments (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    site_id INTEGER NOT NULL REFERENCES sites(id),
    kind TEXT NOT NULL,
    clinician_id INTEGER NOT NULL REFERENCES users(id),
    room_id INTEGER REFERENCES rooms(id),
    telehealth INTEGER NOT NULL,
    occupants INTEGER NOT NULL,
    local_date TEXT NOT NULL,
    local_start TEXT NOT NULL,
    minutes INTEGER NOT NULL,
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    status TEXT NOT NULL,
    override_reason TEXT,
    attendance_status TEXT,
    minutes_attended INTEGER,
    service_start TEXT,
    attendance_recorded_at TEXT,
    attendance_recorded_by INTEGER REFERENCES users(id),
    cancelled_at TEXT,
    cancelled_by INTEGER REFERENCES users(id),
    created_at TEXT NOT NULL,
    created_by INTEGER NOT NULL REFERENCES users(id)
);
CREATE INDEX appointments_patient ON appointments (patient_id, starts_at);
CREATE INDEX appointments_clinician ON appointments (clinician_id, starts_at);
CREATE INDEX appointments_site_date ON appointments (site_id, local_date);
CREATE INDEX appointments_room ON appointments (room_id, starts_at);

CREATE TABLE patient_availability (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    label TEXT NOT NULL,
    weekday INTEGER NOT NULL,
    start_time TEXT NOT NULL,
    end_time TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by INTEGER NOT NULL REFERENCES users(id)
);
CREATE INDEX patient_availability_patient ON patient_availability (patient_id);

ALTER TABLE tracks ADD COLUMN facilitator_id INTEGER REFERENCES users(id);

CREATE TABLE calendar_feeds (
    id INTEGER PRIMARY KEY,
    clinician_id INTEGER REFERENCES users(id),
    patient_id INTEGER REFERENCES patients(id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    created_by INTEGER NOT NULL REFERENCES users(id),
    revoked_at TEXT,
    last_fetched_at TEXT
);
CREATE INDEX calendar_feeds_clinician ON calendar_feeds (clinician_id);
CREATE INDEX calendar_feeds_patient ON calendar_feeds (patient_id);
