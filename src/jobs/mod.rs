//! The job queue (apalis, in the same database) and the jobs it runs.
//!
//! Jobs are enqueued by the store inside the transaction of the change that needs them; the
//! handlers here are plain async functions, callable directly in tests.

pub mod delivery;

use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::BackendExt;
use apalis::prelude::{Monitor, WorkerBuilder, WorkerBuilderExt};
use tokio_util::sync::CancellationToken;

use crate::store::{DELIVERY_QUEUE, Delivery, Pool};
use delivery::DeliveryContext;

/// How many messages one process sends at once.
const DELIVERY_CONCURRENCY: usize = 4;

/// A killed worker's jobs are taken up again after `HEARTBEAT × MISSED_HEARTBEATS`.
const HEARTBEAT: Duration = Duration::from_secs(5);
const MISSED_HEARTBEATS: usize = 3;

/// Runs the delivery workers until `shutdown`, restarting them (after a pause) if the
/// database goes away and comes back.
pub async fn run_delivery_workers(
    pool: Pool,
    ctx: Arc<DeliveryContext>,
    poll_interval: Duration,
    shutdown: CancellationToken,
) {
    // Worker names must be unique per process so a restarted gateway rescues the jobs a
    // killed one left running instead of waiting for its own old name to go stale.
    let instance = ulid::Ulid::generate().to_string().to_lowercase();
    let mut generation = 0usize;
    while !shutdown.is_cancelled() {
        generation += 1;
        let name = format!("{DELIVERY_QUEUE}-{instance}-{generation}");
        let signal = {
            let shutdown = shutdown.clone();
            async move {
                shutdown.cancelled().await;
                Ok(())
            }
        };
        let ctx = ctx.clone();
        let result = match &pool {
            Pool::Sqlite(pool) => {
                let pool = pool.clone();
                Monitor::new()
                    .shutdown_timeout(Duration::from_secs(10))
                    .register(move |restarts| {
                        let storage = apalis_sqlite::SqliteStorage::<Delivery>::new(&pool)
                            .with_config(
                                apalis_sqlite::Config::default()
                                    .queue(DELIVERY_QUEUE)
                                    .heartbeat_interval(HEARTBEAT)
                                    .missed_heartbeats(MISSED_HEARTBEATS),
                            );
                        WorkerBuilder::new(format!("{name}-{restarts}"))
                            .backend(storage.poll_with_interval(poll_interval))
                            .data(ctx.clone())
                            .concurrency(DELIVERY_CONCURRENCY)
                            .catch_panic()
                            .enable_tracing()
                            .build(delivery::deliver)
                    })
                    .run_with_signal(signal)
                    .await
            }
            Pool::Postgres(pool) => {
                let pool = pool.clone();
                Monitor::new()
                    .shutdown_timeout(Duration::from_secs(10))
                    .register(move |restarts| {
                        let storage = apalis_postgres::PostgresStorage::<Delivery>::new(&pool)
                            .with_config(
                                apalis_postgres::Config::default()
                                    .queue(DELIVERY_QUEUE)
                                    .heartbeat_interval(HEARTBEAT)
                                    .missed_heartbeats(MISSED_HEARTBEATS),
                            );
                        WorkerBuilder::new(format!("{name}-{restarts}"))
                            .backend(storage.poll_with_interval(poll_interval))
                            .data(ctx.clone())
                            .concurrency(DELIVERY_CONCURRENCY)
                            .catch_panic()
                            .enable_tracing()
                            .build(delivery::deliver)
                    })
                    .run_with_signal(signal)
                    .await
            }
        };
        if let Err(error) = result {
            tracing::error!(%error, "delivery workers stopped; restarting shortly");
        }
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}
