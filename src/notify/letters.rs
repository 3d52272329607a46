//! Letters through GOV.UK Notify as precompiled letters (`POST /v2/notifications/letter` with
//! the PDF), and what Notify's letter receipts mean in our words.

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use serde::Serialize;

use super::{ApiErrors, ClientError, Created, connection, failure, token};
use crate::channels::letter::{LetterProvider, Postage, SentLetter};
use crate::channels::sms::{SendError, read_answer, transport_reason};
use crate::config::{NotifyApiKey, NotifyConfig};

/// Posts letters through `POST {api_base}/v2/notifications/letter`.
#[derive(Clone)]
pub struct NotifyLetters {
    http: reqwest::Client,
    letter_url: String,
    api_key: NotifyApiKey,
}

impl std::fmt::Debug for NotifyLetters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyLetters")
            .field("letter_url", &self.letter_url)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Serialize)]
struct LetterIn<'a> {
    reference: &'a str,
    /// The PDF, base64.
    content: String,
    postage: &'static str,
}

impl NotifyLetters {
    pub fn new(config: &NotifyConfig) -> Result<Self, ClientError> {
        // A letter of ten pages is a few hundred kilobytes: more time than a text.
        let (http, api_key, base) = connection(config, Duration::from_secs(30))?;
        Ok(Self {
            http,
            letter_url: format!("{base}/v2/notifications/letter"),
            api_key,
        })
    }
}

#[async_trait]
impl LetterProvider for NotifyLetters {
    fn name(&self) -> &'static str {
        "notify"
    }

    async fn send_letter(
        &self,
        pdf: &[u8],
        reference: &str,
        postage: Postage,
    ) -> Result<SentLetter, SendError> {
        let jwt = token(&self.api_key, jsonwebtoken::get_current_timestamp())
            .map_err(|_| SendError::Transient("cannot sign the Notify token".into()))?;
        let request = LetterIn {
            reference,
            content: base64::engine::general_purpose::STANDARD.encode(pdf),
            postage: postage.as_str(),
        };
        let response = self
            .http
            .post(&self.letter_url)
            .bearer_auth(jwt)
            .json(&request)
            .send()
            .await
            .map_err(|e| SendError::Transient(transport_reason(&e)))?;
        let (status, retry_after, bytes) = read_answer(response).await?;
        if status.is_success() {
            let created: Created = serde_json::from_slice(&bytes)
                .map_err(|_| SendError::Transient("unreadable answer from Notify".into()))?;
            return Ok(SentLetter {
                provider_id: created.id,
            });
        }
        let error = serde_json::from_slice::<ApiErrors>(&bytes)
            .ok()
            .and_then(|e| e.errors.into_iter().find_map(|e| e.error))
            .unwrap_or_else(|| "unknown".into());
        Err(failure(status, &error, retry_after))
    }
}

/// A Notify letter status in our words: the message status it moves to, and the code kept
/// with it. `accepted` (sent to the printer) leaves a letter `sent`; `received` (printed and
/// posted) is as delivered as post gets; every failure — `cancelled`, `validation-failed`
/// (content outside the printable area), `virus-scan-failed`, `technical-failure`,
/// `permanent-failure` — is `failed`, and the delivery policy puts the letter on the print
/// list. `pending-virus-check` and anything unknown are kept as given and move nothing.
pub fn letter_receipt(status: &str) -> (String, Option<&'static str>) {
    match status {
        "accepted" => ("sent".into(), None),
        "received" => ("delivered".into(), None),
        "cancelled" => ("failed".into(), Some("cancelled")),
        "validation-failed" => ("failed".into(), Some("validation-failed")),
        "virus-scan-failed" => ("failed".into(), Some("virus-scan-failed")),
        "technical-failure" => ("failed".into(), Some("technical-failure")),
        "permanent-failure" => ("failed".into(), Some("permanent-failure")),
        other => super::receipt(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_letter_statuses_become_ours() {
        assert_eq!(letter_receipt("accepted"), ("sent".into(), None));
        assert_eq!(letter_receipt("received"), ("delivered".into(), None));
        for failed in [
            "cancelled",
            "validation-failed",
            "virus-scan-failed",
            "technical-failure",
            "permanent-failure",
        ] {
            assert_eq!(letter_receipt(failed), ("failed".into(), Some(failed)));
        }
        assert_eq!(
            letter_receipt("pending-virus-check"),
            ("notify:pending-virus-check".into(), None)
        );
    }
}
