//! The inbound webhook at the edge: signatures, sizes, odd texts.

use crate::helpers::{ACCOUNT_SID, Engine, spawn_app, spawn_app_with};
use crate::on_both_engines;

on_both_engines!(
    a_bad_or_missing_signature_is_refused_with_403_and_nothing_is_stored,
    a_signature_for_other_params_or_another_url_is_refused,
    long_emoji_and_non_latin_texts_are_stored_intact,
    an_oversized_body_is_refused_with_413,
    a_webhook_without_message_sid_is_a_clear_400_but_any_sender_is_answered,
    unsigned_webhooks_are_accepted_on_loopback_without_a_token,
    delivery_receipts_are_signed_and_move_status_forward_only,
);

const PHONE: &str = "+447911123456";

async fn count_referrals(app: &crate::helpers::TestApp) -> usize {
    let (_, queue) = app.get(&app.admin, "/referrals").await;
    queue["items"].as_array().unwrap().len()
}

async fn a_bad_or_missing_signature_is_refused_with_403_and_nothing_is_stored(engine: Engine) {
    let app = spawn_app(engine).await;
    let form = [
        ("MessageSid", "SM00000000000000000000000000000001"),
        ("From", PHONE),
        ("To", "+447520667111"),
        ("Body", "hello"),
    ];
    let url = app.url("/webhooks/twilio/sms");
    let unsigned = app.post_form_signed_with(&url, None, &form).await;
    assert_eq!(unsigned.status(), 403);
    assert_eq!(
        unsigned.headers()["content-type"],
        "application/problem+json"
    );
    let forged = app
        .post_form_signed_with(&url, Some("Zm9yZ2Vk"), &form)
        .await;
    assert_eq!(forged.status(), 403);
    assert_eq!(count_referrals(&app).await, 0);
    let (status, _) = app
        .get(
            &app.admin,
            &format!("/conversations/{}", crate::helpers::urlencode(PHONE)),
        )
        .await;
    assert_eq!(status, 404, "nothing stored");
    app.stop().await;
}

async fn a_signature_for_other_params_or_another_url_is_refused(engine: Engine) {
    let app = spawn_app(engine).await;
    let signed_for = vec![
        (
            "MessageSid".to_owned(),
            "SM00000000000000000000000000000002".to_owned(),
        ),
        ("From".to_owned(), PHONE.to_owned()),
        ("Body".to_owned(), "hello".to_owned()),
    ];
    let url = app.url("/webhooks/twilio/sms");
    let signature =
        crht_gateway::twilio::signature::compute(crate::helpers::AUTH_TOKEN, &url, &signed_for);
    let mut changed = signed_for.clone();
    changed[2].1 = "I changed the words".to_owned();
    let replayed = app
        .post_form_signed_with(&url, Some(&signature), &changed)
        .await;
    assert_eq!(replayed.status(), 403, "replayed with changed params");
    let other_url = crht_gateway::twilio::signature::compute(
        crate::helpers::AUTH_TOKEN,
        "https://elsewhere.example/webhooks/twilio/sms",
        &signed_for,
    );
    let wrong_url = app
        .post_form_signed_with(&url, Some(&other_url), &signed_for)
        .await;
    assert_eq!(wrong_url.status(), 403);
    let genuine = app
        .post_form_signed_with(&url, Some(&signature), &signed_for)
        .await;
    assert_eq!(genuine.status(), 200);
    assert_eq!(count_referrals(&app).await, 1);
    app.stop().await;
}

async fn long_emoji_and_non_latin_texts_are_stored_intact(engine: Engine) {
    let mut app = spawn_app(engine).await;
    let long = "I have not slept for days and everything feels too much. ".repeat(27);
    let bodies = [
        "hello 😢🙏",
        "مجھے مدد چاہیے",
        "Potrzebuję pomocy, proszę",
        long.trim_end(),
        "line one\nline two + more & <tags>",
    ];
    for body in &bodies {
        let reply = app.text(PHONE, body).await;
        assert_eq!(reply.status, 200, "{}", reply.raw);
    }
    let transcript = app.transcript_of(PHONE).await;
    let inbound: Vec<_> = transcript["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["direction"] == "inbound")
        .map(|t| t["body"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(inbound, bodies.map(str::to_owned));
    app.stop().await;
}

async fn an_oversized_body_is_refused_with_413(engine: Engine) {
    let app = spawn_app(engine).await;
    let huge = "x".repeat(100 * 1024);
    let response = app
        .post_signed(
            "/webhooks/twilio/sms",
            &[
                ("MessageSid", "SM00000000000000000000000000000003"),
                ("From", PHONE),
                ("Body", &huge),
            ],
        )
        .await;
    assert_eq!(response.status(), 413);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(count_referrals(&app).await, 0);
    app.stop().await;
}

async fn a_webhook_without_message_sid_is_a_clear_400_but_any_sender_is_answered(engine: Engine) {
    let app = spawn_app(engine).await;
    let no_sid = app
        .post_signed(
            "/webhooks/twilio/sms",
            &[("From", PHONE), ("Body", "hello")],
        )
        .await;
    assert_eq!(no_sid.status(), 400);
    let body: serde_json::Value = no_sid.json().await.unwrap();
    assert!(body["detail"].as_str().unwrap().contains("MessageSid"));
    let bad_from = app
        .post_signed(
            "/webhooks/twilio/sms",
            &[
                ("MessageSid", "SM00000000000000000000000000000004"),
                ("From", "12345"),
                ("Body", "hello"),
            ],
        )
        .await;
    // Safety rule 7: a signed text is never refused over its sender; "12345" is kept as given.
    assert_eq!(bad_from.status(), 200);
    let reply = bad_from.text().await.unwrap();
    assert!(reply.contains("999"), "{reply}");
    assert_eq!(count_referrals(&app).await, 1);
    app.stop().await;
}

async fn unsigned_webhooks_are_accepted_on_loopback_without_a_token(engine: Engine) {
    let app = spawn_app_with(
        engine,
        |config| {
            config.twilio.auth_token = None;
            config.sms_providers = vec![crht_gateway::config::SmsProviderKind::Outbox];
        },
        false,
    )
    .await;
    let response = app
        .http
        .post(app.url("/webhooks/twilio/sms"))
        .form(&[
            ("MessageSid", "SM00000000000000000000000000000005"),
            ("AccountSid", ACCOUNT_SID),
            ("From", PHONE),
            ("Body", "hello"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("999"));
    app.stop().await;
}

async fn delivery_receipts_are_signed_and_move_status_forward_only(engine: Engine) {
    let mut app = spawn_app(engine).await;
    app.text(PHONE, "I want to kill myself").await;
    let sent = app.twilio.wait_for(2).await;
    assert_eq!(sent.len(), 2);
    let conversation = app.conversation(PHONE).await;
    let referral_id = conversation["referral_id"].as_str().unwrap().to_owned();
    // The fake gives SIDs SM000…001 and SM000…002; wait for both to be recorded as sent.
    app.referral_when(&referral_id, |r| {
        r["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["status"] == "sent")
    })
    .await;
    let sid = format!("SM{:032}", 1);
    let unsigned = app
        .post_form_signed_with(
            &app.url("/webhooks/twilio/status"),
            None,
            &[("MessageSid", sid.as_str()), ("MessageStatus", "delivered")],
        )
        .await;
    assert_eq!(unsigned.status(), 403);

    let delivered = app
        .post_signed(
            "/webhooks/twilio/status",
            &[("MessageSid", &sid), ("MessageStatus", "delivered")],
        )
        .await;
    assert!(delivered.status().is_success());
    let late = app
        .post_signed(
            "/webhooks/twilio/status",
            &[("MessageSid", &sid), ("MessageStatus", "sent")],
        )
        .await;
    assert!(late.status().is_success());
    let referral = app.referral(&referral_id).await;
    let statuses: Vec<_> = referral["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_str().unwrap().to_owned())
        .collect();
    assert!(statuses.contains(&"delivered".to_owned()), "{statuses:?}");
    app.stop().await;
}

/// A self-referral answered up to a Wakefield postcode (the team with one on-call number).
const TO_A_WAKEFIELD_POSTCODE: &[(&str, &str)] = &[
    ("relationship", "1"),
    ("name", "Sam"),
    ("age", "40"),
    ("postcode", "WF1 2AB"),
];

on_both_engines!(
    on_call_alerts_retry_with_backoff_through_provider_outages,
    a_permanent_provider_refusal_is_recorded_not_retried,
);

async fn on_call_alerts_retry_with_backoff_through_provider_outages(engine: Engine) {
    let mut app = spawn_app(engine).await;
    // Wakefield has one on-call number: one alert, which meets a 500, a 429 and a 503 first.
    // (Tests back off from 50 ms: 50 + 100 + 200 ms at least.)
    app.twilio.fail_next(&[500, 429, 503]);
    app.start_referral(PHONE, TO_A_WAKEFIELD_POSTCODE).await;
    let started = std::time::Instant::now();
    app.text(PHONE, "I am going to end my life").await;
    let sent = app.twilio.wait_for(1).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, "+447911200031");
    assert_eq!(app.twilio.attempts(), 4, "three failures, then success");
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(300),
        "the retries backed off ({:?})",
        started.elapsed()
    );
    let (_, metrics) = app.metrics().await;
    assert!(metrics.contains("crht_sms_retries_total 3"), "{metrics}");
    app.stop().await;
}

async fn a_permanent_provider_refusal_is_recorded_not_retried(engine: Engine) {
    let mut app = spawn_app(engine).await;
    app.twilio.fail_next(&[400]);
    app.start_referral(PHONE, TO_A_WAKEFIELD_POSTCODE).await;
    app.text(PHONE, "I am going to end my life").await;
    let referral_id = app.referral_id_of(PHONE).await;
    let alerts = app
        .referral_when(&referral_id, |r| r["alerts"][0]["status"] == "failed")
        .await["alerts"]
        .clone();
    assert_eq!(alerts[0]["status"], "failed", "{alerts}");
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert_eq!(
        app.twilio.attempts(),
        1,
        "a permanent refusal is not retried"
    );
    assert!(app.twilio.sent().is_empty());
    app.stop().await;
}
