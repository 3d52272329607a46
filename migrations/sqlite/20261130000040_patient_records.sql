-- Patients as the NHS records them: the NHS number (ten digits, its check digit verified by
-- the gateway) and the date of birth (YYYY-MM-DD). Two records with one NHS number would split
-- a person's care in two, so a number belongs to one record only.
ALTER TABLE patients ADD COLUMN nhs_number TEXT;
ALTER TABLE patients ADD COLUMN date_of_birth TEXT;
CREATE UNIQUE INDEX patients_nhs_number ON patients (nhs_number) WHERE nhs_number IS NOT NULL;
