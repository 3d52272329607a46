-- The gateway's replies to a text that came through GOV.UK Notify leave as messages of their
-- own (purpose `reply`). `past_opt_out`: this text goes even to a number that has opted out
-- since it was queued (the STOP confirmation, the 999 answer to a risk text, the answer to
-- HELP); every other reply to an opted-out number is held back at send time.
ALTER TABLE messages ADD COLUMN past_opt_out BOOLEAN NOT NULL DEFAULT FALSE;
