//! Sending texts: the provider seam, and the `outbox` provider that sends nothing.

use async_trait::async_trait;
use std::time::Duration;

use crate::domain::phone::PhoneNumber;

/// The provider accepted the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentSms {
    pub provider_id: String,
    /// The provider's first status (e.g. `queued`, `sent`).
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later (5xx, timeouts, network).
    #[error("temporary failure: {0}")]
    Transient(String),
    /// The provider asks us to slow down (429).
    #[error("rate limited by the provider")]
    RateLimited { retry_after: Option<Duration> },
    /// Will never succeed as asked (e.g. 21610: the number texted STOP; 21211: not a number).
    #[error("permanent failure ({reason}, code {code:?})")]
    Permanent {
        code: Option<String>,
        reason: String,
    },
}

impl SendError {
    pub fn is_transient(&self) -> bool {
        !matches!(self, SendError::Permanent { .. })
    }
}

#[async_trait]
pub trait SmsProvider: Send + Sync + std::fmt::Debug {
    fn name(&self) -> &'static str;
    async fn send(&self, to: &PhoneNumber, body: &str) -> Result<SentSms, SendError>;
}

/// Records instead of sending: the message row holds the text, and a log line (masked
/// number, no body) says it would have gone.
#[derive(Debug, Default)]
pub struct Outbox;

#[async_trait]
impl SmsProvider for Outbox {
    fn name(&self) -> &'static str {
        "outbox"
    }

    async fn send(&self, to: &PhoneNumber, body: &str) -> Result<SentSms, SendError> {
        let provider_id = format!("OUTBOX{}", ulid::Ulid::generate());
        tracing::info!(
            to = %to,
            provider_id,
            chars = body.chars().count(),
            "outbox: text recorded, not sent (CRHT_SMS_PROVIDER=outbox)"
        );
        Ok(SentSms {
            provider_id,
            status: "sent".into(),
        })
    }
}
