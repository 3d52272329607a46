//! Messages leaving the gateway (on-call alerts and patient messages), their delivery
//! receipts, the staff call and print lists, and the team inbox.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{AuditEntry, Result};
use crate::domain::channel::Channel;
use crate::domain::id::{
    AppointmentId, InboxItemId, MessageId, PatientId, ReferralId, StaffTaskId,
};
use crate::domain::patient::MessagePurpose;
use crate::domain::phone::PhoneNumber;
use crate::domain::text_enum;

/// A message to a patient or to on-call staff: which channel carries it, its words and where
/// it has got to.
// Serialized for staff without the fields marked `skip` (the address, the provider's
// details and the template's variables stay inside).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Message {
    pub id: MessageId,
    pub purpose: MessagePurpose,
    #[serde(skip)]
    pub referral_id: Option<ReferralId>,
    #[serde(skip)]
    pub patient_id: Option<PatientId>,
    pub appointment_id: Option<AppointmentId>,
    /// Null when no channel could be used.
    pub channel: Option<Channel>,
    #[serde(skip)]
    pub to: Option<String>,
    pub body: Option<String>,
    pub status: MessageStatus,
    #[serde(skip)]
    pub provider_id: Option<String>,
    #[serde(skip)]
    pub error_code: Option<String>,
    #[serde(skip)]
    pub attempts: i64,
    pub template: Option<String>,
    #[serde(skip)]
    pub vars: Option<serde_json::Value>,
    /// The template language used (`en` when the patient's language has none yet).
    pub language: Option<String>,
    /// The patient's language had no wording of its own, or they need an interpreter.
    pub interpreter_may_be_needed: bool,
    /// Channels passed over, and why (e.g. `sms_opted_out`, `no_address`).
    pub skipped: Vec<Skipped>,
    /// Goes even to a number that has opted out of texts since it was queued (a reply the
    /// intake let past an opt-out: the STOP confirmation, a 999 answer, the answer to HELP).
    #[serde(skip)]
    pub past_opt_out: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

text_enum! {
    /// Where a message has got to. Receipts move a text forward only (`rank`).
    pub enum MessageStatus {
        Queued = "queued",
        Sending = "sending",
        Sent = "sent",
        Delivered = "delivered",
        Undelivered = "undelivered",
        Failed = "failed",
        /// It went to the call or print list as a task.
        TaskCreated = "task_created",
    }
}

impl MessageStatus {
    /// Where the status sits in a text's life; receipts only ever move it forward.
    pub fn rank(self) -> i32 {
        match self {
            MessageStatus::Queued => 0,
            MessageStatus::Sending => 1,
            MessageStatus::Sent => 2,
            MessageStatus::Delivered
            | MessageStatus::Undelivered
            | MessageStatus::Failed
            | MessageStatus::TaskCreated => 3,
        }
    }
}

impl Message {
    /// A message to a patient (as opposed to an alert to on-call staff about them).
    pub fn is_to_patient(&self) -> bool {
        self.patient_id.is_some() && self.template.is_some()
    }

    /// Sent even when its number has opted out of texts: an alert to on-call staff (their
    /// own number, never a texter's), or a reply marked `past_opt_out`.
    pub fn goes_past_opt_out(&self) -> bool {
        self.purpose == MessagePurpose::OnCallAlert || self.past_opt_out
    }
}

/// A channel passed over, and why (staff see these).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Skipped {
    pub channel: Channel,
    pub reason: String,
}

/// One step of a message's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MessageEvent {
    pub at: DateTime<Utc>,
    pub status: String,
    pub channel: Option<String>,
    pub detail: Option<String>,
}

/// How a prepared message leaves.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// Through the SMS provider, by the job queue.
    Sms { to: PhoneNumber, body: String },
    /// A task on the staff call list, with what to say.
    PhoneCall { body: String, task_text: String },
    /// A task on the print list, with the rendered letter.
    Letter {
        body: String,
        task_text: String,
        pdf: Vec<u8>,
    },
    /// Through GOV.UK Notify as a precompiled letter, by the job queue; on the print list
    /// (`task_text`, `pdf`) if Notify cannot take it.
    NotifyLetter {
        body: String,
        task_text: String,
        pdf: Vec<u8>,
    },
    /// No channel can be used: recorded as failed, and the team told in its inbox.
    Nowhere { summary: String },
}

impl Route {
    pub fn channel(&self) -> Option<Channel> {
        match self {
            Route::Sms { .. } => Some(Channel::Sms),
            Route::PhoneCall { .. } => Some(Channel::PhoneCall),
            Route::Letter { .. } | Route::NotifyLetter { .. } => Some(Channel::Letter),
            Route::Nowhere { .. } => None,
        }
    }
}

/// A message ready to store, with its channel chosen and its words rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedMessage {
    pub id: MessageId,
    pub purpose: MessagePurpose,
    pub patient_id: Option<PatientId>,
    pub referral_id: Option<ReferralId>,
    pub appointment_id: Option<AppointmentId>,
    /// `<reminder id>:<version>`: at most one message per reminder version.
    pub reminder_key: Option<String>,
    pub template: Option<String>,
    pub vars: Option<serde_json::Value>,
    pub language: Option<String>,
    pub interpreter_may_be_needed: bool,
    pub skipped: Vec<Skipped>,
    pub route: Route,
}

/// A call to make or a letter to post. Staff see `letter_url` in place of `has_letter`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct Task {
    pub id: StaffTaskId,
    pub kind: TaskKind,
    pub patient_id: Option<PatientId>,
    pub message_id: Option<MessageId>,
    pub status: TaskStatus,
    /// What to do: who to call and what to say, or where to post the letter.
    pub text: String,
    #[serde(skip)]
    pub has_letter: bool,
    #[sqlx(try_from = "super::Ts")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "super::OptionalTs")]
    pub completed_at: Option<DateTime<Utc>>,
    pub completed_by: Option<String>,
    /// How it ended: `done`, `no_answer`, `left_message`, `wrong_number` or `returned` (the
    /// last unanswered call's, while a call task is back on the list).
    pub outcome: Option<String>,
    /// What staff wrote when they last reported on it.
    pub note: Option<String>,
    /// Calls that went unanswered.
    pub attempts: i64,
}

text_enum! {
    pub enum TaskKind {
        PhoneCall = "phone_call",
        Letter = "letter",
    }
}

impl From<TaskKind> for Channel {
    fn from(kind: TaskKind) -> Channel {
        match kind {
            TaskKind::PhoneCall => Channel::PhoneCall,
            TaskKind::Letter => Channel::Letter,
        }
    }
}

text_enum! {
    pub enum TaskStatus {
        Open = "open",
        Done = "done",
    }
}
/// Staff's report on a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskReport {
    pub outcome: crate::domain::task::TaskOutcome,
    pub note: Option<String>,
    pub by: String,
}

/// What a report on a task does, decided from the task as it stands in the transaction.
pub type TaskDecide<'a> = dyn Fn(&Task) -> crate::domain::task::TaskStep + Send + Sync + 'a;

#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub kind: Option<TaskKind>,
    pub status: Option<TaskStatus>,
    /// After this task (the last one of the page before); tasks are oldest first.
    pub after: Option<super::QueueKey>,
    pub limit: u32,
}

/// Something for the team to see: a patient's text, a confirmation or cancellation by
/// text, a message no channel could carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct InboxItem {
    pub id: InboxItemId,
    pub kind: InboxKind,
    pub patient_id: Option<PatientId>,
    pub referral_id: Option<ReferralId>,
    pub appointment_id: Option<AppointmentId>,
    /// The message no channel could carry, or the patient's text (a text's id, not a
    /// message's), so kept as the bare text.
    pub message_id: Option<String>,
    pub urgent: bool,
    pub summary: String,
    /// The patient's words, when a text.
    pub body: Option<String>,
    pub status: InboxStatus,
    #[sqlx(try_from = "super::Ts")]
    pub created_at: DateTime<Utc>,
    /// Who on the team has it (not yet set by any route of the API).
    pub assigned_to: Option<String>,
    #[sqlx(try_from = "super::OptionalTs")]
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<String>,
    /// What the person closing it wrote.
    pub note: Option<String>,
}

/// Inbox kinds that carry a person's words about risk, or a referral's thread: for
/// clinicians and admins only.
pub const CLINICAL_INBOX_KINDS: [&str; 2] = ["risk", "referral_thread"];

impl InboxItem {
    pub fn is_clinical(&self) -> bool {
        CLINICAL_INBOX_KINDS.contains(&self.kind.as_str()) || self.referral_id.is_some()
    }
}

/// What closing an inbox item did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboxClose {
    Closed(Box<InboxItem>),
    AlreadyClosed,
    NotFound,
}

text_enum! {
    pub enum InboxKind {
        PatientText = "patient_text",
        AppointmentConfirmed = "appointment_confirmed",
        AppointmentCancelled = "appointment_cancelled",
        Risk = "risk",
        /// A text that joined a referral's thread after the conversation was done.
        ReferralThread = "referral_thread",
        /// A message no channel could carry.
        Undeliverable = "undeliverable",
        /// A patient texted PLAN: whether their plan went, so the team can check in.
        SafetyPlanAsked = "safety_plan_asked",
    }
}

text_enum! {
    pub enum InboxStatus {
        Open = "open",
        Done = "done",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInboxItem {
    pub kind: InboxKind,
    pub urgent: bool,
    pub summary: String,
    pub body: Option<String>,
    pub appointment_id: Option<AppointmentId>,
}

#[derive(Debug, Clone, Default)]
pub struct InboxFilter {
    pub status: Option<InboxStatus>,
    /// After this item (the last one of the page before): urgent first, then oldest.
    pub after: Option<super::QueueKey>,
    /// Include the items only clinicians may see (`InboxItem::is_clinical`).
    pub clinical: bool,
    pub limit: u32,
}

/// What a text that failed leads to. The delivery policy (`jobs::delivery`) decides it from
/// the message and its patient as they stand inside the transaction that records the failure,
/// and the store writes it in that same transaction: a crash can lose both, never one.
#[derive(Debug, Clone, PartialEq)]
pub enum NextStep {
    /// Nothing more (an alert to staff, a delivery, a message that has moved on).
    Stop,
    /// The same text again at `run_at` (the network said it was temporarily undeliverable).
    Resend { run_at: DateTime<Utc> },
    /// The patient's next channel: `failed` is recorded as skipped and the message goes by
    /// `next`'s route; first, `mobile` records what the failure says about their number.
    FallBack {
        mobile: MobileState,
        failed: Skipped,
        next: Box<PreparedMessage>,
    },
    /// A letter GOV.UK Notify could not take or print goes on the print list instead, with
    /// `reason` for staff.
    PrintLetter { reason: String },
}

/// What a failure says about a patient's mobile (nothing, when both are `None`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MobileState {
    /// The person texted STOP to the provider (21610).
    pub opted_out: Option<bool>,
    /// The provider's error code when the number cannot take texts.
    pub failed: Option<String>,
}

/// The delivery policy, as the store calls it: the failed message and its patient (if it is
/// a patient's) in, the next step out.
pub type AfterFailure<'a> =
    dyn Fn(&Message, Option<&super::Patient>) -> NextStep + Send + Sync + 'a;

/// A delivery receipt from the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt<'a> {
    pub provider_id: &'a str,
    pub status: &'a str,
    pub error_code: Option<&'a str>,
    pub at: DateTime<Utc>,
}

/// What a delivery receipt did.
#[derive(Debug, Clone, PartialEq)]
pub enum ReceiptOutcome {
    /// The same message id and status came before: nothing changed.
    Duplicate,
    /// No message carries this provider id (any more).
    Unknown,
    /// Recorded; `moved` says whether the message's status moved forward, and `next` what
    /// the policy made of it (always `Stop` when it did not move).
    Applied {
        message: Box<Message>,
        moved: bool,
        next: NextStep,
    },
}

#[async_trait]
pub trait OutboxStore {
    async fn message(&self, id: &MessageId) -> Result<Option<Message>>;

    async fn messages_for_referral(&self, referral_id: &ReferralId) -> Result<Vec<Message>>;

    /// A page of the messages to a patient (not the alerts about them), newest first, before
    /// `before`, each with its history.
    async fn messages_for_patient(
        &self,
        patient_id: &PatientId,
        before: Option<&super::TimeKey>,
        limit: u32,
    ) -> Result<Vec<(Message, Vec<MessageEvent>)>>;

    /// Stores a message and what carries it (a send job, a task, or an inbox item).
    async fn queue_message(
        &self,
        message: &PreparedMessage,
        audit: &AuditEntry,
        per_day: u32,
    ) -> Result<()>;

    /// The PDF of a letter going through GOV.UK Notify (`Route::NotifyLetter`).
    async fn posted_letter(&self, id: &MessageId) -> Result<Option<Vec<u8>>>;

    /// Claims a queued text (or a letter for Notify) for sending; `false` when it was sent,
    /// withdrawn or rerouted.
    async fn start_sending(&self, id: &MessageId, at: DateTime<Utc>) -> Result<bool>;

    /// Records how a send ended when it did not fail: `sent` (with the provider's id), or
    /// `queued` again for the job queue to retry.
    async fn finish_sending(
        &self,
        id: &MessageId,
        status: MessageStatus,
        provider_id: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<()>;

    /// A send that failed (`error_code` says why): the message is marked failed and the step
    /// `after` decides is written in the same transaction. `None` if the message was not
    /// being sent (another worker finished it).
    async fn fail_sending(
        &self,
        id: &MessageId,
        error_code: Option<&str>,
        at: DateTime<Utc>,
        after: &AfterFailure<'_>,
    ) -> Result<Option<NextStep>>;

    /// A delivery receipt: de-duplicated by (provider id, status); statuses only move
    /// forward. When the status moved, the step `after` decides is written in the same
    /// transaction as the receipt, so the provider's retry of a receipt whose transaction
    /// failed finds it not yet recorded and sets the step off again.
    async fn record_receipt(
        &self,
        receipt: &Receipt<'_>,
        after: &AfterFailure<'_>,
    ) -> Result<ReceiptOutcome>;

    /// Whether the number has opted out of texts (it texted STOP, and not START since), to
    /// the referral number or as a patient: checked again just before each send.
    async fn number_opted_out(&self, number: &PhoneNumber) -> Result<bool>;

    async fn tasks(&self, filter: &TaskFilter) -> Result<Vec<Task>>;

    async fn task(&self, id: &StaffTaskId) -> Result<Option<Task>>;

    /// Staff's report on an open task, in one transaction with its audit entry: what `decide`
    /// makes of it (back on the list, done, or done and the message on to the patient's
    /// next channel as `after` says). A task already done is left as it is.
    async fn complete_task(
        &self,
        id: &StaffTaskId,
        report: &TaskReport,
        audit: &AuditEntry,
        decide: &TaskDecide<'_>,
        after: &AfterFailure<'_>,
    ) -> Result<Option<Task>>;

    async fn task_letter(&self, id: &StaffTaskId) -> Result<Option<Vec<u8>>>;

    async fn inbox(&self, filter: &InboxFilter) -> Result<Vec<InboxItem>>;

    async fn inbox_item(&self, id: &str) -> Result<Option<InboxItem>>;

    /// Closes an open inbox item with staff's note, audited in the same transaction (as one
    /// of its referral's events when it has one).
    async fn close_inbox_item(
        &self,
        id: &str,
        note: Option<&str>,
        audit: &AuditEntry,
    ) -> Result<InboxClose>;

    /// Retention (README "Retention"): removes every word of each referral closed before
    /// `cutoff`, and of each patient no longer under care since then (`retention`'s
    /// `referral_past_need` and `patient_past_care`), and of texts and messages from before
    /// `cutoff` tied to neither; keeps ids, reference, team, status, times, flags, risk
    /// signal names, channels, statuses and the audit log's who-did-what. Open referrals and
    /// patients under care keep everything. Returns how many records lost their words.
    async fn forget_words_before(&self, cutoff: DateTime<Utc>, now: DateTime<Utc>) -> Result<u64>;

    /// Takes one text from the budget of non-urgent texts for the clock hour starting at
    /// `hour` (at most `budget`, shared by every gateway on this database): `true` when one
    /// was left. When none was, the message being sent goes back to `queued` without the
    /// attempt it was given, and a job to send it at `retry_at` is queued, in one
    /// transaction: a held text is never failed, and never lost.
    async fn take_from_budget(
        &self,
        id: &str,
        hour: DateTime<Utc>,
        budget: u32,
        retry_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<bool>;

    /// Reserves provider `slot`'s next send slot, shared by every gateway on this database (at
    /// most one per `interval`), and says how long to wait for it. SQLite, with one gateway
    /// per file, answers zero and leaves pacing to the in-process limiter.
    async fn reserve_send_slot(
        &self,
        slot: i32,
        interval: Duration,
        now: DateTime<Utc>,
    ) -> Result<Duration>;
}

/// Implements `OutboxStore` for an engine's store (see `sqlite.rs` / `postgres.rs`).
macro_rules! outbox_store_impl {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::OutboxStore for $store {
            async fn message(&self, id: &$crate::domain::id::MessageId) -> $crate::store::Result<Option<$crate::store::Message>> {
                let row: Option<$crate::store::rows::MessageRow> =
                    sqlx::query_as("SELECT * FROM messages WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn messages_for_referral(
                &self,
                referral_id: &$crate::domain::id::ReferralId,
            ) -> $crate::store::Result<Vec<$crate::store::Message>> {
                let rows: Vec<$crate::store::rows::MessageRow> = sqlx::query_as(
                    "SELECT * FROM messages WHERE referral_id = $1 ORDER BY created_at, id",
                )
                .bind(referral_id)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn messages_for_patient(
                &self,
                patient_id: &$crate::domain::id::PatientId,
                before: Option<&$crate::store::TimeKey>,
                limit: u32,
            ) -> $crate::store::Result<Vec<($crate::store::Message, Vec<$crate::store::MessageEvent>)>> {
                // A message with a template is to the patient; one without is an alert about
                // them to on-call staff (`Message::is_to_patient`).
                let rows: Vec<$crate::store::rows::MessageRow> = sqlx::query_as(
                    "SELECT * FROM messages WHERE patient_id = $1 AND template IS NOT NULL \
                     AND ($2 IS NULL OR (created_at, id) < ($2, $3)) \
                     ORDER BY created_at DESC, id DESC LIMIT $4",
                )
                .bind(patient_id)
                .bind(before.map(|k| $crate::store::Ts(k.at)))
                .bind(before.map(|k| k.id.as_str()))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                let events: Vec<$crate::store::rows::EventRow> = sqlx::query_as(
                    "SELECT e.message_id, e.at, e.status, e.channel, e.detail FROM message_events e \
                     JOIN messages m ON m.id = e.message_id WHERE m.patient_id = $1 ORDER BY e.seq",
                )
                .bind(patient_id)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|row| {
                        let history = events
                            .iter()
                            .filter(|e| e.message_id == row.id)
                            .map(|e| e.clone().into())
                            .collect();
                        Ok((row.try_into()?, history))
                    })
                    .collect()
            }

            async fn queue_message(
                &self,
                message: &$crate::store::PreparedMessage,
                audit: &$crate::store::AuditEntry,
                per_day: u32,
            ) -> $crate::store::Result<()> {
                let mut tx = self.begin_write().await?;
                Self::spend_allowance(&mut *tx, audit, 1, per_day).await?;
                Self::insert_message(&mut *tx, message, audit.at).await?;
                Self::insert_audit(&mut *tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn posted_letter(
                &self,
                id: &$crate::domain::id::MessageId,
            ) -> $crate::store::Result<Option<Vec<u8>>> {
                let row: Option<(Vec<u8>,)> =
                    sqlx::query_as("SELECT pdf FROM posted_letters WHERE message_id = $1")
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(row.map(|(pdf,)| pdf))
            }

            async fn start_sending(&self, id: &$crate::domain::id::MessageId, at: chrono::DateTime<chrono::Utc>) -> $crate::store::Result<bool> {
                // Losing this mark in a crash changes nothing: the job runs again either way.
                let mut tx = self.begin_unsynced().await?;
                let claimed: Option<(String,)> = sqlx::query_as(
                    "UPDATE messages SET status = 'sending', attempts = attempts + 1, updated_at = $1 \
                     WHERE id = $2 AND channel IN ('sms', 'letter') AND status IN ('queued', 'sending') \
                     RETURNING channel",
                )
                .bind($crate::store::Ts(at))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some((channel,)) = &claimed {
                    Self::message_event(&mut *tx, id, at, "sending", Some(channel), None).await?;
                }
                tx.commit().await?;
                Ok(claimed.is_some())
            }

            async fn finish_sending(
                &self,
                id: &$crate::domain::id::MessageId,
                status: $crate::store::MessageStatus,
                provider_id: Option<&str>,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<()> {
                let mut tx = self.begin_write().await?;
                Self::end_send(&mut *tx, id, status, provider_id, None, at).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn fail_sending(
                &self,
                id: &$crate::domain::id::MessageId,
                error_code: Option<&str>,
                at: chrono::DateTime<chrono::Utc>,
                after: &$crate::store::AfterFailure<'_>,
            ) -> $crate::store::Result<Option<$crate::store::NextStep>> {
                let mut tx = self.begin_write().await?;
                if !Self::end_send(&mut *tx, id, $crate::store::MessageStatus::Failed, None, error_code, at).await? {
                    tx.commit().await?;
                    return Ok(None);
                }
                let next = Self::after_failure(&mut *tx, id, at, after).await?;
                tx.commit().await?;
                Ok(Some(next))
            }

            async fn record_receipt(
                &self,
                receipt: &$crate::store::Receipt<'_>,
                after: &$crate::store::AfterFailure<'_>,
            ) -> $crate::store::Result<$crate::store::ReceiptOutcome> {
                use $crate::store::{NextStep, ReceiptOutcome, Ts};
                let mut tx = self.begin_write().await?;
                let fresh = sqlx::query(
                    "INSERT INTO delivery_receipts (provider_id, status, error_code, at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (provider_id, status) DO NOTHING",
                )
                .bind(receipt.provider_id)
                .bind(receipt.status)
                .bind(receipt.error_code)
                .bind(Ts(receipt.at))
                .execute(&mut *tx)
                .await?;
                if fresh.rows_affected() == 0 {
                    tx.commit().await?;
                    return Ok(ReceiptOutcome::Duplicate);
                }
                let row: Option<$crate::store::rows::MessageRow> =
                    sqlx::query_as("SELECT * FROM messages WHERE provider_id = $1")
                        .bind(receipt.provider_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                let Some(row) = row else {
                    tx.commit().await?;
                    return Ok(ReceiptOutcome::Unknown);
                };
                // A word that is none of a message's statuses (the provider's `accepted`, say)
                // is kept with the receipt and in the history, and moves nothing.
                let status = $crate::store::MessageStatus::parse(receipt.status).filter(|s| {
                    s.rank() > row.status.rank() && matches!(row.channel.as_str(), "sms" | "letter")
                });
                let moved = status.is_some();
                if let Some(status) = status {
                    sqlx::query(
                        "UPDATE messages SET status = $1, error_code = COALESCE($2, error_code), \
                         updated_at = $3 WHERE id = $4",
                    )
                    .bind(status)
                    .bind(receipt.error_code)
                    .bind(Ts(receipt.at))
                    .bind(&row.id)
                    .execute(&mut *tx)
                    .await?;
                }
                let detail = receipt.error_code.map(|c| format!("provider error {c}"));
                Self::message_event(&mut *tx, &row.id, receipt.at, receipt.status, Some(&row.channel), detail.as_deref()).await?;
                let next = if moved {
                    Self::after_failure(&mut *tx, &row.id, receipt.at, after).await?
                } else {
                    NextStep::Stop
                };
                let message = Self::message_in(&mut *tx, &row.id).await?;
                tx.commit().await?;
                Ok(ReceiptOutcome::Applied {
                    message: Box::new(message),
                    moved,
                    next,
                })
            }

            async fn number_opted_out(
                &self,
                number: &$crate::domain::phone::PhoneNumber,
            ) -> $crate::store::Result<bool> {
                let row: Option<(bool,)> =
                    sqlx::query_as("SELECT opted_out FROM sms_opt_outs WHERE phone = $1")
                        .bind(number.e164())
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(row.is_some_and(|(opted_out,)| opted_out))
            }

            async fn tasks(
                &self,
                filter: &$crate::store::TaskFilter,
            ) -> $crate::store::Result<Vec<$crate::store::Task>> {
                let tasks: Vec<$crate::store::Task> = sqlx::query_as(
                    "SELECT id, kind, patient_id, message_id, status, text, pdf IS NOT NULL AS has_letter, \
                     created_at, completed_at, completed_by, outcome, note, attempts FROM tasks \
                     WHERE ($1 IS NULL OR kind = $1) AND ($2 IS NULL OR status = $2) \
                     AND ($4 IS NULL OR (created_at, id) > ($4, $5)) \
                     ORDER BY created_at, id LIMIT $3",
                )
                .bind(&filter.kind)
                .bind(&filter.status)
                .bind(i64::from(filter.limit))
                .bind(filter.after.as_ref().map(|k| $crate::store::Ts(k.created_at)))
                .bind(filter.after.as_ref().map(|k| k.id.as_str()))
                .fetch_all(&self.pool)
                .await?;
                Ok(tasks)
            }

            async fn task(&self, id: &$crate::domain::id::StaffTaskId) -> $crate::store::Result<Option<$crate::store::Task>> {
                Ok(sqlx::query_as(
                    "SELECT id, kind, patient_id, message_id, status, text, pdf IS NOT NULL AS has_letter, \
                     created_at, completed_at, completed_by, outcome, note, attempts FROM tasks WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn complete_task(
                &self,
                id: &$crate::domain::id::StaffTaskId,
                report: &$crate::store::TaskReport,
                audit: &$crate::store::AuditEntry,
                decide: &$crate::store::TaskDecide<'_>,
                after: &$crate::store::AfterFailure<'_>,
            ) -> $crate::store::Result<Option<$crate::store::Task>> {
                use $crate::domain::task::TaskStep;
                use $crate::store::Ts;
                let at = audit.at;
                let mut tx = self.begin_write().await?;
                let task: Option<$crate::store::Task> = sqlx::query_as(
                    "SELECT id, kind, patient_id, message_id, status, text, pdf IS NOT NULL AS has_letter, \
                     created_at, completed_at, completed_by, outcome, note, attempts FROM tasks \
                     WHERE id = $1 AND status = 'open'",
                )
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(task) = task else {
                    tx.commit().await?;
                    return self.task(id).await;
                };
                let step = decide(&task);
                let outcome = report.outcome.as_str();
                let unanswered = i64::from(outcome == "no_answer");
                let (status, completed_at, completed_by) = match step {
                    TaskStep::StayOpen => ("open", None, None),
                    TaskStep::Close | TaskStep::CloseAndFallBack { .. } => {
                        ("done", Some(Ts(at)), Some(report.by.as_str()))
                    }
                };
                sqlx::query(
                    "UPDATE tasks SET status = $1, completed_at = $2, completed_by = $3, outcome = $4, \
                     note = $5, attempts = attempts + $6 WHERE id = $7",
                )
                .bind(status)
                .bind(completed_at)
                .bind(completed_by)
                .bind(outcome)
                .bind(&report.note)
                .bind(unanswered)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                if let Some(message_id) = &task.message_id {
                    let kind = task.kind.as_str();
                    match step {
                        TaskStep::StayOpen => {
                            let detail = format!(
                                "no answer ({} of {}); back on the call list",
                                task.attempts + 1,
                                $crate::domain::task::CALL_TRIES
                            );
                            Self::message_event(&mut *tx, message_id, at, "task_created", Some(kind), Some(&detail))
                                .await?;
                        }
                        TaskStep::Close => {
                            // The call was made / the letter posted: the message has gone (a
                            // returned letter did not arrive).
                            let status = if outcome == "returned" { "undelivered" } else { "sent" };
                            sqlx::query("UPDATE messages SET status = $1, updated_at = $2 WHERE id = $3")
                                .bind(status)
                                .bind(Ts(at))
                                .bind(message_id)
                                .execute(&mut *tx)
                                .await?;
                            let detail = format!("task completed by {} ({outcome})", report.by);
                            Self::message_event(&mut *tx, message_id, at, status, Some(kind), Some(&detail)).await?;
                        }
                        TaskStep::CloseAndFallBack { reason } => {
                            sqlx::query(
                                "UPDATE messages SET status = 'failed', error_code = $1, updated_at = $2 \
                                 WHERE id = $3",
                            )
                            .bind(reason)
                            .bind(Ts(at))
                            .bind(message_id)
                            .execute(&mut *tx)
                            .await?;
                            let detail = format!("task completed by {} ({outcome})", report.by);
                            Self::message_event(&mut *tx, message_id, at, "failed", Some(kind), Some(&detail)).await?;
                            Self::after_failure(&mut *tx, message_id, at, after).await?;
                        }
                    }
                }
                Self::insert_audit(&mut *tx, audit).await?;
                tx.commit().await?;
                self.task(id).await
            }

            async fn task_letter(&self, id: &$crate::domain::id::StaffTaskId) -> $crate::store::Result<Option<Vec<u8>>> {
                let row: Option<(Option<Vec<u8>>,)> = sqlx::query_as("SELECT pdf FROM tasks WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.and_then(|(pdf,)| pdf))
            }

            async fn inbox(
                &self,
                filter: &$crate::store::InboxFilter,
            ) -> $crate::store::Result<Vec<$crate::store::InboxItem>> {
                let [risk, thread] = $crate::store::CLINICAL_INBOX_KINDS;
                Ok(sqlx::query_as(
                    "SELECT * FROM inbox_items WHERE ($1 IS NULL OR status = $1) \
                     AND ($2 OR (referral_id IS NULL AND kind NOT IN ($3, $4))) \
                     AND ($6 IS NULL OR (NOT urgent, created_at, id) > (NOT $6, $7, $8)) \
                     ORDER BY urgent DESC, created_at, id LIMIT $5",
                )
                .bind(&filter.status)
                .bind(filter.clinical)
                .bind(risk)
                .bind(thread)
                .bind(i64::from(filter.limit))
                .bind(filter.after.as_ref().map(|k| k.urgent))
                .bind(filter.after.as_ref().map(|k| $crate::store::Ts(k.created_at)))
                .bind(filter.after.as_ref().map(|k| k.id.as_str()))
                .fetch_all(&self.pool)
                .await?)
            }

            async fn inbox_item(&self, id: &str) -> $crate::store::Result<Option<$crate::store::InboxItem>> {
                Ok(sqlx::query_as("SELECT * FROM inbox_items WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn close_inbox_item(
                &self,
                id: &str,
                note: Option<&str>,
                audit: &$crate::store::AuditEntry,
            ) -> $crate::store::Result<$crate::store::InboxClose> {
                use $crate::store::InboxClose;
                let mut tx = self.begin_write().await?;
                let closed: Option<(Option<String>,)> = sqlx::query_as(
                    "UPDATE inbox_items SET status = 'done', closed_at = $1, closed_by = $2, note = $3 \
                     WHERE id = $4 AND status = 'open' RETURNING referral_id",
                )
                .bind($crate::store::Ts(audit.at))
                .bind(&audit.actor)
                .bind(note)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((referral_id,)) = closed else {
                    tx.commit().await?;
                    return Ok(match self.inbox_item(id).await? {
                        Some(_) => InboxClose::AlreadyClosed,
                        None => InboxClose::NotFound,
                    });
                };
                let mut entry = audit.clone().with_note(note.map(str::to_owned));
                entry.referral_id = referral_id;
                Self::insert_audit(&mut *tx, &entry).await?;
                tx.commit().await?;
                match self.inbox_item(id).await? {
                    Some(item) => Ok(InboxClose::Closed(Box::new(item))),
                    None => Ok(InboxClose::NotFound),
                }
            }

            async fn forget_words_before(
                &self,
                cutoff: chrono::DateTime<chrono::Utc>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<u64> {
                use $crate::store::retention::{
                    WORDS_REMOVED, forget_answers, forget_conversation, patient_past_care,
                    referral_past_need,
                };
                let (cutoff, now) = ($crate::store::Ts(cutoff), $crate::store::Ts(now));
                let mut tx = self.begin_write().await?;
                let mut forgotten = 0;
                let referrals: Vec<(String, String)> = sqlx::query_as(concat!(
                    "SELECT r.id, r.answers FROM referrals r WHERE ",
                    referral_past_need!(),
                    " AND (r.words_forgotten_at IS NULL OR r.updated_at > r.words_forgotten_at \
                     OR EXISTS (SELECT 1 FROM texts t WHERE t.referral_id = r.id AND t.body IS NOT NULL))"
                ))
                .bind(cutoff)
                .fetch_all(&mut *tx)
                .await?;
                for (id, answers) in &referrals {
                    sqlx::query("UPDATE referrals SET answers = $1, words_forgotten_at = $2 WHERE id = $3")
                        .bind(forget_answers(answers))
                        .bind(now)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    let conversations: Vec<(String, String)> =
                        sqlx::query_as("SELECT id, state FROM conversations WHERE referral_id = $1")
                            .bind(id)
                            .fetch_all(&mut *tx)
                            .await?;
                    for (conversation, state) in conversations {
                        sqlx::query("UPDATE conversations SET state = $1 WHERE id = $2")
                            .bind(forget_conversation(&state))
                            .bind(conversation)
                            .execute(&mut *tx)
                            .await?;
                    }
                    for statement in [
                        "UPDATE texts SET body = NULL WHERE referral_id = $1 AND body IS NOT NULL",
                        "DELETE FROM posted_letters WHERE message_id IN \
                         (SELECT id FROM messages WHERE referral_id = $1)",
                        "UPDATE messages SET body = NULL, vars = NULL WHERE referral_id = $1",
                        "UPDATE audit_log SET note = NULL WHERE referral_id = $1 AND note IS NOT NULL",
                        "UPDATE audit_log SET note = NULL WHERE note IS NOT NULL AND target IN \
                         (SELECT 'inbox:' || id FROM inbox_items WHERE referral_id = $1)",
                    ] {
                        sqlx::query(statement).bind(id).execute(&mut *tx).await?;
                    }
                    sqlx::query(
                        "UPDATE inbox_items SET body = NULL, note = NULL, summary = $2 \
                         WHERE referral_id = $1",
                    )
                    .bind(id)
                    .bind(WORDS_REMOVED)
                    .execute(&mut *tx)
                    .await?;
                    forgotten += 1;
                }
                let patients: Vec<(String,)> = sqlx::query_as(concat!(
                    "SELECT p.id FROM patients p WHERE ",
                    patient_past_care!(),
                    " AND (p.words_forgotten_at IS NULL OR p.updated_at > p.words_forgotten_at \
                     OR EXISTS (SELECT 1 FROM texts t WHERE t.patient_id = p.id AND t.body IS NOT NULL) \
                     OR EXISTS (SELECT 1 FROM messages m WHERE m.patient_id = p.id AND m.body IS NOT NULL) \
                     OR EXISTS (SELECT 1 FROM safety_plans s WHERE s.patient_id = p.id))"
                ))
                .bind(cutoff)
                .fetch_all(&mut *tx)
                .await?;
                for (id,) in &patients {
                    // Who they were goes with what was said: the passport keeps its choices
                    // (team, channels, access needs, language, flags) and loses its words.
                    sqlx::query(
                        "UPDATE patients SET name = $3, preferred_name = NULL, pronouns = NULL, \
                         mobile = NULL, landline = NULL, address_lines = '[]', postcode = NULL, \
                         support_person = NULL, service_animal = NULL, notes = NULL, \
                         nhs_number = NULL, date_of_birth = NULL, words_forgotten_at = $2 \
                         WHERE id = $1",
                    )
                    .bind(id)
                    .bind(now)
                    .bind(WORDS_REMOVED)
                    .execute(&mut *tx)
                    .await?;
                    for statement in [
                        "DELETE FROM safety_plans WHERE patient_id = $1",
                        "UPDATE texts SET body = NULL WHERE patient_id = $1 AND body IS NOT NULL",
                        "DELETE FROM posted_letters WHERE message_id IN \
                         (SELECT id FROM messages WHERE patient_id = $1)",
                        "UPDATE messages SET body = NULL, vars = NULL WHERE patient_id = $1",
                        "UPDATE audit_log SET note = NULL WHERE target = 'patient:' || $1 \
                         AND note IS NOT NULL",
                        "UPDATE audit_log SET note = NULL WHERE note IS NOT NULL AND target IN \
                         (SELECT 'inbox:' || id FROM inbox_items WHERE patient_id = $1 \
                          UNION SELECT 'task:' || id FROM tasks WHERE patient_id = $1 \
                          UNION SELECT 'appointment:' || id FROM appointments WHERE patient_id = $1 \
                          UNION SELECT 'message:' || id FROM messages WHERE patient_id = $1)",
                    ] {
                        sqlx::query(statement).bind(id).execute(&mut *tx).await?;
                    }
                    sqlx::query(
                        "UPDATE tasks SET text = $2, pdf = NULL, note = NULL WHERE patient_id = $1",
                    )
                    .bind(id)
                    .bind(WORDS_REMOVED)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "UPDATE inbox_items SET body = NULL, note = NULL, summary = $2 \
                         WHERE patient_id = $1",
                    )
                    .bind(id)
                    .bind(WORDS_REMOVED)
                    .execute(&mut *tx)
                    .await?;
                    forgotten += 1;
                }
                // Texts and messages tied to no referral and no patient go by their age.
                for statement in [
                    "UPDATE texts SET body = NULL WHERE at < $1 AND body IS NOT NULL \
                     AND referral_id IS NULL AND patient_id IS NULL",
                    "UPDATE messages SET body = NULL, vars = NULL WHERE created_at < $1 \
                     AND (body IS NOT NULL OR vars IS NOT NULL) \
                     AND referral_id IS NULL AND patient_id IS NULL",
                    "UPDATE inbox_items SET body = NULL WHERE created_at < $1 AND body IS NOT NULL \
                     AND referral_id IS NULL AND patient_id IS NULL",
                    // A feedback reply's words go like any text's; its rating stays counted.
                    "UPDATE feedback_requests SET words = NULL WHERE answered_at < $1 AND words IS NOT NULL",
                ] {
                    forgotten += sqlx::query(statement)
                        .bind(cutoff)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                tx.commit().await?;
                Ok(forgotten)
            }

            async fn take_from_budget(
                &self,
                id: &str,
                hour: chrono::DateTime<chrono::Utc>,
                budget: u32,
                retry_at: chrono::DateTime<chrono::Utc>,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<bool> {
                use $crate::store::Ts;
                let mut tx = self.begin_write().await?;
                // The row for the hour is locked by the upsert until commit, so two gateways
                // can never both take the last text.
                let taken: Option<(i64,)> = sqlx::query_as(
                    "INSERT INTO sms_budget (hour, used) VALUES ($1, 1) \
                     ON CONFLICT (hour) DO UPDATE SET used = sms_budget.used + 1 \
                     WHERE sms_budget.used < $2 RETURNING used",
                )
                .bind(Ts(hour))
                .bind(i64::from(budget))
                .fetch_optional(&mut *tx)
                .await?;
                if taken.is_some_and(|(used,)| used == 1) {
                    // A new hour: yesterday's counts are of no more use.
                    sqlx::query("DELETE FROM sms_budget WHERE hour < $1")
                        .bind(Ts(hour - chrono::TimeDelta::days(1)))
                        .execute(&mut *tx)
                        .await?;
                }
                if taken.is_some() {
                    tx.commit().await?;
                    return Ok(true);
                }
                let held = sqlx::query(
                    "UPDATE messages SET status = 'queued', attempts = attempts - 1, updated_at = $1 \
                     WHERE id = $2 AND channel = 'sms' AND status = 'sending'",
                )
                .bind(Ts(at))
                .bind(id)
                .execute(&mut *tx)
                .await?;
                if held.rows_affected() == 1 {
                    let mut job = $crate::store::queue::delivery_job(id)?;
                    job.run_at = Some(retry_at);
                    job.idempotency_key = Some(format!("message-{id}-{}", job.id));
                    Self::enqueue(&mut *tx, &job).await?;
                    Self::message_event(
                        &mut *tx,
                        id,
                        at,
                        "queued",
                        Some("sms"),
                        Some("held for the next hour: the hourly budget of non-urgent texts is spent"),
                    )
                    .await?;
                }
                tx.commit().await?;
                Ok(false)
            }

            async fn reserve_send_slot(
                &self,
                slot: i32,
                interval: std::time::Duration,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<std::time::Duration> {
                self.reserve_slot(slot, interval, now).await
            }
        }
    };
}

pub(super) use outbox_store_impl;
