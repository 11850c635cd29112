-- Ending an agreed restriction (42 CFR 2.26 with 45 CFR 164.522(a)(2)): who ended it (the
-- patient agreeing, or the program telling the patient), the day, the reason (sealed: it is what
-- the patient was told), when and by whom it was recorded.
ALTER TABLE restriction_requests ADD COLUMN lift_ground TEXT;
ALTER TABLE restriction_requests ADD COLUMN lifted_on TEXT;
ALTER TABLE restriction_requests ADD COLUMN lift_reason TEXT;
ALTER TABLE restriction_requests ADD COLUMN lifted_at TEXT;
ALTER TABLE restriction_requests ADD COLUMN lifted_by BIGINT REFERENCES users(id);
