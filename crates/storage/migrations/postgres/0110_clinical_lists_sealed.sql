-- Every patient's name tokens are padded to a fixed count so the count no longer tells the
-- name's length. The patients registered before are listed here; at the next start-up (the only
-- time the key is at hand) their tokens are rewritten padded and they leave the list.
CREATE TABLE name_tokens_to_pad (
    patient_id BIGINT PRIMARY KEY
);
INSERT INTO name_tokens_to_pad (patient_id) SELECT id FROM patients;

-- Diagnoses, medications, screen results, flag summaries and task titles are sealed from now on.
-- The columns written clear before are listed here; the next start-up seals their clear values
-- and takes each column off the list, so later start-ups scan nothing.
CREATE TABLE columns_to_seal (
    name TEXT PRIMARY KEY
);
INSERT INTO columns_to_seal (name) VALUES
    ('patient_diagnoses.code'),
    ('patient_diagnoses.description'),
    ('medications.name'),
    ('medications.dose'),
    ('medications.frequency'),
    ('medication_ingredients.rxcui'),
    ('drug_screen_results.analyte'),
    ('drug_screen_results.result'),
    ('drug_screen_results.expectation_reason'),
    ('patient_flags.summary'),
    ('tasks.title');
