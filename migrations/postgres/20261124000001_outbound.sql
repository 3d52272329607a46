-- Outbound: patients and their e-Health Passports, appointments and their reminders, messages
-- by each patient's channels (with status history and delivery receipts), staff tasks for
-- phone calls and letters, the team inbox, escalation of urgent referrals.

CREATE TABLE patients (
    id                   TEXT PRIMARY KEY,
    name                 TEXT NOT NULL,
    preferred_name       TEXT,
    pronouns             TEXT,
    mobile               TEXT,
    landline             TEXT,
    address_lines        TEXT NOT NULL DEFAULT '[]',
    postcode             TEXT,
    language             TEXT,
    interpreter          BOOLEAN NOT NULL DEFAULT FALSE,
    access_needs         TEXT NOT NULL DEFAULT '[]',
    support_person       TEXT,
    service_animal       TEXT,
    -- NULL: the service default (CRHT_QUIET_HOURS).
    quiet_hours          TEXT,
    team                 TEXT,
    contact_preferences  TEXT NOT NULL DEFAULT '{}',
    sms_opted_out        BOOLEAN NOT NULL DEFAULT FALSE,
    -- The provider's error code when the mobile number failed for good (e.g. 21211).
    mobile_failed        TEXT,
    urgent               BOOLEAN NOT NULL DEFAULT FALSE,
    risk_signals         TEXT NOT NULL DEFAULT '[]',
    notes                TEXT,
    referral_id          TEXT REFERENCES referrals (id),
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL
);
CREATE INDEX patients_mobile ON patients (mobile);
CREATE UNIQUE INDEX patients_referral ON patients (referral_id) WHERE referral_id IS NOT NULL;

CREATE TABLE appointments (
    id          TEXT PRIMARY KEY,
    patient_id  TEXT NOT NULL REFERENCES patients (id),
    starts_at   TIMESTAMPTZ NOT NULL,
    place       TEXT NOT NULL CHECK (place IN ('home', 'site')),
    site_name   TEXT,
    kind        TEXT NOT NULL,
    staff_name  TEXT,
    status      TEXT NOT NULL CHECK (status IN ('booked', 'confirmed', 'cancelled')),
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX appointments_patient ON appointments (patient_id, starts_at);

-- One row per appointment and offset: the idempotency key of a reminder. `version` moves on
-- with every reschedule, so a job scheduled for an old time finds itself stale.
CREATE TABLE reminders (
    id              TEXT PRIMARY KEY,
    appointment_id  TEXT NOT NULL REFERENCES appointments (id),
    offset_seconds  BIGINT NOT NULL,
    due_at          TIMESTAMPTZ NOT NULL,
    send_at         TIMESTAMPTZ,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'skipped', 'cancelled')),
    reason          TEXT,
    version         BIGINT NOT NULL DEFAULT 1,
    job_id          TEXT,
    message_id      TEXT,
    updated_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (appointment_id, offset_seconds)
);

-- Messages to patients share the table of on-call alerts.
ALTER TABLE messages ADD COLUMN patient_id TEXT REFERENCES patients (id);
ALTER TABLE messages ADD COLUMN appointment_id TEXT REFERENCES appointments (id);
ALTER TABLE messages ADD COLUMN reminder_id TEXT;
ALTER TABLE messages ADD COLUMN template TEXT;
ALTER TABLE messages ADD COLUMN vars TEXT;
ALTER TABLE messages ADD COLUMN language TEXT;
ALTER TABLE messages ADD COLUMN interpreter_may_be_needed BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE messages ADD COLUMN skipped TEXT NOT NULL DEFAULT '[]';
-- Exactly one message per reminder, whatever the workers do.
CREATE UNIQUE INDEX messages_reminder ON messages (reminder_id) WHERE reminder_id IS NOT NULL;
CREATE INDEX messages_patient ON messages (patient_id, created_at);

-- Every status a message passes through, with the channel and why.
CREATE TABLE message_events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id  TEXT NOT NULL REFERENCES messages (id),
    at          TIMESTAMPTZ NOT NULL,
    status      TEXT NOT NULL,
    channel     TEXT,
    detail      TEXT
);
CREATE INDEX message_events_message ON message_events (message_id, seq);

-- Delivery receipts already applied: a duplicate (same message id and status) changes nothing.
CREATE TABLE delivery_receipts (
    provider_id  TEXT NOT NULL,
    status       TEXT NOT NULL,
    error_code   TEXT,
    at           TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (provider_id, status)
);

-- The staff call list and print list.
CREATE TABLE tasks (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('phone_call', 'letter')),
    patient_id    TEXT REFERENCES patients (id),
    message_id    TEXT REFERENCES messages (id),
    status        TEXT NOT NULL CHECK (status IN ('open', 'done')),
    text          TEXT NOT NULL,
    pdf           BYTEA,
    created_at    TIMESTAMPTZ NOT NULL,
    completed_at  TIMESTAMPTZ,
    completed_by  TEXT
);
CREATE INDEX tasks_open ON tasks (kind, status, created_at);

-- What patients text in, and what the team should know about.
CREATE TABLE inbox_items (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    patient_id      TEXT REFERENCES patients (id),
    referral_id     TEXT REFERENCES referrals (id),
    appointment_id  TEXT REFERENCES appointments (id),
    message_id      TEXT,
    urgent          BOOLEAN NOT NULL DEFAULT FALSE,
    summary         TEXT NOT NULL,
    body            TEXT,
    status          TEXT NOT NULL DEFAULT 'open',
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX inbox_open ON inbox_items (status, urgent, created_at);

ALTER TABLE texts ADD COLUMN patient_id TEXT REFERENCES patients (id);
CREATE INDEX texts_patient ON texts (patient_id, seq);

-- Escalation of urgent referrals nobody acknowledged.
ALTER TABLE referrals ADD COLUMN escalation_level BIGINT NOT NULL DEFAULT 0;
ALTER TABLE referrals ADD COLUMN acknowledged_at TIMESTAMPTZ;
ALTER TABLE referrals ADD COLUMN phone TEXT;

-- One shared send slot, so several gateways together keep to the provider's rate.
CREATE TABLE sms_rate (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    next_slot  TIMESTAMPTZ NOT NULL
);

-- Reminders further ahead than the job queue's horizon, waiting to be queued.
CREATE INDEX reminders_unqueued ON reminders (send_at) WHERE status = 'pending' AND job_id IS NULL;
