//! The console's sign-in pages, server-rendered: `GET/POST /login`, `POST /logout`,
//! `GET/POST /set-password`, and a first `/console/referrals` that needs a session. Sessions
//! are tower-sessions over our own store (`store::ConsoleSessions`); every POST form is
//! checked for its CSRF token (`csrf::CsrfForm`); `SignedIn` says who is signed in. The
//! JSON API stays bearer-token only.

pub mod csrf;
mod oidc;
mod pages;
pub mod signed_in;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tower_sessions::cookie::SameSite;
use tower_sessions::cookie::time::Duration as CookieDuration;
use tower_sessions::{Expiry, Session, SessionManagerLayer};

use self::csrf::CsrfForm;
use self::pages::{FieldError, message, page};
pub use self::signed_in::SignedIn;
use super::AppState;
use crate::app::Error;
use crate::app::staff::{MIN_PASSWORD_CHARS, Password};
use crate::store::ConsoleSessions;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "crht_session";
/// Console forms are a few fields.
const MAX_FORM_BYTES: usize = 16 * 1024;
/// The one answer to a failed sign-in, whatever failed (with 200: a 401 would need a
/// `WWW-Authenticate` challenge that a form does not have).
const NOT_RIGHT: &str = "email or password not right";

pub fn router(state: &AppState) -> Router<AppState> {
    let idle = i64::try_from(state.config.session_idle.as_secs()).unwrap_or(i64::MAX);
    let sessions = SessionManagerLayer::new(ConsoleSessions(state.store.clone()))
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        .with_secure(state.config.public_url.scheme() == "https")
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(CookieDuration::seconds(idle)));
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/login/oidc", get(oidc::start))
        .route("/login/oidc/callback", get(oidc::callback))
        .route("/logout", post(logout))
        .route("/set-password", get(set_password_page).post(set_password))
        .route("/console/referrals", get(referrals))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .layer(sessions)
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// The sign-in page, with `error` in its summary; `org`: offer signing in with the
/// organisation's identity provider.
fn login_form(
    status: StatusCode,
    csrf_token: &str,
    email: &str,
    error: Option<String>,
    org: bool,
) -> Response {
    let errors: Vec<FieldError> = error
        .map(|text| FieldError {
            field: "email",
            text,
        })
        .into_iter()
        .collect();
    page(
        status,
        "console/login.html",
        serde_json::json!({
            "csrf_token": csrf_token,
            "email": email,
            "errors": errors,
            "org_sign_in": org,
        }),
    )
}

async fn login_page(State(app): State<AppState>, session: Session) -> Response {
    match csrf::token(&session).await {
        Ok(token) => login_form(StatusCode::OK, &token, "", None, app.org_sign_in.is_some()),
        Err(response) => response,
    }
}

async fn login(
    State(app): State<AppState>,
    session: Session,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Response {
    let accounts = app.services.accounts();
    match accounts.sign_in(&form.email, &form.password).await {
        Ok(Some(user)) => {
            let started = async {
                signed_in::start(&session, &user, accounts.now()).await?;
                csrf::renew(&session).await
            };
            match started.await {
                Ok(_) => Redirect::to("/console/referrals").into_response(),
                Err(response) => response,
            }
        }
        Ok(None) => match csrf::token(&session).await {
            Ok(token) => login_form(
                StatusCode::OK,
                &token,
                form.email.trim(),
                Some(NOT_RIGHT.into()),
                app.org_sign_in.is_some(),
            ),
            Err(response) => response,
        },
        Err(error) => failure(error),
    }
}

#[derive(Debug, Deserialize)]
struct NoFields {}

async fn logout(
    State(app): State<AppState>,
    session: Session,
    CsrfForm(NoFields {}): CsrfForm<NoFields>,
) -> Response {
    let user = match signed_in::current(&app, &session).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    if let Some(user) = user
        && let Err(error) = app.services.accounts().sign_out(&user).await
    {
        return failure(error);
    }
    if let Err(error) = session.flush().await {
        return csrf::session_failed(&error);
    }
    Redirect::to("/login").into_response()
}

#[derive(Debug, Deserialize)]
struct LinkQuery {
    #[serde(default)]
    token: String,
}

fn link_gone() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "This link has been used or has expired",
        "Ask an admin for a new link to set your password.",
        Some(("/login", "Go to sign in")),
    )
}

fn set_password_form(
    status: StatusCode,
    session_token: &str,
    link_token: &str,
    account: &crate::app::staff::StaffUser,
    errors: Vec<FieldError>,
) -> Response {
    page(
        status,
        "console/set_password.html",
        serde_json::json!({
            "csrf_token": session_token,
            "token": link_token,
            "account": account,
            "min_chars": MIN_PASSWORD_CHARS,
            "errors": errors,
        }),
    )
}

async fn set_password_page(
    State(app): State<AppState>,
    session: Session,
    Query(query): Query<LinkQuery>,
) -> Response {
    let account = match app.services.accounts().password_link(&query.token).await {
        Ok(Some(account)) => account,
        Ok(None) => return link_gone(),
        Err(error) => return failure(error),
    };
    match csrf::token(&session).await {
        Ok(csrf) => set_password_form(StatusCode::OK, &csrf, &query.token, &account, Vec::new()),
        Err(response) => response,
    }
}

#[derive(Debug, Deserialize)]
struct SetPasswordForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

async fn set_password(
    State(app): State<AppState>,
    session: Session,
    CsrfForm(form): CsrfForm<SetPasswordForm>,
) -> Response {
    let accounts = app.services.accounts();
    let problem = if form.password != form.confirm {
        Some(FieldError {
            field: "confirm",
            text: "the two passwords are not the same".into(),
        })
    } else {
        match Password::new(form.password) {
            Ok(password) => {
                return match accounts.set_password(&form.token, password).await {
                    Ok(_) => Redirect::to("/login").into_response(),
                    Err(Error::NotFound(_)) => link_gone(),
                    Err(error) => failure(error),
                };
            }
            Err(error) => Some(FieldError {
                field: "password",
                text: error.to_string(),
            }),
        }
    };
    let account = match accounts.password_link(&form.token).await {
        Ok(Some(account)) => account,
        Ok(None) => return link_gone(),
        Err(error) => return failure(error),
    };
    match csrf::token(&session).await {
        Ok(csrf) => set_password_form(
            StatusCode::UNPROCESSABLE_ENTITY,
            &csrf,
            &form.token,
            &account,
            problem.into_iter().collect(),
        ),
        Err(response) => response,
    }
}

/// A first page behind sign-in; the console's triage queue replaces it.
async fn referrals(signed_in: SignedIn) -> Response {
    match csrf::token(&signed_in.session).await {
        Ok(csrf_token) => page(
            StatusCode::OK,
            "console/referrals.html",
            serde_json::json!({ "user": signed_in.user, "csrf_token": csrf_token }),
        ),
        Err(response) => response,
    }
}

fn failure(error: Error) -> Response {
    tracing::error!(error = %error, "console request failed");
    message(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Sorry, there is a problem with the service",
        "Try again later.",
        None,
    )
}
