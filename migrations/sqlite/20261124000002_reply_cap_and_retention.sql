-- Replies to a number in the last hour (the per-number reply cap): counted from the index alone.
CREATE INDEX texts_phone_at ON texts (phone, direction, at);
-- Bodies still held, by age (the hourly retention sweep).
CREATE INDEX texts_body_at ON texts (at) WHERE body IS NOT NULL;
