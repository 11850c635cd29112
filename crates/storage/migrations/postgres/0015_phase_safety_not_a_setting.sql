-- Safety is not a setting (issue 19): an open safety flag always blocks a step down, and an open
-- high-severity flag is always a step-up sign, so the two switches that could turn them off go.
ALTER TABLE program_phase_rules DROP COLUMN no_open_high_risk_flag;
ALTER TABLE program_phase_rules DROP COLUMN step_up_on_high_risk_flag;
