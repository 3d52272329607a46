//! Twilio, the SMS provider: webhook signatures, TwiML replies and the REST API client.

pub mod signature;
pub mod twiml;

use std::time::Duration;

use async_trait::async_trait;
use reqwest::StatusCode;
use serde::Deserialize;
use url::Url;

use crate::channels::sms::{
    SendError, Sender, SentSms, SmsProvider, read_answer, transport_reason,
};
use crate::config::{Secret, TwilioConfig};
use crate::domain::phone::PhoneNumber;

/// The address the provider uses for `path` on this gateway: the public URL's scheme, host
/// and port, then its own path as a prefix (a gateway behind a reverse proxy at `…/crht`),
/// then `path`, with `query`. Receipts are sent to it and webhooks signed over it, so both
/// the `StatusCallback` we give and the signatures we check must keep the prefix.
pub fn public_address(public_url: &Url, path: &str, query: Option<&str>) -> Url {
    let mut url = public_url.clone();
    let prefix = public_url.path().trim_end_matches('/');
    url.set_path(&format!("{prefix}/{}", path.trim_start_matches('/')));
    url.set_query(query);
    url.set_fragment(None);
    url
}

/// Sends texts through `POST {api_base}/2010-04-01/Accounts/{sid}/Messages.json`.
#[derive(Clone)]
pub struct TwilioClient {
    http: reqwest::Client,
    messages_url: String,
    account_sid: String,
    auth_token: Secret,
    from: PhoneNumber,
    /// `CRHT_REMINDER_FROM`'s number, for messages to patients; `None`: `from`.
    reminder_from: Option<PhoneNumber>,
    status_callback: Url,
}

impl std::fmt::Debug for TwilioClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioClient")
            .field("messages_url", &self.messages_url)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the Twilio client cannot be built: {0}")]
pub struct ClientError(String);

/// Twilio's JSON answer to a send (only what we use).
#[derive(Debug, Deserialize)]
struct Created {
    sid: String,
    #[serde(default)]
    status: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ApiError {
    #[serde(default)]
    code: Option<serde_json::Value>,
}

impl TwilioClient {
    pub fn new(
        config: &TwilioConfig,
        public_url: &Url,
        reminder_from: Option<PhoneNumber>,
    ) -> Result<Self, ClientError> {
        crate::install_tls_provider();
        let account_sid = config
            .account_sid
            .clone()
            .ok_or_else(|| ClientError("no account SID".into()))?;
        let auth_token = config
            .auth_token
            .clone()
            .ok_or_else(|| ClientError("no auth token".into()))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| ClientError(e.to_string()))?;
        let base = config.api_base.as_str().trim_end_matches('/');
        let status_callback =
            public_address(public_url, "/webhooks/twilio/status", public_url.query());
        Ok(Self {
            http,
            messages_url: format!("{base}/2010-04-01/Accounts/{account_sid}/Messages.json"),
            account_sid,
            auth_token,
            from: config.from.clone(),
            reminder_from,
            status_callback,
        })
    }
}

#[async_trait]
impl SmsProvider for TwilioClient {
    fn name(&self) -> &'static str {
        "twilio"
    }

    /// Twilio keeps no reference of ours: its `sid` is matched to the message instead.
    async fn send(
        &self,
        to: &PhoneNumber,
        body: &str,
        _reference: &str,
        sender: Sender,
    ) -> Result<SentSms, SendError> {
        let from = match (sender, &self.reminder_from) {
            (Sender::Reminders, Some(reminders)) => reminders,
            _ => &self.from,
        };
        let response = self
            .http
            .post(&self.messages_url)
            .basic_auth(&self.account_sid, Some(self.auth_token.expose()))
            .form(&[
                ("To", to.e164()),
                ("From", from.e164()),
                ("Body", body),
                ("StatusCallback", self.status_callback.as_str()),
            ])
            .send()
            .await
            .map_err(|e| SendError::Transient(transport_reason(&e)))?;
        let (status, retry_after, bytes) = read_answer(response).await?;
        if status.is_success() {
            let created: Created = serde_json::from_slice(&bytes)
                .map_err(|_| SendError::Transient("unreadable answer from Twilio".into()))?;
            return Ok(SentSms {
                provider_id: created.sid,
                status: created.status.unwrap_or_else(|| "queued".into()),
            });
        }
        let code = serde_json::from_slice::<ApiError>(&bytes)
            .ok()
            .and_then(|e| e.code)
            .map(|c| match c {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            });
        Err(match status {
            StatusCode::TOO_MANY_REQUESTS => SendError::RateLimited { retry_after },
            s if s.is_server_error() => SendError::Transient(format!("Twilio answered {s}")),
            StatusCode::REQUEST_TIMEOUT => SendError::Transient("Twilio answered 408".into()),
            s => SendError::Permanent {
                code,
                reason: format!("Twilio answered {s}"),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_address_keeps_the_public_urls_path() {
        let at = |public: &str, query| {
            let public = Url::parse(public).expect("url");
            public_address(&public, "/webhooks/twilio/status", query).to_string()
        };
        assert_eq!(
            at("https://example.org/crht", None),
            "https://example.org/crht/webhooks/twilio/status"
        );
        assert_eq!(
            at("https://example.org/crht/", None),
            "https://example.org/crht/webhooks/twilio/status"
        );
        assert_eq!(
            at("https://example.org", None),
            "https://example.org/webhooks/twilio/status"
        );
        assert_eq!(
            at("http://127.0.0.1:8080/a/b", Some("x=1")),
            "http://127.0.0.1:8080/a/b/webhooks/twilio/status?x=1"
        );
    }
}
