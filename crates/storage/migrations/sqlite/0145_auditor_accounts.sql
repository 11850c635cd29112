-- Auditor accounts (42 CFR 2.53, issue 20): each is bound to one audit or evaluation agreement
-- and, if the agreement covers one program, that program; the auditor reviews only what the
-- agreement covers while it is in effect. Every review is kept for the privacy officer.
CREATE TABLE auditor_accounts (
    user_id BIGINT PRIMARY KEY REFERENCES users(id),
    authority_id BIGINT NOT NULL REFERENCES disclosure_authorities(id),
    program_id BIGINT REFERENCES programs(id),
    bound_at TEXT NOT NULL,
    bound_by BIGINT REFERENCES users(id)
);
CREATE INDEX auditor_accounts_authority ON auditor_accounts (authority_id);

CREATE TABLE auditor_reviews (
    id INTEGER PRIMARY KEY,
    authority_id BIGINT NOT NULL REFERENCES disclosure_authorities(id),
    user_id BIGINT NOT NULL REFERENCES users(id),
    patient_id BIGINT NOT NULL REFERENCES patients(id),
    categories TEXT NOT NULL,
    reviewed_at TEXT NOT NULL
);
CREATE INDEX auditor_reviews_authority ON auditor_reviews (authority_id, id);
