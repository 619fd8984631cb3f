-- Issue 14 items 3 and 4: the register scan is recognised. A signed register's pages route themselves
-- (in the register's own upload or inside a certificate upload); the register keeps which job and pages
-- its last scan came from, what is wrong with it (a page missing, twice, two versions), and the
-- signature check of every row (JSON: certscan_domain::register_scan::SignatureSummary).
ALTER TABLE registers ADD COLUMN scan_job_id TEXT;
ALTER TABLE registers ADD COLUMN scan_pages TEXT;
ALTER TABLE registers ADD COLUMN scan_problems TEXT;
ALTER TABLE registers ADD COLUMN signatures TEXT;
