//! Each staff token may queue at most `CRHT_MESSAGES_PER_TOKEN_PER_DAY` messages a UTC day
//! (patient messages, texts back, safety-plan sends, appointment notices): past it, 429
//! problem+json with `Retry-After` to midnight UTC. The count is kept in the database in the
//! transaction that queues, so concurrent requests cannot slip past it.

use serde_json::{Value, json};

use crate::helpers::{Engine, SELF_REFERRAL, TestApp, spawn_app_with};
use crate::on_both_engines;

on_both_engines!(
    a_token_past_its_daily_messages_is_refused_with_429_until_midnight_utc,
    concurrent_sends_never_pass_the_daily_allowance,
);

fn three_a_day(config: &mut crht_gateway::config::Config) {
    config.messages_per_token_per_day = 3;
}

async fn patient(app: &TestApp) -> String {
    app.create_patient(json!({"name": "Sam Taylor", "mobile": "07911 123456"}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn update(app: &TestApp, token: &str, patient: &str) -> reqwest::Response {
    app.http
        .post(app.url(&format!("/api/v1/patients/{patient}/messages")))
        .bearer_auth(token)
        .json(&json!({"purpose": "update", "text": "Your appointment letter is on its way."}))
        .send()
        .await
        .unwrap()
}

async fn a_token_past_its_daily_messages_is_refused_with_429_until_midnight_utc(engine: Engine) {
    // The manual clock stands at 14:00 UTC: ten hours to midnight.
    let mut app = spawn_app_with(engine, three_a_day, true).await;
    let id = patient(&app).await;
    for n in 1..=3 {
        assert_eq!(
            update(&app, &app.scheduler, &id).await.status(),
            202,
            "#{n}"
        );
    }
    let refused = update(&app, &app.scheduler, &id).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "36000");
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["status"], 429, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("CRHT_MESSAGES_PER_TOKEN_PER_DAY"),
        "{problem}"
    );
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM messages").await,
        3,
        "the refused message is not queued"
    );

    // A text back is a message the token causes to be sent: the clinician's token has its
    // own allowance, spent on texts back the same way; the refused one is neither queued
    // nor in the transcript.
    let phone = "+447911123459";
    app.start_referral(phone, SELF_REFERRAL).await;
    let referral = app.referral_id_of(phone).await;
    let path = format!("/referrals/{referral}/messages");
    let words = json!({"text": "We will ring you this afternoon."});
    for n in 1..=3 {
        let (status, body) = app.post_json(&app.clinician, &path, words.clone()).await;
        assert_eq!(status, 202, "#{n}: {body}");
    }
    let (status, body) = app.post_json(&app.clinician, &path, words.clone()).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM texts WHERE sent_by IS NOT NULL")
            .await,
        3,
        "only the allowed texts back are in the transcript"
    );
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM messages WHERE purpose = 'text_back'")
            .await,
        3
    );

    // A new day, a new allowance.
    app.advance(chrono::TimeDelta::hours(10));
    assert_eq!(update(&app, &app.scheduler, &id).await.status(), 202);
    app.stop().await;
}

async fn concurrent_sends_never_pass_the_daily_allowance(engine: Engine) {
    let app = spawn_app_with(engine, three_a_day, false).await;
    let id = patient(&app).await;
    let sends = (0..12).map(|_| update(&app, &app.scheduler, &id));
    let statuses: Vec<u16> = futures::future::join_all(sends)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 202).count(),
        3,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 202 || *s == 429),
        "{statuses:?}"
    );
    assert_eq!(app.sql_count("SELECT COUNT(*) FROM messages").await, 3);
    app.stop().await;
}
