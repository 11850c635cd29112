-- Clinical record (part b): progress notes with addenda and co-signature, group notes.
-- Note sections and addenda are clinical text, encrypted at rest by the application.

-- Staff whose notes wait for a clinical director's co-signature (peer specialists always do).
ALTER TABLE users ADD COLUMN requires_cosign INTEGER NOT NULL DEFAULT 0;

-- A group session's note: the shared part is written once by the facilitator.
CREATE TABLE group_notes (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    session_on TEXT NOT NULL,
    shared_text TEXT NOT NULL,
    author_id INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    signed_at TEXT,
    signed_by INTEGER REFERENCES users(id)
);

-- One note per patient and session. Group notes give each attendee their own row.
CREATE TABLE progress_notes (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    group_note_id INTEGER REFERENCES group_notes(id),
    kind TEXT NOT NULL,
    template TEXT NOT NULL,
    session_on TEXT NOT NULL,
    sections TEXT NOT NULL,
    objective_ids TEXT NOT NULL,
    author_id INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    signed_at TEXT,
    signed_by INTEGER REFERENCES users(id),
    needs_cosign INTEGER NOT NULL,
    cosigned_at TEXT,
    cosigned_by INTEGER REFERENCES users(id)
);
CREATE INDEX progress_notes_patient ON progress_notes (patient_id, session_on);
CREATE INDEX progress_notes_unsigned ON progress_notes (signed_at, author_id);
CREATE INDEX progress_notes_group ON progress_notes (group_note_id);

-- Changes to a signed note: dated, signed by their writer, never edited.
CREATE TABLE note_addenda (
    id INTEGER PRIMARY KEY,
    note_id INTEGER NOT NULL REFERENCES progress_notes(id),
    body TEXT NOT NULL,
    written_by INTEGER NOT NULL REFERENCES users(id),
    written_at TEXT NOT NULL
);
CREATE INDEX note_addenda_note ON note_addenda (note_id);

-- Treatment plans: every revision is a new row with the next version number; old versions stay.
-- The problems and goals are one encrypted document; objectives are rows so notes can link them.
CREATE TABLE treatment_plans (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    version INTEGER NOT NULL,
    content TEXT NOT NULL,
    review_due_on TEXT NOT NULL,
    created_by INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    patient_signature TEXT,
    patient_signed_at TEXT,
    clinician_signature TEXT,
    clinician_signed_by INTEGER REFERENCES users(id),
    clinician_signed_at TEXT,
    UNIQUE (patient_id, version)
);

CREATE TABLE plan_objectives (
    id INTEGER PRIMARY KEY,
    plan_id INTEGER NOT NULL REFERENCES treatment_plans(id),
    problem_index INTEGER NOT NULL,
    position INTEGER NOT NULL,
    objective TEXT NOT NULL,
    target_on TEXT NOT NULL,
    interventions TEXT NOT NULL
);
CREATE INDEX plan_objectives_plan ON plan_objectives (plan_id);
