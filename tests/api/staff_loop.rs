//! The staff side of the loop, through the real API and webhook on both engines: texting a
//! referral's texter back, a person's later texts joining the referral's thread, closing inbox
//! items, reporting on tasks, and the referral's events.

use std::time::Duration;

use chrono::TimeDelta;
use serde_json::{Value, json};

use crate::helpers::{Engine, SELF_REFERRAL, TestApp, spawn_app, spawn_app_with};
use crate::on_both_engines;

on_both_engines!(
    a_text_back_reaches_the_texter_from_the_referral_number_and_joins_the_transcript,
    a_text_back_to_a_number_that_opted_out_is_refused_and_never_sent,
    a_text_after_the_referral_was_sent_joins_its_thread_and_the_inbox,
    a_text_after_the_thread_window_starts_a_new_referral,
    a_risk_text_in_a_thread_gets_999_alerts_on_call_and_reopens_a_closed_referral,
    inbox_items_close_once_with_a_note,
    schedulers_never_see_a_patients_risk_words_in_the_inbox,
    call_tasks_take_outcomes_and_the_third_no_answer_falls_back_to_the_next_channel,
    a_wrong_number_falls_back_at_once_and_a_bad_outcome_is_refused,
    a_status_change_note_appears_in_the_referral_events,
);

const PHONE: &str = "+447911123480";
const REFERRAL_NUMBER: &str = "+447520667111";
const PATIENT_MOBILE: &str = "+447911123456";

/// A self-referral sent to the team with YES; its id.
async fn submitted_referral(app: &mut TestApp, phone: &str) -> String {
    let reply = app.start_referral(phone, SELF_REFERRAL).await;
    assert!(reply.text().contains("CRHT-"), "{}", reply.text());
    let id = app.referral_id_of(phone).await;
    assert_eq!(app.referral(&id).await["status"], "submitted");
    id
}

fn items(body: &Value) -> Vec<Value> {
    body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {body}"))
        .clone()
}

async fn events(app: &TestApp, referral_id: &str) -> Vec<Value> {
    let (status, body) = app
        .get(&app.clinician, &format!("/referrals/{referral_id}/events"))
        .await;
    assert_eq!(status, 200, "{body}");
    items(&body)
}

fn actions(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

async fn inbox(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let (status, body) = app.get(token, &format!("/inbox{query}")).await;
    assert_eq!(status, 200, "{body}");
    items(&body)
}

async fn a_text_back_reaches_the_texter_from_the_referral_number_and_joins_the_transcript(
    engine: Engine,
) {
    let mut app = spawn_app(engine).await;
    let id = submitted_referral(&mut app, PHONE).await;
    let path = format!("/referrals/{id}/messages");
    let words = "Hello Sam, this is Cal from the crisis team. I will call you at 3pm today.";

    let (status, body) = app
        .post_json(&app.scheduler, &path, json!({"text": words}))
        .await;
    assert_eq!(status, 403, "schedulers never text a referral: {body}");
    let (status, body) = app
        .post_json(&app.clinician, &path, json!({"text": words}))
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["direction"], "outbound");
    assert_eq!(body["sent_by"], "clinician-cal");

    let sent = app.twilio.wait_for(1).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].to, PHONE);
    assert_eq!(sent[0].from, REFERRAL_NUMBER);
    assert_eq!(sent[0].body, words);

    let transcript = items(&app.transcript(&id).await);
    let last = transcript.last().unwrap();
    assert_eq!(last["direction"], "outbound");
    assert_eq!(last["body"], words);
    assert_eq!(last["sent_by"], "clinician-cal");
    assert!(
        transcript[..transcript.len() - 1]
            .iter()
            .all(|t| t.get("sent_by").is_none()),
        "the gateway's own replies have no sender: {transcript:?}"
    );
    // Once sent, the transcript carries the provider's id for it.
    let mut provider_id = Value::Null;
    for _ in 0..100 {
        provider_id = items(&app.transcript(&id).await).last().unwrap()["provider_id"].clone();
        if !provider_id.is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(provider_id, sent[0].sid.as_str());
    // Not an on-call alert.
    assert_eq!(app.referral(&id).await["alerts"], json!([]));

    assert!(
        app.audit_entries()
            .await
            .iter()
            .any(|e| e["action"] == "referral.text_back"
                && e["actor"] == "clinician-cal"
                && e["target"] == format!("referral:{id}").as_str()),
        "audited"
    );
    assert!(actions(&events(&app, &id).await).contains(&"referral.text_back".to_owned()));

    // Words past the limit, or none, are refused; nothing more is sent.
    for text in ["x".repeat(613), "   ".to_owned(), "hi\u{0}there".to_owned()] {
        let (status, body) = app
            .post_json(&app.clinician, &path, json!({"text": text}))
            .await;
        assert_eq!(status, 422, "{body}");
    }
    let (status, _) = app
        .post_json(
            &app.clinician,
            "/referrals/no-such-referral/messages",
            json!({"text": "hello"}),
        )
        .await;
    assert_eq!(status, 404);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.twilio.sent().len(), 1);
    app.stop().await;
}

async fn a_text_back_to_a_number_that_opted_out_is_refused_and_never_sent(engine: Engine) {
    let mut app = spawn_app(engine).await;
    app.text(PHONE, "hello").await;
    let id = app.referral_id_of(PHONE).await;
    app.text(PHONE, "STOP").await;
    let response = app
        .http
        .post(app.url(&format!("/api/v1/referrals/{id}/messages")))
        .bearer_auth(&app.clinician)
        .json(&json!({"text": "Are you safe?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("opted out"),
        "{problem}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(app.twilio.sent().is_empty(), "nothing sent");
    let transcript = items(&app.transcript(&id).await);
    assert!(
        transcript.iter().all(|t| t.get("sent_by").is_none()),
        "nothing stored: {transcript:?}"
    );
    // START opts back in, and a text back goes again.
    app.text(PHONE, "START").await;
    let (status, body) = app
        .post_json(
            &app.clinician,
            &format!("/referrals/{id}/messages"),
            json!({"text": "Are you safe?"}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(app.twilio.wait_for(1).await[0].to, PHONE);
    app.stop().await;
}

async fn a_text_after_the_referral_was_sent_joins_its_thread_and_the_inbox(engine: Engine) {
    let mut app = spawn_app(engine).await;
    let id = submitted_referral(&mut app, PHONE).await;
    let words = "I forgot to say I take sertraline 50mg";
    let reply = app.text(PHONE, words).await;
    let text = reply.text();
    assert!(text.contains("team has your message"), "{text}");
    assert!(text.contains("999"), "{text}");
    assert!(text.contains("RESTART"), "how to start another: {text}");

    assert_eq!(app.referral_id_of(PHONE).await, id, "no new referral");
    let (_, queue) = app.get(&app.clinician, "/referrals").await;
    assert_eq!(items(&queue).len(), 1);
    let transcript = items(&app.transcript(&id).await);
    assert!(
        transcript
            .iter()
            .any(|t| t["direction"] == "inbound" && t["body"] == words)
    );
    assert_eq!(app.referral(&id).await["status"], "submitted");

    let clinician_inbox = inbox(&app, &app.clinician, "?status=open").await;
    let item = clinician_inbox
        .iter()
        .find(|i| i["kind"] == "referral_thread")
        .unwrap_or_else(|| panic!("thread item: {clinician_inbox:?}"));
    assert_eq!(item["referral_id"], id.as_str());
    assert_eq!(item["body"], words);
    assert_eq!(item["urgent"], false);
    assert!(
        inbox(&app, &app.scheduler, "")
            .await
            .iter()
            .all(|i| i["kind"] != "referral_thread"),
        "a referral's thread is for clinicians"
    );
    let seen = actions(&events(&app, &id).await);
    assert_eq!(seen.first().map(String::as_str), Some("referral.created"));
    assert!(
        seen.contains(&"referral.thread_text".to_owned()),
        "{seen:?}"
    );

    // HELP still works in a thread.
    let help = app.text(PHONE, "HELP").await;
    assert!(help.text().contains("999"), "{}", help.text());
    app.stop().await;
}

fn no_sweeps(_: &mut crht_gateway::config::Config) {}

async fn a_text_after_the_thread_window_starts_a_new_referral(engine: Engine) {
    let mut app = spawn_app_with(engine, no_sweeps, true).await;
    let first = submitted_referral(&mut app, PHONE).await;
    app.advance(TimeDelta::days(13));
    let reply = app.text(PHONE, "still waiting for a call").await;
    assert!(reply.text().contains("team has your message"));
    assert_eq!(
        app.referral_id_of(PHONE).await,
        first,
        "13 days: the thread"
    );

    // The window runs from the last text in the thread.
    app.advance(TimeDelta::days(15));
    let reply = app.text(PHONE, "hello").await;
    let text = reply.text();
    assert!(
        text.contains("999"),
        "a new conversation's first reply: {text}"
    );
    assert!(!text.contains("team has your message"), "{text}");
    let second = app.referral_id_of(PHONE).await;
    assert_ne!(second, first, "15 days on: a new referral");
    assert_eq!(app.conversation(PHONE).await["step"], "relationship");
    assert_eq!(app.referral(&second).await["status"], "in_progress");
    assert_eq!(app.referral(&first).await["status"], "submitted");
    app.stop().await;
}

async fn a_risk_text_in_a_thread_gets_999_alerts_on_call_and_reopens_a_closed_referral(
    engine: Engine,
) {
    let mut app = spawn_app(engine).await;
    let id = submitted_referral(&mut app, PHONE).await;
    let (status, body) = app
        .post_json(
            &app.clinician,
            &format!("/referrals/{id}/status"),
            json!({"status": "closed", "note": "Seen by the home treatment team"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(app.twilio.sent().is_empty());

    let reply = app.text(PHONE, "I want to kill myself tonight").await;
    let text = reply.text();
    assert!(text.contains("999"), "{text}");
    assert_eq!(app.referral_id_of(PHONE).await, id, "the same referral");

    let referral = app.referral(&id).await;
    assert_eq!(referral["urgent"], true);
    assert_eq!(referral["status"], "submitted", "back in the triage queue");
    let (_, queue) = app.get(&app.clinician, "/referrals").await;
    assert_eq!(items(&queue)[0]["id"], id.as_str(), "urgent first");

    // On-call (both numbers of the Leeds team) is alerted, with no words of the person.
    let sent = app.twilio.wait_for(2).await;
    let mut to: Vec<&str> = sent.iter().map(|s| s.to.as_str()).collect();
    to.sort_unstable();
    assert_eq!(to, ["+447911200011", "+447911200012"]);
    assert!(sent.iter().all(|s| !s.body.contains("kill")));

    let item = inbox(&app, &app.clinician, "")
        .await
        .into_iter()
        .find(|i| i["kind"] == "referral_thread")
        .expect("thread item");
    assert_eq!(item["urgent"], true);

    let seen = events(&app, &id).await;
    let closed = seen
        .iter()
        .find(|e| e["action"] == "referral.status.closed")
        .expect("the close");
    assert_eq!(closed["note"], "Seen by the home treatment team");
    assert_eq!(closed["actor"], "clinician-cal");
    let names = actions(&seen);
    assert!(names.contains(&"referral.reopened".to_owned()), "{names:?}");
    app.stop().await;
}

/// A patient on the default passport (mobile `PATIENT_MOBILE`); their id.
async fn patient(app: &TestApp, update: &[&str]) -> String {
    let patient = app
        .create_patient(json!({
            "name": "Sam Taylor",
            "preferred_name": "Sam",
            "mobile": "07911 123456",
            "landline": "0113 496 0000",
            "address": {"lines": ["12 Park Row", "Leeds"], "postcode": "ls1 4dy"},
            "contact_preferences": {"update": update},
        }))
        .await;
    patient["id"].as_str().unwrap().to_owned()
}

async fn inbox_items_close_once_with_a_note(engine: Engine) {
    let mut app = spawn_app(engine).await;
    patient(&app, &["sms"]).await;
    app.text(PATIENT_MOBILE, "running 10 minutes late").await;
    let open = inbox(&app, &app.scheduler, "?status=open").await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0]["status"], "open");
    assert_eq!(open[0]["kind"], "patient_text");
    assert_eq!(
        open[0]["body"], "running 10 minutes late",
        "schedulers see replies"
    );
    let id = open[0]["id"].as_str().unwrap();

    let path = format!("/inbox/{id}/close");
    let (status, closed) = app
        .post_json(
            &app.scheduler,
            &path,
            json!({"note": "Told the visiting nurse"}),
        )
        .await;
    assert_eq!(status, 200, "{closed}");
    assert_eq!(closed["status"], "done");
    assert_eq!(closed["closed_by"], "scheduler-sam");
    assert_eq!(closed["note"], "Told the visiting nurse");
    assert!(closed["closed_at"].is_string());

    let (status, again) = app.post_json(&app.clinician, &path, json!({})).await;
    assert_eq!(status, 409, "{again}");
    assert_eq!(again["status"], 409);
    assert!(inbox(&app, &app.scheduler, "?status=open").await.is_empty());
    assert_eq!(inbox(&app, &app.scheduler, "?status=done").await.len(), 1);
    assert_eq!(app.get(&app.scheduler, "/inbox?status=shut").await.0, 400);
    let (status, _) = app
        .post_json(&app.scheduler, "/inbox/no-such-item/close", json!({}))
        .await;
    assert_eq!(status, 404);
    assert!(
        app.audit_entries()
            .await
            .iter()
            .any(|e| e["action"] == "inbox.close" && e["note"] == "Told the visiting nurse"),
        "audited with the note"
    );
    app.stop().await;
}

async fn schedulers_never_see_a_patients_risk_words_in_the_inbox(engine: Engine) {
    let mut app = spawn_app(engine).await;
    patient(&app, &["sms"]).await;
    let words = "I want to end my life";
    let reply = app.text(PATIENT_MOBILE, words).await;
    assert!(reply.text().contains("999"));
    app.text(PATIENT_MOBILE, "see you thursday").await;

    let clinician = inbox(&app, &app.clinician, "").await;
    let risk = clinician
        .iter()
        .find(|i| i["kind"] == "risk")
        .unwrap_or_else(|| panic!("{clinician:?}"));
    assert_eq!(risk["body"], words);

    let scheduler = inbox(&app, &app.scheduler, "").await;
    assert_eq!(scheduler.len(), 1, "the reply only: {scheduler:?}");
    assert_eq!(scheduler[0]["body"], "see you thursday");
    let everything = serde_json::to_string(&scheduler).unwrap();
    assert!(!everything.contains("end my life") && !everything.contains("risk"));

    let (status, _) = app
        .post_json(
            &app.scheduler,
            &format!("/inbox/{}/close", risk["id"].as_str().unwrap()),
            json!({"note": "ok"}),
        )
        .await;
    assert_eq!(status, 403);
    app.stop().await;
}

async fn open_call_task(app: &TestApp) -> String {
    let (_, tasks) = app
        .get(&app.scheduler, "/tasks?kind=phone_call&status=open")
        .await;
    let tasks = items(&tasks);
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    tasks[0]["id"].as_str().unwrap().to_owned()
}

async fn call_tasks_take_outcomes_and_the_third_no_answer_falls_back_to_the_next_channel(
    engine: Engine,
) {
    let app = spawn_app(engine).await;
    let id = patient(&app, &["phone_call", "sms"]).await;
    let (status, message) = app
        .send_update(&id, "Your new care coordinator is Jo.")
        .await;
    assert_eq!(status, 202, "{message}");
    assert_eq!(message["channel"], "phone_call");
    let task = open_call_task(&app).await;
    let path = format!("/tasks/{task}/complete");

    for attempt in 1..=2 {
        let (status, body) = app
            .post_json(
                &app.scheduler,
                &path,
                json!({"outcome": "no_answer", "note": format!("try {attempt}")}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "open", "back on the list");
        assert_eq!(body["attempts"], attempt);
        assert_eq!(body["outcome"], "no_answer");
        assert_eq!(body["note"], format!("try {attempt}"));
        assert_eq!(open_call_task(&app).await, task);
    }
    assert!(app.twilio.sent().is_empty());

    let (status, body) = app
        .post_json(&app.scheduler, &path, json!({"outcome": "no_answer"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "done");
    assert_eq!(body["attempts"], 3);
    assert_eq!(body["completed_by"], "scheduler-sam");

    // The message went on by text, the patient's next channel.
    let sent = app.twilio.wait_for(1).await;
    assert_eq!(sent[0].to, PATIENT_MOBILE);
    assert!(
        sent[0].body.contains("care coordinator"),
        "{}",
        sent[0].body
    );
    let messages = app.messages(&id).await;
    assert_eq!(messages[0]["channel"], "sms");
    assert_eq!(
        messages[0]["skipped"],
        json!([{"channel": "phone_call", "reason": "phone_no_answer"}])
    );
    // A task done is left as it is.
    let (status, again) = app.post_json(&app.scheduler, &path, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(again["attempts"], 3);
    assert_eq!(app.twilio.sent().len(), 1);
    app.stop().await;
}

async fn a_wrong_number_falls_back_at_once_and_a_bad_outcome_is_refused(engine: Engine) {
    let app = spawn_app(engine).await;
    let id = patient(&app, &["phone_call", "sms"]).await;
    app.send_update(&id, "Your appointment letter is on its way.")
        .await;
    let task = open_call_task(&app).await;
    let path = format!("/tasks/{task}/complete");
    for bad in [
        json!({"outcome": "vanished"}),
        json!({"outcome": "returned"}),
    ] {
        let (status, body) = app.post_json(&app.scheduler, &path, bad).await;
        assert_eq!(status, 422, "{body}");
    }
    let (status, body) = app
        .post_json(
            &app.scheduler,
            &path,
            json!({"outcome": "wrong_number", "note": "a shop answered"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "done");
    assert_eq!(body["outcome"], "wrong_number");
    assert_eq!(app.twilio.wait_for(1).await[0].to, PATIENT_MOBILE);
    let messages = app.messages(&id).await;
    assert_eq!(
        messages[0]["skipped"],
        json!([{"channel": "phone_call", "reason": "wrong_number"}])
    );
    app.stop().await;
}

async fn a_status_change_note_appears_in_the_referral_events(engine: Engine) {
    let mut app = spawn_app(engine).await;
    app.text(PHONE, "hello").await;
    let id = app.referral_id_of(PHONE).await;
    let (status, body) = app
        .post_json(
            &app.clinician,
            &format!("/referrals/{id}/status"),
            json!({"status": "acknowledged", "note": "Called back; safe tonight"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = app
        .post_json(
            &app.clinician,
            &format!("/referrals/{id}/status"),
            json!({"status": "accepted"}),
        )
        .await;
    assert_eq!(status, 200);

    let seen = events(&app, &id).await;
    assert_eq!(
        actions(&seen),
        [
            "referral.created",
            "referral.status.acknowledged",
            "referral.status.accepted"
        ],
        "oldest first, reads left out"
    );
    assert_eq!(seen[0]["actor"], "crht-gateway");
    assert_eq!(seen[1]["note"], "Called back; safe tonight");
    assert_eq!(seen[1]["actor"], "clinician-cal");
    assert!(seen[2].get("note").is_none());
    assert!(seen.iter().all(|e| e["at"].is_string()));

    assert_eq!(
        app.get(&app.scheduler, &format!("/referrals/{id}/events"))
            .await
            .0,
        403
    );
    assert_eq!(
        app.get(&app.clinician, "/referrals/no-such-referral/events")
            .await
            .0,
        404
    );
    let long = "x".repeat(2001);
    let (status, _) = app
        .post_json(
            &app.clinician,
            &format!("/referrals/{id}/status"),
            json!({"status": "closed", "note": long}),
        )
        .await;
    assert_eq!(status, 422);
    app.stop().await;
}
