//! Liveness, readiness, metrics and the API description.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, RefOr};
use utoipa::{Modify, OpenApi, ToSchema};

use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Health {
    /// `ok`.
    status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Readiness {
    /// `ready` or `unavailable`.
    status: &'static str,
    /// `sqlite` or `postgres`.
    database: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Ready to take texts: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
async fn readyz(State(app): State<AppState>) -> Response {
    let database = app.store.engine();
    match app.store.ping().await {
        Ok(()) => Json(Readiness {
            status: "ready",
            database,
        })
        .into_response(),
        Err(error) => {
            tracing::warn!(%error, "not ready: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Readiness {
                    status: "unavailable",
                    database,
                }),
            )
                .into_response()
        }
    }
}

/// Counters and timings in the OpenMetrics text format (Prometheus), by route template.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "OpenMetrics text",
        content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8", body = String)))]
async fn metrics(State(app): State<AppState>) -> Response {
    // The team's gauges come from the database at each scrape; without it the counters
    // are still worth having.
    match app.store.gauges().await {
        Ok(gauges) => app.metrics.set_gauges(&gauges, app.clock.now()),
        Err(error) => tracing::warn!(%error, "metrics: the team's gauges could not be read"),
    }
    let mut response = app.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        // Not a staff token: the one GOV.UK Notify is given for its callbacks.
        components.add_security_scheme(
            "notify_callback",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("CRHT_NOTIFY_CALLBACK_TOKEN"))
                    .build(),
            ),
        );
    }
}

/// Every response in the document, to finish what the handlers' annotations leave out:
/// OpenAPI requires a description on each (where a handler gives none, the status's own reason
/// phrase, "Not Found", says it), and errors are sent as `application/problem+json`, not the
/// `application/json` utoipa assumes for a body.
struct Responses;

impl Modify for Responses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let operations = openapi.paths.paths.values_mut().flat_map(|item| {
            [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.options,
                &mut item.head,
                &mut item.patch,
                &mut item.trace,
                &mut item.query,
            ]
            .into_iter()
            .flatten()
        });
        for operation in operations {
            for (status, response) in &mut operation.responses.responses {
                let RefOr::T(response) = response else {
                    continue;
                };
                if response
                    .content
                    .get("application/json")
                    .is_some_and(is_problem)
                    && let Some(problem) = response.content.shift_remove("application/json")
                {
                    response
                        .content
                        .insert("application/problem+json".to_owned(), problem);
                }
                if response.description.is_empty() {
                    response.description = status
                        .parse::<u16>()
                        .ok()
                        .and_then(|code| StatusCode::from_u16(code).ok())
                        .and_then(|code| code.canonical_reason())
                        .unwrap_or("Response")
                        .to_owned();
                }
            }
        }
    }
}

fn is_problem(content: &RefOr<Content>) -> bool {
    matches!(content, RefOr::T(Content { schema: Some(RefOr::Ref(schema)), .. })
        if schema.ref_location.ends_with("/Problem"))
}

/// An inbound text as Twilio posts it (more fields come; all are kept for the signature).
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)] // describes the form for the document; the handler reads the raw form
pub(super) struct TwilioInboundSms {
    /// The provider's id of the text (`SmsMessageSid` is accepted too).
    #[serde(rename = "MessageSid")]
    message_sid: String,
    /// The sender's number; kept as given when it is not one.
    #[serde(rename = "From")]
    from: Option<String>,
    /// The referral number.
    #[serde(rename = "To")]
    to: Option<String>,
    /// The words, any Unicode.
    #[serde(rename = "Body")]
    body: Option<String>,
}

/// A delivery receipt as Twilio posts it.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)] // describes the form for the document; the handler reads the raw form
pub(super) struct TwilioStatusCallback {
    /// The id Twilio gave the text we sent (`SmsSid` is accepted too).
    #[serde(rename = "MessageSid")]
    message_sid: String,
    /// `queued`, `sent`, `delivered`, `undelivered`, `failed`, … (`SmsStatus` is accepted too).
    #[serde(rename = "MessageStatus")]
    message_status: String,
    /// Twilio's error code when the text failed, e.g. `21610` (the person texted STOP).
    #[serde(rename = "ErrorCode")]
    error_code: Option<String>,
}

/// The staff API, the provider's webhooks and the operations endpoints, generated from the
/// handlers' own annotations.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "crht-gateway staff API",
        description = "Referrals gathered by text for the Crisis Resolution and Home Treatment Team. \
                       Errors are application/problem+json (RFC 9457). The provider's webhooks \
                       take Twilio's form-encoded posts, signed with X-Twilio-Signature, and \
                       GOV.UK Notify's JSON received texts and delivery receipts with its \
                       callback bearer token."
    ),
    paths(
        super::webhooks::inbound_sms,
        super::webhooks::status_callback,
        super::webhooks::notify_status_callback,
        super::webhooks::notify_inbound,
        healthz,
        readyz,
        metrics,
        super::referrals::list_referrals,
        super::referrals::create_referral,
        super::referrals::get_referral,
        super::referrals::get_transcript,
        super::referrals::set_status,
        super::referrals::text_back,
        super::referrals::list_events,
        super::referrals::get_conversation,
        super::staff_audit::list_audit,
        super::staff_audit::export_audit,
        super::tokens::list_tokens,
        super::tokens::revoke_token,
        super::patients::create_patient,
        super::patients::list_patients,
        super::patients::get_patient,
        super::patients::update_patient,
        super::patients::acknowledge_patient,
        super::patients::discharge_patient,
        super::feedback::feedback,
        super::patients::put_safety_plan,
        super::patients::get_safety_plan,
        super::patients::send_safety_plan,
        super::patients::patient_from_referral,
        super::appointments::book_appointment,
        super::appointments::book_appointments,
        super::appointments::list_appointments,
        super::appointments::get_appointment,
        super::appointments::reschedule_appointment,
        super::appointments::cancel_appointment,
        super::messages::queue_message,
        super::messages::list_messages,
        super::messages::list_tasks,
        super::messages::complete_task,
        super::messages::task_letter,
        super::messages::list_inbox,
        super::messages::close_inbox_item,
    ),
    modifiers(&BearerAuth, &Responses),
    tags(
        (name = "referrals", description = "The triage queue and its conversations"),
        (name = "audit", description = "Who read or changed what"),
        (name = "tokens", description = "API tokens: listed without their secrets, and revoked"),
        (name = "patients", description = "Patients and their e-Health Passports"),
        (name = "feedback", description = "Patients' ratings of their care, after discharge"),
        (name = "appointments", description = "Appointments and their reminders"),
        (name = "messages", description = "Reminders, notices and brief updates by each patient's channels"),
        (name = "tasks", description = "The staff call list and print list"),
        (name = "inbox", description = "What patients text, and what the team should know"),
        (name = "webhooks", description = "The SMS provider's inbound texts and delivery receipts"),
        (name = "operations", description = "Liveness, readiness and metrics"),
    )
)]
pub struct ApiDoc;
