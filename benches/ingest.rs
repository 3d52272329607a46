//! Ingest benchmark: signed Twilio webhooks fired at the gateway (every text durably stored
//! before its 200), and — in the same run, same machine, same load generator — at a bare axum
//! handler that answers the same TwiML without storing anything. The ratio is our overhead.
//!
//! Run:  cargo bench --bench ingest
//! Options (environment): INGEST_TEXTS (default 6000), INGEST_CONCURRENCY (default 32),
//! INGEST_RATE (texts/s of the paced run, default 2000; 0 skips it), INGEST_DATABASE_URL
//! (default a fresh SQLite file under target/), INGEST_URL (fire at an already running gateway
//! instead of an in-process one; it must share INGEST_AUTH_TOKEN).
//!
//! Beside them, on the same disk and database server in the same run: how fast rows commit
//! with nothing else to do, one row a commit (the disk's limit for a text a commit) and 64
//! rows a commit — the ceilings the gateway's figures are measured against.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::routing::post;
use crht_gateway::App;
use crht_gateway::clock::SystemClock;
use crht_gateway::config::Config;
use crht_gateway::twilio::{signature, twiml};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// One person's whole self-referral, sent text by text (each waits for its reply).
const CONVERSATION: &[&str] = &[
    "hello",
    "1",
    "Sam",
    "34",
    "LS1 4DY",
    "1",
    "not sleeping",
    "2",
    "no",
    "8",
    "no",
    "yes",
];

struct Run {
    label: &'static str,
    texts: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    errors: usize,
}

impl Run {
    fn per_second(&self) -> f64 {
        self.texts as f64 / self.elapsed.as_secs_f64()
    }
    fn percentile(&self, p: f64) -> Duration {
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies.get(i).copied().unwrap_or_default()
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Fires `texts` texts from `concurrency` senders, each a person answering the whole
/// conversation; with `rate`, never faster than that many texts a second in all (each send
/// waits for its slot), so latency is measured at that load rather than at saturation.
async fn fire(
    label: &'static str,
    url: String,
    token: String,
    texts: usize,
    concurrency: usize,
    rate: Option<f64>,
) -> Run {
    let first_number = match label {
        "paced" => 600_000,
        _ => 100_000,
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("client");
    let people = texts.div_ceil(CONVERSATION.len());
    let next_person = Arc::new(AtomicUsize::new(0));
    let next_slot = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (client, url, token, next_person, next_slot) = (
            client.clone(),
            url.clone(),
            token.clone(),
            next_person.clone(),
            next_slot.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            loop {
                let person = next_person.fetch_add(1, Ordering::Relaxed);
                if person >= people {
                    break;
                }
                // Each run's people are new to the gateway.
                let from = format!("+447911{:06}", first_number + person);
                for (n, body) in CONVERSATION.iter().enumerate() {
                    let params: Vec<(String, String)> = vec![
                        ("MessageSid".into(), format!("SM{label}{person:012}{n:04}")),
                        ("AccountSid".into(), "ACbench".into()),
                        ("From".into(), from.clone()),
                        ("To".into(), "+447520667111".into()),
                        ("Body".into(), (*body).into()),
                    ];
                    if let Some(rate) = rate {
                        let slot = next_slot.fetch_add(1, Ordering::Relaxed);
                        let due = started + Duration::from_secs_f64(slot as f64 / rate);
                        tokio::time::sleep_until(due.into()).await;
                    }
                    let sent = Instant::now();
                    let result = client
                        .post(&url)
                        .header(
                            "X-Twilio-Signature",
                            signature::compute(&token, &url, &params),
                        )
                        .form(&params)
                        .send()
                        .await;
                    match result {
                        Ok(r) if r.status().is_success() => {
                            let body = r.text().await.unwrap_or_default();
                            if twiml::messages(&body).map(|m| m.is_empty()).unwrap_or(true) {
                                errors += 1;
                            }
                            latencies.push(sent.elapsed());
                        }
                        _ => errors += 1,
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in workers {
        let (l, e) = worker.await.expect("worker");
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed();
    latencies.sort();
    Run {
        label,
        texts: latencies.len(),
        elapsed,
        latencies,
        errors,
    }
}

/// The baseline: parse the form, answer a fixed TwiML reply, store nothing.
async fn bare_server() -> String {
    let reply =
        twiml::reply(&["Thank you for texting. If you are in danger now, call 999.".to_owned()]);
    let app = axum::Router::new().route(
        "/webhooks/twilio/sms",
        post(move |body: axum::body::Bytes| {
            let reply = reply.clone();
            async move {
                let _params: Vec<(String, String)> =
                    form_urlencoded::parse(&body).into_owned().collect();
                ([("content-type", "text/xml")], reply)
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!(
        "http://{}/webhooks/twilio/sms",
        listener.local_addr().expect("addr")
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(bench());
}

async fn bench() {
    crht_gateway::install_tls_provider();
    let texts = env_usize("INGEST_TEXTS", 6000);
    let concurrency = env_usize("INGEST_CONCURRENCY", 32);
    let token = std::env::var("INGEST_AUTH_TOKEN").unwrap_or_else(|_| "bench-auth-token".into());
    let shutdown = CancellationToken::new();

    let (gateway_url, database) = match std::env::var("INGEST_URL") {
        Ok(url) => (
            format!("{}/webhooks/twilio/sms", url.trim_end_matches('/')),
            "external".to_owned(),
        ),
        Err(_) => {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-ingest");
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("bench dir");
            let database = std::env::var("INGEST_DATABASE_URL")
                .unwrap_or_else(|_| format!("sqlite://{}", dir.join("crht.db").display()));
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let base = format!("http://{}", listener.local_addr().expect("addr"));
            let env = [
                ("CRHT_DATABASE_URL", database.clone()),
                ("CRHT_PUBLIC_URL", base.clone()),
                ("CRHT_TWILIO_AUTH_TOKEN", token.clone()),
            ]
            .map(|(k, v)| (k.to_owned(), v));
            let config = Config::load(None, env).expect("config");
            let app = Arc::new(
                App::build(config, Arc::new(SystemClock))
                    .await
                    .expect("gateway"),
            );
            tokio::spawn(app.serve(listener, shutdown.clone()));
            let engine = if database.starts_with("sqlite") {
                "SQLite (WAL, synchronous=FULL)"
            } else {
                "PostgreSQL"
            };
            (format!("{base}/webhooks/twilio/sms"), engine.to_owned())
        }
    };
    let bare_url = bare_server().await;

    let rate = std::env::var("INGEST_RATE")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(2000.0);
    // Warm both up, then measure each in turn.
    fire("warmbare", bare_url.clone(), token.clone(), 240, 8, None).await;
    let bare = fire("bare", bare_url, token.clone(), texts, concurrency, None).await;
    let gateway = fire(
        "gateway",
        gateway_url.clone(),
        token.clone(),
        texts,
        concurrency,
        None,
    )
    .await;
    // Paced: enough senders that the rate, not their replies, sets the pace.
    let paced = (rate > 0.0).then_some(rate);
    let paced = match paced {
        Some(rate) => Some(fire("paced", gateway_url, token, texts, 128, Some(rate)).await),
        None => None,
    };
    shutdown.cancel();
    let ceilings = if database == "external" {
        None
    } else {
        let url = std::env::var("INGEST_DATABASE_URL").ok();
        Some(commit_ceilings(url.as_deref()).await)
    };

    println!(
        "\ningest benchmark: {texts} texts, {concurrency} concurrent senders, database: {database}"
    );
    println!(
        "{:<10} {:>10} {:>10} {:>10} {:>10} {:>7}",
        "target", "texts/s", "p50 ms", "p99 ms", "max ms", "errors"
    );
    for run in [Some(&bare), Some(&gateway), paced.as_ref()]
        .into_iter()
        .flatten()
    {
        println!(
            "{:<10} {:>10.0} {:>10.2} {:>10.2} {:>10.2} {:>7}",
            run.label,
            run.per_second(),
            run.percentile(0.50).as_secs_f64() * 1e3,
            run.percentile(0.99).as_secs_f64() * 1e3,
            run.latencies
                .last()
                .copied()
                .unwrap_or_default()
                .as_secs_f64()
                * 1e3,
            run.errors
        );
    }
    println!(
        "gateway/bare throughput ratio: {:.3}   p50 ratio: {:.1}x",
        gateway.per_second() / bare.per_second(),
        gateway.percentile(0.5).as_secs_f64() / bare.percentile(0.5).as_secs_f64().max(1e-9)
    );
    if let Some(paced) = &paced {
        println!(
            "paced run: {rate:.0} texts/s asked, {:.0} achieved",
            paced.per_second()
        );
    }
    if let Some((single, grouped)) = ceilings {
        println!(
            "commit ceiling on the same database: {single:.0} rows/s at one row a commit, \
             {grouped:.0} rows/s at {GROUPED} rows a commit"
        );
        println!(
            "gateway / one-row-a-commit ceiling: {:.2}",
            gateway.per_second() / single
        );
    }
}

/// Rows in each commit of the grouped ceiling run.
const GROUPED: usize = 64;

/// Rows a second the database commits with nothing else to do, one row a commit and
/// `GROUPED` rows a commit, each as durable as the gateway's (SQLite: WAL and
/// `synchronous=FULL` in a fresh file beside the gateway's; PostgreSQL: the same server).
async fn commit_ceilings(postgres: Option<&str>) -> (f64, f64) {
    use sqlx::Connection;
    const ROWS: usize = 4096;
    // One body for both engines' connections (their types differ).
    macro_rules! run {
        ($conn:expr, $per_commit:expr) => {{
            let per_commit: usize = $per_commit;
            let started = Instant::now();
            for batch in 0..ROWS / per_commit {
                let mut tx = $conn.begin().await.expect("begin");
                for row in 0..per_commit {
                    sqlx::query("INSERT INTO ceiling (id, body) VALUES ($1, $2)")
                        .bind(format!("{per_commit}-{batch}-{row}"))
                        .bind("a text of about the length people send, give or take")
                        .execute(&mut *tx)
                        .await
                        .expect("insert");
                }
                tx.commit().await.expect("commit");
            }
            ROWS as f64 / started.elapsed().as_secs_f64()
        }};
    }
    let create = "CREATE TABLE ceiling (id TEXT PRIMARY KEY, body TEXT NOT NULL)";
    match postgres.filter(|url| url.starts_with("postgres")) {
        Some(url) => {
            let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
            sqlx::raw_sql("DROP TABLE IF EXISTS ceiling")
                .execute(&mut conn)
                .await
                .expect("drop");
            sqlx::raw_sql(create)
                .execute(&mut conn)
                .await
                .expect("create");
            let single = run!(conn, 1);
            let grouped = run!(conn, GROUPED);
            sqlx::raw_sql("DROP TABLE ceiling")
                .execute(&mut conn)
                .await
                .expect("drop");
            (single, grouped)
        }
        None => {
            use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-ingest");
            let options = SqliteConnectOptions::new()
                .filename(dir.join("ceiling.db"))
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full);
            let mut conn = sqlx::SqliteConnection::connect_with(&options)
                .await
                .expect("connect");
            sqlx::raw_sql(create)
                .execute(&mut conn)
                .await
                .expect("create");
            (run!(conn, 1), run!(conn, GROUPED))
        }
    }
}
