-- One send slot per SMS provider (its place in CRHT_SMS_PROVIDERS, from 1): each provider
-- has its own rate, shared by every gateway.
ALTER TABLE sms_rate DROP CONSTRAINT IF EXISTS sms_rate_id_check;
ALTER TABLE sms_rate ADD CONSTRAINT sms_rate_provider CHECK (id >= 1);
