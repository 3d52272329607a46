//! Configuration: defaults, an optional TOML file (`--config`) and `CRHT_*` environment
//! variables, the environment winning. Everything is parsed and checked once at start, and
//! no error message ever repeats a value (it could be a token or a database password).

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::Serialized;
use serde::{Deserialize, Deserializer};
use url::Url;

use crate::domain::phone::PhoneNumber;
pub use crate::domain::schedule::QuietHours;

/// Every setting, by its file key; the environment variable is `CRHT_` + the key in capitals.
pub const KEYS: &[&str] = &[
    "database_url",
    "bind",
    "public_url",
    "referral_number",
    "sms_provider",
    "sms_providers",
    "failover_after",
    "reminder_from",
    "twilio_account_sid",
    "twilio_auth_token",
    "twilio_api_base",
    "twilio_from",
    "notify_api_key",
    "notify_api_base",
    "notify_sms_template_id",
    "notify_sms_sender_id",
    "notify_callback_token",
    "notify_letters",
    "teams_file",
    "risk_signals_file",
    "reminder_offsets",
    "quiet_hours",
    "sms_rate_per_sec",
    "urgent_ack_minutes",
    "abandon_after",
    "retention_days",
    "log_format",
    "reply_cap_per_hour",
    "sms_budget_per_hour",
    "sms_countries",
    "thread_days",
    "response_target",
    "feedback_after",
    "feedback_url",
    "session_idle_minutes",
    "oidc_issuer",
    "oidc_client_id",
    "oidc_client_secret",
    "oidc_scopes",
    "messages_per_token_per_day",
    "webhook_deadline",
];

const SECRET_KEYS: &[&str] = &[
    "twilio_auth_token",
    "database_url",
    "oidc_client_secret",
    "notify_api_key",
    "notify_callback_token",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("the config file {path} is not valid TOML (line {line}): {reason}")]
    FileSyntax {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("unknown setting `{key}` in {path} (known settings: {known})")]
    UnknownKey {
        key: String,
        path: PathBuf,
        known: String,
    },
    #[error("{setting}: {problem}")]
    Invalid { setting: String, problem: String },
}

/// The longest `CRHT_FEEDBACK_URL`: it goes into a text, which must stay within two segments.
pub const FEEDBACK_URL_MAX: usize = 80;

/// `CRHT_FEEDBACK_URL`: empty means none; otherwise an http(s) address of at most
/// `FEEDBACK_URL_MAX` characters, as it will appear in a text.
fn feedback_url(value: Option<String>) -> Result<Option<String>, ConfigError> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.chars().count() > FEEDBACK_URL_MAX {
        return Err(invalid(
            "feedback_url",
            format!("at most {FEEDBACK_URL_MAX} characters (it goes into a text)"),
        ));
    }
    let parsed = Url::parse(&value).map_err(|_| invalid("feedback_url", "not a web address"))?;
    if !matches!(parsed.scheme(), "https" | "http")
        || parsed.host_str().is_none()
        || !value.is_ascii()
        || value.chars().any(|c| c.is_whitespace())
    {
        return Err(invalid(
            "feedback_url",
            "expected a web address like https://www.example.nhs.uk/feedback",
        ));
    }
    Ok(Some(value))
}

/// The longest `CRHT_RESPONSE_TARGET`: a few words in a text to a person.
pub const RESPONSE_TARGET_MAX: usize = 40;

/// `CRHT_RESPONSE_TARGET`: empty means none; otherwise short, one line, and words only (it
/// goes into a text to a person, after "They aim to do this").
fn response_target(value: Option<String>) -> Result<Option<String>, ConfigError> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.chars().count() > RESPONSE_TARGET_MAX {
        return Err(invalid(
            "response_target",
            format!("at most {RESPONSE_TARGET_MAX} characters, e.g. \"within 4 hours\""),
        ));
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || " ,-/:()".contains(c))
    {
        return Err(invalid(
            "response_target",
            "letters, digits, spaces and , - / : ( ) only, e.g. \"within 4 hours\"",
        ));
    }
    Ok(Some(value))
}

fn invalid(key: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting: format!("CRHT_{} / {key}", key.to_ascii_uppercase()),
        problem: problem.into(),
    }
}

/// A value that must never be printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Where the data lives. Debug hides any password in the URL.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, ConfigError> {
        let raw = raw.trim();
        if raw.starts_with("sqlite:")
            || raw.starts_with("postgres://")
            || raw.starts_with("postgresql://")
        {
            Ok(Self(raw.to_owned()))
        } else {
            Err(invalid(
                "database_url",
                "must start with sqlite: (e.g. sqlite://crht.db) or postgres://",
            ))
        }
    }
    pub fn is_postgres(&self) -> bool {
        !self.0.starts_with("sqlite:")
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// The URL with any password replaced, for start-up messages.
    pub fn redacted(&self) -> String {
        match Url::parse(&self.0) {
            Ok(mut url) if url.password().is_some() => {
                let _ = url.set_password(Some("***"));
                url.to_string()
            }
            _ => self.0.clone(),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsProviderKind {
    /// Outbound texts are recorded and announced, nothing leaves the machine.
    Outbox,
    Twilio,
    /// GOV.UK Notify.
    Notify,
}

impl SmsProviderKind {
    fn parse(raw: &str) -> Option<Self> {
        [
            ("outbox", SmsProviderKind::Outbox),
            ("twilio", SmsProviderKind::Twilio),
            ("notify", SmsProviderKind::Notify),
        ]
        .into_iter()
        .find(|(name, _)| raw.trim().eq_ignore_ascii_case(name))
        .map(|(_, kind)| kind)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SmsProviderKind::Outbox => "outbox",
            SmsProviderKind::Twilio => "twilio",
            SmsProviderKind::Notify => "notify",
        }
    }
}

/// The sender reminders, updates and other messages to patients leave from
/// (`CRHT_REMINDER_FROM`), one per provider: a phone number for Twilio, a sender id (a UUID)
/// for GOV.UK Notify. Apart from the referral number, so that a provider-level STOP sent to
/// the reminders can never silence the crisis line's replies. `None`: that provider sends
/// everything from the referral number's sender.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReminderFrom {
    pub twilio: Option<PhoneNumber>,
    pub notify: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct TwilioConfig {
    pub account_sid: Option<String>,
    pub auth_token: Option<Secret>,
    pub api_base: Url,
    /// Sender of outbound texts.
    pub from: PhoneNumber,
}

/// A GOV.UK Notify API key, `{key_name}-{service_id}-{secret}` with both ids UUIDs. Debug
/// shows the key's name and service only: the secret signs every request.
#[derive(Clone, PartialEq, Eq)]
pub struct NotifyApiKey {
    service_id: String,
    secret: Secret,
    name: String,
}

impl NotifyApiKey {
    /// Splits a key as Notify's own clients do: the last 36 characters are the secret, the
    /// 36 before them (and a hyphen) the service id, the rest the key's name.
    pub fn parse(raw: &str) -> Result<Self, ConfigError> {
        let problem = || {
            invalid(
                "notify_api_key",
                "expected a GOV.UK Notify API key: its name, the service id and the secret,                  joined by hyphens",
            )
        };
        let raw = raw.trim();
        if !raw.is_ascii() || raw.len() < 75 {
            return Err(problem());
        }
        let n = raw.len();
        let (name, service_id, secret) = (&raw[..n - 74], &raw[n - 73..n - 37], &raw[n - 36..]);
        let joined = raw.as_bytes()[n - 74] == b'-' && raw.as_bytes()[n - 37] == b'-';
        if !(joined && is_uuid(service_id) && is_uuid(secret)) {
            return Err(problem());
        }
        Ok(Self {
            service_id: service_id.to_owned(),
            secret: Secret::new(secret),
            name: name.to_owned(),
        })
    }
    /// The JWT's issuer.
    pub fn service_id(&self) -> &str {
        &self.service_id
    }
    /// What signs the JWT (HS256).
    pub fn secret(&self) -> &Secret {
        &self.secret
    }
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Debug for NotifyApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotifyApiKey")
            .field("name", &self.name)
            .field("service_id", &self.service_id)
            .finish_non_exhaustive()
    }
}

/// In the canonical hyphenated form Notify gives its ids (8-4-4-4-12 hex digits).
fn is_uuid(raw: &str) -> bool {
    raw.len() == 36 && uuid::Uuid::try_parse(raw).is_ok()
}

/// Texts through GOV.UK Notify (`CRHT_NOTIFY_*`).
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    pub api_key: Option<NotifyApiKey>,
    pub api_base: Url,
    /// A text template whose whole content is `((body))`.
    pub sms_template_id: Option<String>,
    /// One of the service's text message senders; `None`: the service's default.
    pub sms_sender_id: Option<String>,
    /// What Notify sends as `Authorization: Bearer …` with its callbacks; `None`: every
    /// callback is refused.
    pub callback_token: Option<Secret>,
    /// Letters go through Notify as precompiled letters (`CRHT_NOTIFY_LETTERS=true`) instead
    /// of onto staff's print list; one that Notify cannot take still goes to the print list.
    pub letters: bool,
}

/// Sign-in through the organisation's identity provider by OpenID Connect (`CRHT_OIDC_*`):
/// all three of issuer, client id and secret, or none.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// Exactly as the provider names itself in its discovery document and ID tokens.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// Scopes asked for; always with `openid` first.
    pub scopes: Vec<String>,
}

/// The checked configuration the gateway runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: DatabaseUrl,
    pub bind: SocketAddr,
    /// Base URL the provider calls; webhook signatures are computed over it.
    pub public_url: Url,
    /// Whether `public_url` was given (`CRHT_PUBLIC_URL`) rather than made from `bind`.
    pub public_url_given: bool,
    pub referral_number: PhoneNumber,
    /// Every provider, in order of preference (`CRHT_SMS_PROVIDERS`, or the one
    /// `CRHT_SMS_PROVIDER`): the next takes over when one has failed for `failover_after`.
    pub sms_providers: Vec<SmsProviderKind>,
    /// How long a provider may answer 5xx, time out or refuse connections before the next
    /// takes over (`CRHT_FAILOVER_AFTER`, default 30 s); it is tried again after as long.
    pub failover_after: Duration,
    pub reminder_from: ReminderFrom,
    pub twilio: TwilioConfig,
    pub notify: NotifyConfig,
    /// `None`: the bundled example teams.
    pub teams_file: Option<PathBuf>,
    /// `None`: the bundled risk signals.
    pub risk_signals_file: Option<PathBuf>,
    pub reminder_offsets: Vec<Duration>,
    pub quiet_hours: QuietHours,
    pub sms_rate_per_sec: NonZeroU32,
    pub urgent_ack: Duration,
    pub abandon_after: Duration,
    pub retention_days: u32,
    pub log_format: LogFormat,
    /// Most replies one number gets in an hour (`CRHT_REPLY_CAP_PER_HOUR`, default 30).
    pub reply_cap_per_hour: u32,
    /// Most non-urgent texts (reminders, updates, non-urgent notices) handed to the provider
    /// in one clock hour, all replicas together (`CRHT_SMS_BUDGET_PER_HOUR`, default 1,000);
    /// past it they wait for the next hour.
    pub sms_budget_per_hour: NonZeroU32,
    /// The countries (ISO 3166 alpha-2) non-urgent texts may go to (`CRHT_SMS_COUNTRIES`,
    /// default `GB`).
    pub sms_countries: Vec<String>,
    /// How long after a conversation is done a text from its number joins that referral's
    /// thread rather than starting a new referral (`CRHT_THREAD_DAYS`, default 14; 0: never).
    pub thread_days: u32,
    /// When the team aims to be in touch after a referral, in the words of the closing text
    /// ("within 4 hours": "They aim to do this within 4 hours."); `CRHT_RESPONSE_TARGET`, at
    /// most `RESPONSE_TARGET_MAX` characters on one line. `None`: the text promises no time
    /// and says "as soon as they can".
    pub response_target: Option<String>,
    /// How long after a patient's discharge their feedback request goes
    /// (`CRHT_FEEDBACK_AFTER`, default 2 days).
    pub feedback_after: Duration,
    /// The Trust's feedback page, linked from the feedback request (`CRHT_FEEDBACK_URL`);
    /// `None`: no link.
    pub feedback_url: Option<String>,
    /// A console session idle this long ends (`CRHT_SESSION_IDLE_MINUTES`, default 30).
    pub session_idle: Duration,
    /// Sign-in with the organisation's identity provider; `None`: local accounts only.
    pub oidc: Option<OidcConfig>,
    /// Most messages one staff API token — or one console user — may queue in a UTC day
    /// (`CRHT_MESSAGES_PER_TOKEN_PER_DAY`, default 500): a leaked token cannot text the
    /// patient list.
    pub messages_per_token_per_day: u32,
    /// How long a provider's webhook may wait for its text to be stored before it answers
    /// 503 (`CRHT_WEBHOOK_DEADLINE`, default 10 s): Twilio gives up at 15 s, and a 503 in
    /// time sends it to the fallback URL.
    pub webhook_deadline: Duration,
    /// How often background sweeps (abandonment, escalation, retention) run.
    pub sweep_interval: Duration,
    /// How often job workers look for due jobs.
    pub job_poll_interval: Duration,
    /// How often job workers say they are alive; one silent for three of these is taken as
    /// dead and its running jobs are queued again.
    pub job_heartbeat: Duration,
    /// The first wait of the send backoff (then doubling, with jitter).
    pub send_backoff_base: Duration,
}

/// Accepts any scalar as text: environment values like `+447520667111` or `10` arrive as
/// numbers from the layering crate, and are parsed by us with a clear message instead.
#[derive(Debug, Clone, PartialEq)]
struct Text(String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_owned()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_i128<E>(self, v: i128) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_u128<E>(self, v: u128) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A list given either as `"24h,2h"` or as a TOML array.
#[derive(Debug, Clone, PartialEq)]
struct List(Vec<String>);

impl<'de> Deserialize<'de> for List {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            One(Text),
            Many(Vec<Text>),
        }
        Ok(List(match Either::deserialize(d)? {
            Either::One(Text(s)) => s
                .split(',')
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect(),
            Either::Many(items) => items.into_iter().map(|t| t.0).collect(),
        }))
    }
}

#[derive(Debug, Default, Deserialize)]
struct Raw {
    database_url: Option<Text>,
    bind: Option<Text>,
    public_url: Option<Text>,
    referral_number: Option<Text>,
    sms_provider: Option<Text>,
    sms_providers: Option<List>,
    failover_after: Option<Text>,
    reminder_from: Option<List>,
    twilio_account_sid: Option<Text>,
    twilio_auth_token: Option<Text>,
    twilio_api_base: Option<Text>,
    twilio_from: Option<Text>,
    notify_api_key: Option<Text>,
    notify_api_base: Option<Text>,
    notify_sms_template_id: Option<Text>,
    notify_sms_sender_id: Option<Text>,
    notify_callback_token: Option<Text>,
    notify_letters: Option<Text>,
    teams_file: Option<Text>,
    risk_signals_file: Option<Text>,
    reminder_offsets: Option<List>,
    quiet_hours: Option<Text>,
    sms_rate_per_sec: Option<Text>,
    urgent_ack_minutes: Option<Text>,
    abandon_after: Option<Text>,
    retention_days: Option<Text>,
    log_format: Option<Text>,
    reply_cap_per_hour: Option<Text>,
    sms_budget_per_hour: Option<Text>,
    sms_countries: Option<List>,
    thread_days: Option<Text>,
    response_target: Option<Text>,
    feedback_after: Option<Text>,
    feedback_url: Option<Text>,
    session_idle_minutes: Option<Text>,
    oidc_issuer: Option<Text>,
    oidc_client_id: Option<Text>,
    oidc_client_secret: Option<Text>,
    oidc_scopes: Option<List>,
    messages_per_token_per_day: Option<Text>,
    webhook_deadline: Option<Text>,
}

impl Config {
    /// Loads from an optional file and the given environment (pass `std::env::vars()`;
    /// tests pass their own pairs so they never touch the process environment).
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut figment = Figment::new();
        if let Some(path) = file {
            figment = figment.merge(Serialized::defaults(read_file(path)?));
        }
        for (name, value) in env {
            let Some(key) = name.strip_prefix("CRHT_").map(str::to_ascii_lowercase) else {
                continue;
            };
            if KEYS.contains(&key.as_str()) && !value.trim().is_empty() {
                figment = figment.merge(Serialized::default(&key, value));
            }
        }
        let raw: Raw = figment.extract().map_err(|e| {
            let key = e.path.join(".");
            let problem = match &e.kind {
                figment::error::Kind::InvalidType(_, expected) => format!("expected {expected}"),
                _ if SECRET_KEYS.contains(&key.as_str()) => "is not valid".to_owned(),
                other => other.to_string(),
            };
            invalid(&key, problem)
        })?;
        Self::from_raw(raw)
    }

    fn from_raw(raw: Raw) -> Result<Config, ConfigError> {
        let text = |v: &Option<Text>| v.as_ref().map(|t| t.0.trim().to_owned());
        let database_url = DatabaseUrl::parse(
            &text(&raw.database_url).unwrap_or_else(|| "sqlite://crht.db".into()),
        )?;
        let bind: SocketAddr = text(&raw.bind)
            .unwrap_or_else(|| "127.0.0.1:8080".into())
            .parse()
            .map_err(|_| invalid("bind", "expected host:port, e.g. 127.0.0.1:8080"))?;
        let public_url_given = text(&raw.public_url).is_some_and(|u| !u.is_empty());
        let public_url = match text(&raw.public_url) {
            Some(u) => Url::parse(&u)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .ok_or_else(|| invalid("public_url", "expected an http(s) URL"))?,
            None => Url::parse(&format!("http://{bind}"))
                .map_err(|_| invalid("public_url", "cannot be derived from bind; set it"))?,
        };
        let referral_number = PhoneNumber::parse(
            &text(&raw.referral_number).unwrap_or_else(|| "+447520667111".into()),
        )
        .map_err(|_| invalid("referral_number", "not a valid phone number"))?;
        let sms_providers = sms_providers(&raw)?;
        let twilio = TwilioConfig {
            account_sid: text(&raw.twilio_account_sid).filter(|s| !s.is_empty()),
            auth_token: text(&raw.twilio_auth_token)
                .filter(|s| !s.is_empty())
                .map(Secret),
            api_base: Url::parse(
                &text(&raw.twilio_api_base).unwrap_or_else(|| "https://api.twilio.com".into()),
            )
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| invalid("twilio_api_base", "expected an http(s) URL"))?,
            from: match text(&raw.twilio_from) {
                Some(from) => PhoneNumber::parse(&from)
                    .map_err(|_| invalid("twilio_from", "not a valid phone number"))?,
                None => referral_number.clone(),
            },
        };
        if sms_providers.contains(&SmsProviderKind::Twilio) {
            if twilio.account_sid.is_none() {
                return Err(invalid(
                    "twilio_account_sid",
                    "required when sms_provider is twilio",
                ));
            }
            if twilio.auth_token.is_none() {
                return Err(invalid(
                    "twilio_auth_token",
                    "required when sms_provider is twilio",
                ));
            }
        }
        let notify = notify_config(&raw, &sms_providers)?;
        let failover_after = match text(&raw.failover_after) {
            Some(s) => parse_duration(&s)
                .filter(|d| !d.is_zero())
                .ok_or_else(|| invalid("failover_after", "expected a duration like 30s"))?,
            None => Duration::from_secs(30),
        };
        let reminder_from = reminder_from(&raw, &referral_number, &twilio.from)?;
        if reminder_from.notify.is_some() && reminder_from.notify == notify.sms_sender_id {
            return Err(invalid(
                "reminder_from",
                "must be a GOV.UK Notify sender apart from notify_sms_sender_id, the referral \
                 number's",
            ));
        }
        let reminder_offsets = match &raw.reminder_offsets {
            Some(List(items)) => items
                .iter()
                .map(|i| parse_duration(i))
                .collect::<Option<Vec<_>>>()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| invalid("reminder_offsets", "expected durations like 24h,2h"))?,
            None => vec![
                Duration::from_secs(24 * 3600),
                Duration::from_secs(2 * 3600),
            ],
        };
        let quiet_hours =
            QuietHours::parse(&text(&raw.quiet_hours).unwrap_or_else(|| "21:00-08:00".into()))
                .ok_or_else(|| {
                    invalid(
                        "quiet_hours",
                        "expected HH:MM-HH:MM (e.g. 21:00-08:00) or off",
                    )
                })?;
        let number = |key: &str, v: &Option<Text>, default: u32| -> Result<u32, ConfigError> {
            match text(v) {
                Some(s) => s
                    .parse()
                    .map_err(|_| invalid(key, "expected a whole number")),
                None => Ok(default),
            }
        };
        let sms_rate_per_sec =
            NonZeroU32::new(number("sms_rate_per_sec", &raw.sms_rate_per_sec, 10)?)
                .ok_or_else(|| invalid("sms_rate_per_sec", "must be at least 1"))?;
        let urgent_ack_minutes = number("urgent_ack_minutes", &raw.urgent_ack_minutes, 15)?;
        if urgent_ack_minutes == 0 {
            return Err(invalid("urgent_ack_minutes", "must be at least 1"));
        }
        let abandon_after = match text(&raw.abandon_after) {
            Some(s) => parse_duration(&s)
                .filter(|d| !d.is_zero())
                .ok_or_else(|| invalid("abandon_after", "expected a duration like 30m"))?,
            None => Duration::from_secs(30 * 60),
        };
        let retention_days = number("retention_days", &raw.retention_days, 90)?;
        let reply_cap_per_hour = number("reply_cap_per_hour", &raw.reply_cap_per_hour, 30)?;
        let sms_budget_per_hour = NonZeroU32::new(number(
            "sms_budget_per_hour",
            &raw.sms_budget_per_hour,
            1000,
        )?)
        .ok_or_else(|| invalid("sms_budget_per_hour", "must be at least 1"))?;
        let sms_countries = match &raw.sms_countries {
            Some(List(items)) => items
                .iter()
                .map(|code| country_code(code))
                .collect::<Option<Vec<_>>>()
                .filter(|codes| !codes.is_empty())
                .ok_or_else(|| {
                    invalid(
                        "sms_countries",
                        "expected ISO 3166 alpha-2 country codes, e.g. GB or GB,IE",
                    )
                })?,
            None => vec!["GB".to_owned()],
        };
        let thread_days = number("thread_days", &raw.thread_days, 14)?;
        if thread_days == 0 {
            return Err(invalid("thread_days", "must be at least 1"));
        }
        let response_target = response_target(text(&raw.response_target))?;
        let feedback_after = match text(&raw.feedback_after) {
            Some(s) => parse_duration(&s)
                .filter(|d| !d.is_zero() && *d <= Duration::from_secs(365 * 86400))
                .ok_or_else(|| {
                    invalid(
                        "feedback_after",
                        "expected a duration like 2d (at most a year)",
                    )
                })?,
            None => Duration::from_secs(2 * 86400),
        };
        let feedback_url = feedback_url(text(&raw.feedback_url))?;
        let session_idle_minutes = number("session_idle_minutes", &raw.session_idle_minutes, 30)?;
        if session_idle_minutes == 0 {
            return Err(invalid("session_idle_minutes", "must be at least 1"));
        }
        if retention_days == 0 {
            return Err(invalid("retention_days", "must be at least 1"));
        }
        let log_format = match text(&raw.log_format).as_deref().unwrap_or("text") {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            _ => return Err(invalid("log_format", "expected text or json")),
        };
        let oidc = oidc_config(&raw)?;
        let messages_per_token_per_day = number(
            "messages_per_token_per_day",
            &raw.messages_per_token_per_day,
            500,
        )?;
        if messages_per_token_per_day == 0 {
            return Err(invalid("messages_per_token_per_day", "must be at least 1"));
        }
        let webhook_deadline = match text(&raw.webhook_deadline) {
            Some(s) => parse_duration(&s)
                .filter(|d| !d.is_zero() && *d < Duration::from_secs(15))
                .ok_or_else(|| {
                    invalid(
                        "webhook_deadline",
                        "expected a duration under Twilio's 15 s, like 10s",
                    )
                })?,
            None => Duration::from_secs(10),
        };
        let path = |v: &Option<Text>| text(v).filter(|s| !s.is_empty()).map(PathBuf::from);
        Ok(Config {
            database_url,
            bind,
            public_url,
            public_url_given,
            referral_number,
            sms_providers,
            failover_after,
            reminder_from,
            twilio,
            notify,
            teams_file: path(&raw.teams_file),
            risk_signals_file: path(&raw.risk_signals_file),
            reminder_offsets,
            quiet_hours,
            sms_rate_per_sec,
            urgent_ack: Duration::from_secs(u64::from(urgent_ack_minutes) * 60),
            abandon_after,
            retention_days,
            log_format,
            reply_cap_per_hour,
            sms_budget_per_hour,
            sms_countries,
            thread_days,
            response_target,
            feedback_after,
            feedback_url,
            session_idle: Duration::from_secs(u64::from(session_idle_minutes) * 60),
            oidc,
            messages_per_token_per_day,
            webhook_deadline,
            // Both short: a job a killed gateway left running is back in the queue within
            // 3 heartbeats plus a sweep (8 s), so a gateway restarted again and again still
            // sends a reminder well before its appointment (RELIABILITY.md, the crash drill).
            sweep_interval: Duration::from_secs(2),
            job_poll_interval: Duration::from_millis(250),
            job_heartbeat: Duration::from_secs(2),
            send_backoff_base: Duration::from_millis(500),
        })
    }

    /// Checks that only make sense for a running server: unsigned webhooks are accepted only
    /// on a loopback address.
    pub fn check_for_serving(&self) -> Result<(), ConfigError> {
        // With Notify, Twilio's webhooks refuse every post unless a Twilio token is set.
        if self.twilio.auth_token.is_none()
            && !self.bind.ip().is_loopback()
            && !self.sms_providers.contains(&SmsProviderKind::Notify)
        {
            return Err(invalid(
                "twilio_auth_token",
                "required when binding to a non-loopback address: without it anyone could \
                 post webhooks as the SMS provider",
            ));
        }
        // Twilio signs each webhook over the URL it called. Behind a proxy on a public
        // address, the address made from the bind (http://0.0.0.0:8080/…) is never that URL,
        // so every signature would fail and every text be refused.
        if self.twilio.auth_token.is_some()
            && !self.bind.ip().is_loopback()
            && !self.public_url_given
        {
            return Err(invalid(
                "public_url",
                "required when binding to a non-loopback address with a Twilio auth token: \
                 Twilio signs every webhook over the public https address it calls, so set \
                 it to that address (e.g. https://crht.example.nhs.uk)",
            ));
        }
        Ok(())
    }
}

impl Config {
    /// Whether some provider sends patients' messages from the referral number's sender, for
    /// want of a `CRHT_REMINDER_FROM` of its own (`serve` and `config check` warn).
    pub fn reminders_share_the_referral_sender(&self) -> bool {
        self.sms_providers.iter().any(|kind| match kind {
            SmsProviderKind::Outbox => false,
            SmsProviderKind::Twilio => self.reminder_from.twilio.is_none(),
            SmsProviderKind::Notify => self.reminder_from.notify.is_none(),
        })
    }

    /// Where the identity provider sends people back to: register it with the provider.
    pub fn oidc_redirect_uri(&self) -> String {
        format!(
            "{}/login/oidc/callback",
            self.public_url.as_str().trim_end_matches('/')
        )
    }
}

/// `CRHT_SMS_PROVIDERS` (an ordered list, each provider once) or `CRHT_SMS_PROVIDER` (one);
/// with both, the one must be the list's first. Default: the outbox.
fn sms_providers(raw: &Raw) -> Result<Vec<SmsProviderKind>, ConfigError> {
    let one = raw
        .sms_provider
        .as_ref()
        .map(|t| t.0.trim())
        .filter(|t| !t.is_empty())
        .map(|t| {
            SmsProviderKind::parse(t)
                .ok_or_else(|| invalid("sms_provider", "expected outbox, twilio or notify"))
        })
        .transpose()?;
    let Some(List(items)) = &raw.sms_providers else {
        return Ok(vec![one.unwrap_or(SmsProviderKind::Outbox)]);
    };
    let mut list = Vec::new();
    for item in items {
        let kind = SmsProviderKind::parse(item).ok_or_else(|| {
            invalid(
                "sms_providers",
                "expected providers in order, from outbox, twilio and notify, e.g. twilio,notify",
            )
        })?;
        if list.contains(&kind) {
            return Err(invalid("sms_providers", "names a provider twice"));
        }
        list.push(kind);
    }
    if list.is_empty() {
        return Err(invalid("sms_providers", "names no provider"));
    }
    if list.len() > 1 && list.contains(&SmsProviderKind::Outbox) {
        return Err(invalid(
            "sms_providers",
            "the outbox sends nothing, so nothing can fail over to or from it",
        ));
    }
    if one.is_some_and(|one| one != list[0]) {
        return Err(invalid(
            "sms_provider",
            "differs from the first of sms_providers: set one of them",
        ));
    }
    Ok(list)
}

/// `CRHT_REMINDER_FROM`: a phone number (Twilio's sender) and/or a GOV.UK Notify sender id,
/// neither of them the referral number's.
fn reminder_from(
    raw: &Raw,
    referral_number: &PhoneNumber,
    twilio_from: &PhoneNumber,
) -> Result<ReminderFrom, ConfigError> {
    let mut from = ReminderFrom::default();
    let Some(List(items)) = &raw.reminder_from else {
        return Ok(from);
    };
    for item in items {
        if is_uuid(item) {
            if from.notify.replace(item.to_ascii_lowercase()).is_some() {
                return Err(invalid("reminder_from", "names two GOV.UK Notify senders"));
            }
        } else if let Ok(phone) = PhoneNumber::parse(item) {
            if &phone == referral_number || &phone == twilio_from {
                return Err(invalid(
                    "reminder_from",
                    "must be a number apart from the referral number: a STOP sent to \
                     reminders must never silence the crisis line",
                ));
            }
            if from.twilio.replace(phone).is_some() {
                return Err(invalid("reminder_from", "names two phone numbers"));
            }
        } else {
            return Err(invalid(
                "reminder_from",
                "expected a phone number (for Twilio) and/or a GOV.UK Notify sender id (a UUID)",
            ));
        }
    }
    Ok(from)
}

/// The `CRHT_NOTIFY_*` settings: with `sms_provider = notify`, an API key and a template are
/// required; every value that is given is checked whichever provider is chosen.
fn notify_config(raw: &Raw, providers: &[SmsProviderKind]) -> Result<NotifyConfig, ConfigError> {
    let text = |v: &Option<Text>| {
        v.as_ref()
            .map(|t| t.0.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let id = |key: &str, v: &Option<Text>| -> Result<Option<String>, ConfigError> {
        text(v)
            .map(|id| {
                is_uuid(&id)
                    .then(|| id.to_ascii_lowercase())
                    .ok_or_else(|| invalid(key, "expected a GOV.UK Notify id (a UUID)"))
            })
            .transpose()
    };
    let api_key = text(&raw.notify_api_key)
        .map(|key| NotifyApiKey::parse(&key))
        .transpose()?;
    let api_base = Url::parse(
        &text(&raw.notify_api_base)
            .unwrap_or_else(|| "https://api.notifications.service.gov.uk".into()),
    )
    .ok()
    .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
    .ok_or_else(|| invalid("notify_api_base", "expected an http(s) URL"))?;
    let sms_template_id = id("notify_sms_template_id", &raw.notify_sms_template_id)?;
    let sms_sender_id = id("notify_sms_sender_id", &raw.notify_sms_sender_id)?;
    let callback_token = match text(&raw.notify_callback_token) {
        // Notify asks for at least 10 characters.
        Some(token) if token.chars().count() < 10 => {
            return Err(invalid(
                "notify_callback_token",
                "must be at least 10 characters (GOV.UK Notify's own minimum)",
            ));
        }
        token => token.map(Secret),
    };
    let letters = match text(&raw.notify_letters).map(|v| v.to_ascii_lowercase()) {
        None => false,
        Some(v) if v == "true" => true,
        Some(v) if v == "false" => false,
        Some(_) => return Err(invalid("notify_letters", "expected true or false")),
    };
    if letters && api_key.is_none() {
        return Err(invalid(
            "notify_api_key",
            "required when notify_letters is true: letters go through GOV.UK Notify with it",
        ));
    }
    if providers.contains(&SmsProviderKind::Notify) {
        if api_key.is_none() {
            return Err(invalid(
                "notify_api_key",
                "required when sms_provider is notify",
            ));
        }
        if sms_template_id.is_none() {
            return Err(invalid(
                "notify_sms_template_id",
                "required when sms_provider is notify: a text message template whose whole \
                 content is ((body))",
            ));
        }
    }
    Ok(NotifyConfig {
        api_key,
        api_base,
        sms_template_id,
        sms_sender_id,
        callback_token,
        letters,
    })
}

/// The `CRHT_OIDC_*` settings: all of issuer, client id and secret, or none of them.
fn oidc_config(raw: &Raw) -> Result<Option<OidcConfig>, ConfigError> {
    let text = |v: &Option<Text>| {
        v.as_ref()
            .map(|t| t.0.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let issuer = text(&raw.oidc_issuer);
    let client_id = text(&raw.oidc_client_id);
    let client_secret = text(&raw.oidc_client_secret);
    let (issuer, client_id, client_secret) = match (issuer, client_id, client_secret) {
        (None, None, None) => {
            if raw.oidc_scopes.is_some() {
                return Err(invalid(
                    "oidc_scopes",
                    "set only with CRHT_OIDC_ISSUER, CRHT_OIDC_CLIENT_ID and \
                     CRHT_OIDC_CLIENT_SECRET",
                ));
            }
            return Ok(None);
        }
        (Some(issuer), Some(client_id), Some(client_secret)) => (issuer, client_id, client_secret),
        (issuer, client_id, _) => {
            let missing = if issuer.is_none() {
                "oidc_issuer"
            } else if client_id.is_none() {
                "oidc_client_id"
            } else {
                "oidc_client_secret"
            };
            return Err(invalid(
                missing,
                "OpenID Connect needs all three of CRHT_OIDC_ISSUER, CRHT_OIDC_CLIENT_ID and \
                 CRHT_OIDC_CLIENT_SECRET (or none of them, for local accounts only)",
            ));
        }
    };
    let url = Url::parse(&issuer)
        .ok()
        .filter(|u| u.host_str().is_some())
        .ok_or_else(|| invalid("oidc_issuer", "expected an https URL"))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    };
    if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
        return Err(invalid(
            "oidc_issuer",
            "expected an https URL (plain http only on a loopback address, for testing)",
        ));
    }
    let mut scopes = vec!["openid".to_owned()];
    let asked = match &raw.oidc_scopes {
        Some(List(items)) => items
            .iter()
            .flat_map(|i| i.split_whitespace())
            .map(str::to_owned)
            .collect(),
        None => vec!["email".to_owned(), "profile".to_owned()],
    };
    for scope in asked {
        if !scope
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
        {
            return Err(invalid(
                "oidc_scopes",
                "expected scope names like openid email profile",
            ));
        }
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    Ok(Some(OidcConfig {
        issuer,
        client_id,
        client_secret: Secret(client_secret),
        scopes,
    }))
}

/// An ISO 3166 alpha-2 code libphonenumber knows a numbering plan for, in capitals.
fn country_code(raw: &str) -> Option<String> {
    let code = raw.trim().to_ascii_uppercase();
    (code.len() == 2 && code.parse::<phonenumber::country::Id>().is_ok()).then_some(code)
}

fn parse_duration(raw: &str) -> Option<Duration> {
    humantime::parse_duration(raw.trim()).ok()
}

fn read_file(path: &Path) -> Result<BTreeMap<String, toml::Value>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
        path: path.to_owned(),
        reason: e.kind().to_string(),
    })?;
    let table: BTreeMap<String, toml::Value> = toml::from_str(&text).map_err(|e| {
        // The toml error's own Display quotes the offending line, which may hold a secret.
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].lines().count().max(1))
            .unwrap_or(0);
        ConfigError::FileSyntax {
            path: path.to_owned(),
            line,
            reason: e.message().to_owned(),
        }
    })?;
    if let Some(key) = table.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(ConfigError::UnknownKey {
            key: key.clone(),
            path: path.to_owned(),
            known: KEYS.join(", "),
        });
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_need_no_configuration() {
        let c = Config::load(None, env(&[])).expect("defaults load");
        assert_eq!(c.database_url.expose(), "sqlite://crht.db");
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(c.public_url.as_str(), "http://127.0.0.1:8080/");
        assert_eq!(c.referral_number.e164(), "+447520667111");
        assert_eq!(c.sms_providers, [SmsProviderKind::Outbox]);
        assert_eq!(c.twilio.api_base.as_str(), "https://api.twilio.com/");
        assert_eq!(c.twilio.from, c.referral_number);
        assert_eq!(
            c.reminder_offsets,
            vec![Duration::from_secs(86400), Duration::from_secs(7200)]
        );
        assert_eq!(c.quiet_hours.to_string(), "21:00-08:00");
        assert_eq!(c.sms_rate_per_sec.get(), 10);
        assert_eq!(c.urgent_ack, Duration::from_secs(15 * 60));
        assert_eq!(c.abandon_after, Duration::from_secs(30 * 60));
        assert_eq!(c.retention_days, 90);
        assert_eq!(c.sms_budget_per_hour.get(), 1000);
        assert_eq!(c.sms_countries, vec!["GB".to_owned()]);
        assert_eq!(c.thread_days, 14);
        assert_eq!(c.response_target, None);
        assert_eq!(c.feedback_after, Duration::from_secs(2 * 86400));
        assert_eq!(c.feedback_url, None);
        c.check_for_serving()
            .expect("loopback without a token is allowed");
    }

    #[test]
    fn environment_variables_set_every_documented_setting() {
        let c = Config::load(
            None,
            env(&[
                ("CRHT_DATABASE_URL", "postgres://crht:pw@db/crht"),
                ("CRHT_BIND", "0.0.0.0:9000"),
                ("CRHT_PUBLIC_URL", "https://crht.example.nhs.uk"),
                ("CRHT_REFERRAL_NUMBER", "07911 123456"),
                ("CRHT_SMS_PROVIDER", "twilio"),
                ("CRHT_TWILIO_ACCOUNT_SID", "AC123"),
                ("CRHT_TWILIO_AUTH_TOKEN", "tok"),
                ("CRHT_TWILIO_API_BASE", "http://127.0.0.1:9999"),
                ("CRHT_TWILIO_FROM", "+447911123457"),
                ("CRHT_TEAMS_FILE", "/etc/crht/teams.toml"),
                ("CRHT_REMINDER_OFFSETS", "48h, 1h"),
                ("CRHT_QUIET_HOURS", "off"),
                ("CRHT_SMS_RATE_PER_SEC", "3"),
                ("CRHT_URGENT_ACK_MINUTES", "5"),
                ("CRHT_ABANDON_AFTER", "10m"),
                ("CRHT_RETENTION_DAYS", "30"),
                ("CRHT_SMS_BUDGET_PER_HOUR", "250"),
                ("CRHT_SMS_COUNTRIES", "gb, IE"),
                ("CRHT_RESPONSE_TARGET", " within 4 hours "),
                ("CRHT_FEEDBACK_AFTER", "36h"),
                ("CRHT_FEEDBACK_URL", "https://www.example.nhs.uk/feedback"),
                ("CRHT_TEST_POSTGRES_URL", "ignored: not a setting"),
            ]),
        )
        .expect("loads");
        assert!(c.database_url.is_postgres());
        assert_eq!(c.bind.port(), 9000);
        assert_eq!(c.public_url.host_str(), Some("crht.example.nhs.uk"));
        assert_eq!(c.referral_number.e164(), "+447911123456");
        assert_eq!(c.sms_providers, [SmsProviderKind::Twilio]);
        assert_eq!(c.twilio.from.e164(), "+447911123457");
        assert_eq!(
            c.teams_file.as_deref(),
            Some(Path::new("/etc/crht/teams.toml"))
        );
        assert_eq!(
            c.reminder_offsets,
            vec![Duration::from_secs(48 * 3600), Duration::from_secs(3600)]
        );
        assert_eq!(c.quiet_hours, QuietHours::Off);
        assert_eq!(c.sms_rate_per_sec.get(), 3);
        assert_eq!(c.urgent_ack, Duration::from_secs(300));
        assert_eq!(c.abandon_after, Duration::from_secs(600));
        assert_eq!(c.retention_days, 30);
        assert_eq!(c.sms_budget_per_hour.get(), 250);
        assert_eq!(c.sms_countries, vec!["GB".to_owned(), "IE".to_owned()]);
        assert_eq!(c.response_target.as_deref(), Some("within 4 hours"));
        assert_eq!(c.feedback_after, Duration::from_secs(36 * 3600));
        assert_eq!(
            c.feedback_url.as_deref(),
            Some("https://www.example.nhs.uk/feedback")
        );
        c.check_for_serving().expect("a token allows any address");
    }

    #[test]
    fn the_feedback_delay_and_page_are_checked() {
        for (key, value, setting) in [
            ("CRHT_FEEDBACK_AFTER", "soon", "CRHT_FEEDBACK_AFTER"),
            ("CRHT_FEEDBACK_AFTER", "0s", "CRHT_FEEDBACK_AFTER"),
            ("CRHT_FEEDBACK_AFTER", "400d", "CRHT_FEEDBACK_AFTER"),
            (
                "CRHT_FEEDBACK_URL",
                "www.example.nhs.uk",
                "CRHT_FEEDBACK_URL",
            ),
            (
                "CRHT_FEEDBACK_URL",
                "ftp://example.nhs.uk/f",
                "CRHT_FEEDBACK_URL",
            ),
            (
                "CRHT_FEEDBACK_URL",
                "javascript:alert(1)",
                "CRHT_FEEDBACK_URL",
            ),
        ] {
            let error = Config::load(None, env(&[(key, value)]))
                .expect_err(value)
                .to_string();
            assert!(error.contains(setting), "{error}");
        }
        let long = format!("https://example.nhs.uk/{}", "f".repeat(FEEDBACK_URL_MAX));
        assert!(Config::load(None, env(&[("CRHT_FEEDBACK_URL", long.as_str())])).is_err());
        let c = Config::load(
            None,
            env(&[("CRHT_FEEDBACK_URL", " "), ("CRHT_FEEDBACK_AFTER", "1h")]),
        )
        .expect("loads");
        assert_eq!(c.feedback_url, None, "blank is none");
        assert_eq!(c.feedback_after, Duration::from_secs(3600));
    }

    #[test]
    fn the_sms_budget_and_countries_are_checked() {
        for (key, value) in [
            ("CRHT_SMS_BUDGET_PER_HOUR", "0"),
            ("CRHT_SMS_BUDGET_PER_HOUR", "lots"),
            ("CRHT_SMS_COUNTRIES", "UK"),
            ("CRHT_SMS_COUNTRIES", "GBR"),
            ("CRHT_SMS_COUNTRIES", "GB,XX"),
        ] {
            let error = Config::load(None, env(&[(key, value)]))
                .expect_err(&format!("{key}={value} is refused"))
                .to_string();
            assert!(error.contains(key), "{error}");
        }
    }

    #[test]
    fn the_response_target_is_short_plain_words_or_none() {
        for value in [
            "within 4 hours, or sooner if the team can manage it",
            "within {{ 4 }} hours",
            "within 4 hours\nCall 0800",
        ] {
            let error = Config::load(None, env(&[("CRHT_RESPONSE_TARGET", value)]))
                .expect_err(&format!("{value:?} is refused"))
                .to_string();
            assert!(error.contains("CRHT_RESPONSE_TARGET"), "{error}");
        }
        let c = Config::load(None, env(&[("CRHT_RESPONSE_TARGET", "  ")])).expect("loads");
        assert_eq!(c.response_target, None, "blank is none");
    }

    #[test]
    fn the_environment_wins_over_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("crht.toml");
        std::fs::write(
            &file,
            "bind = \"127.0.0.1:7000\"\nretention_days = 10\nreminder_offsets = [\"3h\"]\n",
        )
        .expect("write");
        let c = Config::load(Some(&file), env(&[("CRHT_BIND", "127.0.0.1:7001")])).expect("loads");
        assert_eq!(c.bind.port(), 7001);
        assert_eq!(c.retention_days, 10);
        assert_eq!(c.reminder_offsets, vec![Duration::from_secs(3 * 3600)]);
    }

    #[test]
    fn errors_name_the_setting_and_never_repeat_a_secret() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("crht.toml");
        std::fs::write(&file, "twilio_auth_token = \"s3cr3t-token\nbind = 1\n").expect("write");
        let err = Config::load(Some(&file), env(&[]))
            .expect_err("bad toml")
            .to_string();
        assert!(!err.contains("s3cr3t"), "{err}");
        assert!(err.contains("line 1"), "{err}");

        std::fs::write(&file, "bnid = \"x\"\n").expect("write");
        let err = Config::load(Some(&file), env(&[]))
            .expect_err("typo")
            .to_string();
        assert!(err.contains("bnid") && err.contains("bind"), "{err}");

        let err = Config::load(
            None,
            env(&[("CRHT_DATABASE_URL", "mysql://u:hunter2@h/db")]),
        )
        .expect_err("unsupported")
        .to_string();
        assert!(
            err.contains("CRHT_DATABASE_URL") && !err.contains("hunter2"),
            "{err}"
        );

        for (key, value) in [
            ("CRHT_BIND", "nowhere"),
            ("CRHT_QUIET_HOURS", "late"),
            ("CRHT_SMS_RATE_PER_SEC", "0"),
            ("CRHT_ABANDON_AFTER", "soon"),
            ("CRHT_REFERRAL_NUMBER", "12345"),
            ("CRHT_SMS_PROVIDER", "pigeon"),
            ("CRHT_REMINDER_OFFSETS", "tomorrow"),
        ] {
            let err = Config::load(None, env(&[(key, value)]))
                .expect_err(key)
                .to_string();
            assert!(err.contains(key), "{key}: {err}");
            assert!(!err.contains(value), "{key}: {err}");
        }
    }

    #[test]
    fn twilio_needs_credentials_and_public_binds_need_a_token() {
        let err = Config::load(None, env(&[("CRHT_SMS_PROVIDER", "twilio")]))
            .expect_err("no sid")
            .to_string();
        assert!(err.contains("CRHT_TWILIO_ACCOUNT_SID"), "{err}");
        let c = Config::load(None, env(&[("CRHT_BIND", "0.0.0.0:8080")])).expect("loads");
        let err = c.check_for_serving().expect_err("refused").to_string();
        assert!(err.contains("CRHT_TWILIO_AUTH_TOKEN"), "{err}");
    }

    #[test]
    fn a_public_bind_with_a_twilio_token_needs_the_public_url() {
        let twilio = [
            ("CRHT_SMS_PROVIDER", "twilio"),
            ("CRHT_TWILIO_ACCOUNT_SID", "AC123"),
            ("CRHT_TWILIO_AUTH_TOKEN", "tok"),
        ];
        let public = [twilio.as_slice(), &[("CRHT_BIND", "0.0.0.0:8080")]].concat();
        let c = Config::load(None, env(&public)).expect("loads");
        let err = c.check_for_serving().expect_err("refused").to_string();
        assert!(err.contains("CRHT_PUBLIC_URL"), "{err}");
        let given = [
            public.as_slice(),
            &[("CRHT_PUBLIC_URL", "https://crht.example.nhs.uk")],
        ]
        .concat();
        let c = Config::load(None, env(&given)).expect("loads");
        c.check_for_serving().expect("the public URL is given");
        // On loopback the bind is the address (a developer's machine, the tests, the drills).
        let loopback = [twilio.as_slice(), &[("CRHT_BIND", "127.0.0.1:8080")]].concat();
        let c = Config::load(None, env(&loopback)).expect("loads");
        c.check_for_serving().expect("loopback");
        // Notify's callbacks carry a bearer token, not a signature over the URL.
        let notify = [
            ("CRHT_BIND", "0.0.0.0:8080"),
            ("CRHT_NOTIFY_CALLBACK_TOKEN", "callback-very-secret"),
        ];
        let c = Config::load(None, env(&notify)).expect("loads");
        let err = c.check_for_serving().map_err(|e| e.to_string());
        assert!(
            !err.as_ref().is_err_and(|e| e.contains("CRHT_PUBLIC_URL")),
            "{err:?}"
        );
    }

    #[test]
    fn openid_connect_is_all_or_none_and_its_secret_never_shows() {
        let c = Config::load(None, env(&[])).expect("loads");
        assert!(c.oidc.is_none());
        let all = [
            ("CRHT_PUBLIC_URL", "https://crht.example.nhs.uk/"),
            (
                "CRHT_OIDC_ISSUER",
                "https://login.microsoftonline.com/tenant/v2.0",
            ),
            ("CRHT_OIDC_CLIENT_ID", "client-1"),
            ("CRHT_OIDC_CLIENT_SECRET", "oidc-very-secret"),
        ];
        let c = Config::load(None, env(&all)).expect("loads");
        let oidc = c.oidc.as_ref().expect("configured");
        assert_eq!(oidc.issuer, "https://login.microsoftonline.com/tenant/v2.0");
        assert_eq!(oidc.scopes, ["openid", "email", "profile"]);
        assert_eq!(
            c.oidc_redirect_uri(),
            "https://crht.example.nhs.uk/login/oidc/callback"
        );
        assert!(!format!("{c:?}").contains("oidc-very-secret"));

        let mut scoped = all.to_vec();
        scoped.push(("CRHT_OIDC_SCOPES", "email openid"));
        let c = Config::load(None, env(&scoped)).expect("loads");
        assert_eq!(c.oidc.expect("configured").scopes, ["openid", "email"]);

        for missing in 1..4 {
            let partial: Vec<_> = all
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != missing)
                .map(|(_, p)| *p)
                .collect();
            let error = Config::load(None, env(&partial))
                .expect_err("a partial set is refused")
                .to_string();
            assert!(error.contains(all[missing].0), "{error}");
            assert!(error.contains("all three"), "{error}");
            assert!(!error.contains("oidc-very-secret"), "{error}");
        }
        let error = Config::load(None, env(&[("CRHT_OIDC_SCOPES", "openid")]))
            .expect_err("scopes alone")
            .to_string();
        assert!(error.contains("CRHT_OIDC_SCOPES"), "{error}");
        let mut plain = all.to_vec();
        plain[1] = ("CRHT_OIDC_ISSUER", "http://idp.example.org");
        let error = Config::load(None, env(&plain))
            .expect_err("plain http off loopback")
            .to_string();
        assert!(error.contains("CRHT_OIDC_ISSUER"), "{error}");
        plain[1] = ("CRHT_OIDC_ISSUER", "http://127.0.0.1:9000");
        assert!(Config::load(None, env(&plain)).is_ok());
    }

    const NOTIFY_KEY: &str =
        "crht_live-26785a09-ab16-4eb0-8407-a37497a57506-3d844edf-8d35-48ac-975b-e847b4f122b0";
    const TEMPLATE: &str = "f33517ff-2a88-4f6e-b855-c550268ce08a";

    #[test]
    fn a_notify_api_key_splits_into_its_name_service_and_secret() {
        let key = NotifyApiKey::parse(NOTIFY_KEY).expect("a key");
        assert_eq!(key.name(), "crht_live");
        assert_eq!(key.service_id(), "26785a09-ab16-4eb0-8407-a37497a57506");
        assert_eq!(
            key.secret().expose(),
            "3d844edf-8d35-48ac-975b-e847b4f122b0"
        );
        // A name may hold hyphens of its own.
        let key = NotifyApiKey::parse(&format!("crht-live-2{}", &NOTIFY_KEY[9..])).expect("key");
        assert_eq!(key.name(), "crht-live-2");
        assert!(!format!("{key:?}").contains("3d844edf"), "{key:?}");
        for bad in [
            "",
            "not-a-key",
            &NOTIFY_KEY[10..],                             // no name
            &NOTIFY_KEY[..NOTIFY_KEY.len() - 1],           // a short secret
            &NOTIFY_KEY.replace("-3d844edf", "_3d844edf"), // not joined by a hyphen
            &NOTIFY_KEY.replace("26785a09", "26785a0g"),   // not a UUID
            &format!("{NOTIFY_KEY}ä"),
        ] {
            let error = NotifyApiKey::parse(bad).expect_err(bad).to_string();
            assert!(error.contains("CRHT_NOTIFY_API_KEY"), "{error}");
            assert!(!error.contains("3d844edf"), "{error}");
        }
    }

    #[test]
    fn notify_letters_is_a_bool_and_needs_the_api_key() {
        let c = Config::load(None, env(&[])).expect("defaults");
        assert!(!c.notify.letters);
        let c = Config::load(
            None,
            env(&[
                ("CRHT_NOTIFY_LETTERS", "true"),
                ("CRHT_NOTIFY_API_KEY", NOTIFY_KEY),
            ]),
        )
        .expect("loads");
        assert!(c.notify.letters);
        assert_eq!(
            c.sms_providers,
            [SmsProviderKind::Outbox],
            "texts stay as they were"
        );
        let error = Config::load(None, env(&[("CRHT_NOTIFY_LETTERS", "true")]))
            .expect_err("no key")
            .to_string();
        assert!(
            error.contains("notify_api_key") && error.contains("notify_letters"),
            "{error}"
        );
        let error = Config::load(None, env(&[("CRHT_NOTIFY_LETTERS", "yes please")]))
            .expect_err("not a bool")
            .to_string();
        assert!(error.contains("notify_letters"), "{error}");
    }

    #[test]
    fn notify_needs_a_key_and_a_template_and_checks_every_setting() {
        let c = Config::load(None, env(&[])).expect("defaults");
        assert_eq!(
            c.notify.api_base.as_str(),
            "https://api.notifications.service.gov.uk/"
        );
        assert!(c.notify.api_key.is_none() && c.notify.callback_token.is_none());
        let all = [
            ("CRHT_SMS_PROVIDER", "notify"),
            ("CRHT_NOTIFY_API_KEY", NOTIFY_KEY),
            ("CRHT_NOTIFY_SMS_TEMPLATE_ID", TEMPLATE),
            (
                "CRHT_NOTIFY_SMS_SENDER_ID",
                "8E2A1D86-1F6B-4F0B-9C38-0B3B8D5D7C11",
            ),
            ("CRHT_NOTIFY_API_BASE", "http://127.0.0.1:9999"),
            ("CRHT_NOTIFY_CALLBACK_TOKEN", "callback-very-secret"),
            ("CRHT_BIND", "0.0.0.0:8080"),
        ];
        let c = Config::load(None, env(&all)).expect("loads");
        assert_eq!(c.sms_providers, [SmsProviderKind::Notify]);
        assert_eq!(c.notify.sms_template_id.as_deref(), Some(TEMPLATE));
        assert_eq!(
            c.notify.sms_sender_id.as_deref(),
            Some("8e2a1d86-1f6b-4f0b-9c38-0b3b8d5d7c11")
        );
        assert_eq!(c.notify.api_base.as_str(), "http://127.0.0.1:9999/");
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("3d844edf") && !shown.contains("callback-very-secret"),
            "{shown}"
        );
        c.check_for_serving()
            .expect("Notify needs no Twilio token off loopback");

        for (missing, key) in [
            (1, "CRHT_NOTIFY_API_KEY"),
            (2, "CRHT_NOTIFY_SMS_TEMPLATE_ID"),
        ] {
            let partial: Vec<_> = all
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != missing)
                .map(|(_, p)| *p)
                .collect();
            let error = Config::load(None, env(&partial))
                .expect_err("refused")
                .to_string();
            assert!(
                error.contains(key) && error.contains("required when sms_provider is notify"),
                "{error}"
            );
        }
        for (key, value) in [
            (
                "CRHT_NOTIFY_API_KEY",
                "3d844edf-8d35-48ac-975b-e847b4f122b0",
            ),
            ("CRHT_NOTIFY_SMS_TEMPLATE_ID", "sms-template"),
            ("CRHT_NOTIFY_SMS_SENDER_ID", "GOVUK"),
            ("CRHT_NOTIFY_API_BASE", "api.notifications.service.gov.uk"),
            ("CRHT_NOTIFY_CALLBACK_TOKEN", "short"),
        ] {
            let error = Config::load(None, env(&[(key, value)]))
                .expect_err(key)
                .to_string();
            assert!(error.contains(key), "{key}: {error}");
            assert!(!error.contains(value), "{key}: {error}");
        }
    }

    #[test]
    fn providers_fail_over_in_the_order_given_and_reminders_have_their_own_sender() {
        let c = Config::load(None, env(&[])).expect("defaults");
        assert_eq!(c.sms_providers, vec![SmsProviderKind::Outbox]);
        assert_eq!(c.failover_after, Duration::from_secs(30));
        assert_eq!(c.reminder_from, ReminderFrom::default());

        let both = [
            ("CRHT_SMS_PROVIDERS", "twilio, Notify"),
            ("CRHT_TWILIO_ACCOUNT_SID", "AC123"),
            ("CRHT_TWILIO_AUTH_TOKEN", "secret"),
            ("CRHT_NOTIFY_API_KEY", NOTIFY_KEY),
            ("CRHT_NOTIFY_SMS_TEMPLATE_ID", TEMPLATE),
            ("CRHT_FAILOVER_AFTER", "45s"),
            (
                "CRHT_REMINDER_FROM",
                "07911 123999, 8E2A1D86-1F6B-4F0B-9C38-0B3B8D5D7C11",
            ),
        ];
        let c = Config::load(None, env(&both)).expect("loads");
        assert_eq!(
            c.sms_providers,
            vec![SmsProviderKind::Twilio, SmsProviderKind::Notify]
        );
        assert_eq!(c.failover_after, Duration::from_secs(45));
        assert_eq!(
            c.reminder_from.twilio.as_ref().map(PhoneNumber::e164),
            Some("+447911123999")
        );
        assert_eq!(
            c.reminder_from.notify.as_deref(),
            Some("8e2a1d86-1f6b-4f0b-9c38-0b3b8d5d7c11")
        );
        // The one provider named alone must agree with the list.
        let mut agree = both.to_vec();
        agree.push(("CRHT_SMS_PROVIDER", "twilio"));
        Config::load(None, env(&agree)).expect("the same first provider");

        let refused = |change: (&'static str, &'static str), key: &str, why: &str| {
            let mut pairs: Vec<_> = both
                .iter()
                .filter(|(k, _)| *k != change.0)
                .copied()
                .collect();
            pairs.push(change);
            let error = Config::load(None, env(&pairs))
                .expect_err(change.1)
                .to_string();
            assert!(
                error.contains(key) && error.contains(why),
                "{change:?}: {error}"
            );
        };
        refused(("CRHT_SMS_PROVIDER", "notify"), "sms_provider", "differs");
        refused(
            ("CRHT_SMS_PROVIDERS", "twilio,twilio"),
            "sms_providers",
            "twice",
        );
        refused(
            ("CRHT_SMS_PROVIDERS", "twilio,outbox"),
            "sms_providers",
            "outbox",
        );
        refused(
            ("CRHT_SMS_PROVIDERS", "twilio,mq"),
            "sms_providers",
            "expected",
        );
        refused(("CRHT_FAILOVER_AFTER", "0s"), "failover_after", "duration");
        // Each provider's settings are required once it is in the list.
        refused(("CRHT_NOTIFY_API_KEY", ""), "notify_api_key", "required");
        refused(
            ("CRHT_TWILIO_AUTH_TOKEN", ""),
            "twilio_auth_token",
            "required",
        );
        // The reminders' sender is never the referral number's.
        refused(
            ("CRHT_REMINDER_FROM", "+447520667111"),
            "reminder_from",
            "apart",
        );
        refused(
            ("CRHT_REMINDER_FROM", "07911123999,07911123457"),
            "reminder_from",
            "two",
        );
        refused(
            ("CRHT_REMINDER_FROM", "REMINDERS"),
            "reminder_from",
            "expected",
        );
        let mut same_notify_sender = both.to_vec();
        same_notify_sender.push((
            "CRHT_NOTIFY_SMS_SENDER_ID",
            "8e2a1d86-1f6b-4f0b-9c38-0b3b8d5d7c11",
        ));
        let error = Config::load(None, env(&same_notify_sender))
            .expect_err("the same Notify sender")
            .to_string();
        assert!(error.contains("reminder_from"), "{error}");
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let c = Config::load(
            None,
            env(&[
                ("CRHT_TWILIO_AUTH_TOKEN", "tok-very-secret"),
                ("CRHT_DATABASE_URL", "postgres://crht:pa55word@db/crht"),
            ]),
        )
        .expect("loads");
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("tok-very-secret") && !shown.contains("pa55word"),
            "{shown}"
        );
    }
}
