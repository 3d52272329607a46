//! What `serve` and `config check` load besides the settings themselves (the teams, the risk
//! signals, the wording and templates), and what stops a gateway from going live: on-call
//! numbers nobody has confirmed (safety rule 10).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use anyhow::Context as _;

use crate::config::{Config, SmsProviderKind};
use crate::conversation::wording::Wording;
use crate::domain::phone::PhoneNumber;
use crate::domain::teams::Teams;
use crate::risk::RiskScreen;
use crate::templates::Templates;

/// The teams file in use, as a person would name it in a message.
pub fn teams_source(config: &Config) -> String {
    match &config.teams_file {
        Some(path) => format!("the teams file {}", path.display()),
        None => "the bundled example teams file (config/teams.toml; set CRHT_TEAMS_FILE)".into(),
    }
}

pub fn load_teams(config: &Config) -> anyhow::Result<Teams> {
    match &config.teams_file {
        Some(path) => Teams::from_toml(
            &std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the teams file {}", path.display()))?,
        )
        .with_context(|| format!("the teams file {} is not valid", path.display())),
        None => Ok(Teams::bundled()),
    }
}

pub fn load_risk(config: &Config) -> anyhow::Result<RiskScreen> {
    match &config.risk_signals_file {
        Some(path) => RiskScreen::from_toml(
            &std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the risk signals file {}", path.display()))?,
        )
        .with_context(|| format!("the risk signals file {} is not valid", path.display())),
        None => Ok(RiskScreen::bundled()),
    }
}

/// Teams whose on-call or escalation numbers nobody has confirmed: every team while the file
/// says `placeholder_numbers = true`, else each team that still lists a number from the
/// shipped example (a copy of the example with the flag deleted but the numbers kept).
pub fn teams_with_placeholder_numbers(teams: &Teams) -> Vec<String> {
    if teams.has_placeholder_numbers() {
        return teams.all().iter().map(|t| t.id.clone()).collect();
    }
    let example: BTreeSet<PhoneNumber> = Teams::bundled()
        .all()
        .iter()
        .flat_map(|t| t.on_call.iter().chain(&t.escalation).cloned())
        .collect();
    teams
        .all()
        .iter()
        .filter(|t| {
            t.on_call
                .iter()
                .chain(&t.escalation)
                .any(|n| example.contains(n))
        })
        .map(|t| t.id.clone())
        .collect()
}

/// Why the gateway must not text on-call from these teams, naming the file and the teams.
pub fn placeholder_message(config: &Config, team_ids: &[String]) -> String {
    format!(
        "{} still holds the example on-call numbers (team{} {}): urgent alerts about people in \
         crisis would go to numbers nobody has confirmed. Put the teams' real on-call and \
         escalation numbers in a teams file of your own, delete `placeholder_numbers = true`, \
         and set CRHT_TEAMS_FILE to it",
        teams_source(config),
        if team_ids.len() == 1 { "" } else { "s" },
        team_ids.join(", ")
    )
}

/// What the teams' on-call numbers mean for this configuration (safety rule 10).
#[derive(Debug, PartialEq, Eq)]
pub enum OnCallNumbers {
    Confirmed,
    /// Placeholders, but nothing leaves the machine (the outbox): say so.
    Warn(String),
    /// Placeholders with a real provider: the gateway must not serve.
    Refuse(String),
}

pub fn on_call_numbers(config: &Config, teams: &Teams) -> OnCallNumbers {
    let placeholders = teams_with_placeholder_numbers(teams);
    if placeholders.is_empty() {
        return OnCallNumbers::Confirmed;
    }
    let message = placeholder_message(config, &placeholders);
    if config.sms_providers == [SmsProviderKind::Outbox] {
        OnCallNumbers::Warn(message)
    } else {
        OnCallNumbers::Refuse(message)
    }
}

/// One provider, as `config check` shows it: never a secret, numbers masked.
fn provider_line(config: &Config, kind: SmsProviderKind) -> String {
    match kind {
        SmsProviderKind::Outbox => "outbox (texts are recorded, nothing is sent)".to_owned(),
        SmsProviderKind::Twilio => format!(
            "twilio (from {}; reminders from {})",
            config.twilio.from.masked(),
            config
                .reminder_from
                .twilio
                .as_ref()
                .map_or_else(|| "the same number".to_owned(), |n| n.masked())
        ),
        SmsProviderKind::Notify => {
            let notify = &config.notify;
            format!(
                "notify (GOV.UK Notify at {}, API key {} for service {} — its secret is set, not \
                 shown; text template {}, sender {}; reminders from {}; delivery receipts {})",
                notify.api_base,
                notify.api_key.as_ref().map_or("?", |k| k.name()),
                notify.api_key.as_ref().map_or("?", |k| k.service_id()),
                notify.sms_template_id.as_deref().unwrap_or("?"),
                notify
                    .sms_sender_id
                    .as_deref()
                    .unwrap_or("the service's default"),
                config
                    .reminder_from
                    .notify
                    .as_deref()
                    .unwrap_or("the same sender"),
                if notify.callback_token.is_some() {
                    "accepted with the callback token (set, not shown)"
                } else {
                    "refused: no CRHT_NOTIFY_CALLBACK_TOKEN"
                }
            )
        }
    }
}

/// The outcome of `crht-gateway config check`.
#[derive(Debug, Default)]
pub struct Report {
    /// What was loaded, one line each; never a secret or a number in full.
    pub summary: Vec<String>,
    pub warnings: Vec<String>,
    /// Each one stops `serve` (or would send alerts to the wrong people).
    pub problems: Vec<String>,
}

impl Report {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for line in &self.summary {
            let _ = writeln!(out, "{line}");
        }
        for warning in &self.warnings {
            let _ = writeln!(out, "warning: {warning}");
        }
        for problem in &self.problems {
            let _ = writeln!(out, "problem: {problem}");
        }
        let _ = writeln!(
            out,
            "{}",
            if self.is_ok() {
                "configuration OK".to_owned()
            } else {
                format!(
                    "{} problem(s): the gateway must not serve",
                    self.problems.len()
                )
            }
        );
        out
    }
}

/// Loads and validates everything `serve` would, without opening the database or a port.
pub fn check(config: &Config) -> Report {
    let mut report = Report::default();
    let engine = if config.database_url.is_postgres() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    report.summary.push(format!("database: {engine}"));
    let count = config.sms_providers.len();
    for (n, kind) in (1..).zip(&config.sms_providers) {
        let place = if count > 1 {
            format!(" {n} of {count}")
        } else {
            String::new()
        };
        report.summary.push(format!(
            "sms provider{place}: {}",
            provider_line(config, *kind)
        ));
    }
    if count > 1 {
        report.summary.push(format!(
            "failover: a provider failing for {} hands over to the next, and is tried again \
             after as long",
            humantime::format_duration(config.failover_after)
        ));
    }
    if config.sms_providers.contains(&SmsProviderKind::Notify)
        && config.notify.callback_token.is_none()
    {
        report.warnings.push(
            "no CRHT_NOTIFY_CALLBACK_TOKEN: GOV.UK Notify's delivery receipts will be refused, \
             so texts are never marked delivered or failed and a failed text never falls back"
                .to_owned(),
        );
    }
    report.summary.push(if config.notify.letters {
        format!(
            "letters: through GOV.UK Notify at {} as precompiled letters (API key {}), second \
             class post, first class for urgent ones and appointments; a letter Notify cannot \
             take goes to the print list",
            config.notify.api_base,
            config.notify.api_key.as_ref().map_or("?", |k| k.name()),
        )
    } else {
        "letters: printed by staff from the print list (CRHT_NOTIFY_LETTERS is not set)".to_owned()
    });
    if config.notify.letters && config.notify.callback_token.is_none() {
        report.warnings.push(
            "no CRHT_NOTIFY_CALLBACK_TOKEN: GOV.UK Notify's letter receipts will be refused, so \
             a letter Notify could not print never reaches the print list"
                .to_owned(),
        );
    }
    if config.reminders_share_the_referral_sender() {
        report.warnings.push(
            "no CRHT_REMINDER_FROM for every provider: reminders and updates leave from the \
             referral number's sender, so a STOP a patient sends to one could stop the \
             provider delivering the crisis line's texts to them"
                .to_owned(),
        );
    }
    report.summary.push(format!(
        "referral number: {}",
        config.referral_number.masked()
    ));
    report.summary.push(format!(
        "non-urgent texts: at most {} an hour, only to {}",
        config.sms_budget_per_hour,
        config.sms_countries.join(", ")
    ));
    report.summary.push(format!(
        "feedback after care: requested {} after discharge (never in quiet hours, never within \
         72 hours of a risk text), {}",
        humantime::format_duration(config.feedback_after),
        match &config.feedback_url {
            Some(url) => format!("linking the feedback page {url}"),
            None => "with no link to a feedback page (CRHT_FEEDBACK_URL is not set)".to_owned(),
        }
    ));
    report.summary.push(match &config.oidc {
        Some(oidc) => format!(
            "sign in with your organisation: OpenID Connect, issuer {}, client {}, scopes {}, \
             redirect URI {} (the client secret is set, not shown)",
            oidc.issuer,
            oidc.client_id,
            oidc.scopes.join(" "),
            config.oidc_redirect_uri()
        ),
        None => "sign in with your organisation: off (local accounts only)".to_owned(),
    });
    report.summary.push(format!(
        "messages a staff token or console user may queue: at most {} a day (UTC)",
        config.messages_per_token_per_day
    ));
    report.summary.push(format!(
        "webhooks: a text not stored within {} is answered 503 so the provider retries",
        humantime::format_duration(config.webhook_deadline)
    ));
    if let Err(error) = config.check_for_serving() {
        report.problems.push(error.to_string());
    }

    match load_teams(config) {
        Ok(teams) => {
            report.summary.push(format!(
                "teams: {} from {} (default: {})",
                teams.all().len(),
                teams_source(config),
                teams.default_team().id
            ));
            for team in teams.all() {
                let masked: Vec<String> = team.on_call.iter().map(PhoneNumber::masked).collect();
                report.summary.push(format!(
                    "  {}: {} on-call ({}), {} escalation",
                    team.id,
                    team.on_call.len(),
                    masked.join(", "),
                    team.escalation.len()
                ));
            }
            match on_call_numbers(config, &teams) {
                OnCallNumbers::Confirmed => {}
                OnCallNumbers::Warn(message) => report.warnings.push(message),
                OnCallNumbers::Refuse(message) => report.problems.push(message),
            }
        }
        Err(error) => report.problems.push(format!("{error:#}")),
    }
    match load_risk(config) {
        Ok(risk) => report.summary.push(format!(
            "risk signals: {} from {}",
            risk.signal_names().len(),
            config.risk_signals_file.as_ref().map_or_else(
                || "the bundled file (config/risk-signals.toml)".to_owned(),
                |p| p.display().to_string()
            )
        )),
        Err(error) => report.problems.push(format!("{error:#}")),
    }
    // Embedded in the binary and checked by its tests; loading them here proves this build's.
    match std::panic::catch_unwind(|| (Templates::bundled().names().len(), Wording::english())) {
        Ok((count, _)) => report.summary.push(format!(
            "message templates: {count}, conversation wording: English"
        )),
        Err(_) => report
            .problems
            .push("the embedded message templates do not load".to_owned()),
    }
    report
}
