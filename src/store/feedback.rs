//! Feedback after care: a patient's discharge, the one feedback request it plans, its sending
//! (exactly once, like a reminder: a conditional change of its row and the message in one
//! transaction), and the replies the inbound path records on it.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

use super::{AuditEntry, Patient, PatientRecord, PreparedMessage, Result};
use crate::domain::id::PatientId;

/// How long after a feedback request is sent a text from the patient's own number may answer
/// it (a rating, or the one re-ask).
pub const FEEDBACK_OPEN_FOR: TimeDelta = TimeDelta::days(14);

/// What a discharge came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Discharged {
    /// Discharged now; the feedback request is planned.
    Done(Box<PatientRecord>),
    NoSuchPatient,
    /// Discharged before, at this time: nothing changed.
    Already(DateTime<Utc>),
}

/// A feedback request whose time has come, with what deciding whether it may go needs.
#[derive(Debug, Clone, PartialEq)]
pub struct DueFeedback {
    pub id: String,
    pub version: i64,
    pub patient: Patient,
    /// When their latest text that screened as risk arrived.
    pub last_risk_text_at: Option<DateTime<Utc>>,
    /// Another patient's record has the same mobile (the request is then never texted: H-32).
    pub mobile_shared: bool,
}

/// A feedback request as the summary needs it: when it was sent, and its answer if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedbackRow {
    pub sent_at: DateTime<Utc>,
    pub rating: Option<i64>,
    pub words: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
}

/// A feedback request open to the patient's reply (in the inbound snapshot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenFeedback {
    pub id: String,
    /// A reply that was not a number from 1 to 5 was already asked again.
    pub reasked: bool,
}

/// What a patient's text does to their open feedback request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedbackAnswer {
    /// A rating from 1 to 5, and any words after it.
    Rated {
        request_id: String,
        rating: i64,
        words: Option<String>,
    },
    /// Not a number from 1 to 5: asked again (once).
    Reasked { request_id: String },
}

#[async_trait]
pub trait FeedbackStore {
    /// Marks the patient discharged, plans their feedback request for `send_at`, and writes
    /// the audit entry, in one transaction.
    async fn discharge_patient(
        &self,
        id: &PatientId,
        send_at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> Result<Discharged>;

    /// Pending feedback requests due by `now`, earliest first (at most `limit`).
    async fn due_feedback(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<DueFeedback>>;

    /// Moves a pending request to `send_at` (quiet hours, a risk text); `false` if it was
    /// sent or moved meanwhile.
    async fn move_feedback(
        &self,
        id: &str,
        version: i64,
        send_at: DateTime<Utc>,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<bool>;

    /// Marks a pending request sent and stores its message, in one transaction; `false` (and
    /// nothing stored) if it was sent or moved meanwhile, or if a text from the patient that
    /// screened as risk arrived after `no_risk_since`.
    async fn send_feedback(
        &self,
        id: &str,
        version: i64,
        message: &PreparedMessage,
        no_risk_since: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<bool>;

    /// Every sent request, with its answer, sent from `from` up to `to` (either open).
    async fn feedback_rows(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Vec<FeedbackRow>>;
}

/// Implements `FeedbackStore` for an engine's store (see `sqlite.rs` / `postgres.rs`).
macro_rules! feedback_store_impl {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::FeedbackStore for $store {
            async fn discharge_patient(
                &self,
                id: &$crate::domain::id::PatientId,
                send_at: chrono::DateTime<chrono::Utc>,
                audit: &$crate::store::AuditEntry,
            ) -> $crate::store::Result<$crate::store::Discharged> {
                use $crate::store::{Discharged, Ts};
                let at = audit.at;
                let mut tx = self.begin_write().await?;
                let done = sqlx::query(
                    "UPDATE patients SET discharged_at = $1, updated_at = $1 \
                     WHERE id = $2 AND discharged_at IS NULL",
                )
                .bind(Ts(at))
                .bind(id)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    let before: Option<(Option<Ts>,)> =
                        sqlx::query_as("SELECT discharged_at FROM patients WHERE id = $1")
                            .bind(id)
                            .fetch_optional(&mut *tx)
                            .await?;
                    return Ok(match before {
                        None => Discharged::NoSuchPatient,
                        Some((when,)) => Discharged::Already(when.map_or(at, |w| w.0)),
                    });
                }
                sqlx::query(
                    "INSERT INTO feedback_requests (id, patient_id, discharged_at, send_at, status, \
                     version, created_at, updated_at) VALUES ($1, $2, $3, $4, 'pending', 0, $3, $3) \
                     ON CONFLICT (patient_id) DO NOTHING",
                )
                .bind($crate::store::rows::new_id::<String>())
                .bind(id)
                .bind(Ts(at))
                .bind(Ts(send_at))
                .execute(&mut *tx)
                .await?;
                Self::insert_audit(&mut *tx, audit).await?;
                tx.commit().await?;
                Ok(match $crate::store::PatientStore::patient_record(self, id).await? {
                    Some(record) => Discharged::Done(Box::new(record)),
                    None => Discharged::NoSuchPatient,
                })
            }

            async fn due_feedback(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                limit: u32,
            ) -> $crate::store::Result<Vec<$crate::store::DueFeedback>> {
                use $crate::store::Ts;
                let due: Vec<(String, i64, $crate::domain::id::PatientId)> = sqlx::query_as(
                    "SELECT id, version, patient_id FROM feedback_requests \
                     WHERE status = 'pending' AND send_at <= $1 ORDER BY send_at, id LIMIT $2",
                )
                .bind(Ts(now))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                let mut found = Vec::with_capacity(due.len());
                for (id, version, patient_id) in due {
                    let Some(patient) = $crate::store::PatientStore::patient(self, &patient_id).await? else {
                        continue;
                    };
                    let (last_risk,): (Option<Ts>,) =
                        sqlx::query_as("SELECT last_risk_text_at FROM patients WHERE id = $1")
                            .bind(&patient_id)
                            .fetch_one(&self.pool)
                            .await?;
                    let mobile_shared = match &patient.mobile {
                        Some(mobile) => {
                            let (others,): (i64,) = sqlx::query_as(
                                "SELECT COUNT(*) FROM patients WHERE mobile = $1 AND id <> $2",
                            )
                            .bind(mobile.e164())
                            .bind(&patient_id)
                            .fetch_one(&self.pool)
                            .await?;
                            others > 0
                        }
                        None => false,
                    };
                    found.push($crate::store::DueFeedback {
                        id,
                        version,
                        patient,
                        last_risk_text_at: last_risk.map(|t| t.0),
                        mobile_shared,
                    });
                }
                Ok(found)
            }

            async fn move_feedback(
                &self,
                id: &str,
                version: i64,
                send_at: chrono::DateTime<chrono::Utc>,
                reason: &str,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<bool> {
                use $crate::store::Ts;
                let mut tx = self.begin_write().await?;
                let done = sqlx::query(
                    "UPDATE feedback_requests SET send_at = $1, reason = $2, version = version + 1, \
                     updated_at = $3 WHERE id = $4 AND version = $5 AND status = 'pending'",
                )
                .bind(Ts(send_at))
                .bind(reason)
                .bind(Ts(at))
                .bind(id)
                .bind(version)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }

            async fn send_feedback(
                &self,
                id: &str,
                version: i64,
                message: &$crate::store::PreparedMessage,
                no_risk_since: chrono::DateTime<chrono::Utc>,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<bool> {
                use $crate::store::Ts;
                let mut tx = self.begin_write().await?;
                // The risk check is made again here, in the transaction that sends: a risk
                // text that arrived since the request was looked at holds it back.
                let done = sqlx::query(
                    "UPDATE feedback_requests SET status = 'sent', send_at = NULL, \
                     sent_at = $1, version = version + 1, updated_at = $1 \
                     WHERE id = $2 AND version = $3 AND status = 'pending' \
                     AND NOT EXISTS (SELECT 1 FROM patients p WHERE p.id = feedback_requests.patient_id \
                     AND p.last_risk_text_at > $4)",
                )
                .bind(Ts(at))
                .bind(id)
                .bind(version)
                .bind(Ts(no_risk_since))
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    return Ok(false);
                }
                // The message exists before the request points at it.
                Self::insert_message(&mut *tx, message, at).await?;
                sqlx::query("UPDATE feedback_requests SET message_id = $1 WHERE id = $2")
                    .bind(&message.id)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn feedback_rows(
                &self,
                from: Option<chrono::DateTime<chrono::Utc>>,
                to: Option<chrono::DateTime<chrono::Utc>>,
            ) -> $crate::store::Result<Vec<$crate::store::FeedbackRow>> {
                use $crate::store::Ts;
                let rows: Vec<(Ts, Option<i64>, Option<String>, Option<Ts>)> = sqlx::query_as(
                    "SELECT sent_at, rating, words, answered_at FROM feedback_requests \
                     WHERE status = 'sent' AND ($1 IS NULL OR sent_at >= $1) \
                     AND ($2 IS NULL OR sent_at < $2) ORDER BY sent_at, id",
                )
                .bind(from.map(Ts))
                .bind(to.map(Ts))
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(sent_at, rating, words, answered_at)| $crate::store::FeedbackRow {
                        sent_at: sent_at.0,
                        rating,
                        words,
                        answered_at: answered_at.map(|t| t.0),
                    })
                    .collect())
            }
        }
    };
}

pub(super) use feedback_store_impl;
