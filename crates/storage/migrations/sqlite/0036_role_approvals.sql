-- Two-person rule (issue 11, item 8): a clinical or disclosing role proposed by one administrator
-- waits here until another administrator or the privacy officer approves or refuses it.
CREATE TABLE role_approvals (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    role TEXT NOT NULL,
    -- The account was created for this role and stays inactive until approval.
    activates INTEGER NOT NULL,
    proposed_by BIGINT NOT NULL REFERENCES users(id),
    proposed_at TEXT NOT NULL,
    decided_by BIGINT REFERENCES users(id),
    decided_at TEXT,
    outcome TEXT
);
CREATE INDEX role_approvals_open ON role_approvals (user_id, outcome);
