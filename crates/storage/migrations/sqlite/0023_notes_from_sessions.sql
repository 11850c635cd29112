-- Group notes start from a session (one note per session); every progress note records the
-- service it documents and when it started and ended, which billing counts. Notes written
-- before this have none of these and show as "not recorded".
ALTER TABLE group_notes ADD COLUMN session_id INTEGER REFERENCES group_sessions(id);
CREATE UNIQUE INDEX group_notes_session ON group_notes (session_id);
ALTER TABLE progress_notes ADD COLUMN service_code TEXT;
ALTER TABLE progress_notes ADD COLUMN started_at TEXT;
ALTER TABLE progress_notes ADD COLUMN ended_at TEXT;
ALTER TABLE progress_notes ADD COLUMN duration_minutes INTEGER;
