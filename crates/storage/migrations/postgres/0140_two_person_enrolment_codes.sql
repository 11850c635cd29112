-- Two-person rule for enrolment codes (issue 11): who last set an account's password, so the
-- person who approves (and hands over) its enrolment code is never also the one who chose its
-- password. NULL: the command line, or a password set before this migration.
ALTER TABLE users ADD COLUMN password_set_by BIGINT REFERENCES users(id);
