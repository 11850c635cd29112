-- Court orders placing an undercover agent or informant in the program (42 CFR 2.67, issue 20).
-- They authorise no disclosure of patient records, so they are kept apart from the orders and
-- agreements that do. The terms (court, case, applicant, findings, measures) are sealed; the
-- placement period stays in clear so the register can show which are running.
CREATE TABLE undercover_orders (
    id INTEGER PRIMARY KEY,
    terms TEXT NOT NULL,
    placed_on TEXT NOT NULL,
    ends_on TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    recorded_by BIGINT NOT NULL REFERENCES users(id)
);
