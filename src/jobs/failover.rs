//! The SMS providers in their order of preference (`CRHT_SMS_PROVIDERS`), and which one a
//! text goes through now.
//!
//! A provider that has answered nothing but outages (5xx, a timeout, a refused connection)
//! for `CRHT_FAILOVER_AFTER` is rested: texts go through the next one. After resting as long
//! again it is tried once more; one good answer brings it back, one more outage rests it
//! again. A refusal for good (a 400) is an answer: the provider is up. A 429 says nothing
//! either way (a provider in trouble often throttles between its 500s). Each replica
//! keeps its own view; their decisions need not agree, as either provider delivers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::delivery::Pace;
use crate::channels::sms::{SendError, SentSms, SmsProvider};
use crate::metrics::Metrics;

/// One provider and the pace of its own rate limit.
#[derive(Debug)]
pub struct Route {
    pub provider: Arc<dyn SmsProvider>,
    pub pace: Pace,
}

/// What a provider's recent answers say of it.
#[derive(Debug, Clone, Copy, Default)]
struct Health {
    /// Since when every answer has been an outage; `None` while it answers.
    failing_since: Option<Instant>,
    /// Rested: passed over until then, then tried again.
    rested_until: Option<Instant>,
}

/// The providers, first preferred.
#[derive(Debug)]
pub struct Providers {
    routes: Vec<Route>,
    after: Duration,
    health: Mutex<Vec<Health>>,
    metrics: Metrics,
}

impl Providers {
    /// `routes` in order of preference; at least one.
    pub fn new(routes: Vec<Route>, after: Duration, metrics: Metrics) -> Self {
        assert!(!routes.is_empty(), "at least one SMS provider");
        let providers = Self {
            health: Mutex::new(vec![Health::default(); routes.len()]),
            routes,
            after,
            metrics,
        };
        providers.show(0);
        providers
    }

    /// The provider (its index) a text goes through at `now`: the first one not rested. When
    /// every one is rested, the one whose rest ends first.
    pub fn choose(&self, now: Instant) -> usize {
        let health = self.health();
        health
            .iter()
            .position(|h| h.rested_until.is_none_or(|until| until <= now))
            .unwrap_or_else(|| {
                (0..health.len())
                    .min_by_key(|&i| health[i].rested_until)
                    .unwrap_or(0)
            })
    }

    /// How many providers there are.
    pub fn count(&self) -> usize {
        self.routes.len()
    }

    pub fn route(&self, index: usize) -> &Route {
        &self.routes[index]
    }

    /// What provider `index` answered at `now`, for the next choice.
    pub fn report(&self, index: usize, result: &Result<SentSms, SendError>, now: Instant) {
        if matches!(result, Err(SendError::RateLimited { .. })) {
            return;
        }
        let outage = matches!(result, Err(SendError::Transient(_)));
        let mut health = self.health();
        let name = self.routes[index].provider.name();
        let h = &mut health[index];
        if !outage {
            h.failing_since = None;
            if h.rested_until.take().is_some() {
                tracing::info!(provider = name, "SMS provider answers again: back in use");
                drop(health);
                self.show(self.choose(now));
            }
            return;
        }
        if self.routes.len() == 1 {
            // Nothing to fail over to: the delivery policy's retries and fallbacks decide.
            return;
        }
        let since = *h.failing_since.get_or_insert(now);
        let was_rested = h.rested_until.is_some();
        if !was_rested && now.duration_since(since) < self.after {
            return;
        }
        h.rested_until = Some(now + self.after);
        drop(health);
        let next = self.choose(now);
        if was_rested {
            tracing::warn!(
                provider = name,
                rest_seconds = self.after.as_secs(),
                "SMS provider still failing when tried again: rested again"
            );
        } else {
            let to = self.routes[next].provider.name();
            tracing::warn!(
                from = name,
                to,
                failing_seconds = now.duration_since(since).as_secs(),
                "SMS provider failing: failing over"
            );
            self.metrics
                .sms_failovers
                .get_or_create(&crate::metrics::FailoverLabels { from: name, to })
                .inc();
        }
        self.show(next);
    }

    /// Sets the in-use gauge: 1 for `current`, 0 for the others.
    fn show(&self, current: usize) {
        for (i, route) in self.routes.iter().enumerate() {
            self.metrics
                .sms_provider_in_use
                .get_or_create(&crate::metrics::ProviderLabels {
                    provider: route.provider.name(),
                })
                .set(i64::from(i == current));
        }
    }

    fn health(&self) -> std::sync::MutexGuard<'_, Vec<Health>> {
        self.health
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::sms::Sender;
    use crate::domain::phone::PhoneNumber;
    use async_trait::async_trait;
    use std::num::NonZeroU32;

    #[derive(Debug)]
    struct Named(&'static str);

    #[async_trait]
    impl SmsProvider for Named {
        fn name(&self) -> &'static str {
            self.0
        }
        async fn send(
            &self,
            _: &PhoneNumber,
            _: &str,
            _: &str,
            _: Sender,
        ) -> Result<SentSms, SendError> {
            unreachable!("the chain is tested without sending")
        }
    }

    fn providers(names: &[&'static str], metrics: &Metrics) -> Providers {
        let routes = names
            .iter()
            .map(|name| Route {
                provider: Arc::new(Named(name)),
                pace: Pace::new(NonZeroU32::MIN, false, 1),
            })
            .collect();
        Providers::new(routes, Duration::from_secs(30), metrics.clone())
    }

    fn outage() -> Result<SentSms, SendError> {
        Err(SendError::Transient("Twilio answered 500".into()))
    }

    fn sent() -> Result<SentSms, SendError> {
        Ok(SentSms {
            provider_id: "SM1".into(),
            status: "queued".into(),
        })
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn a_provider_failing_for_the_whole_wait_hands_over_to_the_next() {
        let metrics = Metrics::new();
        let chain = providers(&["twilio", "notify"], &metrics);
        let t0 = Instant::now();
        assert_eq!(chain.choose(t0), 0);
        chain.report(0, &outage(), t0);
        chain.report(0, &outage(), t0 + secs(29));
        assert_eq!(chain.choose(t0 + secs(29)), 0, "not yet: 29 s of failures");
        chain.report(0, &outage(), t0 + secs(30));
        assert_eq!(chain.choose(t0 + secs(30)), 1, "30 s of failures: the next");
        let text = metrics.render();
        assert!(
            text.contains(r#"crht_sms_failovers_total{from="twilio",to="notify"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"crht_sms_provider_in_use{provider="notify"} 1"#));
        assert!(text.contains(r#"crht_sms_provider_in_use{provider="twilio"} 0"#));
    }

    #[test]
    fn a_good_answer_between_failures_starts_the_wait_again() {
        let chain = providers(&["twilio", "notify"], &Metrics::new());
        let t0 = Instant::now();
        chain.report(0, &outage(), t0);
        chain.report(0, &sent(), t0 + secs(20));
        chain.report(0, &outage(), t0 + secs(25));
        chain.report(0, &outage(), t0 + secs(40));
        assert_eq!(chain.choose(t0 + secs(40)), 0, "failing for 15 s only");
        // A refusal for good is an answer too.
        let refused = Err(SendError::Permanent {
            code: Some("21211".into()),
            reason: "not a number".into(),
        });
        chain.report(0, &refused, t0 + secs(50));
        chain.report(0, &outage(), t0 + secs(60));
        chain.report(0, &outage(), t0 + secs(89));
        assert_eq!(chain.choose(t0 + secs(89)), 0);
        // A 429 neither starts the wait again nor counts as a failure.
        let throttled = Err(SendError::RateLimited { retry_after: None });
        chain.report(0, &throttled, t0 + secs(89));
        chain.report(0, &outage(), t0 + secs(90));
        assert_eq!(chain.choose(t0 + secs(90)), 1, "failing since 60");
    }

    #[test]
    fn a_rested_provider_is_tried_again_and_comes_back_or_rests_again() {
        let chain = providers(&["twilio", "notify"], &Metrics::new());
        let t0 = Instant::now();
        chain.report(0, &outage(), t0);
        chain.report(0, &outage(), t0 + secs(30));
        assert_eq!(chain.choose(t0 + secs(59)), 1);
        // After the rest, one trial; it fails, and it rests again at once.
        assert_eq!(chain.choose(t0 + secs(60)), 0);
        chain.report(0, &outage(), t0 + secs(60));
        assert_eq!(chain.choose(t0 + secs(61)), 1);
        assert_eq!(chain.choose(t0 + secs(89)), 1);
        // The next trial succeeds: back in use.
        assert_eq!(chain.choose(t0 + secs(90)), 0);
        chain.report(0, &sent(), t0 + secs(90));
        assert_eq!(chain.choose(t0 + secs(91)), 0);
        // And it must fail for the whole wait again before another hand-over.
        chain.report(0, &outage(), t0 + secs(92));
        chain.report(0, &outage(), t0 + secs(100));
        assert_eq!(chain.choose(t0 + secs(100)), 0);
    }

    #[test]
    fn when_every_provider_rests_the_one_whose_rest_ends_first_is_tried() {
        let chain = providers(&["twilio", "notify"], &Metrics::new());
        let t0 = Instant::now();
        chain.report(0, &outage(), t0);
        chain.report(0, &outage(), t0 + secs(30)); // twilio rests until 60
        chain.report(1, &outage(), t0 + secs(31));
        chain.report(1, &outage(), t0 + secs(61)); // notify rests until 91
        assert_eq!(chain.choose(t0 + secs(61)), 0, "twilio's rest is over");
        chain.report(0, &outage(), t0 + secs(65)); // twilio rests until 95
        assert_eq!(chain.choose(t0 + secs(70)), 1, "notify's rest ends first");
        assert_eq!(chain.choose(t0 + secs(91)), 1);
    }

    #[test]
    fn one_provider_is_never_rested() {
        let chain = providers(&["twilio"], &Metrics::new());
        let t0 = Instant::now();
        for s in 0..100 {
            chain.report(0, &outage(), t0 + secs(s));
        }
        assert_eq!(chain.choose(t0 + secs(100)), 0);
    }
}
