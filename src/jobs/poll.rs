//! How often an idle worker asks the queue for work.
//!
//! apalis-core 1.0's `IntervalStrategy` replaces its timer when it fires but does not poll the
//! new one, so the worker's waker is not registered with it. When that firing coincides with a
//! fetch that comes back empty, the worker parks with no timer armed and sleeps until something
//! else wakes it: the next heartbeat (5 s by default), or never sooner. A due reminder or an
//! on-call alert then waits that long. `Tick` arms each new timer at once.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use apalis_core::backend::ext::poll_strategy::{PollSnapshot, PollStrategy};
use tokio::time::{Instant, Sleep, sleep_until};

/// Wakes the worker every `interval`, with the next wake-up always armed.
#[derive(Debug)]
pub struct Tick {
    interval: Duration,
    timer: Pin<Box<Sleep>>,
}

impl Tick {
    pub fn every(interval: Duration) -> Self {
        Self {
            interval,
            timer: Box::pin(sleep_until(Instant::now() + interval)),
        }
    }
}

impl PollStrategy for Tick {
    fn poll_drive(&mut self, cx: &mut Context<'_>, _: &PollSnapshot) -> Poll<Option<()>> {
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.timer.as_mut().reset(Instant::now() + self.interval);
                // Arm the next tick now, with this task's waker: nothing else may wake the
                // worker once the fetch it is about to make comes back empty.
                let _ = self.timer.as_mut().poll(cx);
                Poll::Ready(Some(()))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::task::Wake;

    use tokio::sync::Notify;

    use super::*;

    struct Woken(Notify);

    impl Wake for Woken {
        fn wake(self: Arc<Self>) {
            self.0.notify_one();
        }
    }

    #[tokio::test]
    async fn every_tick_leaves_the_next_one_armed() {
        let woken = Arc::new(Woken(Notify::new()));
        let waker = std::task::Waker::from(woken.clone());
        let mut cx = Context::from_waker(&waker);
        let mut tick = Tick::every(Duration::from_millis(20));
        let snapshot = PollSnapshot::default();
        assert!(tick.poll_drive(&mut cx, &snapshot).is_pending());
        for round in 1..=5 {
            // Nobody polls the strategy between ticks, as when the worker is parked after an
            // empty fetch: only the armed timer can wake it. (apalis-core's IntervalStrategy
            // fails here from the second round on.)
            tokio::time::timeout(Duration::from_secs(10), woken.0.notified())
                .await
                .unwrap_or_else(|_| panic!("tick {round} never woke the worker"));
            while tick.poll_drive(&mut cx, &snapshot).is_pending() {
                tokio::time::timeout(Duration::from_secs(10), woken.0.notified())
                    .await
                    .unwrap_or_else(|_| panic!("tick {round} never woke the worker"));
            }
        }
    }
}
