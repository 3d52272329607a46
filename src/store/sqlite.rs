//! SQLite: the embedded default. One file, WAL, and `synchronous = FULL` so that a commit —
//! and with it the 2xx the provider sees — survives a crash and a power cut.

use std::str::FromStr;
use std::time::Duration;

use apalis_core::backend::WorkerFilter;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqliteConnection, SqlitePool, Transaction};

use super::outbox::outbox_store_impl;
use super::patients::patient_store_impl;
use super::referrals::referral_store_impl;
use super::rows::JobInsert;
use super::shared::shared_impl;
use super::{Result, queues, store_impl};

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

    /// The job queue's own rescue query, run for each queue (workers register under their
    /// queue's name).
    async fn requeue_orphans(&self, silent_for: Duration) -> Result<u64> {
        let silent_for = i64::try_from(silent_for.as_secs()).unwrap_or(i64::MAX);
        let mut tx = self.begin_write().await?;
        let mut rescued = 0;
        for queue in [queues::DELIVERIES, queues::REMINDERS] {
            rescued += apalis_sqlite::queries::reenqueue_orphaned(
                &mut *tx,
                silent_for,
                queue,
                &WorkerFilter::None,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(rescued)
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
        // apalis-sqlite's own insert, with our transaction: the job exists iff the change does.
        sqlx::query(
            "INSERT INTO Jobs (job, id, job_type, status, attempts, max_attempts, run_at, \
             last_result, lock_at, lock_by, done_at, priority, metadata, idempotency_key) \
             VALUES ($1, $2, $3, 'Pending', 0, $4, COALESCE($5, strftime('%s', 'now')), NULL, NULL, NULL, NULL, 0, NULL, $6) \
             ON CONFLICT (job_type, idempotency_key) DO NOTHING",
        )
        .bind(&job.payload)
        .bind(&job.id)
        .bind(job.queue)
        .bind(i64::from(job.max_attempts))
        .bind(job.run_at.map(|t| {
            // Whole seconds here: round up, so a job never runs before its time.
            t.timestamp() + i64::from(t.timestamp_subsec_nanos() > 0)
        }))
        .bind(&job.idempotency_key)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Withdraws a job that has not started; one that a worker holds runs, and finds its
    /// work withdrawn.
    async fn kill_job(conn: &mut SqliteConnection, job_id: &str) -> Result<()> {
        sqlx::query(
            "UPDATE Jobs SET status = 'Killed', done_at = strftime('%s', 'now') \
             WHERE id = $1 AND status = 'Pending' AND lock_by IS NULL",
        )
        .bind(job_id)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// One gateway per SQLite file: its in-process limiter paces every send, so there is no
    /// shared slot to wait for.
    async fn reserve_slot(&self, _interval: Duration, _now: DateTime<Utc>) -> Result<Duration> {
        Ok(Duration::ZERO)
    }

    async fn run_migrations(&self) -> Result<()> {
        // The app and apalis share sqlx's migrations table; each ignores the other's rows.
        let mut app = sqlx::migrate!("./migrations/sqlite");
        app.set_ignore_missing(true);
        app.run(&self.writer).await?;
        let mut jobs = apalis_sqlite::SqliteStorage::<()>::migrations();
        jobs.set_ignore_missing(true);
        jobs.run(&self.writer).await?;
        Ok(())
    }
}

shared_impl!(SqliteStore, SqliteConnection);
referral_store_impl!(SqliteStore);
patient_store_impl!(SqliteStore);
outbox_store_impl!(SqliteStore);
store_impl!(SqliteStore, "sqlite");
