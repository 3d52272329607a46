//! Appointments and the reminders before each: booking, rescheduling, cancelling.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::Staff;
use super::error::{ApiError, Problem};
use super::patients::find_patient;
use super::{AppState, List};
use crate::domain::patient::Purpose;
use crate::outbound::{MessageRequest, OutboundError, appointment_vars};
use crate::store::{
    Appointment, AppointmentPlace, AppointmentStatus, Patient, PreparedMessage, Reminder,
    ReminderStatus,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/patients/{id}/appointments",
            post(book_appointment).get(list_appointments),
        )
        .route(
            "/appointments/{id}",
            get(get_appointment)
                .patch(reschedule_appointment)
                .delete(cancel_appointment),
        )
}

const KINDS: [&str; 3] = ["assessment", "home_visit", "review"];

/// Appointments are to the second; finer parts would only make reminder times look odd.
fn whole_seconds(at: DateTime<Utc>) -> DateTime<Utc> {
    chrono::DurationRound::duration_trunc(at, chrono::TimeDelta::seconds(1)).unwrap_or(at)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AppointmentIn {
    /// RFC 3339, e.g. `2026-12-01T10:00:00Z`.
    pub starts_at: DateTime<Utc>,
    pub place: AppointmentPlace,
    /// Required when `place` is `site`.
    pub site_name: Option<String>,
    /// `assessment`, `home_visit` or `review`.
    pub kind: String,
    pub staff_name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AppointmentPatch {
    /// The new start (RFC 3339).
    pub starts_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReminderOut {
    pub id: String,
    /// Seconds before the start, e.g. 86400 for the 24-hour reminder.
    pub offset_seconds: i64,
    /// When it goes (moved out of quiet hours when needed); for one not sent, when it was
    /// due.
    pub due_at: DateTime<Utc>,
    /// `pending`, `sent`, `skipped` or `cancelled`.
    pub status: ReminderStatus,
    /// Why it was skipped or cancelled, e.g. `already_passed`.
    pub reason: Option<String>,
    pub message_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AppointmentOut {
    pub id: String,
    pub patient_id: String,
    pub starts_at: DateTime<Utc>,
    pub place: AppointmentPlace,
    pub site_name: Option<String>,
    pub kind: String,
    pub staff_name: Option<String>,
    /// `booked`, `confirmed` (the patient texted YES) or `cancelled`.
    pub status: AppointmentStatus,
    pub reminders: Vec<ReminderOut>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
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
            id: a.id.clone(),
            patient_id: a.patient_id.clone(),
            starts_at: a.starts_at,
            place: a.place,
            site_name: a.site_name.clone(),
            kind: a.kind.clone(),
            staff_name: a.staff_name.clone(),
            status: a.status,
            reminders,
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

fn template_error(error: OutboundError) -> ApiError {
    match error {
        OutboundError::Template(e) => ApiError::Internal(e.into()),
        OutboundError::Letter(e) => ApiError::Internal(e.into()),
        OutboundError::Store(e) => e.into(),
    }
}

/// A notice to the patient about their appointment (moved or cancelled).
fn notice(
    app: &AppState,
    patient: &Patient,
    appointment: &Appointment,
    template: &str,
) -> Result<PreparedMessage, ApiError> {
    let request = MessageRequest {
        purpose: Purpose::Update,
        template: template.to_owned(),
        vars: appointment_vars(appointment, false),
        appointment_id: Some(appointment.id.clone()),
        reminder_key: None,
    };
    app.outbound
        .prepare(patient, &request, crate::new_id(), Vec::new())
        .map_err(template_error)
}

#[utoipa::path(post, path = "/api/v1/patients/{id}/appointments", tag = "appointments",
    params(("id" = String, Path)), request_body = AppointmentIn, security(("bearer" = [])),
    responses((status = 201, body = AppointmentOut), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn book_appointment(
    State(app): State<AppState>,
    staff: Staff,
    Path(patient_id): Path<String>,
    body: Result<Json<AppointmentIn>, JsonRejection>,
) -> Result<(StatusCode, Json<AppointmentOut>), ApiError> {
    let Json(mut input) = body?;
    input.starts_at = whole_seconds(input.starts_at);
    let patient = find_patient(&app, &patient_id).await?;
    let now = app.clock.now();
    if input.starts_at <= now {
        return Err(ApiError::Unprocessable("starts_at is in the past".into()));
    }
    if !KINDS.contains(&input.kind.as_str()) {
        return Err(ApiError::Unprocessable(
            "kind must be assessment, home_visit or review".into(),
        ));
    }
    let site_name = input
        .site_name
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    if input.place == AppointmentPlace::Site && site_name.is_none() {
        return Err(ApiError::Unprocessable(
            "site_name is required when place is site".into(),
        ));
    }
    let appointment = Appointment {
        id: crate::new_id(),
        patient_id: patient.id.clone(),
        starts_at: input.starts_at,
        place: input.place,
        site_name,
        kind: input.kind,
        staff_name: input
            .staff_name
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty()),
        status: AppointmentStatus::Booked,
        created_at: now,
        updated_at: now,
        reminders: Vec::new(),
    };
    let plans = app.outbound.plan_reminders(
        appointment.starts_at,
        app.outbound.quiet_hours_for(&patient),
    );
    app.store.create_appointment(&appointment, &plans).await?;
    app.store
        .audit(&staff.audit_entry(
            now,
            "appointment.book",
            format!("appointment:{}", appointment.id),
        ))
        .await?;
    let stored = find_appointment(&app, &appointment.id).await?;
    Ok((StatusCode::CREATED, Json((&stored).into())))
}

async fn find_appointment(app: &AppState, id: &str) -> Result<Appointment, ApiError> {
    app.store
        .appointment(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no appointment {id}")))
}

#[utoipa::path(get, path = "/api/v1/patients/{id}/appointments", tag = "appointments",
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = List<AppointmentOut>), (status = 404, body = Problem)))]
pub async fn list_appointments(
    State(app): State<AppState>,
    _staff: Staff,
    Path(patient_id): Path<String>,
) -> Result<Json<List<AppointmentOut>>, ApiError> {
    find_patient(&app, &patient_id).await?;
    let appointments = app.store.appointments_for_patient(&patient_id).await?;
    Ok(Json(List::of(appointments.iter().map(Into::into))))
}

#[utoipa::path(get, path = "/api/v1/appointments/{id}", tag = "appointments",
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = AppointmentOut), (status = 404, body = Problem)))]
pub async fn get_appointment(
    State(app): State<AppState>,
    _staff: Staff,
    Path(id): Path<String>,
) -> Result<Json<AppointmentOut>, ApiError> {
    Ok(Json((&find_appointment(&app, &id).await?).into()))
}

/// Moves an appointment: its reminders move with it, and the patient is told.
#[utoipa::path(patch, path = "/api/v1/appointments/{id}", tag = "appointments",
    params(("id" = String, Path)), request_body = AppointmentPatch, security(("bearer" = [])),
    responses((status = 200, body = AppointmentOut), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn reschedule_appointment(
    State(app): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    body: Result<Json<AppointmentPatch>, JsonRejection>,
) -> Result<Json<AppointmentOut>, ApiError> {
    let Json(mut input) = body?;
    input.starts_at = whole_seconds(input.starts_at);
    let now = app.clock.now();
    if input.starts_at <= now {
        return Err(ApiError::Unprocessable("starts_at is in the past".into()));
    }
    let current = find_appointment(&app, &id).await?;
    if current.status == AppointmentStatus::Cancelled {
        return Err(ApiError::Conflict(
            "the appointment is cancelled; book a new one".into(),
        ));
    }
    let patient = find_patient(&app, &current.patient_id).await?;
    let moved = Appointment {
        starts_at: input.starts_at,
        ..current.clone()
    };
    let plans = app
        .outbound
        .plan_reminders(input.starts_at, app.outbound.quiet_hours_for(&patient));
    let message = (input.starts_at != current.starts_at)
        .then(|| notice(&app, &patient, &moved, "appointment_moved"))
        .transpose()?;
    let updated = app
        .store
        .reschedule_appointment(&id, input.starts_at, &plans, message.as_ref(), now)
        .await?
        .ok_or_else(|| ApiError::Conflict("the appointment is cancelled; book a new one".into()))?;
    app.store
        .audit(&staff.audit_entry(now, "appointment.reschedule", format!("appointment:{id}")))
        .await?;
    Ok(Json((&updated).into()))
}

/// Cancels an appointment: its reminders are withdrawn and the patient is told. It stays
/// listed, as cancelled.
#[utoipa::path(delete, path = "/api/v1/appointments/{id}", tag = "appointments",
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn cancel_appointment(
    State(app): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let current = find_appointment(&app, &id).await?;
    if current.status == AppointmentStatus::Cancelled {
        return Ok(StatusCode::NO_CONTENT);
    }
    let patient = find_patient(&app, &current.patient_id).await?;
    let now = app.clock.now();
    let message = (current.starts_at > now)
        .then(|| notice(&app, &patient, &current, "cancellation"))
        .transpose()?;
    app.store
        .cancel_appointment(&id, "cancelled_by_team", message.as_ref(), now)
        .await?;
    app.store
        .audit(&staff.audit_entry(now, "appointment.cancel", format!("appointment:{id}")))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
