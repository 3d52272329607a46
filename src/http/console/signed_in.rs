//! Who is signed in to the console: `SignedIn` is to console pages what `Staff` is to the
//! JSON API. A session holds the user's id and when it was last used (by the app's clock); a
//! session idle longer than `CRHT_SESSION_IDLE_MINUTES`, or whose account is no longer
//! active, ends, and the page sends them to sign in.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, TimeDelta, Utc};
use tower_sessions::Session;

use super::csrf::session_failed;
use crate::app::staff::StaffUser;
use crate::http::AppState;

const USER_KEY: &str = "user_id";
const LAST_SEEN_KEY: &str = "last_seen";
/// The last use is written at most this often (each write saves the session).
const LAST_SEEN_EVERY: TimeDelta = TimeDelta::minutes(1);

/// A signed-in member of staff, and their session.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: StaffUser,
    pub session: Session,
    /// The session's CSRF token, for the page's forms.
    pub csrf_token: String,
    /// How long the session may stay idle, for the page's warning.
    pub idle_seconds: u64,
    /// What the last action did, said once on the next page (`flash`).
    pub flash: Option<String>,
}

const FLASH_KEY: &str = "flash";

/// Says `text` once, as a success banner on the next page shown (after a form's redirect).
pub async fn flash(session: &Session, text: impl Into<String>) -> Result<(), Response> {
    session
        .insert(FLASH_KEY, text.into())
        .await
        .map_err(|e| session_failed(&e))
}

/// A change made: said once on the next page, which the browser is sent to (POST, redirect,
/// GET).
pub async fn done(signed_in: &SignedIn, href: &str, text: impl Into<String>) -> Response {
    match flash(&signed_in.session, text).await {
        Ok(()) => axum::response::Redirect::to(href).into_response(),
        Err(response) => response,
    }
}

/// Sent by the live parts of a page (the triage queue's polling): a request that is not
/// someone using the console, so it does not keep an idle session alive.
pub const POLL_HEADER: &str = "x-console-poll";

/// Starts a signed-in session for `user` (whatever proved who they are): a new session id,
/// so an id planted before sign-in is worthless.
pub async fn start(
    session: &Session,
    user: &StaffUser,
    now: DateTime<Utc>,
) -> Result<(), Response> {
    session.cycle_id().await.map_err(|e| session_failed(&e))?;
    session
        .insert(USER_KEY, &user.id)
        .await
        .map_err(|e| session_failed(&e))?;
    session
        .insert(LAST_SEEN_KEY, now)
        .await
        .map_err(|e| session_failed(&e))?;
    Ok(())
}

/// The signed-in member of staff of this session, if any; ends a session that has been idle
/// too long or whose account has gone. `used`: this request is someone using the console
/// (not a page polling by itself), which keeps the session alive.
pub async fn current(
    app: &AppState,
    session: &Session,
    used: bool,
) -> Result<Option<StaffUser>, Response> {
    let failed = |e: tower_sessions::session::Error| session_failed(&e);
    let Some(user_id) = session.get::<String>(USER_KEY).await.map_err(failed)? else {
        return Ok(None);
    };
    let accounts = app.services.accounts();
    let last_seen = session
        .get::<DateTime<Utc>>(LAST_SEEN_KEY)
        .await
        .map_err(failed)?;
    let user = match last_seen {
        Some(seen) if !accounts.is_idle(seen, app.config.session_idle) => accounts
            .signed_in_user(&user_id)
            .await
            .map_err(|e| session_failed(&e))?,
        _ => None,
    };
    let Some(user) = user else {
        session.flush().await.map_err(failed)?;
        return Ok(None);
    };
    let now = accounts.now();
    if used && last_seen.is_some_and(|seen| now - seen >= LAST_SEEN_EVERY) {
        session.insert(LAST_SEEN_KEY, now).await.map_err(failed)?;
    }
    Ok(Some(user))
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Response> {
        let session = Session::from_request_parts(parts, app)
            .await
            .map_err(IntoResponse::into_response)?;
        let used = !parts.headers.contains_key(POLL_HEADER);
        match current(app, &session, used).await? {
            Some(user) => {
                let csrf_token = super::csrf::token(&session).await?;
                let flash = if used {
                    session
                        .remove::<String>(FLASH_KEY)
                        .await
                        .map_err(|e| session_failed(&e))?
                } else {
                    None
                };
                Ok(SignedIn {
                    user,
                    session,
                    csrf_token,
                    idle_seconds: app.config.session_idle.as_secs(),
                    flash,
                })
            }
            // htmx would put the sign-in page inside the one it is updating: it is told to
            // go there instead.
            None if parts.headers.contains_key("hx-request") => Err((
                [("hx-redirect", "/login?timed_out=1")],
                axum::http::StatusCode::OK,
            )
                .into_response()),
            None => Err(Redirect::to("/login").into_response()),
        }
    }
}
