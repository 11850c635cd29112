-- Keyed audit chain and the patients each audit row names.
-- Rows written from now on are HMAC-SHA256 under a key derived from the master key
-- (chain = 'hmac-sha256'); rows already written keep their SHA-256 hashes ('sha256') and are
-- sealed by the first keyed row, whose MAC covers the last unkeyed row's hash.
ALTER TABLE audit_log ADD COLUMN chain TEXT NOT NULL DEFAULT 'sha256';

-- A random, non-secret id for this chain: the application finds the chain's key by it, and
-- checkpoints name it so one database's checkpoint is never checked against another's log.
ALTER TABLE audit_head ADD COLUMN chain_id TEXT NOT NULL DEFAULT '';
UPDATE audit_head SET chain_id = md5(random()::text || clock_timestamp()::text);

-- Every patient an audit row names (one for a chart read, each patient shown for a list), so the
-- per-patient audit view finds a row by any of them. Covered by the row's MAC for keyed rows.
CREATE TABLE audit_patients (
    patient_id BIGINT NOT NULL,
    audit_id BIGINT NOT NULL REFERENCES audit_log(id),
    PRIMARY KEY (patient_id, audit_id)
);
INSERT INTO audit_patients (patient_id, audit_id)
SELECT patient_id, id FROM audit_log WHERE patient_id IS NOT NULL;
-- Verification reads the patients of a range of rows.
CREATE INDEX audit_patients_row ON audit_patients (audit_id);

CREATE FUNCTION audit_patients_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_patients is append-only';
END;
$$;
CREATE TRIGGER audit_patients_no_update BEFORE UPDATE OR DELETE ON audit_patients
FOR EACH ROW EXECUTE FUNCTION audit_patients_append_only();
