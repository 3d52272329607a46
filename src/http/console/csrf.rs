//! Cross-site request forgery: every console form carries the session's token in a hidden
//! `csrf_token` field, and every POST form is read through `CsrfForm`, which answers 403
//! when the field is missing or wrong (compared in constant time). SameSite=Strict cookies
//! already stop most forgeries; this stops the rest, and covers browsers that ignore it.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;
use tower_sessions::Session;

use super::pages;
use crate::app::staff::generate_token;

const CSRF_KEY: &str = "csrf_token";

/// The session's CSRF token, made on first use (which starts a session for a visitor not yet
/// signed in, so the sign-in form is protected too).
pub async fn token(session: &Session) -> Result<String, Response> {
    if let Some(token) = session
        .get::<String>(CSRF_KEY)
        .await
        .map_err(|e| session_failed(&e))?
    {
        return Ok(token);
    }
    renew(session).await
}

/// A new CSRF token for the session (at sign-in, with the session's new id).
pub async fn renew(session: &Session) -> Result<String, Response> {
    let token = generate_token();
    session
        .insert(CSRF_KEY, &token)
        .await
        .map_err(|e| session_failed(&e))?;
    Ok(token)
}

pub(super) fn session_failed(error: &dyn std::fmt::Display) -> Response {
    tracing::error!(%error, "console session failed");
    pages::message(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Sorry, there is a problem with the service",
        "Try again later.",
        None,
    )
}

fn refused() -> Response {
    pages::message(
        StatusCode::FORBIDDEN,
        "This form could not be sent",
        "It may have been open too long, or it did not come from this site. Go back, \
         reload the page and try again.",
        Some(("/login", "Go to sign in")),
    )
}

/// A form POSTed from one of the console's own pages: its fields as `T`, once its CSRF token
/// matches the session's.
#[derive(Debug)]
pub struct CsrfForm<T>(pub T);

#[derive(Deserialize)]
struct CsrfField {
    csrf_token: Option<String>,
}

impl<S, T> FromRequest<S> for CsrfForm<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let session = Session::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let sent = serde_urlencoded::from_bytes::<CsrfField>(&bytes)
            .ok()
            .and_then(|f| f.csrf_token)
            .ok_or_else(refused)?;
        let expected = session
            .get::<String>(CSRF_KEY)
            .await
            .map_err(|e| session_failed(&e))?
            .ok_or_else(refused)?;
        if !bool::from(sent.as_bytes().ct_eq(expected.as_bytes())) {
            return Err(refused());
        }
        let form = serde_urlencoded::from_bytes::<T>(&bytes).map_err(|_| {
            pages::message(
                StatusCode::BAD_REQUEST,
                "This form could not be read",
                "Go back and try again.",
                None,
            )
        })?;
        Ok(CsrfForm(form))
    }
}
