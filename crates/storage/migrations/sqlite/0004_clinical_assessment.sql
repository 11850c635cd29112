-- Standard measures: each administration keeps its answers (encrypted), the score the domain
-- rules gave, and the flag it raised, so a trend or an audit can be rebuilt from the rows.
CREATE TABLE measure_administrations (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    episode_id INTEGER REFERENCES episodes(id),
    instrument TEXT NOT NULL,
    administered_on TEXT NOT NULL,
    responses TEXT NOT NULL,
    total INTEGER,
    subscales TEXT NOT NULL,
    band_code TEXT NOT NULL,
    band_label TEXT NOT NULL,
    safety_level TEXT,
    flag_id INTEGER REFERENCES patient_flags(id),
    recorded_at TEXT NOT NULL,
    recorded_by INTEGER REFERENCES users(id)
);
CREATE INDEX measure_administrations_patient ON measure_administrations (patient_id, instrument, administered_on);

-- Which measures each program gives, and how often (days between administrations).
CREATE TABLE program_measure_schedules (
    id INTEGER PRIMARY KEY,
    program_id INTEGER NOT NULL REFERENCES programs(id),
    instrument TEXT NOT NULL,
    every_days INTEGER NOT NULL,
    UNIQUE (program_id, instrument)
);
