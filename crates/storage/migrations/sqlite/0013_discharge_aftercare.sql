-- Discharge: the summary generated from the record (edited, then signed and locked), the
-- aftercare plan, and the 30/60/90-day follow-ups whose outcomes feed outcome reporting.
CREATE TABLE discharge_summaries (
    id INTEGER PRIMARY KEY,
    episode_id INTEGER NOT NULL UNIQUE REFERENCES episodes(id),
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    sections TEXT NOT NULL,
    generated_at TEXT NOT NULL,
    generated_by INTEGER NOT NULL REFERENCES users(id),
    updated_at TEXT NOT NULL,
    signed_at TEXT,
    signed_by INTEGER REFERENCES users(id)
);
CREATE INDEX discharge_summaries_patient ON discharge_summaries (patient_id);

CREATE TABLE aftercare_items (
    id INTEGER PRIMARY KEY,
    episode_id INTEGER NOT NULL REFERENCES episodes(id),
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    kind TEXT NOT NULL,
    detail TEXT,
    contact TEXT,
    scheduled_on TEXT,
    created_at TEXT NOT NULL,
    created_by INTEGER NOT NULL REFERENCES users(id)
);
CREATE INDEX aftercare_items_episode ON aftercare_items (episode_id);

CREATE TABLE discharge_follow_ups (
    id INTEGER PRIMARY KEY,
    episode_id INTEGER NOT NULL REFERENCES episodes(id),
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    task_id INTEGER NOT NULL UNIQUE REFERENCES tasks(id),
    days_after INTEGER NOT NULL,
    due_on TEXT NOT NULL,
    contact_result TEXT,
    recovery_status TEXT,
    note TEXT,
    recorded_at TEXT,
    recorded_by INTEGER REFERENCES users(id),
    UNIQUE (episode_id, days_after)
);
CREATE INDEX discharge_follow_ups_patient ON discharge_follow_ups (patient_id);
