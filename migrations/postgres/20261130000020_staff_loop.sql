-- The staff side of the loop: texts back to a referral's texter, inbox items and tasks that
-- are closed with an outcome and a note, and the referral events staff read (audit entries
-- that concern a referral, with the note that came with them).

-- A text staff sent back (who sent it), and the message that carries it to the provider.
ALTER TABLE texts ADD COLUMN sent_by TEXT;
ALTER TABLE texts ADD COLUMN message_id TEXT;

ALTER TABLE inbox_items ADD COLUMN assigned_to TEXT;
ALTER TABLE inbox_items ADD COLUMN closed_at TIMESTAMPTZ;
ALTER TABLE inbox_items ADD COLUMN closed_by TEXT;
ALTER TABLE inbox_items ADD COLUMN note TEXT;
CREATE INDEX inbox_referral ON inbox_items (referral_id);

-- How a task ended, and how many calls went unanswered before it did.
ALTER TABLE tasks ADD COLUMN outcome TEXT;
ALTER TABLE tasks ADD COLUMN note TEXT;
ALTER TABLE tasks ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;

ALTER TABLE audit_log ADD COLUMN referral_id TEXT;
ALTER TABLE audit_log ADD COLUMN note TEXT;
CREATE INDEX audit_referral ON audit_log (referral_id, seq);
