//! `GET /login/oidc` and `GET /login/oidc/callback`: signing in with the organisation's
//! identity provider (the rules are `app::oidc::OrgSignIn`'s).
//!
//! The console's session cookie is `SameSite=Strict`, so a browser coming back from the
//! provider (a navigation from another site) does not send it. The flow's state, nonce and
//! PKCE verifier are therefore kept in a record of their own in the same session store,
//! named by a short-lived `SameSite=Lax` cookie that only the callback's path sees; the
//! record is taken (read and deleted) once, and the sign-in starts a new console session.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::cookie::time::{Duration as CookieDuration, OffsetDateTime};
use tower_sessions::cookie::{Cookie, SameSite};
use tower_sessions::session::{Id, Record};
use tower_sessions::{Session, SessionStore};

use super::{csrf, failure, login_form, signed_in};
use crate::app::oidc::{Begin, Callback, FLOW_VALID_FOR, NOT_ANSWERING, Outcome, PendingFlow};
use crate::http::AppState;
use crate::store::ConsoleSessions;

/// The flow cookie's name and path.
const FLOW_COOKIE: &str = "crht_oidc";
const FLOW_PATH: &str = "/login/oidc";
const FLOW_KEY: &str = "oidc_flow";

fn flow_cookie(app: &AppState, value: String, max_age: CookieDuration) -> String {
    Cookie::build((FLOW_COOKIE, value))
        .path(FLOW_PATH)
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(app.config.public_url.scheme() == "https")
        .max_age(max_age)
        .build()
        .to_string()
}

/// The sign-in page again, with `text` as its error.
async fn refused(session: &Session, text: String, org: bool) -> Response {
    match csrf::token(session).await {
        Ok(token) => login_form(StatusCode::OK, &token, "", Some(text), org, false),
        Err(response) => response,
    }
}

pub(super) async fn start(State(app): State<AppState>, session: Session) -> Response {
    let Some(org) = app.org_sign_in.clone() else {
        return Redirect::to("/login").into_response();
    };
    let (url, pending) = match org.begin().await {
        Ok(Begin::Redirect(url, pending)) => (url, pending),
        Ok(Begin::Unavailable) => return refused(&session, NOT_ANSWERING.into(), true).await,
        Err(error) => return failure(error),
    };
    let valid_for = CookieDuration::seconds(FLOW_VALID_FOR.num_seconds());
    let mut record = Record {
        id: Id::default(),
        data: Default::default(),
        expiry_date: OffsetDateTime::now_utc() + valid_for,
    };
    match serde_json::to_value(&pending) {
        Ok(value) => {
            record.data.insert(FLOW_KEY.into(), value);
        }
        Err(error) => return csrf::session_failed(&error),
    }
    let store = ConsoleSessions(app.store.clone());
    if let Err(error) = store.create(&mut record).await {
        return csrf::session_failed(&error);
    }
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, url.to_string()),
            (
                header::SET_COOKIE,
                flow_cookie(&app, record.id.to_string(), valid_for),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
    )
        .into_response()
}

/// The flow this browser started, taken from the store so it is used once.
async fn take_flow(app: &AppState, headers: &HeaderMap) -> Result<Option<PendingFlow>, Response> {
    let id = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == FLOW_COOKIE)
        .and_then(|c| c.value().parse::<Id>().ok());
    let Some(id) = id else {
        return Ok(None);
    };
    let store = ConsoleSessions(app.store.clone());
    let record = store
        .load(&id)
        .await
        .map_err(|e| csrf::session_failed(&e))?;
    store
        .delete(&id)
        .await
        .map_err(|e| csrf::session_failed(&e))?;
    Ok(record
        .and_then(|mut r| r.data.remove(FLOW_KEY))
        .and_then(|v| serde_json::from_value(v).ok()))
}

pub(super) async fn callback(
    State(app): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Query(query): Query<Callback>,
) -> Response {
    let Some(org) = app.org_sign_in.clone() else {
        return Redirect::to("/login").into_response();
    };
    let pending = match take_flow(&app, &headers).await {
        Ok(pending) => pending,
        Err(response) => return response,
    };
    let clear = flow_cookie(&app, String::new(), CookieDuration::ZERO);
    let response = match org.finish(pending, query).await {
        Ok(Outcome::SignedIn(user)) => {
            let accounts = app.services.accounts();
            let started = async {
                signed_in::start(&session, &user, accounts.now()).await?;
                csrf::renew(&session).await
            };
            match started.await {
                Ok(_) => Redirect::to(super::pages::home(user.role)).into_response(),
                Err(response) => response,
            }
        }
        Ok(Outcome::Refused(text)) => refused(&session, text, true).await,
        Err(error) => failure(error),
    };
    ([(header::SET_COOKIE, clear)], response).into_response()
}
