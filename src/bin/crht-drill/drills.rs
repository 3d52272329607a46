//! The drills themselves: each sets up a gateway (or two), does its damage, and checks that
//! nothing was lost or done twice.
//!
//! Longer than most files on purpose (about 680 lines of code): each drill is one function that
//! reads top to bottom as its own script (set up, damage, settle, check); splitting them apart
//! would hide what the drills share (`settle`, the reminder and alert checks).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use rand::RngExt;
use serde_json::json;

use crate::gateway::{Database, Engine, Gateway, free_port, gateway_binary, read_log};
use crate::provider::{Api, Mode, Provider};
use crate::proxy::Proxy;
use crate::report::Report;
use crate::traffic::{
    self, ACCOUNT_SID, AUTH_TOKEN, Booked, REFERRAL_NUMBER, Sender, Staff, TexterPlan,
    check_reminders, check_texts, control_outcomes, percentile,
};

/// The reminder offset the drills book with: an appointment a minute after its reminder.
const OFFSET: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct Options {
    pub engine: Engine,
    pub postgres_url: String,
    pub kills: usize,
    pub outage: Duration,
    pub texters: usize,
    pub patients: usize,
    pub stop_command: Option<String>,
    pub start_command: Option<String>,
}

/// A directory for this run's database and logs, kept for reading afterwards.
fn run_dir(drill: &str, engine: Engine) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let target = exe
        .parent()
        .and_then(|p| p.parent())
        .context("no target directory")?;
    let dir = target.join("drills").join(format!(
        "{drill}-{}-{}",
        format!("{engine:?}").to_lowercase(),
        Utc::now().format("%Y%m%dT%H%M%S")
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The teams the drills run with (the test suite's).
const TEAMS_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/teams.toml");

/// A gateway (not yet started) on a free port, with the database at `db_url` and the fake
/// provider, logging into `dir`.
fn gateway_for(
    bin: &Path,
    dir: &Path,
    db_url: &str,
    provider: &Provider,
    rate: u32,
) -> anyhow::Result<Gateway> {
    let port = free_port()?;
    Ok(Gateway::new(
        bin,
        gateway_env(db_url, port, provider, rate),
        port,
        dir.join("gateway.log"),
    ))
}

fn gateway_env(db_url: &str, port: u16, provider: &Provider, rate: u32) -> Vec<(String, String)> {
    [
        ("CRHT_DATABASE_URL", db_url.to_owned()),
        ("CRHT_BIND", format!("127.0.0.1:{port}")),
        ("CRHT_PUBLIC_URL", format!("http://127.0.0.1:{port}")),
        ("CRHT_REFERRAL_NUMBER", REFERRAL_NUMBER.to_owned()),
        ("CRHT_SMS_PROVIDER", "twilio".to_owned()),
        // Confirmed on-call numbers: the shipped example's stop a real provider starting.
        ("CRHT_TEAMS_FILE", TEAMS_FILE.to_owned()),
        ("CRHT_TWILIO_ACCOUNT_SID", ACCOUNT_SID.to_owned()),
        ("CRHT_TWILIO_AUTH_TOKEN", AUTH_TOKEN.to_owned()),
        ("CRHT_TWILIO_API_BASE", provider.base_url.clone()),
        ("CRHT_TWILIO_FROM", REFERRAL_NUMBER.to_owned()),
        ("CRHT_QUIET_HOURS", "off".to_owned()),
        ("CRHT_REMINDER_OFFSETS", "1m".to_owned()),
        ("CRHT_SMS_RATE_PER_SEC", rate.to_string()),
        // Drill traffic comes from a few hundred numbers quickly; keep the per-number cap out
        // of the way (it has its own test).
        ("CRHT_REPLY_CAP_PER_HOUR", "1000".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Waits until every booked reminder reached the provider (or was rerouted), or `deadline`.
async fn wait_for_reminders(provider: &Provider, booked: &[Booked], deadline: DateTime<Utc>) {
    while Utc::now() < deadline {
        let sent = provider.accepted_by_recipient();
        if booked.iter().all(|b| sent.contains_key(&b.phone)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn last_due(booked: &[Booked]) -> DateTime<Utc> {
    booked.iter().map(|b| b.due).max().unwrap_or_else(Utc::now)
}

/// Duplicate sends that no kill explains (a kill between the provider accepting the first
/// and the second is the known window: accepted, then killed before our commit).
fn unexplained_duplicates(
    provider: &Provider,
    booked: &[Booked],
    kills: &[DateTime<Utc>],
) -> usize {
    let sent = provider.accepted_by_recipient();
    let mut unexplained = 0;
    for b in booked {
        if let Some(sends) = sent.get(&b.phone) {
            for pair in sends.windows(2) {
                if !kills.iter().any(|k| *k >= pair[0].at && *k <= pair[1].at) {
                    unexplained += 1;
                }
            }
        }
    }
    unexplained
}

/// What a drill's traffic came to, once it has settled.
struct Settled {
    logs: Vec<traffic::PhoneLog>,
    texts: traffic::TextFindings,
    reminders: traffic::ReminderFindings,
    /// Alerts sent, duplicates, urgent referrals with none (`alerts_by_reference`).
    alerts: (usize, usize, usize),
}

impl Settled {
    fn report_alerts(&self, r: &mut Report) {
        let (sent, duplicates, unalerted) = self.alerts;
        r.alerts(
            self.texts.urgent_references.len(),
            sent,
            duplicates,
            unalerted,
        );
    }
}

/// Stops the texters, lets the ones under way finish, waits for due reminders and alerts to
/// reach the provider, then checks texts and reminders.
async fn settle(
    stop: &AtomicBool,
    texting: tokio::task::JoinHandle<Vec<traffic::PhoneLog>>,
    provider: &Provider,
    staff: &Staff,
    booked: &[Booked],
    expected: &std::collections::HashMap<bool, traffic::EndState>,
) -> anyhow::Result<Settled> {
    stop.store(true, Ordering::SeqCst);
    let logs = tokio::time::timeout(Duration::from_secs(300), texting)
        .await
        .context("texters did not finish")??;
    let deadline = last_due(booked).max(Utc::now()) + chrono::TimeDelta::seconds(75);
    wait_for_reminders(provider, booked, deadline).await;
    let texts = check_texts(staff, &logs, expected).await?;
    wait_for_alerts(
        provider,
        &texts.urgent_references,
        Instant::now() + Duration::from_secs(75),
    )
    .await;
    let reminders = check_reminders(provider, staff, booked).await?;
    let alerts = traffic::alerts_by_reference(provider, &texts.urgent_references);
    Ok(Settled {
        logs,
        texts,
        reminders,
        alerts,
    })
}

fn texter_plan(patience: Duration) -> TexterPlan {
    TexterPlan {
        replay: 0.1,
        race: 0.0,
        think: Duration::from_millis(50),
        patience,
    }
}

fn all_phones(logs: &[traffic::PhoneLog], booked: &[Booked]) -> Vec<String> {
    logs.iter()
        .map(|l| l.phone.clone())
        .chain(booked.iter().map(|b| b.phone.clone()))
        .collect()
}

/// Kill -9 at random moments while people text and reminders fall due; restart each time.
pub async fn crash(o: &Options) -> anyhow::Result<Report> {
    let dir = run_dir("crash", o.engine)?;
    let bin = gateway_binary()?;
    let db = Database::create(o.engine, &dir, &o.postgres_url).await?;
    let provider = Provider::start().await?;
    let mut gateway = gateway_for(&bin, &dir, &db.url, &provider, 100)?;
    gateway.start().await?;
    let staff = Staff::new(gateway.base_url(), gateway.token("admin")?);
    let sender = Sender::new(vec![gateway.base_url()]);
    let expected = control_outcomes(&sender, &staff).await?;
    // Reminders fall due all through the kills (about a second apart each).
    let span = Duration::from_millis(o.kills as u64 * 1100);
    let booked =
        traffic::book_patients(&staff, 0, o.patients, OFFSET, Duration::from_secs(3), span).await?;

    let stop = Arc::new(AtomicBool::new(false));
    let texting = tokio::spawn(traffic::texters(
        sender.clone(),
        1000,
        o.texters,
        texter_plan(Duration::from_secs(300)),
        stop.clone(),
    ));
    let began = Instant::now();
    let mut kills = Vec::new();
    for _ in 0..o.kills {
        let wait = rand::rng().random_range(100..1200);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        gateway.kill9()?;
        kills.push(Utc::now());
        gateway.start().await?;
    }
    let kill_phase = began.elapsed();
    let settled = settle(&stop, texting, &provider, &staff, &booked, &expected).await?;
    let unexplained = unexplained_duplicates(&provider, &booked, &kills);
    gateway.stop()?;
    let log = read_log(&gateway.log)?;
    let leaks = traffic::leaks(&log, &all_phones(&settled.logs, &booked));
    let groups = log
        .lines()
        .filter(|line| line.contains(crht_gateway::store::GROUP_COMMITTED))
        .count();
    let starts: Vec<f64> = gateway
        .start_times
        .iter()
        .map(Duration::as_secs_f64)
        .collect();

    let mut r = Report::new(format!("crash drill on {:?}", o.engine));
    r.line(format!(
        "{} kills in {:.0} s (restart to ready: p50 {:.2} s, max {:.2} s); logs in {}",
        kills.len(),
        kill_phase.as_secs_f64(),
        percentile(&starts, 0.5),
        percentile(&starts, 1.0),
        dir.display()
    ));
    r.texts(&settled.texts);
    if matches!(o.engine, Engine::Sqlite) {
        r.line(format!(
            "commits that held more than one text (group commit): {groups}"
        ));
    }
    r.reminders(&settled.reminders);
    r.line(format!(
        "reminder duplicates explained by a kill between send and commit: {}, unexplained: {unexplained}",
        settled.reminders.duplicates.saturating_sub(unexplained)
    ));
    r.check(
        unexplained == 0,
        "a reminder was sent twice with no kill between the sends",
    );
    r.check(
        settled.reminders.lateness.iter().all(|l| *l <= 60.0),
        "a reminder went out more than 60 s after it was due (a killed worker's job not picked up in time)",
    );
    settled.report_alerts(&mut r);
    r.leaks(&leaks);
    finish(db, r).await
}

/// The SMS provider fails (500, 429, hung requests) for minutes, then recovers.
pub async fn provider_outage(o: &Options) -> anyhow::Result<Report> {
    const RATE: u32 = 5;
    let dir = run_dir("provider-outage", o.engine)?;
    let bin = gateway_binary()?;
    let db = Database::create(o.engine, &dir, &o.postgres_url).await?;
    let provider = Provider::start().await?;
    let mut gateway = gateway_for(&bin, &dir, &db.url, &provider, RATE)?;
    gateway.start().await?;
    let staff = Staff::new(gateway.base_url(), gateway.token("admin")?);
    let sender = Sender::new(vec![gateway.base_url()]);
    // Reminders fall due during the outage.
    let booked = traffic::book_patients(
        &staff,
        0,
        o.patients,
        OFFSET,
        Duration::from_secs(5),
        o.outage.mul_f64(0.8),
    )
    .await?;

    provider.set_mode(Mode::Outage);
    let outage_began = Utc::now();
    // Staff send brief updates to everyone during the outage; someone texts at risk.
    let mut updates = Vec::new();
    for b in &booked {
        let message = staff
            .post(
                &format!("/patients/{}/messages", b.patient_id),
                json!({"purpose": "update", "text": traffic::UPDATE_TEXTS[0]}),
            )
            .await?;
        updates.push(message["id"].as_str().unwrap_or_default().to_owned());
    }
    let at_risk = traffic::run_phone(
        sender.clone(),
        traffic::texter_phone(3),
        3,
        texter_plan(Duration::from_secs(60)),
    )
    .await;
    tokio::time::sleep(
        o.outage
            .saturating_sub((Utc::now() - outage_began).to_std()?),
    )
    .await;
    provider.set_mode(Mode::Up);
    let recovered = Utc::now();

    // Everything settles: each message sent or rerouted, the alert delivered.
    let unsettled =
        wait_for_messages(&staff, &booked, Instant::now() + Duration::from_secs(180)).await?;
    let expected = std::collections::HashMap::new();
    let texts = check_texts(&staff, std::slice::from_ref(&at_risk), &expected).await?;
    wait_for_alerts(
        &provider,
        &texts.urgent_references,
        Instant::now() + Duration::from_secs(120),
    )
    .await;

    let (by_status, fell_back, messages_total) = message_outcomes(&staff, &booked).await?;
    // Attempts per text during the outage.
    let attempts = provider.attempts();
    let mut per_message = Vec::new();
    let mut by_text: std::collections::HashMap<(String, String), Vec<DateTime<Utc>>> =
        Default::default();
    for a in attempts.iter().filter(|a| a.at < recovered) {
        by_text
            .entry((a.to.clone(), a.body.clone()))
            .or_default()
            .push(a.at);
    }
    for times in by_text.values() {
        per_message.push(times.len() as f64);
    }
    let (alerts, alert_duplicates, unalerted) =
        traffic::alerts_by_reference(&provider, &texts.urgent_references);
    let busiest = provider.busiest_second();
    gateway.stop()?;
    let log = read_log(&gateway.log)?;
    let leaks = traffic::leaks(&log, &all_phones(std::slice::from_ref(&at_risk), &booked));
    let waits = planned_waits(&log);

    let mut r = Report::new(format!("provider outage drill on {:?}", o.engine));
    r.line(format!(
        "provider down for {:.0} s (500, 429 and hung requests in turn); {} reminders and {} updates queued meanwhile; logs in {}",
        (recovered - outage_began).num_milliseconds() as f64 / 1000.0,
        booked.len(),
        updates.len(),
        dir.display()
    ));
    r.line(format!(
        "{} requests reached the provider during the outage; attempts per text p50 {:.0}, max {:.0}",
        attempts.iter().filter(|a| a.at < recovered).count(),
        percentile(&per_message, 0.5),
        percentile(&per_message, 1.0),
    ));
    let median_wait = |i: usize| percentile(waits.get(i).map_or(&[][..], Vec::as_slice), 0.5);
    r.line(format!(
        "backoff (the gateway's planned wait before each retry after a 500 or a timeout, p50 over texts, s; a 429 waits its Retry-After instead): {}",
        (0..waits.len())
            .filter(|i| !waits[*i].is_empty())
            .map(|i| format!("#{} {:.1}", i + 1, median_wait(i)))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    r.check(
        waits.len() >= 4 && median_wait(3) >= 4.0 * median_wait(0),
        "retries were not spaced out (no visible backoff)",
    );
    r.line(format!(
        "busiest second at the provider: {busiest} requests (limit {RATE}/s)"
    ));
    r.check(
        busiest <= RATE as usize,
        "the provider's rate limit was exceeded",
    );
    r.line(format!(
        "{messages_total} messages to patients: {by_status:?}; fell back to a phone call after the retry cap: {fell_back}"
    ));
    r.check(
        unsettled.is_empty(),
        "messages still waiting long after the provider recovered",
    );
    r.check(
        messages_total == 2 * booked.len(),
        "a message is missing (each patient should have a reminder and an update)",
    );
    // Six retries with backoff take about a minute, more when requests hang: an outage of a
    // minute and a half must see some messages give up on texting.
    r.check(
        o.outage < Duration::from_secs(90) || fell_back > 0,
        "nothing fell back to the next channel in a long outage",
    );
    r.texts(&texts);
    r.alerts(
        texts.urgent_references.len(),
        alerts,
        alert_duplicates,
        unalerted,
    );
    r.leaks(&leaks);
    finish(db, r).await
}

/// Waits until no message to a booked patient is queued or sending, or `deadline`; the ids
/// of those still waiting.
async fn wait_for_messages(
    staff: &Staff,
    booked: &[Booked],
    deadline: Instant,
) -> anyhow::Result<Vec<String>> {
    let mut unsettled = Vec::new();
    while Instant::now() < deadline {
        unsettled.clear();
        for b in booked {
            let messages = staff
                .get(&format!("/patients/{}/messages", b.patient_id))
                .await?;
            for m in messages["items"].as_array().into_iter().flatten() {
                if matches!(m["status"].as_str(), Some("queued" | "sending")) {
                    unsettled.push(m["id"].as_str().unwrap_or_default().to_owned());
                }
            }
        }
        if unsettled.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(unsettled)
}

/// The outcome of every message to a booked patient: counts by "status by channel", how many
/// fell back to another channel because no provider took the text, and how many in all.
async fn message_outcomes(
    staff: &Staff,
    booked: &[Booked],
) -> anyhow::Result<(std::collections::BTreeMap<String, usize>, usize, usize)> {
    let mut by_status: std::collections::BTreeMap<String, usize> = Default::default();
    let mut fell_back = 0;
    let mut total = 0;
    for b in booked {
        let messages = staff
            .get(&format!("/patients/{}/messages", b.patient_id))
            .await?;
        for m in messages["items"].as_array().into_iter().flatten() {
            total += 1;
            let key = format!(
                "{} by {}",
                m["status"].as_str().unwrap_or("?"),
                m["channel"].as_str().unwrap_or("none")
            );
            *by_status.entry(key).or_default() += 1;
            if m["skipped"].as_array().is_some_and(|s| {
                s.iter()
                    .any(|s| s.to_string().contains("provider_unavailable"))
            }) {
                fell_back += 1;
            }
        }
    }
    Ok((by_status, fell_back, total))
}

/// Twilio first and GOV.UK Notify second (`CRHT_SMS_PROVIDERS=twilio,notify`), both served by
/// the fake provider; Notify takes over after `FAILOVER_AFTER`.
const FAILOVER_AFTER: Duration = Duration::from_secs(5);

/// Twilio goes down (500, 429 and hung requests) while people text, reminders fall due and
/// staff send updates: Notify takes over, nothing is lost or sent twice, nothing falls back
/// to a phone call, the switch shows in the metrics and the log, and Twilio is back in use
/// once it answers again.
pub async fn failover(o: &Options) -> anyhow::Result<Report> {
    const RATE: u32 = 20;
    let dir = run_dir("failover", o.engine)?;
    let bin = gateway_binary()?;
    let db = Database::create(o.engine, &dir, &o.postgres_url).await?;
    let provider = Provider::start().await?;
    let port = free_port()?;
    let mut env = gateway_env(&db.url, port, &provider, RATE);
    env.extend(
        [
            ("CRHT_SMS_PROVIDERS", "twilio,notify".to_owned()),
            (
                "CRHT_FAILOVER_AFTER",
                format!("{}s", FAILOVER_AFTER.as_secs()),
            ),
            (
                "CRHT_NOTIFY_API_KEY",
                "crht_drill-26785a09-ab16-4eb0-8407-a37497a57506-3d844edf-8d35-48ac-975b-e847b4f122b0"
                    .to_owned(),
            ),
            ("CRHT_NOTIFY_API_BASE", provider.base_url.clone()),
            (
                "CRHT_NOTIFY_SMS_TEMPLATE_ID",
                "f33517ff-2a88-4f6e-b855-c550268ce08a".to_owned(),
            ),
            ("CRHT_NOTIFY_CALLBACK_TOKEN", "drill-callback-token".to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    let mut gateway = Gateway::new(&bin, env, port, dir.join("gateway.log"));
    gateway.start().await?;
    let staff = Staff::new(gateway.base_url(), gateway.token("admin")?);
    let sender = Sender::new(vec![gateway.base_url()]);
    let expected = control_outcomes(&sender, &staff).await?;
    // Reminders fall due during the outage.
    let booked = traffic::book_patients(
        &staff,
        0,
        o.patients,
        OFFSET,
        Duration::from_secs(5),
        o.outage.mul_f64(0.8),
    )
    .await?;

    provider.set_api_mode(Api::Twilio, Mode::Outage);
    let outage_began = Utc::now();
    let stop = Arc::new(AtomicBool::new(false));
    let texting = tokio::spawn(traffic::texters(
        sender.clone(),
        1000,
        o.texters,
        texter_plan(Duration::from_secs(300)),
        stop.clone(),
    ));
    for b in &booked {
        staff
            .post(
                &format!("/patients/{}/messages", b.patient_id),
                json!({"purpose": "update", "text": traffic::UPDATE_TEXTS[0]}),
            )
            .await?;
    }
    tokio::time::sleep(
        o.outage
            .saturating_sub((Utc::now() - outage_began).to_std()?),
    )
    .await;
    provider.set_api_mode(Api::Twilio, Mode::Up);
    let recovered = Utc::now();
    let settled = settle(&stop, texting, &provider, &staff, &booked, &expected).await?;
    let unsettled =
        wait_for_messages(&staff, &booked, Instant::now() + Duration::from_secs(120)).await?;

    // Twilio answers again: after its rest, the next text is Twilio's. A request that hung
    // before the recovery times out after it and rests Twilio once more, so an update goes
    // after each rest until Twilio takes one (or a minute passes).
    let probing = Utc::now();
    let back_deadline = Instant::now() + Duration::from_secs(60);
    let mut probes = 0;
    let twilio_is_back = || {
        provider
            .attempts()
            .iter()
            .any(|a| a.api == Api::Twilio && a.accepted && a.at >= probing)
    };
    let twilio_back = loop {
        tokio::time::sleep(FAILOVER_AFTER + Duration::from_secs(1)).await;
        if let Some(b) = booked.first() {
            staff
                .post(
                    &format!("/patients/{}/messages", b.patient_id),
                    json!({"purpose": "update", "text": traffic::UPDATE_TEXTS[1]}),
                )
                .await?;
            probes += 1;
        }
        let handed_over = Instant::now() + FAILOVER_AFTER;
        while !twilio_is_back() && Instant::now() < handed_over {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        if twilio_is_back() || booked.is_empty() || Instant::now() > back_deadline {
            break twilio_is_back();
        }
    };
    let (by_status, fell_back, messages_total) = message_outcomes(&staff, &booked).await?;
    let metrics = reqwest::get(format!("{}/metrics", gateway.base_url()))
        .await?
        .text()
        .await?;
    let metric = |name: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let failovers = metric(r#"crht_sms_failovers_total{from="twilio",to="notify"}"#);
    let twilio_in_use = metric(r#"crht_sms_provider_in_use{provider="twilio"}"#);
    gateway.stop()?;
    let log = read_log(&gateway.log)?;
    let leaks = traffic::leaks(&log, &all_phones(&settled.logs, &booked));
    let attempts = provider.attempts();
    let during = |api: Api| {
        attempts
            .iter()
            .filter(|a| a.api == api && a.accepted && a.at >= outage_began && a.at < recovered)
            .count()
    };
    let first_notify = attempts
        .iter()
        .filter(|a| a.api == Api::Notify && a.accepted)
        .map(|a| a.at)
        .min();

    let mut r = Report::new(format!("failover drill on {:?}", o.engine));
    r.line(format!(
        "Twilio down for {:.0} s (500, 429 and hung requests in turn), Notify second with CRHT_FAILOVER_AFTER={}s; {} reminders and {} updates meanwhile; logs in {}",
        (recovered - outage_began).num_milliseconds() as f64 / 1000.0,
        FAILOVER_AFTER.as_secs(),
        booked.len(),
        booked.len(),
        dir.display()
    ));
    r.line(format!(
        "texts accepted during the outage: Twilio {}, Notify {}; Notify's first {:.1} s after the outage began",
        during(Api::Twilio),
        during(Api::Notify),
        first_notify.map_or(f64::NAN, |at| (at - outage_began).num_milliseconds() as f64
            / 1000.0)
    ));
    r.check(during(Api::Notify) > 0, "Notify never took over");
    r.check(
        first_notify.is_some_and(|at| at - outage_began < chrono::TimeDelta::seconds(40)),
        "Notify took over late (more than 40 s: the wait, plus a hung request's 15 s timeout, plus slack)",
    );
    r.line(format!(
        "metrics: crht_sms_failovers_total{{from=twilio,to=notify}} {failovers}; Twilio in use at the end: {twilio_in_use}; log: failing over {}, back in use {}",
        log.matches("failing over").count(),
        log.matches("back in use").count()
    ));
    r.check(failovers >= 1.0, "the switch is not in the metrics");
    r.check(
        log.contains("failing over") && log.contains("back in use"),
        "the switch and the return are not in the log",
    );
    r.check(
        twilio_back && twilio_in_use == 1.0,
        "Twilio was not back in use after it recovered",
    );
    r.line(format!(
        "busiest second: Twilio {} requests, Notify {} (each limited to {RATE}/s)",
        provider.busiest_second_of(Api::Twilio),
        provider.busiest_second_of(Api::Notify)
    ));
    r.check(
        provider.busiest_second_of(Api::Twilio) <= RATE as usize
            && provider.busiest_second_of(Api::Notify) <= RATE as usize,
        "a provider's rate limit was exceeded",
    );
    r.line(format!(
        "{messages_total} messages to patients: {by_status:?}; fell back to another channel: {fell_back}"
    ));
    r.check(
        unsettled.is_empty(),
        "messages still waiting after the outage",
    );
    r.check(
        messages_total == 2 * booked.len() + probes,
        "a message is missing (each patient should have a reminder and an update, and the first one an update for each try of Twilio)",
    );
    r.check(
        fell_back == 0,
        "a text fell back to another channel although the second provider was up",
    );
    r.texts(&settled.texts);
    r.reminders(&settled.reminders);
    r.check(
        settled.reminders.duplicates == 0,
        "a reminder was sent twice",
    );
    settled.report_alerts(&mut r);
    r.leaks(&leaks);
    finish(db, r).await
}

async fn wait_for_alerts(provider: &Provider, references: &[String], deadline: Instant) {
    while Instant::now() < deadline {
        let (_, _, unalerted) = traffic::alerts_by_reference(provider, references);
        if unalerted == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// PostgreSQL goes away under load (every connection cut, new ones refused; or a real
/// restart with --stop-command/--start-command), then comes back.
pub async fn db_outage(o: &Options) -> anyhow::Result<Report> {
    anyhow::ensure!(
        o.engine == Engine::Postgres,
        "the database outage drill is for PostgreSQL"
    );
    let dir = run_dir("db-outage", o.engine)?;
    let bin = gateway_binary()?;
    let db = Database::create(o.engine, &dir, &o.postgres_url).await?;
    let real_restart = o.stop_command.is_some();
    let proxy = Proxy::start(db.server_addr()?).await?;
    let url = if real_restart {
        db.url.clone()
    } else {
        db.via(proxy.addr)?
    };
    let provider = Provider::start().await?;
    let mut gateway = gateway_for(&bin, &dir, &url, &provider, 100)?;
    gateway.start().await?;
    let pid = gateway.pid();
    let staff = Staff::new(gateway.base_url(), gateway.token("admin")?);
    let sender = Sender::new(vec![gateway.base_url()]);
    let expected = control_outcomes(&sender, &staff).await?;
    let booked = traffic::book_patients(
        &staff,
        0,
        o.patients,
        OFFSET,
        Duration::from_secs(5),
        o.outage + Duration::from_secs(20),
    )
    .await?;

    let stop = Arc::new(AtomicBool::new(false));
    let texting = tokio::spawn(traffic::texters(
        sender.clone(),
        1000,
        o.texters,
        texter_plan(o.outage + Duration::from_secs(120)),
        stop.clone(),
    ));
    tokio::time::sleep(Duration::from_secs(5)).await;

    // The outage, watched from outside: what /readyz and a webhook say each second.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()?;
    let ready_url = format!("{}/readyz", gateway.base_url());
    let cut_at = Instant::now();
    match &o.stop_command {
        Some(command) => run_shell(command)?,
        None => proxy.cut(),
    }
    // Let the cut reach every connection before asking.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut readyz_during = std::collections::BTreeMap::<u16, usize>::new();
    while cut_at.elapsed() < o.outage {
        let status = match http.get(&ready_url).send().await {
            Ok(r) => r.status().as_u16(),
            Err(_) => 0,
        };
        *readyz_during.entry(status).or_default() += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    match &o.start_command {
        Some(command) => run_shell(command)?,
        None => proxy.restore(),
    }
    let restored = Instant::now();
    let mut recovered_in = None;
    while restored.elapsed() < Duration::from_secs(120) {
        if let Ok(r) = http.get(&ready_url).send().await
            && r.status().is_success()
        {
            recovered_in = Some(restored.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    let settled = settle(&stop, texting, &provider, &staff, &booked, &expected).await?;
    let same_process = gateway.alive() && gateway.pid() == pid;
    gateway.stop()?;
    let leaks = traffic::leaks(
        &read_log(&gateway.log)?,
        &all_phones(&settled.logs, &booked),
    );

    let mut r = Report::new(format!("database outage drill on {:?}", o.engine));
    r.line(format!(
        "database away for {:.0} s ({}); /readyz during the outage: {readyz_during:?} (0 = no answer); logs in {}",
        o.outage.as_secs_f64(),
        if real_restart { "server stopped and started" } else { "every connection cut, new ones refused" },
        dir.display()
    ));
    r.check(
        readyz_during.keys().all(|s| *s == 503),
        "/readyz did not answer 503 while the database was away",
    );
    match recovered_in {
        Some(t) => r.line(format!(
            "ready again {:.1} s after the database came back, same process: {same_process}",
            t.as_secs_f64()
        )),
        None => r.fail("the gateway did not become ready again within 120 s"),
    }
    r.check(
        same_process,
        "the gateway process did not survive the outage",
    );
    if !real_restart {
        r.line(format!(
            "connection attempts refused while the database was away: {}",
            proxy.refused.load(Ordering::Relaxed)
        ));
    }
    r.texts(&settled.texts);
    r.check(
        settled
            .texts
            .other_status
            .keys()
            .all(|s| *s == 503 || *s < 500),
        "a webhook answered a 5xx other than 503 during the outage",
    );
    r.reminders(&settled.reminders);
    r.check(
        settled.reminders.duplicates == 0,
        "a reminder was sent twice",
    );
    settled.report_alerts(&mut r);
    r.leaks(&leaks);
    drop(gateway);
    finish(db, r).await
}

fn run_shell(command: &str) -> anyhow::Result<()> {
    let status = std::process::Command::new("sh")
        .args(["-c", command])
        .status()?;
    anyhow::ensure!(status.success(), "`{command}` failed ({status})");
    Ok(())
}

/// Two gateways on one PostgreSQL database; a number's texts go to either, sometimes to both
/// at once (a provider retrying); reminders fall due for both to pick; one is killed midway.
pub async fn replicas(o: &Options) -> anyhow::Result<Report> {
    anyhow::ensure!(
        o.engine == Engine::Postgres,
        "replicas share a PostgreSQL database"
    );
    const RATE: u32 = 20;
    let dir = run_dir("replicas", o.engine)?;
    let bin = gateway_binary()?;
    let db = Database::create(o.engine, &dir, &o.postgres_url).await?;
    let provider = Provider::start().await?;
    let mut gateways = Vec::new();
    for name in ["a", "b"] {
        let port = free_port()?;
        let mut gateway = Gateway::new(
            &bin,
            gateway_env(&db.url, port, &provider, RATE),
            port,
            dir.join(format!("gateway-{name}.log")),
        );
        gateway.start().await?;
        gateways.push(gateway);
    }
    let staff = Staff::new(gateways[0].base_url(), gateways[0].token("admin")?);
    let sender = Sender::new(gateways.iter().map(Gateway::base_url).collect());
    let expected = control_outcomes(&sender, &staff).await?;
    let span = Duration::from_secs(40);
    let booked =
        traffic::book_patients(&staff, 0, o.patients, OFFSET, Duration::from_secs(3), span).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let plan = TexterPlan {
        replay: 0.1,
        race: 0.3,
        think: Duration::from_millis(50),
        patience: Duration::from_secs(300),
    };
    let texting = tokio::spawn(traffic::texters(
        sender.clone(),
        1000,
        o.texters,
        plan,
        stop.clone(),
    ));
    tokio::time::sleep(span / 2).await;
    // One replica dies mid-way: the other carries on, and takes over its running jobs.
    gateways[0].kill9()?;
    let killed_at = Utc::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    gateways[0].start().await?;
    tokio::time::sleep(span / 2).await;
    let settled = settle(&stop, texting, &provider, &staff, &booked, &expected).await?;
    let unexplained = unexplained_duplicates(&provider, &booked, &[killed_at]);
    let busiest = provider.busiest_second();
    let mut log = String::new();
    for gateway in &mut gateways {
        gateway.stop()?;
        log.push_str(&read_log(&gateway.log)?);
    }
    let leaks = traffic::leaks(&log, &all_phones(&settled.logs, &booked));

    let mut r = Report::new("two replicas on PostgreSQL".to_owned());
    r.line(format!(
        "replica a killed (-9) mid-way and restarted 3 s later; logs in {}",
        dir.display()
    ));
    r.texts(&settled.texts);
    r.reminders(&settled.reminders);
    r.check(
        unexplained == 0,
        "a reminder was sent twice with no kill between the sends",
    );
    r.line(format!(
        "busiest second at the provider, both replicas together: {busiest} (limit {RATE}/s)"
    ));
    r.check(
        busiest <= RATE as usize,
        "the shared rate limit was exceeded",
    );
    settled.report_alerts(&mut r);
    r.leaks(&leaks);
    drop(gateways);
    finish(db, r).await
}

/// Drops the drill's database, unless a check failed: then it is kept for a look.
async fn finish(db: Database, mut r: Report) -> anyhow::Result<Report> {
    if r.failures.is_empty() {
        db.drop_database().await?;
    } else {
        r.line(format!("database kept for inspection: {}", db.url));
    }
    Ok(r)
}

/// From the gateway's log: the waits it planned before each retry of a send (seconds), by
/// retry number (0 = the first retry), over every message.
fn planned_waits(log: &str) -> Vec<Vec<f64>> {
    let mut by_message: std::collections::HashMap<&str, Vec<Option<f64>>> = Default::default();
    for line in log.lines().filter(|l| l.contains("will retry")) {
        let field = |name: &str| {
            line.split_once(&format!("{name}="))
                .and_then(|(_, rest)| rest.split(['}', ' ', ':']).next())
        };
        if let (Some(id), Some(wait)) = (field("message_id"), field("retry_in_ms"))
            && let Ok(ms) = wait.parse::<f64>()
        {
            // A 429's wait is the provider's Retry-After, not the backoff's.
            let told = line.contains("rate limited");
            by_message
                .entry(id)
                .or_default()
                .push((!told).then_some(ms / 1000.0));
        }
    }
    let mut by_retry: Vec<Vec<f64>> = Vec::new();
    for waits in by_message.values() {
        for (i, wait) in waits.iter().enumerate() {
            if by_retry.len() <= i {
                by_retry.push(Vec::new());
            }
            by_retry[i].extend(*wait);
        }
    }
    by_retry
}
