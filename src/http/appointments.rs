//! Appointments and the reminders before each: booking, rescheduling, cancelling. The rules
//! are in `crate::app::appointments`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::Staff;
use super::error::{ApiError, Problem};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::{AppState, List};
use crate::app::PageQuery;
use crate::app::appointments::{AppointmentBatchIn, AppointmentIn, AppointmentPatch};
use crate::domain::id::{AppointmentId, MessageId, PatientId, ReminderId};
use crate::store::{Appointment, Reminder, ReminderStatus};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/patients/{id}/appointments",
            post(book_appointment).get(list_appointments),
        )
        .route("/appointments/batch", post(book_appointments))
        .route(
            "/appointments/{id}",
            get(get_appointment)
                .patch(reschedule_appointment)
                .delete(cancel_appointment),
        )
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReminderOut {
    pub id: ReminderId,
    /// Seconds before the start, e.g. 86400 for the 24-hour reminder.
    pub offset_seconds: i64,
    /// When it goes (moved out of quiet hours when needed); for one not sent, when it was
    /// due.
    pub due_at: DateTime<Utc>,
    /// `pending`, `sent`, `skipped` or `cancelled`.
    pub status: ReminderStatus,
    /// Why it was skipped or cancelled, e.g. `already_passed`.
    pub reason: Option<String>,
    pub message_id: Option<MessageId>,
}

/// An appointment with its reminders, earliest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppointmentOut {
    #[serde(flatten)]
    pub appointment: Appointment,
    pub reminders: Vec<ReminderOut>,
}

impl From<&Reminder> for ReminderOut {
    fn from(r: &Reminder) -> Self {
        ReminderOut {
            id: r.id.clone(),
            offset_seconds: r.offset_seconds,
            due_at: r.send_at.unwrap_or(r.due_at),
            status: r.status,
            reason: r.reason.clone(),
            message_id: r.message_id.clone(),
        }
    }
}

impl From<&Appointment> for AppointmentOut {
    fn from(a: &Appointment) -> Self {
        let mut reminders: Vec<ReminderOut> = a.reminders.iter().map(Into::into).collect();
        reminders.sort_by_key(|r| std::cmp::Reverse(r.offset_seconds));
        AppointmentOut {
            appointment: a.clone(),
            reminders,
        }
    }
}

#[utoipa::path(post, path = "/api/v1/patients/{id}/appointments", tag = "appointments",
    params(("id" = String, Path)), request_body = AppointmentIn, security(("bearer" = [])),
    responses((status = 201, body = AppointmentOut), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn book_appointment(
    State(app): State<AppState>,
    staff: Staff,
    ApiPath(patient_id): ApiPath<PatientId>,
    ApiJson(input): ApiJson<AppointmentIn>,
) -> Result<(StatusCode, Json<AppointmentOut>), ApiError> {
    let appointment = app
        .services
        .book_appointment(&staff.0, &patient_id, input)
        .await?;
    Ok((StatusCode::CREATED, Json((&appointment).into())))
}

/// Books a clinic's list: up to 1,000 appointments, each checked and planned as a single
/// booking is, stored together in one transaction or, if any item is invalid or names no
/// patient, not at all (422 naming each bad item by its index and field).
#[utoipa::path(post, path = "/api/v1/appointments/batch", tag = "appointments",
    request_body = AppointmentBatchIn, security(("bearer" = [])),
    responses((status = 201, body = Vec<AppointmentOut>, description = "The appointments booked, in the order sent"),
        (status = 413, body = Problem),
        (status = 422, body = Problem, description = "An item is invalid or names no patient (each named in `errors`), the batch is empty, or it has more than 1,000 items; nothing was stored")))]
pub async fn book_appointments(
    State(app): State<AppState>,
    staff: Staff,
    ApiJson(input): ApiJson<AppointmentBatchIn>,
) -> Result<(StatusCode, Json<Vec<AppointmentOut>>), ApiError> {
    let booked = app.services.book_appointments(&staff.0, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(booked.iter().map(AppointmentOut::from).collect()),
    ))
}

/// The patient's appointments, earliest first, a page at a time.
#[utoipa::path(get, path = "/api/v1/patients/{id}/appointments", tag = "appointments",
    params(("id" = String, Path), PageQuery), security(("bearer" = [])),
    responses((status = 200, body = List<AppointmentOut>), (status = 400, body = Problem),
        (status = 404, body = Problem)))]
pub async fn list_appointments(
    State(app): State<AppState>,
    staff: Staff,
    ApiPath(patient_id): ApiPath<PatientId>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<List<AppointmentOut>>, ApiError> {
    let page = app
        .services
        .appointments_for_patient(&staff.0, &patient_id, query)
        .await?;
    Ok(Json(List::page(page.map(|a| AppointmentOut::from(&a)))))
}

#[utoipa::path(get, path = "/api/v1/appointments/{id}", tag = "appointments",
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = AppointmentOut), (status = 404, body = Problem)))]
pub async fn get_appointment(
    State(app): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<AppointmentId>,
) -> Result<Json<AppointmentOut>, ApiError> {
    Ok(Json(
        (&app.services.appointment(&staff.0, &id).await?).into(),
    ))
}

/// Moves an appointment: its reminders move with it, and the patient is told.
#[utoipa::path(patch, path = "/api/v1/appointments/{id}", tag = "appointments",
    params(("id" = String, Path)), request_body = AppointmentPatch, security(("bearer" = [])),
    responses((status = 200, body = AppointmentOut), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem),
        (status = 429, body = Problem, description = "The token has queued its messages for the day (CRHT_MESSAGES_PER_TOKEN_PER_DAY); Retry-After: seconds to midnight UTC")))]
pub async fn reschedule_appointment(
    State(app): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<AppointmentId>,
    ApiJson(input): ApiJson<AppointmentPatch>,
) -> Result<Json<AppointmentOut>, ApiError> {
    let updated = app
        .services
        .reschedule_appointment(&staff.0, &id, input)
        .await?;
    Ok(Json((&updated).into()))
}

/// Cancels an appointment: its reminders are withdrawn and the patient is told. It stays
/// listed, as cancelled.
#[utoipa::path(delete, path = "/api/v1/appointments/{id}", tag = "appointments",
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = Problem),
        (status = 429, body = Problem, description = "The token has queued its messages for the day (CRHT_MESSAGES_PER_TOKEN_PER_DAY); Retry-After: seconds to midnight UTC")))]
pub async fn cancel_appointment(
    State(app): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<AppointmentId>,
) -> Result<StatusCode, ApiError> {
    app.services.cancel_appointment(&staff.0, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
