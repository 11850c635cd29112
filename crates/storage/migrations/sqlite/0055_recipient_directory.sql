-- Part 2 recipient directory (issue 11, item 4): disclosures go to people and organisations
-- kept here, with the class the privacy officer gave them, instead of a class typed by whoever
-- discloses. Names and contact details are sealed (a family member's name is sensitive); the
-- class is a code in clear. Entries are retired, never deleted, so the accounting keeps its link.
CREATE TABLE disclosure_recipients (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    details TEXT NOT NULL,
    retired_at TEXT,
    created_at TEXT NOT NULL,
    created_by BIGINT NOT NULL REFERENCES users(id),
    updated_at TEXT NOT NULL,
    updated_by BIGINT NOT NULL REFERENCES users(id)
);
CREATE INDEX disclosure_recipients_kind ON disclosure_recipients (kind, retired_at);

-- Disclosures made from now on name their directory entry. Earlier ones keep the recipient text
-- recorded when they were made (sealed, so SQL cannot match it to an entry): the accounting
-- must show what was disclosed to whom as it stood, and is never rewritten.
ALTER TABLE disclosures ADD COLUMN recipient_id BIGINT REFERENCES disclosure_recipients(id);
CREATE INDEX disclosures_recipient ON disclosures (recipient_id);
