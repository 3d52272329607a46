-- Letters going through GOV.UK Notify (CRHT_NOTIFY_LETTERS): the rendered PDF and the print
-- list's words for it, kept beside the message until Notify has it for good, so a letter
-- Notify cannot take becomes a print task and is never lost.
CREATE TABLE posted_letters (
    message_id  TEXT PRIMARY KEY REFERENCES messages (id),
    pdf         BYTEA NOT NULL,
    task_text   TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
