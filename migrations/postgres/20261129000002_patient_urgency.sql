-- A patient's risk is followed up like a referral's (safety rule 8). An urgent episode is open
-- while `urgent` is true: it began at `urgent_at`, has been escalated `escalation_level` times,
-- and is closed by a clinician's acknowledgement (kept as history until the next episode).
ALTER TABLE patients ADD COLUMN urgent_at TIMESTAMPTZ;
ALTER TABLE patients ADD COLUMN escalation_level BIGINT NOT NULL DEFAULT 0;
ALTER TABLE patients ADD COLUMN acknowledged_at TIMESTAMPTZ;
ALTER TABLE patients ADD COLUMN acknowledged_by TEXT;
-- Patients flagged before this column existed: their episode began at their last change.
UPDATE patients SET urgent_at = updated_at WHERE urgent AND urgent_at IS NULL;
-- The escalation sweep and the urgent-first patient list.
CREATE INDEX patients_urgent ON patients (urgent_at) WHERE urgent;
