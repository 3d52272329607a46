//! GOV.UK Notify, an SMS provider: the REST client (`POST /v2/notifications/sms`, a fresh
//! JWT per request), what its delivery-receipt callbacks mean in our words, and the sender of
//! a received text. `letters`: letters through Notify as precompiled PDFs.

pub mod letters;

use std::time::Duration;

use async_trait::async_trait;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};

use crate::channels::sms::{
    SendError, Sender, SentSms, SmsProvider, read_answer, transport_reason,
};
use crate::config::{NotifyApiKey, NotifyConfig};
use crate::domain::phone::PhoneNumber;

/// The claims Notify asks for: the service as issuer, and when the token was made (Notify
/// refuses a token whose `iat` is more than 30 seconds from its own clock).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub iat: u64,
}

/// A token for one request: HS256 over `{iss, iat}` with the key's secret.
pub fn token(key: &NotifyApiKey, now_unix: u64) -> Result<String, jsonwebtoken::errors::Error> {
    let claims = Claims {
        iss: key.service_id().to_owned(),
        iat: now_unix,
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(key.secret().expose().as_bytes())?,
    )
}

/// Sends texts through `POST {api_base}/v2/notifications/sms`.
#[derive(Clone)]
pub struct NotifyClient {
    http: reqwest::Client,
    sms_url: String,
    api_key: NotifyApiKey,
    template_id: String,
    sender_id: Option<String>,
    /// `CRHT_REMINDER_FROM`'s Notify sender, for messages to patients; `None`: `sender_id`.
    reminder_sender_id: Option<String>,
}

impl std::fmt::Debug for NotifyClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyClient")
            .field("sms_url", &self.sms_url)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the GOV.UK Notify client cannot be built: {0}")]
pub struct ClientError(pub(crate) String);

#[derive(Debug, Serialize)]
struct SmsIn<'a> {
    phone_number: &'a str,
    template_id: &'a str,
    personalisation: Personalisation<'a>,
    reference: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sms_sender_id: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct Personalisation<'a> {
    body: &'a str,
}

/// Notify's answer to a send (only what we use).
#[derive(Debug, Deserialize)]
pub(crate) struct Created {
    pub(crate) id: String,
}

/// Notify's error body: `{"status_code": 400, "errors": [{"error": "BadRequestError",
/// "message": "…"}]}`. Only the error's name is kept: a message may quote what was sent.
#[derive(Debug, Deserialize)]
pub(crate) struct ApiErrors {
    #[serde(default)]
    pub(crate) errors: Vec<ApiErrorItem>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ApiErrorItem {
    #[serde(default)]
    pub(crate) error: Option<String>,
}

/// What every request to Notify needs: an HTTP client giving up after `timeout`, the API key
/// (with the JWT crypto in place) and the API's base URL without a trailing slash.
fn connection(
    config: &NotifyConfig,
    timeout: Duration,
) -> Result<(reqwest::Client, NotifyApiKey, String), ClientError> {
    crate::install_tls_provider();
    if jsonwebtoken::crypto::CryptoProvider::try_get_default().is_none() {
        return Err(ClientError("no JWT crypto provider in this build".into()));
    }
    let api_key = config
        .api_key
        .clone()
        .ok_or_else(|| ClientError("no API key".into()))?;
    let http = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| ClientError(e.to_string()))?;
    let base = config.api_base.as_str().trim_end_matches('/').to_owned();
    Ok((http, api_key, base))
}

impl NotifyClient {
    pub fn new(
        config: &NotifyConfig,
        reminder_sender_id: Option<String>,
    ) -> Result<Self, ClientError> {
        let (http, api_key, base) = connection(config, Duration::from_secs(15))?;
        let template_id = config
            .sms_template_id
            .clone()
            .ok_or_else(|| ClientError("no text message template".into()))?;
        Ok(Self {
            http,
            sms_url: format!("{base}/v2/notifications/sms"),
            api_key,
            template_id,
            sender_id: config.sms_sender_id.clone(),
            reminder_sender_id,
        })
    }
}

#[async_trait]
impl SmsProvider for NotifyClient {
    fn name(&self) -> &'static str {
        "notify"
    }

    async fn send(
        &self,
        to: &PhoneNumber,
        body: &str,
        reference: &str,
        sender: Sender,
    ) -> Result<SentSms, SendError> {
        let sender_id = match sender {
            Sender::Reminders => self
                .reminder_sender_id
                .as_deref()
                .or(self.sender_id.as_deref()),
            Sender::ReferralNumber => self.sender_id.as_deref(),
        };
        let jwt = token(&self.api_key, jsonwebtoken::get_current_timestamp())
            .map_err(|_| SendError::Transient("cannot sign the Notify token".into()))?;
        let request = SmsIn {
            phone_number: to.e164(),
            template_id: &self.template_id,
            personalisation: Personalisation { body },
            reference,
            sms_sender_id: sender_id,
        };
        let response = self
            .http
            .post(&self.sms_url)
            .bearer_auth(jwt)
            .json(&request)
            .send()
            .await
            .map_err(|e| SendError::Transient(transport_reason(&e)))?;
        let (status, retry_after, bytes) = read_answer(response).await?;
        if status.is_success() {
            let created: Created = serde_json::from_slice(&bytes)
                .map_err(|_| SendError::Transient("unreadable answer from Notify".into()))?;
            return Ok(SentSms {
                provider_id: created.id,
                status: "created".into(),
            });
        }
        let error = serde_json::from_slice::<ApiErrors>(&bytes)
            .ok()
            .and_then(|e| e.errors.into_iter().find_map(|e| e.error))
            .unwrap_or_else(|| "unknown".into());
        Err(failure(status, &error, retry_after))
    }
}

/// Notify's documented answers: 429 is a rate or daily limit and 5xx its own trouble, both
/// tried again with backoff; 400 (the request, the number or the template) and 403 (the key
/// or the clock) will not change by asking again.
pub(crate) fn failure(status: StatusCode, error: &str, retry_after: Option<Duration>) -> SendError {
    match status {
        StatusCode::TOO_MANY_REQUESTS => SendError::RateLimited { retry_after },
        s if s.is_server_error() => SendError::Transient(format!("Notify answered {s}")),
        StatusCode::REQUEST_TIMEOUT => SendError::Transient("Notify answered 408".into()),
        s => SendError::Permanent {
            code: Some(format!("notify_{}", s.as_u16())),
            reason: format!("Notify answered {s} ({error})"),
        },
    }
}

/// A Notify delivery status in our words: the message status it moves to, and the code the
/// delivery policy (`jobs::delivery::classify`) reads. An unknown status is kept as given
/// (bounded), and moves nothing.
pub fn receipt(status: &str) -> (String, Option<&'static str>) {
    match status {
        "delivered" => ("delivered".into(), None),
        // International texts: Notify will say no more.
        "sent" => ("sent".into(), None),
        "permanent-failure" => ("failed".into(), Some("permanent-failure")),
        "temporary-failure" => ("undelivered".into(), Some("temporary-failure")),
        "technical-failure" => ("failed".into(), Some("technical-failure")),
        other => (
            format!(
                "notify:{}",
                other
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .take(40)
                    .collect::<String>()
            ),
            None,
        ),
    }
}

/// The sender of a received text as Notify gives it (`source_number`: international digits
/// without a plus, "447911123456") in the form the gateway reads numbers in: a `+` put in
/// front of a string of digits that does not start with 0. Anything else is left as given,
/// for `PhoneNumber::from_sender` to read or keep (safety rule 7).
pub fn sender(source_number: &str) -> String {
    let trimmed = source_number.trim();
    let international_digits = !trimmed.is_empty()
        && trimmed.bytes().all(|b| b.is_ascii_digit())
        && !trimmed.starts_with('0');
    if international_digits {
        format!("+{trimmed}")
    } else {
        source_number.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_received_text_s_sender_gets_its_plus() {
        assert_eq!(sender("447911123456"), "+447911123456");
        assert_eq!(sender(" 48501234567 "), "+48501234567");
        assert_eq!(sender("+447911123456"), "+447911123456");
        assert_eq!(sender("07911123456"), "07911123456");
        assert_eq!(sender("CRHT"), "CRHT");
        assert_eq!(sender(""), "");
    }

    const KEY: &str =
        "crht_live-26785a09-ab16-4eb0-8407-a37497a57506-3d844edf-8d35-48ac-975b-e847b4f122b0";

    #[test]
    fn the_token_is_hs256_over_the_service_and_the_time_with_the_keys_secret() {
        let key = NotifyApiKey::parse(KEY).expect("a key");
        let jwt = token(&key, 1_764_444_000).expect("signed");
        let header = jsonwebtoken::decode_header(&jwt).expect("header");
        assert_eq!(header.alg, Algorithm::HS256);
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        let mut validation = jsonwebtoken::Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.set_required_spec_claims::<&str>(&[]);
        let claims = jsonwebtoken::decode::<Claims>(
            &jwt,
            &jsonwebtoken::DecodingKey::from_secret(b"3d844edf-8d35-48ac-975b-e847b4f122b0")
                .expect("a key"),
            &validation,
        )
        .expect("signed with the secret")
        .claims;
        assert_eq!(
            claims,
            Claims {
                iss: "26785a09-ab16-4eb0-8407-a37497a57506".into(),
                iat: 1_764_444_000
            }
        );
        let wrong = jsonwebtoken::decode::<Claims>(
            &jwt,
            &jsonwebtoken::DecodingKey::from_secret(b"26785a09-ab16-4eb0-8407-a37497a57506")
                .expect("a key"),
            &validation,
        );
        assert!(wrong.is_err(), "not signed with the service id");
    }

    #[test]
    fn failures_follow_notifys_documented_codes() {
        let permanent = |s: u16| {
            matches!(
                failure(StatusCode::from_u16(s).expect("status"), "E", None),
                SendError::Permanent { .. }
            )
        };
        assert!(permanent(400) && permanent(403));
        assert!(!permanent(429) && !permanent(500) && !permanent(503));
        assert_eq!(
            failure(StatusCode::BAD_REQUEST, "BadRequestError", None),
            SendError::Permanent {
                code: Some("notify_400".into()),
                reason: "Notify answered 400 Bad Request (BadRequestError)".into()
            }
        );
        assert_eq!(
            failure(
                StatusCode::TOO_MANY_REQUESTS,
                "RateLimitError",
                Some(Duration::from_secs(3))
            ),
            SendError::RateLimited {
                retry_after: Some(Duration::from_secs(3))
            }
        );
    }

    #[test]
    fn notify_statuses_become_ours() {
        assert_eq!(receipt("delivered"), ("delivered".into(), None));
        assert_eq!(
            receipt("permanent-failure"),
            ("failed".into(), Some("permanent-failure"))
        );
        assert_eq!(
            receipt("temporary-failure"),
            ("undelivered".into(), Some("temporary-failure"))
        );
        assert_eq!(
            receipt("technical-failure"),
            ("failed".into(), Some("technical-failure"))
        );
        let (unknown, code) = receipt("pending<script>");
        assert_eq!((unknown.as_str(), code), ("notify:pendingscript", None));
    }
}
