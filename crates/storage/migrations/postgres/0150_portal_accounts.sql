-- Patient portal accounts (issue 13): one row per patient. Staff make an invitation (a one-time
-- code, kept only as its hash, valid 72 hours); the patient redeems it by choosing a username
-- and password, which makes a `users` row of role `patient` so that hashing, the password policy,
-- lockout and session rules are the staff ones. Staff may end the account (revoked_at).
CREATE TABLE portal_accounts (
    patient_id BIGINT PRIMARY KEY REFERENCES patients(id),
    user_id BIGINT UNIQUE REFERENCES users(id),
    invitation_hash TEXT UNIQUE,
    invitation_expires_at TEXT,
    invited_at TEXT,
    invited_by BIGINT REFERENCES users(id),
    activated_at TEXT,
    revoked_at TEXT,
    revoked_by BIGINT REFERENCES users(id)
);
