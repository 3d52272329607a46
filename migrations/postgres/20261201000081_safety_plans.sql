-- A patient's safety plan, written by a clinician: one row per patient, replaced by each new
-- version (the audit log keeps who wrote each one and when). `sections` is JSON text: the
-- plan's lists of short lines (warning signs, things I can do, ...).
CREATE TABLE safety_plans (
    patient_id  TEXT PRIMARY KEY REFERENCES patients(id),
    sections    TEXT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    updated_by  TEXT NOT NULL
);
