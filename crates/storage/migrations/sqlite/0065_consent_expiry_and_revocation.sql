-- 42 CFR Part 2 consents: the expiry facts and the written revocation, kept with the consent.
-- When the consent's expiry event happened, and who recorded it (§2.31(a)(7)).
ALTER TABLE consents ADD COLUMN expiry_event_at TEXT;
ALTER TABLE consents ADD COLUMN expiry_event_recorded_by INTEGER REFERENCES users(id);
-- "End of treatment", fixed once: the end of the first discharge day on or after signing, so a
-- readmission never brings an expired consent back.
ALTER TABLE consents ADD COLUMN treatment_ended_at TEXT;
-- When the daily check told the privacy officer and counselor the consent is about to expire.
ALTER TABLE consents ADD COLUMN expiry_notice_at TEXT;
-- The written revocation: the day it was received and its text (sealed, it is the patient's words).
ALTER TABLE consents ADD COLUMN revocation_received_on TEXT;
ALTER TABLE consents ADD COLUMN revocation_copy TEXT;
