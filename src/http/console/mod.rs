//! The staff console, server-rendered on the NHS.UK frontend: sign-in (`GET/POST /login`,
//! `POST /logout`, `GET/POST /set-password`, OpenID Connect in `oidc`) and the pages under
//! `/console/`, one module per part: `queue` (the triage queue, live), `referral` (one
//! referral), `patients`, `work` (the call list, the print list, the inbox), `admin`.
//! Sessions are tower-sessions over our own store (`store::ConsoleSessions`); every POST form
//! is checked for its CSRF token (`csrf::CsrfForm`); `SignedIn` says who is signed in and
//! frames their pages. Every response here carries a Content-Security-Policy with no inline
//! script (`secure_headers`). Handlers call `app::Services` as the JSON API does, with the
//! signed-in user as the actor, so roles and audit entries are the API's. The JSON API stays
//! bearer-token only.

mod admin;
mod assets;
pub mod csrf;
mod oidc;
mod pages;
mod patients;
mod queue;
mod referral;
pub mod signed_in;
mod work;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tower_sessions::cookie::SameSite;
use tower_sessions::cookie::time::Duration as CookieDuration;
use tower_sessions::{Expiry, Session, SessionManagerLayer};

use self::csrf::CsrfForm;
use self::pages::{FieldError, message, page};
pub use self::signed_in::{SignedIn, done, flash};
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
        .route("/console", get(console_home))
        .route("/console/stay-signed-in", post(stay_signed_in))
        .merge(queue::router())
        .merge(referral::router())
        .merge(patients::router())
        .merge(work::router())
        .merge(admin::router())
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .layer(sessions)
        .route("/assets/{*path}", get(assets::asset))
        .layer(middleware::from_fn(secure_headers))
}

/// What the browser may do with a console page: scripts and styles from the gateway alone
/// (no inline script, no eval), the NHS fonts from assets.nhs.uk, no framing, forms posted
/// only back to the gateway.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; font-src 'self' https://assets.nhs.uk; \
    connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; \
    object-src 'none'";

async fn secure_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    // Pages get the policy; a letter's PDF does not, as the browser's own PDF viewer would
    // be refused by it.
    let pdf = headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"application/pdf"));
    if !pdf {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // Pages, fragments, letters and redirects hold people's details: never cached. The
    // assets say how long they keep.
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// `/console`: where the signed-in member of staff starts.
async fn console_home(signed_in: SignedIn) -> Redirect {
    Redirect::to(pages::home(signed_in.user.role))
}

/// The idle warning's "Stay signed in": a use of the console, nothing else.
async fn stay_signed_in(_: SignedIn, CsrfForm(NoFields {}): CsrfForm<NoFields>) -> StatusCode {
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
struct LoginQuery {
    /// Sent here by the idle warning, or by a live page whose session ended.
    #[serde(default)]
    timed_out: Option<String>,
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
    timed_out: bool,
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
            "timed_out": timed_out,
        }),
    )
}

async fn login_page(
    State(app): State<AppState>,
    session: Session,
    Query(query): Query<LoginQuery>,
) -> Response {
    match signed_in::current(&app, &session, true).await {
        Ok(Some(user)) => return Redirect::to(pages::home(user.role)).into_response(),
        Ok(None) => {}
        Err(response) => return response,
    }
    match csrf::token(&session).await {
        Ok(token) => login_form(
            StatusCode::OK,
            &token,
            "",
            None,
            app.org_sign_in.is_some(),
            query.timed_out.is_some(),
        ),
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
                Ok(_) => Redirect::to(pages::home(user.role)).into_response(),
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
                false,
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
    let user = match signed_in::current(&app, &session, true).await {
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

fn failure(error: Error) -> Response {
    tracing::error!(error = %error, "console request failed");
    message(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Sorry, there is a problem with the service",
        "Try again later.",
        None,
    )
}
