-- Feedback after care. A clinician discharges a patient (`discharged_at`), and in the same
-- transaction a feedback request is planned: one per patient, sent once by their own channels
-- after CRHT_FEEDBACK_AFTER, never in quiet hours and never within 72 hours of a text from them
-- that screened as risk (`last_risk_text_at`, kept by the inbound path). A reply from their
-- own number records a rating (1 to 5) and their words.
ALTER TABLE patients ADD COLUMN discharged_at TEXT;
ALTER TABLE patients ADD COLUMN last_risk_text_at TEXT;

CREATE TABLE feedback_requests (
    id             TEXT PRIMARY KEY,
    patient_id     TEXT NOT NULL UNIQUE REFERENCES patients (id),
    discharged_at  TEXT NOT NULL,
    -- When it may go next: moved on past quiet hours or a risk text; NULL once sent.
    send_at        TEXT,
    -- pending, sent
    status         TEXT NOT NULL CHECK (status IN ('pending', 'sent')),
    -- Why it was last moved (quiet_hours, recent_risk_text), for staff.
    reason         TEXT,
    version        BIGINT NOT NULL DEFAULT 0,
    message_id     TEXT REFERENCES messages (id),
    sent_at        TEXT,
    rating         BIGINT CHECK (rating BETWEEN 1 AND 5),
    words          TEXT,
    answered_at    TEXT,
    -- A reply that was not a number from 1 to 5 was asked again, once.
    reasked        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX feedback_requests_due ON feedback_requests (status, send_at);
CREATE INDEX feedback_requests_sent ON feedback_requests (sent_at);
