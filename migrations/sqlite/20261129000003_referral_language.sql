-- The language a person texts in, as soon as it is recognised (a code such as "pl", or
-- "ur-Latn" for Roman Urdu), and whether the team needs an interpreter to call them back.
ALTER TABLE referrals ADD COLUMN language TEXT;
ALTER TABLE referrals ADD COLUMN interpreter BOOLEAN NOT NULL DEFAULT FALSE;
