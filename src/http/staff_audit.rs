//! The audit log: who read or changed what, and when (admins only).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Staff;
use super::error::{ApiError, Problem};
use super::{AppState, List};

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
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AuditQuery {
    /// At most this many, newest first (default 500, up to 5000).
    pub limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery), security(("bearer" = [])),
    responses((status = 200, body = List<AuditOut>), (status = 403, body = Problem)))]
pub async fn list_audit(
    State(app): State<AppState>,
    staff: Staff,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<List<AuditOut>>, ApiError> {
    staff.require_admin()?;
    let Query(query) = query?;
    let entries = app
        .store
        .audit_log(query.limit.unwrap_or(500).clamp(1, 5000))
        .await?;
    Ok(Json(List::of(entries.into_iter().map(|e| AuditOut {
        at: e.at,
        actor: e.actor,
        role: e.role,
        action: e.action,
        target: e.target,
    }))))
}
