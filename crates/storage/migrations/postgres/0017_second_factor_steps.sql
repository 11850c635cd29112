-- The TOTP time step of the last second-factor code accepted, so that no code is used twice.
ALTER TABLE users ADD COLUMN mfa_last_step BIGINT;
