-- ASVS 3.3.4: a person lists their own sessions; the browser family (never the whole
-- User-Agent) tells one device's session from another's. NULL for sessions opened before.
ALTER TABLE staff_sessions ADD COLUMN browser TEXT;
