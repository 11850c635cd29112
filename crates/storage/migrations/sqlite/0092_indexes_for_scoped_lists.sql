-- The list form of the patient scope (access::patient_scope_sql) finds a site-wide user's
-- patients through their sites' episodes; without this index that branch scanned every episode.
CREATE INDEX IF NOT EXISTS episodes_site_patient ON episodes (site_id, patient_id);
-- Measures due for a caseload are the last administration per open episode and instrument;
-- without this index the dashboard scanned every administration in the network.
CREATE INDEX IF NOT EXISTS measure_administrations_episode
    ON measure_administrations (episode_id, instrument, administered_on);
-- The co-signature queue: signed notes marked for a director's co-signature and not yet
-- co-signed, a handful among a network's notes. The equality index on needs_cosign cannot
-- help when statistics show nearly every note with the same value, so the queue gets its own.
CREATE INDEX IF NOT EXISTS progress_notes_cosign_queue ON progress_notes (session_on, id)
    WHERE needs_cosign = TRUE AND cosigned_at IS NULL AND signed_at IS NOT NULL;
-- Recent unexpected screens on the nurse's dashboard and the week's appointments in the weekly
-- hours: found by date instead of a scan of every screen or appointment (PostgreSQL chose
-- sequential scans of 100,000 rows for both).
CREATE INDEX IF NOT EXISTS drug_screens_collected ON drug_screens (collected_on);
CREATE INDEX IF NOT EXISTS appointments_service_start ON appointments (service_start);
