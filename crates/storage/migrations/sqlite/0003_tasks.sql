-- Tasks: work that must not be forgotten (a safety flag's follow-up, outreach after missed
-- sessions, a privacy review). A task stays open until someone records what was done.
CREATE TABLE tasks (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER REFERENCES patients(id),
    flag_id INTEGER REFERENCES patient_flags(id),
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    priority TEXT NOT NULL,
    assigned_to INTEGER REFERENCES users(id),
    assigned_role TEXT,
    due_on TEXT,
    created_at TEXT NOT NULL,
    created_by INTEGER REFERENCES users(id),
    completed_at TEXT,
    completed_by INTEGER REFERENCES users(id),
    outcome TEXT
);
CREATE INDEX tasks_assignee_open ON tasks (assigned_to, completed_at);
CREATE INDEX tasks_role_open ON tasks (assigned_role, completed_at);
CREATE INDEX tasks_patient ON tasks (patient_id, completed_at);
