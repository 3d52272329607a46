-- One send slot per SMS provider (its place in CRHT_SMS_PROVIDERS, from 1). SQLite paces in
-- the process and never writes this table; it keeps the same shape as PostgreSQL's.
CREATE TABLE sms_rate_new (
    id         INTEGER PRIMARY KEY CHECK (id >= 1),
    next_slot  TEXT NOT NULL
);
INSERT INTO sms_rate_new (id, next_slot) SELECT id, next_slot FROM sms_rate;
DROP TABLE sms_rate;
ALTER TABLE sms_rate_new RENAME TO sms_rate;
