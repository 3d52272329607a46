//! GOV.UK Notify as the SMS provider, end to end through a fake Notify that checks the JWT as
//! Notify does: texts out with our message id as reference, Notify's error codes, and its
//! delivery receipts behind the callback token.

use serde_json::{Value, json};

use crate::helpers::{
    Engine, FakeNotify, NOTIFY_SENDER_ID, NOTIFY_SERVICE_ID, NOTIFY_TEMPLATE_ID, NotifiedText,
    TestApp, spawn_app_with_env,
};
use crate::on_both_engines;

on_both_engines!(
    an_update_goes_through_notify_with_a_valid_token_and_our_message_id_as_reference,
    a_notify_server_error_is_tried_again_and_a_refusal_falls_back_to_a_letter,
    a_permanent_failure_falls_back_and_a_technical_failure_is_sent_again,
    callbacks_without_the_token_are_refused_and_change_nothing,
    twilios_webhooks_are_closed_when_notify_is_the_provider_without_a_twilio_token,
);

const MOBILE: &str = "+447911123456";

/// A gateway texting through a fresh fake Notify.
async fn gateway_on_notify(engine: Engine) -> (TestApp, FakeNotify) {
    let notify = FakeNotify::start().await;
    let app = spawn_app_with_env(engine, |_| {}, false, notify.env()).await;
    (app, notify)
}

/// A patient whose updates go by these channels; their id.
async fn patient_updated_by(app: &TestApp, channels: &[&str]) -> String {
    let patient = app
        .create_patient(json!({
            "name": "Sam Taylor",
            "mobile": "07911 123456",
            "address": {"lines": ["12 Park Row", "Leeds"], "postcode": "LS1 4DY"},
            "contact_preferences": {"update": channels},
        }))
        .await;
    patient["id"].as_str().unwrap().to_owned()
}

/// Sends an update and waits until Notify has accepted the `n`th text and the message is
/// recorded as sent; returns the message's id and that text.
async fn update_sent(
    app: &TestApp,
    notify: &FakeNotify,
    patient: &str,
    text: &str,
    n: usize,
) -> (String, NotifiedText) {
    let (status, message) = app.send_update(patient, text).await;
    assert_eq!(status, 202, "{message}");
    let sent = notify.wait_for(n).await;
    app.wait_for_messages(patient, |m| m[0]["status"] == "sent")
        .await;
    (
        message["id"].as_str().unwrap().to_owned(),
        sent[n - 1].clone(),
    )
}

fn statuses(message: &Value) -> Vec<String> {
    message["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn an_update_goes_through_notify_with_a_valid_token_and_our_message_id_as_reference(
    engine: Engine,
) {
    let (app, notify) = gateway_on_notify(engine).await;
    let patient = &patient_updated_by(&app, &["sms", "letter"]).await;
    let (message_id, sent) = update_sent(
        &app,
        &notify,
        patient,
        "Your new care coordinator is Alex.",
        1,
    )
    .await;
    assert_eq!(sent.phone_number, MOBILE);
    assert_eq!(sent.template_id, NOTIFY_TEMPLATE_ID);
    assert!(
        sent.body.contains("Your new care coordinator is Alex."),
        "personalisation.body: {}",
        sent.body
    );
    assert_eq!(sent.reference.as_deref(), Some(message_id.as_str()));
    assert_eq!(sent.sms_sender_id.as_deref(), Some(NOTIFY_SENDER_ID));
    assert_eq!(sent.issuer, NOTIFY_SERVICE_ID);
    assert_eq!(notify.refused(), 0, "every token was good");
    assert!(app.twilio.sent().is_empty(), "nothing through Twilio");
    // Notify's id is what its receipts name: delivered, once however often it is said.
    for _ in 0..2 {
        assert_eq!(notify.callback(&app.base, &sent, "delivered").await, 204);
    }
    let messages = app.messages(patient).await;
    assert_eq!(messages[0]["status"], "delivered");
    assert_eq!(
        statuses(&messages[0]),
        ["queued", "sending", "sent", "delivered"]
    );
    // A second text gets a fresh token (and a fresh notification).
    update_sent(&app, &notify, patient, "See you on Monday.", 2).await;
    assert_eq!(notify.refused(), 0);
    app.stop().await;
}

async fn a_notify_server_error_is_tried_again_and_a_refusal_falls_back_to_a_letter(engine: Engine) {
    let (app, notify) = gateway_on_notify(engine).await;
    let patient = &patient_updated_by(&app, &["sms", "letter"]).await;
    notify.fail_next(&[500, 429]);
    update_sent(&app, &notify, patient, "hello", 1).await;
    assert_eq!(notify.attempts(), 3, "a 500 and a 429 were tried again");
    assert_eq!(app.messages(patient).await[0]["channel"], "sms");

    // 400: Notify will never take it; the letter instead.
    notify.fail_next(&[400]);
    let (status, _) = app.send_update(patient, "second").await;
    assert_eq!(status, 202);
    let messages = app
        .wait_for_messages(patient, |m| m[0]["channel"] == "letter")
        .await;
    assert_eq!(messages[0]["skipped"][0]["reason"], "sms_failed_notify_400");
    assert_eq!(notify.attempts(), 4, "a 400 is not tried again");
    assert_eq!(notify.sent().len(), 1);
    let (_, tasks) = app
        .get(&app.scheduler, "/tasks?kind=letter&status=open")
        .await;
    assert_eq!(tasks["items"].as_array().unwrap().len(), 1, "{tasks}");
    let (_, record) = app
        .get(&app.scheduler, &format!("/patients/{patient}"))
        .await;
    assert_eq!(record["mobile_failed"], Value::Null, "the number is kept");
    app.stop().await;
}

async fn a_permanent_failure_falls_back_and_a_technical_failure_is_sent_again(engine: Engine) {
    let (app, notify) = gateway_on_notify(engine).await;
    let patient = &patient_updated_by(&app, &["sms", "letter"]).await;
    let (first, sent) = update_sent(&app, &notify, patient, "first", 1).await;
    assert_eq!(
        notify.callback(&app.base, &sent, "permanent-failure").await,
        204
    );
    let messages = app
        .wait_for_messages(patient, |m| m[0]["channel"] == "letter")
        .await;
    assert_eq!(messages[0]["id"], first.as_str());
    assert_eq!(
        messages[0]["skipped"][0]["reason"],
        "sms_failed_permanent-failure"
    );
    let (_, tasks) = app
        .get(&app.scheduler, "/tasks?kind=letter&status=open")
        .await;
    assert_eq!(tasks["items"].as_array().unwrap().len(), 1, "{tasks}");
    // Repeated, it changes nothing.
    assert_eq!(
        notify.callback(&app.base, &sent, "permanent-failure").await,
        204
    );
    let (_, tasks) = app
        .get(&app.scheduler, "/tasks?kind=letter&status=open")
        .await;
    assert_eq!(tasks["items"].as_array().unwrap().len(), 1, "{tasks}");

    // Trouble between Notify and the network: the same message is sent again.
    let (second, sent) = update_sent(&app, &notify, patient, "second", 2).await;
    assert_eq!(
        notify.callback(&app.base, &sent, "technical-failure").await,
        204
    );
    let again = notify.wait_for(3).await;
    assert_eq!(again[2].reference.as_deref(), Some(second.as_str()));
    assert_ne!(again[2].id, sent.id, "a new notification");
    let messages = app
        .wait_for_messages(patient, |m| m[0]["status"] == "sent")
        .await;
    assert_eq!(messages[0]["channel"], "sms");
    // A temporary failure is sent again too; the resend is delivered.
    assert_eq!(
        notify
            .callback(&app.base, &again[2], "temporary-failure")
            .await,
        204
    );
    let again = notify.wait_for(4).await;
    assert_eq!(again[3].reference.as_deref(), Some(second.as_str()));
    app.wait_for_messages(patient, |m| m[0]["status"] == "sent")
        .await;
    assert_eq!(
        notify.callback(&app.base, &again[3], "delivered").await,
        204
    );
    let messages = app.messages(patient).await;
    assert_eq!(messages[0]["status"], "delivered");
    let (_, record) = app
        .get(&app.scheduler, &format!("/patients/{patient}"))
        .await;
    assert_eq!(record["mobile_failed"], Value::Null);
    app.stop().await;
}

async fn callbacks_without_the_token_are_refused_and_change_nothing(engine: Engine) {
    let (app, notify) = gateway_on_notify(engine).await;
    let patient = &patient_updated_by(&app, &["sms", "letter"]).await;
    let (_, sent) = update_sent(&app, &notify, patient, "hello", 1).await;
    for token in [
        None,
        Some("wrong-token-0123456789"),
        Some("notify-callback-token"),
        Some(""),
    ] {
        assert_eq!(
            notify
                .callback_with(&app.base, token, &sent, "permanent-failure")
                .await,
            401,
            "{token:?}"
        );
    }
    // Not a bearer token at all.
    let response = app
        .http
        .post(app.url("/webhooks/notify/status"))
        .header("Authorization", "Basic bm90aWZ5Om5vdGlmeQ==")
        .json(&json!({"id": sent.id, "status": "delivered"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let messages = app.messages(patient).await;
    assert_eq!(messages[0]["status"], "sent", "nothing changed");
    assert_eq!(messages[0]["channel"], "sms");
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM delivery_receipts")
            .await,
        0
    );

    // With the token: bad JSON is a problem, an unknown status is kept and moves nothing.
    let response = app
        .http
        .post(app.url("/webhooks/notify/status"))
        .bearer_auth(crate::helpers::NOTIFY_CALLBACK_TOKEN)
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(notify.callback(&app.base, &sent, "pending").await, 204);
    let unknown = NotifiedText {
        id: "00000000-0000-4000-8000-000000000000".into(),
        ..sent.clone()
    };
    assert_eq!(notify.callback(&app.base, &unknown, "delivered").await, 204);
    let messages = app.messages(patient).await;
    assert_eq!(messages[0]["status"], "sent");

    // The fake itself refuses what Notify refuses: a stale token.
    let stale = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"iss": NOTIFY_SERVICE_ID, "iat": chrono::Utc::now().timestamp() - 60}),
        &jsonwebtoken::EncodingKey::from_secret(crate::helpers::NOTIFY_SECRET.as_bytes()).unwrap(),
    )
    .unwrap();
    let response = app
        .http
        .post(format!("{}/v2/notifications/sms", notify.base))
        .bearer_auth(stale)
        .json(&json!({"phone_number": MOBILE, "template_id": NOTIFY_TEMPLATE_ID}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status_code"], 403);
    assert_eq!(body["errors"][0]["error"], "AuthError");
    app.stop().await;
}

async fn twilios_webhooks_are_closed_when_notify_is_the_provider_without_a_twilio_token(
    engine: Engine,
) {
    let notify = FakeNotify::start().await;
    let app = spawn_app_with_env(engine, |c| c.twilio.auth_token = None, false, notify.env()).await;
    for path in ["/webhooks/twilio/sms", "/webhooks/twilio/status"] {
        let status = app
            .post_form_signed_with(
                &app.url(path),
                None,
                &[
                    ("MessageSid", "SM0001"),
                    ("MessageStatus", "delivered"),
                    ("From", MOBILE),
                    ("Body", "hello"),
                ],
            )
            .await
            .status();
        assert_eq!(
            status, 403,
            "{path}: unsigned posts are a Twilio gateway's only"
        );
    }
    assert_eq!(app.sql_count("SELECT COUNT(*) FROM texts").await, 0);
    app.stop().await;
}
