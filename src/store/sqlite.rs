//! SQLite: the embedded default. One file, WAL, and `synchronous = FULL` so that a commit —
//! and with it the 2xx the provider sees — survives a crash and a power cut.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqliteConnection, SqlitePool, Transaction};

use super::feedback::feedback_store_impl;
use super::outbox::outbox_store_impl;
use super::patients::patient_store_impl;
use super::queue::{self, JobInsert};
use super::referrals::referral_store_impl;
use super::shared::shared_impl;
use super::staff::staff_store_impl;
use super::{Result, store_impl};

/// SQLite has one writer at a time. Every write — ours and the job queue's — goes through a
/// single connection, so writers queue in order for it instead of colliding on the database
/// lock and sleeping in SQLite's busy handler; reads use a pool of their own (WAL readers
/// never block the writer).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Readers.
    pool: SqlitePool,
    /// The one writing connection.
    writer: SqlitePool,
}

impl SqliteStore {
    pub async fn connect(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        Ok(Self { pool, writer })
    }

    /// The pool the job queue's workers run on: the writing connection, shared.
    pub fn queue_pool(&self) -> &SqlitePool {
        &self.writer
    }

    async fn requeue_orphans(&self, silent_for: Duration) -> Result<u64> {
        queue::sqlite::requeue_orphans(&self.writer, silent_for).await
    }

    /// Takes SQLite's write lock up front, so a transaction that reads then writes can never
    /// fail half-way on a lock upgrade.
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// The same as any write here: with one writer the disk sync is cheap.
    async fn begin_unsynced(&self) -> Result<Transaction<'static, Sqlite>> {
        self.begin_write().await
    }

    /// Nothing to do: `BEGIN IMMEDIATE` already serialises every writer.
    async fn lock_phone(_conn: &mut SqliteConnection, _phone: &str) -> Result<()> {
        Ok(())
    }

    async fn enqueue(conn: &mut SqliteConnection, job: &JobInsert) -> Result<()> {
        queue::sqlite::enqueue(conn, job).await
    }

    async fn enqueue_many(conn: &mut SqliteConnection, jobs: &[JobInsert]) -> Result<()> {
        queue::sqlite::enqueue_many(conn, jobs).await
    }

    async fn kill_job(conn: &mut SqliteConnection, job_id: &str) -> Result<()> {
        queue::sqlite::kill_job(conn, job_id).await
    }

    /// One gateway per SQLite file: its in-process limiter paces every send, so there is no
    /// shared slot to wait for.
    async fn reserve_slot(
        &self,
        _slot: i32,
        _interval: Duration,
        _now: DateTime<Utc>,
    ) -> Result<Duration> {
        Ok(Duration::ZERO)
    }

    async fn queue_depths(&self) -> Result<Vec<(String, i64)>> {
        queue::sqlite::depths(&self.pool).await
    }

    async fn run_migrations(&self) -> Result<()> {
        // The app and apalis share sqlx's migrations table; each ignores the other's rows.
        let mut app = sqlx::migrate!("./migrations/sqlite");
        app.set_ignore_missing(true);
        app.run(&self.writer).await?;
        let mut jobs = queue::sqlite::migrations();
        jobs.set_ignore_missing(true);
        jobs.run(&self.writer).await?;
        Ok(())
    }
}

shared_impl!(SqliteStore, SqliteConnection);
referral_store_impl!(SqliteStore, name = "json_extract(answers, '$.name')");
patient_store_impl!(SqliteStore);
outbox_store_impl!(SqliteStore);
feedback_store_impl!(SqliteStore);
staff_store_impl!(SqliteStore);
store_impl!(SqliteStore, "sqlite");
