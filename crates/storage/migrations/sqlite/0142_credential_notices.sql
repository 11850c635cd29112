-- ASVS 2.2.3, 2.5.x: a change to a person's credentials (by anyone) is told to them at their next
-- sign-in and listed on their Security page until they acknowledge it.
CREATE TABLE credential_notices (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    -- What changed (a code: password_set, mfa_enrolled, ...).
    change TEXT NOT NULL,
    -- Who changed it; NULL for the command line.
    changed_by BIGINT REFERENCES users(id),
    at TEXT NOT NULL,
    acknowledged_at TEXT
);
CREATE INDEX credential_notices_open ON credential_notices (user_id, acknowledged_at);
