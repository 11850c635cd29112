-- Two-person rule for removing an account's second factors (issue 11): one administrator
-- requests it, another administrator or the privacy officer approves it, as for roles. A request
-- waits in the same table, told apart by its kind; `role` then holds the account's role when it
-- was requested (shown to whoever decides).
ALTER TABLE role_approvals ADD COLUMN kind TEXT NOT NULL DEFAULT 'role';
