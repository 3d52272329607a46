//! Console benchmark: the triage queue page with 10,000 referrals in the database (SQLite),
//! as a signed-in clinician's browser asks for it — the whole request: session, audited
//! read, rendering. Also the live queue's poll when nothing has changed (the request every
//! open queue makes every few seconds), and a filtered page.
//!
//! Run:  cargo bench --bench console
//! Options (environment): CONSOLE_REFERRALS (default 10000), CONSOLE_REQUESTS (default 300).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use crht_gateway::App;
use crht_gateway::clock::SystemClock;
use crht_gateway::config::Config;
use crht_gateway::config_check::load_teams;
use crht_gateway::domain::role::Role;
use crht_gateway::staff::{Accounts, NewUser, Password, operator};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

const PASSWORD: &str = "a benchmark's long password";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `count` referrals, one in 40 urgent, created over the last 30 days, in one transaction.
async fn fill(database: &str, count: usize) {
    use sqlx::Connection;
    let mut db = sqlx::SqliteConnection::connect(database).await.expect("db");
    let mut tx = db.begin().await.expect("begin");
    let now = Utc::now();
    let teams = [
        "leeds",
        "bradford",
        "wakefield",
        "calderdale-kirklees",
        "triage",
    ];
    for i in 0..count {
        let at = (now - TimeDelta::seconds((i as i64 * 2_592_000) / count as i64))
            .format("%Y-%m-%dT%H:%M:%S%.6fZ")
            .to_string();
        let urgent = i % 40 == 0;
        sqlx::query(
            "INSERT INTO referrals (id, reference, status, urgent, risk_signals, team, answers, \
             incomplete, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        )
        .bind(ulid::Ulid::generate().to_string())
        .bind(format!("CRHT-B{i:06}"))
        .bind(if i % 7 == 0 {
            "in_progress"
        } else {
            "submitted"
        })
        .bind(urgent)
        .bind(if urgent {
            r#"["suicidal_intent"]"#
        } else {
            "[]"
        })
        .bind(teams[i % teams.len()])
        .bind(format!(
            r#"{{"name": "Person {i}", "situation": "Finding things hard"}}"#
        ))
        .bind(i % 7 == 0)
        .bind(at)
        .execute(&mut *tx)
        .await
        .expect("referral");
    }
    tx.commit().await.expect("commit");
}

/// A browser's session cookie after signing in.
async fn sign_in(http: &reqwest::Client, base: &str) -> String {
    let login = http
        .get(format!("{base}/login"))
        .send()
        .await
        .expect("login");
    let cookie = session_cookie(&login).expect("a session");
    let body = login.text().await.expect("body");
    let marker = r#"name="csrf_token" value=""#;
    let start = body.find(marker).expect("token") + marker.len();
    let token = &body[start..start + body[start..].find('"').expect("end")];
    let signed_in = http
        .post(format!("{base}/login"))
        .header("Cookie", &cookie)
        .form(&[
            ("csrf_token", token),
            ("email", "bench@example.org"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .expect("sign in");
    assert_eq!(signed_in.status(), 303);
    session_cookie(&signed_in).expect("a new session")
}

fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("crht_session="))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

struct Timing {
    median: Duration,
    p99: Duration,
    max: Duration,
}

async fn time(
    http: &reqwest::Client,
    cookie: &str,
    url: &str,
    requests: usize,
    status: u16,
) -> Timing {
    let mut took = Vec::with_capacity(requests);
    for _ in 0..requests {
        let started = Instant::now();
        let response = http
            .get(url)
            .header("Cookie", cookie)
            .send()
            .await
            .expect("page");
        assert_eq!(response.status().as_u16(), status, "{url}");
        let body = response.bytes().await.expect("body");
        took.push(started.elapsed());
        std::hint::black_box(body);
    }
    took.sort();
    Timing {
        median: took[took.len() / 2],
        p99: took[(took.len() * 99 / 100).min(took.len() - 1)],
        max: took[took.len() - 1],
    }
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
    let count = env_usize("CONSOLE_REFERRALS", 10_000);
    let requests = env_usize("CONSOLE_REQUESTS", 300);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-console");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("bench dir");
    let database = format!("sqlite://{}", dir.join("crht.db").display());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let env = [
        ("CRHT_DATABASE_URL", database.clone()),
        ("CRHT_PUBLIC_URL", base.clone()),
        (
            "CRHT_TEAMS_FILE",
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/teams.toml").into(),
        ),
    ]
    .map(|(k, v)| (k.to_owned(), v));
    let config = Config::load(None, env).expect("config");
    let teams = load_teams(&config).expect("teams");
    let app = Arc::new(
        App::build(config, Arc::new(SystemClock))
            .await
            .expect("gateway"),
    );
    let shutdown = CancellationToken::new();
    tokio::spawn(app.clone().serve(listener, shutdown.clone()));

    let started = Instant::now();
    fill(&database, count).await;
    println!(
        "{count} referrals stored in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Accounts::new(app.store().clone(), app.state.clock.clone())
        .create_user(
            &operator(),
            NewUser {
                email: "bench@example.org".into(),
                name: "Bench Clinician".into(),
                role: Role::Clinician,
                teams: vec![],
            },
            Some(Password::new(PASSWORD).expect("password")),
            &teams,
        )
        .await
        .expect("user");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let cookie = sign_in(&http, &base).await;

    // The stamp the live page would send, read from the page itself.
    let page = http
        .get(format!("{base}/console/referrals"))
        .header("Cookie", &cookie)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    let marker = "/console/referrals/live?";
    let start = page.find(marker).expect("a live page");
    let live = page[start..start + page[start..].find('"').expect("end")].replace("&amp;", "&");

    let cases = [
        (
            "triage queue, first page (50 of all open)",
            format!("{base}/console/referrals"),
            200,
        ),
        (
            "triage queue, one team, urgent only",
            format!("{base}/console/referrals?team=leeds&urgency=urgent"),
            200,
        ),
        (
            "live poll, nothing changed (204)",
            format!("{base}{live}"),
            204,
        ),
    ];
    println!("{requests} requests each, one at a time, over loopback HTTP:");
    for (name, url, status) in cases {
        let t = time(&http, &cookie, &url, requests, status).await;
        println!(
            "  {name:45} median {:6.2} ms  p99 {:6.2} ms  max {:6.2} ms",
            t.median.as_secs_f64() * 1000.0,
            t.p99.as_secs_f64() * 1000.0,
            t.max.as_secs_f64() * 1000.0,
        );
    }
    shutdown.cancel();
}
