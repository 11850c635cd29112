-- Patients' identities are encrypted at rest (issue 11 item 7). The folded name keys were the
-- names in clear, so they go; search uses blind indexes instead, which only Trellis can compute
-- (their key is derived from the master key), so the SQL here cannot fill them: existing rows are
-- sealed and indexed in place at the next start-up (`patients::seal_clear_identities`), a row with
-- no `dob_index` being one still in the clear.
DROP INDEX patients_last_name_key;
DROP INDEX patients_dob;
ALTER TABLE patients DROP COLUMN first_name_key;
ALTER TABLE patients DROP COLUMN last_name_key;
ALTER TABLE patients ADD COLUMN dob_index TEXT;
CREATE INDEX patients_dob_index ON patients (dob_index);

-- One row per prefix of each folded name: a keyed hash of ("first-prefix" | "last-prefix", prefix).
CREATE TABLE patient_name_tokens (
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    token TEXT NOT NULL,
    PRIMARY KEY (token, patient_id)
);
CREATE INDEX patient_name_tokens_patient ON patient_name_tokens (patient_id);
