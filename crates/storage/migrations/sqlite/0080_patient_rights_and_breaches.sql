-- Part 2 patient rights, who signs and the breach register (issue 20, items 5–7).

-- §2.26 restriction requests. What the patient asked, in their words, and a refusal's reason
-- are sealed; the recipient, class, categories and decision stay in clear so the disclosure
-- check can find the restrictions that cover a request.
CREATE TABLE restriction_requests (
    id INTEGER PRIMARY KEY,
    patient_id BIGINT NOT NULL REFERENCES patients(id),
    recipient_id BIGINT REFERENCES disclosure_recipients(id),
    recipient_kind TEXT,
    categories TEXT NOT NULL,
    self_pay INTEGER NOT NULL,
    details TEXT NOT NULL,
    requested_on TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    recorded_by BIGINT NOT NULL REFERENCES users(id),
    decision TEXT NOT NULL,
    decision_reason TEXT,
    decided_at TEXT,
    decided_by BIGINT REFERENCES users(id)
);
CREATE INDEX restriction_requests_patient ON restriction_requests (patient_id, decision);
CREATE INDEX restriction_requests_decision ON restriction_requests (decision);

-- §2.22 notice given to the patient, its version, and whether they acknowledged it.
CREATE TABLE patient_notices (
    id INTEGER PRIMARY KEY,
    patient_id BIGINT NOT NULL REFERENCES patients(id),
    given_on TEXT NOT NULL,
    version TEXT NOT NULL,
    acknowledgment TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    recorded_by BIGINT NOT NULL REFERENCES users(id)
);
CREATE INDEX patient_notices_patient ON patient_notices (patient_id);

-- §2.15(b): who may sign for a deceased patient depends on the recorded date of death.
ALTER TABLE patients ADD COLUMN date_of_death TEXT;
ALTER TABLE patients ADD COLUMN date_of_death_recorded_by BIGINT REFERENCES users(id);
ALTER TABLE patients ADD COLUMN date_of_death_recorded_at TEXT;

-- §2.14: the state's minor-consent rule, per site (a site without a row uses the cautious
-- default: majority at 18, a parent or guardian always co-signs).
CREATE TABLE site_minor_consent (
    site_id BIGINT PRIMARY KEY REFERENCES sites(id),
    age_of_majority BIGINT NOT NULL,
    minor_alone_from BIGINT,
    updated_at TEXT NOT NULL,
    updated_by BIGINT NOT NULL REFERENCES users(id)
);

-- §2.14, §2.15: the authority of whoever signed a consent (consents recorded before this have
-- none). The court document is sealed.
CREATE TABLE consent_signers (
    consent_id BIGINT PRIMARY KEY REFERENCES consents(id),
    authority TEXT NOT NULL,
    minor_also_signed INTEGER NOT NULL,
    court_document TEXT
);

-- §2.16 with 45 CFR 164.400–414: the breach register. The description, the letter's parts and
-- the assessment notes are sealed; dates, counts, factor weights and the conclusion are clear
-- so the 60-day clock and the annual log are queries.
CREATE TABLE breach_incidents (
    id INTEGER PRIMARY KEY,
    discovered_on TEXT NOT NULL,
    occurred_on TEXT,
    details TEXT NOT NULL,
    patients_affected BIGINT NOT NULL,
    most_in_one_state BIGINT NOT NULL,
    nature_risk TEXT,
    recipient_risk TEXT,
    acquired_risk TEXT,
    mitigation_risk TEXT,
    assessment_notes TEXT,
    conclusion TEXT,
    assessed_at TEXT,
    assessed_by BIGINT REFERENCES users(id),
    media_notified_on TEXT,
    hhs_notified_on TEXT,
    task_id BIGINT REFERENCES tasks(id),
    recorded_at TEXT NOT NULL,
    recorded_by BIGINT NOT NULL REFERENCES users(id)
);
CREATE INDEX breach_incidents_discovered ON breach_incidents (discovered_on);

CREATE TABLE breach_patients (
    breach_id BIGINT NOT NULL REFERENCES breach_incidents(id),
    patient_id BIGINT NOT NULL REFERENCES patients(id),
    letter_sent_on TEXT,
    letter_sent_by BIGINT REFERENCES users(id),
    PRIMARY KEY (breach_id, patient_id)
);
CREATE INDEX breach_patients_patient ON breach_patients (patient_id);
