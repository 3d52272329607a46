//! The `crht-gateway` command: serve, migrate, token create, simulate.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crht_gateway::clock::{Clock, SystemClock};
use crht_gateway::config::Config;
use crht_gateway::domain::phone::PhoneNumber;
use crht_gateway::domain::role::Role;
use crht_gateway::http::auth::{generate_token, hash_token};
use crht_gateway::simulate::Simulator;
use crht_gateway::{logging, store};

#[derive(Debug, Parser)]
#[command(
    name = "crht-gateway",
    version,
    about = "The text-message front door of a Crisis Resolution and Home Treatment Team"
)]
struct Cli {
    /// A TOML file of settings (CRHT_* environment variables win over it).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run everything: HTTP, job workers and background sweeps.
    Serve,
    /// Create or update the database schema, then exit.
    Migrate,
    /// Staff API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Check the configuration: settings, teams, risk signals and templates.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Risk screening: how the risk-signal rules do on a labelled set of texts.
    Risk {
        #[command(subcommand)]
        command: RiskCommand,
    },
    /// Text the referral number from this terminal, against a running gateway.
    Simulate {
        /// The number to text from.
        #[arg(long, default_value = "+447911000001")]
        from: String,
        /// The gateway's base URL (default: CRHT_PUBLIC_URL).
        #[arg(long)]
        url: Option<url::Url>,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Load and validate everything `serve` would; print a summary (never a secret or a
    /// number in full); exit non-zero on any problem.
    Check,
}

#[derive(Debug, Subcommand)]
enum RiskCommand {
    /// Print recall and false alarms per language on the labelled set; exit non-zero when a
    /// target is missed (safety/risk-evaluation.md).
    Evaluate {
        /// A .tsv file or a folder of them (default: the set bundled from
        /// safety/risk-evaluation/).
        #[arg(long, value_name = "PATH")]
        set: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token; it is printed once, alone on the first line, and only its hash kept.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = ["admin", "clinician", "scheduler"])]
        role: String,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref(), std::env::vars()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("crht-gateway: configuration error: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    logging::init(config.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("crht-gateway: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("crht-gateway: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            config.check_for_serving()?;
            let listener = tokio::net::TcpListener::bind(config.bind)
                .await
                .with_context(|| format!("cannot listen on {}", config.bind))?;
            let shutdown = CancellationToken::new();
            tokio::spawn(stop_on_signal(shutdown.clone()));
            crht_gateway::run(config, listener, shutdown).await
        }
        Command::Migrate => {
            let (store, _) = store::connect(&config.database_url).await?;
            store.migrate().await?;
            eprintln!("database is up to date ({})", store.engine());
            Ok(())
        }
        Command::Token {
            command: TokenCommand::Create { name, role },
        } => {
            let role = Role::parse(&role).context("unknown role")?;
            let name = name.trim();
            anyhow::ensure!(!name.is_empty(), "--name must not be empty");
            let (store, _) = store::connect(&config.database_url).await?;
            store.migrate().await?;
            let token = generate_token();
            store
                .create_token(
                    &ulid::Ulid::generate().to_string(),
                    name,
                    role,
                    &hash_token(&token),
                    SystemClock.now(),
                )
                .await?;
            println!("{token}");
            eprintln!("token `{name}` ({role}) created; it is shown only this once");
            Ok(())
        }
        Command::Config {
            command: ConfigCommand::Check,
        } => {
            let report = crht_gateway::config_check::check(&config);
            print!("{}", report.render());
            anyhow::ensure!(report.is_ok(), "the configuration has problems");
            Ok(())
        }
        Command::Risk {
            command: RiskCommand::Evaluate { set },
        } => {
            use crht_gateway::risk_evaluation;
            let samples = match set {
                Some(path) => risk_evaluation::load_set(&path)?,
                None => risk_evaluation::bundled_set(),
            };
            let report = risk_evaluation::evaluate(&config_risk_screen(&config)?, &samples);
            print!("{}", report.render());
            let shortfalls = report.shortfalls();
            anyhow::ensure!(
                shortfalls.is_empty(),
                "targets missed:\n{}",
                shortfalls.join("\n")
            );
            Ok(())
        }
        Command::Simulate { from, url } => {
            let from = PhoneNumber::parse(&from)
                .map_err(|_| anyhow::anyhow!("--from is not a valid phone number"))?;
            Simulator::new(&config, url, from)?.run_interactive().await
        }
    }
}

/// The risk-signal rules `serve` would use: CRHT_RISK_SIGNALS_FILE, else the bundled ones.
fn config_risk_screen(config: &Config) -> anyhow::Result<crht_gateway::risk::RiskScreen> {
    use crht_gateway::risk::RiskScreen;
    Ok(match &config.risk_signals_file {
        Some(path) => RiskScreen::from_toml(
            &std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the risk signals file {}", path.display()))?,
        )
        .with_context(|| format!("the risk signals file {} is not valid", path.display()))?,
        None => RiskScreen::bundled(),
    })
}

/// Graceful shutdown on SIGTERM or Ctrl-C.
async fn stop_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    shutdown.cancel();
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
    shutdown.cancel();
}
