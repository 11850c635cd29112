-- Medications (including medications for opioid use disorder, MOUD), their adherence and side
-- effects, and drug screens with one row per analyte. Each positive keeps how it was classified
-- against the medications active on the collection day, and why, so the reasoning stays visible.
-- Reasons, notes and side-effect descriptions are clinical text, encrypted by the application.
CREATE TABLE medications (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    name TEXT NOT NULL,
    dose TEXT NOT NULL,
    route TEXT NOT NULL,
    frequency TEXT NOT NULL,
    prescriber_id INTEGER REFERENCES users(id),
    prescriber_name TEXT,
    started_on TEXT NOT NULL,
    stopped_on TEXT,
    stop_reason TEXT,
    reason TEXT,
    moud INTEGER NOT NULL,
    otp_dispensed INTEGER NOT NULL,
    recorded_by INTEGER NOT NULL REFERENCES users(id),
    recorded_at TEXT NOT NULL
);
CREATE INDEX medications_patient ON medications (patient_id, started_on);

CREATE TABLE medication_adherence (
    id INTEGER PRIMARY KEY,
    medication_id INTEGER NOT NULL REFERENCES medications(id),
    noted_on TEXT NOT NULL,
    status TEXT NOT NULL,
    note TEXT,
    recorded_by INTEGER NOT NULL REFERENCES users(id),
    recorded_at TEXT NOT NULL
);
CREATE INDEX medication_adherence_medication ON medication_adherence (medication_id);

CREATE TABLE medication_side_effects (
    id INTEGER PRIMARY KEY,
    medication_id INTEGER NOT NULL REFERENCES medications(id),
    noted_on TEXT NOT NULL,
    effect TEXT NOT NULL,
    severity TEXT NOT NULL,
    recorded_by INTEGER NOT NULL REFERENCES users(id),
    recorded_at TEXT NOT NULL
);
CREATE INDEX medication_side_effects_medication ON medication_side_effects (medication_id);

CREATE TABLE drug_screens (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    episode_id INTEGER REFERENCES episodes(id),
    collected_on TEXT NOT NULL,
    specimen TEXT NOT NULL,
    observed INTEGER NOT NULL,
    testing TEXT NOT NULL,
    collected_by TEXT,
    flag_id INTEGER REFERENCES patient_flags(id),
    recorded_by INTEGER NOT NULL REFERENCES users(id),
    recorded_at TEXT NOT NULL
);
CREATE INDEX drug_screens_patient ON drug_screens (patient_id, collected_on);

CREATE TABLE drug_screen_results (
    id INTEGER PRIMARY KEY,
    screen_id INTEGER NOT NULL REFERENCES drug_screens(id),
    analyte TEXT NOT NULL,
    result TEXT NOT NULL,
    expectation TEXT,
    expectation_reason TEXT,
    UNIQUE (screen_id, analyte)
);
