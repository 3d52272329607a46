//! What the drills send (people texting, staff booking) and what they check afterwards.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use crht_gateway::twilio::signature;
use rand::RngExt;
use serde_json::{Value, json};

use crate::provider::Provider;

pub const AUTH_TOKEN: &str = "drill-auth-token-not-a-secret";
pub const ACCOUNT_SID: &str = "AC00000000000000000000000000d7111";
pub const REFERRAL_NUMBER: &str = "+447520667111";

/// A person referring themselves, start to finish.
pub const SELF_REFERRAL: &[&str] = &[
    "hello",
    "1",
    "Sam, they/them",
    "34",
    "ls14dy",
    "1",
    "not sleeping for days, very anxious",
    "2",
    "no",
    "2 5",
    "I have a guide dog",
    "yes",
];

/// The same, with a risk signal part-way (999 advice, urgent, on-call alerted).
pub const AT_RISK: &[&str] = &[
    "hello",
    "1",
    "Alex",
    "I want to kill myself tonight",
    "29",
    "BD1 1AA",
    "2",
    "everything is too much since the weekend",
    "1",
    "no",
    "none",
    "no",
    "yes",
];

/// The words of the brief updates staff send in the drills: not reminders.
pub const UPDATE_TEXTS: &[&str] = &[
    "Please bring your blue folder on Tuesday.",
    "See you on Tuesday at ten.",
];

/// Words from the scripts that must never appear in a log.
pub const SECRET_WORDS: &[&str] = &[
    "not sleeping for days, very anxious",
    "I have a guide dog",
    "I want to kill myself tonight",
    "everything is too much since the weekend",
    "Please bring your blue folder",
];

pub fn script(kind: usize) -> &'static [&'static str] {
    if kind % 10 == 3 {
        AT_RISK
    } else {
        SELF_REFERRAL
    }
}

/// A texter's number (the `n`th); patients use another block.
pub fn texter_phone(n: usize) -> String {
    format!("+4479110{n:05}")
}

pub fn patient_phone(n: usize) -> String {
    format!("+44791115{n:04}")
}

/// The sending side of the webhooks: one or more gateways (replicas) by base URL.
#[derive(Debug, Clone)]
pub struct Sender {
    pub http: reqwest::Client,
    pub targets: Vec<String>,
}

/// What a webhook attempt got back.
#[derive(Debug, Clone)]
pub enum Outcome {
    Ok(String),
    Status(u16),
    NoAnswer,
}

impl Sender {
    pub fn new(targets: Vec<String>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap_or_default();
        Self { http, targets }
    }

    pub async fn text(&self, target: usize, from: &str, sid: &str, body: &str) -> Outcome {
        let base = &self.targets[target % self.targets.len()];
        let url = format!("{base}/webhooks/twilio/sms");
        let params: Vec<(String, String)> = [
            ("MessageSid", sid),
            ("AccountSid", ACCOUNT_SID),
            ("From", from),
            ("To", REFERRAL_NUMBER),
            ("Body", body),
            ("NumMedia", "0"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let signature = signature::compute(AUTH_TOKEN, &url, &params);
        match self
            .http
            .post(&url)
            .header("X-Twilio-Signature", signature)
            .form(&params)
            .send()
            .await
        {
            Ok(response) if response.status().is_success() => match response.text().await {
                Ok(body) => Outcome::Ok(body),
                Err(_) => Outcome::NoAnswer,
            },
            Ok(response) => Outcome::Status(response.status().as_u16()),
            Err(_) => Outcome::NoAnswer,
        }
    }
}

/// One texter's run: what got a 2xx, and what the webhook answered on the way.
#[derive(Debug, Clone, Default)]
pub struct PhoneLog {
    pub phone: String,
    pub kind: usize,
    /// Bodies acknowledged with a 2xx, in order.
    pub acked: Vec<String>,
    /// Attempts answered 503 / another non-2xx status / not at all.
    pub unavailable: usize,
    pub other_status: BTreeMap<u16, usize>,
    pub no_answer: usize,
    /// A repeated delivery of an acknowledged text that got a different reply.
    pub replay_mismatches: usize,
    pub replays: usize,
    /// The same text delivered to two gateways at once.
    pub races: usize,
    pub finished: bool,
}

/// How a texter behaves.
#[derive(Debug, Clone, Copy)]
pub struct TexterPlan {
    /// Chance of sending an acknowledged text again (the provider retrying).
    pub replay: f64,
    /// Chance of delivering a text to two replicas at the same moment.
    pub race: f64,
    /// Pause between texts.
    pub think: Duration,
    /// Give up on a text after this long without a 2xx.
    pub patience: Duration,
}

/// Texts `script` from `phone`, each text retried (same MessageSid) until it gets a 2xx.
pub async fn run_phone(sender: Sender, phone: String, kind: usize, plan: TexterPlan) -> PhoneLog {
    let mut log = PhoneLog {
        phone: phone.clone(),
        kind,
        ..PhoneLog::default()
    };
    let digits: u64 = phone.trim_start_matches('+').parse().unwrap_or(0);
    let mut target = (digits % 7) as usize;
    for (i, body) in script(kind).iter().enumerate() {
        let sid = format!("SM{digits:024x}{i:08x}");
        let began = tokio::time::Instant::now();
        let reply = loop {
            target += 1;
            let racing = sender.targets.len() > 1 && rand::rng().random_bool(plan.race);
            let outcome = if racing {
                log.races += 1;
                let (a, b) = tokio::join!(
                    sender.text(target, &phone, &sid, body),
                    sender.text(target + 1, &phone, &sid, body)
                );
                match (a, b) {
                    (Outcome::Ok(x), Outcome::Ok(y)) => {
                        if x != y {
                            log.replay_mismatches += 1;
                        }
                        Outcome::Ok(x)
                    }
                    (Outcome::Ok(x), _) | (_, Outcome::Ok(x)) => Outcome::Ok(x),
                    (other, _) => other,
                }
            } else {
                sender.text(target, &phone, &sid, body).await
            };
            match outcome {
                Outcome::Ok(reply) => break Some(reply),
                Outcome::Status(503) => log.unavailable += 1,
                Outcome::Status(status) => *log.other_status.entry(status).or_default() += 1,
                Outcome::NoAnswer => log.no_answer += 1,
            }
            if began.elapsed() > plan.patience {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let Some(reply) = reply else {
            return log;
        };
        log.acked.push((*body).to_owned());
        if rand::rng().random_bool(plan.replay) {
            log.replays += 1;
            if let Outcome::Ok(again) = sender.text(target + 1, &phone, &sid, body).await
                && again != reply
            {
                log.replay_mismatches += 1;
            }
        }
        tokio::time::sleep(plan.think).await;
    }
    log.finished = true;
    log
}

/// Keeps `concurrency` texters going, each a new number, until `stop` is set; then lets the
/// ones under way finish.
pub async fn texters(
    sender: Sender,
    first: usize,
    concurrency: usize,
    plan: TexterPlan,
    stop: Arc<AtomicBool>,
) -> Vec<PhoneLog> {
    let mut running = tokio::task::JoinSet::new();
    let mut logs = Vec::new();
    let mut n = first;
    loop {
        while running.len() < concurrency && !stop.load(Ordering::SeqCst) {
            running.spawn(run_phone(sender.clone(), texter_phone(n), n, plan));
            n += 1;
        }
        match running.join_next().await {
            Some(Ok(log)) => logs.push(log),
            Some(Err(e)) => eprintln!("a texter panicked: {e}"),
            None => break,
        }
    }
    logs
}

/// The staff API, with one token.
#[derive(Debug, Clone)]
pub struct Staff {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
}

impl Staff {
    pub fn new(base: String, token: String) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
            base,
            token,
        }
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let response = self
            .http
            .get(format!("{}/api/v1{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(status.is_success(), "GET {path}: {status} {body}");
        Ok(body)
    }

    pub async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let response = self
            .http
            .post(format!("{}/api/v1{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(status.is_success(), "POST {path}: {status} {body}");
        Ok(body)
    }
}

/// A patient booked by the drill, and when their reminder falls due.
#[derive(Debug, Clone)]
pub struct Booked {
    pub patient_id: String,
    pub phone: String,
    pub due: DateTime<Utc>,
}

/// Registers `count` patients (text first, then a phone call) and books each an appointment
/// whose one reminder (offset `offset`) falls due between `from` and `from + span` from now.
pub async fn book_patients(
    staff: &Staff,
    first: usize,
    count: usize,
    offset: Duration,
    from: Duration,
    span: Duration,
) -> anyhow::Result<Vec<Booked>> {
    let mut booked = Vec::new();
    for i in 0..count {
        let n = first + i;
        let phone = patient_phone(n);
        let patient = staff
            .post(
                "/patients",
                json!({
                    "name": format!("Drill Patient {n}"),
                    "mobile": phone,
                    // A request retried across a kill may register the same patient twice.
                    "shared_mobile": true,
                    "landline": format!("+44113496{:04}", n % 10_000),
                    "address": {"lines": ["1 Drill Street", "Leeds"], "postcode": "LS1 4DY"},
                    "contact_preferences": {
                        "reminder": ["sms", "phone_call"],
                        "update": ["sms", "phone_call"]
                    }
                }),
            )
            .await?;
        let patient_id = patient["id"]
            .as_str()
            .context("a patient without an id")?
            .to_owned();
        let lead = from + span.mul_f64(i as f64 / count.max(1) as f64);
        let due = Utc::now() + chrono::TimeDelta::from_std(lead)?;
        let starts_at = due + chrono::TimeDelta::from_std(offset)?;
        staff
            .post(
                &format!("/patients/{patient_id}/appointments"),
                json!({
                    "starts_at": starts_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "place": "home",
                    "kind": "home_visit"
                }),
            )
            .await?;
        // The due time as the gateway computes it (start minus offset, to the second).
        let starts_at = starts_at.with_nanosecond_zero();
        booked.push(Booked {
            patient_id,
            phone,
            due: starts_at - chrono::TimeDelta::from_std(offset)?,
        });
    }
    Ok(booked)
}

trait WholeSeconds {
    fn with_nanosecond_zero(self) -> Self;
}

impl WholeSeconds for DateTime<Utc> {
    fn with_nanosecond_zero(self) -> Self {
        chrono::Timelike::with_nanosecond(&self, 0).unwrap_or(self)
    }
}

/// What every conversation of one script ends as, from a texter that met no faults.
#[derive(Debug, Clone, PartialEq)]
pub struct EndState {
    pub step: Value,
    pub status: Value,
    pub answers: Value,
    pub urgent: Value,
}

/// A conversation's end state, as staff see it.
pub async fn conversation_outcome(
    staff: &Staff,
    phone: &str,
) -> anyhow::Result<(EndState, Vec<String>, String)> {
    let conversation = staff
        .get(&format!("/conversations/{}", phone.replace('+', "%2B")))
        .await?;
    let referral_id = conversation["referral_id"]
        .as_str()
        .context("a conversation without a referral")?
        .to_owned();
    let referral = staff.get(&format!("/referrals/{referral_id}")).await?;
    let transcript = staff
        .get(&format!("/referrals/{referral_id}/transcript"))
        .await?;
    let inbound = transcript["items"]
        .as_array()
        .context("no transcript items")?
        .iter()
        .filter(|item| item["direction"] == "inbound")
        .map(|item| item["body"].as_str().unwrap_or_default().to_owned())
        .collect();
    Ok((
        EndState {
            step: conversation["step"].clone(),
            status: conversation["status"].clone(),
            answers: referral["answers"].clone(),
            urgent: referral["urgent"].clone(),
        },
        inbound,
        referral["reference"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    ))
}

/// What the texters' checks found.
#[derive(Debug, Default)]
pub struct TextFindings {
    pub phones: usize,
    pub unfinished: usize,
    pub acked: usize,
    pub lost: usize,
    pub duplicated: usize,
    pub out_of_order: usize,
    pub inconsistent: usize,
    pub replays: usize,
    pub races: usize,
    pub replay_mismatches: usize,
    pub unavailable: usize,
    pub no_answer: usize,
    pub other_status: BTreeMap<u16, usize>,
    /// Urgent referrals' references (their alerts are checked against the provider).
    pub urgent_references: Vec<String>,
    pub problems: Vec<String>,
}

/// Every acknowledged text is in its transcript exactly once and in order, and every
/// conversation ended where the same script ends without faults (`expected`, by script).
pub async fn check_texts(
    staff: &Staff,
    logs: &[PhoneLog],
    expected: &HashMap<bool, EndState>,
) -> anyhow::Result<TextFindings> {
    let mut f = TextFindings {
        phones: logs.len(),
        ..TextFindings::default()
    };
    for log in logs {
        f.acked += log.acked.len();
        f.replays += log.replays;
        f.races += log.races;
        f.replay_mismatches += log.replay_mismatches;
        f.unavailable += log.unavailable;
        f.no_answer += log.no_answer;
        for (status, n) in &log.other_status {
            *f.other_status.entry(*status).or_default() += n;
        }
        if !log.finished {
            f.unfinished += 1;
            f.problems.push(format!(
                "texter {} gave up after {} texts",
                log.kind,
                log.acked.len()
            ));
        }
        if log.acked.is_empty() {
            continue;
        }
        let (outcome, inbound, reference) = conversation_outcome(staff, &log.phone).await?;
        let mut want: HashMap<&str, usize> = HashMap::new();
        for body in &log.acked {
            *want.entry(body).or_default() += 1;
        }
        let mut have: HashMap<&str, usize> = HashMap::new();
        for body in &inbound {
            *have.entry(body).or_default() += 1;
        }
        for (body, n) in &want {
            let got = have.get(body).copied().unwrap_or(0);
            if got < *n {
                f.lost += n - got;
                f.problems.push(format!(
                    "texter {}: an acknowledged text is missing",
                    log.kind
                ));
            } else if got > *n {
                f.duplicated += got - n;
                f.problems
                    .push(format!("texter {}: a text is stored twice", log.kind));
            }
        }
        if inbound != log.acked && f.lost == 0 && f.duplicated == 0 {
            f.out_of_order += 1;
            f.problems
                .push(format!("texter {}: texts stored out of order", log.kind));
        }
        let at_risk = script(log.kind) == AT_RISK;
        if at_risk {
            f.urgent_references.push(reference);
        }
        if log.finished
            && let Some(expected) = expected.get(&at_risk)
            && *expected != outcome
        {
            f.inconsistent += 1;
            f.problems.push(format!(
                "texter {}: ended at step {} / {} (a clean run ends at {} / {})",
                log.kind, outcome.step, outcome.status, expected.step, expected.status
            ));
        }
    }
    Ok(f)
}

/// Runs each script once on a gateway that meets no faults, and records where it ends.
pub async fn control_outcomes(
    sender: &Sender,
    staff: &Staff,
) -> anyhow::Result<HashMap<bool, EndState>> {
    let plan = TexterPlan {
        replay: 0.0,
        race: 0.0,
        think: Duration::ZERO,
        patience: Duration::from_secs(60),
    };
    let mut expected = HashMap::new();
    for (kind, at_risk) in [(900_000, false), (900_003, true)] {
        let log = run_phone(sender.clone(), texter_phone(kind % 100_000), kind, plan).await;
        anyhow::ensure!(log.finished, "the control conversation did not finish");
        let (outcome, inbound, _) = conversation_outcome(staff, &log.phone).await?;
        anyhow::ensure!(inbound == log.acked, "the control transcript differs");
        expected.insert(at_risk, outcome);
    }
    Ok(expected)
}

/// What the provider's record says about reminders.
#[derive(Debug, Default)]
pub struct ReminderFindings {
    pub due: usize,
    pub sent: usize,
    pub missing: usize,
    pub duplicates: usize,
    /// Sent after a restart: (seconds late).
    pub lateness: Vec<f64>,
    pub problems: Vec<String>,
}

/// Each booked reminder reached the provider exactly once (or was rerouted to a call when the
/// provider was down: `fallen_back`).
pub async fn check_reminders(
    provider: &Provider,
    staff: &Staff,
    booked: &[Booked],
) -> anyhow::Result<ReminderFindings> {
    let sent = provider.accepted_by_recipient();
    let mut f = ReminderFindings {
        due: booked.len(),
        ..ReminderFindings::default()
    };
    for b in booked {
        let reminders: Vec<_> = sent
            .get(&b.phone)
            .map(|v| {
                v.iter()
                    .filter(|a| {
                        !a.body.contains("cancelled")
                            && !UPDATE_TEXTS.iter().any(|u| a.body.contains(u))
                    })
                    .collect()
            })
            .unwrap_or_default();
        match reminders.len() {
            0 => {
                let messages = staff
                    .get(&format!("/patients/{}/messages", b.patient_id))
                    .await?;
                let rerouted = messages["items"]
                    .as_array()
                    .is_some_and(|items| items.iter().any(|m| m["channel"] == "phone_call"));
                if rerouted {
                    f.sent += 1;
                } else {
                    f.missing += 1;
                    f.problems.push(format!(
                        "a reminder due {} was not sent: {}",
                        b.due, messages["items"]
                    ));
                }
            }
            n => {
                if n > 1 {
                    f.problems.push(format!(
                        "a reminder reached the provider {n} times: {:?}",
                        reminders
                            .iter()
                            .map(|a| (a.at, a.body.chars().take(30).collect::<String>()))
                            .collect::<Vec<_>>()
                    ));
                }
                f.sent += 1;
                f.duplicates += n - 1;
                f.lateness
                    .push((reminders[0].at - b.due).num_milliseconds() as f64 / 1000.0);
            }
        }
    }
    Ok(f)
}

/// Alerts to on-call staff, by referral reference: how many reached the provider, per
/// recipient (each should get exactly one).
pub fn alerts_by_reference(provider: &Provider, references: &[String]) -> (usize, usize, usize) {
    let mut sent = 0;
    let mut duplicates = 0;
    let mut unalerted = 0;
    let attempts = provider.attempts();
    for reference in references {
        let mut per: HashMap<&str, usize> = HashMap::new();
        for a in attempts
            .iter()
            .filter(|a| a.accepted && a.body.contains(reference.as_str()))
        {
            *per.entry(a.to.as_str()).or_default() += 1;
        }
        if per.is_empty() {
            unalerted += 1;
        }
        sent += per.values().sum::<usize>();
        duplicates += per.values().map(|n| n - 1).sum::<usize>();
    }
    (sent, duplicates, unalerted)
}

/// Any phone number (in any usual form) or message body found in a log.
pub fn leaks(log: &str, phones: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for phone in phones {
        let digits = phone.trim_start_matches('+');
        let national = format!("0{}", &digits[2..]);
        for form in [phone.as_str(), digits, national.as_str()] {
            if log.contains(form) {
                found.push(format!("a phone number ({} digits)", form.len()));
                break;
            }
        }
    }
    for words in SECRET_WORDS {
        if log.contains(words) {
            found.push(format!("a message body ({} characters)", words.len()));
        }
    }
    found
}

pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}
