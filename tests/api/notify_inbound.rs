//! Texts to the referral number through GOV.UK Notify's received-text callback: the same
//! intake as Twilio's, stored before the answer, recognised again by Notify's id, and the
//! gateway's replies sent as texts of their own (Notify takes no reply in the answer).

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{
    Engine, FakeNotify, NOTIFY_CALLBACK_TOKEN, NotifiedText, TestApp, spawn_app_with_env,
};
use crate::on_both_engines;

on_both_engines!(
    a_text_through_notify_is_stored_and_answered_by_a_text_through_notify,
    a_risk_text_through_notify_gets_999_sent_and_the_referral_is_urgent,
    the_same_notify_id_twice_stores_one_text_and_sends_its_replies_once,
    after_stop_only_the_confirmation_and_999_answers_go,
    a_reply_still_waiting_when_stop_arrives_is_held_back,
    a_received_text_without_the_token_is_refused_and_nothing_is_stored,
    a_malformed_received_text_is_a_bad_request,
    texts_come_in_through_notify_while_twilio_sends,
);

/// The person's number as Notify gives it, and as the gateway keeps it.
const NOTIFY_FROM: &str = "447911123456";
const MOBILE: &str = "+447911123456";

/// A gateway texting through a fresh fake Notify.
async fn gateway_on_notify(engine: Engine) -> (TestApp, FakeNotify) {
    let notify = FakeNotify::start().await;
    let app = spawn_app_with_env(engine, |_| {}, false, notify.env()).await;
    (app, notify)
}

/// What Notify accepted for the person (on-call alerts go to staff's own numbers), waiting
/// until there are at least `n` (up to 20 s: a text the queue tries again may take that).
async fn to_the_person(notify: &FakeNotify, n: usize) -> Vec<NotifiedText> {
    for _ in 0..400 {
        let sent: Vec<NotifiedText> = notify
            .sent()
            .into_iter()
            .filter(|t| t.phone_number == MOBILE)
            .collect();
        if sent.len() >= n {
            return sent;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "Notify did not accept {n} texts to the person: {:?}",
        notify.sent()
    );
}

/// Gives the delivery worker time to send anything still queued (to check nothing more went).
async fn settle() {
    tokio::time::sleep(Duration::from_millis(1500)).await;
}

fn items(body: &Value) -> Vec<Value> {
    body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {body}"))
        .clone()
}

/// The transcript once its last text's delivery status is `status`.
async fn transcript_when_last_is(app: &TestApp, referral_id: &str, status: &str) -> Vec<Value> {
    let mut transcript = items(&app.transcript(referral_id).await);
    for _ in 0..100 {
        if transcript
            .last()
            .is_some_and(|t| t["delivery_status"] == status)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        transcript = items(&app.transcript(referral_id).await);
    }
    transcript
}

async fn a_text_through_notify_is_stored_and_answered_by_a_text_through_notify(engine: Engine) {
    let (app, notify) = gateway_on_notify(engine).await;
    let id = "a7b1c2d3-0000-4000-8000-000000000001";
    assert_eq!(
        notify.receive(&app.base, id, NOTIFY_FROM, "hello").await,
        204
    );

    // The conversation's first reply, with 999, leaves through Notify to the sender.
    let sent = to_the_person(&notify, 1).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].body.contains("999"), "{}", sent[0].body);
    assert!(sent[0].reference.is_some(), "our message id as reference");
    assert!(app.twilio.sent().is_empty(), "nothing through Twilio");

    // Both texts are in the transcript; the reply names Notify's id once sent.
    let referral_id = app.referral_id_of(MOBILE).await;
    let transcript = transcript_when_last_is(&app, &referral_id, "sent").await;
    assert_eq!(transcript.len(), 2, "{transcript:?}");
    assert_eq!(transcript[0]["direction"], "inbound");
    assert_eq!(transcript[0]["body"], "hello");
    assert_eq!(transcript[0]["provider_id"], id);
    assert_eq!(transcript[1]["direction"], "outbound");
    assert_eq!(transcript[1]["body"], sent[0].body.as_str());
    assert_eq!(transcript[1]["delivery_status"], "sent");
    assert_eq!(transcript[1]["provider_id"], sent[0].id.as_str());
    assert!(
        transcript[1].get("sent_by").is_none(),
        "the gateway's own reply"
    );
    assert_eq!(app.conversation(MOBILE).await["step"], "relationship");

    // Notify's receipt for the reply reaches its transcript row.
    assert_eq!(notify.callback(&app.base, &sent[0], "delivered").await, 204);
    let transcript = transcript_when_last_is(&app, &referral_id, "delivered").await;
    assert_eq!(transcript[1]["delivery_status"], "delivered");

    // The conversation goes on the same way.
    let second = "a7b1c2d3-0000-4000-8000-000000000002";
    assert_eq!(
        notify.receive(&app.base, second, NOTIFY_FROM, "1").await,
        204
    );
    to_the_person(&notify, 2).await;
    assert_ne!(app.conversation(MOBILE).await["step"], "relationship");

    let (_, metrics) = app.metrics().await;
    assert!(metrics.contains("crht_inbound_texts_total 2"), "{metrics}");
    assert!(
        !metrics.contains("7911123456"),
        "no phone numbers in metrics"
    );
    app.stop().await;
}

async fn a_risk_text_through_notify_gets_999_sent_and_the_referral_is_urgent(engine: Engine) {
    let (app, notify) = gateway_on_notify(engine).await;
    let id = "b7b1c2d3-0000-4000-8000-000000000001";
    assert_eq!(
        notify
            .receive(&app.base, id, NOTIFY_FROM, "I want to end my life")
            .await,
        204
    );
    let sent = to_the_person(&notify, 1).await;
    assert!(sent[0].body.contains("999"), "{}", sent[0].body);
    let referral = app.referral_of(MOBILE).await;
    assert_eq!(referral["urgent"], true, "{referral}");
    assert!(
        !referral["risk_signals"].as_array().unwrap().is_empty(),
        "{referral}"
    );
    // On-call staff are alerted through the queue, as for a text through Twilio.
    assert!(
        !referral["alerts"].as_array().unwrap().is_empty(),
        "{referral}"
    );
    let (_, metrics) = app.metrics().await;
    assert!(metrics.contains("crht_urgent_flags_total 1"), "{metrics}");
    app.stop().await;
}

async fn the_same_notify_id_twice_stores_one_text_and_sends_its_replies_once(engine: Engine) {
    let (app, notify) = gateway_on_notify(engine).await;
    let id = "c7b1c2d3-0000-4000-8000-000000000001";
    for _ in 0..2 {
        assert_eq!(
            notify.receive(&app.base, id, NOTIFY_FROM, "hello").await,
            204
        );
    }
    to_the_person(&notify, 1).await;
    settle().await;
    assert_eq!(
        to_the_person(&notify, 1).await.len(),
        1,
        "the reply went once"
    );
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM texts WHERE direction = 'inbound'")
            .await,
        1
    );
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM messages WHERE purpose = 'reply'")
            .await,
        1
    );
    let (_, metrics) = app.metrics().await;
    assert!(metrics.contains("crht_inbound_texts_total 1"), "{metrics}");
    assert!(
        metrics.contains("crht_inbound_duplicates_total 1"),
        "{metrics}"
    );
    app.stop().await;
}

/// STOP means stop, but the confirmation of STOP still goes, and a person who then texts
/// about suicide is still answered with 999 (safety rule 2: at any point).
async fn after_stop_only_the_confirmation_and_999_answers_go(engine: Engine) {
    let (app, notify) = gateway_on_notify(engine).await;
    let texts = ["hello", "STOP", "ok", "I want to end my life"];
    for (n, words) in texts.into_iter().enumerate() {
        let id = format!("d7b1c2d3-0000-4000-8000-{n:012}");
        assert_eq!(
            notify.receive(&app.base, &id, NOTIFY_FROM, words).await,
            204
        );
        // One at a time, as a person texts: each answer leaves before the next text.
        match words {
            "hello" => drop(to_the_person(&notify, 1).await),
            "STOP" => {
                let sent = to_the_person(&notify, 2).await;
                assert!(
                    sent[1].body.contains("You will not get any more texts"),
                    "the confirmation: {}",
                    sent[1].body
                );
            }
            _ => {}
        }
    }
    let sent = to_the_person(&notify, 3).await;
    assert!(sent[2].body.contains("999"), "{}", sent[2].body);
    settle().await;
    let sent = to_the_person(&notify, 3).await;
    assert_eq!(
        sent.len(),
        3,
        "nothing else to an opted-out number: {sent:?}"
    );
    assert_eq!(app.referral_of(MOBILE).await["urgent"], true);
    app.stop().await;
}

/// The replies leave after the text's answer: one still waiting when the person texts STOP
/// is held back, while the confirmation of STOP goes.
async fn a_reply_still_waiting_when_stop_arrives_is_held_back(engine: Engine) {
    let (app, notify) = gateway_on_notify(engine).await;
    // Notify is failing: the first reply waits between tries. STOP arrives meanwhile; then
    // Notify recovers. The reply's next try is checked against the opt-out again.
    notify.fail_next(&[500; 1000]);
    assert_eq!(
        notify
            .receive(&app.base, "g7b1c2d3-1", NOTIFY_FROM, "hello")
            .await,
        204
    );
    for _ in 0..200 {
        if notify.attempts() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(notify.attempts() >= 2, "the first reply is being tried");
    assert_eq!(
        notify
            .receive(&app.base, "g7b1c2d3-2", NOTIFY_FROM, "STOP")
            .await,
        204
    );
    notify.recover();
    let sent = to_the_person(&notify, 1).await;
    assert!(
        sent[0].body.contains("You will not get any more texts"),
        "the confirmation: {}",
        sent[0].body
    );
    let referral_id = app.referral_id_of(MOBILE).await;
    let mut transcript = items(&app.transcript(&referral_id).await);
    for _ in 0..400 {
        if transcript[1]["delivery_status"] == "failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        transcript = items(&app.transcript(&referral_id).await);
    }
    assert_eq!(transcript[0]["body"], "hello");
    assert!(transcript[1]["body"].as_str().unwrap().contains("999"));
    assert_eq!(transcript[1]["delivery_status"], "failed", "{transcript:?}");
    settle().await;
    assert_eq!(
        to_the_person(&notify, 1).await.len(),
        1,
        "{:?}",
        notify.sent()
    );
    app.stop().await;
}

async fn a_received_text_without_the_token_is_refused_and_nothing_is_stored(engine: Engine) {
    let (app, notify) = gateway_on_notify(engine).await;
    for token in [
        None,
        Some("wrong-token-0123456789"),
        Some("notify-callback-token"),
        Some(""),
    ] {
        assert_eq!(
            notify
                .receive_with(&app.base, token, "e7b1c2d3", NOTIFY_FROM, "I want to die")
                .await,
            401,
            "{token:?}"
        );
    }
    let response = app
        .http
        .post(app.url("/webhooks/notify/inbound"))
        .header("Authorization", "Basic bm90aWZ5Om5vdGlmeQ==")
        .json(&json!({"id": "e7b1c2d3", "source_number": NOTIFY_FROM, "message": "hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    settle().await;
    assert_eq!(app.sql_count("SELECT COUNT(*) FROM texts").await, 0);
    assert_eq!(app.sql_count("SELECT COUNT(*) FROM messages").await, 0);
    assert!(notify.sent().is_empty(), "nothing sent");
    app.stop().await;
}

async fn a_malformed_received_text_is_a_bad_request(engine: Engine) {
    let (app, _notify) = gateway_on_notify(engine).await;
    for body in [
        "{not json",
        r#"{"source_number": "447911123456", "message": "hello"}"#,
        r#"{"id": " ", "source_number": "447911123456", "message": "hello"}"#,
        r#"{"id": 7, "message": "hello"}"#,
    ] {
        let response = app
            .http
            .post(app.url("/webhooks/notify/inbound"))
            .bearer_auth(NOTIFY_CALLBACK_TOKEN)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }
    assert_eq!(app.sql_count("SELECT COUNT(*) FROM texts").await, 0);
    app.stop().await;
}

/// A trust may receive through Notify and send through Twilio: the callback token is enough.
async fn texts_come_in_through_notify_while_twilio_sends(engine: Engine) {
    let notify = FakeNotify::start().await;
    let env = vec![(
        "CRHT_NOTIFY_CALLBACK_TOKEN".to_owned(),
        NOTIFY_CALLBACK_TOKEN.to_owned(),
    )];
    let app = spawn_app_with_env(engine, |_| {}, false, env).await;
    let id = "f7b1c2d3-0000-4000-8000-000000000001";
    assert_eq!(
        notify.receive(&app.base, id, NOTIFY_FROM, "hello").await,
        204
    );
    let sent = app.twilio.wait_for(1).await;
    assert_eq!(sent[0].to, MOBILE);
    assert!(sent[0].body.contains("999"), "{}", sent[0].body);
    assert!(notify.sent().is_empty());
    app.stop().await;
}
