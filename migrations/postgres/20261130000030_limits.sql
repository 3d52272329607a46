-- The hourly budget of non-urgent texts (CRHT_SMS_BUDGET_PER_HOUR), shared by every gateway on
-- this database: how many were handed to the provider in each clock hour. Rows older than a
-- day are removed as new hours begin.
CREATE TABLE sms_budget (
    hour  TIMESTAMPTZ PRIMARY KEY,
    used  BIGINT NOT NULL
);
