//! `crht-drill`: fault drills against real `crht-gateway` processes, for RELIABILITY.md.
//!
//! Each drill starts the gateway on a database of its own with a fake SMS provider (a real
//! HTTP server), drives signed webhooks and staff bookings at it, does its damage, then
//! checks from outside that nothing was lost or done twice and that no log holds a phone
//! number or a message body. Exit status 1 when a check fails.
//!
//!   cargo run --release --bin crht-drill -- crash --engine sqlite
//!   cargo run --release --bin crht-drill -- crash --engine postgres
//!   cargo run --release --bin crht-drill -- provider-outage --engine sqlite
//!   cargo run --release --bin crht-drill -- failover --engine sqlite
//!   cargo run --release --bin crht-drill -- db-outage
//!   cargo run --release --bin crht-drill -- replicas

mod drills;
mod gateway;
mod provider;
mod proxy;
mod report;
mod traffic;

use std::time::Duration;

use clap::{Parser, Subcommand};

use gateway::Engine;

#[derive(Debug, Parser)]
#[command(
    name = "crht-drill",
    about = "Crash and outage drills for crht-gateway"
)]
struct Cli {
    #[command(subcommand)]
    drill: Drill,
    /// PostgreSQL server to make drill databases on (each drill makes and drops its own).
    #[arg(
        long,
        global = true,
        env = "CRHT_TEST_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    postgres_url: String,
    /// People texting at once.
    #[arg(long, global = true, default_value_t = 16)]
    texters: usize,
    /// Patients booked, each with one reminder falling due during the drill.
    #[arg(long, global = true, default_value_t = 60)]
    patients: usize,
}

#[derive(Debug, Subcommand)]
enum Drill {
    /// kill -9 the gateway at random moments, restarting it each time.
    Crash {
        #[arg(long, value_enum, default_value = "sqlite")]
        engine: Engine,
        #[arg(long, default_value_t = 50)]
        kills: usize,
    },
    /// The SMS provider answers 500, 429 or not at all for a while, then recovers.
    ProviderOutage {
        #[arg(long, value_enum, default_value = "sqlite")]
        engine: Engine,
        /// Seconds the provider is down.
        #[arg(long, default_value_t = 120)]
        seconds: u64,
    },
    /// Twilio goes down while GOV.UK Notify stands by (`CRHT_SMS_PROVIDERS=twilio,notify`):
    /// Notify takes over, then Twilio is back once it answers.
    Failover {
        #[arg(long, value_enum, default_value = "sqlite")]
        engine: Engine,
        /// Seconds Twilio is down.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
    /// PostgreSQL goes away under load, then comes back.
    DbOutage {
        /// Seconds the database is away.
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        /// Stop the real server instead of cutting connections (e.g. "pg_ctlcluster 15 main stop");
        /// needs --start-command.
        #[arg(long, requires = "start_command")]
        stop_command: Option<String>,
        #[arg(long)]
        start_command: Option<String>,
    },
    /// Two gateways on one PostgreSQL database.
    Replicas,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    crht_gateway::install_tls_provider();
    let cli = Cli::parse();
    let mut options = drills::Options {
        engine: Engine::Postgres,
        postgres_url: cli.postgres_url,
        kills: 0,
        outage: Duration::ZERO,
        texters: cli.texters,
        patients: cli.patients,
        stop_command: None,
        start_command: None,
    };
    let result = match cli.drill {
        Drill::Crash { engine, kills } => {
            options.engine = engine;
            options.kills = kills;
            drills::crash(&options).await
        }
        Drill::ProviderOutage { engine, seconds } => {
            options.engine = engine;
            options.outage = Duration::from_secs(seconds);
            drills::provider_outage(&options).await
        }
        Drill::Failover { engine, seconds } => {
            options.engine = engine;
            options.outage = Duration::from_secs(seconds);
            drills::failover(&options).await
        }
        Drill::DbOutage {
            seconds,
            stop_command,
            start_command,
        } => {
            options.outage = Duration::from_secs(seconds);
            options.stop_command = stop_command;
            options.start_command = start_command;
            drills::db_outage(&options).await
        }
        Drill::Replicas => drills::replicas(&options).await,
    };
    match result {
        Ok(report) => {
            report.print();
            if report.failures.is_empty() {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("the drill could not run: {error:#}");
            std::process::ExitCode::from(2)
        }
    }
}
