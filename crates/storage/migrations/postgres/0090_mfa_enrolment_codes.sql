-- The first second factor of an account is set up only with a one-time enrolment code an
-- administrator issued (kept hashed, with its expiry), so a password alone never enrols one.
ALTER TABLE users ADD COLUMN enrolment_code_hash TEXT;
ALTER TABLE users ADD COLUMN enrolment_code_expires_at TEXT;
