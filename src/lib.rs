//! crht-gateway: the text-message front door of a Crisis Resolution and Home Treatment Team.
//!
//! This file is the composition root: `App::build` connects to the database, loads the team
//! map, risk signals and wording, chooses the SMS provider and wires the parts together;
//! `App::serve` runs the HTTP server, the job workers and the background sweeps until the
//! shutdown token fires. It holds no rule of its own.
//!
//! Layout, outside in (ARCHITECTURE.md has the full map and the rules each part keeps):
//! - `http` translates HTTP (the provider's webhooks, the staff API) into calls on `app`;
//! - `app` holds the rules of every operation, for every front door;
//! - `jobs` runs queued work (deliveries, reminders) and holds the delivery policy; `sweeps`
//!   runs what is due on a timer;
//! - `intake`, `conversation`, `risk`, `language` and `domain` are pure: what a text means
//!   and what it does; `outbound`, `templates` and `channels` shape messages to patients;
//! - `store` is the only SQL, the job queue's tables included (`store::queue`).

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
pub mod notify;
pub mod outbound;
pub mod risk;
pub mod risk_evaluation;
pub mod simulate;
pub mod store;
pub(crate) mod sweeps;
pub mod templates;
pub mod twilio;

/// Staff accounts and tokens, for the command line and tests (the rules live in `app`).
pub use app::staff;
/// The application layer and its booking inputs, for the benchmarks that drive it as the
/// API does.
pub use app::{Services, appointments};

use std::sync::Arc;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use channels::letter::LetterProvider;
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
use store::Store;
use sweeps::Sweeps;
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

/// The SMS providers of `config`, in its order, each paced to `CRHT_SMS_RATE_PER_SEC`.
fn sms_providers(config: &Config, metrics: &Metrics) -> anyhow::Result<jobs::failover::Providers> {
    let mut routes = Vec::new();
    for (slot, kind) in (1..).zip(&config.sms_providers) {
        let provider: Arc<dyn SmsProvider> = match kind {
            SmsProviderKind::Outbox => Arc::new(Outbox),
            SmsProviderKind::Twilio => Arc::new(
                twilio::TwilioClient::new(
                    &config.twilio,
                    &config.public_url,
                    config.reminder_from.twilio.clone(),
                )
                .context("cannot set up the Twilio client")?,
            ),
            SmsProviderKind::Notify => Arc::new(
                notify::NotifyClient::new(&config.notify, config.reminder_from.notify.clone())
                    .context("cannot set up the GOV.UK Notify client")?,
            ),
        };
        routes.push(jobs::failover::Route {
            provider,
            pace: Pace::new(
                config.sms_rate_per_sec,
                config.database_url.is_postgres(),
                slot,
            ),
        });
    }
    Ok(jobs::failover::Providers::new(
        routes,
        config.failover_after,
        metrics.clone(),
    ))
}

/// A gateway ready to serve.
pub struct App {
    pub state: http::AppState,
    pub workers: Workers,
    sweeps: Arc<Sweeps>,
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

        let metrics = Metrics::new();
        let templates = Arc::new(Templates::bundled());
        let outbound = Arc::new(Outbound {
            store: store.clone(),
            templates: templates.clone(),
            teams: teams.clone(),
            clock: clock.clone(),
            quiet_hours: config.quiet_hours,
            reminder_offsets: config.reminder_offsets.clone(),
            feedback_after: config.feedback_after,
            sms_countries: config.sms_countries.clone(),
            notify_letters: config.notify.letters,
        });
        let letters: Option<Arc<dyn LetterProvider>> = if config.notify.letters {
            Some(Arc::new(
                notify::letters::NotifyLetters::new(&config.notify)
                    .context("cannot set up GOV.UK Notify for letters")?,
            ))
        } else {
            None
        };
        let delivery = Arc::new(DeliveryContext {
            store: store.clone(),
            sms: sms_providers(&config, &metrics)?,
            letters,
            clock: clock.clone(),
            budget_per_hour: config.sms_budget_per_hour,
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
            thread_days: config.thread_days,
            response_target: config.response_target.clone(),
        });
        let workers = Workers {
            pool,
            delivery,
            reminders,
            poll_interval: config.job_poll_interval,
            heartbeat: config.job_heartbeat,
        };
        let services = app::Services::new(
            store.clone(),
            outbound.clone(),
            intake.clone(),
            clock.clone(),
            config.send_backoff_base,
            config.messages_per_token_per_day,
        );
        let org_sign_in = match &config.oidc {
            Some(oidc) => Some(
                app::oidc::OrgSignIn::new(
                    oidc.clone(),
                    config.oidc_redirect_uri(),
                    services.accounts().clone(),
                )
                .context("cannot set up sign-in with the organisation")?,
            ),
            None => None,
        };
        let state = http::AppState {
            services,
            store,
            intake,
            outbound,
            config: Arc::new(config),
            clock,
            metrics,
            org_sign_in,
        };
        let feedback = Arc::new(jobs::feedback::FeedbackContext {
            outbound: state.outbound.clone(),
            feedback_url: state.config.feedback_url.clone(),
        });
        let sweeps = Arc::new(Sweeps::new(
            state.store.clone(),
            state.intake.clone(),
            feedback,
            state.clock.clone(),
            state.metrics.clone(),
            &state.config,
        ));
        Ok(App {
            state,
            workers,
            sweeps,
        })
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.state.store
    }

    /// The application layer the API's handlers call.
    pub fn services(&self) -> &Services {
        &self.state.services
    }

    /// One pass of the background sweeps (`sweeps`); `serve` runs them on a timer, tests
    /// call this with a clock they move.
    pub async fn sweep(&self) -> anyhow::Result<()> {
        self.sweeps.run_once().await
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
        if config.sms_providers.contains(&SmsProviderKind::Notify)
            && config.notify.callback_token.is_none()
        {
            tracing::warn!(
                "no CRHT_NOTIFY_CALLBACK_TOKEN: GOV.UK Notify's delivery receipts are refused, \
                 so no text it sends is ever marked delivered or failed"
            );
        }
        if config.reminders_share_the_referral_sender() {
            tracing::warn!(
                "no CRHT_REMINDER_FROM for every provider: reminders leave from the referral \
                 number's sender, and a STOP sent to one of them could stop the crisis line's \
                 texts at the provider"
            );
        }
        // With Notify and no Twilio token, Twilio's webhooks refuse every post instead.
        if !config.sms_providers.contains(&SmsProviderKind::Notify)
            && config.twilio.auth_token.is_none()
        {
            tracing::warn!(
                "no CRHT_TWILIO_AUTH_TOKEN: webhooks are accepted unsigned (allowed only on a \
                 loopback address; never do this in production)"
            );
        }
        if let Some(org) = app.state.org_sign_in.clone() {
            // Discovery now, so a provider that is down shows in the log at start; it is
            // tried again on first use, and local sign-in works meanwhile.
            tokio::spawn(async move {
                let _ = org.metadata().await;
            });
        }
        let workers = tokio::spawn(jobs::run(app.workers.clone(), shutdown.clone()));
        let sweeps = tokio::spawn(app.sweeps.clone().run(shutdown.clone()));
        let address = listener.local_addr()?;
        tracing::info!(
            %address,
            database = app.state.store.engine(),
            providers = ?config
                .sms_providers
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>(),
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
