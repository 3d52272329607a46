//! crht-gateway: the text-message front door of a Crisis Resolution and Home Treatment Team.
//!
//! `App::build` connects to the database, loads the team map, risk signals and wording, and
//! chooses the SMS provider; `App::serve` runs the HTTP server, the job workers and the
//! background sweeps until the shutdown token fires.

pub(crate) mod app;
pub mod channels;
pub mod clock;
pub mod config;
pub mod config_check;
pub mod conversation;
pub mod domain;
pub mod http;
pub mod intake;
pub mod jobs;
pub mod language;
pub mod logging;
pub mod metrics;
pub mod outbound;
pub mod risk;
pub mod risk_evaluation;
pub mod simulate;
pub mod store;
pub mod templates;
pub mod twilio;

use std::sync::Arc;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use channels::sms::{Outbox, SmsProvider};
use clock::Clock;
use config::{Config, SmsProviderKind};
use conversation::wording::Wording;
use intake::Intake;
use jobs::Workers;
use jobs::delivery::{DeliveryContext, Pace};
use jobs::reminders::ReminderContext;
use metrics::Metrics;
use outbound::Outbound;
use store::{AuditEntry, Store};
use templates::Templates;

/// A new sortable unique id (a ULID).
pub fn new_id() -> String {
    ulid::Ulid::generate().to_string()
}

/// reqwest is built without a default TLS crypto provider (one crypto library, ring, for the
/// whole binary); install it once before any client is made.
pub fn install_tls_provider() {
    // Err means one is installed already, which is all we need.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A gateway ready to serve.
pub struct App {
    pub state: http::AppState,
    pub workers: Workers,
    /// When the retention sweep last ran (it runs at most hourly).
    retention_ran: std::sync::Mutex<Option<chrono::DateTime<chrono::Utc>>>,
}

impl App {
    /// Connects, migrates and loads everything the gateway needs; fails with a clear message
    /// on bad configuration before anything starts.
    pub async fn build(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<App> {
        let teams = config_check::load_teams(&config)?;
        // Compiling the risk rules takes a good part of a second; it runs while the database
        // connects and migrates, so a restarted gateway is ready sooner.
        let risk = {
            let config = config.clone();
            tokio::task::spawn_blocking(move || config_check::load_risk(&config))
        };
        // Safety rule 10: no on-call alert to a number nobody has confirmed.
        match config_check::on_call_numbers(&config, &teams) {
            config_check::OnCallNumbers::Confirmed => {}
            config_check::OnCallNumbers::Warn(message) => tracing::warn!("{message}"),
            config_check::OnCallNumbers::Refuse(message) => {
                anyhow::bail!("refusing to start: {message}")
            }
        }
        let (store, pool) = store::connect(&config.database_url)
            .await
            .with_context(|| {
                format!(
                    "cannot open the database {}",
                    config.database_url.redacted()
                )
            })?;
        store.migrate().await.context("database migration failed")?;
        let risk = risk.await.context("loading the risk signals stopped")??;

        let sms: Arc<dyn SmsProvider> = match config.sms_provider {
            SmsProviderKind::Outbox => Arc::new(Outbox),
            SmsProviderKind::Twilio => Arc::new(
                twilio::TwilioClient::new(&config.twilio, &config.public_url)
                    .context("cannot set up the Twilio client")?,
            ),
        };
        let metrics = Metrics::new();
        let templates = Arc::new(Templates::bundled());
        let outbound = Arc::new(Outbound {
            store: store.clone(),
            templates: templates.clone(),
            teams: teams.clone(),
            clock: clock.clone(),
            quiet_hours: config.quiet_hours,
            reminder_offsets: config.reminder_offsets.clone(),
        });
        let delivery = Arc::new(DeliveryContext {
            store: store.clone(),
            sms,
            clock: clock.clone(),
            pace: Pace::new(config.sms_rate_per_sec, config.database_url.is_postgres()),
            metrics: metrics.clone(),
            backoff: jobs::delivery::backoff(config.send_backoff_base),
            outbound: outbound.clone(),
        });
        let reminders = Arc::new(ReminderContext {
            outbound: outbound.clone(),
            clock: clock.clone(),
        });
        let intake = Arc::new(Intake {
            risk,
            teams,
            wording: Wording::english(),
            templates,
            reply_cap_per_hour: config.reply_cap_per_hour,
        });
        let workers = Workers {
            pool,
            delivery,
            reminders,
            poll_interval: config.job_poll_interval,
            heartbeat: config.job_heartbeat,
        };
        let services = app::Services::new(store.clone(), outbound.clone(), clock.clone());
        let state = http::AppState {
            services,
            store,
            intake,
            outbound,
            config: Arc::new(config),
            clock,
            metrics,
        };
        Ok(App {
            state,
            workers,
            retention_ran: std::sync::Mutex::new(None),
        })
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.state.store
    }

    /// One pass of the background sweeps (abandonment, escalation, reminders coming due);
    /// `serve` runs it on a timer, tests call it with a clock they move.
    pub async fn sweep(&self) -> anyhow::Result<()> {
        let app = &self.state;
        let now = app.clock.now();
        let idle_since = now
            - chrono::TimeDelta::from_std(app.config.abandon_after)
                .context("abandon_after is out of range")?;
        let abandoned = app.store.abandon_idle(idle_since, now).await?;
        if abandoned > 0 {
            app.metrics.conversations_abandoned.inc_by(abandoned);
            tracing::info!(abandoned, "idle conversations marked abandoned");
        }
        self.escalate(now).await?;
        let rescued = app
            .store
            .rescue_orphaned_jobs(jobs::orphaned_after(app.config.job_heartbeat))
            .await?;
        if rescued > 0 {
            tracing::warn!(
                rescued,
                "jobs left running by a stopped worker put back in the queue"
            );
        }
        let queued = app
            .store
            .queue_due_reminders(now + store::queue_horizon())
            .await?;
        if queued > 0 {
            tracing::info!(queued, "reminders coming due put into the job queue");
        }
        self.retain(now).await?;
        Ok(())
    }

    /// Retention: message words older than `CRHT_RETENTION_DAYS` are removed, hourly; who,
    /// when and what status stay, and the audit log is untouched.
    async fn retain(&self, now: chrono::DateTime<chrono::Utc>) -> anyhow::Result<()> {
        {
            let mut last = self
                .retention_ran
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if last.is_some_and(|at| now - at < chrono::TimeDelta::hours(1)) {
                return Ok(());
            }
            *last = Some(now);
        }
        let cutoff = now - chrono::TimeDelta::days(i64::from(self.state.config.retention_days));
        let forgotten = self.state.store.forget_bodies_before(cutoff).await?;
        if forgotten > 0 {
            tracing::info!(forgotten, "message words past the retention period removed");
        }
        Ok(())
    }

    /// Urgent referrals and patients' urgent episodes nobody acknowledged within
    /// `CRHT_URGENT_ACK_MINUTES`: on-call is alerted again; after twice that, the team's
    /// escalation numbers. Every step audited.
    async fn escalate(&self, now: chrono::DateTime<chrono::Utc>) -> anyhow::Result<()> {
        let app = &self.state;
        let ack = chrono::TimeDelta::from_std(app.config.urgent_ack)
            .context("urgent_ack is out of range")?;
        let due = |urgent_at: chrono::DateTime<chrono::Utc>, level: i64| {
            let steps = i32::try_from(level + 1).unwrap_or(i32::MAX);
            now >= urgent_at + ack * steps
        };
        for referral in app.store.unacknowledged_urgent().await? {
            let Some(urgent_at) = referral.urgent_at else {
                continue;
            };
            let level = referral.escalation_level;
            if !due(urgent_at, level) {
                continue;
            }
            let (action, to_escalation) = escalation_step("referral", level);
            let alerts = app.intake.team_alerts(
                &referral.team,
                &referral.reference,
                "on_call_escalation",
                to_escalation,
            );
            let audit = AuditEntry::by_gateway(now, action, format!("referral:{}", referral.id));
            if app
                .store
                .escalate(&referral.id, level, &alerts, &audit)
                .await?
            {
                tracing::warn!(
                    referral_id = referral.id,
                    level = level + 1,
                    "urgent referral escalated: not acknowledged"
                );
            }
        }
        // Safety rule 8: a patient's risk is followed up the same way. The alert names the
        // team only, never the patient, their number or their words.
        let wording = "on_call_escalation_patient";
        for record in app.store.unacknowledged_urgent_patients().await? {
            let Some(urgent_at) = record.episode.urgent_at else {
                continue;
            };
            let level = record.episode.escalation_level;
            if !due(urgent_at, level) {
                continue;
            }
            let (action, to_escalation) = escalation_step("patient", level);
            let team = record.patient.team.as_deref().unwrap_or_default();
            let alerts = app.intake.team_alerts(team, "", wording, to_escalation);
            let audit =
                AuditEntry::by_gateway(now, action, format!("patient:{}", record.patient.id));
            if app
                .store
                .escalate_patient(&record.patient.id, level, &alerts, &audit)
                .await?
            {
                tracing::warn!(
                    patient_id = record.patient.id,
                    level = level + 1,
                    "patient's urgent episode escalated: not acknowledged"
                );
            }
        }
        Ok(())
    }

    /// Serves HTTP on `listener` and runs the workers and sweeps until `shutdown` fires, then
    /// finishes in-flight requests and jobs and returns.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let app = self;
        let config = app.state.config.clone();
        if config.twilio.auth_token.is_none() {
            tracing::warn!(
                "no CRHT_TWILIO_AUTH_TOKEN: webhooks are accepted unsigned (allowed only on a \
                 loopback address; never do this in production)"
            );
        }
        let workers = tokio::spawn(jobs::run(app.workers.clone(), shutdown.clone()));
        let sweeps = {
            let app = app.clone();
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(app.state.config.sweep_interval);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tick.tick() => {
                            if let Err(error) = app.sweep().await {
                                tracing::warn!(error = format!("{error:#}"), "background sweep failed");
                            }
                        }
                    }
                }
            })
        };
        let address = listener.local_addr()?;
        tracing::info!(
            %address,
            database = app.state.store.engine(),
            provider = app.workers.delivery.sms.name(),
            "crht-gateway listening"
        );
        let router = http::router(app.state.clone());
        let server_shutdown = shutdown.clone();
        axum::serve(listener, router)
            .with_graceful_shutdown(async move { server_shutdown.cancelled().await })
            .await
            .context("HTTP server failed")?;
        shutdown.cancel();
        let _ = sweeps.await;
        let _ = workers.await;
        tracing::info!("crht-gateway stopped");
        Ok(())
    }
}

/// Builds and serves with the system clock: what `crht-gateway serve` runs.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let app = App::build(config, Arc::new(clock::SystemClock)).await?;
    Arc::new(app).serve(listener, shutdown).await
}

/// The escalation step after `level` steps of a `subject`'s urgent flag (`referral` or
/// `patient`): its audit action, and whether it goes to the team's escalation numbers rather
/// than on-call again.
fn escalation_step(subject: &str, level: i64) -> (String, bool) {
    match level {
        0 => (format!("{subject}.escalated.on_call_again"), false),
        _ => (format!("{subject}.escalated.escalation_numbers"), true),
    }
}
