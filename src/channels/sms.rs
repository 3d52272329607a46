//! Sending texts: the provider seam, the `outbox` provider that sends nothing, and what a text
//! costs in GSM-7 or UCS-2 segments.

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

/// Which of the gateway's senders a text leaves from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// The referral number: replies to a person texting, staff's texts back, on-call alerts.
    ReferralNumber,
    /// Reminders, updates and every other message to a patient: `CRHT_REMINDER_FROM` where
    /// the provider has one, so a STOP sent to them leaves the referral number alone.
    Reminders,
}

#[async_trait]
pub trait SmsProvider: Send + Sync + std::fmt::Debug {
    fn name(&self) -> &'static str;
    /// Sends `body` to `to` from `sender`. `reference` is our message's id: a provider that
    /// keeps a reference (GOV.UK Notify) is given it, so its records and ours can be matched.
    async fn send(
        &self,
        to: &PhoneNumber,
        body: &str,
        reference: &str,
        sender: Sender,
    ) -> Result<SentSms, SendError>;
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

    async fn send(
        &self,
        to: &PhoneNumber,
        body: &str,
        reference: &str,
        sender: Sender,
    ) -> Result<SentSms, SendError> {
        let provider_id = format!("OUTBOX{}", ulid::Ulid::generate());
        tracing::info!(
            to = %to,
            provider_id,
            reference,
            ?sender,
            chars = body.chars().count(),
            "outbox: text recorded, not sent (CRHT_SMS_PROVIDER=outbox)"
        );
        Ok(SentSms {
            provider_id,
            status: "sent".into(),
        })
    }
}

/// How a provider will encode a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsEncoding {
    Gsm7,
    Ucs2,
}

/// What a text costs: each segment is billed and delivered as one SMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmsSize {
    pub encoding: SmsEncoding,
    /// Septets for GSM-7, UTF-16 code units for UCS-2.
    pub units: usize,
    pub segments: usize,
}

/// GSM 03.38 basic character set (the escape code excluded): one septet each.
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
                          ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑ\u{dc}§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// GSM 03.38 extension table: an escape septet plus one, so two each.
const GSM7_EXTENSION: &str = "\u{c}^{}\\[~]|€";

/// GSM 03.38 7-bit (basic set 1 unit, extension table chars like € [ ] { } ^ ~ \ | 2 units;
/// single segment ≤160 units, multipart 153 per segment) else UCS-2 (UTF-16 code units:
/// ≤70 single, 67 per segment in multipart; emoji count 2). Like senders do, a two-unit
/// character is never split across segments, so the count is never low. Empty text is 0
/// segments: there is nothing to send.
pub fn sms_size(text: &str) -> SmsSize {
    let gsm7: Option<Vec<usize>> = text
        .chars()
        .map(|c| {
            if GSM7_BASIC.contains(c) {
                Some(1)
            } else if GSM7_EXTENSION.contains(c) {
                Some(2)
            } else {
                None
            }
        })
        .collect();
    let (encoding, costs, single, per_part) = match gsm7 {
        Some(costs) => (SmsEncoding::Gsm7, costs, 160, 153),
        None => (
            SmsEncoding::Ucs2,
            text.chars().map(char::len_utf16).collect(),
            70,
            67,
        ),
    };
    let units: usize = costs.iter().sum();
    let segments = if units == 0 {
        0
    } else if units <= single {
        1
    } else {
        let (mut segments, mut used) = (1, 0);
        for cost in costs {
            if used + cost > per_part {
                segments += 1;
                used = 0;
            }
            used += cost;
        }
        segments
    };
    SmsSize {
        encoding,
        units,
        segments,
    }
}

/// Why a provider could not be reached, in words without the provider's address.
pub(crate) fn transport_reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else {
        "transport error".into()
    }
}

/// A provider's answer to a send: its status, how long it asks us to wait (`Retry-After`, in
/// seconds) and its body; a body that cannot be read is a transient failure.
pub(crate) async fn read_answer(
    response: reqwest::Response,
) -> Result<
    (
        reqwest::StatusCode,
        Option<std::time::Duration>,
        axum::body::Bytes,
    ),
    SendError,
> {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(std::time::Duration::from_secs);
    let bytes = response
        .bytes()
        .await
        .map_err(|e| SendError::Transient(transport_reason(&e)))?;
    Ok((status, retry_after, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_gsm7_tables_are_complete() {
        // 128 code points less the escape; 10 in the extension table.
        assert_eq!(GSM7_BASIC.chars().count(), 127);
        assert_eq!(GSM7_EXTENSION.chars().count(), 10);
    }

    #[test]
    fn sms_sizes() {
        let gsm = |units, segments| SmsSize {
            encoding: SmsEncoding::Gsm7,
            units,
            segments,
        };
        let ucs = |units, segments| SmsSize {
            encoding: SmsEncoding::Ucs2,
            units,
            segments,
        };
        let a = |n| "a".repeat(n);
        assert_eq!(sms_size(""), gsm(0, 0));
        assert_eq!(sms_size(&a(1)), gsm(1, 1));
        assert_eq!(sms_size(&a(160)), gsm(160, 1));
        assert_eq!(sms_size(&a(161)), gsm(161, 2));
        assert_eq!(sms_size(&a(306)), gsm(306, 2));
        assert_eq!(sms_size(&a(307)), gsm(307, 3));
        assert_eq!(sms_size("€"), gsm(2, 1));
        assert_eq!(sms_size(&format!("{}€", a(158))), gsm(160, 1));
        assert_eq!(sms_size(&format!("{}€", a(159))), gsm(161, 2));
        // An escape pair is not split: 152 + 2 does not fit the first part.
        assert_eq!(sms_size(&format!("{}€{}", a(152), a(152))), gsm(306, 3));
        assert_eq!(sms_size("[]{}^~\\|"), gsm(16, 1));
        assert_eq!(sms_size("£5 for Zoë"), ucs(10, 1));
        assert_eq!(sms_size("Straight 'quotes' @ £5 é à ñ"), gsm(28, 1));
        assert_eq!(sms_size("Curly ’quotes’").encoding, SmsEncoding::Ucs2);
        assert_eq!(sms_size(&format!("{}🙂", a(10))), ucs(12, 1));
        assert_eq!(sms_size(&"ł".repeat(70)), ucs(70, 1));
        assert_eq!(sms_size(&"ł".repeat(71)), ucs(71, 2));
        assert_eq!(sms_size(&"ł".repeat(134)), ucs(134, 2));
        assert_eq!(sms_size(&"ł".repeat(135)), ucs(135, 3));
        // A surrogate pair is not split either.
        assert_eq!(sms_size(&format!("{}🙂{}", a(66), a(66))), ucs(134, 3));
    }

    proptest! {
        #[test]
        fn sms_size_never_panics_and_counts_something_for_any_text(text in any::<String>()) {
            let size = sms_size(&text);
            prop_assert_eq!(size.segments == 0, text.is_empty());
            prop_assert!(size.units >= text.chars().count());
            prop_assert!(size.segments <= size.units);
        }

        #[test]
        fn sms_size_of_gsm_text_matches_its_length(text in "[a-zA-Z0-9 .,!?@£$\n]{1,500}") {
            let size = sms_size(&text);
            let n = text.chars().count();
            prop_assert_eq!(size.encoding, SmsEncoding::Gsm7);
            prop_assert_eq!(size.units, n);
            prop_assert_eq!(size.segments, if n <= 160 { 1 } else { n.div_ceil(153) });
        }
    }
}
