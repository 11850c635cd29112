-- 42 CFR Part 2: consents, the accounting of disclosures, and emergency (break-the-glass) access.
-- Consent contents, recipients and emergency reasons are sensitive: stored encrypted (sealed JSON
-- or text); only ids, instants and codes are in clear so lists can be filtered by date.
CREATE TABLE consents (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    body TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    recorded_by INTEGER NOT NULL REFERENCES users(id),
    revoked_at TEXT,
    revoked_by INTEGER REFERENCES users(id),
    revocation_recorded_at TEXT
);
CREATE INDEX consents_patient ON consents (patient_id);
CREATE INDEX consents_revoked ON consents (revoked_at);

CREATE TABLE disclosures (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    consent_id INTEGER REFERENCES consents(id),
    kind TEXT NOT NULL,
    purpose TEXT NOT NULL,
    categories TEXT NOT NULL,
    recipient TEXT NOT NULL,
    packet TEXT NOT NULL,
    disclosed_at TEXT NOT NULL,
    disclosed_by INTEGER NOT NULL REFERENCES users(id)
);
CREATE INDEX disclosures_patient ON disclosures (patient_id, disclosed_at);
CREATE INDEX disclosures_at ON disclosures (disclosed_at);

CREATE TABLE break_glass (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    record TEXT NOT NULL,
    started_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX break_glass_user ON break_glass (user_id, patient_id, expires_at);
CREATE INDEX break_glass_started ON break_glass (started_at);
