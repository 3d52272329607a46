-- Every door a referral comes through: `source` says how it reached the team (`sms`: the
-- texted conversation; `phone`: taken on the 0800 line or from 111 and entered by staff;
-- `api`: entered by another system), and `route` which pathway it is for (`crisis`, or
-- `discharge_support` for someone leaving an inpatient ward). Existing rows were texted
-- crisis referrals.
ALTER TABLE referrals ADD COLUMN source TEXT NOT NULL DEFAULT 'sms';
ALTER TABLE referrals ADD COLUMN route TEXT NOT NULL DEFAULT 'crisis';
CREATE INDEX referrals_route ON referrals (route);
