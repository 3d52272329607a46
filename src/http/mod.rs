//! HTTP: the provider's webhooks, the staff API under `/api/v1`, the console's sign-in pages
//! (`console`), and operations endpoints.
//! Handlers translate HTTP, nothing more: they parse a request (`extract`; the webhooks check
//! the provider's signature), call one function of the application layer
//! (`crate::app::Services`), and present its answer or its error (`error`, the one place
//! choosing status codes). The operations endpoints ask the store whether it answers.

mod appointments;
pub mod auth;
pub mod console;
pub mod error;
mod extract;
mod feedback;
mod messages;
mod ops;
mod patients;
pub mod referrals;
mod staff_audit;
mod tokens;
pub mod webhooks;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use serde::Serialize;
use tower_http::timeout::TimeoutLayer;
use utoipa::ToSchema;

use crate::app::{Paged, Services};
use crate::clock::Clock;
use crate::config::Config;
use crate::intake::Intake;
use crate::metrics::{HttpLabels, Metrics, RouteLabels};
use crate::outbound::Outbound;
use crate::store::Store;

/// Everything a handler may use. Staff API handlers use `services` alone; the rest is for the
/// webhooks, the bearer-token check and the operations endpoints.
#[derive(Clone)]
pub struct AppState {
    pub(crate) services: Services,
    pub store: Arc<dyn Store>,
    pub intake: Arc<Intake>,
    pub outbound: Arc<Outbound>,
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Metrics,
    /// Sign-in through the organisation's identity provider, when configured.
    pub(crate) org_sign_in: Option<Arc<crate::app::oidc::OrgSignIn>>,
}

/// Lists are `{"items": [...], "next_cursor": …}`: `next_cursor` is null on the last page,
/// and otherwise passed back as `?cursor=` for the next one.
#[derive(Debug, Serialize, ToSchema)]
pub struct List<T> {
    pub items: Vec<T>,
    /// Where the next page starts (`?cursor=`); null when this is the last page.
    pub next_cursor: Option<String>,
}

impl<T> List<T> {
    /// A whole list, on one page.
    pub fn of(items: impl IntoIterator<Item = T>) -> Self {
        Self {
            items: items.into_iter().collect(),
            next_cursor: None,
        }
    }

    /// One page of a longer list.
    pub fn page<U: Into<T>>(page: Paged<U>) -> Self {
        Self {
            items: page.items.into_iter().map(Into::into).collect(),
            next_cursor: page.next_cursor,
        }
    }
}

/// Staff API bodies are small JSON documents.
const MAX_API_BYTES: usize = 1024 * 1024;

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .merge(referrals::router())
        .merge(patients::router())
        .merge(appointments::router())
        .merge(messages::router())
        .merge(staff_audit::router())
        .merge(tokens::router())
        .merge(feedback::router())
        .layer(DefaultBodyLimit::max(MAX_API_BYTES));
    let webhooks = webhooks::router().layer(DefaultBodyLimit::max(webhooks::MAX_WEBHOOK_BYTES));
    Router::new()
        .nest("/api/v1", api)
        .merge(webhooks)
        .merge(ops::router())
        .merge(console::router(&state))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(30),
        ))
        .layer(middleware::from_fn(no_store_api))
        .with_state(state)
}

/// Every answer under `/api/v1` — records, lists, errors, refusals — says `Cache-Control:
/// no-store`: a patient's record must not stay in a browser's or a proxy's cache. And every
/// 503, the request timeout's included, says when to try again.
async fn no_store_api(request: Request, next: Next) -> Response {
    use axum::http::{HeaderValue, header};
    let api = request.uri().path().starts_with("/api/v1");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if api {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if response.status() == StatusCode::SERVICE_UNAVAILABLE
        && !response.headers().contains_key(header::RETRY_AFTER)
    {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    response
}

async fn not_found() -> Response {
    error::problem(StatusCode::NOT_FOUND, "no such resource")
}

async fn method_not_allowed() -> Response {
    error::problem(StatusCode::METHOD_NOT_ALLOWED, "method not allowed here")
}

/// The method as a metric label: one of the methods the gateway knows, else `other`, so a
/// client cannot add labels (and series) at will by making methods up.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Counts and times every request by its route template — never by its raw path, which
/// can hold a phone number (`/conversations/+44…`).
async fn observe(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    app.metrics
        .http_requests
        .get_or_create(&HttpLabels {
            route: route.clone(),
            method: method.to_owned(),
            status,
        })
        .inc();
    app.metrics
        .http_seconds
        .get_or_create(&RouteLabels {
            route: route.clone(),
        })
        .observe(elapsed.as_secs_f64());
    tracing::debug!(%method, %route, status, elapsed_ms = elapsed.as_millis() as u64, "request");
    response
}
