//! Patients and their e-Health Passports; turning a referral into a patient; acknowledging a
//! patient's urgent episode. The rules are in `crate::app::patients`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::auth::Staff;
use super::error::{ApiError, Problem};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::{AppState, List};
use crate::app::feedback::DischargeIn;
use crate::app::patients::{AddressIo, FromReferralIn, PatientIn, PatientQuery};
use crate::app::safety_plans::{self, SafetyPlanOut};
use crate::domain::channel::AccessNeed;
use crate::domain::id::{PatientId, ReferralId};
use crate::domain::patient::ContactPreferences;
use crate::store::{Message, PatientRecord, SafetyPlanSections};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/patients", post(create_patient).get(list_patients))
        .route("/patients/{id}", get(get_patient).patch(update_patient))
        .route("/patients/{id}/acknowledge", post(acknowledge_patient))
        .route("/patients/{id}/discharge", post(discharge_patient))
        .route(
            "/patients/{id}/safety-plan",
            get(get_safety_plan).put(put_safety_plan),
        )
        .route("/patients/{id}/safety-plan/send", post(send_safety_plan))
        .route("/referrals/{id}/patient", post(patient_from_referral))
}

/// A patient as staff see them.
#[derive(Debug, Serialize, ToSchema)]
pub struct PatientOut {
    pub id: PatientId,
    pub name: String,
    pub preferred_name: Option<String>,
    pub pronouns: Option<String>,
    /// The ten digits, e.g. `9434765919`.
    pub nhs_number: Option<String>,
    /// `YYYY-MM-DD`.
    #[schema(value_type = Option<String>, format = Date)]
    pub date_of_birth: Option<chrono::NaiveDate>,
    pub mobile: Option<String>,
    pub landline: Option<String>,
    pub address: AddressIo,
    pub language: Option<String>,
    pub interpreter: bool,
    pub access_needs: Vec<AccessNeed>,
    pub support_person: Option<String>,
    pub service_animal: Option<String>,
    /// The patient's own quiet hours; null means the service's default applies.
    pub quiet_hours: Option<String>,
    pub team: Option<String>,
    #[schema(value_type = Object)]
    pub contact_preferences: ContactPreferences,
    pub sms_opted_out: bool,
    /// The provider's error code when texts to the mobile failed for good.
    pub mobile_failed: Option<String>,
    /// An urgent episode is open: a text from the patient showed risk, and no clinician has
    /// acknowledged it yet (`POST /patients/{id}/acknowledge`).
    pub urgent: bool,
    /// Every risk signal matched in the patient's texts (kept after acknowledgement).
    pub risk_signals: Vec<String>,
    /// When the open urgent episode began; null when none is open.
    pub urgent_at: Option<DateTime<Utc>>,
    /// The open episode's escalation: 0 on-call alerted, 1 alerted again, 2 the team's
    /// escalation numbers alerted.
    pub escalation_level: i64,
    /// The last acknowledgement of an urgent episode, and by whom.
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
    /// When a clinician discharged them (`POST /patients/{id}/discharge`); null while in
    /// the team's care.
    pub discharged_at: Option<DateTime<Utc>>,
    pub notes: Option<String>,
    pub referral_id: Option<ReferralId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&PatientRecord> for PatientOut {
    fn from(record: &PatientRecord) -> Self {
        let p = &record.patient;
        let episode = &record.episode;
        PatientOut {
            id: p.id.clone(),
            name: p.name.clone(),
            preferred_name: p.preferred_name.clone(),
            pronouns: p.pronouns.clone(),
            nhs_number: p.nhs_number.as_ref().map(|n| n.as_str().to_owned()),
            date_of_birth: p.date_of_birth,
            mobile: p.mobile.as_ref().map(|m| m.e164().to_owned()),
            landline: p.landline.as_ref().map(|m| m.e164().to_owned()),
            address: AddressIo {
                lines: p.address.lines.clone(),
                postcode: p.address.postcode.as_ref().map(|c| c.as_str().to_owned()),
            },
            language: p.language.clone(),
            interpreter: p.interpreter,
            access_needs: p.access_needs.clone(),
            support_person: p.support_person.clone(),
            service_animal: p.service_animal.clone(),
            quiet_hours: p.quiet_hours.map(|q| q.to_string()),
            team: p.team.clone(),
            contact_preferences: p.contact_preferences.complete(),
            sms_opted_out: p.sms_opted_out,
            mobile_failed: p.mobile_failed.clone(),
            urgent: p.urgent,
            risk_signals: p.risk_signals.clone(),
            urgent_at: episode.urgent_at,
            escalation_level: episode.escalation_level,
            acknowledged_at: episode.acknowledged_at,
            acknowledged_by: episode.acknowledged_by.clone(),
            discharged_at: record.discharged_at,
            notes: p.notes.clone(),
            referral_id: p.referral_id.clone(),
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

#[utoipa::path(post, path = "/api/v1/patients", tag = "patients", request_body = PatientIn,
    security(("bearer" = [])),
    responses((status = 201, body = PatientOut), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn create_patient(
    State(app): State<AppState>,
    staff: Staff,
    ApiJson(input): ApiJson<PatientIn>,
) -> Result<(StatusCode, Json<PatientOut>), ApiError> {
    let record = app.services.create_patient(&staff.0, input).await?;
    Ok((StatusCode::CREATED, Json((&record).into())))
}

/// Urgent patients come first (longest waiting first), then the rest, oldest record first.
#[utoipa::path(get, path = "/api/v1/patients", tag = "patients", params(PatientQuery),
    security(("bearer" = [])),
    responses((status = 200, body = List<PatientOut>), (status = 400, body = Problem)))]
pub async fn list_patients(
    State(app): State<AppState>,
    staff: Staff,
    ApiQuery(query): ApiQuery<PatientQuery>,
) -> Result<Json<List<PatientOut>>, ApiError> {
    let page = app.services.list_patients(&staff.0, query).await?;
    Ok(Json(List::page(page.map(|r| PatientOut::from(&r)))))
}

#[utoipa::path(get, path = "/api/v1/patients/{id}", tag = "patients", params(("id" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = PatientOut), (status = 404, body = Problem)))]
pub async fn get_patient(
    State(app): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<PatientId>,
) -> Result<Json<PatientOut>, ApiError> {
    Ok(Json((&app.services.patient(&staff.0, &id).await?).into()))
}

/// Changes the fields given (JSON merge patch, RFC 7396: null clears a field). A new mobile
/// already on another patient's record needs `"shared_mobile": true` in the patch.
#[utoipa::path(patch, path = "/api/v1/patients/{id}", tag = "patients", params(("id" = String, Path)),
    request_body = PatientIn, security(("bearer" = [])),
    responses((status = 200, body = PatientOut), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn update_patient(
    State(app): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<PatientId>,
    ApiJson(patch): ApiJson<Value>,
) -> Result<Json<PatientOut>, ApiError> {
    let record = app.services.update_patient(&staff.0, &id, patch).await?;
    Ok(Json((&record).into()))
}

/// A clinician has seen the patient's urgent episode and is acting on it: the episode closes,
/// re-alerts and escalation stop, and the risk signals stay on the record as history.
/// Acknowledging a patient with no open episode changes nothing (a second clinician's click
/// is harmless): 200 with the record as it is, and only a real acknowledgement is audited.
#[utoipa::path(post, path = "/api/v1/patients/{id}/acknowledge", tag = "patients",
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = PatientOut), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn acknowledge_patient(
    State(app): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<PatientId>,
) -> Result<Json<PatientOut>, ApiError> {
    let record = app.services.acknowledge_patient(&staff.0, &id).await?;
    Ok(Json((&record).into()))
}

/// A clinician discharges the patient from the team's care: the record shows when, and a
/// feedback request goes by their own channels `CRHT_FEEDBACK_AFTER` later (never in quiet
/// hours, never within 72 hours of a risk text from them). Appointments still booked are left
/// as they are. Clinicians and admins; 409 when already discharged.
#[utoipa::path(post, path = "/api/v1/patients/{id}/discharge", tag = "patients",
    params(("id" = String, Path)),
    request_body(content = DischargeIn, description = "May be left out."), security(("bearer" = [])),
    responses((status = 200, body = PatientOut), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn discharge_patient(
    State(app): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<PatientId>,
    body: Option<ApiJson<DischargeIn>>,
) -> Result<Json<PatientOut>, ApiError> {
    let input = body.map(|ApiJson(input)| input).unwrap_or_default();
    let record = app.services.discharge_patient(&staff.0, &id, input).await?;
    Ok(Json((&record).into()))
}

/// Creates the patient a referral describes, carrying its answers over.
#[utoipa::path(post, path = "/api/v1/referrals/{id}/patient", tag = "patients", params(("id" = String, Path)),
    request_body(content = FromReferralIn, description = "May be left out."), security(("bearer" = [])),
    responses((status = 201, body = PatientOut), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn patient_from_referral(
    State(app): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<ReferralId>,
    body: Option<ApiJson<FromReferralIn>>,
) -> Result<(StatusCode, Json<PatientOut>), ApiError> {
    let options = body.map(|ApiJson(options)| options).unwrap_or_default();
    let record = app
        .services
        .patient_from_referral(&staff.0, &id, options)
        .await?;
    Ok((StatusCode::CREATED, Json((&record).into())))
}

/// Writes the patient's safety plan, replacing any earlier version (clinicians and admins).
/// Every section is optional: a list of short lines in the patient's own words. A plan read
/// back by GET may be written back as it is (its `patient_id`, `updated_at` and `updated_by`
/// are ignored).
#[utoipa::path(put, path = "/api/v1/patients/{id}/safety-plan", tag = "patients",
    params(("id" = String, Path)), request_body = SafetyPlanSections, security(("bearer" = [])),
    responses((status = 200, body = SafetyPlanOut), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn put_safety_plan(
    State(app): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<PatientId>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<Json<SafetyPlanOut>, ApiError> {
    let sections = safety_plans::written_sections(body, &id)?;
    Ok(Json(
        app.services
            .save_safety_plan(&staff.0, &id, sections)
            .await?,
    ))
}

/// The patient's safety plan (clinicians and admins; the read is audited). 404 when there is
/// no such patient or no plan yet.
#[utoipa::path(get, path = "/api/v1/patients/{id}/safety-plan", tag = "patients",
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = SafetyPlanOut), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_safety_plan(
    State(app): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<PatientId>,
) -> Result<Json<SafetyPlanOut>, ApiError> {
    Ok(Json(app.services.safety_plan(&staff.0, &id).await?))
}

/// Sends the patient's current safety plan by their channels for non-urgent messages (a
/// letter unless their passport says otherwise, in easy read or large print as it asks);
/// never by text to a mobile another record shares. Clinicians and admins.
#[utoipa::path(post, path = "/api/v1/patients/{id}/safety-plan/send", tag = "patients",
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 202, body = Message), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 429, body = Problem, description = "The token has queued its messages for the day (CRHT_MESSAGES_PER_TOKEN_PER_DAY); Retry-After: seconds to midnight UTC")))]
pub async fn send_safety_plan(
    State(app): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<PatientId>,
) -> Result<(StatusCode, Json<Message>), ApiError> {
    let message = app.services.send_safety_plan(&staff.0, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(message)))
}
