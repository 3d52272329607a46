//! Staff bearer tokens: random, shown once, stored only as a SHA-256 hash; revoked or
//! expired ones are refused (`app::staff::Accounts::bearer`).

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::AppState;
use super::error::ApiError;
use crate::store::Actor;

pub use crate::app::staff::{generate_token, hash_token};

/// The member of staff making a request (what they may do is the application layer's to
/// decide).
#[derive(Debug, Clone)]
pub struct Staff(pub Actor);

impl FromRequestParts<AppState> for Staff {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthorized)?;
        let actor = app.services.accounts().bearer(token).await?;
        Ok(Staff(actor.ok_or(ApiError::Unauthorized)?))
    }
}
