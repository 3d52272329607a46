//! The job queue (apalis), which lives in the gateway's own database: everything that knows
//! how apalis stores its jobs is here.
//!
//! - Jobs are inserted by the store inside the transaction of the change that needs them
//!   (`enqueue`, written against apalis' own tables, one statement per engine), so a job
//!   exists exactly when its change does; a job not yet started can be withdrawn (`kill_job`).
//! - Workers run on the same pool (`Pool`) through apalis' own storage (`run_queue!`).
//! - A killed worker's running jobs are put back by the store's sweep (`requeue_orphans`),
//!   with apalis' own rescue query.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Result, StoreError, Ts};

/// The job queues.
pub mod queues {
    /// Sends one stored message through the provider.
    pub const DELIVERIES: &str = "deliveries";
    /// Turns one due reminder into a message.
    pub const REMINDERS: &str = "reminders";
}

/// Every queue, for the rescue of orphaned jobs.
const QUEUES: [&str; 2] = [queues::DELIVERIES, queues::REMINDERS];

/// Jobs waiting or running (a failed job with attempts left runs again), by queue, every
/// queue listed; one statement for both engines' tables.
macro_rules! depth_query {
    ($table:literal) => {
        concat!(
            "SELECT job_type, COUNT(*) FROM ",
            $table,
            " WHERE status IN ('Pending', 'Queued', 'Running') \
             OR (status = 'Failed' AND attempts < max_attempts) GROUP BY job_type"
        )
    };
}

fn every_queue(counted: Vec<(String, i64)>) -> Vec<(String, i64)> {
    QUEUES
        .iter()
        .map(|queue| {
            let depth = counted
                .iter()
                .find(|(name, _)| name == queue)
                .map_or(0, |(_, n)| *n);
            ((*queue).to_owned(), depth)
        })
        .collect()
}

/// How many times a job is tried before the queue gives up on it.
const MAX_ATTEMPTS: i32 = 25;

/// A `deliveries` job: send one stored message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub message_id: crate::domain::id::MessageId,
}

/// A `reminders` job: the reminder at the version it was scheduled for (a reschedule moves the
/// version on, leaving older jobs stale).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReminderJob {
    pub reminder_id: crate::domain::id::ReminderId,
    pub version: i64,
}

/// The engine-specific pool, for the job queue's storage to share.
#[derive(Debug, Clone)]
pub enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// A job row for the queue, written inside the caller's transaction so the job exists
/// exactly when the business change does.
#[derive(Debug, Clone)]
pub(super) struct JobInsert {
    pub id: String,
    pub queue: &'static str,
    pub payload: Vec<u8>,
    /// `None`: due now by the database's own clock.
    pub run_at: Option<DateTime<Utc>>,
    pub max_attempts: i32,
    pub idempotency_key: Option<String>,
}

fn payload<T: Serialize>(job: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(job).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Send one message now.
pub(super) fn delivery_job(message_id: &str) -> Result<JobInsert> {
    Ok(JobInsert {
        id: super::rows::new_id::<String>(),
        queue: queues::DELIVERIES,
        payload: payload(&Delivery {
            message_id: message_id.into(),
        })?,
        run_at: None,
        max_attempts: MAX_ATTEMPTS,
        idempotency_key: Some(format!("message-{message_id}")),
    })
}

/// Post one letter through GOV.UK Notify now: a `deliveries` job like a text's, under a key
/// of its own (the message may have had a text's job before it fell back to a letter).
pub(super) fn letter_job(message_id: &str) -> Result<JobInsert> {
    Ok(JobInsert {
        idempotency_key: Some(format!("letter-{message_id}")),
        ..delivery_job(message_id)?
    })
}

/// Compose one reminder at `send_at`.
pub(super) fn reminder_job(
    job_id: &str,
    reminder_id: &str,
    version: i64,
    send_at: DateTime<Utc>,
) -> Result<JobInsert> {
    Ok(JobInsert {
        id: job_id.to_owned(),
        queue: queues::REMINDERS,
        payload: payload(&ReminderJob {
            reminder_id: reminder_id.into(),
            version,
        })?,
        run_at: Some(send_at),
        max_attempts: MAX_ATTEMPTS,
        idempotency_key: Some(format!("reminder-{reminder_id}-v{version}")),
    })
}

/// apalis-sqlite's tables.
pub(super) mod sqlite {
    use apalis_core::backend::WorkerFilter;
    use sqlx::{SqliteConnection, SqlitePool};

    use super::{JobInsert, QUEUES, Result};
    use crate::store::values;

    pub async fn enqueue(conn: &mut SqliteConnection, job: &JobInsert) -> Result<()> {
        enqueue_many(conn, std::slice::from_ref(job)).await
    }

    /// apalis-sqlite's own insert, many rows to a statement, with our transaction: each job
    /// exists iff the change does.
    pub async fn enqueue_many(conn: &mut SqliteConnection, jobs: &[JobInsert]) -> Result<()> {
        const ROW: &str = "(?, ?, ?, 'Pending', 0, ?, COALESCE(?, strftime('%s', 'now')), \
                           NULL, NULL, NULL, NULL, 0, NULL, ?)";
        for chunk in jobs.chunks(values::rows_per_statement(ROW)) {
            let sql = format!(
                "INSERT INTO Jobs (job, id, job_type, status, attempts, max_attempts, run_at, \
                 last_result, lock_at, lock_by, done_at, priority, metadata, idempotency_key) \
                 VALUES {} ON CONFLICT (job_type, idempotency_key) DO NOTHING",
                values::rows(chunk.len(), ROW)
            );
            let mut query =
                sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(values::persistent(chunk.len()));
            for job in chunk {
                query = query
                    .bind(&job.payload)
                    .bind(&job.id)
                    .bind(job.queue)
                    .bind(i64::from(job.max_attempts))
                    .bind(job.run_at.map(|t| {
                        // Whole seconds here: round up, so a job never runs before its time.
                        t.timestamp() + i64::from(t.timestamp_subsec_nanos() > 0)
                    }))
                    .bind(&job.idempotency_key);
            }
            query.execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// Withdraws a job that has not started; one that a worker holds runs, and finds its
    /// work withdrawn.
    pub async fn kill_job(conn: &mut SqliteConnection, job_id: &str) -> Result<()> {
        sqlx::query(
            "UPDATE Jobs SET status = 'Killed', done_at = strftime('%s', 'now') \
             WHERE id = $1 AND status = 'Pending' AND lock_by IS NULL",
        )
        .bind(job_id)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// apalis' own rescue query, run for each queue (workers register under their queue's
    /// name), on the writing connection.
    pub async fn requeue_orphans(
        writer: &SqlitePool,
        silent_for: std::time::Duration,
    ) -> Result<u64> {
        let silent_for = i64::try_from(silent_for.as_secs()).unwrap_or(i64::MAX);
        let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
        let mut rescued = 0;
        for queue in QUEUES {
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

    pub async fn depths(pool: &SqlitePool) -> Result<Vec<(String, i64)>> {
        let counted = sqlx::query_as(depth_query!("Jobs")).fetch_all(pool).await?;
        Ok(super::every_queue(counted))
    }

    pub fn migrations() -> sqlx::migrate::Migrator {
        apalis_sqlite::SqliteStorage::<()>::migrations()
    }
}

/// apalis-postgres' tables.
pub(super) mod postgres {
    use sqlx::{PgConnection, PgPool};

    use super::{JobInsert, QUEUES, Result, StoreError, Ts};
    use crate::store::values;

    pub async fn enqueue(conn: &mut PgConnection, job: &JobInsert) -> Result<()> {
        enqueue_many(conn, std::slice::from_ref(job)).await
    }

    /// apalis-postgres' own insert, many rows to a statement, with our transaction: each job
    /// exists iff the change does.
    pub async fn enqueue_many(conn: &mut PgConnection, jobs: &[JobInsert]) -> Result<()> {
        const ROW: &str = "(?, ?, ?, 'Pending', 0, ?, COALESCE(?, now()), 0, NULL, ?)";
        for chunk in jobs.chunks(values::rows_per_statement(ROW)) {
            let sql = format!(
                "INSERT INTO apalis.jobs (id, job_type, job, status, attempts, max_attempts, run_at, \
                 priority, metadata, idempotency_key) \
                 VALUES {} ON CONFLICT (job_type, idempotency_key) DO NOTHING",
                values::rows(chunk.len(), ROW)
            );
            let mut query =
                sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(values::persistent(chunk.len()));
            for job in chunk {
                query = query
                    .bind(&job.id)
                    .bind(job.queue)
                    .bind(&job.payload)
                    .bind(job.max_attempts)
                    .bind(job.run_at.map(Ts))
                    .bind(&job.idempotency_key);
            }
            query.execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// Withdraws a job that has not started; one that a worker holds runs, and finds its
    /// work withdrawn.
    pub async fn kill_job(conn: &mut PgConnection, job_id: &str) -> Result<()> {
        sqlx::query(
            "UPDATE apalis.jobs SET status = 'Killed', done_at = now() \
             WHERE id = $1 AND status = 'Pending' AND lock_by IS NULL",
        )
        .bind(job_id)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// apalis' own rescue query, run for each queue (workers register under their queue's
    /// name).
    pub async fn requeue_orphans(pool: &PgPool, silent_for: std::time::Duration) -> Result<u64> {
        let mut conn = pool.acquire().await?;
        let mut rescued = 0;
        for queue in QUEUES {
            rescued += apalis_postgres::queries::reenqueue_orphaned(
                &mut *conn,
                queue,
                silent_for.as_secs(),
            )
            .await
            .map_err(|e| match e {
                apalis_postgres::Error::Database(e) => StoreError::Database(e),
                other => StoreError::Corrupt(other.to_string()),
            })?;
        }
        Ok(rescued)
    }

    pub async fn depths(pool: &PgPool) -> Result<Vec<(String, i64)>> {
        let counted = sqlx::query_as(depth_query!("apalis.jobs"))
            .fetch_all(pool)
            .await?;
        Ok(super::every_queue(counted))
    }

    pub fn migrations() -> sqlx::migrate::Migrator {
        apalis_postgres::PostgresStorage::<()>::migrations()
    }
}

/// A worker for one queue: apalis' storage for the engine, polled with `poll::Tick`, its
/// heartbeat, `CONCURRENCY` jobs at once, panics caught. One body for both engines.
macro_rules! monitor {
    ($storage:ty, $config:path, $pool:expr, $queue:expr, $name:expr, $poll:expr, $heartbeat:expr, $ctx:expr, $handler:path, $signal:expr) => {{
        let pool = $pool.clone();
        apalis::prelude::Monitor::new()
            .shutdown_timeout(std::time::Duration::from_secs(10))
            .register(move |restarts| {
                use apalis::prelude::{BackendExt, WorkerBuilderExt};
                let storage = <$storage>::new(&pool).with_config(
                    <$config>::default()
                        .queue($queue)
                        .heartbeat_interval($heartbeat)
                        .missed_heartbeats($crate::jobs::MISSED_HEARTBEATS as usize),
                );
                apalis::prelude::WorkerBuilder::new(format!("{}-{restarts}", $name))
                    .backend(storage.poll_with_strategy($crate::jobs::poll::Tick::every($poll)))
                    .data($ctx.clone())
                    .concurrency($crate::jobs::CONCURRENCY)
                    .catch_panic()
                    .enable_tracing()
                    .build($handler)
            })
            .run_with_signal($signal)
            .await
    }};
}
pub(crate) use monitor;

/// Runs one queue's workers on the engine's storage until `$signal`.
macro_rules! run_queue {
    ($pool:expr, $args:ty, $queue:expr, $name:expr, $poll:expr, $heartbeat:expr, $ctx:expr, $handler:path, $signal:expr) => {
        match $pool {
            $crate::store::Pool::Sqlite(pool) => $crate::store::queue::monitor!(
                apalis_sqlite::SqliteStorage::<$args>,
                apalis_sqlite::Config,
                pool,
                $queue,
                $name,
                $poll,
                $heartbeat,
                $ctx,
                $handler,
                $signal
            ),
            $crate::store::Pool::Postgres(pool) => $crate::store::queue::monitor!(
                apalis_postgres::PostgresStorage::<$args>,
                apalis_postgres::Config,
                pool,
                $queue,
                $name,
                $poll,
                $heartbeat,
                $ctx,
                $handler,
                $signal
            ),
        }
    };
}
pub(crate) use run_queue;
