//! The triage queue: referrals, their transcripts and status, and the conversation behind
//! a number. Every read of referral content is written to the audit log first.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::List;
use super::auth::Staff;
use super::error::{ApiError, Problem};
use crate::domain::phone::PhoneNumber;
use crate::domain::referral::ReferralStatus;
use crate::store::{Message, Referral, ReferralFilter, TranscriptItem};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/referrals", get(list_referrals))
        .route("/referrals/{id}", get(get_referral))
        .route("/referrals/{id}/transcript", get(get_transcript))
        .route("/referrals/{id}/status", post(set_status))
        .route("/conversations/{phone}", get(get_conversation))
}

/// A referral as staff see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReferralOut {
    pub id: String,
    /// Like `CRHT-7K3M9Q`: what the person was told.
    pub reference: String,
    pub status: ReferralStatus,
    pub urgent: bool,
    /// Names of the risk signals matched (and unsafe answers), e.g. `suicidal_intent`.
    pub risk_signals: Vec<String>,
    pub urgent_at: Option<DateTime<Utc>>,
    /// The team the referral is routed to (by postcode or town).
    pub team: String,
    /// The number that texted: E.164 where it parses as a number, else as the provider gave
    /// it. Only clinicians and admins read referrals, and every read is audited; it never goes
    /// into an on-call alert.
    pub phone: Option<String>,
    /// The language the person texts in, as soon as it is recognised: `pl`, `ro`, `pt`, `ar`,
    /// `ur`, `ur-Latn` (Roman Urdu), `pa`, `bn`, or a code from their answer to the language
    /// question.
    pub language: Option<String>,
    /// The team needs an interpreter to call them back.
    pub interpreter: bool,
    /// Answers by step id (answers replaced after BACK or RESTART under `superseded`).
    #[schema(value_type = Object)]
    pub answers: serde_json::Map<String, serde_json::Value>,
    /// True until the person sent the referral with YES.
    pub incomplete: bool,
    pub submitted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// On-call alerts sent for this referral (single referral view only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerts: Option<Vec<AlertOut>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertOut {
    /// The on-call number, E.164.
    pub to: Option<String>,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Referral> for ReferralOut {
    fn from(r: Referral) -> Self {
        ReferralOut {
            id: r.id,
            reference: r.reference,
            status: r.status,
            urgent: r.urgent,
            risk_signals: r.risk_signals,
            urgent_at: r.urgent_at,
            team: r.team,
            phone: r.phone,
            language: r.language,
            interpreter: r.interpreter,
            answers: r.answers,
            incomplete: r.incomplete,
            submitted_at: r.submitted_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
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

#[derive(Debug, Deserialize, IntoParams)]
pub struct ReferralQuery {
    /// Only referrals in this status (closed ones included when asked for).
    pub status: Option<String>,
    /// At most this many (default 200, up to 1000).
    pub limit: Option<u32>,
}

/// The triage queue: every referral not closed, urgent first, then oldest.
#[utoipa::path(get, path = "/api/v1/referrals", tag = "referrals", params(ReferralQuery),
    security(("bearer" = [])),
    responses((status = 200, body = List<ReferralOut>), (status = 403, body = Problem)))]
pub async fn list_referrals(
    State(app): State<AppState>,
    staff: Staff,
    query: Result<Query<ReferralQuery>, QueryRejection>,
) -> Result<Json<List<ReferralOut>>, ApiError> {
    staff.require_referral_reader()?;
    let Query(query) = query?;
    let status = query
        .status
        .as_deref()
        .map(|s| {
            ReferralStatus::parse(s)
                .ok_or_else(|| ApiError::BadRequest(format!("unknown status `{s}`")))
        })
        .transpose()?;
    let filter = ReferralFilter {
        status,
        limit: query.limit.unwrap_or(200).clamp(1, 1000),
    };
    app.store
        .audit(&staff.audit_entry(
            app.clock.now(),
            "referral.list",
            format!(
                "referrals?status={}",
                status.map_or("open", ReferralStatus::as_str)
            ),
        ))
        .await?;
    let referrals = app.store.referrals(&filter).await?;
    Ok(Json(List::of(referrals.into_iter().map(Into::into))))
}

#[utoipa::path(get, path = "/api/v1/referrals/{id}", tag = "referrals",
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = ReferralOut), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_referral(
    State(app): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Json<ReferralOut>, ApiError> {
    staff.require_referral_reader()?;
    app.store
        .audit(&staff.audit_entry(app.clock.now(), "referral.read", format!("referral:{id}")))
        .await?;
    let referral = app
        .store
        .referral(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no referral {id}")))?;
    let alerts = app.store.messages_for_referral(&id).await?;
    let mut out = ReferralOut::from(referral);
    out.alerts = Some(alerts.into_iter().map(Into::into).collect());
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
    /// The provider's message id, for inbound texts.
    pub provider_id: Option<String>,
}

impl From<TranscriptItem> for TranscriptItemOut {
    fn from(t: TranscriptItem) -> Self {
        TranscriptItemOut {
            direction: t.direction,
            body: t.body,
            at: t.at,
            provider_id: t.provider_id,
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
    Path(id): Path<String>,
) -> Result<Json<List<TranscriptItemOut>>, ApiError> {
    staff.require_referral_reader()?;
    app.store
        .audit(&staff.audit_entry(app.clock.now(), "transcript.read", format!("referral:{id}")))
        .await?;
    if app.store.referral(&id).await?.is_none() {
        return Err(ApiError::NotFound(format!("no referral {id}")));
    }
    let items = app.store.transcript(&id).await?;
    Ok(Json(List::of(items.into_iter().map(Into::into))))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct StatusIn {
    /// `acknowledged`, `accepted`, `signposted` or `closed`.
    pub status: String,
}

/// Moves a referral on in triage (acknowledging an urgent one stops its escalation).
#[utoipa::path(post, path = "/api/v1/referrals/{id}/status", tag = "referrals",
    params(("id" = String, Path)), request_body = StatusIn, security(("bearer" = [])),
    responses((status = 200, body = ReferralOut), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn set_status(
    State(app): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    body: Result<Json<StatusIn>, JsonRejection>,
) -> Result<Json<ReferralOut>, ApiError> {
    staff.require_referral_reader()?;
    let Json(body) = body?;
    let status = ReferralStatus::parse(&body.status)
        .filter(|s| s.settable_by_staff())
        .ok_or_else(|| {
            ApiError::Unprocessable(format!(
                "status must be one of acknowledged, accepted, signposted, closed (got `{}`)",
                body.status
            ))
        })?;
    let now = app.clock.now();
    app.store
        .audit(&staff.audit_entry(
            now,
            &format!("referral.status.{status}"),
            format!("referral:{id}"),
        ))
        .await?;
    let referral = app
        .store
        .set_referral_status(&id, status, now)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no referral {id}")))?;
    Ok(Json(referral.into()))
}

/// The conversation behind a number.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationOut {
    /// The step id of the question waiting for an answer.
    pub step: String,
    /// `active`, `completed`, `abandoned` or `stopped`.
    pub status: String,
    pub referral_id: String,
    pub last_text_at: DateTime<Utc>,
}

#[utoipa::path(get, path = "/api/v1/conversations/{phone}", tag = "referrals",
    params(("phone" = String, Path, description = "E.164, e.g. +447911123456")), security(("bearer" = [])),
    responses((status = 200, body = ConversationOut), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_conversation(
    State(app): State<AppState>,
    staff: Staff,
    Path(phone): Path<String>,
) -> Result<Json<ConversationOut>, ApiError> {
    staff.require_referral_reader()?;
    // Looked up as the inbound path stored it: a number libphonenumber does not list yet is
    // still someone's conversation (safety rule 7).
    let phone = Some(PhoneNumber::from_sender(Some(&phone), ""))
        .filter(PhoneNumber::is_e164)
        .ok_or_else(|| ApiError::BadRequest("not a valid phone number".into()))?;
    let summary = app
        .store
        .conversation(&phone)
        .await?
        .ok_or_else(|| ApiError::NotFound("no conversation with this number".into()))?;
    app.store
        .audit(&staff.audit_entry(
            app.clock.now(),
            "conversation.read",
            format!("referral:{}", summary.referral_id),
        ))
        .await?;
    Ok(Json(ConversationOut {
        step: summary.step,
        status: summary.status,
        referral_id: summary.referral_id,
        last_text_at: summary.last_text_at,
    }))
}
