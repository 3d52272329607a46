//! One job per reminder: the reminders worker composes a reminder's text and sends it itself —
//! one message and one send per reminder, also when the job runs again after dying between
//! storing the text and sending it — and a text that may not go now is left to a delivery job
//! as before. The jobs are run here by calling their function, as the queue would.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DurationRound, TimeDelta, Utc};
use crht_gateway::domain::patient::Purpose;
use crht_gateway::jobs::delivery::Delivered;
use crht_gateway::jobs::reminders::{Reminded, ReminderContext, remind_once};
use crht_gateway::outbound::{MessageRequest, appointment_vars};
use crht_gateway::store::{HourBudget, ReminderJob, ReminderStored};
use serde_json::{Value, json};

use crate::helpers::{Engine, TestApp, spawn_app_with};
use crate::on_both_engines;

on_both_engines!(
    a_reminder_is_one_message_and_one_send_with_no_delivery_job,
    a_reminder_job_run_again_after_dying_before_the_send_sends_the_stored_text_once,
    a_reminder_past_the_hourly_budget_is_held_for_the_next_hour_as_before,
);

const MOBILE: &str = "+447911123456";

/// A patient whose reminders go by text and an appointment three days ahead, with the clock
/// at its first reminder's time: the patient's id, that reminder's job, and what runs it.
async fn due_reminder(app: &TestApp) -> (String, ReminderJob, ReminderContext) {
    let clock = app.clock.clone().unwrap();
    clock.set(Utc::now());
    let patient = app
        .create_patient(json!({
            "name": "Sam Taylor",
            "mobile": "07911 123456",
            "contact_preferences": {"reminder": ["sms"], "update": ["sms"]}
        }))
        .await;
    let patient_id = patient["id"].as_str().unwrap().to_owned();
    let appointment = app
        .book_appointment(
            &patient_id,
            json!({"starts_at": (Utc::now() + TimeDelta::days(3)).to_rfc3339(), "place": "home", "kind": "review"}),
        )
        .await;
    let stored = app
        .app
        .store()
        .appointment(&appointment["id"].as_str().unwrap().into())
        .await
        .unwrap()
        .unwrap();
    let reminder = &stored.reminders[0];
    clock.set(reminder.send_at.unwrap());
    let ctx = ReminderContext {
        outbound: app.app.state.outbound.clone(),
        clock: Arc::new(clock),
        delivery: app.app.workers.delivery.clone(),
    };
    let job = ReminderJob {
        reminder_id: reminder.id.clone(),
        version: reminder.version,
    };
    (patient_id, job, ctx)
}

async fn delivery_jobs(app: &TestApp) -> i64 {
    app.sql_count(&format!(
        "SELECT COUNT(*) FROM {} WHERE job_type = 'deliveries'",
        app.jobs_table()
    ))
    .await
}

fn history(message: &Value) -> Vec<&str> {
    message["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect()
}

async fn a_reminder_is_one_message_and_one_send_with_no_delivery_job(engine: Engine) {
    let app = spawn_app_with(engine, |_| {}, true).await;
    let (patient_id, job, ctx) = due_reminder(&app).await;

    let outcome = remind_once(&ctx, &job).await.unwrap();
    let Reminded::Sent {
        message_id,
        outcome: Delivered::Sent { .. },
    } = &outcome
    else {
        panic!("the job sends its text itself: {outcome:?}");
    };
    let sent = app.twilio.sent();
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0].to, MOBILE);
    let messages = app.messages(&patient_id).await;
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(messages[0]["id"], message_id.to_string());
    assert_eq!(messages[0]["status"], "sent");
    assert_eq!(history(&messages[0]), ["queued", "sending", "sent"]);
    assert_eq!(delivery_jobs(&app).await, 0, "no second job");

    // Run again (the queue's retry, or a late duplicate): nothing more is composed or sent.
    assert_eq!(remind_once(&ctx, &job).await.unwrap(), Reminded::Stale);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.twilio.sent().len(), 1);
    assert_eq!(app.messages(&patient_id).await.len(), 1);
    app.stop().await;
}

async fn a_reminder_job_run_again_after_dying_before_the_send_sends_the_stored_text_once(
    engine: Engine,
) {
    let app = spawn_app_with(engine, |_| {}, true).await;
    let (patient_id, job, ctx) = due_reminder(&app).await;
    let store = app.app.store();

    // The job's first run got as far as its one commit — the reminder sent, its message
    // stored and claimed for sending — and the process died before the send.
    let found = store
        .reminder_context(&job.reminder_id)
        .await
        .unwrap()
        .unwrap();
    let request = MessageRequest {
        purpose: Purpose::Reminder,
        template: "reminder".into(),
        vars: appointment_vars(&found.appointment, false),
        appointment_id: Some(found.appointment.id.clone()),
        reminder_key: Some(format!("{}:{}", job.reminder_id, job.version)),
        fast: false,
    };
    let prepared = ctx
        .outbound
        .prepare(
            &found.patient,
            &request,
            crht_gateway::new_id().into(),
            Vec::new(),
        )
        .unwrap();
    let now = ctx.clock.now();
    let budget = HourBudget {
        hour: now.duration_trunc(TimeDelta::hours(1)).unwrap(),
        per_hour: 100,
    };
    let stored = store
        .send_reminder(&job.reminder_id, job.version, &prepared, Some(budget), now)
        .await
        .unwrap();
    assert_eq!(stored, ReminderStored::Claimed);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(app.twilio.sent().is_empty(), "only its own job sends it");
    assert_eq!(delivery_jobs(&app).await, 0);

    // The queue runs the job again: it sends the stored text and composes nothing new.
    let outcome = remind_once(&ctx, &job).await.unwrap();
    assert!(
        matches!(&outcome, Reminded::Sent { message_id, outcome: Delivered::Sent { .. } } if *message_id == prepared.id),
        "{outcome:?}"
    );
    let sent = app.twilio.sent();
    assert_eq!(sent.len(), 1, "{sent:#?}");
    let messages = app.messages(&patient_id).await;
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(messages[0]["id"], prepared.id.to_string());
    assert_eq!(messages[0]["status"], "sent");
    assert_eq!(sent[0].body, messages[0]["body"].as_str().unwrap());

    // And once it is recorded as sent, a further run does nothing.
    assert_eq!(remind_once(&ctx, &job).await.unwrap(), Reminded::Stale);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.twilio.sent().len(), 1);
    assert_eq!(app.messages(&patient_id).await.len(), 1);
    app.stop().await;
}

async fn a_reminder_past_the_hourly_budget_is_held_for_the_next_hour_as_before(engine: Engine) {
    let app = spawn_app_with(
        engine,
        |c| c.sms_budget_per_hour = NonZeroU32::new(1).unwrap(),
        true,
    )
    .await;
    let (patient_id, job, ctx) = due_reminder(&app).await;
    // An update takes the hour's only text.
    let (status, body) = app
        .send_update(&patient_id, "Your visit is confirmed.")
        .await;
    assert_eq!(status, 202, "{body}");
    app.twilio.wait_for(1).await;

    let outcome = remind_once(&ctx, &job).await.unwrap();
    let Reminded::Queued { message_id } = &outcome else {
        panic!("a text past the budget is left to a delivery job: {outcome:?}");
    };
    let held_for_the_hour = |m: &Value| {
        m["id"] == message_id.to_string()
            && m["history"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h["detail"].as_str().is_some_and(|d| d.contains("budget")))
    };
    let messages = app
        .wait_for_messages(&patient_id, |m| m.iter().any(held_for_the_hour))
        .await;
    let reminder = messages.iter().find(|m| held_for_the_hour(m)).unwrap();
    assert!(
        matches!(reminder["status"].as_str(), Some("queued" | "sending")),
        "{reminder}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.twilio.sent().len(), 1, "nothing more went this hour");
    assert_eq!(
        app.messages(&patient_id).await.len(),
        2,
        "one reminder message"
    );
    app.stop().await;
}
