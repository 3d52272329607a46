//! Two providers in order (`CRHT_SMS_PROVIDERS=twilio,notify`): the second takes over when the
//! first has failed for `CRHT_FAILOVER_AFTER`, the first is tried again after as long; and
//! messages to patients leave from `CRHT_REMINDER_FROM`, apart from the referral number.

use serde_json::json;

use crate::helpers::{Engine, FakeNotify, NOTIFY_SENDER_ID, TestApp, spawn_app_with_env};
use crate::on_both_engines;

on_both_engines!(
    when_twilio_fails_for_the_wait_notify_takes_over_and_twilio_comes_back_after_its_rest,
    reminders_leave_from_their_own_number_and_alerts_from_the_referral_number,
    with_notify_reminders_use_their_own_sender_and_alerts_the_referral_numbers,
);

const REMINDERS_NUMBER: &str = "+447911123999";
const REMINDERS_SENDER: &str = "0b9a4c2e-5d1f-4e8a-9b7c-3f2e1d0c9b8a";
const REFERRAL_NUMBER: &str = "+447520667111";

/// Twilio first, the fake Notify second, handing over after two seconds.
async fn gateway_on_two_providers(engine: Engine, extra: &[(&str, &str)]) -> (TestApp, FakeNotify) {
    let notify = FakeNotify::start().await;
    let env = notify
        .env()
        .into_iter()
        .filter(|(k, _)| k != "CRHT_SMS_PROVIDER")
        .chain(
            [
                ("CRHT_SMS_PROVIDERS", "twilio,notify"),
                ("CRHT_FAILOVER_AFTER", "2s"),
            ]
            .iter()
            .chain(extra)
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        )
        .collect();
    let app = spawn_app_with_env(engine, |_| {}, false, env).await;
    (app, notify)
}

async fn patient(app: &TestApp) -> String {
    let patient = app
        .create_patient(json!({
            "name": "Sam Taylor",
            "mobile": "07911 123456",
            "address": {"lines": ["12 Park Row", "Leeds"], "postcode": "LS1 4DY"},
            "contact_preferences": {"update": ["sms", "letter"]},
        }))
        .await;
    patient["id"].as_str().unwrap().to_owned()
}

fn metric(text: &str, line_start: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn when_twilio_fails_for_the_wait_notify_takes_over_and_twilio_comes_back_after_its_rest(
    engine: Engine,
) {
    let (app, notify) = gateway_on_two_providers(engine, &[]).await;
    let patient = &patient(&app).await;
    let (_, metrics) = app.metrics().await;
    assert_eq!(
        metric(&metrics, r#"crht_sms_provider_in_use{provider="twilio"}"#),
        Some(1.0),
        "{metrics}"
    );

    // Twilio is down: every answer a 500 for longer than the two-second wait.
    app.twilio.fail_next(&[500; 8]);
    let (status, message) = app
        .send_update(patient, "Your nurse will ring at 3pm.")
        .await;
    assert_eq!(status, 202, "{message}");
    let sent = notify.wait_for(1).await;
    assert!(
        sent[0].body.contains("Your nurse will ring at 3pm."),
        "{}",
        sent[0].body
    );
    assert_eq!(sent[0].phone_number, "+447911123456");
    let messages = app
        .wait_for_messages(patient, |m| m[0]["status"] == "sent")
        .await;
    assert_eq!(messages[0]["channel"], "sms", "sent by text, no fallback");
    assert!(app.twilio.sent().is_empty());
    assert!(app.twilio.attempts() >= 2, "Twilio was tried first");

    let (_, metrics) = app.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            r#"crht_sms_failovers_total{from="twilio",to="notify"}"#
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, r#"crht_sms_provider_in_use{provider="notify"}"#),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &metrics,
            r#"crht_sms_provider_sends_total{provider="notify"}"#
        ),
        Some(1.0)
    );

    // While Twilio rests, the next text goes straight to Notify.
    let twilio_attempts = app.twilio.attempts();
    let (status, _) = app.send_update(patient, "Bring your blue folder.").await;
    assert_eq!(status, 202);
    notify.wait_for(2).await;
    assert_eq!(app.twilio.attempts(), twilio_attempts, "Twilio rests");

    // Twilio recovers; after its rest it is tried again, answers, and is back in use.
    app.twilio.recover();
    tokio::time::sleep(std::time::Duration::from_millis(2_200)).await;
    let (status, _) = app.send_update(patient, "See you on Tuesday.").await;
    assert_eq!(status, 202);
    let sent = app.twilio.wait_for(1).await;
    assert!(
        sent[0].body.contains("See you on Tuesday."),
        "{}",
        sent[0].body
    );
    assert_eq!(notify.sent().len(), 2);
    let (_, metrics) = app.metrics().await;
    assert_eq!(
        metric(&metrics, r#"crht_sms_provider_in_use{provider="twilio"}"#),
        Some(1.0),
        "{metrics}"
    );
}

async fn reminders_leave_from_their_own_number_and_alerts_from_the_referral_number(engine: Engine) {
    let (mut app, _notify) =
        gateway_on_two_providers(engine, &[("CRHT_REMINDER_FROM", REMINDERS_NUMBER)]).await;
    let patient = &patient(&app).await;
    let (status, _) = app
        .send_update(patient, "Your nurse will ring at 3pm.")
        .await;
    assert_eq!(status, 202);
    let sent = app.twilio.wait_for(1).await;
    assert_eq!(sent[0].to, "+447911123456");
    assert_eq!(sent[0].from, REMINDERS_NUMBER, "the reminders' own number");

    // A person at risk: the 999 reply is TwiML from the referral number, and the on-call
    // alerts go from the referral number too.
    let reply = app
        .text("+447911555111", "I want to kill myself tonight")
        .await;
    assert!(reply.text().contains("999"), "{}", reply.text());
    let sent = app.twilio.wait_for(2).await;
    let alerts: Vec<_> = sent.iter().filter(|s| s.to != "+447911123456").collect();
    assert!(!alerts.is_empty());
    for alert in alerts {
        assert_eq!(
            alert.from, REFERRAL_NUMBER,
            "on-call alerts: the referral number"
        );
    }
}

async fn with_notify_reminders_use_their_own_sender_and_alerts_the_referral_numbers(
    engine: Engine,
) {
    let notify = FakeNotify::start().await;
    let mut env = notify.env();
    env.push(("CRHT_REMINDER_FROM".into(), REMINDERS_SENDER.into()));
    let mut app = spawn_app_with_env(engine, |_| {}, false, env).await;
    let patient = &patient(&app).await;
    let (status, _) = app
        .send_update(patient, "Your nurse will ring at 3pm.")
        .await;
    assert_eq!(status, 202);
    let sent = notify.wait_for(1).await;
    assert_eq!(sent[0].sms_sender_id.as_deref(), Some(REMINDERS_SENDER));

    let reply = app
        .text("+447911555111", "I want to kill myself tonight")
        .await;
    assert!(reply.text().contains("999"), "{}", reply.text());
    let sent = notify.wait_for(2).await;
    let alerts: Vec<_> = sent
        .iter()
        .filter(|s| s.phone_number != "+447911123456")
        .collect();
    assert!(!alerts.is_empty());
    for alert in alerts {
        assert_eq!(alert.sms_sender_id.as_deref(), Some(NOTIFY_SENDER_ID));
    }
}
