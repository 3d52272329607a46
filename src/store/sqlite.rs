//! SQLite: the embedded default. One file, WAL, and `synchronous = FULL` so that a commit —
//! and with it the 2xx the provider sees — survives a crash and a power cut.

use std::ops::{Deref, DerefMut};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqliteConnection, SqlitePool, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::Result;
use super::queries::{JobInsert, store_impl};

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
    async fn lock_phone(_tx: &mut WriteTx, _phone: &str) -> Result<()> {
        Ok(())
    }

    async fn enqueue(tx: &mut WriteTx, job: &JobInsert) -> Result<()> {
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
        .execute(&mut **tx)
        .await?;
        Ok(())
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

store_impl!(SqliteStore, Sqlite, "sqlite");
