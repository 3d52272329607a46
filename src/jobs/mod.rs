//! The job queue (apalis, in the same database) and the jobs it runs.
//!
//! Jobs are enqueued by the store inside the transaction of the change that needs them; the
//! handlers here are plain async functions, callable directly in tests. Every handler is safe
//! to run twice: delivery is at-least-once, and each checks the database before acting.

pub mod delivery;
pub mod failover;
pub mod feedback;
pub mod reminders;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::store::queue::run_queue;
use crate::store::{Delivery, Pool, ReminderJob, queues};

pub mod poll;
use delivery::DeliveryContext;
use reminders::ReminderContext;

/// How many jobs of one queue a process runs at once.
pub(crate) const CONCURRENCY: usize = 4;

/// A killed worker's jobs are taken up again after it missed this many heartbeats.
pub(crate) const MISSED_HEARTBEATS: u32 = 3;

/// A worker silent this long is taken as dead, and its running jobs go back in the queue.
pub fn orphaned_after(heartbeat: Duration) -> Duration {
    heartbeat * MISSED_HEARTBEATS
}

/// What the workers run with.
#[derive(Debug, Clone)]
pub struct Workers {
    pub pool: Pool,
    pub delivery: Arc<DeliveryContext>,
    pub reminders: Arc<ReminderContext>,
    pub poll_interval: Duration,
    pub heartbeat: Duration,
}

/// Runs every queue's workers until `shutdown`, restarting them (after a pause) if the
/// database goes away and comes back.
pub async fn run(workers: Workers, shutdown: CancellationToken) {
    // Worker names are unique per process so a restarted gateway rescues the jobs a killed
    // one left running instead of waiting for its own old name to go stale.
    let instance = crate::new_id().to_lowercase();
    let deliveries = supervise(queues::DELIVERIES, shutdown.clone(), {
        let workers = workers.clone();
        let instance = instance.clone();
        move |generation, signal| {
            let workers = workers.clone();
            let name = format!("{}-{instance}-{generation}", queues::DELIVERIES);
            async move {
                run_queue!(
                    &workers.pool,
                    Delivery,
                    queues::DELIVERIES,
                    name,
                    workers.poll_interval,
                    workers.heartbeat,
                    workers.delivery,
                    delivery::deliver,
                    signal
                )
            }
        }
    });
    let reminders = supervise(
        queues::REMINDERS,
        shutdown.clone(),
        move |generation, signal| {
            let workers = workers.clone();
            let name = format!("{}-{instance}-{generation}", queues::REMINDERS);
            async move {
                run_queue!(
                    &workers.pool,
                    ReminderJob,
                    queues::REMINDERS,
                    name,
                    workers.poll_interval,
                    workers.heartbeat,
                    workers.reminders,
                    reminders::remind,
                    signal
                )
            }
        },
    );
    tokio::join!(deliveries, reminders);
}

/// Runs `start` until shutdown, starting it again two seconds after each failure.
async fn supervise<F, Fut>(queue: &'static str, shutdown: CancellationToken, start: F)
where
    F: Fn(usize, futures::future::BoxFuture<'static, std::io::Result<()>>) -> Fut,
    Fut: std::future::Future<Output = Result<(), apalis::prelude::MonitorError>>,
{
    let mut generation = 0usize;
    while !shutdown.is_cancelled() {
        generation += 1;
        let signal = {
            let shutdown = shutdown.clone();
            Box::pin(async move {
                shutdown.cancelled().await;
                Ok(())
            }) as futures::future::BoxFuture<'static, std::io::Result<()>>
        };
        if let Err(error) = start(generation, signal).await {
            tracing::error!(queue, %error, "workers stopped; restarting shortly");
        }
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}
