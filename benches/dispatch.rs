//! Dispatch benchmark: reminders due at one moment, sent through the real job queue and
//! delivery path to a local fake provider (a real HTTP server, no rate limit), beside a no-op
//! apalis job on the same database in the same run; then a backlog of reminders booked into
//! the future through the API's own batch booking (`Services::book_appointments`, 1,000
//! appointments a call), with the process's memory and the lateness of reminders that fall
//! due while the backlog is being booked.
//!
//! Run:  cargo bench --bench dispatch
//! Options (environment): DISPATCH_REMINDERS (default 2000; 0 skips part one),
//! DISPATCH_BACKLOG (reminders booked into the future, default 1000000; 0 skips part two),
//! DISPATCH_DATABASE_URL (default a fresh SQLite file under target/).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apalis::prelude::{
    BackendExt, BoxDynError, Monitor, TaskBuilder, TaskId, TaskSink, WorkerBuilder,
    WorkerBuilderExt,
};
use axum::routing::post;
use chrono::{DateTime, TimeDelta, Utc};
use crht_gateway::App;
use crht_gateway::appointments::{AppointmentBatchIn, AppointmentIn, BatchAppointmentIn};
use crht_gateway::clock::SystemClock;
use crht_gateway::config::Config;
use crht_gateway::domain::phone::PhoneNumber;
use crht_gateway::domain::role::Role;
use crht_gateway::domain::schedule::{Plan, QuietHours};
use crht_gateway::store::{
    Actor, Appointment, AppointmentKind, AppointmentPlace, AppointmentStatus, Patient, Pool,
    ReminderPlan,
};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Arrival times at the fake provider.
type Arrivals = Arc<Mutex<Vec<DateTime<Utc>>>>;

async fn fake_provider(arrivals: Arrivals) -> String {
    let app = axum::Router::new().route(
        "/2010-04-01/Accounts/{sid}/Messages.json",
        post(move || {
            let arrivals = arrivals.clone();
            async move {
                let n = {
                    let mut a = arrivals.lock().expect("lock");
                    a.push(Utc::now());
                    a.len()
                };
                (
                    axum::http::StatusCode::CREATED,
                    axum::Json(
                        serde_json::json!({"sid": format!("SMbench{n:026}"), "status": "queued"}),
                    ),
                )
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Resident and peak memory of this process, in MiB (Linux).
fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn patient(i: usize, now: DateTime<Utc>) -> Patient {
    Patient {
        id: crht_gateway::new_id().into(),
        name: format!("Bench Patient {i}"),
        preferred_name: None,
        pronouns: None,
        nhs_number: None,
        date_of_birth: None,
        mobile: PhoneNumber::parse(&format!("+447911{:06}", 100_000 + i)).ok(),
        landline: None,
        address: Default::default(),
        language: None,
        interpreter: false,
        access_needs: Vec::new(),
        support_person: None,
        service_animal: None,
        quiet_hours: None,
        team: None,
        contact_preferences: Default::default(),
        sms_opted_out: false,
        mobile_failed: None,
        urgent: false,
        risk_signals: Vec::new(),
        notes: None,
        referral_id: None,
        created_at: now,
        updated_at: now,
    }
}

fn appointment(patient_id: &str, starts_at: DateTime<Utc>, now: DateTime<Utc>) -> Appointment {
    Appointment {
        id: crht_gateway::new_id().into(),
        patient_id: patient_id.into(),
        starts_at,
        place: AppointmentPlace::Home,
        site_name: None,
        kind: AppointmentKind::Review,
        staff_name: None,
        status: AppointmentStatus::Booked,
        created_at: now,
        updated_at: now,
        reminders: Vec::new(),
    }
}

/// Schedules `count` reminders (one per appointment, `offset` before its start) due at `due`.
async fn schedule(
    app: &App,
    patients: &[Patient],
    count: usize,
    due: DateTime<Utc>,
    offsets: &[TimeDelta],
) {
    let now = Utc::now();
    let appointments = count.div_ceil(offsets.len());
    let mut batch = Vec::with_capacity(2000);
    for i in 0..appointments {
        let starts_at = due + offsets[0];
        let plans = offsets
            .iter()
            .map(|offset| ReminderPlan {
                offset_seconds: offset.num_seconds(),
                due_at: starts_at - *offset,
                plan: Plan::SendAt(starts_at - *offset),
            })
            .collect();
        batch.push((
            appointment(&patients[i % patients.len()].id, starts_at, now),
            plans,
        ));
        if batch.len() == 2000 || i + 1 == appointments {
            app.store()
                .create_appointments(&batch, &[])
                .await
                .expect("schedule a batch");
            batch.clear();
        }
    }
}

/// Books `appointments` appointments starting at `starts_at`, shared among the patients, as
/// the API's batch booking does: `Services::book_appointments`, 1,000 a call. Each gets the
/// gateway's reminder offsets (24 h and 2 h before).
async fn book(
    app: &App,
    actor: &Actor,
    patients: &[Patient],
    appointments: usize,
    starts_at: DateTime<Utc>,
) {
    let mut booked = 0;
    while booked < appointments {
        let n = (appointments - booked).min(1000);
        let batch = AppointmentBatchIn {
            appointments: (booked..booked + n)
                .map(|i| BatchAppointmentIn {
                    patient_id: patients[i % patients.len()].id.clone(),
                    appointment: AppointmentIn {
                        starts_at,
                        place: AppointmentPlace::Home,
                        site_name: None,
                        kind: "review".into(),
                        staff_name: None,
                    },
                })
                .collect(),
        };
        app.services()
            .book_appointments(actor, batch)
            .await
            .expect("book a batch");
        booked += n;
    }
}

/// The database's size on disk, in MiB: SQLite's files, or PostgreSQL's own count.
async fn database_mib(pool: &Pool, dir: &std::path::Path) -> f64 {
    let bytes = match pool {
        Pool::Sqlite(_) => std::fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .filter_map(|e| e.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0),
        Pool::Postgres(pool) => {
            sqlx::query_scalar::<_, i64>("SELECT pg_database_size(current_database())")
                .fetch_one(pool)
                .await
                .map_or(0, |n| n.max(0) as u64)
        }
    };
    bytes as f64 / 1_048_576.0
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct NoOp {
    due_ms: i64,
}

async fn noop(
    job: NoOp,
    done: apalis::prelude::Data<Arc<Mutex<Vec<f64>>>>,
) -> Result<(), BoxDynError> {
    let late = (Utc::now().timestamp_millis() - job.due_ms) as f64 / 1000.0;
    done.lock().expect("lock").push(late);
    Ok(())
}

/// The same number of no-op jobs due at one moment, on the same database, with the same poll
/// interval and concurrency as the gateway's workers.
async fn noop_run(pool: &Pool, count: usize, poll: Duration) -> (f64, Vec<f64>) {
    let due = Utc::now() + TimeDelta::seconds(4);
    let lateness = Arc::new(Mutex::new(Vec::new()));
    let shutdown = CancellationToken::new();
    let signal = {
        let shutdown = shutdown.clone();
        async move {
            shutdown.cancelled().await;
            Ok(())
        }
    };
    let job = |i: usize| {
        TaskBuilder::new(NoOp {
            due_ms: due.timestamp_millis(),
        })
        .task_id(TaskId::from_ulid(ulid::Ulid::generate()))
        .run_at_timestamp(due.timestamp() as u64)
        .idempotency_key(format!("noop-{i}-{}", due.timestamp_millis()))
        .build()
    };
    let monitor = match pool {
        Pool::Sqlite(pool) => {
            let mut storage = apalis_sqlite::SqliteStorage::<NoOp>::new(pool)
                .with_config(apalis_sqlite::Config::default().queue("bench-noop"));
            for i in 0..count {
                storage.push_task(job(i)).await.expect("push");
            }
            let pool = pool.clone();
            let done = lateness.clone();
            tokio::spawn(
                Monitor::new()
                    .register(move |_| {
                        WorkerBuilder::new("bench-noop")
                            .backend(
                                apalis_sqlite::SqliteStorage::<NoOp>::new(&pool)
                                    .with_config(
                                        apalis_sqlite::Config::default().queue("bench-noop"),
                                    )
                                    .poll_with_interval(poll),
                            )
                            .data(done.clone())
                            .concurrency(4)
                            .build(noop)
                    })
                    .run_with_signal(signal),
            )
        }
        Pool::Postgres(pool) => {
            let mut storage = apalis_postgres::PostgresStorage::<NoOp>::new(pool)
                .with_config(apalis_postgres::Config::default().queue("bench-noop"));
            for i in 0..count {
                storage.push_task(job(i)).await.expect("push");
            }
            let pool = pool.clone();
            let done = lateness.clone();
            tokio::spawn(
                Monitor::new()
                    .register(move |_| {
                        WorkerBuilder::new("bench-noop")
                            .backend(
                                apalis_postgres::PostgresStorage::<NoOp>::new(&pool)
                                    .with_config(
                                        apalis_postgres::Config::default().queue("bench-noop"),
                                    )
                                    .poll_with_interval(poll),
                            )
                            .data(done.clone())
                            .concurrency(4)
                            .build(noop)
                    })
                    .run_with_signal(signal),
            )
        }
    };
    let deadline = Instant::now() + Duration::from_secs(600);
    while lateness.lock().expect("lock").len() < count && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shutdown.cancel();
    let _ = monitor.await;
    let mut late = lateness.lock().expect("lock").clone();
    late.sort_by(f64::total_cmp);
    let span = late.last().copied().unwrap_or(f64::NAN).max(0.001);
    (late.len() as f64 / span, late)
}

/// Waits for `count` arrivals after `start`, returning the lateness of each behind `due`.
async fn arrivals_after(
    arrivals: &Arrivals,
    start: usize,
    count: usize,
    due: DateTime<Utc>,
) -> Vec<f64> {
    let deadline = Instant::now() + Duration::from_secs(300);
    while arrivals.lock().expect("lock").len() < start + count && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut late: Vec<f64> = arrivals.lock().expect("lock")[start..]
        .iter()
        .map(|t| (*t - due).num_milliseconds() as f64 / 1000.0)
        .collect();
    late.sort_by(f64::total_cmp);
    late
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
    // RUST_LOG=info shows the gateway's own log while the benchmark runs.
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_writer(std::io::stderr)
            .try_init();
    }
    let count = env_usize("DISPATCH_REMINDERS", 2000);
    let backlog = env_usize("DISPATCH_BACKLOG", 1_000_000);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-dispatch");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("bench dir");
    let database = std::env::var("DISPATCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.join("crht.db").display()));

    let arrivals: Arrivals = Arc::default();
    let provider = fake_provider(arrivals.clone()).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let env = [
        ("CRHT_DATABASE_URL", database.clone()),
        ("CRHT_PUBLIC_URL", base),
        ("CRHT_SMS_PROVIDER", "twilio".into()),
        (
            "CRHT_TEAMS_FILE",
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/teams.toml").into(),
        ),
        ("CRHT_TWILIO_ACCOUNT_SID", "ACbench".into()),
        ("CRHT_TWILIO_AUTH_TOKEN", "bench-token".into()),
        ("CRHT_TWILIO_API_BASE", provider),
        ("CRHT_SMS_RATE_PER_SEC", "1000000".into()),
        // The hourly budget of non-urgent texts (1,000 by default) would hold the rest.
        ("CRHT_SMS_BUDGET_PER_HOUR", "1000000".into()),
        ("CRHT_QUIET_HOURS", "off".into()),
    ]
    .map(|(k, v)| (k.to_owned(), v));
    let config = Config::load(None, env).expect("config");
    let poll = config.job_poll_interval;
    assert_eq!(config.quiet_hours, QuietHours::Off);
    let app = Arc::new(
        App::build(config, Arc::new(SystemClock))
            .await
            .expect("gateway"),
    );
    let pool = app.workers.pool.clone();
    let shutdown = CancellationToken::new();
    tokio::spawn(app.clone().serve(listener, shutdown.clone()));

    let now = Utc::now();
    let patients: Vec<Patient> = (0..100).map(|i| patient(i, now)).collect();
    for p in &patients {
        app.store().create_patient(p).await.expect("patient");
    }
    let engine = if database.starts_with("sqlite") {
        "SQLite"
    } else {
        "PostgreSQL"
    };

    if count > 0 {
        // 1. Reminders due at one moment, through the whole delivery path.
        let started = Instant::now();
        let due = Utc::now() + TimeDelta::seconds(6);
        schedule(&app, &patients, count, due, &[TimeDelta::seconds(30)]).await;
        let scheduled_in = started.elapsed();
        let late = arrivals_after(&arrivals, 0, count, due).await;
        let span = late.last().copied().unwrap_or(f64::NAN).max(0.001);
        let sends_per_sec = late.len() as f64 / span;

        // 2. The same number of no-op jobs on the same database.
        let (noop_per_sec, noop_late) = noop_run(&pool, count, poll).await;

        println!(
            "\ndispatch benchmark: {count} due at once, database: {engine}, poll interval {poll:?}"
        );
        println!(
            "{:<22} {:>10} {:>12} {:>12} {:>8}",
            "", "per second", "late p50 s", "late p99 s", "done"
        );
        println!(
            "{:<22} {:>10.0} {:>12.3} {:>12.3} {:>8}",
            "reminders → provider",
            sends_per_sec,
            percentile(&late, 0.5),
            percentile(&late, 0.99),
            late.len()
        );
        println!(
            "{:<22} {:>10.0} {:>12.3} {:>12.3} {:>8}",
            "no-op apalis job",
            noop_per_sec,
            percentile(&noop_late, 0.5),
            percentile(&noop_late, 0.99),
            noop_late.len()
        );
        println!(
            "reminders/no-op throughput ratio: {:.2}   (scheduling {count} took {:.1} s)",
            sends_per_sec / noop_per_sec,
            scheduled_in.as_secs_f64()
        );
    }

    if backlog > 0 {
        // 3. A backlog booked into the future through the API's batch booking, while 500
        //    reminders booked the same way fall due and must still go on time.
        let actor = Actor {
            name: "dispatch benchmark".into(),
            role: Role::Scheduler,
            token_id: None,
            user_id: None,
        };
        let (rss_before, _) = memory_mib();
        let db_before = database_mib(&pool, &dir).await;
        let before = arrivals.lock().expect("lock").len();
        let appointments = backlog.div_ceil(2);
        let far = Utc::now() + TimeDelta::days(30);
        let started = Instant::now();
        let booking = {
            let (app, actor, patients) = (app.clone(), actor.clone(), patients.clone());
            tokio::spawn(async move {
                book(&app, &actor, &patients, appointments, far).await;
                started.elapsed()
            })
        };
        // Booked three seconds into the backlog, due six seconds later: the 2-hour reminder
        // of an appointment starting in two hours and six seconds (its 24-hour one is past).
        tokio::time::sleep(Duration::from_secs(3)).await;
        let probe = 500;
        let due = chrono::DurationRound::duration_trunc(
            Utc::now() + TimeDelta::seconds(6),
            TimeDelta::seconds(1),
        )
        .expect("whole seconds");
        let due_into_backlog =
            started.elapsed().as_secs_f64() + (due - Utc::now()).num_milliseconds() as f64 / 1000.0;
        let probe_booked = Instant::now();
        book(&app, &actor, &patients, probe, due + TimeDelta::hours(2)).await;
        let probe_booked_in = probe_booked.elapsed();
        let late = arrivals_after(&arrivals, before, probe, due).await;
        let probe_done = started.elapsed();
        let backlog_in = booking.await.expect("the backlog");
        let (rss_backlog, hwm) = memory_mib();
        let reminders = appointments * 2;
        println!(
            "\nbacklog ({engine}): {reminders} reminders ({appointments} appointments) booked in batches \
             of 1,000 through Services::book_appointments in {:.1} s ({:.0}/s)",
            backlog_in.as_secs_f64(),
            reminders as f64 / backlog_in.as_secs_f64()
        );
        println!(
            "memory (RSS, MiB): {rss_before:.0} before, {rss_backlog:.0} after (peak {hwm:.0})"
        );
        println!(
            "{probe} reminders due {:.0} s into the backlog (booked in {:.2} s, last sent {:.1} s in; \
             the backlog {} then): late p50 {:.3} s, p99 {:.3} s, max {:.3} s, all sent: {}",
            due_into_backlog,
            probe_booked_in.as_secs_f64(),
            probe_done.as_secs_f64(),
            if probe_done < backlog_in {
                "still running"
            } else {
                "already done"
            },
            percentile(&late, 0.5),
            percentile(&late, 0.99),
            late.last().copied().unwrap_or(f64::NAN),
            late.len() == probe
        );
        println!(
            "database: {db_before:.0} MiB before, {:.0} MiB after",
            database_mib(&pool, &dir).await
        );
    }
    shutdown.cancel();
}
