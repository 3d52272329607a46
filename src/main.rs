//! The `crht-gateway` command: serve, migrate, user create, token create/list/revoke,
//! config check, risk evaluate, simulate.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crht_gateway::clock::SystemClock;
use crht_gateway::config::Config;
use crht_gateway::domain::phone::PhoneNumber;
use crht_gateway::domain::role::Role;
use crht_gateway::simulate::Simulator;
use crht_gateway::staff::{self, Accounts, NewToken, NewUser, Password};
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
    /// Staff accounts for the console.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
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
        /// The account (by email) the token belongs to; without it, the token is a named
        /// service's.
        #[arg(long, value_name = "EMAIL")]
        user: Option<String>,
        /// The token stops working after this long, e.g. `90d`.
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
        expires_in: Option<std::time::Duration>,
    },
    /// List every token (never its secret).
    List,
    /// Revoke a token: it stops working at once.
    Revoke {
        /// The token's id, from `token list`.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create an account. With `--password-stdin`, its password is read from one line of
    /// standard input; without, a one-time link to set one is printed.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = ["admin", "clinician", "scheduler"])]
        role: String,
        /// A team from the teams file (repeat for several).
        #[arg(long = "team", value_name = "TEAM")]
        teams: Vec<String>,
        #[arg(long)]
        password_stdin: bool,
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
        Command::Token { command } => token(command, &config).await,
        Command::User { command } => user(command, &config).await,
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

/// The accounts' rules over the configured database (migrated first).
async fn accounts(config: &Config) -> anyhow::Result<Accounts> {
    let (store, _) = store::connect(&config.database_url).await?;
    store.migrate().await?;
    Ok(Accounts::new(store, Arc::new(SystemClock)))
}

async fn token(command: TokenCommand, config: &Config) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create {
            name,
            role,
            user,
            expires_in,
        } => {
            let role = Role::parse(&role).context("unknown role")?;
            let expires_in = expires_in
                .map(chrono::TimeDelta::from_std)
                .transpose()
                .context("--expires-in is too long")?;
            let created = accounts(config)
                .await?
                .create_token(NewToken {
                    name: name.clone(),
                    role,
                    owner_email: user,
                    expires_in,
                })
                .await?;
            println!("{}", created.secret);
            eprintln!(
                "token `{}` ({role}, id {}) created; it is shown only this once",
                name.trim(),
                created.id
            );
            Ok(())
        }
        TokenCommand::List => {
            let tokens = accounts(config).await?.tokens(&staff::operator()).await?;
            let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map_or_else(
                    || "-".to_owned(),
                    |t| t.format("%Y-%m-%d %H:%M").to_string(),
                )
            };
            println!("id\tname\trole\towner\tcreated\texpires\tlast used\trevoked");
            for t in tokens {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    t.id,
                    t.name,
                    t.role,
                    t.owner_email.as_deref().unwrap_or("(service)"),
                    when(Some(t.created_at)),
                    when(t.expires_at),
                    when(t.last_used_at),
                    when(t.revoked_at),
                );
            }
            Ok(())
        }
        TokenCommand::Revoke { id } => {
            accounts(config)
                .await?
                .revoke_token(&staff::operator(), &id)
                .await?;
            eprintln!("token {id} revoked");
            Ok(())
        }
    }
}

async fn user(command: UserCommand, config: &Config) -> anyhow::Result<()> {
    let UserCommand::Create {
        email,
        name,
        role,
        teams,
        password_stdin,
    } = command;
    let role = Role::parse(&role).context("unknown role")?;
    let password = if password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        Some(Password::new(line.trim_end_matches(['\r', '\n']))?)
    } else {
        None
    };
    let known_teams = crht_gateway::config_check::load_teams(config)?;
    let created = accounts(config)
        .await?
        .create_user(
            &staff::operator(),
            NewUser {
                email,
                name,
                role,
                teams,
            },
            password,
            &known_teams,
        )
        .await?;
    eprintln!(
        "account {} ({}) created for {}",
        created.user.id, created.user.role, created.user.email
    );
    if let Some(secret) = created.set_password_token {
        let mut link = config.public_url.join("set-password")?;
        link.query_pairs_mut().append_pair("token", &secret);
        println!("{link}");
        eprintln!("send them this link to set their password; it works once, for 7 days");
    }
    Ok(())
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
