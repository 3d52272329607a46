//! What a killed gateway leaves behind is picked up again (found by the crash drill:
//! `crht-drill crash`, see RELIABILITY.md).

use std::time::Duration;

use serde_json::json;

use crate::helpers::{Engine, TestApp, spawn_app_with};
use crate::on_both_engines;

on_both_engines!(
    a_job_left_running_by_a_killed_worker_is_taken_up_again_by_the_next_sweep,
    jobs_the_store_enqueues_are_taken_up_by_the_queue_workers,
);

/// Statements that leave a delivery job as a killed process would: `Running`, held by a
/// worker that stopped sending heartbeats ten minutes ago, its text not yet sent.
fn kill_mid_job(engine: &Engine) -> [&'static str; 3] {
    match engine {
        Engine::Sqlite => [
            "INSERT INTO Workers (id, worker_type, storage_name, last_seen) \
             VALUES ('killed-worker', 'deliveries', 'SqliteStorage', strftime('%s', 'now') - 600)",
            "UPDATE Jobs SET status = 'Running', lock_by = 'killed-worker', \
             lock_at = strftime('%s', 'now') - 600, done_at = NULL WHERE job_type = 'deliveries'",
            "UPDATE messages SET status = 'sending' WHERE purpose = 'update'",
        ],
        Engine::Postgres(_) => [
            "INSERT INTO apalis.workers (id, worker_type, storage_name, last_seen) \
             VALUES ('killed-worker', 'deliveries', 'PostgresStorage', now() - interval '10 minutes')",
            "UPDATE apalis.jobs SET status = 'Running', lock_by = 'killed-worker', \
             lock_at = now() - interval '10 minutes', done_at = NULL WHERE job_type = 'deliveries'",
            "UPDATE messages SET status = 'sending' WHERE purpose = 'update'",
        ],
    }
}

/// Waits until every delivery job is recorded as done.
async fn wait_until_done(app: &TestApp) {
    wait_until_queue_done(app, "deliveries").await;
}

/// Waits until every job of `queue` is recorded as done.
async fn wait_until_queue_done(app: &TestApp, queue: &str) {
    let pending = format!(
        "SELECT COUNT(*) FROM {} WHERE job_type = '{queue}' AND status <> 'Done'",
        app.jobs_table()
    );
    for _ in 0..200 {
        if app.sql_count(&pending).await == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the {queue} jobs were never all recorded as done");
}

async fn a_job_left_running_by_a_killed_worker_is_taken_up_again_by_the_next_sweep(engine: Engine) {
    // The queue's own heartbeat (a minute here) cannot rescue the job within the test: only
    // the sweep can, as when a gateway is restarted again before a heartbeat comes round.
    let app = spawn_app_with(engine, |c| c.job_heartbeat = Duration::from_secs(60), false).await;
    let patient = app
        .create_patient(json!({"name": "Sam Taylor", "mobile": "07911 123456"}))
        .await;
    let id = patient["id"].as_str().unwrap();
    let (status, _) = app.send_update(id, "Your visit is confirmed.").await;
    assert_eq!(status, 202);
    app.wait_until_sent(id, 1).await;

    // The queue records the job's result a moment after the handler returns; staging the
    // kill before that lands would let the late result overwrite it.
    wait_until_done(&app).await;

    // The process that held the job is gone: the job and its text are stranded mid-send.
    app.execute_sql(&kill_mid_job(app.engine())).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        app.twilio.sent().len(),
        1,
        "a live worker does not take a job another worker holds"
    );

    app.app.sweep().await.unwrap();
    let sent = app.twilio.wait_for(2).await;
    assert_eq!(sent[1].to, "+447911123456", "the stranded text goes out");
    app.wait_for_messages(id, |m| m.iter().any(|m| m["status"] == "sent"))
        .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(app.twilio.sent().len(), 2, "and only once more");
    app.stop().await;
}

/// How many jobs of `queue` the store put in the queue's own table.
async fn jobs_in(app: &TestApp, queue: &str) -> i64 {
    app.sql_count(&format!(
        "SELECT COUNT(*) FROM {} WHERE job_type = '{queue}'",
        app.jobs_table()
    ))
    .await
}

/// The store writes jobs into apalis' tables by hand (inside its own transactions): each
/// queue's workers must find them, run them and record them done.
async fn jobs_the_store_enqueues_are_taken_up_by_the_queue_workers(engine: Engine) {
    let app = spawn_app_with(
        engine,
        |c| c.reminder_offsets = vec![Duration::from_secs(60)],
        false,
    )
    .await;
    let patient = app
        .create_patient(json!({
            "name": "Sam Taylor",
            "mobile": "07911 123456",
            "contact_preferences": {"reminder": ["sms"], "update": ["sms"]}
        }))
        .await;
    let id = patient["id"].as_str().unwrap();
    // A reminder due in two seconds: its job is in the queue from the booking.
    let starts_at = (chrono::Utc::now() + chrono::TimeDelta::seconds(62))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    app.book_appointment(
        id,
        json!({"starts_at": starts_at, "place": "home", "kind": "home_visit"}),
    )
    .await;
    assert_eq!(jobs_in(&app, "reminders").await, 1);
    // The reminders worker composes the message, whose delivery job the deliveries worker
    // sends.
    let sent = app.twilio.wait_for(1).await;
    assert!(sent[0].body.contains("reminder"), "{}", sent[0].body);
    wait_until_queue_done(&app, "reminders").await;
    wait_until_queue_done(&app, "deliveries").await;
    assert_eq!(jobs_in(&app, "deliveries").await, 1);
    app.stop().await;
}
