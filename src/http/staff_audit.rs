//! The audit log: who read or changed what, and when (admins only).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::Staff;
use super::error::{ApiError, Problem};
use super::extract::ApiQuery;
use super::{AppState, List};
use crate::app::audit::AuditQuery;

pub fn router() -> Router<AppState> {
    Router::new().route("/audit", get(list_audit))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditOut {
    pub at: DateTime<Utc>,
    /// The token's name.
    pub actor: String,
    pub role: String,
    /// e.g. `referral.read`.
    pub action: String,
    /// e.g. `referral:01J…`.
    pub target: String,
    /// What staff wrote with the change, if anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery), security(("bearer" = [])),
    responses((status = 200, body = List<AuditOut>), (status = 403, body = Problem)))]
pub async fn list_audit(
    State(app): State<AppState>,
    staff: Staff,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<List<AuditOut>>, ApiError> {
    let entries = app.services.audit_log(&staff.0, query).await?;
    Ok(Json(List::of(entries.into_iter().map(|e| AuditOut {
        at: e.at,
        actor: e.actor,
        role: e.role,
        action: e.action,
        target: e.target,
        note: e.note,
    }))))
}
