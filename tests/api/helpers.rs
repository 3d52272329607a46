//! The test harness: a real gateway on a loopback port with its own database (a fresh SQLite
//! file, or a fresh PostgreSQL database created and dropped here), and a fake Twilio REST API
//! that is a real HTTP server recording what it is sent.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use chrono::{TimeZone, Utc};
use crht_gateway::App;
use crht_gateway::clock::{Clock, ManualClock, SystemClock};
use crht_gateway::config::Config;
use crht_gateway::domain::role::Role;
use crht_gateway::http::auth::{generate_token, hash_token};
use crht_gateway::twilio::{signature, twiml};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub const AUTH_TOKEN: &str = "test-auth-token-0123456789abcdef";
/// Teams with confirmed on-call numbers (07911 2000xx) for every test gateway.
pub const TEAMS_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/teams.toml");
pub const ACCOUNT_SID: &str = "ACtest0000000000000000000000000000";

#[derive(Debug, Clone)]
pub enum Engine {
    Sqlite,
    Postgres(String),
}

impl Engine {
    /// PostgreSQL when `CRHT_TEST_POSTGRES_URL` is set. Under CI it must be set: no silent skip.
    pub fn postgres() -> Option<Engine> {
        match std::env::var("CRHT_TEST_POSTGRES_URL") {
            Ok(url) if !url.trim().is_empty() => Some(Engine::Postgres(url)),
            _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!(
                    "CI=true but CRHT_TEST_POSTGRES_URL is not set: the PostgreSQL half of the suite must run"
                )
            }
            _ => {
                eprintln!(
                    "CRHT_TEST_POSTGRES_URL not set: skipping the PostgreSQL run of this test"
                );
                None
            }
        }
    }
}

/// Runs an async test body once per engine: `mod name { sqlite, postgres }`.
#[macro_export]
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::helpers::Engine::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(engine) = $crate::helpers::Engine::postgres() {
                        super::$name(engine).await
                    }
                }
            }
        )*
    };
}

/// A database of its own for one test, removed when the test ends.
struct TestDatabase {
    url: String,
    cleanup: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    async fn create(engine: &Engine) -> TestDatabase {
        match engine {
            Engine::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("crht.db").display());
                TestDatabase {
                    url,
                    cleanup: None,
                    _dir: Some(dir),
                }
            }
            Engine::Postgres(admin_url) => {
                use sqlx::Connection;
                let name = format!(
                    "crht_test_{}",
                    ulid::Ulid::generate().to_string().to_lowercase()
                );
                let mut admin = sqlx::PgConnection::connect(admin_url)
                    .await
                    .expect("CRHT_TEST_POSTGRES_URL must reach a PostgreSQL server");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut admin)
                    .await
                    .expect("create the test database");
                let mut url = url::Url::parse(admin_url).expect("CRHT_TEST_POSTGRES_URL is a URL");
                url.set_path(&name);
                TestDatabase {
                    url: url.to_string(),
                    cleanup: Some((admin_url.clone(), name)),
                    _dir: None,
                }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.cleanup.take() {
            // Drop runs outside async; a short-lived thread with its own runtime does it.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                runtime.block_on(async move {
                    use sqlx::Connection;
                    if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .execute(&mut admin)
                        .await;
                    }
                });
            })
            .join();
        }
    }
}

/// What the fake Twilio API received.
#[derive(Debug, Clone)]
pub struct SentText {
    /// When the fake received it (for rate checks).
    pub at: std::time::Instant,
    pub sid: String,
    pub to: String,
    pub from: String,
    pub body: String,
    pub status_callback: Option<String>,
    pub account_sid: String,
    pub authorised: bool,
}

#[derive(Debug, Default)]
struct FakeTwilioState {
    sent: Vec<SentText>,
    /// Status codes (and Twilio error codes) to answer with before succeeding.
    failures: VecDeque<(u16, u32)>,
    attempts: usize,
}

/// A real HTTP server standing in for Twilio's REST API.
#[derive(Debug, Clone)]
pub struct FakeTwilio {
    pub base: String,
    state: Arc<Mutex<FakeTwilioState>>,
}

impl FakeTwilio {
    pub async fn start() -> FakeTwilio {
        crht_gateway::install_tls_provider();
        let state = Arc::new(Mutex::new(FakeTwilioState::default()));
        let app = axum::Router::new()
            .route("/2010-04-01/Accounts/{sid}/Messages.json", post(fake_send))
            .with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake twilio");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeTwilio { base, state }
    }

    pub fn sent(&self) -> Vec<SentText> {
        self.state.lock().expect("lock").sent.clone()
    }

    pub fn attempts(&self) -> usize {
        self.state.lock().expect("lock").attempts
    }

    /// The next sends fail with these statuses, in order (4xx ones as 21610, opted out).
    pub fn fail_next(&self, statuses: &[u16]) {
        let codes = statuses
            .iter()
            .map(|s| (*s, if *s < 500 && *s != 429 { 21610 } else { 20500 }));
        self.state.lock().expect("lock").failures.extend(codes);
    }

    /// Forgets the scripted failures still to come: the provider has recovered.
    pub fn recover(&self) {
        self.state.lock().expect("lock").failures.clear();
    }

    /// The next send is refused with HTTP 400 and this Twilio error code.
    pub fn refuse_next(&self, code: u32) {
        self.state
            .lock()
            .expect("lock")
            .failures
            .push_back((400, code));
    }

    /// Waits until at least `n` texts were accepted.
    pub async fn wait_for(&self, n: usize) -> Vec<SentText> {
        for _ in 0..200 {
            let sent = self.sent();
            if sent.len() >= n {
                return sent;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "fake Twilio received {} texts, expected {n}",
            self.sent().len()
        );
    }
}

async fn fake_send(
    State(state): State<Arc<Mutex<FakeTwilioState>>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> impl IntoResponse {
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let expected_auth = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{ACCOUNT_SID}:{AUTH_TOKEN}")
        )
    );
    let authorised = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == expected_auth);
    let mut state = state.lock().expect("lock");
    state.attempts += 1;
    if let Some((status, code)) = state.failures.pop_front() {
        let body =
            serde_json::json!({"code": code, "message": "scripted failure", "status": status});
        return (
            StatusCode::from_u16(status).expect("status"),
            axum::Json(body),
        )
            .into_response();
    }
    let sid = format!("SM{:032}", state.sent.len() + 1);
    state.sent.push(SentText {
        at: std::time::Instant::now(),
        sid: sid.clone(),
        to: get("To").unwrap_or_default(),
        from: get("From").unwrap_or_default(),
        body: get("Body").unwrap_or_default(),
        status_callback: get("StatusCallback"),
        account_sid: account,
        authorised,
    });
    (
        StatusCode::CREATED,
        axum::Json(serde_json::json!({"sid": sid, "status": "queued"})),
    )
        .into_response()
}

pub const NOTIFY_SERVICE_ID: &str = "26785a09-ab16-4eb0-8407-a37497a57506";
pub const NOTIFY_SECRET: &str = "3d844edf-8d35-48ac-975b-e847b4f122b0";
pub const NOTIFY_TEMPLATE_ID: &str = "f33517ff-2a88-4f6e-b855-c550268ce08a";
pub const NOTIFY_SENDER_ID: &str = "8e2a1d86-1f6b-4f0b-9c38-0b3b8d5d7c11";
pub const NOTIFY_CALLBACK_TOKEN: &str = "notify-callback-token-0123456789";

/// The API key as Notify issues it: `{key_name}-{service_id}-{secret}`.
pub fn notify_api_key() -> String {
    format!("crht_test-{NOTIFY_SERVICE_ID}-{NOTIFY_SECRET}")
}

/// What the fake Notify API accepted.
#[derive(Debug, Clone)]
pub struct NotifiedText {
    /// Notify's id of the notification (what its callbacks name).
    pub id: String,
    pub phone_number: String,
    pub template_id: String,
    /// `personalisation.body`.
    pub body: String,
    pub reference: Option<String>,
    pub sms_sender_id: Option<String>,
    /// The JWT's `iss`.
    pub issuer: String,
}

/// A precompiled letter the fake Notify API accepted.
#[derive(Debug, Clone)]
pub struct NotifiedLetter {
    /// Notify's id of the notification (what its callbacks name).
    pub id: String,
    pub reference: String,
    /// `first`, `second` or `economy`.
    pub postage: String,
    /// The decoded `content`.
    pub pdf: Vec<u8>,
    /// The JWT's `iss`.
    pub issuer: String,
}

#[derive(Debug, Default)]
struct FakeNotifyState {
    sent: Vec<NotifiedText>,
    letters: Vec<NotifiedLetter>,
    /// Statuses to answer the next letters with (400, 429, 500, …) before succeeding.
    letter_failures: VecDeque<u16>,
    /// Every request to send a letter, refused ones included.
    letter_attempts: usize,
    /// Statuses to answer the next sends with (429, 500, 400, …) before succeeding.
    failures: VecDeque<u16>,
    /// Every request to send, refused ones included.
    attempts: usize,
    /// Requests refused with 403 for their token.
    refused: usize,
}

/// A real HTTP server standing in for GOV.UK Notify's API: it checks the JWT as Notify does
/// (HS256 with the key's secret, `iss` the service id, `iat` within 30 s of now), answers
/// with Notify's shapes and error bodies, and sends delivery receipts and received texts with
/// the bearer token.
#[derive(Debug, Clone)]
pub struct FakeNotify {
    pub base: String,
    state: Arc<Mutex<FakeNotifyState>>,
    http: reqwest::Client,
}

/// Notify's error body.
fn notify_error(status: u16, error: &str, message: &str) -> axum::response::Response {
    (
        StatusCode::from_u16(status).expect("status"),
        axum::Json(serde_json::json!({
            "status_code": status,
            "errors": [{"error": error, "message": message}],
        })),
    )
        .into_response()
}

/// Notify's answer to a scripted failure with `status`; a 400 says `bad_request` (its error and
/// message), which differ between texts and letters.
fn notify_scripted_failure(status: u16, bad_request: (&str, &str)) -> axum::response::Response {
    match status {
        429 => notify_error(
            429,
            "RateLimitError",
            "Exceeded rate limit for key type LIVE of 3000 requests per 60 seconds",
        ),
        400 => notify_error(400, bad_request.0, bad_request.1),
        s if s >= 500 => notify_error(s, "Exception", "Internal server error"),
        s => notify_error(s, "BadRequestError", "scripted failure"),
    }
}

/// Checks `Authorization: Bearer <jwt>` as Notify's API does; the token's issuer when good.
fn notify_token_issuer(headers: &HeaderMap) -> Result<String, &'static str> {
    #[derive(serde::Deserialize)]
    struct Claims {
        iss: Option<String>,
        iat: Option<i64>,
    }
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or("Unauthorized: authentication token must be provided")?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Claims>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(NOTIFY_SECRET.as_bytes()).expect("key"),
        &validation,
    )
    .map_err(|_| "Invalid token: signature, api token not found")?
    .claims;
    let issuer = claims.iss.ok_or("Invalid token: iss field not provided")?;
    if issuer != NOTIFY_SERVICE_ID {
        return Err("Invalid token: service not found");
    }
    let iat = claims.iat.ok_or("Invalid token: iat field not provided")?;
    if (Utc::now().timestamp() - iat).abs() > 30 {
        return Err("Error: Your system clock must be accurate to within 30 seconds");
    }
    Ok(issuer)
}

async fn fake_notify_send(
    State(state): State<Arc<Mutex<FakeNotifyState>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    let issuer = notify_token_issuer(&headers);
    let mut state = state.lock().expect("lock");
    state.attempts += 1;
    let issuer = match issuer {
        Ok(issuer) => issuer,
        Err(message) => {
            state.refused += 1;
            return notify_error(403, "AuthError", message);
        }
    };
    if let Some(status) = state.failures.pop_front() {
        return notify_scripted_failure(
            status,
            (
                "BadRequestError",
                "Can't send to this recipient using a team-only API key",
            ),
        );
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return notify_error(400, "BadRequestError", "Invalid JSON supplied in POST data");
    };
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let (Some(phone_number), Some(template_id)) = (
        text(&request["phone_number"]),
        text(&request["template_id"]),
    ) else {
        return notify_error(
            400,
            "ValidationError",
            "phone_number and template_id are required",
        );
    };
    if template_id != NOTIFY_TEMPLATE_ID {
        return notify_error(400, "BadRequestError", "Template not found");
    }
    let Some(body) = text(&request["personalisation"]["body"]) else {
        return notify_error(400, "BadRequestError", "Missing personalisation: body");
    };
    let id = format!("bfb50d92-100d-4b8b-b559-{:012x}", state.sent.len() + 1);
    let reference = text(&request["reference"]);
    state.sent.push(NotifiedText {
        id: id.clone(),
        phone_number,
        template_id: template_id.clone(),
        body: body.clone(),
        reference: reference.clone(),
        sms_sender_id: text(&request["sms_sender_id"]),
        issuer,
    });
    let api = "https://api.notifications.service.gov.uk";
    (
        StatusCode::CREATED,
        axum::Json(serde_json::json!({
            "id": id,
            "reference": reference,
            "content": {"body": body, "from_number": "CRHT"},
            "uri": format!("{api}/v2/notifications/{id}"),
            "template": {
                "id": template_id,
                "version": 1,
                "uri": format!("{api}/v2/template/{template_id}"),
            },
        })),
    )
        .into_response()
}

/// `POST /v2/notifications/letter` with a precompiled letter, checked as Notify does: the
/// token, `reference` given, `content` the base64 of a PDF, `postage` one of Notify's.
async fn fake_notify_letter(
    State(state): State<Arc<Mutex<FakeNotifyState>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use base64::Engine;
    let issuer = notify_token_issuer(&headers);
    let mut state = state.lock().expect("lock");
    state.letter_attempts += 1;
    let issuer = match issuer {
        Ok(issuer) => issuer,
        Err(message) => {
            state.refused += 1;
            return notify_error(403, "AuthError", message);
        }
    };
    if let Some(status) = state.letter_failures.pop_front() {
        return notify_scripted_failure(
            status,
            ("ValidationError", "Letter content is not a valid PDF"),
        );
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return notify_error(400, "BadRequestError", "Invalid JSON supplied in POST data");
    };
    let Some(reference) = request["reference"].as_str().map(str::to_owned) else {
        return notify_error(400, "ValidationError", "reference is a required property");
    };
    let pdf = request["content"]
        .as_str()
        .and_then(|content| {
            base64::engine::general_purpose::STANDARD
                .decode(content)
                .ok()
        })
        .filter(|pdf| pdf.starts_with(b"%PDF"));
    let Some(pdf) = pdf else {
        return notify_error(400, "ValidationError", "Letter content is not a valid PDF");
    };
    let postage = request["postage"].as_str().unwrap_or("second").to_owned();
    if !["first", "second", "economy"].contains(&postage.as_str()) {
        return notify_error(
            400,
            "ValidationError",
            "postage invalid. It must be either first, second or economy.",
        );
    }
    let id = format!("7b5e2c1a-3f4d-4e5f-a6b7-{:012x}", state.letters.len() + 1);
    state.letters.push(NotifiedLetter {
        id: id.clone(),
        reference: reference.clone(),
        postage: postage.clone(),
        pdf,
        issuer,
    });
    (
        StatusCode::CREATED,
        axum::Json(serde_json::json!({"id": id, "reference": reference, "postage": postage})),
    )
        .into_response()
}

impl FakeNotify {
    pub async fn start() -> FakeNotify {
        crht_gateway::install_tls_provider();
        let state = Arc::new(Mutex::new(FakeNotifyState::default()));
        let app = axum::Router::new()
            .route("/v2/notifications/sms", post(fake_notify_send))
            .route("/v2/notifications/letter", post(fake_notify_letter))
            .with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake notify");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeNotify {
            base,
            state,
            http: reqwest::Client::new(),
        }
    }

    /// The settings that make a test gateway text through this fake.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("CRHT_SMS_PROVIDER", "notify".to_owned()),
            ("CRHT_NOTIFY_API_KEY", notify_api_key()),
            ("CRHT_NOTIFY_API_BASE", self.base.clone()),
            ("CRHT_NOTIFY_SMS_TEMPLATE_ID", NOTIFY_TEMPLATE_ID.to_owned()),
            ("CRHT_NOTIFY_SMS_SENDER_ID", NOTIFY_SENDER_ID.to_owned()),
            (
                "CRHT_NOTIFY_CALLBACK_TOKEN",
                NOTIFY_CALLBACK_TOKEN.to_owned(),
            ),
        ]
        .map(|(k, v)| (k.to_owned(), v))
        .to_vec()
    }

    pub fn sent(&self) -> Vec<NotifiedText> {
        self.state.lock().expect("lock").sent.clone()
    }

    /// The settings that make a test gateway post its letters through this fake (texts
    /// through it too).
    pub fn letters_env(&self) -> Vec<(String, String)> {
        let mut env = self.env();
        env.push(("CRHT_NOTIFY_LETTERS".to_owned(), "true".to_owned()));
        env
    }

    /// The letters accepted.
    pub fn letters(&self) -> Vec<NotifiedLetter> {
        self.state.lock().expect("lock").letters.clone()
    }

    /// Every request to send a letter, refused ones included.
    pub fn letter_attempts(&self) -> usize {
        self.state.lock().expect("lock").letter_attempts
    }

    /// The next letters fail with these statuses, in order (400, 429, 500, …).
    pub fn fail_next_letters(&self, statuses: &[u16]) {
        self.state
            .lock()
            .expect("lock")
            .letter_failures
            .extend(statuses.iter().copied());
    }

    /// Waits until at least `n` letters were accepted.
    pub async fn wait_for_letters(&self, n: usize) -> Vec<NotifiedLetter> {
        for _ in 0..200 {
            let letters = self.letters();
            if letters.len() >= n {
                return letters;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "fake Notify accepted {} letters, expected {n}",
            self.letters().len()
        );
    }

    /// Notify's receipt for `letter` with a letter `status`, posted to the gateway at
    /// `gateway` with the configured callback token; the gateway's HTTP status.
    pub async fn letter_callback(
        &self,
        gateway: &str,
        letter: &NotifiedLetter,
        status: &str,
    ) -> u16 {
        let now = Utc::now().to_rfc3339();
        self.http
            .post(format!("{gateway}/webhooks/notify/status"))
            .bearer_auth(NOTIFY_CALLBACK_TOKEN)
            .json(&serde_json::json!({
                "id": letter.id,
                "reference": letter.reference,
                "to": "Sam Taylor",
                "status": status,
                "created_at": now,
                "completed_at": now,
                "sent_at": now,
                "notification_type": "letter",
                "template_id": "3a6cd8e6-0a5c-4a4e-8e0d-6f7c2a3b4c5d",
                "template_version": 1,
            }))
            .send()
            .await
            .expect("callback")
            .status()
            .as_u16()
    }

    pub fn attempts(&self) -> usize {
        self.state.lock().expect("lock").attempts
    }

    /// Requests refused for their token.
    pub fn refused(&self) -> usize {
        self.state.lock().expect("lock").refused
    }

    /// The next sends fail with these statuses, in order (429, 500, 400, …).
    pub fn fail_next(&self, statuses: &[u16]) {
        self.state
            .lock()
            .expect("lock")
            .failures
            .extend(statuses.iter().copied());
    }

    /// Forgets the scripted failures still to come: Notify has recovered.
    pub fn recover(&self) {
        self.state.lock().expect("lock").failures.clear();
    }

    /// Waits until at least `n` texts were accepted.
    pub async fn wait_for(&self, n: usize) -> Vec<NotifiedText> {
        for _ in 0..200 {
            let sent = self.sent();
            if sent.len() >= n {
                return sent;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "fake Notify accepted {} texts, expected {n}",
            self.sent().len()
        );
    }

    /// Notify's delivery receipt for `text` with `status`, posted to the gateway at `gateway`
    /// with `Authorization: Bearer <token>` (none when `None`); the gateway's HTTP status.
    pub async fn callback_with(
        &self,
        gateway: &str,
        token: Option<&str>,
        text: &NotifiedText,
        status: &str,
    ) -> u16 {
        let now = Utc::now().to_rfc3339();
        let mut request = self
            .http
            .post(format!("{gateway}/webhooks/notify/status"))
            .json(&serde_json::json!({
                "id": text.id,
                "reference": text.reference,
                "to": text.phone_number,
                "status": status,
                "created_at": now,
                "completed_at": now,
                "sent_at": now,
                "notification_type": "sms",
                "template_id": text.template_id,
                "template_version": 1,
            }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("callback").status().as_u16()
    }

    /// As `callback_with`, with the configured callback token.
    pub async fn callback(&self, gateway: &str, text: &NotifiedText, status: &str) -> u16 {
        self.callback_with(gateway, Some(NOTIFY_CALLBACK_TOKEN), text, status)
            .await
    }

    /// A text a person sent to the team's number, posted to the gateway's received-text
    /// callback as Notify would: `id` Notify's own, `from` in Notify's form (international
    /// digits, no plus: "447911123456"), with `Authorization: Bearer <token>` (none when
    /// `None`); the gateway's HTTP status.
    pub async fn receive_with(
        &self,
        gateway: &str,
        token: Option<&str>,
        id: &str,
        from: &str,
        message: &str,
    ) -> u16 {
        let mut request = self
            .http
            .post(format!("{gateway}/webhooks/notify/inbound"))
            .json(&serde_json::json!({
                "id": id,
                "source_number": from,
                "destination_number": "07911200999",
                "message": message,
                "date_received": Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request
            .send()
            .await
            .expect("received text")
            .status()
            .as_u16()
    }

    /// As `receive_with`, with the configured callback token.
    pub async fn receive(&self, gateway: &str, id: &str, from: &str, message: &str) -> u16 {
        self.receive_with(gateway, Some(NOTIFY_CALLBACK_TOKEN), id, from, message)
            .await
    }
}

/// Runs `$body` with `$db` a direct sqlx connection to the test app's database, of the engine's
/// own connection type (the two engines share no connection type without sqlx's `any`).
macro_rules! on_a_direct_connection {
    ($app:expr, |$db:ident| $body:expr) => {{
        use sqlx::Connection;
        let url = $app.database_url();
        match $app.engine() {
            Engine::Sqlite => {
                let mut $db = sqlx::SqliteConnection::connect(url).await.expect("connect");
                $body
            }
            Engine::Postgres(_) => {
                let mut $db = sqlx::PgConnection::connect(url).await.expect("connect");
                $body
            }
        }
    }};
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub app: Arc<App>,
    pub twilio: FakeTwilio,
    pub admin: String,
    pub clinician: String,
    pub scheduler: String,
    pub clock: Option<ManualClock>,
    shutdown: CancellationToken,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    messages_sent: u64,
    engine: Engine,
    _db: TestDatabase,
}

/// Adjusts the test gateway's configuration.
pub type Tweak = fn(&mut Config);

pub async fn spawn_app(engine: Engine) -> TestApp {
    spawn_app_with(engine, |_| {}, false).await
}

pub async fn spawn_app_with(engine: Engine, tweak: Tweak, manual_clock: bool) -> TestApp {
    spawn_app_with_env(engine, tweak, manual_clock, Vec::new()).await
}

/// As `spawn_app_with`, with more `CRHT_*` settings (ones only known at run time, such as a
/// fake service's address).
pub async fn spawn_app_with_env(
    engine: Engine,
    tweak: Tweak,
    manual_clock: bool,
    extra_env: Vec<(String, String)>,
) -> TestApp {
    // Server logs show with `RUST_LOG=… cargo test -- --nocapture`.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let db = TestDatabase::create(&engine).await;
    let twilio = FakeTwilio::start().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("addr");
    let base = format!("http://{address}");
    let env = [
        ("CRHT_DATABASE_URL", db.url.clone()),
        ("CRHT_BIND", address.to_string()),
        ("CRHT_PUBLIC_URL", base.clone()),
        ("CRHT_SMS_PROVIDER", "twilio".to_owned()),
        ("CRHT_TWILIO_ACCOUNT_SID", ACCOUNT_SID.to_owned()),
        ("CRHT_TWILIO_AUTH_TOKEN", AUTH_TOKEN.to_owned()),
        ("CRHT_TWILIO_API_BASE", twilio.base.clone()),
        // Reminders must not wait for the night to pass when the suite runs late; the
        // quiet-hours tests set their own.
        ("CRHT_QUIET_HOURS", "off".to_owned()),
        // The shipped example's numbers stop a real provider from starting (safety rule 10).
        ("CRHT_TEAMS_FILE", TEAMS_FILE.to_owned()),
    ]
    .map(|(k, v)| (k.to_owned(), v));
    let env = env.into_iter().chain(extra_env);
    let mut config = Config::load(None, env).expect("test config loads");
    config.job_poll_interval = Duration::from_millis(100);
    config.sweep_interval = Duration::from_secs(3600);
    config.send_backoff_base = Duration::from_millis(50);
    tweak(&mut config);
    let manual = manual_clock.then(|| {
        ManualClock::new(
            Utc.with_ymd_and_hms(2026, 11, 23, 14, 0, 0)
                .single()
                .expect("time"),
        )
    });
    let clock: Arc<dyn Clock> = match &manual {
        Some(m) => Arc::new(m.clone()),
        None => Arc::new(SystemClock),
    };
    let app = Arc::new(App::build(config, clock).await.expect("gateway builds"));
    let mut tokens = Vec::new();
    for (name, role) in [
        ("admin-ann", Role::Admin),
        ("clinician-cal", Role::Clinician),
        ("scheduler-sam", Role::Scheduler),
    ] {
        let token = generate_token();
        app.store()
            .create_token(
                &ulid::Ulid::generate().to_string(),
                name,
                role,
                &hash_token(&token),
                Utc::now(),
            )
            .await
            .expect("token");
        tokens.push(token);
    }
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(app.clone().serve(listener, shutdown.clone()));
    TestApp {
        base,
        http: reqwest::Client::new(),
        app,
        twilio,
        admin: tokens[0].clone(),
        clinician: tokens[1].clone(),
        scheduler: tokens[2].clone(),
        clock: manual,
        shutdown,
        server: Some(server),
        messages_sent: 0,
        engine,
        _db: db,
    }
}

/// A reply from the gateway to a text.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub texts: Vec<String>,
    pub raw: String,
}

impl Reply {
    pub fn text(&self) -> String {
        self.texts.join("\n")
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Posts Twilio's inbound webhook, signed as Twilio would sign it.
    pub async fn post_signed(&self, path: &str, params: &[(&str, &str)]) -> reqwest::Response {
        let url = self.url(path);
        let owned: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let sig = signature::compute(AUTH_TOKEN, &url, &owned);
        self.http
            .post(&url)
            .header("X-Twilio-Signature", sig)
            .form(&owned)
            .send()
            .await
            .expect("webhook request")
    }

    /// Posts a form to a webhook `url` with this `X-Twilio-Signature`, or none: as a forger,
    /// or a replay, would.
    pub async fn post_form_signed_with(
        &self,
        url: &str,
        signature: Option<&str>,
        form: &(impl serde::Serialize + ?Sized),
    ) -> reqwest::Response {
        let mut request = self.http.post(url).form(form);
        if let Some(signature) = signature {
            request = request.header("X-Twilio-Signature", signature);
        }
        request.send().await.expect("webhook request")
    }

    /// Texts the referral number from `from` with a fresh message id.
    pub async fn text(&mut self, from: &str, body: &str) -> Reply {
        self.messages_sent += 1;
        let sid = format!("SM{:032x}", self.messages_sent);
        self.text_with_sid(from, body, &sid).await
    }

    pub async fn text_with_sid(&self, from: &str, body: &str, sid: &str) -> Reply {
        let response = self
            .post_signed(
                "/webhooks/twilio/sms",
                &[
                    ("MessageSid", sid),
                    ("AccountSid", ACCOUNT_SID),
                    ("From", from),
                    ("To", "+447520667111"),
                    ("Body", body),
                    ("NumMedia", "0"),
                ],
            )
            .await;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let raw = response.text().await.expect("body");
        let texts = if status == 200 {
            twiml::messages(&raw).expect("TwiML parses")
        } else {
            Vec::new()
        };
        Reply {
            status,
            content_type,
            texts,
            raw,
        }
    }

    /// A staff API request with this token: the status, and the JSON body (`Null` if none).
    async fn staff_request(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method.clone(), self.url(&format!("/api/v1{path}")))
            .bearer_auth(token);
        if let Some(body) = &body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"));
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    pub async fn get(&self, token: &str, path: &str) -> (u16, Value) {
        self.staff_request(reqwest::Method::GET, token, path, None)
            .await
    }

    pub async fn post_json(&self, token: &str, path: &str, body: Value) -> (u16, Value) {
        self.staff_request(reqwest::Method::POST, token, path, Some(body))
            .await
    }

    /// The number's conversation, as staff see it.
    pub async fn conversation(&self, phone: &str) -> Value {
        let (status, body) = self
            .get(&self.admin, &format!("/conversations/{}", urlencode(phone)))
            .await;
        assert_eq!(status, 200, "conversation for {phone}: {body}");
        body
    }

    /// The referral of the number's current conversation.
    pub async fn referral_of(&self, phone: &str) -> Value {
        let conversation = self.conversation(phone).await;
        self.referral(conversation["referral_id"].as_str().expect("referral id"))
            .await
    }

    pub async fn referral(&self, id: &str) -> Value {
        let (status, body) = self.get(&self.admin, &format!("/referrals/{id}")).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Reads the referral until `done` holds of it, for up to five seconds, and returns the
    /// last read: the caller asserts what it needs of it.
    pub async fn referral_when(&self, id: &str, done: impl Fn(&Value) -> bool) -> Value {
        let mut referral = self.referral(id).await;
        for _ in 1..100 {
            if done(&referral) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            referral = self.referral(id).await;
        }
        referral
    }

    /// The id of the referral the number's current conversation belongs to.
    pub async fn referral_id_of(&self, phone: &str) -> String {
        self.conversation(phone).await["referral_id"]
            .as_str()
            .expect("referral id")
            .to_owned()
    }

    /// The referral's transcript as an admin reads it (status unchecked, as `get`).
    pub async fn transcript(&self, referral_id: &str) -> Value {
        self.get(&self.admin, &format!("/referrals/{referral_id}/transcript"))
            .await
            .1
    }

    /// The transcript of the referral the number's current conversation belongs to.
    pub async fn transcript_of(&self, phone: &str) -> Value {
        self.transcript(&self.referral_id_of(phone).await).await
    }

    /// Texts "hello" from `phone` to start a referral, then answers each step in turn (as
    /// `answer_steps`, which checks the step before each answer).
    pub async fn start_referral(&mut self, phone: &str, steps: &[(&str, &str)]) -> Reply {
        self.text(phone, "hello").await;
        self.answer_steps(phone, steps).await
    }

    /// The audit log's entries as an admin reads them (status unchecked, as `get`).
    pub async fn audit_entries(&self) -> Vec<Value> {
        let (_, audit) = self.get(&self.admin, "/audit").await;
        audit["items"].as_array().expect("audit items").clone()
    }

    /// The OpenAPI document the gateway serves.
    pub async fn openapi(&self) -> Value {
        self.http
            .get(self.url("/openapi.json"))
            .send()
            .await
            .expect("GET /openapi.json")
            .json()
            .await
            .expect("openapi.json is JSON")
    }

    /// The metrics page: its status and its text.
    pub async fn metrics(&self) -> (u16, String) {
        let response = self
            .http
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("GET /metrics");
        let status = response.status().as_u16();
        (status, response.text().await.expect("metrics text"))
    }

    /// Texts each answer in turn, checking the conversation is at the expected step first.
    pub async fn answer_steps(&mut self, phone: &str, steps: &[(&str, &str)]) -> Reply {
        let mut last = None;
        for (step, answer) in steps {
            let conversation = self.conversation(phone).await;
            assert_eq!(conversation["step"], *step, "before answering {answer:?}");
            let reply = self.text(phone, answer).await;
            assert_eq!(reply.status, 200, "{}", reply.raw);
            last = Some(reply);
        }
        last.expect("at least one step")
    }

    pub async fn patch_json(&self, token: &str, path: &str, body: Value) -> (u16, Value) {
        self.staff_request(reqwest::Method::PATCH, token, path, Some(body))
            .await
    }

    pub async fn delete(&self, token: &str, path: &str) -> u16 {
        self.http
            .delete(self.url(&format!("/api/v1{path}")))
            .bearer_auth(token)
            .send()
            .await
            .expect("DELETE")
            .status()
            .as_u16()
    }

    /// The test's own database (for tests that stage what a killed process leaves behind).
    pub fn database_url(&self) -> &str {
        &self._db.url
    }

    /// SQLite only: another connection that has taken the database's write lock
    /// (`BEGIN IMMEDIATE`), as another process would; `ROLLBACK` on it lets the gateway write
    /// again. It waits up to a minute for the gateway's own writes, however busy the machine.
    pub async fn hold_sqlite_write_lock(&self) -> sqlx::SqliteConnection {
        use sqlx::Connection;
        let options: sqlx::sqlite::SqliteConnectOptions =
            self.database_url().parse().expect("a SQLite URL");
        let mut other =
            sqlx::SqliteConnection::connect_with(&options.busy_timeout(Duration::from_secs(60)))
                .await
                .expect("a second connection");
        sqlx::raw_sql("BEGIN IMMEDIATE")
            .execute(&mut other)
            .await
            .expect("the write lock");
        other
    }

    /// The engine the test's database runs on.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The job queue's own table (apalis names it differently on each engine).
    pub fn jobs_table(&self) -> &'static str {
        match self.engine {
            Engine::Sqlite => "Jobs",
            Engine::Postgres(_) => "apalis.jobs",
        }
    }

    /// Runs statements, in order on one connection, straight against the test's database: to
    /// stage what the gateway itself would never write (a killed worker, a failing store).
    pub async fn execute_sql(&self, statements: &[impl AsRef<str>]) {
        on_a_direct_connection!(self, |db| {
            for statement in statements {
                let statement = statement.as_ref();
                sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
                    .execute(&mut db)
                    .await
                    .unwrap_or_else(|e| panic!("{statement}: {e}"));
            }
        })
    }

    /// The number a `SELECT COUNT(*) …` gives, read straight from the test's database.
    pub async fn sql_count(&self, query: &str) -> i64 {
        on_a_direct_connection!(self, |db| {
            sqlx::query_scalar(sqlx::AssertSqlSafe(query.to_owned()))
                .fetch_one(&mut db)
                .await
                .unwrap_or_else(|e| panic!("{query}: {e}"))
        })
    }

    /// Registers a patient (as a scheduler) and returns them.
    pub async fn create_patient(&self, passport: Value) -> Value {
        let (status, body) = self.post_json(&self.scheduler, "/patients", passport).await;
        assert_eq!(status, 201, "{body}");
        body
    }

    /// Posts a message to the patient as a scheduler (status unchecked, as `post_json`).
    pub async fn send_message(&self, patient_id: &str, message: Value) -> (u16, Value) {
        self.post_json(
            &self.scheduler,
            &format!("/patients/{patient_id}/messages"),
            message,
        )
        .await
    }

    /// Posts a brief update in these words to the patient (status unchecked, as `post_json`).
    pub async fn send_update(&self, patient_id: &str, text: &str) -> (u16, Value) {
        self.send_message(
            patient_id,
            serde_json::json!({"purpose": "update", "text": text}),
        )
        .await
    }

    /// Waits until the fake provider has accepted `n` texts and the patient's newest message
    /// is recorded as sent; returns the `n`th text.
    pub async fn wait_until_sent(&self, patient_id: &str, n: usize) -> SentText {
        let sent = self.twilio.wait_for(n).await;
        self.wait_for_messages(patient_id, |m| m[0]["status"] == "sent")
            .await;
        sent[n - 1].clone()
    }

    /// Books an appointment for the patient (as a scheduler), checks it was booked (201) and
    /// returns it.
    pub async fn book_appointment(&self, patient_id: &str, appointment: Value) -> Value {
        let (status, body) = self
            .post_json(
                &self.scheduler,
                &format!("/patients/{patient_id}/appointments"),
                appointment,
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body
    }

    /// Acknowledges the patient's urgent flag with this token (status unchecked, as
    /// `post_json`).
    pub async fn acknowledge_patient(&self, token: &str, patient_id: &str) -> (u16, Value) {
        self.post_json(
            token,
            &format!("/patients/{patient_id}/acknowledge"),
            serde_json::json!({}),
        )
        .await
    }

    /// A delivery receipt from the provider, signed.
    pub async fn receipt(&self, sid: &str, status: &str, error_code: Option<&str>) -> u16 {
        let mut params = vec![
            ("MessageSid", sid),
            ("MessageStatus", status),
            ("AccountSid", ACCOUNT_SID),
        ];
        if let Some(code) = error_code {
            params.push(("ErrorCode", code));
        }
        self.post_signed("/webhooks/twilio/status", &params)
            .await
            .status()
            .as_u16()
    }

    /// Every message to the patient, newest first.
    pub async fn messages(&self, patient_id: &str) -> Vec<Value> {
        let (status, body) = self
            .get(&self.scheduler, &format!("/patients/{patient_id}/messages"))
            .await;
        assert_eq!(status, 200, "{body}");
        body["items"].as_array().cloned().unwrap_or_default()
    }

    /// Waits until the patient's messages satisfy `done`, returning them.
    pub async fn wait_for_messages(
        &self,
        patient_id: &str,
        done: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        for _ in 0..300 {
            let messages = self.messages(patient_id).await;
            if done(&messages) {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "messages never reached the expected state: {:#?}",
            self.messages(patient_id).await
        );
    }

    /// A second gateway on the same database and fake provider (as a second replica).
    pub async fn spawn_replica(&self) -> Replica {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let mut config = (*self.app.state.config).clone();
        config.bind = listener.local_addr().expect("addr");
        let clock: Arc<dyn Clock> = match &self.clock {
            Some(m) => Arc::new(m.clone()),
            None => Arc::new(SystemClock),
        };
        let app = Arc::new(App::build(config, clock).await.expect("replica builds"));
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(app.serve(listener, shutdown.clone()));
        Replica {
            shutdown,
            server: Some(server),
        }
    }

    /// Stops the gateway and starts it again on the same database, address, configuration
    /// and clock: as a restarted process would.
    pub async fn restart(&mut self) {
        self.stop_server().await;
        let config = (*self.app.state.config).clone();
        let listener = TcpListener::bind(config.bind).await.expect("bind again");
        let clock: Arc<dyn Clock> = match &self.clock {
            Some(m) => Arc::new(m.clone()),
            None => Arc::new(SystemClock),
        };
        let app = Arc::new(
            App::build(config, clock)
                .await
                .expect("gateway builds again"),
        );
        self.shutdown = CancellationToken::new();
        self.server = Some(tokio::spawn(
            app.clone().serve(listener, self.shutdown.clone()),
        ));
        self.app = app;
    }

    pub fn advance(&self, by: chrono::TimeDelta) {
        self.clock
            .as_ref()
            .expect("spawned with a manual clock")
            .advance(by);
    }

    /// Stops the gateway gracefully (and checks it did stop).
    pub async fn stop(mut self) {
        self.stop_server().await;
    }

    async fn stop_server(&mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            let result = tokio::time::timeout(Duration::from_secs(20), server)
                .await
                .expect("gateway stops within 20 s");
            result.expect("server task").expect("server ran cleanly");
        }
    }
}

/// Another gateway process sharing the test's database.
pub struct Replica {
    shutdown: CancellationToken,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Replica {
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(20), server).await;
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A self-referral through every step, answers by step id.
pub const SELF_REFERRAL: &[(&str, &str)] = &[
    ("relationship", "1"),
    ("name", "Sam, they/them"),
    ("age", "34"),
    ("postcode", "ls14dy"),
    ("safety", "1"),
    ("situation", "not sleeping for days, very anxious"),
    ("contact_method", "2"),
    ("language", "no"),
    ("access_needs", "2 5"),
    ("anything_else", "I have a guide dog"),
    ("confirm", "yes"),
];

/// The client the gateway is registered as with the fake identity provider.
pub const OIDC_CLIENT_ID: &str = "crht-gateway-test";
pub const OIDC_CLIENT_SECRET: &str = "oidc-client-secret-0123456789";
/// The fake identity provider's signing key (made once with `openssl genrsa -traditional 2048`;
/// for tests only).
const OIDC_KEY: &str = include_str!("../fixtures/oidc-test-key.pem");

/// What the fake identity provider puts in the next ID tokens it signs.
#[derive(Debug, Clone)]
pub struct IdTokenPlan {
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    /// Another audience than the gateway's client id.
    pub audience: Option<String>,
    /// Another nonce than the one it was given at /authorize.
    pub nonce: Option<String>,
}

impl Default for IdTokenPlan {
    fn default() -> Self {
        Self {
            email: Some("ann@example.org".into()),
            email_verified: Some(true),
            audience: None,
            nonce: None,
        }
    }
}

/// What /authorize was asked for, kept under the code it handed out.
#[derive(Debug, Clone)]
struct Grant {
    nonce: String,
    code_challenge: String,
    redirect_uri: String,
}

#[derive(Debug, Default)]
struct FakeOidcState {
    issuer: String,
    grants: std::collections::HashMap<String, Grant>,
    plan: IdTokenPlan,
    tokens_issued: usize,
}

/// A real HTTP server standing in for an OpenID Connect provider (CIS2, Entra ID): discovery,
/// a JWKS with its RSA public key, /authorize (which hands back a code at once, as if the
/// person had signed in there) and /token (RS256-signed ID tokens with the nonce it was given,
/// only for the right client secret and PKCE verifier).
#[derive(Debug, Clone)]
pub struct FakeOidc {
    pub issuer: String,
    state: Arc<Mutex<FakeOidcState>>,
}

impl FakeOidc {
    pub async fn start() -> FakeOidc {
        use axum::routing::get;
        crht_gateway::install_tls_provider();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake oidc");
        let issuer = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(FakeOidcState {
            issuer: issuer.clone(),
            ..FakeOidcState::default()
        }));
        let app = axum::Router::new()
            .route("/.well-known/openid-configuration", get(oidc_discovery))
            .route("/jwks", get(oidc_jwks))
            .route("/authorize", get(oidc_authorize))
            .route("/token", post(oidc_token))
            .with_state(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeOidc { issuer, state }
    }

    /// The settings that point a gateway at this provider.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("CRHT_OIDC_ISSUER", self.issuer.as_str()),
            ("CRHT_OIDC_CLIENT_ID", OIDC_CLIENT_ID),
            ("CRHT_OIDC_CLIENT_SECRET", OIDC_CLIENT_SECRET),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .to_vec()
    }

    /// What the next ID tokens say.
    pub fn plan(&self, plan: IdTokenPlan) {
        self.state.lock().expect("lock").plan = plan;
    }

    pub fn tokens_issued(&self) -> usize {
        self.state.lock().expect("lock").tokens_issued
    }
}

fn oidc_signing_key() -> openidconnect::core::CoreRsaPrivateSigningKey {
    openidconnect::core::CoreRsaPrivateSigningKey::from_pem(
        OIDC_KEY,
        Some(openidconnect::JsonWebKeyId::new("test-key-1".into())),
    )
    .expect("the test RSA key parses")
}

async fn oidc_discovery(State(state): State<Arc<Mutex<FakeOidcState>>>) -> impl IntoResponse {
    use openidconnect::core::{
        CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreResponseType, CoreSubjectIdentifierType,
    };
    use openidconnect::{
        AuthUrl, EmptyAdditionalProviderMetadata, IssuerUrl, JsonWebKeySetUrl, ResponseTypes,
        TokenUrl,
    };
    let issuer = state.lock().expect("lock").issuer.clone();
    let metadata = CoreProviderMetadata::new(
        IssuerUrl::new(issuer.clone()).expect("issuer"),
        AuthUrl::new(format!("{issuer}/authorize")).expect("url"),
        JsonWebKeySetUrl::new(format!("{issuer}/jwks")).expect("url"),
        vec![ResponseTypes::new(vec![CoreResponseType::Code])],
        vec![CoreSubjectIdentifierType::Public],
        vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256],
        EmptyAdditionalProviderMetadata {},
    )
    .set_token_endpoint(Some(TokenUrl::new(format!("{issuer}/token")).expect("url")));
    axum::Json(metadata)
}

async fn oidc_jwks() -> impl IntoResponse {
    use openidconnect::PrivateSigningKey;
    axum::Json(openidconnect::core::CoreJsonWebKeySet::new(vec![
        oidc_signing_key().as_verification_key(),
    ]))
}

async fn oidc_authorize(
    State(state): State<Arc<Mutex<FakeOidcState>>>,
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> axum::response::Response {
    let get = |k: &str| query.get(k).cloned().unwrap_or_default();
    if get("client_id") != OIDC_CLIENT_ID
        || get("response_type") != "code"
        || get("code_challenge_method") != "S256"
    {
        return (StatusCode::BAD_REQUEST, "not a request this provider takes").into_response();
    }
    let code = format!("code-{}", ulid::Ulid::generate());
    let grant = Grant {
        nonce: get("nonce"),
        code_challenge: get("code_challenge"),
        redirect_uri: get("redirect_uri"),
    };
    let mut back = url::Url::parse(&grant.redirect_uri).expect("redirect_uri");
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &get("state"));
    state.lock().expect("lock").grants.insert(code, grant);
    (
        StatusCode::SEE_OTHER,
        [(axum::http::header::LOCATION, back.to_string())],
    )
        .into_response()
}

async fn oidc_token(
    State(state): State<Arc<Mutex<FakeOidcState>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use base64::Engine as _;
    use openidconnect::core::{
        CoreIdToken, CoreIdTokenClaims, CoreIdTokenFields, CoreJwsSigningAlgorithm,
        CoreTokenResponse, CoreTokenType,
    };
    use openidconnect::{
        AccessToken, Audience, EmptyAdditionalClaims, EmptyExtraTokenFields, EndUserEmail,
        IssuerUrl, Nonce, StandardClaims, SubjectIdentifier,
    };
    use sha2::Digest as _;
    let refuse = |error: &str| {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({ "error": error })),
        )
            .into_response()
    };
    let form: std::collections::HashMap<String, String> =
        form_urlencoded::parse(&body).into_owned().collect();
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let client = format!("{OIDC_CLIENT_ID}:{OIDC_CLIENT_SECRET}");
    let expected_auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(client)
    );
    if headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v != expected_auth)
    {
        return refuse("invalid_client");
    }
    let mut state = state.lock().expect("lock");
    let Some(grant) = state.grants.remove(&get("code")) else {
        return refuse("invalid_grant");
    };
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(get("code_verifier").as_bytes()));
    if get("grant_type") != "authorization_code"
        || challenge != grant.code_challenge
        || get("redirect_uri") != grant.redirect_uri
    {
        return refuse("invalid_grant");
    }
    let plan = state.plan.clone();
    let now = Utc::now();
    let access_token = AccessToken::new(format!("access-{}", ulid::Ulid::generate()));
    let claims = CoreIdTokenClaims::new(
        IssuerUrl::new(state.issuer.clone()).expect("issuer"),
        vec![Audience::new(
            plan.audience.unwrap_or_else(|| OIDC_CLIENT_ID.to_owned()),
        )],
        now + chrono::TimeDelta::minutes(5),
        now,
        StandardClaims::new(SubjectIdentifier::new("subject-1".into()))
            .set_email(plan.email.map(EndUserEmail::new))
            .set_email_verified(plan.email_verified),
        EmptyAdditionalClaims {},
    )
    .set_nonce(Some(Nonce::new(plan.nonce.unwrap_or(grant.nonce))));
    let id_token = CoreIdToken::new(
        claims,
        &oidc_signing_key(),
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        Some(&access_token),
        None,
    )
    .expect("sign the ID token");
    state.tokens_issued += 1;
    axum::Json(CoreTokenResponse::new(
        access_token,
        CoreTokenType::Bearer,
        CoreIdTokenFields::new(Some(id_token), EmptyExtraTokenFields {}),
    ))
    .into_response()
}
