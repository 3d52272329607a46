//! The queries, written once for both engines. Placeholders are `$1`-style, which SQLite
//! also understands; timestamps go through `Ts`; JSON is stored as text. Each engine module
//! supplies four hooks as inherent methods: `begin_write`, `lock_phone`, `enqueue` and
//! `run_migrations`, then invokes `store_impl!`.

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::{AuditEntry, ConversationSummary, Message, Referral, StoreError, TranscriptItem, Ts};
use crate::conversation::{Conversation, Status};
use crate::domain::referral::ReferralStatus;

/// A job row for the apalis queue, written inside the caller's transaction so the job exists
/// exactly when the business change does.
#[derive(Debug, Clone)]
pub(super) struct JobInsert {
    pub id: String,
    pub queue: &'static str,
    pub payload: Vec<u8>,
    /// `None`: due now by the database's own clock.
    pub run_at: Option<DateTime<Utc>>,
    pub max_attempts: i32,
    pub idempotency_key: Option<String>,
}

#[derive(Debug, FromRow)]
pub(super) struct ReferralRow {
    pub id: String,
    pub reference: String,
    pub status: String,
    pub urgent: bool,
    pub risk_signals: String,
    pub urgent_at: Option<Ts>,
    pub team: String,
    pub answers: String,
    pub incomplete: bool,
    pub submitted_at: Option<Ts>,
    pub created_at: Ts,
    pub updated_at: Ts,
}

impl TryFrom<ReferralRow> for Referral {
    type Error = StoreError;
    fn try_from(row: ReferralRow) -> Result<Self, StoreError> {
        Ok(Referral {
            status: ReferralStatus::parse(&row.status)
                .ok_or_else(|| StoreError::Corrupt(format!("referral status {}", row.status)))?,
            risk_signals: serde_json::from_str(&row.risk_signals)
                .map_err(|e| StoreError::Corrupt(format!("risk signals: {e}")))?,
            answers: serde_json::from_str(&row.answers)
                .map_err(|e| StoreError::Corrupt(format!("answers: {e}")))?,
            id: row.id,
            reference: row.reference,
            urgent: row.urgent,
            urgent_at: row.urgent_at.map(|t| t.0),
            team: row.team,
            incomplete: row.incomplete,
            submitted_at: row.submitted_at.map(|t| t.0),
            created_at: row.created_at.0,
            updated_at: row.updated_at.0,
        })
    }
}

#[derive(Debug, FromRow)]
pub(super) struct CurrentRow {
    pub conversation_id: String,
    pub state: String,
    pub conversation_status: String,
    #[sqlx(flatten)]
    pub referral: ReferralRow,
}

impl CurrentRow {
    pub fn into_current(self) -> Result<super::CurrentConversation, StoreError> {
        let mut state: Conversation = serde_json::from_str(&self.state)
            .map_err(|e| StoreError::Corrupt(format!("conversation state: {e}")))?;
        // The column is the truth: sweeps change it without rewriting the JSON.
        state.status = parse_status(&self.conversation_status)?;
        Ok(super::CurrentConversation {
            id: self.conversation_id,
            state,
            referral: self.referral.try_into()?,
        })
    }
}

fn parse_status(text: &str) -> Result<Status, StoreError> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| StoreError::Corrupt(format!("conversation status {text}")))
}

#[derive(Debug, FromRow)]
pub(super) struct SummaryRow {
    pub step: String,
    pub status: String,
    pub referral_id: String,
    pub last_text_at: Ts,
}

impl From<SummaryRow> for ConversationSummary {
    fn from(row: SummaryRow) -> Self {
        ConversationSummary {
            step: row.step,
            status: row.status,
            referral_id: row.referral_id,
            last_text_at: row.last_text_at.0,
        }
    }
}

#[derive(Debug, FromRow)]
pub(super) struct TranscriptRow {
    pub direction: String,
    pub body: Option<String>,
    pub at: Ts,
    pub provider_id: Option<String>,
}

impl From<TranscriptRow> for TranscriptItem {
    fn from(row: TranscriptRow) -> Self {
        TranscriptItem {
            direction: row.direction,
            body: row.body,
            at: row.at.0,
            provider_id: row.provider_id,
        }
    }
}

#[derive(Debug, FromRow)]
pub(super) struct MessageRow {
    pub id: String,
    pub purpose: String,
    pub referral_id: Option<String>,
    pub to_phone: Option<String>,
    pub body: Option<String>,
    pub status: String,
    pub provider_id: Option<String>,
    pub error_code: Option<String>,
    pub attempts: i64,
    pub created_at: Ts,
    pub updated_at: Ts,
}

impl From<MessageRow> for Message {
    fn from(row: MessageRow) -> Self {
        Message {
            id: row.id,
            purpose: row.purpose,
            referral_id: row.referral_id,
            to: row.to_phone,
            body: row.body,
            status: row.status,
            provider_id: row.provider_id,
            error_code: row.error_code,
            attempts: row.attempts,
            created_at: row.created_at.0,
            updated_at: row.updated_at.0,
        }
    }
}

#[derive(Debug, FromRow)]
pub(super) struct AuditRow {
    pub at: Ts,
    pub actor: String,
    pub role: String,
    pub action: String,
    pub target: String,
}

impl From<AuditRow> for AuditEntry {
    fn from(row: AuditRow) -> Self {
        AuditEntry {
            at: row.at.0,
            actor: row.actor,
            role: row.role,
            action: row.action,
            target: row.target,
        }
    }
}

pub(super) fn to_json_text<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(super) fn new_id() -> String {
    ulid::Ulid::generate().to_string()
}

/// Implements `Store` for an engine's store type over `$db`.
macro_rules! store_impl {
    ($store:ty, $db:ty, $engine:literal) => {
        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            fn engine(&self) -> &'static str {
                $engine
            }

            async fn migrate(&self) -> $crate::store::Result<()> {
                self.run_migrations().await
            }

            async fn ping(&self) -> $crate::store::Result<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn record_inbound(
                &self,
                text: &$crate::store::InboundText,
                decide: $crate::store::Decide<'_>,
            ) -> $crate::store::Result<$crate::store::InboundOutcome> {
                use $crate::store::queries::*;
                use $crate::store::{ConversationChange, InboundOutcome, Snapshot, Ts};

                let phone = text.from.e164();
                let now = Ts(text.received_at);
                let mut tx = self.begin_write().await?;
                Self::lock_phone(&mut tx, phone).await?;

                let seen: Option<(String,)> = sqlx::query_as(
                    "SELECT id FROM texts WHERE provider_id = $1 AND direction = 'inbound'",
                )
                .bind(&text.provider_id)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some((inbound_id,)) = seen {
                    let replies: Vec<(Option<String>,)> =
                        sqlx::query_as("SELECT body FROM texts WHERE reply_to = $1 ORDER BY seq")
                            .bind(&inbound_id)
                            .fetch_all(&mut *tx)
                            .await?;
                    tx.commit().await?;
                    return Ok(InboundOutcome::Duplicate {
                        replies: replies.into_iter().filter_map(|(b,)| b).collect(),
                    });
                }

                let current: Option<CurrentRow> = sqlx::query_as(
                    "SELECT c.id AS conversation_id, c.state, c.status AS conversation_status, \
                     r.id, r.reference, r.status, r.urgent, r.risk_signals, r.urgent_at, r.team, \
                     r.answers, r.incomplete, r.submitted_at, r.created_at, r.updated_at \
                     FROM conversations c JOIN referrals r ON r.id = c.referral_id \
                     WHERE c.phone = $1 AND c.is_current",
                )
                .bind(phone)
                .fetch_optional(&mut *tx)
                .await?;
                let current = current.map(CurrentRow::into_current).transpose()?;
                let opted_out: Option<(bool,)> =
                    sqlx::query_as("SELECT opted_out FROM sms_opt_outs WHERE phone = $1")
                        .bind(phone)
                        .fetch_optional(&mut *tx)
                        .await?;
                let new_reference = $crate::domain::reference::ReferralRef::generate();
                let snapshot = Snapshot {
                    current,
                    opted_out: opted_out.is_some_and(|(o,)| o),
                    new_reference: new_reference.as_str().to_owned(),
                };
                let decision = decide(&snapshot);
                let fields = &decision.referral;

                let (conversation_id, referral_id) = match &decision.conversation {
                    ConversationChange::Continue(state) => {
                        let current = snapshot.current.as_ref().ok_or_else(|| {
                            $crate::store::StoreError::Corrupt("continued a conversation that does not exist".into())
                        })?;
                        sqlx::query(
                            "UPDATE conversations SET state = $1, step = $2, status = $3, \
                             last_text_at = $4 WHERE id = $5",
                        )
                        .bind(to_json_text(state)?)
                        .bind(state.step.id())
                        .bind(state.status.as_str())
                        .bind(now)
                        .bind(&current.id)
                        .execute(&mut *tx)
                        .await?;
                        sqlx::query(
                            "UPDATE referrals SET status = $1, urgent = $2, risk_signals = $3, \
                             urgent_at = $4, team = $5, answers = $6, incomplete = $7, \
                             submitted_at = $8, updated_at = $9 WHERE id = $10",
                        )
                        .bind(fields.status.as_str())
                        .bind(fields.urgent)
                        .bind(to_json_text(&fields.risk_signals)?)
                        .bind(fields.urgent_at.map(Ts))
                        .bind(&fields.team)
                        .bind(to_json_text(&fields.answers)?)
                        .bind(fields.incomplete)
                        .bind(fields.submitted_at.map(Ts))
                        .bind(now)
                        .bind(&current.referral.id)
                        .execute(&mut *tx)
                        .await?;
                        (current.id.clone(), current.referral.id.clone())
                    }
                    ConversationChange::Begin(state) => {
                        if let Some(previous) = &snapshot.current {
                            sqlx::query("UPDATE conversations SET is_current = FALSE WHERE id = $1")
                                .bind(&previous.id)
                                .execute(&mut *tx)
                                .await?;
                        }
                        let referral_id = new_id();
                        // A clash of random references fails the transaction; the provider's
                        // retry draws a new one.
                        let done = sqlx::query(
                            "INSERT INTO referrals (id, reference, status, urgent, risk_signals, \
                             urgent_at, team, answers, incomplete, submitted_at, created_at, \
                             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) \
                             ON CONFLICT (reference) DO NOTHING",
                        )
                        .bind(&referral_id)
                        .bind(new_reference.as_str())
                        .bind(fields.status.as_str())
                        .bind(fields.urgent)
                        .bind(to_json_text(&fields.risk_signals)?)
                        .bind(fields.urgent_at.map(Ts))
                        .bind(&fields.team)
                        .bind(to_json_text(&fields.answers)?)
                        .bind(fields.incomplete)
                        .bind(fields.submitted_at.map(Ts))
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                        if done.rows_affected() != 1 {
                            return Err($crate::store::StoreError::Conflict("referral reference already taken".into()));
                        }
                        let conversation_id = new_id();
                        sqlx::query(
                            "INSERT INTO conversations (id, phone, referral_id, state, step, status, \
                             is_current, last_text_at, created_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, TRUE, $7, $7)",
                        )
                        .bind(&conversation_id)
                        .bind(phone)
                        .bind(&referral_id)
                        .bind(to_json_text(state)?)
                        .bind(state.step.id())
                        .bind(state.status.as_str())
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                        (conversation_id, referral_id)
                    }
                };

                let inbound_id = new_id();
                sqlx::query(
                    "INSERT INTO texts (id, referral_id, conversation_id, phone, direction, body, \
                     provider_id, reply_to, at) VALUES ($1, $2, $3, $4, 'inbound', $5, $6, NULL, $7)",
                )
                .bind(&inbound_id)
                .bind(&referral_id)
                .bind(&conversation_id)
                .bind(phone)
                .bind(&text.body)
                .bind(&text.provider_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                for reply in &decision.replies {
                    sqlx::query(
                        "INSERT INTO texts (id, referral_id, conversation_id, phone, direction, \
                         body, provider_id, reply_to, at) \
                         VALUES ($1, $2, $3, $4, 'outbound', $5, NULL, $6, $7)",
                    )
                    .bind(new_id())
                    .bind(&referral_id)
                    .bind(&conversation_id)
                    .bind(phone)
                    .bind(reply)
                    .bind(&inbound_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                for alert in &decision.alerts {
                    let message_id = new_id();
                    sqlx::query(
                        "INSERT INTO messages (id, purpose, referral_id, channel, to_phone, body, \
                         status, attempts, created_at, updated_at) \
                         VALUES ($1, $2, $3, 'sms', $4, $5, 'queued', 0, $6, $6)",
                    )
                    .bind(&message_id)
                    .bind(&alert.purpose)
                    .bind(&referral_id)
                    .bind(alert.to.e164())
                    .bind(&alert.body)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    let payload = serde_json::to_vec(&$crate::store::Delivery {
                        message_id: message_id.clone(),
                    })
                    .map_err(|e| $crate::store::StoreError::Corrupt(e.to_string()))?;
                    Self::enqueue(
                        &mut tx,
                        &JobInsert {
                            id: new_id(),
                            queue: $crate::store::DELIVERY_QUEUE,
                            payload,
                            run_at: None,
                            max_attempts: 25,
                            idempotency_key: Some(message_id),
                        },
                    )
                    .await?;
                }
                if let Some(opted_out) = decision.opt_out {
                    sqlx::query(
                        "INSERT INTO sms_opt_outs (phone, opted_out, updated_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (phone) DO UPDATE SET opted_out = excluded.opted_out, \
                         updated_at = excluded.updated_at",
                    )
                    .bind(phone)
                    .bind(opted_out)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(InboundOutcome::Fresh {
                    replies: decision.replies,
                    referral_id,
                })
            }

            async fn conversation(
                &self,
                phone: &$crate::domain::phone::PhoneNumber,
            ) -> $crate::store::Result<Option<$crate::store::ConversationSummary>> {
                let row: Option<$crate::store::queries::SummaryRow> = sqlx::query_as(
                    "SELECT step, status, referral_id, last_text_at FROM conversations \
                     WHERE phone = $1 AND is_current",
                )
                .bind(phone.e164())
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(Into::into))
            }

            async fn referrals(
                &self,
                filter: &$crate::store::ReferralFilter,
            ) -> $crate::store::Result<Vec<$crate::store::Referral>> {
                use $crate::store::queries::ReferralRow;
                let rows: Vec<ReferralRow> = match filter.status {
                    Some(status) => sqlx::query_as(
                        "SELECT id, reference, status, urgent, risk_signals, urgent_at, team, \
                         answers, incomplete, submitted_at, created_at, updated_at FROM referrals \
                         WHERE status = $1 ORDER BY urgent DESC, created_at, id LIMIT $2",
                    )
                    .bind(status.as_str())
                    .bind(i64::from(filter.limit))
                    .fetch_all(&self.pool)
                    .await?,
                    None => sqlx::query_as(
                        "SELECT id, reference, status, urgent, risk_signals, urgent_at, team, \
                         answers, incomplete, submitted_at, created_at, updated_at FROM referrals \
                         WHERE status <> 'closed' ORDER BY urgent DESC, created_at, id LIMIT $1",
                    )
                    .bind(i64::from(filter.limit))
                    .fetch_all(&self.pool)
                    .await?,
                };
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn referral(
                &self,
                id: &str,
            ) -> $crate::store::Result<Option<$crate::store::Referral>> {
                let row: Option<$crate::store::queries::ReferralRow> = sqlx::query_as(
                    "SELECT id, reference, status, urgent, risk_signals, urgent_at, team, answers, \
                     incomplete, submitted_at, created_at, updated_at FROM referrals WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn transcript(
                &self,
                referral_id: &str,
            ) -> $crate::store::Result<Vec<$crate::store::TranscriptItem>> {
                let rows: Vec<$crate::store::queries::TranscriptRow> = sqlx::query_as(
                    "SELECT direction, body, at, provider_id FROM texts \
                     WHERE referral_id = $1 ORDER BY seq",
                )
                .bind(referral_id)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn set_referral_status(
                &self,
                id: &str,
                status: $crate::domain::referral::ReferralStatus,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<Option<$crate::store::Referral>> {
                let done = sqlx::query("UPDATE referrals SET status = $1, updated_at = $2 WHERE id = $3")
                    .bind(status.as_str())
                    .bind($crate::store::Ts(at))
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                if done.rows_affected() == 0 {
                    return Ok(None);
                }
                self.referral(id).await
            }

            async fn abandon_idle(
                &self,
                idle_since: chrono::DateTime<chrono::Utc>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<u64> {
                use $crate::store::Ts;
                let mut tx = self.begin_write().await?;
                // Conversations first, referrals second: the same lock order as the inbound
                // path, and a conversation texted meanwhile is no longer idle when re-checked.
                let abandoned: Vec<(String,)> = sqlx::query_as(
                    "UPDATE conversations SET status = 'abandoned' \
                     WHERE is_current AND status = 'active' AND last_text_at < $1 \
                     RETURNING referral_id",
                )
                .bind(Ts(idle_since))
                .fetch_all(&mut *tx)
                .await?;
                for (referral_id,) in &abandoned {
                    sqlx::query(
                        "UPDATE referrals SET status = 'abandoned', updated_at = $1 \
                         WHERE id = $2 AND status = 'in_progress'",
                    )
                    .bind(Ts(now))
                    .bind(referral_id)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(abandoned.len() as u64)
            }

            async fn audit(&self, entry: &$crate::store::AuditEntry) -> $crate::store::Result<()> {
                sqlx::query(
                    "INSERT INTO audit_log (at, actor, role, action, target) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind($crate::store::Ts(entry.at))
                .bind(&entry.actor)
                .bind(&entry.role)
                .bind(&entry.action)
                .bind(&entry.target)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn audit_log(
                &self,
                limit: u32,
            ) -> $crate::store::Result<Vec<$crate::store::AuditEntry>> {
                let rows: Vec<$crate::store::queries::AuditRow> = sqlx::query_as(
                    "SELECT at, actor, role, action, target FROM audit_log ORDER BY seq DESC LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn create_token(
                &self,
                id: &str,
                name: &str,
                role: $crate::domain::role::Role,
                hash: &str,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<()> {
                sqlx::query(
                    "INSERT INTO api_tokens (id, name, role, token_hash, created_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(id)
                .bind(name)
                .bind(role.as_str())
                .bind(hash)
                .bind($crate::store::Ts(at))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn token_by_hash(
                &self,
                hash: &str,
            ) -> $crate::store::Result<Option<$crate::store::ApiToken>> {
                let row: Option<(String, String, String)> =
                    sqlx::query_as("SELECT id, name, role FROM api_tokens WHERE token_hash = $1")
                        .bind(hash)
                        .fetch_optional(&self.pool)
                        .await?;
                row.map(|(id, name, role)| {
                    Ok($crate::store::ApiToken {
                        role: $crate::domain::role::Role::parse(&role)
                            .ok_or_else(|| $crate::store::StoreError::Corrupt(format!("token role {role}")))?,
                        id,
                        name,
                    })
                })
                .transpose()
            }

            async fn message(&self, id: &str) -> $crate::store::Result<Option<$crate::store::Message>> {
                let row: Option<$crate::store::queries::MessageRow> = sqlx::query_as(
                    "SELECT id, purpose, referral_id, to_phone, body, status, provider_id, \
                     error_code, attempts, created_at, updated_at FROM messages WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(Into::into))
            }

            async fn messages_for_referral(
                &self,
                referral_id: &str,
            ) -> $crate::store::Result<Vec<$crate::store::Message>> {
                let rows: Vec<$crate::store::queries::MessageRow> = sqlx::query_as(
                    "SELECT id, purpose, referral_id, to_phone, body, status, provider_id, \
                     error_code, attempts, created_at, updated_at FROM messages \
                     WHERE referral_id = $1 ORDER BY created_at, id",
                )
                .bind(referral_id)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn start_sending(
                &self,
                id: &str,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<bool> {
                let done = sqlx::query(
                    "UPDATE messages SET status = 'sending', attempts = attempts + 1, updated_at = $1 \
                     WHERE id = $2 AND status IN ('queued', 'sending')",
                )
                .bind($crate::store::Ts(at))
                .bind(id)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn record_delivery_status(
                &self,
                provider_id: &str,
                status: &str,
                error_code: Option<&str>,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<bool> {
                let done = sqlx::query(
                    "UPDATE messages SET status = $1, error_code = COALESCE($2, error_code), \
                     updated_at = $3 WHERE provider_id = $4 AND (CASE status \
                     WHEN 'queued' THEN 0 WHEN 'sending' THEN 1 WHEN 'sent' THEN 2 ELSE 3 END) < $5",
                )
                .bind(status)
                .bind(error_code)
                .bind($crate::store::Ts(at))
                .bind(provider_id)
                .bind($crate::store::delivery_rank(status))
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn finish_sending(
                &self,
                id: &str,
                status: &str,
                provider_id: Option<&str>,
                error_code: Option<&str>,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<()> {
                sqlx::query(
                    "UPDATE messages SET status = $1, provider_id = COALESCE($2, provider_id), \
                     error_code = $3, updated_at = $4 WHERE id = $5",
                )
                .bind(status)
                .bind(provider_id)
                .bind(error_code)
                .bind($crate::store::Ts(at))
                .bind(id)
                .execute(&self.pool)
                .await?;
                Ok(())
            }
        }
    };
}

pub(super) use store_impl;
