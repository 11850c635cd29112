-- Revenue, first slice (issue 14, item 1): payers and their terms, each site's billing-provider
-- settings, a patient's coverages and the eligibility checks made on them. Payers and provider
-- settings are the organisation's own facts, kept clear; the subscriber's name and the card's
-- ids identify the patient and are sealed (one JSON column, as the recipient directory does).
CREATE TABLE payers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    payer_code TEXT NOT NULL,
    claim_type TEXT NOT NULL,
    sud_procedure TEXT NOT NULL,
    mh_procedure TEXT NOT NULL,
    sud_revenue_code TEXT,
    mh_revenue_code TEXT,
    unit TEXT NOT NULL,
    rate_cents BIGINT NOT NULL,
    minimum_minutes BIGINT NOT NULL,
    needs_prior_authorisation INTEGER NOT NULL,
    timely_filing_days BIGINT NOT NULL,
    retired_at TEXT,
    created_at TEXT NOT NULL,
    created_by BIGINT NOT NULL REFERENCES users(id),
    updated_at TEXT NOT NULL,
    updated_by BIGINT NOT NULL REFERENCES users(id)
);

CREATE TABLE billing_providers (
    site_id BIGINT PRIMARY KEY REFERENCES sites(id),
    legal_name TEXT NOT NULL,
    npi TEXT NOT NULL,
    tax_id TEXT NOT NULL,
    taxonomy TEXT NOT NULL,
    address_line TEXT NOT NULL,
    city TEXT NOT NULL,
    state TEXT NOT NULL,
    zip TEXT NOT NULL,
    place_of_service TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by BIGINT NOT NULL REFERENCES users(id)
);

CREATE TABLE coverages (
    id INTEGER PRIMARY KEY,
    patient_id BIGINT NOT NULL REFERENCES patients(id),
    coverage_rank TEXT NOT NULL,
    payer_id BIGINT REFERENCES payers(id),
    relationship TEXT NOT NULL,
    details TEXT NOT NULL,
    effective_from TEXT NOT NULL,
    effective_to TEXT,
    created_at TEXT NOT NULL,
    created_by BIGINT NOT NULL REFERENCES users(id),
    updated_at TEXT NOT NULL,
    updated_by BIGINT NOT NULL REFERENCES users(id)
);
CREATE INDEX coverages_patient ON coverages (patient_id, effective_from);
CREATE INDEX coverages_payer ON coverages (payer_id);

CREATE TABLE eligibility_checks (
    id INTEGER PRIMARY KEY,
    coverage_id BIGINT NOT NULL REFERENCES coverages(id),
    patient_id BIGINT NOT NULL REFERENCES patients(id),
    checked_on TEXT NOT NULL,
    method TEXT NOT NULL,
    result TEXT NOT NULL,
    reference TEXT,
    created_at TEXT NOT NULL,
    created_by BIGINT NOT NULL REFERENCES users(id)
);
CREATE INDEX eligibility_checks_coverage ON eligibility_checks (coverage_id, checked_on);
CREATE INDEX eligibility_checks_patient ON eligibility_checks (patient_id);
