//! The `crht-gateway` binary from outside, as an operator runs it — including safety rule 6:
//! a whole session's log holds no phone number and no message body.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crht_gateway::twilio::{signature, twiml};

use crate::helpers::{ACCOUNT_SID, AUTH_TOKEN, FakeTwilio};

const BIN: &str = env!("CARGO_BIN_EXE_crht-gateway");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

struct Gateway {
    child: Child,
    base: String,
    log: std::path::PathBuf,
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Gateway {
    async fn start(twilio: &FakeTwilio) -> Gateway {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let env = vec![
            (
                "CRHT_DATABASE_URL".to_owned(),
                format!("sqlite://{}", dir.path().join("crht.db").display()),
            ),
            ("CRHT_BIND".to_owned(), format!("127.0.0.1:{port}")),
            ("CRHT_PUBLIC_URL".to_owned(), base.clone()),
            ("CRHT_SMS_PROVIDER".to_owned(), "twilio".to_owned()),
            (
                "CRHT_TEAMS_FILE".to_owned(),
                crate::helpers::TEAMS_FILE.to_owned(),
            ),
            ("CRHT_TWILIO_ACCOUNT_SID".to_owned(), ACCOUNT_SID.to_owned()),
            ("CRHT_TWILIO_AUTH_TOKEN".to_owned(), AUTH_TOKEN.to_owned()),
            ("CRHT_TWILIO_API_BASE".to_owned(), twilio.base.clone()),
            // As chatty as the gateway gets: nothing sensitive may appear even at debug.
            ("RUST_LOG".to_owned(), "debug".to_owned()),
        ];
        let log = dir.path().join("gateway.log");
        let file = std::fs::File::create(&log).unwrap();
        let mut child = Command::new(BIN)
            .arg("serve")
            .current_dir(dir.path())
            .envs(env.iter().cloned())
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .spawn()
            .expect("start the gateway binary");
        let http = reqwest::Client::new();
        for _ in 0..150 {
            if http
                .get(format!("{base}/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
            {
                return Gateway {
                    child,
                    base,
                    log,
                    dir,
                    env,
                };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("the gateway never became ready");
    }

    fn command(&self, args: &[&str]) -> std::process::Output {
        Command::new(BIN)
            .args(args)
            .current_dir(self.dir.path())
            .envs(self.env.iter().cloned())
            .env_remove("RUST_LOG")
            .output()
            .expect("run the binary")
    }

    async fn text(&self, n: usize, from: &str, body: &str) -> String {
        let url = format!("{}/webhooks/twilio/sms", self.base);
        let params: Vec<(String, String)> = [
            ("MessageSid", format!("SMcli{n:029}")),
            ("AccountSid", ACCOUNT_SID.to_owned()),
            ("From", from.to_owned()),
            ("To", "+447520667111".to_owned()),
            ("Body", body.to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let response = reqwest::Client::new()
            .post(&url)
            .header(
                "X-Twilio-Signature",
                signature::compute(AUTH_TOKEN, &url, &params),
            )
            .form(&params)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        twiml::messages(&response.text().await.unwrap())
            .unwrap()
            .join("\n")
    }

    /// Stops it with SIGTERM (graceful) and returns everything it wrote.
    #[allow(clippy::zombie_processes)]
    fn stop(mut self) -> (std::process::ExitStatus, String) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().unwrap();
        let mut text = String::new();
        std::fs::File::open(&self.log)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        (status, text)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn safety_rule_6_no_phone_number_or_message_body_is_written_to_the_logs() {
    let twilio = FakeTwilio::start().await;
    let gateway = Gateway::start(&twilio).await;
    let phone = "+447911123456";
    let secret_words = [
        "hello there",
        "Zebedee Quartermaine",
        "flibbertigibbet",
        "I want to kill myself",
    ];
    gateway.text(1, phone, secret_words[0]).await;
    gateway.text(2, phone, "1").await;
    gateway.text(3, phone, secret_words[1]).await;
    gateway.text(4, phone, "34").await;
    gateway.text(5, phone, "LS1 4DY").await;
    gateway.text(6, phone, "1").await;
    gateway.text(7, phone, secret_words[2]).await;
    let urgent = gateway.text(8, phone, secret_words[3]).await;
    assert!(urgent.contains("999"));
    twilio.wait_for(2).await;

    let token = gateway.command(&["token", "create", "--name", "log-check", "--role", "admin"]);
    let token = String::from_utf8(token.stdout)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned();
    let conversation = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/conversations/%2B447911123456",
            gateway.base
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(conversation.status(), 200);

    let (status, log) = gateway.stop();
    assert!(status.success(), "graceful stop on SIGTERM: {status:?}");
    assert!(
        log.contains("+44 7*** ***456"),
        "the number is logged masked: {log}"
    );
    for raw in [
        "7911123456",
        "07911 123456",
        "7911 123456",
        "7911200011",
        "7911200012",
    ] {
        assert!(
            !log.contains(raw),
            "a phone number leaked into the log: {raw}"
        );
    }
    for words in secret_words {
        assert!(
            !log.contains(words),
            "a message body leaked into the log: {words}"
        );
    }
    assert!(
        !log.contains(AUTH_TOKEN) && !log.contains(&token),
        "a secret leaked into the log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_create_prints_the_token_alone_and_keeps_only_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crht.db");
    let output = Command::new(BIN)
        .args(["token", "create", "--name", "ward-admin", "--role", "admin"])
        .current_dir(dir.path())
        .env("CRHT_DATABASE_URL", format!("sqlite://{}", db.display()))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let token = stdout.lines().next().unwrap();
    assert!(token.len() >= 40 && !token.contains(' '), "{stdout:?}");
    let stored = std::fs::read(&db).unwrap();
    assert!(
        !stored.windows(token.len()).any(|w| w == token.as_bytes()),
        "the token itself is not stored"
    );
    let wal = std::fs::read(dir.path().join("crht.db-wal")).unwrap_or_default();
    assert!(!wal.windows(token.len()).any(|w| w == token.as_bytes()));

    let bad_role = Command::new(BIN)
        .args(["token", "create", "--name", "x", "--role", "superuser"])
        .current_dir(dir.path())
        .env("CRHT_DATABASE_URL", format!("sqlite://{}", db.display()))
        .output()
        .unwrap();
    assert!(!bad_role.status.success());
}

#[test]
fn migrate_creates_the_database_and_config_errors_are_clear_and_secret_free() {
    let dir = tempfile::tempdir().unwrap();
    let migrate = Command::new(BIN)
        .arg("migrate")
        .current_dir(dir.path())
        .env_remove("CRHT_DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    assert!(
        dir.path().join("crht.db").exists(),
        "the default SQLite file in the working directory"
    );

    let bad = Command::new(BIN)
        .arg("serve")
        .current_dir(dir.path())
        .env("CRHT_DATABASE_URL", "mysql://crht:hunter2@db/crht")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("CRHT_DATABASE_URL") && !stderr.contains("hunter2"),
        "{stderr}"
    );

    let exposed = Command::new(BIN)
        .arg("serve")
        .current_dir(dir.path())
        .env("CRHT_BIND", "0.0.0.0:0")
        .env_remove("CRHT_TWILIO_AUTH_TOKEN")
        .output()
        .unwrap();
    assert!(
        !exposed.status.success(),
        "unsigned webhooks only on loopback"
    );
    assert!(String::from_utf8_lossy(&exposed.stderr).contains("CRHT_TWILIO_AUTH_TOKEN"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_texts_a_running_gateway_from_the_terminal_signing_like_twilio() {
    let twilio = FakeTwilio::start().await;
    let gateway = Gateway::start(&twilio).await;
    let mut simulate = Command::new(BIN)
        .args(["simulate", "--from", "07911 123456", "--url", &gateway.base])
        .current_dir(gateway.dir.path())
        .envs(gateway.env.iter().cloned())
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = simulate.stdin.take().unwrap();
        stdin.write_all(b"hello\n1\nSam\n").unwrap();
    }
    let output = simulate.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("999"), "{stdout}");
    assert!(stdout.contains("yourself or someone else"), "{stdout}");
    assert!(
        stdout.contains("18 or over"),
        "three texts, three replies: {stdout}"
    );
    let (_, log) = gateway.stop();
    assert!(
        !log.contains("bad_signature"),
        "the simulator signs its texts"
    );
}

#[test]
fn user_create_and_token_list_and_revoke_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("crht.db").display());
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut child = Command::new(BIN)
            .args(args)
            .current_dir(dir.path())
            .env("CRHT_DATABASE_URL", &db)
            .env("CRHT_PUBLIC_URL", "https://crht.example.org")
            .env("CRHT_TEAMS_FILE", crate::helpers::TEAMS_FILE)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        {
            use std::io::Write;
            let mut input = child.stdin.take().unwrap();
            if let Some(text) = stdin {
                input.write_all(text.as_bytes()).unwrap();
            }
        }
        let output = child.wait_with_output().unwrap();
        (
            output.status.success(),
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8(output.stderr).unwrap(),
        )
    };

    let (ok, stdout, stderr) = run(
        &[
            "user",
            "create",
            "--email",
            "Ann@Example.org",
            "--name",
            "Ann",
            "--role",
            "admin",
            "--password-stdin",
        ],
        Some("correct horse battery staple\n"),
    );
    assert!(ok, "{stderr}");
    assert!(
        stdout.is_empty(),
        "no link when a password is given: {stdout}"
    );
    let (ok, _, stderr) = run(
        &[
            "user",
            "create",
            "--email",
            "b@example.org",
            "--name",
            "B",
            "--role",
            "admin",
            "--password-stdin",
        ],
        Some("short\n"),
    );
    assert!(!ok && stderr.contains("at least 12"), "{stderr}");
    let (ok, stdout, stderr) = run(
        &[
            "user",
            "create",
            "--email",
            "cal@example.org",
            "--name",
            "Cal",
            "--role",
            "clinician",
            "--team",
            "nowhere",
        ],
        None,
    );
    assert!(!ok && stderr.contains("nowhere"), "{stdout}{stderr}");
    let (ok, stdout, stderr) = run(
        &[
            "user",
            "create",
            "--email",
            "cal@example.org",
            "--name",
            "Cal",
            "--role",
            "clinician",
        ],
        None,
    );
    assert!(ok, "{stderr}");
    assert!(
        stdout.starts_with("https://crht.example.org/set-password?token=crht_"),
        "{stdout}"
    );

    let (ok, token, stderr) = run(
        &[
            "token",
            "create",
            "--name",
            "ann-laptop",
            "--role",
            "admin",
            "--user",
            "ann@example.org",
            "--expires-in",
            "90d",
        ],
        None,
    );
    assert!(ok, "{stderr}");
    let token = token.lines().next().unwrap().to_owned();
    let (ok, list, stderr) = run(&["token", "list"], None);
    assert!(ok, "{stderr}");
    assert!(!list.contains(&token), "never the secret");
    let row = list
        .lines()
        .find(|l| l.contains("ann-laptop"))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(row.contains("ann@example.org"), "{row}");
    let id = row.split('\t').next().unwrap();
    assert_eq!(row.split('\t').next_back(), Some("-"), "not revoked: {row}");

    let (ok, _, stderr) = run(&["token", "revoke", id], None);
    assert!(ok, "{stderr}");
    let (_, list, _) = run(&["token", "list"], None);
    let row = list.lines().find(|l| l.starts_with(id)).unwrap();
    assert_ne!(row.split('\t').next_back(), Some("-"), "revoked: {row}");
    let (ok, _, _) = run(&["token", "revoke", "no-such-token"], None);
    assert!(!ok);
}
