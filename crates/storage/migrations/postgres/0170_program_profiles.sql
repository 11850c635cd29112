-- The front door (issue 15, item 1): what each program publishes about itself for people
-- looking for treatment. Public by design, so nothing here is sealed; none of it is about a
-- patient. When groups meet is read from the program's tracks, never typed twice.
CREATE TABLE program_profiles (
    program_id BIGINT PRIMARY KEY REFERENCES programs(id),
    published BOOLEAN NOT NULL,
    summary TEXT NOT NULL,
    zip TEXT,
    services TEXT NOT NULL,
    languages TEXT NOT NULL,
    insurance TEXT NOT NULL,
    accreditation TEXT NOT NULL,
    accreditation_number TEXT NOT NULL,
    accreditation_expires TEXT,
    licence TEXT NOT NULL,
    licence_number TEXT NOT NULL,
    licence_expires TEXT,
    intake_phone TEXT NOT NULL,
    intake_hours TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by BIGINT REFERENCES users(id)
);
CREATE INDEX program_profiles_published ON program_profiles (published);
