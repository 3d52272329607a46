//! The SMS providers' webhooks: Twilio's inbound texts and delivery receipts, and GOV.UK
//! Notify's received texts and delivery receipts.

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::ApiError;
use crate::app::provider::Received;
use crate::config::SmsProviderKind;
use crate::notify;
use crate::store::{InboundOutcome, Receipt, ReceiptOutcome, ReplyRoute};
use crate::twilio::{self, signature, twiml};

/// Twilio's largest text is 1,600 characters; with every other field and UTF-8 and
/// percent-encoding, 64 KiB is far above any real webhook.
pub const MAX_WEBHOOK_BYTES: usize = 64 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/webhooks/twilio/sms", post(inbound_sms))
        .route("/webhooks/twilio/status", post(status_callback))
        .route("/webhooks/notify/status", post(notify_status_callback))
        .route("/webhooks/notify/inbound", post(notify_inbound))
}

/// Form fields, in the order received.
type Params = Vec<(String, String)>;

/// Checks `X-Twilio-Signature` when an auth token is configured; 403 otherwise, before
/// anything is stored.
fn verified_params(
    app: &AppState,
    headers: &HeaderMap,
    uri: &OriginalUri,
    body: &[u8],
) -> Result<Params, ApiError> {
    let params: Params = form_urlencoded::parse(body).into_owned().collect();
    if app.config.twilio.auth_token.is_none()
        && app.config.sms_providers.contains(&SmsProviderKind::Notify)
    {
        // Unsigned posts are a loopback convenience for Twilio; with Notify nobody should
        // be posting here.
        app.metrics.reject("not_the_provider");
        tracing::warn!("Twilio webhook refused: Twilio is not the SMS provider");
        return Err(ApiError::Forbidden(
            "Twilio is not this gateway's SMS provider".into(),
        ));
    }
    if let Some(token) = &app.config.twilio.auth_token {
        // Signed over the address the provider called: the public URL's path kept in front.
        let url = twilio::public_address(&app.config.public_url, uri.0.path(), uri.0.query());
        let valid = headers
            .get("x-twilio-signature")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|sig| signature::verify(token.expose(), url.as_str(), &params, sig));
        if !valid {
            app.metrics.reject("bad_signature");
            tracing::warn!("webhook refused: missing or invalid X-Twilio-Signature");
            return Err(ApiError::Forbidden(
                "invalid or missing X-Twilio-Signature".into(),
            ));
        }
    }
    Ok(params)
}

fn field<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn twiml_response(replies: &[String]) -> Response {
    let mut response = (StatusCode::OK, twiml::reply(replies)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml; charset=utf-8"),
    );
    response
}

/// A text to the referral number. Answers 200 with TwiML only after the text is committed.
#[utoipa::path(post, path = "/webhooks/twilio/sms", tag = "webhooks",
    request_body(content = super::ops::TwilioInboundSms, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "TwiML: the reply, <Response><Message>…</Message></Response>",
            content_type = "text/xml", body = String),
        (status = 400, description = "No MessageSid", body = super::error::Problem),
        (status = 403, description = "Missing or invalid X-Twilio-Signature; nothing stored",
            body = super::error::Problem),
        (status = 413, body = super::error::Problem),
        (status = 503, description = "The database is unreachable: retry", body = super::error::Problem)))]
#[tracing::instrument(skip_all)]
async fn inbound_sms(
    State(app): State<AppState>,
    headers: HeaderMap,
    uri: OriginalUri,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.inspect_err(|_| app.metrics.reject("too_large"))?;
    let params = verified_params(&app, &headers, &uri, &body)?;
    let provider_id = field(&params, "MessageSid")
        .or_else(|| field(&params, "SmsMessageSid"))
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            app.metrics.reject("no_message_sid");
            ApiError::BadRequest("MessageSid is required".into())
        })?;
    let received = stored_in_time(
        &app,
        provider_id,
        field(&params, "From"),
        field(&params, "Body").unwrap_or_default(),
        ReplyRoute::InResponse,
    )
    .await?;
    Ok(twiml_response(&counted(&app, received)))
}

/// Stores a person's text within `CRHT_WEBHOOK_DEADLINE`, or answers 503 with `Retry-After`
/// in time for the provider to try again (Twilio gives up at 15 s, then calls the fallback
/// URL). The storing runs on as a task of its own and is never cut off half-way: if its
/// commit lands after the 503, the provider's retry is recognised by its id and gets the
/// same replies, so the text is neither lost nor stored twice.
async fn stored_in_time(
    app: &AppState,
    provider_id: &str,
    from: Option<&str>,
    body: &str,
    replies: ReplyRoute,
) -> Result<Received, ApiError> {
    let services = app.services.clone();
    let (provider_id, from, body) = (
        provider_id.to_owned(),
        from.map(str::to_owned),
        body.to_owned(),
    );
    let storing = tokio::spawn(async move {
        services
            .receive_text(&provider_id, from.as_deref(), &body, replies)
            .await
    });
    match tokio::time::timeout(app.config.webhook_deadline, storing).await {
        Ok(Ok(stored)) => stored.map_err(ApiError::text_not_stored),
        Ok(Err(panicked)) => {
            tracing::error!(error = %panicked, "storing a text failed; the provider will retry");
            Err(ApiError::Unavailable)
        }
        Err(_) => {
            app.metrics.reject("not_stored_in_time");
            tracing::warn!(
                deadline = ?app.config.webhook_deadline,
                "a text was not stored in time; answered 503 so the provider retries"
            );
            Err(ApiError::Unavailable)
        }
    }
}

/// Counts and logs a stored text (never its number or words) and hands back its replies.
fn counted(app: &AppState, received: Received) -> Vec<String> {
    let text = received.text;
    if received.flagged {
        app.metrics.urgent_referrals.inc();
    }
    match received.outcome {
        InboundOutcome::Fresh { replies } => {
            app.metrics.inbound_texts.inc();
            tracing::info!(from = %text.from, "text stored");
            replies
        }
        InboundOutcome::Duplicate { replies } => {
            app.metrics.inbound_duplicates.inc();
            tracing::info!(from = %text.from, "provider retry of a stored text; same reply");
            replies
        }
    }
}

/// Delivery receipts for texts we sent. Statuses only move forward; a receipt repeated
/// (same message and status) changes nothing. A patient's text that failed for good falls
/// back to their next channel.
#[utoipa::path(post, path = "/webhooks/twilio/status", tag = "webhooks",
    request_body(content = super::ops::TwilioStatusCallback, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 204, description = "Recorded (or nothing to do)"),
        (status = 400, description = "No MessageSid or MessageStatus", body = super::error::Problem),
        (status = 403, description = "Missing or invalid X-Twilio-Signature; nothing recorded",
            body = super::error::Problem),
        (status = 503, description = "The database is unreachable: retry", body = super::error::Problem)))]
#[tracing::instrument(skip_all)]
async fn status_callback(
    State(app): State<AppState>,
    headers: HeaderMap,
    uri: OriginalUri,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body?;
    let params = verified_params(&app, &headers, &uri, &body)?;
    let sid = field(&params, "MessageSid")
        .or_else(|| field(&params, "SmsSid"))
        .ok_or_else(|| ApiError::BadRequest("MessageSid is required".into()))?;
    let status = field(&params, "MessageStatus")
        .or_else(|| field(&params, "SmsStatus"))
        .ok_or_else(|| ApiError::BadRequest("MessageStatus is required".into()))?;
    let receipt = Receipt {
        provider_id: sid,
        status,
        error_code: field(&params, "ErrorCode").filter(|c| !c.is_empty()),
        at: app.clock.now(),
    };
    let outcome = app.services.record_receipt(&receipt).await?;
    match outcome {
        ReceiptOutcome::Applied {
            message,
            moved,
            next,
        } => tracing::info!(
            status,
            moved,
            message_id = %message.id,
            ?next,
            "delivery receipt"
        ),
        other => tracing::info!(status, outcome = ?other, "delivery receipt needs nothing"),
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A delivery receipt as GOV.UK Notify posts it (JSON; more fields come and are ignored).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct NotifyStatusCallback {
    /// Notify's id of the notification: the provider id we stored when it was sent.
    id: String,
    /// What we gave as `reference`: our message's id.
    #[serde(default)]
    #[allow(dead_code)] // documented; the notification's id finds the message
    reference: Option<String>,
    /// `delivered`, `permanent-failure`, `temporary-failure`, `technical-failure`, or `sent`
    /// (international texts); for letters `accepted`, `received`, `cancelled`,
    /// `validation-failed`, `technical-failure`, `permanent-failure`.
    status: String,
    /// `sms` or `letter`: which of Notify's status words `status` is.
    #[serde(default)]
    notification_type: Option<String>,
}

/// Refuses (401, counted and logged) a `callback` from Notify unless it carries
/// `Authorization: Bearer <CRHT_NOTIFY_CALLBACK_TOKEN>`, compared in constant time. Without a
/// configured token nothing is accepted.
fn notify_bearer(
    app: &AppState,
    headers: &HeaderMap,
    callback: &'static str,
) -> Result<(), ApiError> {
    let ok = app
        .config
        .notify
        .callback_token
        .as_ref()
        .is_some_and(|expected| {
            headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .is_some_and(|given| {
                    bool::from(given.as_bytes().ct_eq(expected.expose().as_bytes()))
                })
        });
    if !ok {
        app.metrics.reject("bad_bearer_token");
        tracing::warn!(
            callback,
            "Notify callback refused: missing or wrong bearer token"
        );
        return Err(ApiError::Unauthorized);
    }
    Ok(())
}

/// GOV.UK Notify's delivery receipts for texts we sent, refused with 401 unless they carry
/// the callback token. Notify's statuses are put in our words (`notify::receipt`, or
/// `notify::letters::letter_receipt` for a letter's) and take
/// the same path as Twilio's: statuses only move forward, a repeat changes nothing, and a
/// patient's failed text is sent again or falls back as the delivery policy says.
#[utoipa::path(post, path = "/webhooks/notify/status", tag = "webhooks",
    request_body(content = NotifyStatusCallback, content_type = "application/json"),
    security(("notify_callback" = [])),
    responses(
        (status = 204, description = "Recorded (or nothing to do)"),
        (status = 400, description = "Not JSON, or no id or status", body = super::error::Problem),
        (status = 401, description = "Missing or wrong bearer token; nothing recorded",
            body = super::error::Problem),
        (status = 503, description = "The database is unreachable: retry", body = super::error::Problem)))]
#[tracing::instrument(skip_all)]
async fn notify_status_callback(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    notify_bearer(&app, &headers, "delivery receipt")?;
    let body = body?;
    let callback: NotifyStatusCallback = serde_json::from_slice(&body).map_err(|_| {
        ApiError::BadRequest("expected Notify's JSON callback with id and status".into())
    })?;
    let id = callback.id.trim();
    if id.is_empty() {
        return Err(ApiError::BadRequest("id is required".into()));
    }
    let (status, code) = if callback.notification_type.as_deref() == Some("letter") {
        crate::notify::letters::letter_receipt(callback.status.trim())
    } else {
        crate::notify::receipt(callback.status.trim())
    };
    let receipt = Receipt {
        provider_id: id,
        status: &status,
        error_code: code,
        at: app.clock.now(),
    };
    match app.services.record_receipt(&receipt).await? {
        ReceiptOutcome::Applied {
            message,
            moved,
            next,
        } => tracing::info!(
            status,
            moved,
            message_id = %message.id,
            ?next,
            "delivery receipt from Notify"
        ),
        other => {
            tracing::info!(status, outcome = ?other, "delivery receipt from Notify needs nothing")
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A text to the referral number as GOV.UK Notify posts it to the received-text callback
/// (JSON; more fields come and are ignored).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct NotifyReceivedText {
    /// Notify's id of the received text: the provider id a repeat is recognised by.
    id: String,
    /// The sender, in international form without a plus (`447911123456`).
    #[serde(default)]
    source_number: Option<String>,
    /// The number it was sent to (the team's).
    #[serde(default)]
    #[allow(dead_code)] // documented; one referral number per gateway
    destination_number: Option<String>,
    /// What the person wrote.
    #[serde(default)]
    message: String,
    /// When Notify received it (ISO 8601, UTC).
    #[serde(default)]
    #[allow(dead_code)] // documented; the gateway's clock stamps what it stores
    date_received: Option<String>,
}

/// GOV.UK Notify's received-text callback, refused with 401 unless it carries the callback
/// token (whatever `CRHT_SMS_PROVIDER` sends through). The text takes the same intake as
/// Twilio's: risk first, the conversation, urgent alerts, stored before the answer and
/// recognised again by Notify's id. Notify takes no reply in the answer, so the replies leave
/// as texts of their own (purpose `reply`), queued in the same transaction as the text.
#[utoipa::path(post, path = "/webhooks/notify/inbound", tag = "webhooks",
    request_body(content = NotifyReceivedText, content_type = "application/json"),
    security(("notify_callback" = [])),
    responses(
        (status = 204, description = "Stored (or a repeat of a stored text); the replies are queued as texts"),
        (status = 400, description = "Not JSON, or no id", body = super::error::Problem),
        (status = 401, description = "Missing or wrong bearer token; nothing stored",
            body = super::error::Problem),
        (status = 413, body = super::error::Problem),
        (status = 503, description = "The database is unreachable: retry", body = super::error::Problem)))]
#[tracing::instrument(skip_all)]
async fn notify_inbound(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    notify_bearer(&app, &headers, "received text")?;
    let body = body.inspect_err(|_| app.metrics.reject("too_large"))?;
    let callback: NotifyReceivedText = serde_json::from_slice(&body).map_err(|_| {
        app.metrics.reject("bad_json");
        ApiError::BadRequest("expected Notify's JSON received-text callback with an id".into())
    })?;
    let id = callback.id.trim();
    if id.is_empty() {
        app.metrics.reject("no_message_id");
        return Err(ApiError::BadRequest("id is required".into()));
    }
    let from = callback.source_number.as_deref().map(notify::sender);
    let received = stored_in_time(
        &app,
        id,
        from.as_deref(),
        &callback.message,
        ReplyRoute::AsMessages,
    )
    .await?;
    counted(&app, received);
    Ok(StatusCode::NO_CONTENT.into_response())
}
