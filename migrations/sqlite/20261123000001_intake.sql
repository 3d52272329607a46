-- Referral intake: referrals, the conversations that gather them, every text both ways,
-- outbound messages sent through the job queue, staff tokens and the audit log.
-- Times are UTC text of fixed width ('2026-11-23T23:38:08.123456Z'), so they sort as text.

CREATE TABLE referrals (
    id            TEXT PRIMARY KEY,
    reference     TEXT NOT NULL UNIQUE,
    status        TEXT NOT NULL,
    urgent        BOOLEAN NOT NULL DEFAULT FALSE,
    risk_signals  TEXT NOT NULL DEFAULT '[]',
    urgent_at     TEXT,
    team          TEXT NOT NULL,
    answers       TEXT NOT NULL DEFAULT '{}',
    incomplete    BOOLEAN NOT NULL DEFAULT TRUE,
    submitted_at  TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
-- The triage queue: urgent first, then oldest.
CREATE INDEX referrals_triage ON referrals (urgent DESC, created_at);
CREATE INDEX referrals_status ON referrals (status);

CREATE TABLE conversations (
    id            TEXT PRIMARY KEY,
    phone         TEXT NOT NULL,
    referral_id   TEXT NOT NULL REFERENCES referrals (id),
    state         TEXT NOT NULL,
    step          TEXT NOT NULL,
    status        TEXT NOT NULL,
    is_current    BOOLEAN NOT NULL,
    last_text_at  TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
-- One current conversation per number.
CREATE UNIQUE INDEX conversations_current ON conversations (phone) WHERE is_current;
CREATE INDEX conversations_idle ON conversations (status, last_text_at);
CREATE INDEX conversations_referral ON conversations (referral_id);

-- The transcript: every text, both directions. `body` is emptied by the retention job.
CREATE TABLE texts (
    seq              INTEGER PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    referral_id      TEXT REFERENCES referrals (id),
    conversation_id  TEXT REFERENCES conversations (id),
    phone            TEXT NOT NULL,
    direction        TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    body             TEXT,
    provider_id      TEXT,
    reply_to         TEXT,
    at               TEXT NOT NULL
);
-- A provider's retry of the same message id is recognised, never stored twice.
CREATE UNIQUE INDEX texts_inbound_provider_id ON texts (provider_id) WHERE direction = 'inbound';
CREATE INDEX texts_referral ON texts (referral_id, seq);
CREATE INDEX texts_reply_to ON texts (reply_to);

-- Texts sent through the provider by the job queue (on-call alerts here).
CREATE TABLE messages (
    id           TEXT PRIMARY KEY,
    purpose      TEXT NOT NULL,
    referral_id  TEXT REFERENCES referrals (id),
    channel      TEXT NOT NULL DEFAULT 'sms',
    to_phone     TEXT,
    body         TEXT,
    status       TEXT NOT NULL,
    provider_id  TEXT,
    error_code   TEXT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE UNIQUE INDEX messages_provider_id ON messages (provider_id) WHERE provider_id IS NOT NULL;
CREATE INDEX messages_referral ON messages (referral_id);

-- Numbers that texted STOP (or its kin) and have not texted START since.
CREATE TABLE sms_opt_outs (
    phone       TEXT PRIMARY KEY,
    opted_out   BOOLEAN NOT NULL,
    updated_at  TEXT NOT NULL
);

-- Staff bearer tokens: only a SHA-256 hash of each is kept.
CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('admin', 'clinician', 'scheduler')),
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);

CREATE TABLE audit_log (
    seq     INTEGER PRIMARY KEY,
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,
    role    TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL
);
