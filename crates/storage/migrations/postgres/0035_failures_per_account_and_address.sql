-- Password failures are counted per account and client address (issue 11, item 6): an account
-- is paused only for the address that failed, so nobody can hold an owner out by failing on purpose.
ALTER TABLE login_failures ADD COLUMN user_id BIGINT;
CREATE INDEX login_failures_user_at ON login_failures (user_id, at);
