//! Sending one stored message through the SMS provider, at most as fast as the provider
//! allows, retrying temporary failures with exponential backoff.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::{BoxDynError, Data};
use backon::{ExponentialBuilder, Retryable};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::channels::sms::{SendError, SmsProvider};
use crate::clock::Clock;
use crate::domain::phone::PhoneNumber;
use crate::metrics::Metrics;
use crate::store::{Delivery, Store, StoreError};

/// What sending needs; shared by every delivery job of a process.
#[derive(Debug)]
pub struct DeliveryContext {
    pub store: Arc<dyn Store>,
    pub sms: Arc<dyn SmsProvider>,
    pub clock: Arc<dyn Clock>,
    pub limiter: DefaultDirectRateLimiter,
    pub metrics: Metrics,
    pub backoff: ExponentialBuilder,
}

impl DeliveryContext {
    pub fn new(
        store: Arc<dyn Store>,
        sms: Arc<dyn SmsProvider>,
        clock: Arc<dyn Clock>,
        rate_per_sec: NonZeroU32,
        metrics: Metrics,
    ) -> Self {
        Self {
            store,
            sms,
            clock,
            limiter: RateLimiter::direct(Quota::per_second(rate_per_sec)),
            metrics,
            backoff: default_backoff(),
        }
    }
}

/// 0.5 s, 1 s, 2 s … capped at 30 s, with jitter; six tries before the job is handed back to
/// the queue (which tries again, up to its own limit).
pub fn default_backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(500))
        .with_max_delay(Duration::from_secs(30))
        .with_max_times(6)
        .with_jitter()
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    Sent {
        provider_id: String,
    },
    /// The provider refused for good; recorded as failed.
    Refused {
        code: Option<String>,
    },
    /// Already sent or withdrawn: nothing done.
    Skipped,
}

/// The apalis handler.
#[tracing::instrument(skip_all, fields(message_id = %job.message_id))]
pub async fn deliver(job: Delivery, ctx: Data<Arc<DeliveryContext>>) -> Result<(), BoxDynError> {
    match deliver_message(&ctx, &job.message_id).await {
        Ok(_) => Ok(()),
        Err(DeliveryError::Store(e)) => Err(e.into()),
        Err(DeliveryError::StillFailing(e)) => Err(e.into()),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Temporary failures outlasted the backoff; the queue will try again.
    #[error("provider still failing: {0}")]
    StillFailing(SendError),
}

pub async fn deliver_message(ctx: &DeliveryContext, id: &str) -> Result<Delivered, DeliveryError> {
    let Some(message) = ctx.store.message(id).await? else {
        tracing::warn!("message to deliver no longer exists");
        return Ok(Delivered::Skipped);
    };
    if !ctx.store.start_sending(id, ctx.clock.now()).await? {
        return Ok(Delivered::Skipped);
    }
    let to = message
        .to
        .as_deref()
        .and_then(|to| PhoneNumber::parse(to).ok());
    let (Some(to), Some(body)) = (to, message.body.as_deref()) else {
        ctx.store
            .finish_sending(id, "failed", None, Some("no_number"), ctx.clock.now())
            .await?;
        return Ok(Delivered::Refused {
            code: Some("no_number".into()),
        });
    };
    let attempt = || async {
        ctx.limiter.until_ready().await;
        ctx.sms.send(&to, body).await
    };
    let result = attempt
        .retry(ctx.backoff)
        .when(SendError::is_transient)
        .adjust(|error, planned| match error {
            SendError::RateLimited {
                retry_after: Some(wait),
            } => Some(*wait),
            _ => planned,
        })
        .notify(|error, wait| {
            ctx.metrics.sms_retries.inc();
            tracing::warn!(%error, retry_in_ms = wait.as_millis() as u64, "send failed; will retry");
        })
        .await;
    match result {
        Ok(sent) => {
            ctx.store
                .finish_sending(id, "sent", Some(&sent.provider_id), None, ctx.clock.now())
                .await?;
            ctx.metrics.sms_sent.inc();
            tracing::info!(purpose = message.purpose, "text handed to the provider");
            Ok(Delivered::Sent {
                provider_id: sent.provider_id,
            })
        }
        Err(SendError::Permanent { code, reason }) => {
            ctx.store
                .finish_sending(id, "failed", None, code.as_deref(), ctx.clock.now())
                .await?;
            ctx.metrics.sms_failed.inc();
            tracing::warn!(reason, code = ?code, "provider refused the text for good");
            Ok(Delivered::Refused { code })
        }
        Err(transient) => {
            // Left in `sending`: the queue's next attempt claims it again.
            tracing::warn!(error = %transient, "provider still failing after backoff");
            Err(DeliveryError::StillFailing(transient))
        }
    }
}
