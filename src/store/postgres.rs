//! PostgreSQL: for a deployment of several gateway replicas sharing one database.

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres, Transaction};

use super::queries::{JobInsert, store_impl};
use super::{Result, Ts};

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

    /// Texts from one number are handled one at a time across every replica, so no
    /// conversation step is ever applied twice or out of order.
    async fn lock_phone(tx: &mut Transaction<'static, Postgres>, phone: &str) -> Result<()> {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(phone)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn enqueue(tx: &mut Transaction<'static, Postgres>, job: &JobInsert) -> Result<()> {
        // apalis-postgres' own insert, with our transaction: the job exists iff the change does.
        sqlx::query(
            "INSERT INTO apalis.jobs (id, job_type, job, status, attempts, max_attempts, run_at, \
             priority, metadata, idempotency_key) \
             VALUES ($1, $2, $3, 'Pending', 0, $4, COALESCE($5, now()), 0, NULL, $6) \
             ON CONFLICT (job_type, idempotency_key) DO NOTHING",
        )
        .bind(&job.id)
        .bind(job.queue)
        .bind(&job.payload)
        .bind(job.max_attempts)
        .bind(job.run_at.map(Ts))
        .bind(&job.idempotency_key)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn run_migrations(&self) -> Result<()> {
        // The app and apalis share sqlx's migrations table; each ignores the other's rows.
        let mut app = sqlx::migrate!("./migrations/postgres");
        app.set_ignore_missing(true);
        app.run(&self.pool).await?;
        let mut jobs = apalis_postgres::PostgresStorage::<()>::migrations();
        jobs.set_ignore_missing(true);
        jobs.run(&self.pool).await?;
        Ok(())
    }
}

store_impl!(PgStore, Postgres, "postgres");
