-- A plan problem that comes from a diagnosis refers to the diagnosis row on the patient's list,
-- not typed text, so a plan cannot name a diagnosis the patient does not have (issue 9, item 6).
-- The plan's text stays one encrypted document; this table is the link the database checks.
CREATE TABLE plan_problem_diagnoses (
    plan_id BIGINT NOT NULL REFERENCES treatment_plans(id),
    problem_index BIGINT NOT NULL,
    diagnosis_id BIGINT NOT NULL REFERENCES patient_diagnoses(id),
    PRIMARY KEY (plan_id, problem_index)
);
CREATE INDEX plan_problem_diagnoses_diagnosis ON plan_problem_diagnoses (diagnosis_id);
