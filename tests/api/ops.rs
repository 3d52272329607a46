//! Operations endpoints.

use crate::helpers::{Engine, spawn_app};
use crate::on_both_engines;

on_both_engines!(health_readiness_metrics_and_openapi_answer);

async fn health_readiness_metrics_and_openapi_answer(engine: Engine) {
    let mut app = spawn_app(engine).await;
    let health = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);

    app.text("+447911123456", "hello").await;
    let metrics = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(text.contains("crht_inbound_texts_total 1"), "{text}");
    assert!(text.contains("route=\"/webhooks/twilio/sms\""), "{text}");
    assert!(!text.contains("7911123456"), "no phone numbers in metrics");

    let openapi: serde_json::Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(openapi["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/referrals",
        "/api/v1/referrals/{id}",
        "/api/v1/referrals/{id}/transcript",
        "/api/v1/referrals/{id}/status",
        "/api/v1/conversations/{phone}",
        "/api/v1/audit",
    ] {
        assert!(
            openapi["paths"][path].is_object(),
            "{path} missing from openapi.json"
        );
    }
    app.stop().await;
}
