//! PostgreSQL: for a deployment of several gateway replicas sharing one database.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use super::feedback::feedback_store_impl;
use super::outbox::outbox_store_impl;
use super::patients::patient_store_impl;
use super::queue::{self, JobInsert};
use super::referrals::referral_store_impl;
use super::shared::shared_impl;
use super::staff::staff_store_impl;
use super::{Result, store_impl};

#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    pub async fn connect(url: &str) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>> {
        Ok(self.pool.begin().await?)
    }

    /// A write transaction for bookkeeping that need not survive a crash.
    async fn begin_unsynced(&self) -> Result<Transaction<'static, Postgres>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    /// Texts from one number are handled one at a time across every replica, so no
    /// conversation step is ever applied twice or out of order.
    /// A text from a person in a transaction of its own. Texts from different numbers commit
    /// side by side on the pool's connections, and PostgreSQL's WAL writer already flushes
    /// commits that arrive together with one write, so they need no batching here.
    async fn write_inbound(
        &self,
        text: &super::InboundText,
        decide: super::Decide<'_>,
    ) -> Result<super::InboundOutcome> {
        let mut tx = self.begin_write().await?;
        Self::lock_phone(&mut tx, text.from.e164()).await?;
        let outcome = Self::inbound_in(&mut tx, text, decide).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn lock_phone(conn: &mut PgConnection, phone: &str) -> Result<()> {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(phone)
            .execute(conn)
            .await?;
        Ok(())
    }

    async fn enqueue(conn: &mut PgConnection, job: &JobInsert) -> Result<()> {
        queue::postgres::enqueue(conn, job).await
    }

    async fn enqueue_many(conn: &mut PgConnection, jobs: &[JobInsert]) -> Result<()> {
        queue::postgres::enqueue_many(conn, jobs).await
    }

    async fn kill_job(conn: &mut PgConnection, job_id: &str) -> Result<()> {
        queue::postgres::kill_job(conn, job_id).await
    }

    async fn requeue_orphans(&self, silent_for: Duration) -> Result<u64> {
        queue::postgres::requeue_orphans(&self.pool, silent_for).await
    }

    /// One row per provider holds its next free send slot for every replica; the database's
    /// own clock decides, so replicas' clocks need not agree.
    async fn reserve_slot(
        &self,
        slot: i32,
        interval: Duration,
        _now: DateTime<Utc>,
    ) -> Result<Duration> {
        let mut tx = self.pool.begin().await?;
        // Losing a reservation in a crash costs nothing; no need to wait for the disk.
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(&mut *tx)
            .await?;
        let (wait,): (f64,) = sqlx::query_as(
            "WITH slot AS ( \
               INSERT INTO sms_rate (id, next_slot) VALUES ($2, clock_timestamp() + make_interval(secs => $1)) \
               ON CONFLICT (id) DO UPDATE SET next_slot = \
                 GREATEST(sms_rate.next_slot, clock_timestamp()) + make_interval(secs => $1) \
               RETURNING next_slot) \
             SELECT EXTRACT(EPOCH FROM (next_slot - make_interval(secs => $1) - clock_timestamp()))::float8 FROM slot",
        )
        .bind(interval.as_secs_f64())
        .bind(slot)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Duration::from_secs_f64(wait.max(0.0)))
    }

    async fn queue_depths(&self) -> Result<Vec<(String, i64)>> {
        queue::postgres::depths(&self.pool).await
    }

    async fn run_migrations(&self) -> Result<()> {
        // The app and apalis share sqlx's migrations table; each ignores the other's rows.
        let mut app = sqlx::migrate!("./migrations/postgres");
        app.set_ignore_missing(true);
        app.run(&self.pool).await?;
        let mut jobs = queue::postgres::migrations();
        jobs.set_ignore_missing(true);
        jobs.run(&self.pool).await?;
        Ok(())
    }
}

shared_impl!(PgStore, PgConnection);
// A name is looked for only in answers PostgreSQL's JSON can read (an escaped U+0000 cannot be).
referral_store_impl!(
    PgStore,
    PgConnection,
    name = "(CASE WHEN strpos(answers, '\\u0000') = 0 THEN answers::jsonb ->> 'name' END)"
);
patient_store_impl!(PgStore);
outbox_store_impl!(PgStore);
feedback_store_impl!(PgStore);
staff_store_impl!(PgStore);
store_impl!(PgStore, "postgres");
