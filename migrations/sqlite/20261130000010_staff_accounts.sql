-- Staff accounts for the console: who they are, their role and teams, and what keeps a
-- guessed password out (an argon2id hash, a count of failed sign-ins, a lock).
CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    -- Kept as the gateway normalised it (trimmed, lower case): unique whatever the case typed.
    email           TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('admin', 'clinician', 'scheduler')),
    -- A JSON array of team ids from the teams file.
    teams           TEXT NOT NULL DEFAULT '[]',
    -- NULL until the person sets one through their one-time link.
    password_hash   TEXT,
    failed_sign_ins INTEGER NOT NULL DEFAULT 0,
    locked_until    TEXT,
    active          BOOLEAN NOT NULL DEFAULT TRUE,
    created_at      TEXT NOT NULL
);

-- One-time links to set a password: only a hash of each is kept; used once, then spent.
CREATE TABLE password_links (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    expires_at  TEXT NOT NULL,
    used_at     TEXT
);

-- Console sessions (tower-sessions records): the session's data as JSON.
CREATE TABLE console_sessions (
    id          TEXT PRIMARY KEY,
    data        TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);

-- A token belongs to a user, or (no user) to a named service; it may expire, and may be revoked.
ALTER TABLE api_tokens ADD COLUMN user_id TEXT REFERENCES users (id);
ALTER TABLE api_tokens ADD COLUMN expires_at TEXT;
ALTER TABLE api_tokens ADD COLUMN last_used_at TEXT;
ALTER TABLE api_tokens ADD COLUMN revoked_at TEXT;
