-- Intake assessments and diagnoses. An assessment is never updated except to record its
-- placement once: a reassessment is a new row, so the history shows what was rated, what the
-- rules recommended then (level and reasons) and what the clinician decided.
CREATE TABLE intake_assessments (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    episode_id INTEGER REFERENCES episodes(id),
    assessed_on TEXT NOT NULL,
    population TEXT NOT NULL,
    -- Biopsychosocial narratives and substance rows, sealed JSON.
    sections TEXT NOT NULL,
    substances TEXT NOT NULL,
    d1_rating INTEGER NOT NULL,
    d2_rating INTEGER NOT NULL,
    d3_rating INTEGER NOT NULL,
    d4_rating INTEGER NOT NULL,
    d5_rating INTEGER NOT NULL,
    d6_rating INTEGER NOT NULL,
    -- The six dimension narratives, sealed JSON.
    dimension_narratives TEXT NOT NULL,
    recommended_level TEXT NOT NULL,
    -- The recommendation as computed then (reasons, cautions), sealed JSON.
    recommendation TEXT NOT NULL,
    actual_level TEXT,
    discrepancy_reasons TEXT,
    discrepancy_other TEXT,
    discrepancy_explanation TEXT,
    placed_at TEXT,
    placed_by INTEGER REFERENCES users(id),
    recorded_at TEXT NOT NULL,
    recorded_by INTEGER NOT NULL REFERENCES users(id)
);
CREATE INDEX intake_assessments_patient ON intake_assessments (patient_id, assessed_on);

CREATE TABLE patient_diagnoses (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    code TEXT NOT NULL,
    description TEXT NOT NULL,
    is_primary INTEGER NOT NULL,
    onset_on TEXT,
    resolved_on TEXT,
    resolved_at TEXT,
    resolved_by INTEGER REFERENCES users(id),
    recorded_at TEXT NOT NULL,
    recorded_by INTEGER NOT NULL REFERENCES users(id)
);
CREATE INDEX patient_diagnoses_patient ON patient_diagnoses (patient_id);
