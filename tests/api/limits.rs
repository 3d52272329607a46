//! Limits a finance director would ask for (an hourly budget of non-urgent texts, the
//! countries they may go to, staff's variables never replacing ours, the length of what staff
//! write), metrics that watch the team, and delivery receipts behind a reverse proxy's path.

use std::num::NonZeroU32;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use crht_gateway::config::Config;
use crht_gateway::twilio::signature;
use serde_json::{Value, json};

use crate::helpers::{ACCOUNT_SID, AUTH_TOKEN, Engine, TestApp, spawn_app, spawn_app_with};
use crate::on_both_engines;

on_both_engines!(
    past_the_hourly_budget_non_urgent_texts_wait_for_the_next_hour_and_urgent_ones_go,
    a_non_urgent_text_abroad_falls_back_and_an_urgent_one_still_goes,
    staff_vars_never_replace_the_team_phone_or_the_name,
    free_text_past_its_limit_is_refused_naming_the_field,
    metrics_watch_the_team,
    receipts_reach_a_gateway_behind_a_path,
);

/// A patient whose updates and urgent messages go by text; their id.
async fn texted_patient(app: &TestApp, mobile: &str) -> String {
    let patient = app
        .create_patient(json!({
            "name": "Sam Taylor",
            "preferred_name": "Sam",
            "mobile": mobile,
            "address": {"lines": ["12 Park Row", "Leeds"], "postcode": "LS1 4DY"},
            "contact_preferences": {"update": ["sms", "letter"], "urgent": ["sms"]}
        }))
        .await;
    patient["id"].as_str().unwrap().to_owned()
}

/// The value of one series on the metrics page (0 when it is not there).
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |value| value.trim().parse().unwrap())
}

async fn metrics(app: &TestApp) -> String {
    let (status, text) = app.metrics().await;
    assert_eq!(status, 200);
    text
}

fn budget_of_two(config: &mut Config) {
    config.sms_budget_per_hour = NonZeroU32::new(2).unwrap();
}

async fn past_the_hourly_budget_non_urgent_texts_wait_for_the_next_hour_and_urgent_ones_go(
    engine: Engine,
) {
    let mut app = spawn_app_with(engine, budget_of_two, true).await;
    let id = texted_patient(&app, "07911 123456").await;
    for words in ["First update.", "Second update.", "Third update."] {
        let (status, body) = app.send_update(&id, words).await;
        assert_eq!(status, 202, "{body}");
        assert_eq!(body["channel"], "sms");
    }
    // Two go; the third waits, queued (never failed), for the next hour.
    app.twilio.wait_for(2).await;
    let messages = app
        .wait_for_messages(&id, |m| {
            // Held once, and the two that went recorded as sent (not still `sending`).
            m.iter().filter(|m| m["status"] == "sent").count() == 2
                && m.iter().any(|m| {
                    m["history"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|h| h["detail"].as_str().is_some_and(|d| d.contains("budget")))
                })
        })
        .await;
    let held: Vec<&Value> = messages
        .iter()
        .filter(|m| {
            m["history"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h["detail"].as_str().is_some_and(|d| d.contains("budget")))
        })
        .collect();
    assert_eq!(held.len(), 1, "{messages:#?}");
    // Queued for the next hour. (The test's clock stands still while the job queue's runs
    // on, so the queue keeps offering it and it is held again each time.)
    assert!(
        matches!(held[0]["status"].as_str(), Some("queued" | "sending")),
        "{}",
        held[0]
    );
    let held_id = held[0]["id"].as_str().unwrap().to_owned();
    let held_body = held[0]["body"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let text = metrics(&app).await;
    let times_held = metric(&text, "crht_sms_budget_held_total");
    assert!(times_held >= 1.0, "{text}");
    // Holding uses no attempt, however often it is held.
    let attempts = app
        .sql_count(&format!(
            "SELECT attempts FROM messages WHERE id = '{held_id}'"
        ))
        .await;
    assert!(
        attempts <= 1,
        "{attempts} attempts after {times_held} holds"
    );

    // An urgent message to the patient, and on-call alerts about a person texting, never wait;
    // nor does the 999 reply to that person.
    let (status, body) = app.send_message(&id, json!({"purpose": "urgent"})).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["channel"], "sms");
    let reply = app
        .text("+447911000777", "I want to kill myself tonight")
        .await;
    assert!(reply.text().contains("999"), "{}", reply.text());
    let sent = app.twilio.wait_for(5).await;
    assert_eq!(
        sent.iter()
            .filter(|t| t.to.starts_with("+44791120000"))
            .count(),
        2,
        "both on-call alerts went: {sent:#?}"
    );
    // Deliveries run side by side, so whichever update came third to the budget is held.
    assert!(
        !sent.iter().any(|t| t.body == held_body),
        "the held text is still held"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.twilio.sent().len(), 5, "nothing more went this hour");

    // The next hour: it goes.
    app.advance(TimeDelta::hours(1));
    let sent = app.twilio.wait_for(6).await;
    assert_eq!(sent[5].body, held_body, "the held text went");
    app.wait_for_messages(&id, |m| {
        m.iter()
            .any(|m| m["id"] == held_id.as_str() && m["status"] == "sent")
    })
    .await;
    app.stop().await;
}

async fn a_non_urgent_text_abroad_falls_back_and_an_urgent_one_still_goes(engine: Engine) {
    let app = spawn_app(engine).await;
    // An Irish mobile; CRHT_SMS_COUNTRIES is GB by default.
    let id = texted_patient(&app, "+353 85 123 4567").await;
    let (status, body) = app.send_update(&id, "Your new nurse is Alex.").await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["channel"], "letter", "{body}");
    assert_eq!(
        body["skipped"],
        json!([{"channel": "sms", "reason": "country_not_allowed"}])
    );
    let (status, body) = app.send_message(&id, json!({"purpose": "urgent"})).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["channel"], "sms", "{body}");
    let sent = app.twilio.wait_for(1).await;
    assert_eq!(sent[0].to, "+353851234567");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.twilio.sent().len(), 1, "the update was not texted");
    // A number on the Channel Islands is in the UK's numbering plan: GB allows it.
    let channel_islands = texted_patient(&app, "+44 7797 123456").await;
    let (status, body) = app.send_update(&channel_islands, "Hello.").await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["channel"], "sms", "{body}");
    app.stop().await;
}

async fn staff_vars_never_replace_the_team_phone_or_the_name(engine: Engine) {
    let app = spawn_app(engine).await;
    let id = texted_patient(&app, "07911 123456").await;
    let (status, body) = app
        .send_message(
            &id,
            json!({
                "purpose": "update",
                "template": "update",
                "text": "Your next visit is on Monday.",
                "vars": {
                    "team_phone": "0909 879 0000",
                    "preferred_name": "Someone Else",
                    "team_name": "Not Your Team"
                }
            }),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let sent = app.wait_until_sent(&id, 1).await;
    assert!(sent.body.contains("0800 129 9999"), "{}", sent.body);
    assert!(sent.body.contains("Hi Sam"), "{}", sent.body);
    assert!(
        !sent.body.contains("0909") && !sent.body.contains("Someone Else"),
        "{}",
        sent.body
    );
    app.stop().await;
}

async fn free_text_past_its_limit_is_refused_naming_the_field(engine: Engine) {
    let mut app = spawn_app(engine).await;
    let refused = |status: u16, body: &Value, field: &str| {
        assert_eq!(status, 422, "{field}: {body}");
        assert_eq!(body["status"], 422, "problem+json: {body}");
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.starts_with(&format!("{field}: at most")), "{detail}");
        assert!(detail.len() < 200, "the text is not echoed: {detail}");
    };
    let long = |n: usize| "x".repeat(n);
    for (field, passport) in [
        ("name", json!({"name": long(201)})),
        ("notes", json!({"name": "Sam", "notes": long(4001)})),
        (
            "support_person",
            json!({"name": "Sam", "support_person": long(201)}),
        ),
        (
            "address.lines",
            json!({"name": "Sam", "address": {"lines": [long(201)]}}),
        ),
        (
            "address.lines",
            json!({"name": "Sam", "address": {"lines": vec!["a"; 9]}}),
        ),
    ] {
        let (status, body) = app.post_json(&app.scheduler, "/patients", passport).await;
        refused(status, &body, field);
    }
    // At the limit is fine; a change is checked too.
    let patient = app
        .create_patient(json!({"name": long(200), "mobile": "07911 123456"}))
        .await;
    let id = patient["id"].as_str().unwrap();
    let (status, body) = app
        .patch_json(
            &app.scheduler,
            &format!("/patients/{id}"),
            json!({"pronouns": long(51)}),
        )
        .await;
    refused(status, &body, "pronouns");
    let (status, body) = app.send_update(id, &long(2001)).await;
    refused(status, &body, "text");
    let (status, body) = app
        .send_message(
            id,
            json!({"purpose": "update", "template": "update", "text": "Hi",
                   "vars": {"extra": long(2001)}}),
        )
        .await;
    refused(status, &body, "vars.extra");
    let (status, body) = app
        .post_json(
            &app.scheduler,
            &format!("/patients/{id}/appointments"),
            json!({"starts_at": (Utc::now() + TimeDelta::days(3)).to_rfc3339(),
                   "place": "home", "kind": "review", "staff_name": long(201)}),
        )
        .await;
    refused(status, &body, "staff_name");
    app.text("+447911000555", "hello").await;
    let referral = app.referral_id_of("+447911000555").await;
    let (status, body) = app
        .post_json(
            &app.clinician,
            &format!("/referrals/{referral}/status"),
            json!({"status": long(5000)}),
        )
        .await;
    refused(status, &body, "status");
    // Nothing was stored or sent.
    assert_eq!(app.messages(id).await.len(), 0);
    app.stop().await;
}

async fn metrics_watch_the_team(engine: Engine) {
    let mut app = spawn_app(engine).await;
    let text = metrics(&app).await;
    assert_eq!(metric(&text, "crht_urgent_flags_total"), 0.0, "{text}");
    assert_eq!(metric(&text, "crht_urgent_referrals_open"), 0.0, "{text}");
    assert_eq!(metric(&text, "crht_urgent_patients_open"), 0.0, "{text}");
    assert_eq!(
        metric(&text, "crht_urgent_oldest_unacknowledged_seconds"),
        0.0,
        "{text}"
    );
    assert!(
        text.contains("crht_queue_depth{queue=\"deliveries\"} 0"),
        "{text}"
    );
    assert!(
        text.contains("crht_queue_depth{queue=\"reminders\"} 0"),
        "{text}"
    );

    // A risk text: flagged, an urgent referral nobody has acknowledged, alerts sent.
    app.text("+447911000777", "I want to kill myself tonight")
        .await;
    app.twilio.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let text = metrics(&app).await;
    assert_eq!(metric(&text, "crht_urgent_flags_total"), 1.0, "{text}");
    assert_eq!(metric(&text, "crht_urgent_referrals_open"), 1.0, "{text}");
    assert!(
        metric(&text, "crht_urgent_oldest_unacknowledged_seconds") >= 1.0,
        "{text}"
    );
    // A text without risk counts nothing.
    app.text("+447911000778", "hello").await;
    // A patient's risk text opens their urgent episode.
    let id = texted_patient(&app, "07911 123456").await;
    app.text("+447911123456", "I want to end my life").await;
    let text = metrics(&app).await;
    assert_eq!(metric(&text, "crht_urgent_flags_total"), 2.0, "{text}");
    assert_eq!(metric(&text, "crht_urgent_patients_open"), 1.0, "{text}");
    let (status, _) = app.acknowledge_patient(&app.clinician, &id).await;
    assert_eq!(status, 200);
    let text = metrics(&app).await;
    assert_eq!(metric(&text, "crht_urgent_patients_open"), 0.0, "{text}");
    // Messages by status: the alerts were sent.
    for _ in 0..100 {
        if metric(&metrics(&app).await, "crht_messages{status=\"sent\"}") >= 2.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let text = metrics(&app).await;
    assert!(
        metric(&text, "crht_messages{status=\"sent\"}") >= 2.0,
        "{text}"
    );
    // A reminder due in five minutes waits in its queue.
    let starts_at = (Utc::now() + TimeDelta::minutes(125)).to_rfc3339();
    app.book_appointment(
        &id,
        json!({"starts_at": starts_at, "place": "home", "kind": "review"}),
    )
    .await;
    let text = metrics(&app).await;
    assert_eq!(
        metric(&text, "crht_queue_depth{queue=\"reminders\"}"),
        1.0,
        "{text}"
    );

    // A made-up method is counted as `other`: a client cannot add labels.
    let brew = reqwest::Method::from_bytes(b"BREW").unwrap();
    let response = app
        .http
        .request(brew, app.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    let text = metrics(&app).await;
    assert!(text.contains("method=\"other\""), "{text}");
    assert!(!text.contains("BREW"), "{text}");
    app.stop().await;
}

/// The test gateway as if behind a reverse proxy at `/crht`.
fn behind_a_path(config: &mut Config) {
    config.public_url = format!("{}crht", config.public_url).parse().unwrap();
}

async fn receipts_reach_a_gateway_behind_a_path(engine: Engine) {
    let app = spawn_app_with(engine, behind_a_path, false).await;
    let id = texted_patient(&app, "07911 123456").await;
    let (status, body) = app.send_update(&id, "Hello.").await;
    assert_eq!(status, 202, "{body}");
    let sent = app.wait_until_sent(&id, 1).await;
    let callback = format!("{}/crht/webhooks/twilio/status", app.base);
    assert_eq!(sent.status_callback.as_deref(), Some(callback.as_str()));

    // The proxy strips the path; the provider signed the address it was given.
    let receipt = |status: &'static str| {
        vec![
            ("MessageSid".to_owned(), sent.sid.clone()),
            ("MessageStatus".to_owned(), status.to_owned()),
            ("AccountSid".to_owned(), ACCOUNT_SID.to_owned()),
            ("ErrorCode".to_owned(), "21610".to_owned()),
        ]
    };
    let arrives_at = app.url("/webhooks/twilio/status");
    let form = receipt("undelivered");
    let signed_without_the_path = signature::compute(AUTH_TOKEN, &arrives_at, &form);
    let response = app
        .post_form_signed_with(&arrives_at, Some(&signed_without_the_path), &form)
        .await;
    assert_eq!(response.status().as_u16(), 403);
    let signed = signature::compute(AUTH_TOKEN, &callback, &form);
    let response = app
        .post_form_signed_with(&arrives_at, Some(&signed), &form)
        .await;
    assert_eq!(response.status().as_u16(), 204);
    let (_, patient) = app.get(&app.scheduler, &format!("/patients/{id}")).await;
    assert_eq!(patient["sms_opted_out"], true, "{patient}");

    // Inbound texts are checked against the same address.
    let text = vec![
        (
            "MessageSid".to_owned(),
            "SM0000000000000000000000000000ab01".to_owned(),
        ),
        ("From".to_owned(), "+447911000999".to_owned()),
        ("To".to_owned(), "+447520667111".to_owned()),
        ("Body".to_owned(), "hello".to_owned()),
    ];
    let signed = signature::compute(
        AUTH_TOKEN,
        &format!("{}/crht/webhooks/twilio/sms", app.base),
        &text,
    );
    let response = app
        .post_form_signed_with(&app.url("/webhooks/twilio/sms"), Some(&signed), &text)
        .await;
    assert_eq!(response.status().as_u16(), 200);
    app.stop().await;
}
