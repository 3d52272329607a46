-- When the retention sweep last removed a record's words (README "Retention"): the sweep
-- takes up a record again only if something was written since.
ALTER TABLE referrals ADD COLUMN words_forgotten_at TEXT;
ALTER TABLE patients ADD COLUMN words_forgotten_at TEXT;
