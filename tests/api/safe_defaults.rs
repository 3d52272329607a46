//! Safe defaults a deployment starts from: the compose file publishes the gateway on the
//! host's loopback address only (a TLS proxy in front is the way in), and no answer of the
//! staff API, nor any console page, may be kept in a cache.

use serde_json::json;

use crate::helpers::{Engine, spawn_app};
use crate::on_both_engines;

const COMPOSE: &str = include_str!("../../docker-compose.yml");

/// The entries of every `ports:` list in a compose file, as written (quotes removed). Only
/// the short form is accepted, so that nothing published escapes this check.
fn published_ports(compose: &str) -> Vec<String> {
    let mut ports = Vec::new();
    let mut list_indent: Option<usize> = None;
    for line in compose.lines() {
        let content = line.split(" #").next().unwrap_or("").trim_end();
        let trimmed = content.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = content.len() - trimmed.len();
        if let Some(at) = list_indent {
            if indent > at && trimmed.starts_with("- ") {
                let entry = trimmed[2..].trim().trim_matches(|c| c == '"' || c == '\'');
                ports.push(entry.to_owned());
                continue;
            }
            assert!(
                indent <= at,
                "a ports entry not in the short \"host_ip:host:container\" form: {line}"
            );
            list_indent = None;
        }
        if let Some(rest) = trimmed.strip_prefix("ports:") {
            assert!(
                rest.trim().is_empty(),
                "ports written inline, which this check cannot read: {line}"
            );
            list_indent = Some(indent);
        }
    }
    ports
}

#[test]
fn docker_compose_publishes_the_gateway_on_the_loopback_address_only() {
    let ports = published_ports(COMPOSE);
    assert_eq!(ports, ["127.0.0.1:8080:8080"], "{ports:?}");
    for entry in &ports {
        assert!(
            entry.starts_with("127.0.0.1:") || entry.starts_with("[::1]:"),
            "published beyond loopback: {entry}"
        );
    }
    assert!(
        !COMPOSE.contains("network_mode: host"),
        "host networking would publish every port"
    );
    // The gateway is told the public address Twilio calls (required with a non-loopback
    // bind), and the file says what stands in front of it.
    assert!(COMPOSE.contains("CRHT_PUBLIC_URL: ${CRHT_PUBLIC_URL:?"));
    assert!(COMPOSE.contains("CRHT_BIND: 0.0.0.0:8080"));
    assert!(COMPOSE.contains("TLS-terminating reverse proxy"));
}

#[test]
fn the_compose_check_refuses_ports_open_to_every_address() {
    let open = "services:\n  gateway:\n    ports:\n      - \"8080:8080\"\n    environment:\n";
    assert_eq!(published_ports(open), ["8080:8080"]);
    let long = "services:\n  gateway:\n    ports:\n      - target: 8080\n        published: 8080\n";
    assert!(std::panic::catch_unwind(|| published_ports(long)).is_err());
    let inline = "services:\n  gateway:\n    ports: [\"8080:8080\"]\n";
    assert!(std::panic::catch_unwind(|| published_ports(inline)).is_err());
}

on_both_engines!(every_staff_api_answer_and_console_page_says_no_store);

async fn every_staff_api_answer_and_console_page_says_no_store(engine: Engine) {
    let app = spawn_app(engine).await;
    let patient = app
        .create_patient(json!({"name": "Sam Taylor", "mobile": "07911 123456"}))
        .await;
    let id = patient["id"].as_str().unwrap();
    let api = |method: reqwest::Method, path: &str| {
        app.http
            .request(method, app.url(&format!("/api/v1{path}")))
            .bearer_auth(&app.admin)
    };
    let requests = [
        (
            "a record",
            api(reqwest::Method::GET, &format!("/patients/{id}")),
        ),
        ("a list", api(reqwest::Method::GET, "/patients")),
        ("the audit log", api(reqwest::Method::GET, "/audit")),
        (
            "a write",
            app.http
                .post(app.url("/api/v1/patients"))
                .bearer_auth(&app.scheduler)
                .json(&json!({"name": "Alex Jones", "mobile": "07911 123457"})),
        ),
        (
            "not found",
            api(reqwest::Method::GET, "/patients/01JXXXXXXXXXXXXXXXXXXXXXXX"),
        ),
        (
            "no token",
            app.http.get(app.url(&format!("/api/v1/patients/{id}"))),
        ),
        (
            "a forbidden role",
            app.http
                .get(app.url("/api/v1/audit"))
                .bearer_auth(&app.scheduler),
        ),
        (
            "a bad body",
            app.http
                .post(app.url("/api/v1/patients"))
                .bearer_auth(&app.scheduler)
                .header("content-type", "application/json")
                .body("{not json"),
        ),
        ("no such route", api(reqwest::Method::GET, "/no-such-thing")),
        ("a wrong method", api(reqwest::Method::PUT, "/patients")),
    ];
    let mut statuses = Vec::new();
    for (what, request) in requests {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        statuses.push(status);
        let headers = response.headers().clone();
        let body = response.text().await.unwrap();
        assert!(
            what != "a write" || status == 201,
            "{what}: {status} {body}"
        );
        assert_eq!(
            headers.get("cache-control").map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{what} ({status}): {headers:?}"
        );
    }
    for status in [200, 201, 404, 401, 403, 400, 405] {
        assert!(statuses.contains(&status), "{status} in {statuses:?}");
    }
    // Console pages, and the redirects to sign in (not followed here), too.
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for path in [
        "/login",
        "/console",
        "/console/referrals",
        "/console/referrals/live",
    ] {
        let response = browser.get(app.url(path)).send().await.unwrap();
        assert_eq!(
            response
                .headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{path}"
        );
    }
    app.stop().await;
}
