//! Inbound texts, the referral conversations they drive, the triage queue, escalation of
//! urgent referrals, staff tokens and the audit log.
//!
//! Longer than most files on purpose (about 660 lines of code): the trait for this area and
//! its one body of queries (`referral_store_impl!`) belong together, and a `macro_rules!`
//! body cannot be split across files without splitting the trait with it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{NewInboxItem, Result};
use crate::conversation::Conversation;
use crate::domain::id::{AppointmentId, ConversationId, PatientId, ReferralId};
use crate::domain::phone::PhoneNumber;
use crate::domain::referral::{ReferralRoute, ReferralSource, ReferralStatus};
use crate::domain::role::Role;
use crate::domain::text_enum;
use crate::store::AppointmentStatus;

/// A text received from the SMS provider.
#[derive(Debug, Clone)]
pub struct InboundText {
    pub provider_id: String,
    pub from: PhoneNumber,
    pub body: String,
    pub received_at: DateTime<Utc>,
    /// How the gateway's replies to it leave.
    pub replies: ReplyRoute,
}

/// How the gateway's replies to a text leave: it depends on what the provider's webhook can
/// carry back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyRoute {
    /// In the answer to the provider's webhook (Twilio's TwiML): stored in the transcript,
    /// sent by the provider.
    InResponse,
    /// As texts of their own (GOV.UK Notify's callback takes no reply): each reply is a
    /// message (purpose `reply`) and its send job, committed with the text that called for it.
    AsMessages,
}

/// What the inbound decision sees, read under the number's lock.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Patients whose mobile this is (a text from a patient is not a new referral).
    pub patients: Vec<PatientContact>,
    pub current: Option<CurrentConversation>,
    pub opted_out: bool,
    /// Replies sent to this number in the hour before the text (a flood from one number must
    /// not run up the bill).
    pub replies_last_hour: u32,
    /// The reference a referral begun by this text will carry.
    pub new_reference: String,
    /// The last text either way on the current conversation's referral (a staff text back
    /// included): the thread a text joins stays open for `CRHT_THREAD_DAYS` from here.
    pub thread_last_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct CurrentConversation {
    pub id: ConversationId,
    pub state: Conversation,
    pub referral: Referral,
}

/// A patient as the inbound path needs them.
#[derive(Debug, Clone, PartialEq)]
pub struct PatientContact {
    pub id: PatientId,
    pub preferred_name: String,
    pub language: Option<String>,
    /// Their passport asks for easy-read wording.
    pub easy_read: bool,
    pub team: Option<String>,
    pub urgent: bool,
    pub risk_signals: Vec<String>,
    /// The next appointment not yet started or cancelled.
    pub next_appointment: Option<UpcomingAppointment>,
    /// Their safety plan, if a clinician has written one (sent only to a number that is
    /// this patient's alone).
    pub safety_plan: Option<super::SafetyPlanSections>,
    /// A feedback request sent to them that their reply may still answer (never for a
    /// mobile several records share: the store leaves it out).
    pub feedback: Option<super::OpenFeedback>,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct UpcomingAppointment {
    pub id: AppointmentId,
    #[sqlx(try_from = "super::Ts")]
    pub starts_at: DateTime<Utc>,
    pub status: AppointmentStatus,
}

/// A referral's fields as the intake decides them (the store only persists them).
#[derive(Debug, Clone, PartialEq)]
pub struct ReferralFields {
    pub status: ReferralStatus,
    pub urgent: bool,
    pub risk_signals: Vec<String>,
    pub urgent_at: Option<DateTime<Utc>>,
    pub team: String,
    pub answers: serde_json::Map<String, serde_json::Value>,
    pub incomplete: bool,
    pub submitted_at: Option<DateTime<Utc>>,
    /// The language the person texts in, once recognised ("pl", "ur-Latn", …).
    pub language: Option<String>,
    /// The team needs an interpreter to reach them.
    pub interpreter: bool,
    /// The pathway: a crisis referral, or discharge support from a ward.
    pub route: ReferralRoute,
}

/// Whether the text continues the number's conversation or begins a new one (and with it a
/// new referral).
#[derive(Debug, Clone)]
pub enum ConversationChange {
    Continue(Conversation),
    Begin(Conversation),
}

/// A text to on-call staff, sent through the job queue.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub purpose: crate::domain::patient::MessagePurpose,
    pub to: PhoneNumber,
    pub body: String,
}

/// Everything one inbound text changes, decided before any of it is written.
#[derive(Debug, Clone)]
pub enum Decision {
    Referral(Box<ReferralDecision>),
    Patient(Box<PatientDecision>),
}

impl Decision {
    /// This text showed risk, or was an unsafe answer to a question.
    pub fn flagged(&self) -> bool {
        match self {
            Decision::Referral(decision) => decision.flagged,
            Decision::Patient(decision) => !decision.risk_signals.is_empty(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ReferralDecision {
    pub replies: Vec<String>,
    pub conversation: ConversationChange,
    pub referral: ReferralFields,
    pub alerts: Vec<NewMessage>,
    /// `Some(true)`: opted out of texts; `Some(false)`: opted back in.
    pub opt_out: Option<bool>,
    /// This text showed risk or was an unsafe answer (the referral may have been urgent
    /// before it).
    pub flagged: bool,
    /// For the team's inbox, filed under the referral (a text that joined its thread).
    pub inbox: Vec<NewInboxItem>,
    /// A risk text on a referral staff had acknowledged or moved on: its acknowledgement and
    /// escalation start again, so on-call is chased until someone acknowledges it anew.
    pub reopen: bool,
    /// What the gateway did, for the referral's events (`referral.created`, …).
    pub events: Vec<AuditAction>,
    /// The replies go even to a number that has opted out of texts (`Message::past_opt_out`).
    pub replies_past_opt_out: bool,
}

/// A text from a patient: answered briefly, acted on, and put in the team's inbox.
#[derive(Debug, Clone)]
pub struct PatientDecision {
    /// The record the text is filed under (the one with the soonest appointment).
    pub patient_id: PatientId,
    /// Every record with this mobile (`patient_id` among them): each is flagged and gets the
    /// inbox items, since the store cannot tell which person sent the text.
    pub patient_ids: Vec<PatientId>,
    pub replies: Vec<String>,
    /// New risk signals: the patient is flagged urgent with them.
    pub risk_signals: Vec<String>,
    pub alerts: Vec<NewMessage>,
    pub appointment: Option<AppointmentAction>,
    pub inbox: Vec<NewInboxItem>,
    pub opt_out: Option<bool>,
    /// The replies go even to a number that has opted out of texts (`Message::past_opt_out`).
    pub replies_past_opt_out: bool,
    /// What the gateway did, audited against `patient_id` (`safety_plan.send`).
    pub events: Vec<AuditAction>,
    /// What the text does to the patient's open feedback request.
    pub feedback: Option<super::FeedbackAnswer>,
}

/// What a patient's reply does to their next appointment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppointmentAction {
    Confirm(AppointmentId),
    Cancel(AppointmentId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundOutcome {
    /// Stored for the first time; the replies to send.
    Fresh { replies: Vec<String> },
    /// The provider sent this message id before: the same replies again, nothing changed.
    Duplicate { replies: Vec<String> },
}

/// A referral: what the person told us, its team, status and urgency.
// Serialized for staff without the fields marked `skip`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Referral {
    pub id: ReferralId,
    /// Like `CRHT-7K3M9Q`: what the person was told.
    pub reference: String,
    pub status: ReferralStatus,
    pub urgent: bool,
    /// Names of the risk signals matched (and unsafe answers), e.g. `suicidal_intent`.
    pub risk_signals: Vec<String>,
    pub urgent_at: Option<DateTime<Utc>>,
    /// The team the referral is routed to (by postcode or town).
    pub team: String,
    /// Answers by step id (answers replaced after BACK or RESTART under `superseded`).
    #[schema(value_type = Object)]
    pub answers: serde_json::Map<String, serde_json::Value>,
    /// True until the person sent the referral with YES.
    pub incomplete: bool,
    pub submitted_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub escalation_level: i64,
    #[serde(skip)]
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// The number that texted: E.164 where it parses as a number, else as the provider gave
    /// it. Only clinicians and admins read referrals, and every read is audited; it never goes
    /// into an on-call alert.
    pub phone: Option<String>,
    /// The language the person texts in, as soon as it is recognised: `pl`, `ro`, `pt`, `ar`,
    /// `ur`, `ur-Latn` (Roman Urdu), `pa`, `bn`, or a code from their answer to the language
    /// question.
    pub language: Option<String>,
    /// The team needs an interpreter to call them back.
    pub interpreter: bool,
    /// How the referral reached the team: `sms` (texted), `phone` (taken by phone and entered
    /// by staff) or `api` (entered by another system).
    pub source: ReferralSource,
    /// The pathway: `crisis`, or `discharge_support` (someone leaving an inpatient ward).
    pub route: ReferralRoute,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Referral {
    pub fn fields(&self) -> ReferralFields {
        ReferralFields {
            status: self.status,
            urgent: self.urgent,
            risk_signals: self.risk_signals.clone(),
            urgent_at: self.urgent_at,
            team: self.team.clone(),
            answers: self.answers.clone(),
            incomplete: self.incomplete,
            submitted_at: self.submitted_at,
            language: self.language.clone(),
            interpreter: self.interpreter,
            route: self.route,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ReferralFilter {
    /// Only this status; none means every referral not closed.
    pub status: Option<ReferralStatus>,
    pub team: Option<String>,
    pub urgent: Option<bool>,
    /// A reference (exactly, any case) or part of the name the person gave.
    pub q: Option<String>,
    /// Created at or after.
    pub from: Option<DateTime<Utc>>,
    /// Created before.
    pub to: Option<DateTime<Utc>>,
    /// Only this pathway.
    pub route: Option<ReferralRoute>,
    /// Only referrals that came through this door.
    pub source: Option<ReferralSource>,
    /// After this referral in the queue's order (the last one of the page before).
    pub after: Option<QueueKey>,
    pub limit: u32,
}

/// What a queue looked like, without what is in it (`ReferralStore::referral_queue_stamp`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct QueueStamp {
    pub count: i64,
    pub latest: Option<crate::store::Ts>,
}

/// An item's place in a work list ordered urgent first (where a list has urgency), then
/// oldest: the triage queue, the inbox, the call and print lists.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QueueKey {
    pub urgent: bool,
    pub created_at: DateTime<Utc>,
    pub id: String,
}

impl QueueKey {
    pub fn new(urgent: bool, created_at: DateTime<Utc>, id: &str) -> Self {
        QueueKey {
            urgent,
            created_at,
            id: id.to_owned(),
        }
    }
}

/// An item's place in a list ordered by one time, then id (a patient's messages, newest
/// first; their appointments, earliest first).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TimeKey {
    pub at: DateTime<Utc>,
    pub id: String,
}

impl TimeKey {
    pub fn new(at: DateTime<Utc>, id: &str) -> Self {
        TimeKey {
            at,
            id: id.to_owned(),
        }
    }
}

/// `text` as a LIKE pattern matching it anywhere, its own `%`, `_` and `\` taken literally.
pub(crate) fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The number's current conversation, as staff see it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ConversationSummary {
    pub step: String,
    pub status: String,
    pub referral_id: ReferralId,
    #[sqlx(try_from = "super::Ts")]
    pub last_text_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct TranscriptItem {
    pub direction: String,
    pub body: Option<String>,
    #[sqlx(try_from = "super::Ts")]
    pub at: DateTime<Utc>,
    pub provider_id: Option<String>,
    /// Who on the team sent it, for a text back; `None` for the gateway's own replies.
    pub sent_by: Option<String>,
    /// Where a text back has got to (`queued`, `sent`, `delivered`, `failed`, …).
    pub delivery_status: Option<String>,
}

/// A text staff send back to a referral's texter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextBack {
    pub referral_id: crate::domain::id::ReferralId,
    pub to: PhoneNumber,
    pub body: String,
    /// The staff member (or token) sending it, as the transcript shows it.
    pub sent_by: String,
}

/// A referral staff entered, as the intake decided its fields and alerts.
#[derive(Debug, Clone)]
pub struct EnteredReferral {
    pub fields: ReferralFields,
    pub reference: String,
    /// The number the team calls the person back on, when staff gave one.
    pub phone: Option<PhoneNumber>,
    pub source: ReferralSource,
    pub alerts: Vec<NewMessage>,
    /// `referral.created`, by the staff member who entered it.
    pub audit: AuditEntry,
    pub at: DateTime<Utc>,
}

/// What became of a text back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextBackOutcome {
    /// Stored in the transcript and queued for the provider: the message's id.
    Queued {
        message_id: crate::domain::id::MessageId,
    },
    /// The number has opted out of texts (STOP): nothing stored, nothing sent.
    OptedOut,
    NoReferral,
}

/// Who did something, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The token's name, or the signed-in user's email: names need not be unique.
    pub name: String,
    pub role: Role,
    /// The API token the request came with (none for a console session or the command line).
    pub token_id: Option<String>,
    /// The user the token or the session belongs to (none for a service's token).
    pub user_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct AuditEntry {
    #[sqlx(try_from = "super::Ts")]
    pub at: DateTime<Utc>,
    pub actor: String,
    pub role: AuditRole,
    pub action: AuditAction,
    pub target: String,
    /// The referral this change concerns: it is then one of the referral's events. Reads
    /// never carry one.
    #[sqlx(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referral_id: Option<String>,
    /// What staff wrote with the change (a status change's or a close's note).
    #[sqlx(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The API token the actor used, when there was one.
    #[sqlx(default)]
    pub token_id: Option<String>,
    /// The user behind the token or console session, when there was one.
    #[sqlx(default)]
    pub user_id: Option<String>,
    /// For a list read: the ids of the records shown, comma-separated, in the order shown.
    #[sqlx(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records: Option<String>,
}

/// An audit entry as the log holds it, with its place in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct AuditRecord {
    /// Entries are numbered in the order they were written.
    pub seq: i64,
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub entry: AuditEntry,
}

/// Which audit entries to read.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Done by this actor (a user's or token's name), exactly.
    pub actor: Option<String>,
    /// Done with this API token.
    pub token_id: Option<String>,
    /// Done by this user (with any of their tokens, or signed in).
    pub user_id: Option<String>,
    /// Done to this target (`patient:01J…`) exactly, or to every target of a kind (`patient`).
    pub target: Option<String>,
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Before.
    pub to: Option<DateTime<Utc>>,
    /// Written before this entry (the last one of the page before).
    pub before_seq: Option<i64>,
    pub limit: u32,
}

text_enum! {
    /// Who an audit entry's actor was: a staff role, or the gateway itself.
    pub enum AuditRole {
        Admin = "admin",
        Clinician = "clinician",
        Scheduler = "scheduler",
        System = "system",
        /// Someone not (yet) known: a sign-in with an email no account has.
        Unknown = "none",
    }
}

impl From<Role> for AuditRole {
    fn from(role: Role) -> Self {
        match role {
            Role::Admin => AuditRole::Admin,
            Role::Clinician => AuditRole::Clinician,
            Role::Scheduler => AuditRole::Scheduler,
        }
    }
}

text_enum! {
    /// What an audit entry records: every read of patient data and every change.
    pub enum AuditAction {
        ReferralList = "referral.list",
        ReferralRead = "referral.read",
        TranscriptRead = "transcript.read",
        ConversationRead = "conversation.read",
        ReferralToPatient = "referral.to_patient",
        ReferralAcknowledged = "referral.status.acknowledged",
        ReferralAccepted = "referral.status.accepted",
        ReferralSignposted = "referral.status.signposted",
        ReferralClosed = "referral.status.closed",
        ReferralEscalatedOnCallAgain = "referral.escalated.on_call_again",
        ReferralEscalatedEscalationNumbers = "referral.escalated.escalation_numbers",
        PatientCreate = "patient.create",
        PatientUpdate = "patient.update",
        PatientAcknowledged = "patient.acknowledged",
        PatientEscalatedOnCallAgain = "patient.escalated.on_call_again",
        PatientEscalatedEscalationNumbers = "patient.escalated.escalation_numbers",
        AppointmentBook = "appointment.book",
        AppointmentReschedule = "appointment.reschedule",
        AppointmentCancel = "appointment.cancel",
        MessageQueue = "message.queue",
        TaskComplete = "task.complete",
        LetterRead = "letter.read",
        InboxRead = "inbox.read",
        AuditExport = "audit.export",
        PatientRead = "patient.read",
        PatientList = "patient.list",
        MessageList = "message.list",
        AppointmentRead = "appointment.read",
        AppointmentList = "appointment.list",
        TaskList = "task.list",
        ReferralCreated = "referral.created",
        ReferralThreadText = "referral.thread_text",
        ReferralReopened = "referral.reopened",
        ReferralTextBack = "referral.text_back",
        ReferralEventsRead = "referral.events.read",
        InboxClose = "inbox.close",
        TaskNoAnswer = "task.no_answer",
        TaskLeftMessage = "task.left_message",
        TaskWrongNumber = "task.wrong_number",
        TaskReturned = "task.returned",
        UserCreate = "user.create",
        UserPasswordSet = "user.password_set",
        UserSignIn = "user.sign_in",
        UserSignInFailed = "user.sign_in_failed",
        UserSignInRefusedLocked = "user.sign_in_refused_locked",
        UserSignInRefusedInactive = "user.sign_in_refused_inactive",
        UserLocked = "user.locked",
        UserSignOut = "user.sign_out",
        UserDeactivate = "user.deactivate",
        /// A sign-in through the organisation's identity provider that did not succeed
        /// (refused or cancelled there, a wrong state, an ID token not accepted, no account).
        UserSignInOidcFailed = "user.sign_in_oidc_failed",
        TokenList = "token.list",
        TokenRevoke = "token.revoke",
        TokenCreate = "token.create",
        UserList = "user.list",
        SafetyPlanWrite = "safety_plan.write",
        SafetyPlanRead = "safety_plan.read",
        /// A patient's safety plan sent to them (by text to their own number, or by their
        /// channels); the entry carries no words of the plan.
        SafetyPlanSend = "safety_plan.send",
        /// A clinician discharged a patient (their feedback request planned in the same
        /// transaction).
        PatientDischarge = "patient.discharge",
        /// Staff read patients' feedback words (`GET /feedback` as a clinician or admin).
        FeedbackRead = "feedback.read",
    }
}

impl AuditAction {
    /// Staff's report on a task: `task.complete` when done, else the outcome's own action.
    pub fn task_outcome(outcome: crate::domain::task::TaskOutcome) -> Self {
        use crate::domain::task::TaskOutcome;
        match outcome {
            TaskOutcome::Done => AuditAction::TaskComplete,
            TaskOutcome::NoAnswer => AuditAction::TaskNoAnswer,
            TaskOutcome::LeftMessage => AuditAction::TaskLeftMessage,
            TaskOutcome::WrongNumber => AuditAction::TaskWrongNumber,
            TaskOutcome::Returned => AuditAction::TaskReturned,
        }
    }

    /// Staff setting a referral's status; `None` for a status staff may not set.
    pub fn referral_status(status: ReferralStatus) -> Option<Self> {
        match status {
            ReferralStatus::Acknowledged => Some(AuditAction::ReferralAcknowledged),
            ReferralStatus::Accepted => Some(AuditAction::ReferralAccepted),
            ReferralStatus::Signposted => Some(AuditAction::ReferralSignposted),
            ReferralStatus::Closed => Some(AuditAction::ReferralClosed),
            _ => None,
        }
    }
}

impl AuditEntry {
    /// Something the gateway did by itself (an escalation step, say).
    pub fn by_gateway(at: DateTime<Utc>, action: AuditAction, target: String) -> Self {
        Self {
            at,
            actor: "crht-gateway".into(),
            role: AuditRole::System,
            action,
            target,
            referral_id: None,
            note: None,
            token_id: None,
            user_id: None,
            records: None,
        }
    }

    /// The entry as one of a referral's events.
    pub fn for_referral(mut self, referral_id: &str) -> Self {
        self.referral_id = Some(referral_id.to_owned());
        self
    }

    pub fn with_note(mut self, note: Option<String>) -> Self {
        self.note = note;
        self
    }

    /// The entry of a list read, naming the ids it showed.
    pub fn with_records<'a>(mut self, ids: impl IntoIterator<Item = &'a str>) -> Self {
        self.records = Some(ids.into_iter().collect::<Vec<_>>().join(","));
        self
    }
}

/// The decision function the inbound transaction calls once it holds the number's lock.
pub type Decide<'a> = &'a (dyn Fn(&Snapshot) -> Decision + Send + Sync);

#[async_trait]
pub trait ReferralStore {
    /// The inbound path in one transaction: de-duplicate by provider id, load what the number
    /// is to us under a per-number lock, decide, and store the text, the replies and every
    /// consequence (conversation, referral or patient, alerts, inbox) — all or nothing.
    async fn record_inbound(
        &self,
        text: &InboundText,
        decide: Decide<'_>,
    ) -> Result<InboundOutcome>;

    async fn conversation(&self, phone: &PhoneNumber) -> Result<Option<ConversationSummary>>;

    async fn referrals(&self, filter: &ReferralFilter) -> Result<Vec<Referral>>;

    /// How many referrals `filter` finds (its cursor and limit aside) and the latest change to
    /// any of them: equal stamps, the same queue. Nothing personal, for a page to ask often.
    async fn referral_queue_stamp(&self, filter: &ReferralFilter) -> Result<QueueStamp>;

    async fn referral(&self, id: &ReferralId) -> Result<Option<Referral>>;

    async fn transcript(&self, referral_id: &ReferralId) -> Result<Vec<TranscriptItem>>;

    /// Staff's status change, audited in the same transaction; `None` when there is no such
    /// referral.
    async fn set_referral_status(
        &self,
        id: &ReferralId,
        status: ReferralStatus,
        audit: &AuditEntry,
    ) -> Result<Option<Referral>>;

    /// Marks conversations idle since before `idle_since` as abandoned (their referrals enter
    /// the triage queue as incomplete). Returns how many.
    async fn abandon_idle(&self, idle_since: DateTime<Utc>, now: DateTime<Utc>) -> Result<u64>;

    /// Urgent referrals nobody has acknowledged, with escalation steps still to come.
    async fn unacknowledged_urgent(&self) -> Result<Vec<Referral>>;

    /// Takes an urgent referral from escalation level `from` to `from + 1`, queueing the
    /// alerts and auditing the step in one transaction; `false` if another gateway did it
    /// first or staff acknowledged it meanwhile.
    async fn escalate(
        &self,
        referral_id: &ReferralId,
        from: i64,
        alerts: &[NewMessage],
        audit: &AuditEntry,
    ) -> Result<bool>;

    async fn audit(&self, entry: &AuditEntry) -> Result<()>;

    /// The audit log, newest first.
    async fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>>;

    /// A referral's events, oldest first: the audit entries written for it by changes.
    async fn referral_events(&self, referral_id: &str) -> Result<Vec<AuditEntry>>;

    /// Stores a text back in the referral's transcript and queues it for the provider, with
    /// its audit entry, in one transaction; refused (nothing stored) when the number has
    /// opted out of texts.
    async fn text_back(
        &self,
        text: &TextBack,
        audit: &AuditEntry,
        per_day: u32,
    ) -> Result<TextBackOutcome>;

    /// A referral staff entered (taken by phone, or from another system): the referral, its
    /// on-call alerts and the audit entry naming who entered it, in one commit. A clash of
    /// references is a `Conflict`; the caller draws another.
    async fn enter_referral(&self, entry: &EnteredReferral) -> Result<Referral>;

    async fn create_token(
        &self,
        id: &str,
        name: &str,
        role: Role,
        hash: &str,
        at: DateTime<Utc>,
    ) -> Result<()>;
}

/// Implements `ReferralStore` for an engine's store (see `sqlite.rs` / `postgres.rs`).
macro_rules! referral_store_impl {
    // `$name`: the SQL for the name in a referral's answers (JSON in a text column).
    ($store:ty, $conn:ty, name = $name:literal) => {
        impl $store {
            /// The inbound path's work inside a transaction the engine opened (and holds the
            /// number's lock in): de-duplicate by provider id, load what the number is to us,
            /// decide, and store the text, the replies and every consequence. The engine
            /// commits (`write_inbound`).
            pub(super) async fn inbound_in(
                conn: &mut $conn,
                text: &$crate::store::InboundText,
                decide: $crate::store::Decide<'_>,
            ) -> $crate::store::Result<$crate::store::InboundOutcome> {
                use $crate::store::rows::{new_id, to_json_text, CurrentRow, PatientContactRow};
                use $crate::store::{Decision, InboundOutcome, Snapshot, Ts};

                let phone = text.from.e164();
                let at = text.received_at;
                let now = Ts(at);

                let seen: Option<(String,)> = sqlx::query_as(
                    "SELECT id FROM texts WHERE provider_id = $1 AND direction = 'inbound'",
                )
                .bind(&text.provider_id)
                .fetch_optional(&mut *conn)
                .await?;
                if let Some((inbound_id,)) = seen {
                    let replies: Vec<(Option<String>,)> =
                        sqlx::query_as("SELECT body FROM texts WHERE reply_to = $1 ORDER BY seq")
                            .bind(&inbound_id)
                            .fetch_all(&mut *conn)
                            .await?;
                    return Ok(InboundOutcome::Duplicate {
                        replies: replies.into_iter().filter_map(|(b,)| b).collect(),
                    });
                }

                let contacts: Vec<PatientContactRow> = sqlx::query_as(
                    "SELECT id, name, preferred_name, language, access_needs, team, urgent, risk_signals FROM patients \
                     WHERE mobile = $1 ORDER BY updated_at DESC, id",
                )
                .bind(phone)
                .fetch_all(&mut *conn)
                .await?;
                let mut patients = Vec::with_capacity(contacts.len());
                for contact in contacts {
                    let next: Option<$crate::store::UpcomingAppointment> = sqlx::query_as(
                        "SELECT id, starts_at, status FROM appointments \
                         WHERE patient_id = $1 AND status <> 'cancelled' AND starts_at > $2 \
                         ORDER BY starts_at, id LIMIT 1",
                    )
                    .bind(&contact.id)
                    .bind(now)
                    .fetch_optional(&mut *conn)
                    .await?;
                    let plan: Option<$crate::store::rows::SafetyPlanRow> = sqlx::query_as(
                        "SELECT patient_id, sections, updated_at, updated_by FROM safety_plans \
                         WHERE patient_id = $1",
                    )
                    .bind(&contact.id)
                    .fetch_optional(&mut *conn)
                    .await?;
                    let feedback: Option<(String, bool)> = sqlx::query_as(
                        "SELECT id, reasked FROM feedback_requests WHERE patient_id = $1 \
                         AND status = 'sent' AND rating IS NULL AND sent_at > $2",
                    )
                    .bind(&contact.id)
                    .bind(Ts(at - $crate::store::FEEDBACK_OPEN_FOR))
                    .fetch_optional(&mut *conn)
                    .await?;
                    let feedback = feedback
                        .map(|(id, reasked)| $crate::store::OpenFeedback { id, reasked });
                    patients.push(contact.into_contact(next, plan, feedback)?);
                }
                if patients.len() > 1 {
                    // One number, several records: nobody's feedback is answered from it.
                    for patient in &mut patients {
                        patient.feedback = None;
                    }
                }
                let current: Option<CurrentRow> = sqlx::query_as(
                    "SELECT c.id AS conversation_id, c.state, c.status AS conversation_status, r.* \
                     FROM conversations c JOIN referrals r ON r.id = c.referral_id \
                     WHERE c.phone = $1 AND c.is_current",
                )
                .bind(phone)
                .fetch_optional(&mut *conn)
                .await?;
                let current = current.map(CurrentRow::into_current).transpose()?;
                let opted_out: Option<(bool,)> =
                    sqlx::query_as("SELECT opted_out FROM sms_opt_outs WHERE phone = $1")
                        .bind(phone)
                        .fetch_optional(&mut *conn)
                        .await?;
                let (replies_last_hour,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM texts WHERE phone = $1 AND direction = 'outbound' \
                     AND sent_by IS NULL AND at > $2",
                )
                .bind(phone)
                .bind(Ts(at - chrono::TimeDelta::hours(1)))
                .fetch_one(&mut *conn)
                .await?;
                let thread_last_at: Option<(Ts,)> = match &current {
                    Some(current) => sqlx::query_as(
                        "SELECT at FROM texts WHERE referral_id = $1 ORDER BY seq DESC LIMIT 1",
                    )
                    .bind(&current.referral.id)
                    .fetch_optional(&mut *conn)
                    .await?,
                    None => None,
                };
                let new_reference = $crate::domain::reference::ReferralRef::generate();
                let snapshot = Snapshot {
                    patients,
                    current,
                    opted_out: opted_out.is_some_and(|(o,)| o),
                    replies_last_hour: u32::try_from(replies_last_hour).unwrap_or(u32::MAX),
                    new_reference: new_reference.as_str().to_owned(),
                    thread_last_at: thread_last_at.map(|(at,)| at.0),
                };

                let inbound_id: $crate::domain::id::TextId = new_id();
                // Replies that cannot ride in the provider's answer leave as texts of their own.
                let sends = |past_opt_out| match text.replies {
                    $crate::store::ReplyRoute::InResponse => None,
                    $crate::store::ReplyRoute::AsMessages => {
                        Some($crate::store::shared::ReplySends { to: &text.from, past_opt_out })
                    }
                };
                let (replies, opt_out) = match decide(&snapshot) {
                    Decision::Referral(decision) => {
                        let (conversation_id, referral_id) = Self::apply_referral_decision(
                            &mut *conn,
                            phone,
                            &snapshot,
                            &decision,
                            new_reference.as_str(),
                            at,
                        )
                        .await?;
                        Self::insert_exchange(
                            &mut *conn,
                            $crate::store::shared::NewText {
                                referral_id: Some(&referral_id),
                                conversation_id: Some(&conversation_id),
                                ..$crate::store::shared::NewText::inbound(&inbound_id, phone, text, at)
                            },
                            &decision.replies,
                            sends(decision.replies_past_opt_out),
                        )
                        .await?;
                        for alert in &decision.alerts {
                            Self::insert_alert(&mut *conn, alert, Some(&referral_id), None, at).await?;
                        }
                        if decision.reopen {
                            sqlx::query(
                                "UPDATE referrals SET acknowledged_at = NULL, escalation_level = 0 \
                                 WHERE id = $1",
                            )
                            .bind(&referral_id)
                            .execute(&mut *conn)
                            .await?;
                        }
                        for item in &decision.inbox {
                            Self::insert_inbox_item(&mut *conn, item, None, Some(&referral_id), &inbound_id, at)
                                .await?;
                        }
                        for action in &decision.events {
                            let event = $crate::store::AuditEntry::by_gateway(
                                at,
                                (*action).to_owned(),
                                format!("referral:{referral_id}"),
                            )
                            .for_referral(&referral_id);
                            Self::insert_audit(&mut *conn, &event).await?;
                        }
                        (decision.replies, decision.opt_out)
                    }
                    Decision::Patient(decision) => {
                        let patient = &decision.patient_id;
                        if !decision.risk_signals.is_empty() {
                            for contact in snapshot
                                .patients
                                .iter()
                                .filter(|p| decision.patient_ids.contains(&p.id))
                            {
                                let mut signals = contact.risk_signals.clone();
                                for signal in &decision.risk_signals {
                                    if !signals.contains(signal) {
                                        signals.push(signal.clone());
                                    }
                                }
                                signals.sort();
                                // Safety rule 8: a risk text opens an urgent episode unless
                                // one is open already (then it only adds its signals).
                                // SET expressions read the row as it was before.
                                sqlx::query(
                                    "UPDATE patients SET risk_signals = $1, updated_at = $2, \
                                     urgent_at = CASE WHEN urgent THEN urgent_at ELSE $2 END, \
                                     escalation_level = CASE WHEN urgent THEN escalation_level ELSE 0 END, \
                                     acknowledged_at = CASE WHEN urgent THEN acknowledged_at ELSE NULL END, \
                                     acknowledged_by = CASE WHEN urgent THEN acknowledged_by ELSE NULL END, \
                                     urgent = TRUE, last_risk_text_at = $2 \
                                     WHERE id = $3",
                                )
                                .bind(to_json_text(&signals)?)
                                .bind(now)
                                .bind(&contact.id)
                                .execute(&mut *conn)
                                .await?;
                            }
                        }
                        match &decision.appointment {
                            Some($crate::store::AppointmentAction::Confirm(id)) => {
                                sqlx::query(
                                    "UPDATE appointments SET status = 'confirmed', updated_at = $1 \
                                     WHERE id = $2 AND status = 'booked'",
                                )
                                .bind(now)
                                .bind(id)
                                .execute(&mut *conn)
                                .await?;
                            }
                            Some($crate::store::AppointmentAction::Cancel(id)) => {
                                Self::cancel_appointment_in(&mut *conn, id, "cancelled_by_patient", at).await?;
                            }
                            None => {}
                        }
                        Self::insert_exchange(
                            &mut *conn,
                            $crate::store::shared::NewText {
                                patient_id: Some(patient),
                                ..$crate::store::shared::NewText::inbound(&inbound_id, phone, text, at)
                            },
                            &decision.replies,
                            sends(decision.replies_past_opt_out),
                        )
                        .await?;
                        for alert in &decision.alerts {
                            Self::insert_alert(&mut *conn, alert, None, Some(patient), at).await?;
                        }
                        let filed: Vec<(&$crate::store::NewInboxItem, &$crate::domain::id::PatientId)> = decision
                            .inbox
                            .iter()
                            .flat_map(|item| decision.patient_ids.iter().map(move |p| (item, p)))
                            .collect();
                        for (item, patient) in filed {
                            Self::insert_inbox_item(&mut *conn, item, Some(patient), None, &inbound_id, at)
                                .await?;
                        }
                        match &decision.feedback {
                            Some($crate::store::FeedbackAnswer::Rated { request_id, rating, words }) => {
                                sqlx::query(
                                    "UPDATE feedback_requests SET rating = $1, words = $2, answered_at = $3, \
                                     updated_at = $3 WHERE id = $4 AND rating IS NULL",
                                )
                                .bind(rating)
                                .bind(words)
                                .bind(now)
                                .bind(request_id)
                                .execute(&mut *conn)
                                .await?;
                            }
                            Some($crate::store::FeedbackAnswer::Reasked { request_id }) => {
                                sqlx::query(
                                    "UPDATE feedback_requests SET reasked = TRUE, updated_at = $1 WHERE id = $2",
                                )
                                .bind(now)
                                .bind(request_id)
                                .execute(&mut *conn)
                                .await?;
                            }
                            None => {}
                        }
                        for action in &decision.events {
                            let event = $crate::store::AuditEntry::by_gateway(
                                at,
                                (*action).to_owned(),
                                format!("patient:{patient}"),
                            );
                            Self::insert_audit(&mut *conn, &event).await?;
                        }
                        (decision.replies, decision.opt_out)
                    }
                };
                if let Some(opted_out) = opt_out {
                    // STOP means stop everywhere: patient records with this mobile too.
                    sqlx::query("UPDATE patients SET sms_opted_out = $1, updated_at = $2 WHERE mobile = $3")
                        .bind(opted_out)
                        .bind(now)
                        .bind(phone)
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query(
                        "INSERT INTO sms_opt_outs (phone, opted_out, updated_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (phone) DO UPDATE SET opted_out = excluded.opted_out, \
                         updated_at = excluded.updated_at",
                    )
                    .bind(phone)
                    .bind(opted_out)
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
                }
                Ok(InboundOutcome::Fresh { replies })
            }

        }

        #[async_trait::async_trait]
        impl $crate::store::ReferralStore for $store {
            async fn record_inbound(
                &self,
                text: &$crate::store::InboundText,
                decide: $crate::store::Decide<'_>,
            ) -> $crate::store::Result<$crate::store::InboundOutcome> {
                self.write_inbound(text, decide).await
            }

            async fn conversation(
                &self,
                phone: &$crate::domain::phone::PhoneNumber,
            ) -> $crate::store::Result<Option<$crate::store::ConversationSummary>> {
                Ok(sqlx::query_as(
                    "SELECT step, status, referral_id, last_text_at FROM conversations \
                     WHERE phone = $1 AND is_current",
                )
                .bind(phone.e164())
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn referrals(
                &self,
                filter: &$crate::store::ReferralFilter,
            ) -> $crate::store::Result<Vec<$crate::store::Referral>> {
                use $crate::store::Ts;
                use $crate::store::rows::ReferralRow;
                let after = filter.after.as_ref();
                let rows: Vec<ReferralRow> = sqlx::query_as(concat!(
                    "SELECT * FROM referrals \
                     WHERE (($1 IS NULL AND status <> 'closed') OR status = $1) \
                     AND ($2 IS NULL OR team = $2) AND ($3 IS NULL OR urgent = $3) \
                     AND ($4 IS NULL OR UPPER(reference) = UPPER($4) \
                          OR LOWER(COALESCE(", $name, ", '')) LIKE $5 ESCAPE '\\') \
                     AND ($6 IS NULL OR created_at >= $6) AND ($7 IS NULL OR created_at < $7) \
                     AND ($8 IS NULL OR (NOT urgent, created_at, id) > (NOT $8, $9, $10)) \
                     AND ($12 IS NULL OR route = $12) AND ($13 IS NULL OR source = $13) \
                     ORDER BY urgent DESC, created_at, id LIMIT $11"
                ))
                .bind(filter.status.map(|s| s.as_str()))
                .bind(filter.team.as_deref())
                .bind(filter.urgent)
                .bind(filter.q.as_deref())
                .bind(filter.q.as_deref().map($crate::store::referrals::contains_pattern))
                .bind(filter.from.map(Ts))
                .bind(filter.to.map(Ts))
                .bind(after.map(|k| k.urgent))
                .bind(after.map(|k| Ts(k.created_at)))
                .bind(after.map(|k| k.id.as_str()))
                .bind(i64::from(filter.limit))
                .bind(filter.route.map(|r| r.as_str()))
                .bind(filter.source.map(|s| s.as_str()))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn referral_queue_stamp(
                &self,
                filter: &$crate::store::ReferralFilter,
            ) -> $crate::store::Result<$crate::store::QueueStamp> {
                use $crate::store::Ts;
                Ok(sqlx::query_as(concat!(
                    "SELECT COUNT(*) AS count, MAX(updated_at) AS latest FROM referrals \
                     WHERE (($1 IS NULL AND status <> 'closed') OR status = $1) \
                     AND ($2 IS NULL OR team = $2) AND ($3 IS NULL OR urgent = $3) \
                     AND ($4 IS NULL OR UPPER(reference) = UPPER($4) \
                          OR LOWER(COALESCE(", $name, ", '')) LIKE $5 ESCAPE '\\') \
                     AND ($6 IS NULL OR created_at >= $6) AND ($7 IS NULL OR created_at < $7) \
                     AND ($8 IS NULL OR route = $8) AND ($9 IS NULL OR source = $9)"
                ))
                .bind(filter.status.map(|s| s.as_str()))
                .bind(filter.team.as_deref())
                .bind(filter.urgent)
                .bind(filter.q.as_deref())
                .bind(filter.q.as_deref().map($crate::store::referrals::contains_pattern))
                .bind(filter.from.map(Ts))
                .bind(filter.to.map(Ts))
                .bind(filter.route.map(|r| r.as_str()))
                .bind(filter.source.map(|s| s.as_str()))
                .fetch_one(&self.pool)
                .await?)
            }

            async fn referral(&self, id: &$crate::domain::id::ReferralId) -> $crate::store::Result<Option<$crate::store::Referral>> {
                let row: Option<$crate::store::rows::ReferralRow> =
                    sqlx::query_as("SELECT * FROM referrals WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn transcript(
                &self,
                referral_id: &$crate::domain::id::ReferralId,
            ) -> $crate::store::Result<Vec<$crate::store::TranscriptItem>> {
                Ok(sqlx::query_as(
                    "SELECT t.direction, t.body, t.at, COALESCE(t.provider_id, m.provider_id) AS provider_id, \
                     t.sent_by, m.status AS delivery_status \
                     FROM texts t LEFT JOIN messages m ON m.id = t.message_id \
                     WHERE t.referral_id = $1 ORDER BY t.seq",
                )
                .bind(referral_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn set_referral_status(
                &self,
                id: &$crate::domain::id::ReferralId,
                status: $crate::domain::referral::ReferralStatus,
                audit: &$crate::store::AuditEntry,
            ) -> $crate::store::Result<Option<$crate::store::Referral>> {
                use $crate::store::Ts;
                let at = audit.at;
                let mut tx = self.begin_write().await?;
                let acknowledged = matches!(
                    status,
                    $crate::domain::referral::ReferralStatus::Acknowledged
                        | $crate::domain::referral::ReferralStatus::Accepted
                );
                let done = sqlx::query(
                    "UPDATE referrals SET status = $1, updated_at = $2, \
                     acknowledged_at = CASE WHEN $3 AND acknowledged_at IS NULL THEN $2 ELSE acknowledged_at END \
                     WHERE id = $4",
                )
                .bind(status.as_str())
                .bind(Ts(at))
                .bind(acknowledged)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Ok(None);
                }
                Self::insert_audit(&mut *tx, audit).await?;
                tx.commit().await?;
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

            async fn unacknowledged_urgent(&self) -> $crate::store::Result<Vec<$crate::store::Referral>> {
                let rows: Vec<$crate::store::rows::ReferralRow> = sqlx::query_as(
                    "SELECT * FROM referrals WHERE urgent AND escalation_level < 2 \
                     AND acknowledged_at IS NULL AND status NOT IN ('acknowledged', 'accepted', 'closed') \
                     ORDER BY urgent_at, id",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn escalate(
                &self,
                referral_id: &$crate::domain::id::ReferralId,
                from: i64,
                alerts: &[$crate::store::NewMessage],
                audit: &$crate::store::AuditEntry,
            ) -> $crate::store::Result<bool> {
                use $crate::store::Ts;
                let mut tx = self.begin_write().await?;
                let done = sqlx::query(
                    "UPDATE referrals SET escalation_level = $1, updated_at = $2 \
                     WHERE id = $3 AND escalation_level = $4 AND acknowledged_at IS NULL \
                     AND status NOT IN ('acknowledged', 'accepted', 'closed')",
                )
                .bind(from + 1)
                .bind(Ts(audit.at))
                .bind(referral_id)
                .bind(from)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    return Ok(false);
                }
                for alert in alerts {
                    Self::insert_alert(&mut *tx, alert, Some(referral_id), None, audit.at).await?;
                }
                Self::insert_audit(&mut *tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn audit(&self, entry: &$crate::store::AuditEntry) -> $crate::store::Result<()> {
                let mut tx = self.begin_write().await?;
                Self::insert_audit(&mut *tx, entry).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn audit_log(
                &self,
                filter: &$crate::store::AuditFilter,
            ) -> $crate::store::Result<Vec<$crate::store::AuditRecord>> {
                use $crate::store::Ts;
                let kind = filter
                    .target
                    .as_deref()
                    .filter(|t| !t.contains(':'))
                    .map(|kind| format!("{kind}:%"));
                Ok(sqlx::query_as(
                    "SELECT seq, at, actor, role, action, target, referral_id, note, token_id, \
                     user_id, records FROM audit_log \
                     WHERE ($1 IS NULL OR actor = $1) \
                     AND ($8 IS NULL OR token_id = $8) AND ($9 IS NULL OR user_id = $9) \
                     AND ($2 IS NULL OR target = $2 OR target LIKE $3) \
                     AND ($4 IS NULL OR at >= $4) AND ($5 IS NULL OR at < $5) \
                     AND ($6 IS NULL OR seq < $6) \
                     ORDER BY seq DESC LIMIT $7",
                )
                .bind(filter.actor.as_deref())
                .bind(filter.target.as_deref())
                .bind(kind)
                .bind(filter.from.map(Ts))
                .bind(filter.to.map(Ts))
                .bind(filter.before_seq)
                .bind(i64::from(filter.limit))
                .bind(filter.token_id.as_deref())
                .bind(filter.user_id.as_deref())
                .fetch_all(&self.pool)
                .await?)
            }

            async fn referral_events(
                &self,
                referral_id: &str,
            ) -> $crate::store::Result<Vec<$crate::store::AuditEntry>> {
                Ok(sqlx::query_as(
                    "SELECT at, actor, role, action, target, referral_id, note, token_id, user_id, \
                     records FROM audit_log WHERE referral_id = $1 ORDER BY seq",
                )
                .bind(referral_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn enter_referral(
                &self,
                entry: &$crate::store::EnteredReferral,
            ) -> $crate::store::Result<$crate::store::Referral> {
                use $crate::store::rows::new_id;
                let referral_id: $crate::domain::id::ReferralId = new_id();
                let mut tx = self.begin_write().await?;
                Self::insert_referral(
                    &mut *tx,
                    &entry.fields,
                    &referral_id,
                    &entry.reference,
                    entry.phone.as_ref().map(|p| p.e164()),
                    entry.source,
                    entry.at,
                )
                .await?;
                for alert in &entry.alerts {
                    Self::insert_alert(&mut *tx, alert, Some(&referral_id), None, entry.at).await?;
                }
                let mut audit = entry.audit.clone().for_referral(&referral_id);
                audit.target = format!("referral:{referral_id}");
                Self::insert_audit(&mut *tx, &audit).await?;
                tx.commit().await.map_err($crate::store::StoreError::from)?;
                self.referral(&referral_id).await?.ok_or_else(|| {
                    $crate::store::StoreError::Corrupt("an entered referral is missing".into())
                })
            }

            async fn text_back(
                &self,
                text: &$crate::store::TextBack,
                audit: &$crate::store::AuditEntry,
                per_day: u32,
            ) -> $crate::store::Result<$crate::store::TextBackOutcome> {
                use $crate::store::{NewMessage, TextBackOutcome};
                let phone = text.to.e164();
                let mut tx = self.begin_write().await?;
                // The same lock as the number's inbound texts: a STOP being recorded now is
                // seen here, or sees this text and stops it at send time.
                Self::lock_phone(&mut *tx, phone).await?;
                let known: Option<(String,)> = sqlx::query_as("SELECT id FROM referrals WHERE id = $1")
                    .bind(&text.referral_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                if known.is_none() {
                    return Ok(TextBackOutcome::NoReferral);
                }
                let opted_out: Option<(bool,)> =
                    sqlx::query_as("SELECT opted_out FROM sms_opt_outs WHERE phone = $1")
                        .bind(phone)
                        .fetch_optional(&mut *tx)
                        .await?;
                if opted_out.is_some_and(|(o,)| o) {
                    return Ok(TextBackOutcome::OptedOut);
                }
                let message = NewMessage {
                    purpose: $crate::domain::patient::MessagePurpose::TextBack,
                    to: text.to.clone(),
                    body: text.body.clone(),
                };
                Self::spend_allowance(&mut *tx, audit, 1, per_day).await?;
                let message_id =
                    Self::insert_alert(&mut *tx, &message, Some(&text.referral_id), None, audit.at).await?;
                sqlx::query(
                    "INSERT INTO texts (id, referral_id, phone, direction, body, sent_by, message_id, at) \
                     VALUES ($1, $2, $3, 'outbound', $4, $5, $6, $7)",
                )
                .bind($crate::store::rows::new_id::<$crate::domain::id::TextId>())
                .bind(&text.referral_id)
                .bind(phone)
                .bind(&text.body)
                .bind(&text.sent_by)
                .bind(&message_id)
                .bind($crate::store::Ts(audit.at))
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE referrals SET updated_at = $1 WHERE id = $2")
                    .bind($crate::store::Ts(audit.at))
                    .bind(&text.referral_id)
                    .execute(&mut *tx)
                    .await?;
                Self::insert_audit(&mut *tx, audit).await?;
                tx.commit().await?;
                Ok(TextBackOutcome::Queued { message_id })
            }

            async fn create_token(
                &self,
                id: &str,
                name: &str,
                role: $crate::domain::role::Role,
                hash: &str,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO api_tokens (id, name, role, token_hash, created_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(id)
                .bind(name)
                .bind(role.as_str())
                .bind(hash)
                .bind($crate::store::Ts(at))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }
        }
    };
}

pub(super) use referral_store_impl;

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn a_search_pattern_takes_like_s_wildcards_literally() {
        assert_eq!(contains_pattern("Ada"), "%ada%");
        assert_eq!(contains_pattern("100%_x\\"), "%100\\%\\_x\\\\%");
    }
}
