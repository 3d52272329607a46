//! The gateway under test: a real `crht-gateway serve` process on a database of its own,
//! started, killed with SIGKILL and started again.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use sqlx::Connection as _;

/// The engine a drill runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A database made for one drill run (a fresh SQLite file, or a fresh PostgreSQL database
/// dropped at the end).
#[derive(Debug)]
pub struct Database {
    pub url: String,
    /// The server URL and database name to drop, for PostgreSQL.
    postgres: Option<(String, String)>,
}

impl Database {
    pub async fn create(engine: Engine, dir: &Path, postgres_url: &str) -> anyhow::Result<Self> {
        match engine {
            Engine::Sqlite => Ok(Self {
                url: format!("sqlite://{}", dir.join("crht.db").display()),
                postgres: None,
            }),
            Engine::Postgres => {
                let name = format!("crht_drill_{}", crht_gateway::new_id().to_lowercase());
                let mut admin = sqlx::PgConnection::connect(postgres_url).await.context(
                    "cannot reach PostgreSQL (set --postgres-url or CRHT_TEST_POSTGRES_URL)",
                )?;
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut admin)
                    .await?;
                let mut url = url::Url::parse(postgres_url)?;
                url.set_path(&name);
                Ok(Self {
                    url: url.to_string(),
                    postgres: Some((postgres_url.to_owned(), name)),
                })
            }
        }
    }

    /// The same database reached through another host and port (the outage proxy).
    pub fn via(&self, addr: std::net::SocketAddr) -> anyhow::Result<String> {
        let mut url = url::Url::parse(&self.url)?;
        url.set_host(Some(&addr.ip().to_string()))?;
        url.set_port(Some(addr.port()))
            .map_err(|()| anyhow::anyhow!("cannot set the port"))?;
        Ok(url.to_string())
    }

    /// Host and port of a PostgreSQL database.
    pub fn server_addr(&self) -> anyhow::Result<String> {
        let url = url::Url::parse(&self.url)?;
        Ok(format!(
            "{}:{}",
            url.host_str().unwrap_or("127.0.0.1"),
            url.port().unwrap_or(5432)
        ))
    }

    pub async fn drop_database(self) -> anyhow::Result<()> {
        if let Some((server, name)) = self.postgres {
            let mut admin = sqlx::PgConnection::connect(&server).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut admin)
            .await?;
        }
        Ok(())
    }
}

/// The `crht-gateway` binary built beside this one (built first when run through cargo).
pub fn gateway_binary() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let dir = me.parent().context("no directory for this binary")?;
    if let Ok(cargo) = std::env::var("CARGO") {
        let mut build = Command::new(cargo);
        build.args(["build", "--quiet", "--bin", "crht-gateway"]);
        if dir.ends_with("release") {
            build.arg("--release");
        }
        if !build.status()?.success() {
            bail!("could not build crht-gateway");
        }
    }
    let bin = dir.join("crht-gateway");
    if !bin.exists() {
        bail!(
            "{} is missing: build it first (cargo build --bins)",
            bin.display()
        );
    }
    Ok(bin)
}

/// A free port on the loopback interface.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// One gateway process, restartable on the same port and database.
#[derive(Debug)]
pub struct Gateway {
    bin: PathBuf,
    env: Vec<(String, String)>,
    pub port: u16,
    pub log: PathBuf,
    child: Option<Child>,
    pub starts: usize,
    /// How long each start took to become ready.
    pub start_times: Vec<Duration>,
}

impl Gateway {
    pub fn new(bin: &Path, env: Vec<(String, String)>, port: u16, log: PathBuf) -> Self {
        Self {
            bin: bin.to_owned(),
            env,
            port,
            log,
            child: None,
            starts: 0,
            start_times: Vec::new(),
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn command(&self) -> anyhow::Result<Command> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let mut command = Command::new(&self.bin);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        Ok(command)
    }

    /// Runs `crht-gateway <args>` to completion with the same settings; its stdout.
    pub fn run(&self, args: &[&str]) -> anyhow::Result<String> {
        let mut command = self.command()?;
        let output = command.args(args).stdout(Stdio::piped()).output()?;
        if !output.status.success() {
            bail!("crht-gateway {} failed ({})", args.join(" "), output.status);
        }
        Ok(String::from_utf8(output.stdout)?)
    }

    /// A staff token with `role`.
    pub fn token(&self, role: &str) -> anyhow::Result<String> {
        let out = self.run(&["token", "create", "--name", "drill", "--role", role])?;
        out.lines()
            .next()
            .map(str::to_owned)
            .context("token create printed nothing")
    }

    /// Starts the process and waits until `/readyz` answers 200.
    pub async fn start(&mut self) -> anyhow::Result<()> {
        let began = Instant::now();
        let child = self.command()?.arg("serve").spawn()?;
        self.child = Some(child);
        self.starts += 1;
        let http = reqwest::Client::new();
        let ready = format!("{}/readyz", self.base_url());
        while began.elapsed() < Duration::from_secs(60) {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                bail!(
                    "the gateway exited at start ({status}); see {}",
                    self.log.display()
                );
            }
            if let Ok(response) = http
                .get(&ready)
                .timeout(Duration::from_secs(1))
                .send()
                .await
                && response.status().is_success()
            {
                self.start_times.push(began.elapsed());
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        bail!(
            "the gateway was not ready within 60 s; see {}",
            self.log.display()
        )
    }

    /// SIGKILL: no shutdown, no flush, like a power cut to the process.
    pub fn kill9(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }

    /// SIGTERM and wait (a graceful stop).
    pub fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if child.try_wait()?.is_some() {
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.kill9();
    }
}

/// The log a gateway wrote, for the masking check.
pub fn read_log(path: &Path) -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::Read::read_to_string(&mut File::open(path)?, &mut text)?;
    Ok(text)
}
