-- An authenticator being set up waits here, apart from the one in use, until a code from it is
-- confirmed; it is discarded if not confirmed within the set-up window.
ALTER TABLE users ADD COLUMN mfa_pending_secret TEXT;
ALTER TABLE users ADD COLUMN mfa_pending_at TEXT;
