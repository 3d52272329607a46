//! A fake SMS provider: a real HTTP server speaking Twilio's Messages API and GOV.UK Notify's
//! `POST /v2/notifications/sms`, recording every request, each API able to be told to fail
//! the way a provider does in an outage.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{DateTime, Utc};

/// How the provider answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Up,
    /// 500, 429 and hung requests in turn.
    Outage,
}

/// Which provider's API a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Twilio,
    Notify,
}

/// One request that reached the provider.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub api: Api,
    pub at: DateTime<Utc>,
    pub to: String,
    pub body: String,
    /// Whether it was accepted (201).
    pub accepted: bool,
}

#[derive(Debug)]
struct Inner {
    /// Twilio's, then Notify's.
    modes: Mutex<[Mode; 2]>,
    attempts: Mutex<Vec<Attempt>>,
    next: AtomicUsize,
}

#[derive(Debug, Clone)]
pub struct Provider {
    inner: Arc<Inner>,
    pub base_url: String,
}

impl Provider {
    pub async fn start() -> anyhow::Result<Self> {
        let inner = Arc::new(Inner {
            modes: Mutex::new([Mode::Up; 2]),
            attempts: Mutex::new(Vec::new()),
            next: AtomicUsize::new(0),
        });
        let app = axum::Router::new()
            .route("/2010-04-01/Accounts/{sid}/Messages.json", post(send))
            .route("/v2/notifications/sms", post(notify_send))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { inner, base_url })
    }

    /// Both APIs answer this way.
    pub fn set_mode(&self, mode: Mode) {
        *lock(&self.inner.modes) = [mode; 2];
    }

    /// One API answers this way.
    pub fn set_api_mode(&self, api: Api, mode: Mode) {
        lock(&self.inner.modes)[api as usize] = mode;
    }

    pub fn attempts(&self) -> Vec<Attempt> {
        lock(&self.inner.attempts).clone()
    }

    /// Accepted sends, by recipient.
    pub fn accepted_by_recipient(&self) -> HashMap<String, Vec<Attempt>> {
        let mut by: HashMap<String, Vec<Attempt>> = HashMap::new();
        for attempt in self.attempts().into_iter().filter(|a| a.accepted) {
            by.entry(attempt.to.clone()).or_default().push(attempt);
        }
        by
    }

    /// The largest number of requests that reached the provider within any one second.
    pub fn busiest_second(&self) -> usize {
        busiest(self.attempts().iter().map(|a| a.at).collect())
    }

    /// As `busiest_second`, for one API.
    pub fn busiest_second_of(&self, api: Api) -> usize {
        busiest(
            self.attempts()
                .iter()
                .filter(|a| a.api == api)
                .map(|a| a.at)
                .collect(),
        )
    }
}

fn busiest(mut times: Vec<DateTime<Utc>>) -> usize {
    times.sort();
    let mut best = 0;
    let mut start = 0;
    for end in 0..times.len() {
        while times[end] - times[start] >= chrono::TimeDelta::seconds(1) {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn send(State(inner): State<Arc<Inner>>, body: String) -> Response {
    let form: HashMap<String, String> = form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    let (n, mode) = record(&inner, Api::Twilio, field("To"), field("Body"));
    match mode {
        Mode::Up => (
            StatusCode::CREATED,
            axum::Json(serde_json::json!({"sid": format!("SM{n:032x}"), "status": "queued"})),
        )
            .into_response(),
        Mode::Outage => outage(n).await,
    }
}

/// Notify's send: `{"phone_number", "template_id", "personalisation": {"body"}, "reference"}`.
async fn notify_send(State(inner): State<Arc<Inner>>, body: String) -> Response {
    let request: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    let (n, mode) = record(
        &inner,
        Api::Notify,
        text(&request["phone_number"]),
        text(&request["personalisation"]["body"]),
    );
    match mode {
        Mode::Up => (
            StatusCode::CREATED,
            axum::Json(serde_json::json!({
                "id": format!("00000000-0000-4000-8000-{n:012x}"),
                "reference": request["reference"],
                "content": {"body": request["personalisation"]["body"], "from_number": "CRHT"},
            })),
        )
            .into_response(),
        Mode::Outage => outage(n).await,
    }
}

/// Records a request to `api`; its number and how to answer it.
fn record(inner: &Inner, api: Api, to: String, body: String) -> (usize, Mode) {
    let mode = lock(&inner.modes)[api as usize];
    let n = inner.next.fetch_add(1, Ordering::SeqCst);
    lock(&inner.attempts).push(Attempt {
        api,
        at: Utc::now(),
        to,
        body,
        accepted: mode == Mode::Up,
    });
    (n, mode)
}

/// 500, 429 and a hung request in turn.
async fn outage(n: usize) -> Response {
    match n % 3 {
        0 => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(serde_json::json!({"code": 20500, "message": "Internal Server Error"})),
        )
            .into_response(),
        1 => (
            StatusCode::TOO_MANY_REQUESTS,
            [("Retry-After", "1")],
            axum::Json(serde_json::json!({"code": 20429, "message": "Too Many Requests"})),
        )
            .into_response(),
        _ => {
            // Longer than the gateway's request timeout: it gives up first.
            tokio::time::sleep(Duration::from_secs(20)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
    }
}
