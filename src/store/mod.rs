//! Storage: the only place that speaks SQL. `Store` is implemented for SQLite (the embedded
//! default) and PostgreSQL (several replicas on one database) from one body of queries written
//! once per area (`referrals.rs`, `patients.rs`, `outbox.rs`); each engine adds its own
//! transaction start, per-number lock and job-queue statements.

mod outbox;
mod patients;
mod postgres;
pub(crate) mod queue;
mod referrals;
mod rows;
mod sessions;
mod shared;
mod sqlite;
pub(crate) mod staff;
mod ts;

pub use outbox::*;
pub use patients::*;
pub use queue::{Delivery, Pool, ReminderJob, queues};
pub use referrals::*;
pub use sessions::ConsoleSessions;
pub use staff::{ApiTokenRecord, NewApiToken, PasswordLink, Revoked, SessionRow, StaffStore, User};

use std::sync::Arc;

use async_trait::async_trait;

pub use ts::{OptionalTs, Ts};

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

/// How far ahead reminders are put into the job queue. Further ones wait in `reminders`, and
/// a sweep queues them as they come within reach.
pub fn queue_horizon() -> chrono::TimeDelta {
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
        }
    };
}
use store_impl;

/// Everything the gateway keeps.
#[async_trait]
pub trait Store:
    ReferralStore + PatientStore + OutboxStore + StaffStore + Send + Sync + std::fmt::Debug + 'static
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

/// Where a provider status sits in a message's life; receipts only ever move it forward.
pub fn delivery_rank(status: &str) -> i32 {
    match status {
        "accepted" | "scheduled" | "queued" => 0,
        "sending" => 1,
        "sent" => 2,
        _ => 3,
    }
}
