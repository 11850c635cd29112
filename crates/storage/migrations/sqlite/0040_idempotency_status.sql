-- Every POST that creates a clinical record takes an Idempotency-Key now, and not all of them
-- answer 201: the first answer's status is kept so that a retry hears the same one (empty
-- for answers kept before, which were all 201).
ALTER TABLE idempotency_keys ADD COLUMN status INTEGER;
