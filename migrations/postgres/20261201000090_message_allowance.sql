-- How many messages each staff API token, or console user, has queued on a UTC day
-- (CRHT_MESSAGES_PER_TOKEN_PER_DAY): counted in the transaction that queues them.
CREATE TABLE message_allowance (
    -- 'token:<api token id>' or 'user:<staff user id>'.
    holder TEXT NOT NULL,
    -- The UTC day, YYYY-MM-DD.
    day    TEXT NOT NULL,
    queued BIGINT NOT NULL,
    PRIMARY KEY (holder, day)
);
