//! Prometheus metrics, one registry per running gateway (so tests never share counters).

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use chrono::{DateTime, Utc};

use crate::store::Gauges;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RejectLabels {
    pub reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub route: String,
    pub method: String,
    pub status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabels {
    pub queue: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderLabels {
    pub provider: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailoverLabels {
    pub from: &'static str,
    pub to: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    pub status: String,
}

#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    pub inbound_texts: Counter,
    pub inbound_duplicates: Counter,
    pub webhooks_rejected: Family<RejectLabels, Counter>,
    pub urgent_referrals: Counter,
    pub sms_sent: Counter,
    pub sms_failed: Counter,
    pub sms_retries: Counter,
    /// Texts each provider accepted.
    pub sms_provider_sends: Family<ProviderLabels, Counter>,
    /// Hand-overs from a failing provider to the next.
    pub sms_failovers: Family<FailoverLabels, Counter>,
    /// 1 for the provider texts go through now, 0 for the others.
    pub sms_provider_in_use: Family<ProviderLabels, Gauge>,
    /// Non-urgent texts held back because the hourly budget was spent.
    pub sms_budget_held: Counter,
    pub conversations_abandoned: Counter,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_seconds: Family<RouteLabels, Histogram>,
    pub up: Gauge,
    /// How the team's work stands: set from the database at each scrape (`set_gauges`).
    pub urgent_referrals_open: Gauge,
    pub urgent_patients_open: Gauge,
    pub urgent_oldest_unacknowledged: Gauge,
    pub queue_depth: Family<QueueLabels, Gauge>,
    pub messages: Family<StatusLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("crht");
        let inbound_texts = Counter::default();
        registry.register(
            "inbound_texts",
            "Texts received and durably stored",
            inbound_texts.clone(),
        );
        let inbound_duplicates = Counter::default();
        registry.register(
            "inbound_duplicates",
            "Provider retries of a text already stored (answered again, nothing changed)",
            inbound_duplicates.clone(),
        );
        let webhooks_rejected = Family::<RejectLabels, Counter>::default();
        registry.register(
            "webhooks_rejected",
            "Webhooks refused, by reason",
            webhooks_rejected.clone(),
        );
        let urgent_referrals = Counter::default();
        registry.register(
            "urgent_flags",
            "Texts that showed risk or an unsafe answer",
            urgent_referrals.clone(),
        );
        let sms_sent = Counter::default();
        registry.register("sms_sent", "Texts handed to the provider", sms_sent.clone());
        let sms_failed = Counter::default();
        registry.register(
            "sms_failed",
            "Texts the provider refused for good",
            sms_failed.clone(),
        );
        let sms_retries = Counter::default();
        registry.register(
            "sms_retries",
            "Send attempts retried after a temporary failure",
            sms_retries.clone(),
        );
        let sms_provider_sends = Family::<ProviderLabels, Counter>::default();
        registry.register(
            "sms_provider_sends",
            "Texts accepted, by provider",
            sms_provider_sends.clone(),
        );
        let sms_failovers = Family::<FailoverLabels, Counter>::default();
        registry.register(
            "sms_failovers",
            "Hand-overs from a provider failing for CRHT_FAILOVER_AFTER to the next",
            sms_failovers.clone(),
        );
        let sms_provider_in_use = Family::<ProviderLabels, Gauge>::default();
        registry.register(
            "sms_provider_in_use",
            "1 for the SMS provider texts go through now",
            sms_provider_in_use.clone(),
        );
        let sms_budget_held = Counter::default();
        registry.register(
            "sms_budget_held",
            "Non-urgent texts held for a later hour: the hourly budget was spent",
            sms_budget_held.clone(),
        );
        let conversations_abandoned = Counter::default();
        registry.register(
            "conversations_abandoned",
            "Conversations marked abandoned after going idle",
            conversations_abandoned.clone(),
        );
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            http_requests.clone(),
        );
        let http_seconds = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            http_seconds.clone(),
        );
        let up = Gauge::default();
        up.set(1);
        registry.register("up", "1 while the gateway runs", up.clone());
        let urgent_referrals_open = Gauge::default();
        registry.register(
            "urgent_referrals_open",
            "Urgent referrals nobody has acknowledged",
            urgent_referrals_open.clone(),
        );
        let urgent_patients_open = Gauge::default();
        registry.register(
            "urgent_patients_open",
            "Patients with an open urgent episode",
            urgent_patients_open.clone(),
        );
        let urgent_oldest_unacknowledged = Gauge::default();
        registry.register_with_unit(
            "urgent_oldest_unacknowledged",
            "How long the longest-waiting unacknowledged urgent referral or patient has waited (0: none)",
            Unit::Seconds,
            urgent_oldest_unacknowledged.clone(),
        );
        let queue_depth = Family::<QueueLabels, Gauge>::default();
        registry.register(
            "queue_depth",
            "Jobs waiting or running, by queue",
            queue_depth.clone(),
        );
        let messages = Family::<StatusLabels, Gauge>::default();
        registry.register(
            "messages",
            "Messages to patients and on-call staff, by status",
            messages.clone(),
        );
        Self {
            registry: Arc::new(registry),
            inbound_texts,
            inbound_duplicates,
            webhooks_rejected,
            urgent_referrals,
            sms_sent,
            sms_failed,
            sms_retries,
            sms_provider_sends,
            sms_failovers,
            sms_provider_in_use,
            sms_budget_held,
            conversations_abandoned,
            http_requests,
            http_seconds,
            up,
            urgent_referrals_open,
            urgent_patients_open,
            urgent_oldest_unacknowledged,
            queue_depth,
            messages,
        }
    }

    /// Sets the team's gauges from what the store read at `now`.
    pub fn set_gauges(&self, gauges: &Gauges, now: DateTime<Utc>) {
        self.urgent_referrals_open.set(gauges.urgent_referrals);
        self.urgent_patients_open.set(gauges.urgent_patients);
        self.urgent_oldest_unacknowledged.set(
            gauges
                .oldest_unacknowledged_urgent
                .map_or(0, |since| (now - since).num_seconds().max(0)),
        );
        for (queue, depth) in &gauges.queue_depths {
            self.queue_depth
                .get_or_create(&QueueLabels {
                    queue: queue.clone(),
                })
                .set(*depth);
        }
        // A status no message has any more disappears, rather than keep its last count.
        self.messages.clear();
        for (status, count) in &gauges.messages {
            self.messages
                .get_or_create(&StatusLabels {
                    status: status.clone(),
                })
                .set(*count);
        }
    }

    pub fn reject(&self, reason: &'static str) {
        self.webhooks_rejected
            .get_or_create(&RejectLabels { reason })
            .inc();
    }

    /// The registry in the OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
