//! Hostile input at the edges: random and malformed webhooks and staff requests never get a
//! 5xx; a flood from one number cannot run up the bill; old message words are forgotten.

use std::time::Duration;

use chrono::TimeDelta;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use serde_json::json;

use crate::helpers::{ACCOUNT_SID, Engine, spawn_app, spawn_app_with};
use crate::on_both_engines;

on_both_engines!(
    a_flood_from_one_number_is_stored_but_replies_are_capped,
    message_words_past_the_retention_period_are_removed_and_metadata_kept,
);

const PHONE: &str = "+447911123456";

/// A form field: the ones Twilio sends, and junk.
fn field() -> impl Strategy<Value = (String, String)> {
    let name = prop_oneof![
        Just("MessageSid".to_owned()),
        Just("From".to_owned()),
        Just("To".to_owned()),
        Just("Body".to_owned()),
        Just("NumMedia".to_owned()),
        Just("AccountSid".to_owned()),
        "[A-Za-z]{1,12}",
        any::<String>(),
    ];
    let value = prop_oneof![
        Just(PHONE.to_owned()),
        Just("07911 123457".to_owned()),
        Just("SM0123".to_owned()),
        Just(String::new()),
        "[0-9+ ]{0,20}",
        any::<String>(),
        proptest::collection::vec(any::<char>(), 0..2000).prop_map(|c| c.into_iter().collect()),
    ];
    (name, value)
}

/// Random forms, correctly signed (so they pass the signature check and reach the parser and
/// the conversation), and random JSON for the staff API: nothing may cause a 5xx, and every
/// 200 from the webhook is well-formed TwiML.
#[test]
fn random_webhooks_and_staff_requests_never_cause_a_server_error() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = runtime.block_on(spawn_app(Engine::Sqlite));
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let forms = proptest::collection::vec(field(), 0..8);
    runner
        .run(&forms, |form| {
            let status = runtime.block_on(async {
                let params: Vec<(&str, &str)> =
                    form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                let response = app.post_signed("/webhooks/twilio/sms", &params).await;
                let status = response.status().as_u16();
                let body = response.text().await.unwrap_or_default();
                if status == 200 {
                    assert!(
                        crht_gateway::twilio::twiml::messages(&body).is_ok(),
                        "{body}"
                    );
                }
                status
            });
            prop_assert!(
                matches!(status, 200 | 400 | 413),
                "status {status} for {form:?}"
            );
            Ok(())
        })
        .unwrap();

    let bodies = prop_oneof![
        any::<String>().prop_map(serde_json::Value::String),
        Just(json!({"name": null})),
        Just(json!({"name": "x", "mobile": 7})),
        Just(json!({"purpose": "update", "vars": [1, 2]})),
        Just(json!({"starts_at": "yesterday", "place": "moon", "kind": 3})),
        Just(json!({"status": {"deep": ["nest"]}})),
        Just(json!([])),
    ];
    let paths = prop_oneof![
        Just("/patients".to_owned()),
        Just("/patients/p1/messages".to_owned()),
        Just("/patients/p1/appointments".to_owned()),
        Just("/referrals/r1/status".to_owned()),
        Just("/referrals/r1/patient".to_owned()),
        Just("/tasks/t1/complete".to_owned()),
        "/[a-z/]{0,30}",
    ];
    runner
        .run(&(paths, bodies), |(path, body)| {
            let status = runtime
                .block_on(app.post_json(&app.admin, &path, body.clone()))
                .0;
            prop_assert!(status < 500, "status {status} for POST {path} {body}");
            Ok(())
        })
        .unwrap();
    runtime.block_on(app.stop());
}

/// An unsigned form, a stale signature replayed with changed fields, or a signature for a
/// different URL are all refused before anything is read into the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_replayed_and_unsigned_status_callbacks_are_refused() {
    let app = spawn_app(Engine::Sqlite).await;
    let url = app.url("/webhooks/twilio/status");
    let params = vec![
        ("MessageSid".to_owned(), "SM1".to_owned()),
        ("MessageStatus".to_owned(), "delivered".to_owned()),
        ("AccountSid".to_owned(), ACCOUNT_SID.to_owned()),
    ];
    let good = crht_gateway::twilio::signature::compute(crate::helpers::AUTH_TOKEN, &url, &params);
    let mut changed = params.clone();
    changed[1].1 = "undelivered".to_owned();
    for (signature, form) in [
        (None, &params),
        (Some("bm90IGEgc2lnbmF0dXJl".to_owned()), &params),
        (Some(good.clone()), &changed),
    ] {
        let response = app
            .post_form_signed_with(&url, signature.as_deref(), form)
            .await;
        assert_eq!(response.status(), 403);
    }
    let accepted = app.post_form_signed_with(&url, Some(&good), &params).await;
    assert!(accepted.status().is_success());
    app.stop().await;
}

async fn a_flood_from_one_number_is_stored_but_replies_are_capped(engine: Engine) {
    let mut app = spawn_app_with(engine, |c| c.reply_cap_per_hour = 5, false).await;
    for n in 0..5 {
        let reply = app.text(PHONE, &format!("text {n}")).await;
        assert_eq!(reply.texts.len(), 1, "reply {n} within the cap");
    }
    for n in 5..12 {
        let reply = app.text(PHONE, &format!("text {n}")).await;
        assert_eq!(reply.status, 200, "still stored");
        assert!(reply.texts.is_empty(), "no reply past the cap");
    }
    // A risk text is always answered.
    let risk = app.text(PHONE, "I want to kill myself").await;
    assert!(risk.text().contains("999"));
    // Other numbers are not affected.
    let other = app.text("+447911123457", "hello").await;
    assert_eq!(other.texts.len(), 1);
    let transcript = app.transcript_of(PHONE).await;
    let inbound = transcript["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["direction"] == "inbound")
        .count();
    assert_eq!(inbound, 13, "every text kept");
    app.stop().await;
}

async fn message_words_past_the_retention_period_are_removed_and_metadata_kept(engine: Engine) {
    let mut app = spawn_app_with(engine, |c| c.retention_days = 90, true).await;
    app.text(PHONE, "hello").await;
    app.text(PHONE, "1").await;
    let patient = app
        .create_patient(json!({"name": "Sam Taylor", "mobile": "07911 123457",
            "address": {"lines": ["1 Park Row"], "postcode": "LS1 4DY"}}))
        .await;
    let id = patient["id"].as_str().unwrap();
    let (status, _) = app.send_update(id, "Your worker is Alex").await;
    assert_eq!(status, 202);
    app.twilio.wait_for(1).await;
    let referral_id = app.referral_id_of(PHONE).await;
    app.get(&app.admin, &format!("/referrals/{referral_id}"))
        .await;
    // Only a closed referral's words go (an open one's may still be needed).
    let (status, body) = app
        .post_json(
            &app.clinician,
            &format!("/referrals/{referral_id}/status"),
            json!({"status": "closed"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // Only a discharged patient's words go; their feedback request follows two days later.
    let (status, body) = app
        .post_json(
            &app.clinician,
            &format!("/patients/{id}/discharge"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    app.advance(TimeDelta::days(3));
    app.app.sweep().await.unwrap();
    app.twilio.wait_for(2).await;

    // 89 days after the referral closed: still kept.
    app.advance(TimeDelta::days(86));
    app.app.sweep().await.unwrap();
    let transcript = app.transcript(&referral_id).await;
    assert_eq!(
        transcript["items"][0]["body"], "hello",
        "kept within 90 days"
    );

    // Past 90 days from the feedback request, the patient's last message.
    app.advance(TimeDelta::days(5));
    app.app.sweep().await.unwrap();
    let transcript = app.transcript(&referral_id).await;
    let items = transcript["items"].as_array().unwrap();
    assert_eq!(items.len(), 4, "every text still listed");
    assert!(items.iter().all(|t| t["body"].is_null()), "{transcript}");
    assert!(items[0]["provider_id"].is_string() && items[0]["at"].is_string());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let messages = app.messages(id).await;
    assert_eq!(messages.len(), 2, "the update and the feedback request");
    for message in &messages {
        assert!(message["body"].is_null(), "{message}");
        assert_eq!(message["channel"], "sms");
        assert!(!message["history"].as_array().unwrap().is_empty());
    }
    assert!(
        app.audit_entries()
            .await
            .iter()
            .any(|e| e["action"] == "referral.read"),
        "the audit log is kept"
    );
    let referral = app.referral(&referral_id).await;
    assert_eq!(
        referral["answers"]["relationship"], "self",
        "the referral's choices are kept"
    );
    app.stop().await;
}
