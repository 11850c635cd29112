-- SUD counseling notes (42 CFR 2.11, 2.31(b)): a counselor's own notes, kept apart from the
-- record in a table no other query reads, so no packet, print or export can carry them.
CREATE TABLE counseling_notes (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    author_id INTEGER NOT NULL REFERENCES users(id),
    session_on TEXT NOT NULL,
    body TEXT NOT NULL,
    written_at TEXT NOT NULL
);
CREATE INDEX counseling_notes_author ON counseling_notes (author_id, patient_id);
