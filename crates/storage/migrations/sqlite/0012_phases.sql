-- Phases inside a program (most intensive first), the program's promotion / step-up / outreach
-- settings, and each episode's phase decisions. An episode with no decision is in the first
-- phase from its admission. The reason and the recommendation snapshot (which criteria were met
-- when the clinician decided) are encrypted clinical text.
CREATE TABLE program_phases (
    id INTEGER PRIMARY KEY,
    program_id INTEGER NOT NULL REFERENCES programs(id),
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    days_per_week INTEGER NOT NULL,
    weekly_minutes INTEGER NOT NULL,
    UNIQUE (program_id, position)
);

CREATE TABLE program_phase_rules (
    program_id INTEGER PRIMARY KEY REFERENCES programs(id),
    min_weeks_in_phase INTEGER NOT NULL,
    min_attendance_percent INTEGER NOT NULL,
    negative_screens INTEGER NOT NULL,
    objectives_met INTEGER NOT NULL,
    no_open_high_risk_flag INTEGER NOT NULL,
    excused_count_as_missed INTEGER NOT NULL,
    weeks_under_minimum INTEGER NOT NULL,
    positive_screens INTEGER NOT NULL,
    screen_window INTEGER NOT NULL,
    step_up_on_high_risk_flag INTEGER NOT NULL,
    outreach_after_unexcused INTEGER NOT NULL,
    outreach_excused_breaks_run INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by INTEGER REFERENCES users(id)
);

CREATE TABLE episode_phases (
    id INTEGER PRIMARY KEY,
    episode_id INTEGER NOT NULL REFERENCES episodes(id),
    phase_id INTEGER NOT NULL REFERENCES program_phases(id),
    decision TEXT NOT NULL,
    effective_on TEXT NOT NULL,
    track_id INTEGER REFERENCES tracks(id),
    reason TEXT NOT NULL,
    recommendation TEXT NOT NULL,
    decided_by INTEGER NOT NULL REFERENCES users(id),
    recorded_at TEXT NOT NULL
);
CREATE INDEX episode_phases_episode ON episode_phases (episode_id, effective_on);
