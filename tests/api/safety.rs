//! SPEC.md's safety rules, each tested by name, on both engines.

use serde_json::Value;

use crate::helpers::{Engine, SELF_REFERRAL, spawn_app};
use crate::on_both_engines;

on_both_engines!(
    safety_rule_1_first_reply_in_any_new_conversation_says_call_999,
    safety_rule_2_a_risk_text_gets_999_at_once_is_flagged_urgent_and_alerts_on_call,
    safety_rule_2_risk_is_screened_at_any_point_even_after_stop_or_submission,
    safety_rule_2_a_negated_phrase_alone_is_not_a_risk_signal,
    safety_rule_2_urgent_referrals_head_the_triage_queue,
    safety_rule_3_not_safe_or_not_sure_right_now_is_urgent,
    safety_rule_4_a_stored_text_is_in_the_transcript_and_a_retry_changes_nothing,
    safety_rule_4_each_text_is_stored_once_even_when_retries_race,
    safety_rule_5_under_18s_get_the_young_peoples_route_and_999_and_are_recorded,
);

const PHONE: &str = "+447911123456";

async fn safety_rule_1_first_reply_in_any_new_conversation_says_call_999(engine: Engine) {
    let mut app = spawn_app(engine).await;
    for (i, first) in ["hello", "1", "HELP", "STOP", "", "😢", "مدد چاہیے"]
        .iter()
        .enumerate()
    {
        let phone = format!("+4479111299{:02}", i);
        let reply = app.text(&phone, first).await;
        assert_eq!(reply.status, 200);
        assert!(
            reply.text().contains("999"),
            "first text {first:?} got {:?}",
            reply.text()
        );
    }
    // A new conversation after RESTART also begins with 999.
    app.text(PHONE, "hi").await;
    app.answer_steps(PHONE, SELF_REFERRAL).await;
    let again = app.text(PHONE, "RESTART").await;
    assert!(again.text().contains("999"));
    app.stop().await;
}

async fn safety_rule_2_a_risk_text_gets_999_at_once_is_flagged_urgent_and_alerts_on_call(
    engine: Engine,
) {
    let mut app = spawn_app(engine).await;
    app.start_referral(
        PHONE,
        &[
            ("relationship", "1"),
            ("name", "Sam"),
            ("age", "34"),
            ("postcode", "LS1 4DY"),
        ],
    )
    .await;
    let reply = app.text(PHONE, "I want to kill myself tonight").await;
    assert_eq!(reply.status, 200);
    assert!(reply.text().contains("999"), "{}", reply.text());

    let referral = app.referral_of(PHONE).await;
    assert_eq!(referral["urgent"], true);
    assert!(
        referral["risk_signals"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "suicidal_intent"),
        "{}",
        referral["risk_signals"]
    );
    assert!(referral["urgent_at"].is_string());

    // The Leeds team's two on-call numbers each get an alert through the job queue.
    let sent = app.twilio.wait_for(2).await;
    let mut to: Vec<_> = sent.iter().map(|s| s.to.clone()).collect();
    to.sort();
    assert_eq!(to, ["+447911200011", "+447911200012"]);
    for alert in &sent {
        assert!(
            alert.authorised,
            "basic auth with the account SID and token"
        );
        assert_eq!(alert.account_sid, crate::helpers::ACCOUNT_SID);
        assert_eq!(alert.from, "+447520667111");
        assert!(
            alert.body.contains(referral["reference"].as_str().unwrap()),
            "{}",
            alert.body
        );
        assert!(alert.body.contains("Leeds"), "{}", alert.body);
        assert!(
            !alert.body.contains("7911123456") && !alert.body.contains("kill"),
            "reference and team only"
        );
        assert_eq!(
            alert.status_callback.as_deref(),
            Some(format!("{}/webhooks/twilio/status", app.base).as_str())
        );
    }
    let alerts = wait_for_alerts_sent(&app, referral["id"].as_str().unwrap(), 2).await;
    assert_eq!(alerts.len(), 2);

    // Another risk text: still urgent, no second round of alerts for the same referral.
    app.text(PHONE, "I have the pills ready").await;
    let referral = app.referral_of(PHONE).await;
    assert!(
        referral["risk_signals"].as_array().unwrap().len() >= 2,
        "{}",
        referral["risk_signals"]
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(app.twilio.sent().len(), 2);
    app.stop().await;
}

async fn wait_for_alerts_sent(
    app: &crate::helpers::TestApp,
    referral_id: &str,
    n: usize,
) -> Vec<Value> {
    let sent = |referral: &Value| {
        let alerts = referral["alerts"].as_array().cloned().unwrap_or_default();
        alerts.iter().filter(|a| a["status"] == "sent").count()
    };
    let referral = app.referral_when(referral_id, |r| sent(r) >= n).await;
    assert!(sent(&referral) >= n, "alerts never marked sent");
    referral["alerts"].as_array().cloned().unwrap_or_default()
}

async fn safety_rule_2_risk_is_screened_at_any_point_even_after_stop_or_submission(engine: Engine) {
    let mut app = spawn_app(engine).await;
    // As the very first text.
    let first = app.text("+447911000101", "i want to end it all").await;
    assert!(first.text().contains("999"));
    assert_eq!(app.referral_of("+447911000101").await["urgent"], true);

    // After opting out: the 999 reply still goes, and staff are alerted.
    app.text("+447911000102", "hello").await;
    app.text("+447911000102", "STOP").await;
    let after_stop = app
        .text("+447911000102", "I have taken 30 paracetamol")
        .await;
    assert!(after_stop.text().contains("999"), "{:?}", after_stop.texts);
    assert_eq!(app.referral_of("+447911000102").await["urgent"], true);

    // After the referral was submitted.
    app.start_referral(PHONE, SELF_REFERRAL).await;
    let after = app
        .text(PHONE, "i cant go on, going to jump off the bridge")
        .await;
    assert!(after.text().contains("999"));
    let referral = app.referral_of(PHONE).await;
    assert_eq!(referral["urgent"], true);
    assert_eq!(referral["status"], "submitted");

    // Each urgent referral alerted its team's on-call (default team: 2 numbers; Leeds: 2).
    app.twilio.wait_for(6).await;
    app.stop().await;
}

async fn safety_rule_2_a_negated_phrase_alone_is_not_a_risk_signal(engine: Engine) {
    let mut app = spawn_app(engine).await;
    app.text(PHONE, "hello").await;
    let reply = app
        .text(PHONE, "I'm not going to hurt myself, I just need to talk")
        .await;
    assert!(
        !reply.text().contains("marked this as urgent"),
        "{}",
        reply.text()
    );
    let referral = app.referral_of(PHONE).await;
    assert_eq!(referral["urgent"], false);
    assert_eq!(referral["risk_signals"], serde_json::json!([]));
    // When unsure, flag.
    let unsure = app.text(PHONE, "I'm not sure I won't hurt myself").await;
    assert!(unsure.text().contains("999"));
    assert_eq!(app.referral_of(PHONE).await["urgent"], true);
    app.stop().await;
}

async fn safety_rule_2_urgent_referrals_head_the_triage_queue(engine: Engine) {
    let mut app = spawn_app(engine).await;
    app.text("+447911000201", "hello").await;
    app.text("+447911000202", "hello").await;
    app.text("+447911000203", "I want to die").await;
    app.text("+447911000204", "hello").await;
    let (status, queue) = app.get(&app.clinician, "/referrals").await;
    assert_eq!(status, 200);
    let items = queue["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    assert_eq!(items[0]["urgent"], true, "urgent first");
    let rest: Vec<_> = items[1..]
        .iter()
        .map(|r| r["created_at"].as_str().unwrap().to_owned())
        .collect();
    let mut sorted = rest.clone();
    sorted.sort();
    assert_eq!(rest, sorted, "then oldest first");
    app.stop().await;
}

async fn safety_rule_3_not_safe_or_not_sure_right_now_is_urgent(engine: Engine) {
    let mut app = spawn_app(engine).await;
    for (phone, answer, signal) in [
        ("+447911000301", "2", "not_safe_now"),
        ("+447911000302", "not sure", "unsure_if_safe_now"),
    ] {
        let reply = app
            .start_referral(
                phone,
                &[
                    ("relationship", "1"),
                    ("name", "Sam"),
                    ("age", "34"),
                    ("postcode", "WF1 2AB"),
                    ("safety", answer),
                ],
            )
            .await;
        assert!(reply.text().contains("999"), "{}", reply.text());
        let referral = app.referral_of(phone).await;
        assert_eq!(referral["urgent"], true);
        assert_eq!(referral["risk_signals"], serde_json::json!([signal]));
        assert_eq!(
            app.conversation(phone).await["step"],
            "situation",
            "the conversation carries on"
        );
    }
    // Wakefield has one on-call number: one alert per urgent referral.
    let sent = app.twilio.wait_for(2).await;
    assert!(sent.iter().all(|s| s.to == "+447911200031"));
    app.stop().await;
}

async fn safety_rule_4_a_stored_text_is_in_the_transcript_and_a_retry_changes_nothing(
    engine: Engine,
) {
    let mut app = spawn_app(engine).await;
    app.text(PHONE, "hello").await;
    let sid = "SMretry000000000000000000000000001";
    let first = app.text_with_sid(PHONE, "1", sid).await;
    assert_eq!(first.status, 200);
    let retry = app.text_with_sid(PHONE, "1", sid).await;
    assert_eq!(retry.status, 200);
    assert_eq!(retry.texts, first.texts, "the same reply again");
    let conversation = app.conversation(PHONE).await;
    assert_eq!(conversation["step"], "name", "the step was applied once");
    let transcript = app
        .transcript(conversation["referral_id"].as_str().unwrap())
        .await;
    let items = transcript["items"].as_array().unwrap();
    assert_eq!(items.iter().filter(|t| t["provider_id"] == sid).count(), 1);
    assert_eq!(items.len(), 4, "two texts in, two replies out");

    // A risk text retried: one alert round only.
    let risky = "SMretry000000000000000000000000002";
    app.text_with_sid(PHONE, "I want to kill myself", risky)
        .await;
    app.text_with_sid(PHONE, "I want to kill myself", risky)
        .await;
    app.twilio.wait_for(2).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(app.twilio.sent().len(), 2);
    app.stop().await;
}

async fn safety_rule_4_each_text_is_stored_once_even_when_retries_race(engine: Engine) {
    let mut app = spawn_app(engine).await;
    app.text(PHONE, "hello").await;
    let sid = "SMrace0000000000000000000000000001";
    let attempts = (0..8).map(|_| app.text_with_sid(PHONE, "1", sid));
    let replies = futures::future::join_all(attempts).await;
    assert!(replies.iter().all(|r| r.status == 200));
    assert!(replies.windows(2).all(|w| w[0].texts == w[1].texts));
    let conversation = app.conversation(PHONE).await;
    assert_eq!(conversation["step"], "name");
    let transcript = app
        .transcript(conversation["referral_id"].as_str().unwrap())
        .await;
    assert_eq!(transcript["items"].as_array().unwrap().len(), 4);
    app.stop().await;
}

async fn safety_rule_5_under_18s_get_the_young_peoples_route_and_999_and_are_recorded(
    engine: Engine,
) {
    let mut app = spawn_app(engine).await;
    let reply = app
        .start_referral(
            PHONE,
            &[("relationship", "1"), ("name", "Jo"), ("age", "15")],
        )
        .await;
    let text = reply.text();
    assert!(
        text.contains("999") && text.contains("111") && text.contains("Childline"),
        "{text}"
    );
    let conversation = app.conversation(PHONE).await;
    assert_eq!(conversation["status"], "completed");
    let referral = app
        .referral(conversation["referral_id"].as_str().unwrap())
        .await;
    assert_eq!(referral["status"], "signposted");
    assert_eq!(referral["answers"]["age"]["over_18"], false);
    let (_, queue) = app
        .get(&app.clinician, "/referrals?status=signposted")
        .await;
    assert_eq!(
        queue["items"].as_array().unwrap().len(),
        1,
        "recorded for staff"
    );
    app.stop().await;
}
