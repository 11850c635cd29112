-- Court orders and agreements corrected or ended early (issue 20). An ended one authorises
-- nothing after ended_at. Every correction and early end keeps its reason and, for a correction,
-- the record as it stood before (both sealed: the terms name courts, cases and bodies).
ALTER TABLE disclosure_authorities ADD COLUMN ended_at TEXT;

CREATE TABLE disclosure_authority_changes (
    id INTEGER PRIMARY KEY,
    authority_id BIGINT NOT NULL REFERENCES disclosure_authorities(id),
    change TEXT NOT NULL,
    reason TEXT NOT NULL,
    previous TEXT,
    changed_at TEXT NOT NULL,
    changed_by BIGINT NOT NULL REFERENCES users(id)
);
CREATE INDEX disclosure_authority_changes_authority ON disclosure_authority_changes (authority_id);
