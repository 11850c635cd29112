-- Indexes the network-scale data set asked for (docs/performance.md has the query plans and
-- the figures). IF NOT EXISTS: a database measured with the index added by hand still migrates.

-- Open episodes are a few per cent of ten years' episodes; the dashboards' census, the program
-- overview and weekly hours ask for them, by site.
CREATE INDEX IF NOT EXISTS episodes_status_site ON episodes (status, site_id);

-- The clinical director's co-signature queue: signed notes waiting for a co-signature.
CREATE INDEX IF NOT EXISTS progress_notes_cosign ON progress_notes (needs_cosign, cosigned_at);

-- The admissions card's "open episodes still without an intake assessment".
CREATE INDEX IF NOT EXISTS intake_assessments_episode ON intake_assessments (episode_id);
