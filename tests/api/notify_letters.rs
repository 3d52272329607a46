//! Letters through GOV.UK Notify as precompiled letters (`CRHT_NOTIFY_LETTERS`), end to end
//! through the fake Notify: the PDF posted with our message id as reference, Notify's letter
//! receipts, retries, and the print list whenever Notify cannot take or print a letter.

use serde_json::{Value, json};

use crate::helpers::{Engine, FakeNotify, NOTIFY_SERVICE_ID, TestApp, spawn_app_with_env};
use crate::on_both_engines;

on_both_engines!(
    a_letter_goes_through_notify_and_its_receipts_move_it,
    a_refused_letter_and_a_validation_failure_go_to_the_print_list,
    a_notify_server_error_is_tried_again_then_the_letter_is_posted,
    without_the_setting_letters_go_to_the_print_list,
);

/// A gateway posting letters through a fresh fake Notify (`letters`), or printing them.
async fn gateway(engine: Engine, letters: bool) -> (TestApp, FakeNotify) {
    let notify = FakeNotify::start().await;
    let env = if letters {
        notify.letters_env()
    } else {
        notify.env()
    };
    let app = spawn_app_with_env(engine, |_| {}, false, env).await;
    (app, notify)
}

/// A patient whose updates go by letter; their id.
async fn patient_by_letter(app: &TestApp) -> String {
    let patient = app
        .create_patient(json!({
            "name": "Sam Taylor",
            "address": {"lines": ["12 Park Row", "Leeds"], "postcode": "LS1 4DY"},
            "contact_preferences": {"update": ["letter"]},
        }))
        .await;
    patient["id"].as_str().unwrap().to_owned()
}

async fn open_letter_tasks(app: &TestApp) -> Vec<Value> {
    let (status, tasks) = app
        .get(&app.scheduler, "/tasks?kind=letter&status=open")
        .await;
    assert_eq!(status, 200, "{tasks}");
    tasks["items"].as_array().cloned().unwrap_or_default()
}

async fn a_letter_goes_through_notify_and_its_receipts_move_it(engine: Engine) {
    let (app, notify) = gateway(engine, true).await;
    let patient = &patient_by_letter(&app).await;
    let (status, message) = app
        .send_update(patient, "Your next visit is on Friday.")
        .await;
    assert_eq!(status, 202, "{message}");
    let letters = notify.wait_for_letters(1).await;
    let messages = app
        .wait_for_messages(patient, |m| m[0]["status"] == "sent")
        .await;
    let letter = &letters[0];
    assert_eq!(letter.reference, messages[0]["id"].as_str().unwrap());
    assert_eq!(letter.postage, "second", "an update about no appointment");
    assert_eq!(letter.issuer, NOTIFY_SERVICE_ID);
    assert!(letter.pdf.starts_with(b"%PDF"));
    assert_eq!(messages[0]["channel"], "letter");
    assert!(
        open_letter_tasks(&app).await.is_empty(),
        "not on the print list"
    );

    // Sent to the printer: still sent. Printed and posted: as delivered as post gets.
    assert_eq!(
        notify.letter_callback(&app.base, letter, "accepted").await,
        204
    );
    assert_eq!(app.messages(patient).await[0]["status"], "sent");
    assert_eq!(
        notify.letter_callback(&app.base, letter, "received").await,
        204
    );
    let messages = app
        .wait_for_messages(patient, |m| m[0]["status"] == "delivered")
        .await;
    assert_eq!(messages[0]["channel"], "letter");
    assert!(open_letter_tasks(&app).await.is_empty());
    app.stop().await;
}

async fn a_refused_letter_and_a_validation_failure_go_to_the_print_list(engine: Engine) {
    let (app, notify) = gateway(engine, true).await;
    let patient = &patient_by_letter(&app).await;

    // 400: Notify will never take it, and it is not asked again.
    notify.fail_next_letters(&[400]);
    let (status, _) = app.send_update(patient, "first").await;
    assert_eq!(status, 202);
    app.wait_for_messages(patient, |m| m[0]["status"] == "task_created")
        .await;
    assert_eq!(notify.letter_attempts(), 1, "a 400 is not tried again");
    let tasks = open_letter_tasks(&app).await;
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert!(
        tasks[0]["text"].as_str().unwrap().contains("notify_400"),
        "{tasks:?}"
    );
    let (status, _) = app
        .get(
            &app.scheduler,
            &format!("/tasks/{}/letter.pdf", tasks[0]["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(status, 200, "the letter is there to print");

    // Taken, then Notify finds it will not print: the print list, with the reason.
    let (status, _) = app.send_update(patient, "second").await;
    assert_eq!(status, 202);
    let letters = notify.wait_for_letters(1).await;
    app.wait_for_messages(patient, |m| m[0]["status"] == "sent")
        .await;
    assert_eq!(
        notify
            .letter_callback(&app.base, &letters[0], "validation-failed")
            .await,
        204
    );
    let messages = app
        .wait_for_messages(patient, |m| m[0]["status"] == "task_created")
        .await;
    assert_eq!(messages[0]["channel"], "letter");
    let tasks = open_letter_tasks(&app).await;
    assert_eq!(tasks.len(), 2, "{tasks:?}");
    assert!(
        tasks
            .iter()
            .any(|t| t["text"].as_str().unwrap().contains("validation-failed")),
        "{tasks:?}"
    );
    // Repeated, the receipt changes nothing.
    assert_eq!(
        notify
            .letter_callback(&app.base, &letters[0], "validation-failed")
            .await,
        204
    );
    assert_eq!(open_letter_tasks(&app).await.len(), 2);
    app.stop().await;
}

async fn a_notify_server_error_is_tried_again_then_the_letter_is_posted(engine: Engine) {
    let (app, notify) = gateway(engine, true).await;
    let patient = &patient_by_letter(&app).await;
    notify.fail_next_letters(&[500, 429]);
    let (status, _) = app.send_update(patient, "hello").await;
    assert_eq!(status, 202);
    notify.wait_for_letters(1).await;
    app.wait_for_messages(patient, |m| m[0]["status"] == "sent")
        .await;
    assert_eq!(
        notify.letter_attempts(),
        3,
        "a 500 and a 429 were tried again"
    );
    assert!(open_letter_tasks(&app).await.is_empty());
    app.stop().await;
}

async fn without_the_setting_letters_go_to_the_print_list(engine: Engine) {
    let (app, notify) = gateway(engine, false).await;
    let patient = &patient_by_letter(&app).await;
    let (status, _) = app.send_update(patient, "hello").await;
    assert_eq!(status, 202);
    app.wait_for_messages(patient, |m| m[0]["status"] == "task_created")
        .await;
    assert_eq!(open_letter_tasks(&app).await.len(), 1);
    assert_eq!(notify.letter_attempts(), 0);
    app.stop().await;
}
