//! Operations endpoints.

use crate::helpers::{Engine, spawn_app};
use crate::on_both_engines;

on_both_engines!(
    health_readiness_metrics_and_openapi_answer,
    openapi_puts_query_parameters_in_the_query,
);

async fn health_readiness_metrics_and_openapi_answer(engine: Engine) {
    let mut app = spawn_app(engine).await;
    let health = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);

    app.text("+447911123456", "hello").await;
    let (status, text) = app.metrics().await;
    assert_eq!(status, 200);
    assert!(text.contains("crht_inbound_texts_total 1"), "{text}");
    assert!(text.contains("route=\"/webhooks/twilio/sms\""), "{text}");
    assert!(!text.contains("7911123456"), "no phone numbers in metrics");

    let openapi = app.openapi().await;
    assert!(openapi["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/referrals",
        "/api/v1/referrals/{id}",
        "/api/v1/referrals/{id}/transcript",
        "/api/v1/referrals/{id}/status",
        "/api/v1/conversations/{phone}",
        "/api/v1/audit",
        "/webhooks/twilio/sms",
        "/webhooks/twilio/status",
        "/webhooks/notify/status",
        "/webhooks/notify/inbound",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(
            openapi["paths"][path].is_object(),
            "{path} missing from openapi.json"
        );
    }
    app.stop().await;
}

/// Every name the staff API reads from a `?` query string.
const QUERY_NAMES: [&str; 12] = [
    "limit", "status", "team", "kind", "urgent", "mobile", "q", "from", "to", "cursor", "actor",
    "target",
];

/// The document tells a client where each parameter goes: a `?` filter is an optional query
/// parameter, and a path parameter is one the path template names.
async fn openapi_puts_query_parameters_in_the_query(engine: Engine) {
    let app = spawn_app(engine).await;
    let openapi = app.openapi().await;
    let mut query_parameters = Vec::new();
    for (path, operations) in openapi["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let Some(parameters) = operation["parameters"].as_array() else {
                continue;
            };
            for parameter in parameters {
                let name = parameter["name"].as_str().unwrap();
                let place = parameter["in"].as_str().unwrap();
                let required = parameter["required"].as_bool().unwrap_or(false);
                let at = format!("{method} {path} parameter {name}");
                if place == "path" {
                    assert!(
                        path.contains(&format!("{{{name}}}")),
                        "{at}: not in the path"
                    );
                    assert!(required, "{at}: a path parameter is required");
                }
                if QUERY_NAMES.contains(&name) && !path.contains(&format!("{{{name}}}")) {
                    assert_eq!(place, "query", "{at}");
                    assert!(!required, "{at}: a filter is optional");
                    query_parameters.push(format!("{method} {path}?{name}"));
                }
            }
        }
    }
    for expected in [
        "get /api/v1/referrals?status",
        "get /api/v1/referrals?limit",
        "get /api/v1/patients?mobile",
        "get /api/v1/patients?urgent",
        "get /api/v1/patients?limit",
        "get /api/v1/tasks?kind",
        "get /api/v1/tasks?status",
        "get /api/v1/tasks?limit",
        "get /api/v1/inbox?status",
        "get /api/v1/inbox?limit",
        "get /api/v1/audit?limit",
    ] {
        assert!(
            query_parameters.iter().any(|p| p == expected),
            "{expected} missing from openapi.json: {query_parameters:?}"
        );
    }
    app.stop().await;
}
