//! The audit log: who read or changed what, and when (admins only).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
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
use crate::store::AuditRecord;
use crate::store::{AuditAction, AuditRole};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/audit", get(list_audit))
        .route("/audit/export.csv", get(export_audit))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditOut {
    pub at: DateTime<Utc>,
    /// The token's name, or the signed-in user's email (names need not be unique:
    /// `token_id` and `user_id` tell actors apart).
    pub actor: String,
    pub role: AuditRole,
    /// e.g. `referral.read`.
    pub action: AuditAction,
    /// e.g. `referral:01J…`.
    pub target: String,
    /// What staff wrote with the change, if anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The API token used; null for the gateway, the command line and console sessions.
    pub token_id: Option<String>,
    /// The user behind the token or session; null for a service's token and the gateway.
    pub user_id: Option<String>,
    /// For a list read: the ids shown, comma-separated, in the order shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery), security(("bearer" = [])),
    responses((status = 200, body = List<AuditOut>), (status = 403, body = Problem)))]
pub async fn list_audit(
    State(app): State<AppState>,
    staff: Staff,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<List<AuditOut>>, ApiError> {
    let page = app.services.audit_log(&staff.0, query).await?;
    Ok(Json(List::page(page)))
}

impl From<AuditRecord> for AuditOut {
    fn from(record: AuditRecord) -> Self {
        let e = record.entry;
        AuditOut {
            at: e.at,
            actor: e.actor,
            role: e.role,
            action: e.action,
            target: e.target,
            note: e.note,
            token_id: e.token_id,
            user_id: e.user_id,
            records: e.records,
        }
    }
}

/// The audit log as CSV (newest first; the same filters; up to 100,000 rows), for admins.
#[utoipa::path(get, path = "/api/v1/audit/export.csv", tag = "audit", params(AuditQuery),
    security(("bearer" = [])),
    responses((status = 200, content_type = "text/csv", body = String), (status = 403, body = Problem)))]
pub async fn export_audit(
    State(app): State<AppState>,
    staff: Staff,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Response, ApiError> {
    let rows = app.services.audit_export(&staff.0, query).await?;
    csv_response(rows)
}

/// The audit entries as a CSV download (the JSON API's export and the console's).
pub(crate) fn csv_response(rows: Vec<AuditRecord>) -> Result<Response, ApiError> {
    let mut csv = csv::Writer::from_writer(Vec::new());
    let failed = |e: csv::Error| ApiError::Internal(e.into());
    csv.write_record([
        "seq", "at", "actor", "role", "action", "target", "token_id", "user_id", "records",
    ])
    .map_err(failed)?;
    for record in rows {
        let e = record.entry;
        csv.write_record([
            record.seq.to_string(),
            e.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            spreadsheet_safe(e.actor),
            e.role.to_string(),
            e.action.to_string(),
            spreadsheet_safe(e.target),
            spreadsheet_safe(e.token_id.unwrap_or_default()),
            spreadsheet_safe(e.user_id.unwrap_or_default()),
            spreadsheet_safe(e.records.unwrap_or_default()),
        ])
        .map_err(failed)?;
    }
    let body = csv
        .into_inner()
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("{e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"audit.csv\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response())
}

/// A cell a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, a tab or a return first)
/// gets a leading apostrophe, so opening the export runs nothing a name smuggled in.
fn spreadsheet_safe(cell: String) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell
    }
}
