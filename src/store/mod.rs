//! Storage: the only place that speaks SQL. `Store` is implemented for SQLite (the embedded
//! default) and PostgreSQL (several replicas on one database) from one body of queries written
//! once per area (`referrals.rs`, `patients.rs`, `outbox.rs`); each engine adds its own
//! transaction start, per-number lock and job-queue statements.

mod feedback;
mod outbox;
mod patients;
mod postgres;
pub(crate) mod queue;
mod referrals;
mod retention;
mod rows;
mod sessions;
mod shared;
mod sqlite;
pub(crate) mod staff;
mod ts;
mod values;

pub use feedback::*;
pub use outbox::*;
pub use patients::*;
pub(crate) use queue::queues;
pub use queue::{Delivery, Pool, ReminderJob};
pub use referrals::*;
pub use sessions::ConsoleSessions;
pub use sqlite::GROUP_COMMITTED;
pub use staff::{ApiTokenRecord, NewApiToken, PasswordLink, Revoked, SessionRow, StaffStore, User};

use std::sync::Arc;

use async_trait::async_trait;

pub(crate) use ts::{OptionalTs, Ts};

use crate::config::DatabaseUrl;

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
    /// The actor has queued their day's allowance of messages
    /// (`CRHT_MESSAGES_PER_TOKEN_PER_DAY`); the day (UTC) ends in `retry_after_secs`.
    #[error("this token has queued its messages for the day")]
    AllowanceSpent { retry_after_secs: u64 },
}

impl StoreError {
    /// The database is unreachable, overloaded or out of room (the caller should answer 503
    /// with `Retry-After`, not 500): the same request is worth trying again later.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Database(
                sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
                | sqlx::Error::WorkerCrashed,
            ) => true,
            StoreError::Database(sqlx::Error::Database(e)) => {
                e.code().is_some_and(|code| code_is_unavailable(&code))
            }
            _ => false,
        }
    }
}

/// Whether a database's error code says "not now" rather than "never". PostgreSQL's SQLSTATE:
/// class 08 (connection exception), class 53 (insufficient resources: disk full, out of
/// memory, too many connections), 55000 (object not in prerequisite state, e.g. a replica
/// that cannot take writes yet), class 57 (operator intervention: 57P03 cannot connect now,
/// a shutdown, a cancelled statement). SQLite's result codes, extended ones included:
/// `SQLITE_BUSY` (5), `SQLITE_LOCKED` (6), `SQLITE_NOMEM` (7), `SQLITE_IOERR` (10) and
/// `SQLITE_FULL` (13).
fn code_is_unavailable(code: &str) -> bool {
    if code.len() == 5 {
        // A SQLSTATE: always five characters (SQLite's codes are at most four digits).
        return ["08", "53", "57"]
            .iter()
            .any(|class| code.starts_with(class))
            || code == "55000";
    }
    // SQLite's primary result code is the low byte of an extended one.
    code.parse::<u32>()
        .is_ok_and(|sqlite| matches!(sqlite & 0xff, 5 | 6 | 7 | 10 | 13))
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// How far ahead reminders are put into the job queue. Further ones wait in `reminders`, and
/// a sweep queues them as they come within reach.
pub(crate) fn queue_horizon() -> chrono::TimeDelta {
    chrono::TimeDelta::minutes(10)
}

/// Implements `Store` (the engine's name, migrations, a ping) for an engine's store.
macro_rules! store_impl {
    ($store:ty, $engine:literal) => {
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

            async fn rescue_orphaned_jobs(
                &self,
                silent_for: std::time::Duration,
            ) -> $crate::store::Result<u64> {
                self.requeue_orphans(silent_for).await
            }

            async fn gauges(&self) -> $crate::store::Result<$crate::store::Gauges> {
                let (urgent_referrals,): (i64,) = sqlx::query_as(concat!(
                    "SELECT COUNT(*) FROM referrals WHERE ",
                    $crate::store::unacknowledged_urgent_referral!()
                ))
                .fetch_one(&self.pool)
                .await?;
                let (urgent_patients,): (i64,) =
                    sqlx::query_as("SELECT COUNT(*) FROM patients WHERE urgent")
                        .fetch_one(&self.pool)
                        .await?;
                let oldest: Option<($crate::store::Ts,)> = sqlx::query_as(concat!(
                    "SELECT at FROM (",
                    "SELECT COALESCE(urgent_at, updated_at) AS at FROM referrals WHERE ",
                    $crate::store::unacknowledged_urgent_referral!(),
                    " UNION ALL SELECT COALESCE(urgent_at, updated_at) AS at FROM patients WHERE urgent",
                    ") AS waiting ORDER BY at LIMIT 1"
                ))
                .fetch_optional(&self.pool)
                .await?;
                let messages: Vec<(String, i64)> =
                    sqlx::query_as("SELECT status, COUNT(*) FROM messages GROUP BY status ORDER BY status")
                        .fetch_all(&self.pool)
                        .await?;
                Ok($crate::store::Gauges {
                    urgent_referrals,
                    urgent_patients,
                    oldest_unacknowledged_urgent: oldest.map(|(at,)| at.0),
                    queue_depths: self.queue_depths().await?,
                    messages,
                })
            }
        }
    };
}
use store_impl;

/// An urgent referral nobody has acknowledged yet (SQL, for `WHERE`).
macro_rules! unacknowledged_urgent_referral {
    () => {
        "urgent AND acknowledged_at IS NULL \
         AND status NOT IN ('acknowledged', 'accepted', 'closed')"
    };
}
pub(crate) use unacknowledged_urgent_referral;

/// How the team's work stands, read when metrics are scraped (from the database every
/// replica shares, so each replica reports the same).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gauges {
    /// Urgent referrals nobody has acknowledged.
    pub urgent_referrals: i64,
    /// Patients with an open urgent episode.
    pub urgent_patients: i64,
    /// When the longest-waiting of those became urgent.
    pub oldest_unacknowledged_urgent: Option<chrono::DateTime<chrono::Utc>>,
    /// Jobs waiting or running, by queue (every queue listed).
    pub queue_depths: Vec<(String, i64)>,
    /// Messages by status.
    pub messages: Vec<(String, i64)>,
}

/// Everything the gateway keeps.
#[async_trait]
pub trait Store:
    ReferralStore
    + PatientStore
    + OutboxStore
    + StaffStore
    + FeedbackStore
    + Send
    + Sync
    + std::fmt::Debug
    + 'static
{
    fn engine(&self) -> &'static str;

    /// Text as this engine can hold it: as received, except U+0000, which PostgreSQL's text
    /// type cannot store, becomes U+FFFD (the replacement character) there. Everything else
    /// a person sent is kept byte for byte (safety rule 7).
    fn storable<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        if self.engine() == "postgres" && text.contains('\0') {
            std::borrow::Cow::Owned(text.replace('\0', "\u{FFFD}"))
        } else {
            std::borrow::Cow::Borrowed(text)
        }
    }

    /// Applies the app's migrations and the job queue's.
    async fn migrate(&self) -> Result<()>;

    async fn ping(&self) -> Result<()>;

    /// Puts back in the queue every job held by a worker silent for `silent_for` (its process
    /// was killed); how many. The queue's own heartbeat does this too, but only from a worker
    /// that has lived a whole heartbeat, which a gateway restarted again and again never does.
    async fn rescue_orphaned_jobs(&self, silent_for: std::time::Duration) -> Result<u64>;

    /// How the team's work stands now (one cheap query per figure).
    async fn gauges(&self) -> Result<Gauges>;
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
        let pool = Pool::Sqlite(store.queue_pool().clone());
        Ok((Arc::new(store), pool))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_full_and_resource_errors_are_worth_retrying_and_constraint_errors_are_not() {
        for code in [
            "53100", "53200", "53300", "53400", "55000", "57P03", "57P01", "08006", "5", "6", "13",
            "261", "517", "773", "262", "10", "266",
        ] {
            assert!(code_is_unavailable(code), "{code}");
        }
        // Unique and check violations, a syntax error, a serialization failure, and
        // SQLite's constraint codes are not the database's state but the request's.
        for code in [
            "23505", "23514", "42601", "40001", "22012", "19", "2067", "1555", "1",
        ] {
            assert!(!code_is_unavailable(code), "{code}");
        }
    }

    #[tokio::test]
    async fn a_stored_word_decodes_into_its_enum_and_an_unknown_word_is_refused() {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:")
            .await
            .expect("in-memory sqlite");
        let status: MessageStatus = sqlx::query_scalar("SELECT $1")
            .bind(MessageStatus::TaskCreated)
            .fetch_one(&pool)
            .await
            .expect("a known word");
        assert_eq!(status, MessageStatus::TaskCreated);
        let unknown = sqlx::query_scalar::<_, MessageStatus>("SELECT 'read'")
            .fetch_one(&pool)
            .await;
        assert!(
            unknown.is_err(),
            "a word the enum does not know: {unknown:?}"
        );
        let id: crate::domain::id::ReferralId = sqlx::query_scalar("SELECT $1")
            .bind(crate::domain::id::ReferralId::from("01JDQ3ZP7W"))
            .fetch_one(&pool)
            .await
            .expect("an id");
        assert_eq!(id, "01JDQ3ZP7W");
    }

    #[test]
    fn receipts_move_a_text_forward_only() {
        use MessageStatus::*;
        assert!(Queued.rank() < Sending.rank());
        assert!(Sending.rank() < Sent.rank());
        assert!(Sent.rank() < Delivered.rank());
        assert_eq!(Delivered.rank(), Undelivered.rank());
    }
}
