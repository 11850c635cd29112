-- Collateral contacts (family, sponsor, probation officer, employer) linked to a patient.
-- Name, organisation, phone, email and notes are PHI: sealed together in `details`; the
-- relationship code, dates and ids stay in clear. A contact is end-dated, never deleted, so
-- the accounting of disclosures keeps its meaning. `portal_account_id` is where a future
-- patient-portal login for the contact will attach (no portal accounts exist yet, so no key).
CREATE TABLE collateral_contacts (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    relationship TEXT NOT NULL,
    details TEXT NOT NULL,
    portal_account_id INTEGER,
    added_at TEXT NOT NULL,
    added_by INTEGER NOT NULL REFERENCES users(id),
    updated_at TEXT NOT NULL,
    ended_on TEXT,
    ended_by INTEGER REFERENCES users(id)
);
CREATE INDEX collateral_contacts_patient ON collateral_contacts (patient_id);

-- A consent may name a collateral as its recipient; the consent's own recipient text stays
-- the legal record.
ALTER TABLE consents ADD COLUMN collateral_id INTEGER REFERENCES collateral_contacts(id);
