//! crht-gateway: the text-message front door of a Crisis Resolution and Home Treatment Team.
//!
//! `App::build` connects to the database, loads the team map, risk signals and wording, and
//! chooses the SMS provider; `App::serve` runs the HTTP server, the job workers and the
//! background sweeps until the shutdown token fires.

pub mod channels;
pub mod clock;
pub mod config;
pub mod conversation;
pub mod domain;
pub mod http;
pub mod intake;
pub mod jobs;
pub mod logging;
pub mod metrics;
pub mod risk;
pub mod simulate;
pub mod store;
pub mod twilio;

use std::sync::Arc;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use channels::sms::{Outbox, SmsProvider};
use clock::Clock;
use config::{Config, SmsProviderKind};
use conversation::wording::Wording;
use domain::teams::Teams;
use intake::Intake;
use jobs::delivery::DeliveryContext;
use metrics::Metrics;
use risk::RiskScreen;
use store::{Pool, Store};

/// reqwest is built without a default TLS crypto provider (one crypto library, ring, for the
/// whole binary); install it once before any client is made.
pub fn install_tls_provider() {
    // Err means one is installed already, which is all we need.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A gateway ready to serve.
pub struct App {
    pub state: http::AppState,
    pub pool: Pool,
    pub delivery: Arc<DeliveryContext>,
}

impl App {
    /// Connects, migrates and loads everything the gateway needs; fails with a clear message
    /// on bad configuration before anything starts.
    pub async fn build(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<App> {
        let teams = match &config.teams_file {
            Some(path) => Teams::from_toml(
                &std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the teams file {}", path.display()))?,
            )
            .with_context(|| format!("the teams file {} is not valid", path.display()))?,
            None => Teams::bundled(),
        };
        let risk = match &config.risk_signals_file {
            Some(path) => {
                RiskScreen::from_toml(&std::fs::read_to_string(path).with_context(|| {
                    format!("cannot read the risk signals file {}", path.display())
                })?)
                .with_context(|| format!("the risk signals file {} is not valid", path.display()))?
            }
            None => RiskScreen::bundled(),
        };
        let (store, pool) = store::connect(&config.database_url)
            .await
            .with_context(|| {
                format!(
                    "cannot open the database {}",
                    config.database_url.redacted()
                )
            })?;
        store.migrate().await.context("database migration failed")?;

        let sms: Arc<dyn SmsProvider> = match config.sms_provider {
            SmsProviderKind::Outbox => Arc::new(Outbox),
            SmsProviderKind::Twilio => Arc::new(
                twilio::TwilioClient::new(&config.twilio, &config.public_url)
                    .context("cannot set up the Twilio client")?,
            ),
        };
        let metrics = Metrics::new();
        let delivery = Arc::new(DeliveryContext::new(
            store.clone(),
            sms,
            clock.clone(),
            config.sms_rate_per_sec,
            metrics.clone(),
        ));
        let intake = Arc::new(Intake {
            risk,
            teams,
            wording: Wording::english(),
        });
        let state = http::AppState {
            store,
            intake,
            config: Arc::new(config),
            clock,
            metrics,
        };
        Ok(App {
            state,
            pool,
            delivery,
        })
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.state.store
    }

    /// One pass of the background sweeps (abandonment); `serve` runs it on a timer.
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
        let workers = tokio::spawn(jobs::run_delivery_workers(
            app.pool.clone(),
            app.delivery.clone(),
            config.job_poll_interval,
            shutdown.clone(),
        ));
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
            provider = app.delivery.sms.name(),
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
