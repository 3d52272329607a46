//! Liveness, readiness, metrics and the API description.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
}

/// The process is up.
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Ready to take texts: the database answers.
async fn readyz(State(app): State<AppState>) -> Response {
    match app.store.ping().await {
        Ok(()) => Json(json!({"status": "ready", "database": app.store.engine()})).into_response(),
        Err(error) => {
            tracing::warn!(%error, "not ready: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "database": app.store.engine()})),
            )
                .into_response()
        }
    }
}

async fn metrics(State(app): State<AppState>) -> Response {
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
    }
}

/// The staff API, generated from the handlers' own annotations.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "crht-gateway staff API",
        description = "Referrals gathered by text for the Crisis Resolution and Home Treatment Team. \
                       Errors are application/problem+json (RFC 9457)."
    ),
    paths(
        super::referrals::list_referrals,
        super::referrals::get_referral,
        super::referrals::get_transcript,
        super::referrals::set_status,
        super::referrals::get_conversation,
        super::staff_audit::list_audit,
        super::patients::create_patient,
        super::patients::list_patients,
        super::patients::get_patient,
        super::patients::update_patient,
        super::patients::acknowledge_patient,
        super::patients::patient_from_referral,
        super::appointments::book_appointment,
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
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "referrals", description = "The triage queue and its conversations"),
        (name = "audit", description = "Who read or changed what"),
        (name = "patients", description = "Patients and their e-Health Passports"),
        (name = "appointments", description = "Appointments and their reminders"),
        (name = "messages", description = "Reminders, notices and brief updates by each patient's channels"),
        (name = "tasks", description = "The staff call list and print list"),
        (name = "inbox", description = "What patients text, and what the team should know"),
    )
)]
pub struct ApiDoc;
