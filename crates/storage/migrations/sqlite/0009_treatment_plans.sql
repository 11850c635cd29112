-- Treatment plans, replacing the unused 0005 tables: versions tied to the episode they were
-- written in, signatures by the patient and the clinician, and objectives as rows (with their
-- status) so notes can link them and step-down rules can count those met. The plan's text
-- (problems, goals, objectives, interventions) is one document encrypted by the application.
DROP TABLE plan_objectives;
DROP TABLE treatment_plans;

-- How often a signed plan is reviewed in each program (30 days in IOP programs).
ALTER TABLE programs ADD COLUMN plan_review_days INTEGER NOT NULL DEFAULT 30;

CREATE TABLE treatment_plans (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    episode_id INTEGER REFERENCES episodes(id),
    version INTEGER NOT NULL,
    content TEXT NOT NULL,
    created_by INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    patient_signature TEXT,
    patient_signed_at TEXT,
    clinician_signature TEXT,
    clinician_signed_by INTEGER REFERENCES users(id),
    clinician_signed_at TEXT,
    review_due_on TEXT,
    UNIQUE (patient_id, version)
);

CREATE TABLE plan_objectives (
    id INTEGER PRIMARY KEY,
    plan_id INTEGER NOT NULL REFERENCES treatment_plans(id),
    problem_index INTEGER NOT NULL,
    goal_index INTEGER NOT NULL,
    position INTEGER NOT NULL,
    target_on TEXT NOT NULL,
    status TEXT NOT NULL
);
CREATE INDEX plan_objectives_plan ON plan_objectives (plan_id);
