//! The SMS provider's webhooks: inbound texts and delivery receipts.

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::AppState;
use super::error::ApiError;
use crate::domain::phone::PhoneNumber;
use crate::jobs::delivery::{NumberProblem, cannot_text, classify, resend_delay};
use crate::store::{InboundOutcome, InboundText, ReceiptOutcome};
use crate::twilio::{signature, twiml};

/// Twilio's largest text is 1,600 characters; with every other field and UTF-8 and
/// percent-encoding, 64 KiB is far above any real webhook.
pub const MAX_WEBHOOK_BYTES: usize = 64 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/webhooks/twilio/sms", post(inbound_sms))
        .route("/webhooks/twilio/status", post(status_callback))
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
    if let Some(token) = &app.config.twilio.auth_token {
        let url = format!(
            "{}{}",
            app.config.public_url.as_str().trim_end_matches('/'),
            uri.0.path_and_query().map(|p| p.as_str()).unwrap_or("/")
        );
        let valid = headers
            .get("x-twilio-signature")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|sig| signature::verify(token.expose(), &url, &params, sig));
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
    // Safety rule 7: the signature is the provider's word that a person sent this text, so
    // neither its sender nor its bytes are a reason to refuse it.
    let provider_id = app.store.storable(provider_id);
    let from = PhoneNumber::from_sender(field(&params, "From"), &provider_id);
    if !from.is_e164() {
        tracing::info!("sender is not a phone number; kept as given");
    }
    let text = InboundText {
        provider_id: provider_id.into_owned(),
        from,
        body: app
            .store
            .storable(field(&params, "Body").unwrap_or_default())
            .into_owned(),
        received_at: app.clock.now(),
    };
    let today = app.clock.today_in_uk();
    let intake = &app.intake;
    let decide = |snapshot: &crate::store::Snapshot| {
        intake.decide(snapshot, &text.body, today, text.received_at)
    };
    let outcome = app.store.record_inbound(&text, &decide).await?;
    let replies = match outcome {
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
    };
    Ok(twiml_response(&replies))
}

/// How many times a text the network reported as temporarily undeliverable is sent again
/// before the next channel is tried.
const RESENDS: i64 = 3;

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
    let error_code = field(&params, "ErrorCode").filter(|c| !c.is_empty());
    let now = app.clock.now();
    let outcome = app
        .store
        .record_receipt(sid, status, error_code, now)
        .await?;
    let ReceiptOutcome::Applied { message, moved } = outcome else {
        tracing::info!(status, ?outcome, "delivery receipt needs nothing");
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    tracing::info!(status, moved, message_id = message.id, "delivery receipt");
    if moved && matches!(status, "undelivered" | "failed") && message.is_to_patient() {
        let resend = match classify(error_code) {
            NumberProblem::Temporary if message.attempts <= RESENDS => resend_delay(
                app.config.send_backoff_base,
                usize::try_from(message.attempts).unwrap_or(0),
            ),
            _ => None,
        };
        match resend {
            Some(delay) => {
                let at = now + chrono::TimeDelta::from_std(delay).unwrap_or_default();
                app.store.resend_message(&message.id, at, now).await?;
            }
            None => cannot_text(&app.outbound, &message, error_code, &app.clock)
                .await
                .map_err(|e| match e {
                    crate::outbound::OutboundError::Store(e) => e.into(),
                    other => ApiError::Internal(other.into()),
                })?,
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
