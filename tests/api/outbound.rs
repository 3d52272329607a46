//! Patients, appointments, reminders and brief updates, by each patient's channels.

use std::time::Duration;

use chrono::{TimeDelta, TimeZone, Utc};
use serde_json::{Value, json};

use crate::helpers::{Engine, TestApp, spawn_app, spawn_app_with};
use crate::on_both_engines;

on_both_engines!(
    patients_are_registered_with_their_passport_and_validated,
    a_patient_can_be_changed_field_by_field,
    a_referral_becomes_a_patient_carrying_its_answers,
    an_update_goes_by_text_to_the_patients_mobile,
    phone_call_preference_puts_a_task_on_the_call_list,
    a_letter_is_rendered_as_a_pdf_on_the_print_list_in_large_print_when_asked,
    each_unusable_channel_is_skipped_with_the_reason,
    nothing_usable_fails_the_message_and_tells_the_team,
    opted_out_at_send_time_marks_the_patient_and_falls_back,
    opted_out_in_a_status_callback_marks_the_patient_and_falls_back,
    an_invalid_number_is_marked_and_the_message_falls_back,
    callbacks_out_of_order_and_duplicated_move_status_forward_once,
    a_patient_who_texts_stop_is_reached_by_their_next_channel,
    reminders_are_scheduled_at_the_offsets_and_sent_on_time,
    reminders_already_passed_at_booking_are_skipped_and_later_ones_kept,
    rescheduling_moves_the_reminders_and_tells_the_patient,
    cancelling_withdraws_the_reminders_and_sends_a_notice,
    the_first_reminder_of_an_assessment_says_what_to_have_ready,
    quiet_hours_move_reminders_across_a_bst_change,
    no_reminder_is_sent_after_the_appointment_has_started,
    exactly_one_send_per_reminder_with_two_gateways,
    sends_never_exceed_the_rate_limit,
    yes_confirms_and_c_cancels_by_text_and_staff_are_told,
    other_patient_texts_go_to_the_inbox_after_risk_screening,
    an_urgent_referral_not_acknowledged_escalates_on_time,
    messages_in_a_language_without_templates_fall_back_to_english_flagged,
    a_temporarily_undeliverable_text_is_sent_again_then_falls_back,
    a_provider_outage_past_the_backoff_cap_falls_back_to_the_next_channel,
    reminders_beyond_the_queue_horizon_wait_and_are_queued_as_they_come_due,
);

const MOBILE: &str = "+447911123456";

fn passport() -> Value {
    json!({
        "name": "Sam Taylor",
        "preferred_name": "Sam",
        "pronouns": "they/them",
        "mobile": "07911 123456",
        "landline": "0113 496 0000",
        "address": {"lines": ["12 Park Row", "Leeds"], "postcode": "ls1 4dy"},
        "language": "English",
        "access_needs": ["easy_read"],
        "support_person": "Jo (sister)",
        "service_animal": "guide dog"
    })
}

fn with(mut base: Value, changes: Value) -> Value {
    for (k, v) in changes.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

/// A patient registered with the passport, whose updates go by these channels; their id.
async fn patient_updated_by(app: &TestApp, channels: &[&str]) -> String {
    let patient = app
        .create_patient(with(
            passport(),
            json!({"contact_preferences": {"update": channels}}),
        ))
        .await;
    patient["id"].as_str().unwrap().to_owned()
}

fn in_minutes(minutes: i64) -> String {
    (Utc::now() + TimeDelta::minutes(minutes)).to_rfc3339()
}

/// A home visit to book, so many days from now.
fn home_visit_in_days(days: i64) -> Value {
    json!({"starts_at": in_minutes(days * 24 * 60), "place": "home", "kind": "home_visit"})
}

/// A patient registered with the passport; their id.
async fn registered_patient(app: &TestApp) -> String {
    let patient = app.create_patient(passport()).await;
    patient["id"].as_str().unwrap().to_owned()
}

async fn patients_are_registered_with_their_passport_and_validated(engine: Engine) {
    let app = spawn_app(engine).await;
    let patient = app.create_patient(passport()).await;
    assert!(patient["id"].is_string());
    assert_eq!(patient["mobile"], MOBILE, "E.164");
    assert_eq!(patient["landline"], "+441134960000");
    assert_eq!(patient["address"]["postcode"], "LS1 4DY");
    assert_eq!(patient["team"], "leeds", "routed by postcode");
    assert_eq!(patient["sms_opted_out"], false);
    assert_eq!(
        patient["contact_preferences"],
        json!({"urgent": ["phone_call"], "reminder": ["sms"], "update": ["sms"], "non_urgent": ["letter"]}),
        "the service page's defaults"
    );
    let (status, fetched) = app
        .get(
            &app.clinician,
            &format!("/patients/{}", patient["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(fetched["support_person"], "Jo (sister)");
    assert_eq!(fetched["access_needs"], json!(["easy_read"]));

    for (bad, field) in [
        (json!({"mobile": "12345"}), "mobile"),
        (json!({"mobile": "0113 496 0000"}), "mobile"),
        (
            json!({"address": {"lines": ["x"], "postcode": "XX"}}),
            "postcode",
        ),
        (json!({"quiet_hours": "late"}), "quiet_hours"),
        (json!({"team": "atlantis"}), "team"),
        (json!({"name": " "}), "name"),
        (
            json!({"contact_preferences": {"urgent": ["sms", "sms"]}}),
            "contact_preferences",
        ),
    ] {
        let (status, body) = app
            .post_json(&app.scheduler, "/patients", with(passport(), bad.clone()))
            .await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert!(
            body["detail"].as_str().unwrap().contains(field),
            "{bad}: {body}"
        );
    }
    let (status, _) = app
        .post_json(
            &app.scheduler,
            "/patients",
            with(passport(), json!({"access_needs": ["telepathy"]})),
        )
        .await;
    assert_eq!(status, 422);
    let (_, list) = app
        .get(
            &app.scheduler,
            &format!("/patients?mobile={}", crate::helpers::urlencode(MOBILE)),
        )
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    app.stop().await;
}

async fn a_patient_can_be_changed_field_by_field(engine: Engine) {
    let app = spawn_app(engine).await;
    let id = &registered_patient(&app).await;
    let (status, changed) = app
        .patch_json(
            &app.scheduler,
            &format!("/patients/{id}"),
            json!({"quiet_hours": "22:00-07:00", "contact_preferences": {"reminder": ["letter", "sms"]}, "support_person": null}),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["quiet_hours"], "22:00-07:00");
    assert_eq!(
        changed["contact_preferences"]["reminder"],
        json!(["letter", "sms"])
    );
    assert_eq!(
        changed["contact_preferences"]["urgent"],
        json!(["phone_call"])
    );
    assert_eq!(changed["support_person"], Value::Null);
    assert_eq!(changed["name"], "Sam Taylor", "untouched fields stay");
    let (status, _) = app
        .patch_json(
            &app.scheduler,
            &format!("/patients/{id}"),
            json!({"mobile": "999"}),
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) = app
        .patch_json(&app.scheduler, "/patients/nobody", json!({"name": "x"}))
        .await;
    assert_eq!(status, 404);
    app.stop().await;
}

async fn a_referral_becomes_a_patient_carrying_its_answers(engine: Engine) {
    let mut app = spawn_app(engine).await;
    app.start_referral(
        MOBILE,
        &[
            ("relationship", "1"),
            ("name", "Sam, they/them"),
            ("age", "34"),
            ("postcode", "LS1 4DY"),
            ("safety", "1"),
            ("situation", "not sleeping"),
            ("contact_method", "3"),
            ("language", "Polish"),
            ("access_needs", "2"),
            ("anything_else", "I have a guide dog"),
            ("confirm", "yes"),
        ],
    )
    .await;
    let referral_id = app.referral_id_of(MOBILE).await;
    let (status, _) = app
        .post_json(
            &app.scheduler,
            &format!("/referrals/{referral_id}/patient"),
            json!({}),
        )
        .await;
    assert_eq!(status, 403, "schedulers do not read referral content");
    let (status, patient) = app
        .post_json(
            &app.clinician,
            &format!("/referrals/{referral_id}/patient"),
            json!({}),
        )
        .await;
    assert_eq!(status, 201, "{patient}");
    assert_eq!(patient["name"], "Sam");
    assert_eq!(patient["pronouns"], "they/them");
    assert_eq!(patient["mobile"], MOBILE);
    assert_eq!(patient["address"]["postcode"], "LS1 4DY");
    assert_eq!(patient["language"], "Polish");
    assert_eq!(patient["interpreter"], true);
    assert_eq!(patient["access_needs"], json!(["large_print"]));
    assert_eq!(patient["contact_preferences"]["reminder"][0], "letter");
    assert_eq!(patient["referral_id"], referral_id.as_str());
    assert_eq!(patient["team"], "leeds");
    assert_eq!(patient["service_animal"], "Guide dog");
    let notes = patient["notes"].as_str().unwrap();
    assert!(
        !notes.contains("guide dog") && !notes.contains("not sleeping"),
        "the person's words stay in the referral: {notes}"
    );
    let (status, _) = app
        .post_json(
            &app.clinician,
            &format!("/referrals/{referral_id}/patient"),
            json!({}),
        )
        .await;
    assert_eq!(status, 409, "one patient per referral");
    app.stop().await;
}

async fn an_update_goes_by_text_to_the_patients_mobile(engine: Engine) {
    let app = spawn_app(engine).await;
    let id = &registered_patient(&app).await;
    let (status, message) = app
        .send_update(id, "Your new care coordinator is Alex.")
        .await;
    assert_eq!(status, 202, "{message}");
    assert_eq!(message["channel"], "sms");
    assert_eq!(message["purpose"], "update");
    assert!(message["skipped"].as_array().unwrap().is_empty());
    let sent = app.twilio.wait_for(1).await;
    assert_eq!(sent[0].to, MOBILE);
    assert!(
        sent[0].body.contains("Your new care coordinator is Alex."),
        "{}",
        sent[0].body
    );
    let messages = app
        .wait_for_messages(id, |m| m.first().is_some_and(|m| m["status"] == "sent"))
        .await;
    let history: Vec<_> = messages[0]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].clone())
        .collect();
    assert_eq!(history, [json!("queued"), json!("sending"), json!("sent")]);
    assert_eq!(app.receipt(&sent[0].sid, "delivered", None).await, 204);
    let messages = app.messages(id).await;
    assert_eq!(messages[0]["status"], "delivered");
    // A template needs its variables: a missing one is a clear 422, nothing sent.
    let (status, body) = app
        .send_message(id, json!({"purpose": "update", "template": "cancellation"}))
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = app
        .send_message(
            id,
            json!({"purpose": "update", "template": "no_such_template"}),
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) = app
        .send_message(id, json!({"purpose": "whenever", "text": "hi"}))
        .await;
    assert_eq!(status, 422);
    app.stop().await;
}

async fn phone_call_preference_puts_a_task_on_the_call_list(engine: Engine) {
    let app = spawn_app(engine).await;
    let id = &registered_patient(&app).await;
    let (status, message) = app.send_message(id, json!({"purpose": "urgent"})).await;
    assert_eq!(status, 202, "{message}");
    assert_eq!(
        message["channel"], "phone_call",
        "urgent defaults to a phone call"
    );
    assert_eq!(message["status"], "task_created");
    let (_, tasks) = app
        .get(&app.scheduler, "/tasks?kind=phone_call&status=open")
        .await;
    let tasks = tasks["items"].as_array().unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["patient_id"], id.as_str());
    assert_eq!(tasks[0]["message_id"], message["id"]);
    let text = tasks[0]["text"].as_str().unwrap();
    assert!(
        text.contains(MOBILE) && text.contains("Sam"),
        "who to call: {text}"
    );
    let task_id = tasks[0]["id"].as_str().unwrap();
    let (status, done) = app
        .post_json(
            &app.scheduler,
            &format!("/tasks/{task_id}/complete"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(done["status"], "done");
    assert_eq!(done["completed_by"], "scheduler-sam");
    let (_, open) = app
        .get(&app.scheduler, "/tasks?kind=phone_call&status=open")
        .await;
    assert!(open["items"].as_array().unwrap().is_empty());
    assert_eq!(app.messages(id).await[0]["status"], "sent");
    assert!(app.twilio.sent().is_empty(), "no text for a phone call");
    app.stop().await;
}

/// The text a PDF holds, read back with an independent parser.
fn pdf_text(bytes: &[u8]) -> String {
    pdf_extract::extract_text_from_mem(bytes).expect("the letter is a readable PDF")
}

async fn a_letter_is_rendered_as_a_pdf_on_the_print_list_in_large_print_when_asked(engine: Engine) {
    let app = spawn_app(engine).await;
    let patient = app
        .create_patient(with(passport(), json!({"access_needs": ["large_print"]})))
        .await;
    let id = patient["id"].as_str().unwrap();
    let (status, message) = app.send_message(id, json!({"purpose": "non_urgent", "text": "We have arranged a review of your care plan with your GP."})).await;
    assert_eq!(status, 202, "{message}");
    assert_eq!(
        message["channel"], "letter",
        "non-urgent defaults to a letter"
    );
    let (_, tasks) = app
        .get(&app.scheduler, "/tasks?kind=letter&status=open")
        .await;
    let task = &tasks["items"][0];
    assert!(
        task["text"].as_str().unwrap().contains("large print"),
        "{task}"
    );
    let response = app
        .http
        .get(app.url(&format!(
            "/api/v1/tasks/{}/letter.pdf",
            task["id"].as_str().unwrap()
        )))
        .bearer_auth(&app.scheduler)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    let pdf = response.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    let text = pdf_text(&pdf);
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for needle in [
        "Sam Taylor",
        "12 Park Row",
        "LS1 4DY",
        "review of your care plan",
        "999",
    ] {
        assert!(
            flat.contains(needle),
            "{needle} missing from the letter: {flat}"
        );
    }
    let (status, _) = app.get(&app.scheduler, "/tasks/nope/letter.pdf").await;
    assert_eq!(status, 404);
    app.stop().await;
}

async fn each_unusable_channel_is_skipped_with_the_reason(engine: Engine) {
    let app = spawn_app(engine).await;
    let prefs = json!({"update": ["sms", "phone_call", "letter"]});
    let no_mobile = app
        .create_patient(with(
            passport(),
            json!({"mobile": null, "contact_preferences": prefs}),
        ))
        .await;
    let (_, message) = app
        .send_update(no_mobile["id"].as_str().unwrap(), "hello")
        .await;
    assert_eq!(message["channel"], "phone_call", "{message}");
    assert_eq!(
        message["skipped"],
        json!([{"channel": "sms", "reason": "no_mobile"}])
    );

    let nothing_but_post = app
        .create_patient(with(
            passport(),
            json!({"mobile": null, "landline": null, "contact_preferences": prefs}),
        ))
        .await;
    let (_, message) = app
        .send_update(nothing_but_post["id"].as_str().unwrap(), "hello")
        .await;
    assert_eq!(message["channel"], "letter", "{message}");
    assert_eq!(
        message["skipped"],
        json!([{"channel": "sms", "reason": "no_mobile"}, {"channel": "phone_call", "reason": "no_phone_number"}])
    );
    app.stop().await;
}

async fn nothing_usable_fails_the_message_and_tells_the_team(engine: Engine) {
    let app = spawn_app(engine).await;
    let patient = app
        .create_patient(with(passport(), json!({"mobile": null, "address": null})))
        .await;
    let (status, message) = app
        .send_update(patient["id"].as_str().unwrap(), "hello")
        .await;
    assert_eq!(status, 202);
    assert_eq!(message["status"], "failed");
    assert_eq!(message["channel"], Value::Null);
    assert_eq!(message["skipped"][0]["reason"], "no_mobile");
    let (_, inbox) = app.get(&app.scheduler, "/inbox?status=open").await;
    let items = inbox["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .any(|i| i["kind"] == "undeliverable" && i["message_id"] == message["id"]),
        "{inbox}"
    );
    app.stop().await;
}

async fn opted_out_at_send_time_marks_the_patient_and_falls_back(engine: Engine) {
    let app = spawn_app(engine).await;
    let id = &patient_updated_by(&app, &["sms", "letter"]).await;
    app.twilio.refuse_next(21610);
    app.send_update(id, "hello").await;
    let messages = app
        .wait_for_messages(id, |m| m.first().is_some_and(|m| m["channel"] == "letter"))
        .await;
    assert_eq!(messages[0]["status"], "task_created");
    assert_eq!(
        messages[0]["skipped"],
        json!([{"channel": "sms", "reason": "sms_opted_out"}])
    );
    let (_, patient) = app.get(&app.scheduler, &format!("/patients/{id}")).await;
    assert_eq!(patient["sms_opted_out"], true);
    // The next message does not try texting at all.
    let (_, next) = app.send_update(id, "again").await;
    assert_eq!(next["channel"], "letter");
    assert_eq!(next["skipped"][0]["reason"], "sms_opted_out");
    assert_eq!(app.twilio.attempts(), 1);
    app.stop().await;
}

async fn opted_out_in_a_status_callback_marks_the_patient_and_falls_back(engine: Engine) {
    let app = spawn_app(engine).await;
    let id = &patient_updated_by(&app, &["sms", "phone_call"]).await;
    app.send_update(id, "hello").await;
    let sent = app.wait_until_sent(id, 1).await;
    assert_eq!(
        app.receipt(&sent.sid, "undelivered", Some("21610")).await,
        204
    );
    let messages = app.messages(id).await;
    assert_eq!(messages[0]["channel"], "phone_call", "{:#?}", messages[0]);
    assert_eq!(messages[0]["skipped"][0]["reason"], "sms_opted_out");
    let (_, patient) = app.get(&app.scheduler, &format!("/patients/{id}")).await;
    assert_eq!(patient["sms_opted_out"], true);
    let (_, tasks) = app.get(&app.scheduler, "/tasks?kind=phone_call").await;
    assert_eq!(tasks["items"].as_array().unwrap().len(), 1);
    app.stop().await;
}

async fn an_invalid_number_is_marked_and_the_message_falls_back(engine: Engine) {
    let app = spawn_app(engine).await;
    let id = &patient_updated_by(&app, &["sms", "letter"]).await;
    app.twilio.refuse_next(21211);
    app.send_update(id, "hello").await;
    let messages = app
        .wait_for_messages(id, |m| m[0]["channel"] == "letter")
        .await;
    assert_eq!(messages[0]["skipped"][0]["reason"], "sms_failed_21211");
    let (_, patient) = app.get(&app.scheduler, &format!("/patients/{id}")).await;
    assert_eq!(patient["mobile_failed"], "21211");
    assert_eq!(patient["sms_opted_out"], false);
    // A new mobile number is tried again.
    let (_, patient) = app
        .patch_json(
            &app.scheduler,
            &format!("/patients/{id}"),
            json!({"mobile": "07911 123457"}),
        )
        .await;
    assert_eq!(patient["mobile_failed"], Value::Null);
    app.stop().await;
}

async fn callbacks_out_of_order_and_duplicated_move_status_forward_once(engine: Engine) {
    let app = spawn_app(engine).await;
    let id = &patient_updated_by(&app, &["sms", "letter"]).await;
    app.send_update(id, "first").await;
    let sid = app.wait_until_sent(id, 1).await.sid;
    assert_eq!(app.receipt(&sid, "delivered", None).await, 204);
    assert_eq!(app.receipt(&sid, "sent", None).await, 204, "late");
    assert_eq!(app.receipt(&sid, "delivered", None).await, 204, "duplicate");
    let messages = app.messages(id).await;
    assert_eq!(messages[0]["status"], "delivered");
    let delivered = messages[0]["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["status"] == "delivered")
        .count();
    assert_eq!(delivered, 1, "a duplicate receipt changes nothing");

    app.send_update(id, "second").await;
    let sid = app.wait_until_sent(id, 2).await.sid;
    for _ in 0..3 {
        app.receipt(&sid, "undelivered", Some("30005")).await;
    }
    app.receipt(&sid, "failed", Some("30005")).await;
    let (_, tasks) = app.get(&app.scheduler, "/tasks?kind=letter").await;
    assert_eq!(
        tasks["items"].as_array().unwrap().len(),
        1,
        "one fallback, however many receipts"
    );
    assert_eq!(app.messages(id).await[0]["channel"], "letter");
    app.stop().await;
}

async fn a_patient_who_texts_stop_is_reached_by_their_next_channel(engine: Engine) {
    let mut app = spawn_app(engine).await;
    let id = &patient_updated_by(&app, &["sms", "letter"]).await;
    let stop = app.text(MOBILE, "STOP").await;
    assert!(stop.text().contains("START"), "{}", stop.text());
    let (_, patient) = app.get(&app.scheduler, &format!("/patients/{id}")).await;
    assert_eq!(patient["sms_opted_out"], true);
    let (_, message) = app.send_update(id, "hello").await;
    assert_eq!(message["channel"], "letter");
    assert_eq!(message["skipped"][0]["reason"], "sms_opted_out");
    app.text(MOBILE, "START").await;
    let (_, message) = app.send_update(id, "hello again").await;
    assert_eq!(message["channel"], "sms");
    // Not a referral: no conversation was started by these texts.
    let (status, _) = app
        .get(
            &app.admin,
            &format!("/conversations/{}", crate::helpers::urlencode(MOBILE)),
        )
        .await;
    assert_eq!(status, 404);
    app.stop().await;
}

async fn reminders_are_scheduled_at_the_offsets_and_sent_on_time(engine: Engine) {
    let app = spawn_app_with(
        engine,
        |c| c.reminder_offsets = vec![Duration::from_secs(5), Duration::from_secs(3)],
        false,
    )
    .await;
    let id = &registered_patient(&app).await;
    let starts_at = chrono::DurationRound::duration_trunc(
        Utc::now() + TimeDelta::seconds(8),
        TimeDelta::seconds(1),
    )
    .unwrap();
    let appointment = app
        .book_appointment(
            id,
            json!({"starts_at": starts_at.to_rfc3339(), "place": "home", "kind": "home_visit"}),
        )
        .await;
    let reminders = appointment["reminders"].as_array().unwrap();
    assert_eq!(reminders.len(), 2);
    assert_eq!(reminders[0]["offset_seconds"], 5);
    assert_eq!(reminders[0]["status"], "pending");
    let due: Vec<chrono::DateTime<Utc>> = reminders
        .iter()
        .map(|r| r["due_at"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(due[0], starts_at - TimeDelta::seconds(5));
    let sent = app.twilio.wait_for(2).await;
    for (text, due) in sent.iter().zip(&due) {
        assert_eq!(text.to, MOBILE);
        assert!(
            text.body.contains("YES") && text.body.contains("999"),
            "{}",
            text.body
        );
        let _ = due;
    }
    // Within 5 seconds of its time: check from the stored history.
    let messages = app
        .wait_for_messages(id, |m| {
            m.len() == 2 && m.iter().all(|m| m["status"] == "sent")
        })
        .await;
    for message in &messages {
        let sent_at: chrono::DateTime<Utc> = message["history"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["status"] == "sent")
            .and_then(|h| h["at"].as_str())
            .unwrap()
            .parse()
            .unwrap();
        assert!(sent_at < starts_at, "before the start");
        assert!(
            due.iter()
                .any(|d| (sent_at - *d).num_milliseconds().abs() < 5000),
            "{sent_at} vs {due:?}"
        );
    }
    let (_, appointment) = app
        .get(
            &app.scheduler,
            &format!("/appointments/{}", appointment["id"].as_str().unwrap()),
        )
        .await;
    assert!(
        appointment["reminders"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "sent")
    );
    app.stop().await;
}

async fn reminders_already_passed_at_booking_are_skipped_and_later_ones_kept(engine: Engine) {
    let app = spawn_app(engine).await;
    let id = &registered_patient(&app).await;
    // Three hours away: the 24-hour reminder's time has passed, the 2-hour one has not.
    let appointment = app.book_appointment(id, json!({"starts_at": in_minutes(180), "place": "site", "site_name": "Becklin Centre", "kind": "review"})).await;
    let reminders = appointment["reminders"].as_array().unwrap();
    assert_eq!(reminders[0]["offset_seconds"], 86400);
    assert_eq!(reminders[0]["status"], "skipped");
    assert_eq!(reminders[0]["reason"], "already_passed");
    assert_eq!(reminders[1]["offset_seconds"], 7200);
    assert_eq!(reminders[1]["status"], "pending");
    let (status, body) = app
        .post_json(
            &app.scheduler,
            &format!("/patients/{id}/appointments"),
            json!({"starts_at": in_minutes(-5), "place": "home", "kind": "review"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = app
        .post_json(
            &app.scheduler,
            &format!("/patients/{id}/appointments"),
            json!({"starts_at": in_minutes(600), "place": "site", "kind": "review"}),
        )
        .await;
    assert_eq!(status, 422, "a site needs its name");
    app.stop().await;
}

async fn rescheduling_moves_the_reminders_and_tells_the_patient(engine: Engine) {
    let app = spawn_app(engine).await;
    let id = &registered_patient(&app).await;
    let appointment = app.book_appointment(id, home_visit_in_days(3)).await;
    let appointment_id = appointment["id"].as_str().unwrap();
    let new_start = Utc::now() + TimeDelta::days(5);
    let (status, moved) = app
        .patch_json(
            &app.scheduler,
            &format!("/appointments/{appointment_id}"),
            json!({"starts_at": new_start.to_rfc3339()}),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    let reminders = moved["reminders"].as_array().unwrap();
    let due: chrono::DateTime<Utc> = reminders[0]["due_at"].as_str().unwrap().parse().unwrap();
    assert_eq!((new_start - due).num_seconds(), 86400);
    assert!(reminders.iter().all(|r| r["status"] == "pending"));
    let sent = app.twilio.wait_for(1).await;
    assert!(
        sent[0].body.to_lowercase().contains("moved")
            || sent[0].body.to_lowercase().contains("changed"),
        "{}",
        sent[0].body
    );
    let messages = app.messages(id).await;
    assert_eq!(messages[0]["appointment_id"], appointment_id);
    app.stop().await;
}

async fn cancelling_withdraws_the_reminders_and_sends_a_notice(engine: Engine) {
    let app = spawn_app(engine).await;
    let id = &registered_patient(&app).await;
    let appointment = app.book_appointment(id, home_visit_in_days(3)).await;
    let appointment_id = appointment["id"].as_str().unwrap();
    assert_eq!(
        app.delete(&app.scheduler, &format!("/appointments/{appointment_id}"))
            .await,
        204
    );
    let (_, listed) = app
        .get(&app.scheduler, &format!("/patients/{id}/appointments"))
        .await;
    let cancelled = &listed["items"][0];
    assert_eq!(cancelled["status"], "cancelled", "stays listed");
    assert!(
        cancelled["reminders"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "cancelled")
    );
    let sent = app.twilio.wait_for(1).await;
    assert!(
        sent[0].body.to_lowercase().contains("cancel"),
        "{}",
        sent[0].body
    );
    assert_eq!(
        app.delete(&app.scheduler, &format!("/appointments/{appointment_id}"))
            .await,
        204
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.twilio.sent().len(), 1, "one notice");
    let (status, _) = app
        .patch_json(
            &app.scheduler,
            &format!("/appointments/{appointment_id}"),
            json!({"starts_at": in_minutes(600)}),
        )
        .await;
    assert_eq!(status, 409);
    app.stop().await;
}

async fn the_first_reminder_of_an_assessment_says_what_to_have_ready(engine: Engine) {
    let app = spawn_app_with(
        engine,
        |c| c.reminder_offsets = vec![Duration::from_secs(4), Duration::from_secs(2)],
        false,
    )
    .await;
    let patient = app
        .create_patient(with(passport(), json!({"access_needs": []})))
        .await;
    app.book_appointment(patient["id"].as_str().unwrap(),
        json!({"starts_at": (Utc::now() + TimeDelta::seconds(7)).to_rfc3339(), "place": "site", "site_name": "Becklin Centre", "kind": "assessment"}),
    )
    .await;
    let sent = app.twilio.wait_for(2).await;
    let with_list = sent
        .iter()
        .filter(|t| t.body.to_lowercase().contains("medicine"))
        .count();
    assert_eq!(
        with_list, 1,
        "exactly one reminder (the first) lists what to have ready: {sent:#?}"
    );
    for text in &sent {
        let size = crht_gateway::channels::sms::sms_size(&text.body);
        assert!(size.segments <= 2, "{size:?}: {}", text.body);
    }
    app.stop().await;
}

async fn quiet_hours_move_reminders_across_a_bst_change(engine: Engine) {
    let app = spawn_app_with(
        engine,
        |c| c.quiet_hours = crht_gateway::config::QuietHours::parse("21:00-08:00").unwrap(),
        true,
    )
    .await;
    // Clocks go forward on Sunday 28 March 2027. Booked on Friday 26 March (GMT).
    app.clock
        .as_ref()
        .unwrap()
        .set(Utc.with_ymd_and_hms(2027, 3, 26, 12, 0, 0).unwrap());
    let patient = app.create_patient(passport()).await;
    // Monday 29 March 09:30 BST = 08:30 UTC.
    let appointment = app
        .book_appointment(
            patient["id"].as_str().unwrap(),
            json!({"starts_at": "2027-03-29T08:30:00Z", "place": "home", "kind": "review"}),
        )
        .await;
    let reminders = appointment["reminders"].as_array().unwrap();
    // 24 h before: Sunday 09:30 BST, allowed as it is.
    assert_eq!(reminders[0]["due_at"], "2027-03-28T08:30:00Z");
    // 2 h before: 07:30 BST, quiet; moved to 08:00 BST = 07:00 UTC (not 08:00 UTC).
    assert_eq!(reminders[1]["due_at"], "2027-03-29T07:00:00Z");
    // The patient's own quiet hours win over the service's.
    let night_owl = app
        .create_patient(with(
            passport(),
            json!({"quiet_hours": "off", "mobile": "07911 123457"}),
        ))
        .await;
    let appointment = app
        .book_appointment(
            night_owl["id"].as_str().unwrap(),
            json!({"starts_at": "2027-03-29T08:30:00Z", "place": "home", "kind": "review"}),
        )
        .await;
    assert_eq!(
        appointment["reminders"][1]["due_at"],
        "2027-03-29T06:30:00Z"
    );
    app.stop().await;
}

async fn no_reminder_is_sent_after_the_appointment_has_started(engine: Engine) {
    use crht_gateway::jobs::reminders::{Reminded, ReminderContext, remind_once};
    let app = spawn_app_with(engine, |_| {}, true).await;
    let clock = app.clock.clone().unwrap();
    clock.set(Utc::now());
    let patient = app.create_patient(passport()).await;
    let appointment = app.book_appointment(patient["id"].as_str().unwrap(),
        json!({"starts_at": (Utc::now() + TimeDelta::days(3)).to_rfc3339(), "place": "home", "kind": "review"}),
    )
    .await;
    let appointment_id = appointment["id"].as_str().unwrap();
    let stored = app
        .app
        .store()
        .appointment(&appointment_id.into())
        .await
        .unwrap()
        .unwrap();
    let reminder = &stored.reminders[0];
    // The gateway was down: the job runs only after the appointment began.
    clock.advance(TimeDelta::days(3) + TimeDelta::minutes(1));
    let ctx = ReminderContext {
        outbound: app.app.state.outbound.clone(),
        clock: std::sync::Arc::new(clock.clone()),
    };
    let job = crht_gateway::store::ReminderJob {
        reminder_id: reminder.id.clone(),
        version: reminder.version,
    };
    let outcome = remind_once(&ctx, &job).await.unwrap();
    assert_eq!(outcome, Reminded::Skipped("at_or_after_start".into()));
    assert!(
        app.messages(patient["id"].as_str().unwrap())
            .await
            .is_empty()
    );
    // And a stale job (an older version) does nothing at all.
    let stale = crht_gateway::store::ReminderJob {
        reminder_id: stored.reminders[1].id.clone(),
        version: stored.reminders[1].version - 1,
    };
    assert_eq!(remind_once(&ctx, &stale).await.unwrap(), Reminded::Stale);
    app.stop().await;
}

async fn exactly_one_send_per_reminder_with_two_gateways(engine: Engine) {
    let app = spawn_app_with(
        engine,
        |c| {
            c.reminder_offsets = vec![Duration::from_secs(3)];
            c.sms_rate_per_sec = std::num::NonZeroU32::new(1000).unwrap();
        },
        false,
    )
    .await;
    let replica = app.spawn_replica().await;
    let starts_at = Utc::now() + TimeDelta::seconds(6);
    let mut patients = Vec::new();
    for i in 0..10 {
        let patient = app
            .create_patient(with(
                passport(),
                json!({"mobile": format!("07911 1235{i:02}")}),
            ))
            .await;
        app.book_appointment(
            patient["id"].as_str().unwrap(),
            json!({"starts_at": starts_at.to_rfc3339(), "place": "home", "kind": "review"}),
        )
        .await;
        patients.push(patient["id"].as_str().unwrap().to_owned());
    }
    app.twilio.wait_for(10).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sent = app.twilio.sent();
    assert_eq!(sent.len(), 10, "exactly one text per reminder");
    let mut to: Vec<_> = sent.iter().map(|s| s.to.clone()).collect();
    to.sort();
    to.dedup();
    assert_eq!(to.len(), 10);
    for id in &patients {
        assert_eq!(app.messages(id).await.len(), 1);
    }
    replica.stop().await;
    app.stop().await;
}

async fn sends_never_exceed_the_rate_limit(engine: Engine) {
    // PostgreSQL deployments run several gateways: the limit holds across both. An SQLite file
    // has one gateway, whose delivery workers share the limit.
    let replicated = matches!(engine, Engine::Postgres(_));
    let app = spawn_app_with(
        engine,
        |c| c.sms_rate_per_sec = std::num::NonZeroU32::new(4).unwrap(),
        false,
    )
    .await;
    let replica = if replicated {
        Some(app.spawn_replica().await)
    } else {
        None
    };
    let id = &registered_patient(&app).await;
    for n in 0..12 {
        app.send_update(id, &format!("update {n}")).await;
    }
    let sent = app.twilio.wait_for(12).await;
    let mut times: Vec<_> = sent.iter().map(|s| s.at).collect();
    times.sort();
    // Slots are 250 ms apart; a send can only be late for its slot, never early. Allowing a
    // send up to 200 ms late, no 800 ms window may hold five.
    for (i, start) in times.iter().enumerate() {
        let within = times[i..]
            .iter()
            .take_while(|t| t.duration_since(*start) < Duration::from_millis(800))
            .count();
        assert!(
            within <= 4,
            "{within} sends within 800 ms (limit 4 a second)"
        );
    }
    let spread = times[11].duration_since(times[0]);
    assert!(
        spread >= Duration::from_millis(2500),
        "12 sends at 4/s take about 3 s, took {spread:?}"
    );
    if let Some(replica) = replica {
        replica.stop().await;
    }
    app.stop().await;
}

async fn yes_confirms_and_c_cancels_by_text_and_staff_are_told(engine: Engine) {
    let mut app = spawn_app(engine).await;
    let id = &registered_patient(&app).await;
    let first = app.book_appointment(id, home_visit_in_days(2)).await;
    let second = app.book_appointment(id, home_visit_in_days(6)).await;

    let yes = app.text(MOBILE, "Yes").await;
    assert!(
        yes.text().to_lowercase().contains("confirm"),
        "{}",
        yes.text()
    );
    let (_, first_now) = app
        .get(
            &app.scheduler,
            &format!("/appointments/{}", first["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(first_now["status"], "confirmed", "the next appointment");

    let c = app.text(MOBILE, "C").await;
    assert!(c.text().to_lowercase().contains("cancel"), "{}", c.text());
    let (_, first_now) = app
        .get(
            &app.scheduler,
            &format!("/appointments/{}", first["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(first_now["status"], "cancelled");
    assert!(
        first_now["reminders"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] != "pending")
    );
    let (_, second_now) = app
        .get(
            &app.scheduler,
            &format!("/appointments/{}", second["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(second_now["status"], "booked", "only the next one");

    let (status, inbox) = app.get(&app.scheduler, "/inbox").await;
    assert_eq!(status, 200);
    let kinds: Vec<_> = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        kinds.contains(&"appointment_confirmed".to_owned())
            && kinds.contains(&"appointment_cancelled".to_owned()),
        "{kinds:?}"
    );
    // CANCEL is the provider's opt-out word: it opts out, it does not cancel.
    app.text(MOBILE, "CANCEL").await;
    let (_, second_now) = app
        .get(
            &app.scheduler,
            &format!("/appointments/{}", second["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(second_now["status"], "booked");
    let (_, patient) = app.get(&app.scheduler, &format!("/patients/{id}")).await;
    assert_eq!(patient["sms_opted_out"], true);
    app.stop().await;
}

async fn other_patient_texts_go_to_the_inbox_after_risk_screening(engine: Engine) {
    let mut app = spawn_app(engine).await;
    let id = &registered_patient(&app).await;
    app.book_appointment(id, home_visit_in_days(2)).await;
    let reply = app
        .text(MOBILE, "Can someone call me about my medication please")
        .await;
    assert!(reply.text().contains("999"), "{}", reply.text());
    let risk = app.text(MOBILE, "yes I want to end my life").await;
    assert!(risk.text().contains("999"));
    let (_, appointments) = app
        .get(&app.scheduler, &format!("/patients/{id}/appointments"))
        .await;
    assert_eq!(
        appointments["items"][0]["status"], "booked",
        "a risk text does not confirm"
    );
    // A patient's risk words are for clinicians (schedulers' lists leave them out).
    let (_, inbox) = app.get(&app.clinician, "/inbox").await;
    let items = inbox["items"].as_array().unwrap();
    assert_eq!(items[0]["kind"], "risk", "urgent first: {inbox}");
    assert_eq!(items[0]["urgent"], true);
    assert!(items.iter().any(|i| i["kind"] == "patient_text"
        && i["body"] == "Can someone call me about my medication please"));
    let (_, patient) = app.get(&app.scheduler, &format!("/patients/{id}")).await;
    assert_eq!(patient["urgent"], true);
    assert!(!patient["risk_signals"].as_array().unwrap().is_empty());
    // On-call for the patient's team (Leeds) is alerted — no name, no words.
    let sent = app.twilio.wait_for(2).await;
    assert!(sent.iter().all(|s| s.to.starts_with("+4479112000")
        && !s.body.contains("Sam")
        && !s.body.contains("end my life")));
    app.stop().await;
}

async fn an_urgent_referral_not_acknowledged_escalates_on_time(engine: Engine) {
    let mut app = spawn_app_with(engine, |_| {}, true).await;
    app.text("+447911000501", "I want to kill myself").await;
    app.text("+447911000502", "I want to die").await;
    let acknowledged = app.referral_id_of("+447911000502").await;
    app.post_json(
        &app.clinician,
        &format!("/referrals/{acknowledged}/status"),
        json!({"status": "acknowledged"}),
    )
    .await;
    app.twilio.wait_for(4).await; // first alerts: two on-call numbers each
    app.advance(TimeDelta::minutes(14));
    app.app.sweep().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.twilio.sent().len(), 4, "not yet 15 minutes");

    app.advance(TimeDelta::minutes(2));
    app.app.sweep().await.unwrap();
    app.app.sweep().await.unwrap();
    let sent = app.twilio.wait_for(6).await;
    assert!(
        sent[4].body.contains("NOT ACKNOWLEDGED"),
        "{}",
        sent[4].body
    );
    let mut again: Vec<_> = sent[4..].iter().map(|s| s.to.clone()).collect();
    again.sort();
    assert_eq!(
        again,
        ["+447911200001", "+447911200002"],
        "on-call again (default team)"
    );

    app.advance(TimeDelta::minutes(15));
    app.app.sweep().await.unwrap();
    let sent = app.twilio.wait_for(7).await;
    assert_eq!(sent[6].to, "+447911200009", "then the escalation number");
    app.advance(TimeDelta::minutes(60));
    app.app.sweep().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        app.twilio.sent().len(),
        7,
        "no more after escalation; the acknowledged one never"
    );

    let (_, audit) = app.get(&app.admin, "/audit").await;
    let steps: Vec<_> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["action"]
                .as_str()
                .unwrap()
                .starts_with("referral.escalated")
        })
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        steps,
        [
            "referral.escalated.escalation_numbers",
            "referral.escalated.on_call_again"
        ]
    );
    app.stop().await;
}

async fn messages_in_a_language_without_templates_fall_back_to_english_flagged(engine: Engine) {
    let app = spawn_app(engine).await;
    let patient = app
        .create_patient(with(passport(), json!({"language": "Polish"})))
        .await;
    let (_, message) = app
        .send_update(patient["id"].as_str().unwrap(), "hello")
        .await;
    assert_eq!(message["language"], "en");
    assert_eq!(message["interpreter_may_be_needed"], true);
    app.stop().await;
}

async fn a_temporarily_undeliverable_text_is_sent_again_then_falls_back(engine: Engine) {
    let app = spawn_app(engine).await;
    let id = &patient_updated_by(&app, &["sms", "letter"]).await;
    app.send_update(id, "hello").await;
    // The handset is off (30003): sent again with backoff, three times, then the letter.
    for round in 1..=4 {
        let sent = app.wait_until_sent(id, round).await;
        assert_eq!(
            app.receipt(&sent.sid, "undelivered", Some("30003")).await,
            204
        );
    }
    let messages = app
        .wait_for_messages(id, |m| m[0]["channel"] == "letter")
        .await;
    assert_eq!(app.twilio.sent().len(), 4, "the first send and three more");
    assert_eq!(messages[0]["skipped"][0]["reason"], "sms_failed_30003");
    let (_, patient) = app.get(&app.scheduler, &format!("/patients/{id}")).await;
    assert_eq!(
        patient["mobile_failed"],
        Value::Null,
        "a temporary failure does not mark the number"
    );
    app.stop().await;
}

async fn a_provider_outage_past_the_backoff_cap_falls_back_to_the_next_channel(engine: Engine) {
    let app = spawn_app(engine).await;
    let id = &patient_updated_by(&app, &["sms", "phone_call"]).await;
    app.twilio.fail_next(&[500, 503, 429, 500, 502, 500, 503]);
    app.send_update(id, "hello").await;
    let messages = app
        .wait_for_messages(id, |m| m[0]["channel"] == "phone_call")
        .await;
    assert_eq!(messages[0]["skipped"][0]["reason"], "provider_unavailable");
    assert_eq!(app.twilio.attempts(), 7, "one try and six retries");
    assert!(app.twilio.sent().is_empty());
    app.stop().await;
}

async fn reminders_beyond_the_queue_horizon_wait_and_are_queued_as_they_come_due(engine: Engine) {
    let app = spawn_app_with(
        engine,
        |c| c.reminder_offsets = vec![Duration::from_secs(3)],
        true,
    )
    .await;
    let clock = app.clock.clone().unwrap();
    let real_now = Utc::now();
    // Booked "eleven minutes earlier": the reminder is further ahead than the queue's horizon.
    clock.set(real_now - TimeDelta::minutes(11));
    let patient = app.create_patient(passport()).await;
    let starts_at = real_now + TimeDelta::seconds(9);
    let appointment = app
        .book_appointment(
            patient["id"].as_str().unwrap(),
            json!({"starts_at": starts_at.to_rfc3339(), "place": "home", "kind": "review"}),
        )
        .await;
    assert_eq!(appointment["reminders"][0]["status"], "pending");
    // Due six seconds after booking; not in the queue, so nothing goes without the sweep.
    tokio::time::sleep(Duration::from_millis(6500)).await;
    assert!(app.twilio.sent().is_empty(), "not queued before the sweep");
    clock.set(Utc::now());
    app.app.sweep().await.unwrap();
    app.app.sweep().await.unwrap();
    let sent = app.twilio.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        app.twilio.sent().len(),
        1,
        "queued once, sent once: {sent:?}"
    );
    app.stop().await;
}
