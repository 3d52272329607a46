//! The triage queue: referrals, their transcripts and status, and the conversation behind
//! a number. Who may read them, and the audit of every read, are in `crate::app::referrals`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::List;
use super::auth::Staff;
use super::error::{ApiError, Problem};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use crate::app::entered::ReferralIn;
use crate::app::referrals::{ReferralQuery, StatusIn, TextBackIn};
use crate::domain::id::ReferralId;
use crate::store::{
    AuditAction, AuditEntry, AuditRole, ConversationSummary, Message, MessageStatus, Referral,
    TranscriptItem,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/referrals", get(list_referrals).post(create_referral))
        .route("/referrals/{id}", get(get_referral))
        .route("/referrals/{id}/transcript", get(get_transcript))
        .route("/referrals/{id}/status", post(set_status))
        .route("/referrals/{id}/messages", post(text_back))
        .route("/referrals/{id}/events", get(list_events))
        .route("/conversations/{phone}", get(get_conversation))
}

/// A referral as staff see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReferralOut {
    #[serde(flatten)]
    pub referral: Referral,
    /// On-call alerts sent for this referral (single referral view only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerts: Option<Vec<AlertOut>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertOut {
    /// The on-call number, E.164.
    pub to: Option<String>,
    pub status: MessageStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Referral> for ReferralOut {
    fn from(referral: Referral) -> Self {
        ReferralOut {
            referral,
            alerts: None,
        }
    }
}

impl From<Message> for AlertOut {
    fn from(m: Message) -> Self {
        AlertOut {
            to: m.to,
            status: m.status,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// The triage queue: every referral not closed, urgent first, then oldest.
#[utoipa::path(get, path = "/api/v1/referrals", tag = "referrals", params(ReferralQuery),
    security(("bearer" = [])),
    responses((status = 200, body = List<ReferralOut>), (status = 403, body = Problem)))]
pub async fn list_referrals(
    State(app): State<AppState>,
    staff: Staff,
    ApiQuery(query): ApiQuery<ReferralQuery>,
) -> Result<Json<List<ReferralOut>>, ApiError> {
    let page = app.services.referrals(&staff.0, query).await?;
    Ok(Json(List::page(page)))
}

/// Enters a referral taken by phone (the 0800 line, or passed on by NHS 111) or sent by
/// another system: the same answers as the texted conversation, the same routing and risk
/// screening (risk in its words makes it urgent and alerts on-call). Clinicians and admins.
#[utoipa::path(post, path = "/api/v1/referrals", tag = "referrals", request_body = ReferralIn,
    security(("bearer" = [])),
    responses((status = 201, body = ReferralOut), (status = 403, body = Problem),
        (status = 422, body = Problem, description = "Names each field that is missing or not valid")))]
pub async fn create_referral(
    State(app): State<AppState>,
    staff: Staff,
    ApiJson(input): ApiJson<ReferralIn>,
) -> Result<(StatusCode, Json<ReferralOut>), ApiError> {
    let referral = app.services.enter_referral(&staff.0, input).await?;
    Ok((StatusCode::CREATED, Json(referral.into())))
}

#[utoipa::path(get, path = "/api/v1/referrals/{id}", tag = "referrals",
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = ReferralOut), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_referral(
    State(app): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<ReferralId>,
) -> Result<Json<ReferralOut>, ApiError> {
    let found = app.services.referral(&staff.0, &id).await?;
    let mut out = ReferralOut::from(found.referral);
    out.alerts = Some(found.alerts.into_iter().map(Into::into).collect());
    Ok(Json(out))
}

/// One text, either way.
#[derive(Debug, Serialize, ToSchema)]
pub struct TranscriptItemOut {
    /// `inbound` (from the person) or `outbound` (our reply).
    pub direction: String,
    /// Empty after the retention period.
    pub body: Option<String>,
    pub at: DateTime<Utc>,
    /// The provider's message id: for inbound texts, and for a text back once sent.
    pub provider_id: Option<String>,
    /// Who on the team sent a text back (absent for the gateway's own replies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_by: Option<String>,
    /// Where a text back has got to: `queued`, `sending`, `sent`, `delivered`, `failed`, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_status: Option<String>,
}

impl From<TranscriptItem> for TranscriptItemOut {
    fn from(t: TranscriptItem) -> Self {
        TranscriptItemOut {
            direction: t.direction,
            body: t.body,
            at: t.at,
            provider_id: t.provider_id,
            sent_by: t.sent_by,
            delivery_status: t.delivery_status,
        }
    }
}

/// Every text of the referral's conversation, oldest first.
#[utoipa::path(get, path = "/api/v1/referrals/{id}/transcript", tag = "referrals",
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = List<TranscriptItemOut>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_transcript(
    State(app): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<ReferralId>,
) -> Result<Json<List<TranscriptItemOut>>, ApiError> {
    let items = app.services.transcript(&staff.0, &id).await?;
    Ok(Json(List::of(items.into_iter().map(Into::into))))
}

/// Moves a referral on in triage (acknowledging an urgent one stops its escalation).
#[utoipa::path(post, path = "/api/v1/referrals/{id}/status", tag = "referrals",
    params(("id" = String, Path)), request_body = StatusIn, security(("bearer" = [])),
    responses((status = 200, body = ReferralOut), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn set_status(
    State(app): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<ReferralId>,
    ApiJson(input): ApiJson<StatusIn>,
) -> Result<Json<ReferralOut>, ApiError> {
    let referral = app
        .services
        .set_referral_status(&staff.0, &id, input)
        .await?;
    Ok(Json(referral.into()))
}

/// The conversation behind a number.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationOut {
    /// The step id of the question waiting for an answer.
    pub step: String,
    /// `active`, `completed`, `abandoned` or `stopped`.
    pub status: String,
    pub referral_id: ReferralId,
    pub last_text_at: DateTime<Utc>,
}

#[utoipa::path(get, path = "/api/v1/conversations/{phone}", tag = "referrals",
    params(("phone" = String, Path, description = "E.164, e.g. +447911123456")), security(("bearer" = [])),
    responses((status = 200, body = ConversationOut), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_conversation(
    State(app): State<AppState>,
    staff: Staff,
    ApiPath(phone): ApiPath<String>,
) -> Result<Json<ConversationOut>, ApiError> {
    let summary = app.services.conversation(&staff.0, &phone).await?;
    Ok(Json(summary.into()))
}

impl From<ConversationSummary> for ConversationOut {
    fn from(summary: ConversationSummary) -> Self {
        ConversationOut {
            step: summary.step,
            status: summary.status,
            referral_id: summary.referral_id,
            last_text_at: summary.last_text_at,
        }
    }
}

/// Texts the person who texted the referral number back, from that number.
#[utoipa::path(post, path = "/api/v1/referrals/{id}/messages", tag = "referrals",
    params(("id" = String, Path)), request_body = TextBackIn, security(("bearer" = [])),
    responses((status = 202, body = TranscriptItemOut), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "The number opted out of texts (STOP), or cannot take texts"),
        (status = 422, body = Problem),
        (status = 429, body = Problem, description = "The token has queued its messages for the day (CRHT_MESSAGES_PER_TOKEN_PER_DAY); Retry-After: seconds to midnight UTC")))]
pub async fn text_back(
    State(app): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<ReferralId>,
    ApiJson(input): ApiJson<TextBackIn>,
) -> Result<(StatusCode, Json<TranscriptItemOut>), ApiError> {
    let item = app.services.text_back(&staff.0, &id, input).await?;
    Ok((StatusCode::ACCEPTED, Json(item.into())))
}

/// One thing done to a referral.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventOut {
    pub at: DateTime<Utc>,
    /// The staff member or token, or `crht-gateway` for what the gateway did itself.
    pub actor: String,
    pub role: AuditRole,
    /// E.g. `referral.created`, `referral.status.acknowledged`, `referral.text_back`,
    /// `referral.thread_text`, `patient.create`, `inbox.close`.
    pub action: AuditAction,
    pub target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl From<AuditEntry> for EventOut {
    fn from(e: AuditEntry) -> Self {
        EventOut {
            at: e.at,
            actor: e.actor,
            role: e.role,
            action: e.action,
            target: e.target,
            note: e.note,
        }
    }
}

/// Who did what to the referral, and when, oldest first.
#[utoipa::path(get, path = "/api/v1/referrals/{id}/events", tag = "referrals",
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = List<EventOut>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_events(
    State(app): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<ReferralId>,
) -> Result<Json<List<EventOut>>, ApiError> {
    let events = app.services.referral_events(&staff.0, &id).await?;
    Ok(Json(List::of(events.into_iter().map(Into::into))))
}
