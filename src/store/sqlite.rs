//! SQLite: the embedded default. One file, WAL, and `synchronous = FULL` so that a commit —
//! and with it the 2xx the provider sees — survives a crash and a power cut.

use std::ops::{Deref, DerefMut};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqliteConnection, SqlitePool, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

use chrono::{DateTime, Utc};

use super::outbox::outbox_store_impl;
use super::patients::patient_store_impl;
use super::referrals::referral_store_impl;
use super::rows::JobInsert;
use super::shared::shared_impl;
use super::{Result, Ts, store_impl};

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// SQLite has one writer at a time. Queueing our writers here, in order, instead of in
    /// SQLite's busy handler (which sleeps and retries) keeps latency flat under load.
    writer: Arc<Mutex<()>>,
}

/// A write transaction holding this process's writer turn until it ends.
pub(super) struct WriteTx {
    tx: Transaction<'static, Sqlite>,
    _turn: OwnedMutexGuard<()>,
}

impl WriteTx {
    pub async fn commit(self) -> Result<()> {
        Ok(self.tx.commit().await?)
    }
}

impl Deref for WriteTx {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.tx
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }
}

impl SqliteStore {
    pub async fn connect(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        Ok(Self {
            pool,
            writer: Arc::new(Mutex::new(())),
        })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Takes SQLite's write lock up front, so a transaction that reads then writes can never
    /// fail half-way on a lock upgrade.
    async fn begin_write(&self) -> Result<WriteTx> {
        let turn = self.writer.clone().lock_owned().await;
        Ok(WriteTx {
            tx: self.pool.begin_with("BEGIN IMMEDIATE").await?,
            _turn: turn,
        })
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
        .bind(job.run_at.map(|t| t.timestamp()))
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

    /// One row holds the next free send slot for every gateway on this file (they share the
    /// machine, and so its clock).
    async fn reserve_slot(&self, interval: Duration, now: DateTime<Utc>) -> Result<Duration> {
        let mut tx = self.begin_write().await?;
        let next: Option<(Ts,)> = sqlx::query_as("SELECT next_slot FROM sms_rate WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await?;
        let slot = next.map_or(now, |(next,)| next.0.max(now));
        let step = chrono::TimeDelta::from_std(interval).unwrap_or(chrono::TimeDelta::MAX);
        sqlx::query(
            "INSERT INTO sms_rate (id, next_slot) VALUES (1, $1) \
             ON CONFLICT (id) DO UPDATE SET next_slot = excluded.next_slot",
        )
        .bind(Ts(slot + step))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((slot - now).to_std().unwrap_or_default())
    }

    async fn run_migrations(&self) -> Result<()> {
        // The app and apalis share sqlx's migrations table; each ignores the other's rows.
        let mut app = sqlx::migrate!("./migrations/sqlite");
        app.set_ignore_missing(true);
        app.run(&self.pool).await?;
        let mut jobs = apalis_sqlite::SqliteStorage::<()>::migrations();
        jobs.set_ignore_missing(true);
        jobs.run(&self.pool).await?;
        Ok(())
    }
}

shared_impl!(SqliteStore, SqliteConnection);
referral_store_impl!(SqliteStore);
patient_store_impl!(SqliteStore);
outbox_store_impl!(SqliteStore);
store_impl!(SqliteStore, "sqlite");
