-- Disclosures that need no consent (issue 20, item 2): court orders (42 CFR 2.61–2.67) and
-- qualified service organisation, audit or evaluation and research agreements (§§2.11, 2.53,
-- 2.52). The terms (court, findings, agreement, board) are sealed; the recipient, information,
-- period and, for a court order, the patient stay in clear so every disclosure can be held to them.
CREATE TABLE disclosure_authorities (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    patient_id BIGINT REFERENCES patients(id),
    recipient_id BIGINT NOT NULL REFERENCES disclosure_recipients(id),
    categories TEXT NOT NULL,
    dated_on TEXT NOT NULL,
    starts_on TEXT NOT NULL,
    ends_on TEXT NOT NULL,
    terms TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    recorded_by BIGINT NOT NULL REFERENCES users(id)
);
CREATE INDEX disclosure_authorities_patient ON disclosure_authorities (patient_id);

-- Which order or agreement a disclosure without consent was made under.
ALTER TABLE disclosures ADD COLUMN authority_id BIGINT REFERENCES disclosure_authorities(id);
CREATE INDEX disclosures_authority ON disclosures (authority_id);
