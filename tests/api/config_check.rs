//! Safety rule 10 from outside, as an operator meets it: `serve` with a real provider refuses
//! the shipped example's on-call numbers, and `crht-gateway config check` says what is loaded
//! and what is wrong without printing a secret or a number in full.

use std::process::{Command, Output};

use crate::helpers::TEAMS_FILE;

const BIN: &str = env!("CARGO_BIN_EXE_crht-gateway");
const SECRET: &str = "s3cret-auth-token-do-not-print";

/// The binary with a clean CRHT_* environment plus `env`, in a fresh directory.
fn run(args: &[&str], env: &[(&str, &str)]) -> (Output, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(BIN);
    command.args(args).current_dir(dir.path());
    for (key, _) in std::env::vars() {
        if key.starts_with("CRHT_") || key == "RUST_LOG" {
            command.env_remove(key);
        }
    }
    let output = command.envs(env.iter().copied()).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output, text)
}

fn twilio_env<'a>(database: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut env = vec![
        ("CRHT_DATABASE_URL", database),
        ("CRHT_SMS_PROVIDER", "twilio"),
        (
            "CRHT_TWILIO_ACCOUNT_SID",
            "ACcheck00000000000000000000000000",
        ),
        ("CRHT_TWILIO_AUTH_TOKEN", SECRET),
        // Nothing listens here: the refusal must come before any text could be sent.
        ("CRHT_TWILIO_API_BASE", "http://127.0.0.1:9"),
        ("CRHT_BIND", "127.0.0.1:0"),
    ];
    env.extend_from_slice(extra);
    env
}

/// Every full number of the shipped example; none may appear in any output.
fn example_numbers() -> Vec<String> {
    let example = include_str!("../../config/teams.toml");
    let mut numbers = Vec::new();
    for line in example
        .lines()
        .filter(|l| l.starts_with("on_call") || l.starts_with("escalation"))
    {
        for quoted in line.split('"').skip(1).step_by(2) {
            let digits: String = quoted.chars().filter(char::is_ascii_digit).collect();
            numbers.push(digits[1..].to_owned()); // national digits without the 0
        }
    }
    assert!(numbers.len() >= 10, "the example lists its numbers");
    numbers
}

fn assert_no_secret_or_number(text: &str) {
    assert!(!text.contains(SECRET), "a secret was printed: {text}");
    for number in example_numbers() {
        assert!(
            !text.contains(&number),
            "a number was printed in full: {text}"
        );
    }
}

fn databases() -> Vec<String> {
    let dir = std::env::temp_dir().join(format!("crht-check-{}", ulid::Ulid::generate()));
    let mut urls = vec![format!("sqlite://{}/crht.db", dir.display())];
    if let Some(crate::helpers::Engine::Postgres(url)) = crate::helpers::Engine::postgres() {
        urls.push(url);
    }
    urls
}

#[test]
fn serve_with_a_real_provider_refuses_the_example_on_call_numbers_naming_the_file_and_team() {
    for database in databases() {
        let (output, text) = run(&["serve"], &twilio_env(&database, &[]));
        assert!(!output.status.success(), "{text}");
        assert!(text.contains("refusing to start"), "{text}");
        assert!(text.contains("config/teams.toml"), "names the file: {text}");
        assert!(
            text.contains("triage") && text.contains("leeds"),
            "names the teams: {text}"
        );
        assert_no_secret_or_number(&text);

        // A copy of the example with the flag deleted but the numbers kept is caught too,
        // team by team.
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("teams.toml");
        let example = include_str!("../../config/teams.toml")
            .replace("placeholder_numbers = true", "")
            .replace("07911 100031", "07911 700031")
            .replace("07911 100039", "07911 700039");
        std::fs::write(&copy, example).unwrap();
        let copy = copy.display().to_string();
        let (output, text) = run(
            &["serve"],
            &twilio_env(&database, &[("CRHT_TEAMS_FILE", &copy)]),
        );
        assert!(!output.status.success(), "{text}");
        assert!(text.contains(&copy), "names the file: {text}");
        assert!(
            text.contains("leeds") && !text.contains("wakefield"),
            "{text}"
        );
    }
}

#[test]
fn config_check_prints_a_summary_and_exits_non_zero_on_any_problem() {
    for database in databases() {
        // The example with a real provider: a problem.
        let (output, text) = run(&["config", "check"], &twilio_env(&database, &[]));
        assert!(!output.status.success(), "{text}");
        assert!(
            text.contains("problem:") && text.contains("triage"),
            "{text}"
        );
        assert!(text.contains("sms provider: twilio"), "{text}");
        assert_no_secret_or_number(&text);

        // Confirmed numbers: a summary, exit 0, numbers masked.
        let (output, text) = run(
            &["config", "check"],
            &twilio_env(&database, &[("CRHT_TEAMS_FILE", TEAMS_FILE)]),
        );
        assert!(output.status.success(), "{text}");
        let engine = if database.starts_with("sqlite") {
            "database: SQLite"
        } else {
            "database: PostgreSQL"
        };
        assert!(text.contains(engine), "{text}");
        assert!(text.contains("teams: 5"), "{text}");
        assert!(text.contains("leeds: 2 on-call"), "{text}");
        assert!(text.contains("+44 7*** ***011"), "masked: {text}");
        assert!(!text.contains("7911200011"), "{text}");
        assert!(text.contains("risk signals:"), "{text}");
        assert!(
            text.contains("feedback after care: requested 2days after discharge"),
            "{text}"
        );
        assert!(text.contains("configuration OK"), "{text}");
        assert_no_secret_or_number(&text);
    }

    // Nothing configured (outbox): a warning, not a failure — the newcomer's first run.
    let (output, text) = run(&["config", "check"], &[]);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("warning:") && text.contains("example on-call numbers"),
        "{text}"
    );

    // A broken teams file and a bad setting are problems.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("teams.toml");
    std::fs::write(&broken, "default_team = \"nowhere\"\n").unwrap();
    let (output, text) = run(
        &["config", "check"],
        &[("CRHT_TEAMS_FILE", broken.to_str().unwrap())],
    );
    assert!(!output.status.success(), "{text}");
    assert!(text.contains("problem:"), "{text}");
    let (output, _) = run(&["config", "check"], &[("CRHT_QUIET_HOURS", "sometimes")]);
    assert!(!output.status.success());
    let (output, text) = run(&["config", "check"], &[("CRHT_FEEDBACK_AFTER", "later")]);
    assert!(!output.status.success(), "{text}");
    assert!(text.contains("CRHT_FEEDBACK_AFTER"), "{text}");
    let (output, text) = run(
        &["config", "check"],
        &[
            ("CRHT_FEEDBACK_AFTER", "36h"),
            ("CRHT_FEEDBACK_URL", "https://www.example.nhs.uk/feedback"),
        ],
    );
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("requested 1day 12h after discharge")
            && text.contains("linking the feedback page https://www.example.nhs.uk/feedback"),
        "{text}"
    );
}

#[test]
fn config_check_shows_openid_connect_without_its_secret_and_a_partial_set_is_refused() {
    let (output, text) = run(&["config", "check"], &[]);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("sign in with your organisation: off"),
        "{text}"
    );
    let oidc = [
        ("CRHT_PUBLIC_URL", "https://crht.example.nhs.uk"),
        (
            "CRHT_OIDC_ISSUER",
            "https://login.microsoftonline.com/tenant/v2.0",
        ),
        ("CRHT_OIDC_CLIENT_ID", "client-1"),
        ("CRHT_OIDC_CLIENT_SECRET", "oidc-very-secret"),
    ];
    let (output, text) = run(&["config", "check"], &oidc);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("issuer https://login.microsoftonline.com/tenant/v2.0")
            && text.contains("client client-1")
            && text.contains("scopes openid email profile")
            && text.contains("https://crht.example.nhs.uk/login/oidc/callback"),
        "{text}"
    );
    assert!(!text.contains("oidc-very-secret"), "{text}");
    let (output, text) = run(&["config", "check"], &oidc[..3]);
    assert!(!output.status.success(), "{text}");
    assert!(text.contains("CRHT_OIDC_CLIENT_SECRET"), "{text}");
    let (output, text) = run(&["serve"], &oidc[..3]);
    assert!(
        !output.status.success(),
        "a partial set refuses to start: {text}"
    );
    assert!(!text.contains("oidc-very-secret"), "{text}");
}

#[test]
fn config_check_shows_and_checks_the_sms_budget_and_countries() {
    let (output, text) = run(
        &["config", "check"],
        &[
            ("CRHT_SMS_BUDGET_PER_HOUR", "250"),
            ("CRHT_SMS_COUNTRIES", "gb,ie"),
        ],
    );
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("non-urgent texts: at most 250 an hour, only to GB, IE"),
        "{text}"
    );
    let (output, text) = run(&["config", "check"], &[]);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("at most 1000 an hour, only to GB"),
        "the defaults: {text}"
    );
    for (key, value) in [
        ("CRHT_SMS_BUDGET_PER_HOUR", "0"),
        ("CRHT_SMS_COUNTRIES", "England"),
    ] {
        let (output, text) = run(&["config", "check"], &[(key, value)]);
        assert!(!output.status.success(), "{key}={value}: {text}");
        assert!(text.contains(key), "names the setting: {text}");
    }
}

#[test]
fn serve_with_the_outbox_starts_on_the_example_and_warns() {
    let (mut child, log) = {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("gateway.log");
        let file = std::fs::File::create(&log).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = Command::new(BIN);
        for (key, _) in std::env::vars() {
            if key.starts_with("CRHT_") || key == "RUST_LOG" {
                command.env_remove(key);
            }
        }
        let child = command
            .arg("serve")
            .current_dir(dir.path())
            .env("CRHT_BIND", format!("127.0.0.1:{port}"))
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        (child, (dir, log))
    };
    let mut text = String::new();
    for _ in 0..100 {
        text = std::fs::read_to_string(&log.1).unwrap_or_default();
        if text.contains("example on-call numbers") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let still_running = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    assert!(still_running, "the outbox gateway serves: {text}");
    assert!(text.contains("example on-call numbers"), "{text}");
}

#[test]
fn notify_without_its_template_refuses_to_start_and_config_check_hides_its_secrets() {
    let key = crate::helpers::notify_api_key();
    let secret = crate::helpers::NOTIFY_SECRET;
    let token = crate::helpers::NOTIFY_CALLBACK_TOKEN;
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}/crht.db", dir.path().display());
    let mut env = vec![
        ("CRHT_DATABASE_URL", database.as_str()),
        ("CRHT_SMS_PROVIDER", "notify"),
        ("CRHT_NOTIFY_API_KEY", key.as_str()),
        ("CRHT_NOTIFY_CALLBACK_TOKEN", token),
        // Nothing listens here: the refusal must come before any text could be sent.
        ("CRHT_NOTIFY_API_BASE", "http://127.0.0.1:9"),
        ("CRHT_BIND", "127.0.0.1:0"),
        ("CRHT_TEAMS_FILE", TEAMS_FILE),
    ];
    for command in [&["serve"][..], &["config", "check"]] {
        let (output, text) = run(command, &env);
        assert!(!output.status.success(), "{command:?}: {text}");
        assert!(
            text.contains("CRHT_NOTIFY_SMS_TEMPLATE_ID")
                && text.contains("required when sms_provider is notify"),
            "{command:?}: {text}"
        );
        assert!(!text.contains(secret) && !text.contains(token), "{text}");
    }
    env.push((
        "CRHT_NOTIFY_SMS_TEMPLATE_ID",
        crate::helpers::NOTIFY_TEMPLATE_ID,
    ));
    let (output, text) = run(&["config", "check"], &env);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("sms provider: notify")
            && text.contains(crate::helpers::NOTIFY_SERVICE_ID)
            && text.contains(crate::helpers::NOTIFY_TEMPLATE_ID),
        "{text}"
    );
    assert!(!text.contains(secret) && !text.contains(token), "{text}");
    // Without a callback token, receipts would be refused: said, not fatal.
    env.retain(|(k, _)| *k != "CRHT_NOTIFY_CALLBACK_TOKEN");
    let (output, text) = run(&["config", "check"], &env);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("warning:") && text.contains("CRHT_NOTIFY_CALLBACK_TOKEN"),
        "{text}"
    );
    // The shipped example's on-call numbers stop Notify as they stop Twilio.
    env.retain(|(k, _)| *k != "CRHT_TEAMS_FILE");
    let (output, text) = run(&["serve"], &env);
    assert!(!output.status.success(), "{text}");
    assert!(text.contains("refusing to start"), "{text}");
}

/// Bound to every address with a Twilio auth token, the gateway must be told the public
/// address Twilio calls: made from the bind, every signature would fail. `serve` refuses to
/// start and `config check` says why; given the address, neither complains of it.
#[test]
fn a_public_bind_with_a_twilio_token_needs_the_public_url_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("crht.db").display());
    let public = twilio_env(
        &database,
        &[("CRHT_BIND", "0.0.0.0:0"), ("CRHT_TEAMS_FILE", TEAMS_FILE)],
    );
    let (serve, text) = run(&["serve"], &public);
    assert!(!serve.status.success(), "{text}");
    assert!(text.contains("CRHT_PUBLIC_URL / public_url"), "{text}");
    assert!(!text.contains(SECRET), "{text}");
    let (check, text) = run(&["config", "check"], &public);
    assert!(!check.status.success(), "{text}");
    assert!(text.contains("CRHT_PUBLIC_URL / public_url"), "{text}");

    let mut given = public.clone();
    given.push(("CRHT_PUBLIC_URL", "https://crht.example.nhs.uk"));
    let (_, text) = run(&["config", "check"], &given);
    assert!(!text.contains("CRHT_PUBLIC_URL / public_url"), "{text}");
}
