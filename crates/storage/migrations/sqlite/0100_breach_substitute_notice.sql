-- Part 2 (issue 20): substitute notice of a breach for patients who cannot be reached by letter
-- (45 CFR 164.404(d)(2), applied by 42 CFR 2.16).

-- How they were told: method, day, how many patients, and the toll-free number (required from
-- 10 patients). Where it was posted or what was said is sealed.
CREATE TABLE breach_substitute_notices (
    id INTEGER PRIMARY KEY,
    breach_id BIGINT NOT NULL REFERENCES breach_incidents(id),
    given_on TEXT NOT NULL,
    method TEXT NOT NULL,
    patients_unreachable BIGINT NOT NULL,
    toll_free_number TEXT,
    details TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    recorded_by BIGINT NOT NULL REFERENCES users(id)
);
CREATE INDEX breach_substitute_notices_breach ON breach_substitute_notices (breach_id);

-- A named patient the letter could not reach is told by the substitute notice instead.
ALTER TABLE breach_patients ADD COLUMN substitute_notice_id BIGINT REFERENCES breach_substitute_notices(id);
