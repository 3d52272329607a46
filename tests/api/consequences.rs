//! What a failure sets off is written in the failure's own transaction (issue: consequences
//! in the same transaction). Each test makes the store fail just where the next step is
//! written — a trigger that refuses the row — and shows that nothing is lost: the failure is
//! not recorded either, so the provider's retry (or the job queue's) sets the step off again.

use serde_json::json;

use crate::helpers::{Engine, TestApp, spawn_app};
use crate::on_both_engines;

on_both_engines!(
    a_fallback_set_off_by_a_receipt_survives_a_store_failure_before_it_is_written,
    a_resend_set_off_by_a_receipt_survives_a_store_failure_before_it_is_written,
    a_fallback_after_a_refused_send_survives_a_store_failure_before_it_is_written,
    a_staff_write_and_its_audit_entry_commit_together,
);

/// Makes every insert into `table` fail until `allow` (a store failing between two steps).
async fn refuse_inserts(app: &TestApp, table: &str) {
    let statements = match app.engine() {
        Engine::Sqlite => vec![format!(
            "CREATE TRIGGER refuse_inserts BEFORE INSERT ON {table} \
             BEGIN SELECT RAISE(ABORT, 'the store fails here'); END"
        )],
        Engine::Postgres(_) => vec![
            "CREATE OR REPLACE FUNCTION refuse_inserts() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'the store fails here'; END $$"
                .to_owned(),
            format!(
                "CREATE TRIGGER refuse_inserts BEFORE INSERT ON {table} \
                 FOR EACH ROW EXECUTE FUNCTION refuse_inserts()"
            ),
        ],
    };
    app.execute_sql(&statements).await;
}

async fn allow_inserts(app: &TestApp, table: &str) {
    let statement = match app.engine() {
        Engine::Sqlite => "DROP TRIGGER refuse_inserts".to_owned(),
        Engine::Postgres(_) => format!("DROP TRIGGER refuse_inserts ON {table}"),
    };
    app.execute_sql(&[statement]).await;
}

/// A patient whose updates go by text, then by a call; their id.
async fn patient_updated_by_text_then_call(app: &TestApp) -> String {
    let patient = app
        .create_patient(json!({
            "name": "Sam Taylor",
            "mobile": "07911 123456",
            "landline": "0113 496 0000",
            "contact_preferences": {"update": ["sms", "phone_call"]}
        }))
        .await;
    patient["id"].as_str().unwrap().to_owned()
}

/// Such a patient with an update sent and accepted: their id and the text's SID.
async fn patient_with_a_sent_update(app: &TestApp) -> (String, String) {
    let id = patient_updated_by_text_then_call(app).await;
    let (status, body) = app.send_update(&id, "hello").await;
    assert_eq!(status, 202, "{body}");
    let sent = app.wait_until_sent(&id, 1).await;
    (id, sent.sid)
}

async fn call_tasks(app: &TestApp) -> usize {
    let (_, tasks) = app.get(&app.scheduler, "/tasks?kind=phone_call").await;
    tasks["items"].as_array().map_or(0, Vec::len)
}

async fn a_fallback_set_off_by_a_receipt_survives_a_store_failure_before_it_is_written(
    engine: Engine,
) {
    let app = spawn_app(engine).await;
    let (id, sid) = patient_with_a_sent_update(&app).await;
    refuse_inserts(&app, "tasks").await;
    let status = app.receipt(&sid, "failed", Some("30006")).await;
    assert!(status >= 500, "the provider must retry: {status}");
    let messages = app.messages(&id).await;
    assert_eq!(
        messages[0]["status"], "sent",
        "the receipt is not recorded without its fallback: {:#?}",
        messages[0]
    );
    allow_inserts(&app, "tasks").await;
    assert_eq!(app.receipt(&sid, "failed", Some("30006")).await, 204);
    let messages = app.messages(&id).await;
    assert_eq!(messages[0]["channel"], "phone_call", "{:#?}", messages[0]);
    assert_eq!(messages[0]["skipped"][0]["reason"], "sms_failed_30006");
    let (_, patient) = app.get(&app.scheduler, &format!("/patients/{id}")).await;
    assert_eq!(patient["mobile_failed"], "30006");
    assert_eq!(call_tasks(&app).await, 1);
    app.stop().await;
}

async fn a_resend_set_off_by_a_receipt_survives_a_store_failure_before_it_is_written(
    engine: Engine,
) {
    let app = spawn_app(engine).await;
    let (id, sid) = patient_with_a_sent_update(&app).await;
    let jobs = app.jobs_table();
    refuse_inserts(&app, jobs).await;
    let status = app.receipt(&sid, "undelivered", Some("30003")).await;
    assert!(status >= 500, "the provider must retry: {status}");
    assert_eq!(app.messages(&id).await[0]["status"], "sent");
    allow_inserts(&app, jobs).await;
    assert_eq!(app.receipt(&sid, "undelivered", Some("30003")).await, 204);
    let sent = app.twilio.wait_for(2).await;
    assert_eq!(sent[1].body, sent[0].body, "the same text, sent again");
    let messages = app
        .wait_for_messages(&id, |m| m[0]["status"] == "sent")
        .await;
    assert_eq!(messages[0]["channel"], "sms");
    app.stop().await;
}

async fn a_fallback_after_a_refused_send_survives_a_store_failure_before_it_is_written(
    engine: Engine,
) {
    let app = spawn_app(engine).await;
    let id = patient_updated_by_text_then_call(&app).await;
    for _ in 0..50 {
        app.twilio.refuse_next(21211);
    }
    refuse_inserts(&app, "tasks").await;
    let (status, _) = app.send_update(&id, "hello").await;
    assert_eq!(status, 202);
    // The provider refused, and the store failed writing the fallback: the job fails, and
    // its failure must leave the message where the queue's next try can take it up.
    for _ in 0..200 {
        if app.twilio.attempts() >= 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(app.twilio.attempts() >= 1, "the text was never tried");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(call_tasks(&app).await, 0);
    allow_inserts(&app, "tasks").await;
    let messages = app
        .wait_for_messages(&id, |m| m[0]["channel"] == "phone_call")
        .await;
    assert_eq!(messages[0]["skipped"][0]["reason"], "sms_failed_21211");
    let (_, patient) = app.get(&app.scheduler, &format!("/patients/{id}")).await;
    assert_eq!(patient["mobile_failed"], "21211");
    assert_eq!(call_tasks(&app).await, 1);
    app.stop().await;
}

async fn a_staff_write_and_its_audit_entry_commit_together(engine: Engine) {
    let app = spawn_app(engine).await;
    let patient = app
        .create_patient(json!({
            "name": "Sam Taylor",
            "mobile": "07911 123456",
            "contact_preferences": {"update": ["sms"]}
        }))
        .await;
    let id = patient["id"].as_str().unwrap().to_owned();
    refuse_inserts(&app, "audit_log").await;
    let starts_at = (chrono::Utc::now() + chrono::TimeDelta::days(3)).to_rfc3339();
    let booking = json!({"starts_at": starts_at, "place": "home", "kind": "home_visit"});
    let (status, _) = app
        .post_json(
            &app.scheduler,
            &format!("/patients/{id}/appointments"),
            booking.clone(),
        )
        .await;
    assert!(
        status >= 500,
        "an unaudited booking must not stand: {status}"
    );
    let (status, _) = app
        .post_json(
            &app.scheduler,
            &format!("/patients/{id}/messages"),
            json!({"purpose": "update", "text": "hello"}),
        )
        .await;
    assert!(
        status >= 500,
        "an unaudited message must not be queued: {status}"
    );
    // A read that cannot be audited is not served either.
    let (status, _) = app
        .get(&app.scheduler, &format!("/patients/{id}/appointments"))
        .await;
    assert!(
        status >= 500,
        "an unaudited read must not be served: {status}"
    );
    assert_eq!(app.twilio.attempts(), 0);

    allow_inserts(&app, "audit_log").await;
    let (_, appointments) = app
        .get(&app.scheduler, &format!("/patients/{id}/appointments"))
        .await;
    assert_eq!(appointments["items"].as_array().unwrap().len(), 0);
    assert!(app.messages(&id).await.is_empty());
    let (status, _) = app
        .post_json(
            &app.scheduler,
            &format!("/patients/{id}/appointments"),
            booking,
        )
        .await;
    assert_eq!(status, 201);
    let (_, audit) = app.get(&app.admin, "/audit").await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "appointment.book").count(),
        1,
        "{actions:?}"
    );
    assert!(!actions.contains(&"message.queue"), "{actions:?}");
    app.stop().await;
}
