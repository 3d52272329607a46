//! API tokens: the list (never a secret) and revocation, for admins.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::Staff;
use super::error::{ApiError, Problem};
use super::extract::ApiPath;
use super::{AppState, List};
use crate::domain::role::Role;
use crate::store::ApiTokenRecord;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tokens", get(list_tokens))
        .route("/tokens/{id}", delete(revoke_token))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenOut {
    pub id: String,
    pub name: String,
    pub role: Role,
    /// The owner's email; `null` for a named service's token.
    pub owner: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    /// To the minute.
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiTokenRecord> for TokenOut {
    fn from(token: ApiTokenRecord) -> Self {
        TokenOut {
            id: token.id,
            name: token.name,
            role: token.role,
            owner: token.owner_email,
            created_at: token.created_at,
            expires_at: token.expires_at,
            last_used_at: token.last_used_at,
            revoked_at: token.revoked_at,
        }
    }
}

/// Every API token, newest first, without its secret (admins only; audited).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", security(("bearer" = [])),
    responses((status = 200, body = List<TokenOut>), (status = 401, body = Problem),
        (status = 403, body = Problem)))]
pub async fn list_tokens(
    State(app): State<AppState>,
    staff: Staff,
) -> Result<Json<List<TokenOut>>, ApiError> {
    let tokens = app.services.accounts().tokens(&staff.0).await?;
    Ok(Json(List::of(tokens.into_iter().map(TokenOut::from))))
}

/// Revokes a token at once: it answers 401 from then on (admins only; audited).
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens",
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn revoke_token(
    State(app): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    app.services.accounts().revoke_token(&staff.0, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
