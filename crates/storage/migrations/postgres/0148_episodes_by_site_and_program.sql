-- A counselor's patient list and search build the set of patients in their programs from the
-- episodes of each (site, program) they are assigned to. Indexed by program alone, SQLite read
-- every episode of the program at every site and then its site from the row; by site, program
-- and patient the set comes from the index alone. Quarter network, CPU per request of the
-- counselor's patient list: about 4.7 ms before, 3.3 after (on a busy machine, +-20 %).
CREATE INDEX IF NOT EXISTS episodes_site_program_patient ON episodes (site_id, program_id, patient_id);
