//! Integration tests: the real gateway on a loopback port, a real database per test (SQLite,
//! and PostgreSQL when CRHT_TEST_POSTGRES_URL is set), and a fake Twilio that is a real HTTP
//! server. Storage tests run once per engine: `test_name::sqlite` and `test_name::postgres`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod audit_reads;
mod browser;
mod cli;
mod config_check;
mod consequences;
mod console_admin;
mod console_browser;
mod console_client;
mod console_patients;
mod console_referral;
mod console_work;
mod every_text;
mod failover;
mod feedback;
mod find;
mod hard_moments;
mod hazard_log;
mod helpers;
mod hostile;
mod intake;
mod keywords;
mod limits;
mod message_allowance;
mod notify;
mod notify_inbound;
mod notify_letters;
mod oidc;
mod ops;
mod outbound;
mod patient_records;
mod patient_urgency;
mod recovery;
mod referral_routes;
mod retention;
mod safe_defaults;
mod safety;
mod safety_plan;
mod staff;
mod staff_loop;
mod unavailable;
mod webhook_deadline;
mod webhooks;
