//! Storage: the only place that speaks SQL. One `Store` trait, implemented for SQLite (the
//! embedded default) and PostgreSQL (several replicas on one database) from one body of
//! queries written once (`queries.rs`); each engine adds its own transaction start, per-number
//! lock and job-queue insert.

mod postgres;
mod queries;
mod sqlite;
mod ts;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use ts::Ts;

use crate::config::DatabaseUrl;
use crate::conversation::Conversation;
use crate::domain::phone::PhoneNumber;
use crate::domain::referral::ReferralStatus;
use crate::domain::role::Role;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is not readable: {0}")]
    Corrupt(String),
    #[error("conflict: {0}")]
    Conflict(String),
}

impl StoreError {
    /// The database is unreachable or overloaded (the caller should answer 503, not 500).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Database(
                sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::Io(_)
                    | sqlx::Error::Tls(_)
                    | sqlx::Error::Protocol(_)
                    | sqlx::Error::WorkerCrashed
            )
        ) || matches!(self, StoreError::Database(sqlx::Error::Database(e))
            if e.code().is_some_and(|c| c.starts_with("57") || c.starts_with("08") || c == "5" || c == "6"))
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A text received from the SMS provider.
#[derive(Debug, Clone)]
pub struct InboundText {
    pub provider_id: String,
    pub from: PhoneNumber,
    pub body: String,
    pub received_at: DateTime<Utc>,
}

/// What the inbound decision sees: the number's current conversation, if any.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub current: Option<CurrentConversation>,
    pub opted_out: bool,
    /// The reference a referral begun by this text will carry.
    pub new_reference: String,
}

#[derive(Debug, Clone)]
pub struct CurrentConversation {
    pub id: String,
    pub state: Conversation,
    pub referral: Referral,
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
}

/// Whether the text continues the number's conversation or begins a new one (and with it a
/// new referral).
#[derive(Debug, Clone)]
pub enum ConversationChange {
    Continue(Conversation),
    Begin(Conversation),
}

/// A text to send through the job queue (on-call alerts and, later, patient messages).
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub purpose: String,
    pub to: PhoneNumber,
    pub body: String,
}

/// Everything one inbound text changes, decided before any of it is written.
#[derive(Debug, Clone)]
pub struct Decision {
    pub replies: Vec<String>,
    pub conversation: ConversationChange,
    pub referral: ReferralFields,
    pub alerts: Vec<NewMessage>,
    /// `Some(true)`: opted out of texts; `Some(false)`: opted back in.
    pub opt_out: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundOutcome {
    /// Stored for the first time; the replies to send.
    Fresh {
        replies: Vec<String>,
        referral_id: String,
    },
    /// The provider sent this message id before: the same replies again, nothing changed.
    Duplicate { replies: Vec<String> },
}

/// A referral as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Referral {
    pub id: String,
    pub reference: String,
    pub status: ReferralStatus,
    pub urgent: bool,
    pub risk_signals: Vec<String>,
    pub urgent_at: Option<DateTime<Utc>>,
    pub team: String,
    pub answers: serde_json::Map<String, serde_json::Value>,
    pub incomplete: bool,
    pub submitted_at: Option<DateTime<Utc>>,
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
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ReferralFilter {
    pub status: Option<ReferralStatus>,
    pub limit: u32,
}

/// The number's current conversation, as staff see it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationSummary {
    pub step: String,
    pub status: String,
    pub referral_id: String,
    pub last_text_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TranscriptItem {
    pub direction: String,
    pub body: Option<String>,
    pub at: DateTime<Utc>,
    pub provider_id: Option<String>,
}

/// A text sent (or to be sent) through the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: String,
    pub purpose: String,
    pub referral_id: Option<String>,
    pub to: Option<String>,
    pub body: Option<String>,
    pub status: String,
    pub provider_id: Option<String>,
    pub error_code: Option<String>,
    pub attempts: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Who did something, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub name: String,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub role: String,
    pub action: String,
    pub target: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: String,
    pub name: String,
    pub role: Role,
}

/// The SMS job queue's unit of work: send one stored message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub message_id: String,
}

/// The apalis queue that carries `Delivery` jobs.
pub const DELIVERY_QUEUE: &str = "deliveries";

/// The decision function the inbound transaction calls once it holds the number's lock.
pub type Decide<'a> = &'a (dyn Fn(&Snapshot) -> Decision + Send + Sync);

#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    fn engine(&self) -> &'static str;

    /// Applies the app's migrations and the job queue's.
    async fn migrate(&self) -> Result<()>;

    async fn ping(&self) -> Result<()>;

    /// The inbound path in one transaction: de-duplicate by provider id, load the number's
    /// conversation under a per-number lock, decide, and store the text, the replies, the
    /// conversation and referral, and any alert jobs — all or nothing.
    async fn record_inbound(
        &self,
        text: &InboundText,
        decide: Decide<'_>,
    ) -> Result<InboundOutcome>;

    async fn conversation(&self, phone: &PhoneNumber) -> Result<Option<ConversationSummary>>;

    async fn referrals(&self, filter: &ReferralFilter) -> Result<Vec<Referral>>;

    async fn referral(&self, id: &str) -> Result<Option<Referral>>;

    async fn transcript(&self, referral_id: &str) -> Result<Vec<TranscriptItem>>;

    /// Staff's status change; `None` when there is no such referral.
    async fn set_referral_status(
        &self,
        id: &str,
        status: ReferralStatus,
        at: DateTime<Utc>,
    ) -> Result<Option<Referral>>;

    /// Marks conversations idle since before `idle_since` as abandoned (their referrals enter
    /// the triage queue as incomplete). Returns how many.
    async fn abandon_idle(&self, idle_since: DateTime<Utc>, now: DateTime<Utc>) -> Result<u64>;

    async fn audit(&self, entry: &AuditEntry) -> Result<()>;

    async fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>>;

    async fn create_token(
        &self,
        id: &str,
        name: &str,
        role: Role,
        hash: &str,
        at: DateTime<Utc>,
    ) -> Result<()>;

    async fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>>;

    async fn message(&self, id: &str) -> Result<Option<Message>>;

    async fn messages_for_referral(&self, referral_id: &str) -> Result<Vec<Message>>;

    /// Claims a queued message for sending; `false` when it was already sent or claimed in a
    /// way that must not be repeated.
    async fn start_sending(&self, id: &str, at: DateTime<Utc>) -> Result<bool>;

    /// A delivery receipt: moves the message's status forward only (a late `sent` never
    /// overwrites `delivered`). Returns whether anything changed.
    async fn record_delivery_status(
        &self,
        provider_id: &str,
        status: &str,
        error_code: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<bool>;

    async fn finish_sending(
        &self,
        id: &str,
        status: &str,
        provider_id: Option<&str>,
        error_code: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<()>;
}

/// The engine-specific pool, for the job queue's storage to share.
#[derive(Debug, Clone)]
pub enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// Connects to the configured database (creating an SQLite file if needed), handing back
/// the engine's pool too: the job queue lives in the same database.
pub async fn connect(url: &DatabaseUrl) -> Result<(Arc<dyn Store>, Pool)> {
    if url.is_postgres() {
        let store = postgres::PgStore::connect(url.expose()).await?;
        let pool = Pool::Postgres(store.pool().clone());
        Ok((Arc::new(store), pool))
    } else {
        let store = sqlite::SqliteStore::connect(url.expose()).await?;
        let pool = Pool::Sqlite(store.pool().clone());
        Ok((Arc::new(store), pool))
    }
}

/// Where a provider status sits in a message's life; receipts only ever move it forward.
pub fn delivery_rank(status: &str) -> i32 {
    match status {
        "accepted" | "scheduled" | "queued" => 0,
        "sending" => 1,
        "sent" => 2,
        _ => 3,
    }
}
