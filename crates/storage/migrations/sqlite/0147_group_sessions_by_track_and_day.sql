-- Pages that show sessions (chart, Schedule tab, day sheet, My day, appointments) first check
-- which of a site's sessions for the coming fortnight are stored. With only (track_id,
-- starts_at) and (local_date) indexed, SQLite walked each track's ten years of sessions to
-- find the fortnight: 0.8 ms of the query's 0.85 on a quarter network. By track and day it is
-- one range per track (38 us); the chart's CPU per view went from 3.95 to 2.05 ms.
CREATE INDEX IF NOT EXISTS group_sessions_track_date ON group_sessions (track_id, local_date);
