//! Feedback after care: a clinician discharges a patient, and a feedback request goes by the
//! patient's own channels `CRHT_FEEDBACK_AFTER` later — never in quiet hours, never within 72
//! hours of a risk text from them, and once only; their reply is recorded and summarised at
//! `GET /feedback`, the words for clinicians and admins only (hazard H-32).

use chrono::TimeDelta;
use crht_gateway::clock::Clock;
use crht_gateway::config::{Config, QuietHours};
use serde_json::{Value, json};

use crate::helpers::{Engine, TestApp, spawn_app_with};
use crate::on_both_engines;

on_both_engines!(
    a_discharge_is_shown_on_the_record_audited_and_refused_twice,
    a_discharged_patient_is_asked_for_feedback_by_text_after_the_delay,
    quiet_hours_defer_the_feedback_request_to_their_end,
    a_risk_text_within_72_hours_postpones_the_feedback_request,
    a_rating_and_words_are_recorded_and_summarised_by_month,
    a_reply_that_is_not_a_rating_is_asked_again_once_and_keywords_keep_their_meaning,
    feedback_words_are_hidden_from_a_scheduler,
    feedback_words_past_the_retention_period_are_removed_and_the_rating_kept,
    a_patient_without_a_mobile_is_asked_for_feedback_by_easy_read_letter,
    a_restart_does_not_send_the_feedback_request_twice,
    a_feedback_request_is_never_texted_to_a_mobile_another_record_shares,
);

const MOBILE: &str = "+447911123481";
const FEEDBACK_URL: &str = "https://www.example.nhs.uk/feedback";

/// Feedback after 2 days (the default) with the Trust's page set; quiet hours off, as the
/// suite's gateways have them, unless a test sets its own.
fn with_feedback_page(config: &mut Config) {
    config.feedback_url = Some(FEEDBACK_URL.to_owned());
}

async fn spawn(engine: Engine) -> TestApp {
    spawn_app_with(engine, with_feedback_page, true).await
}

fn passport(name: &str, mobile: Option<&str>) -> Value {
    json!({
        "name": name,
        "mobile": mobile,
        "address": {"lines": ["12 Park Row", "Leeds"], "postcode": "LS1 4DY"},
    })
}

async fn patient(app: &TestApp, name: &str, mobile: Option<&str>) -> String {
    let patient = app.create_patient(passport(name, mobile)).await;
    patient["id"].as_str().expect("id").to_owned()
}

async fn discharge(app: &TestApp, token: &str, id: &str, body: Value) -> (u16, Value) {
    app.post_json(token, &format!("/patients/{id}/discharge"), body)
        .await
}

async fn sweep(app: &TestApp) {
    app.app.sweep().await.expect("sweep");
}

/// The patient's feedback requests (messages from the `feedback_request` template).
async fn requests(app: &TestApp, id: &str) -> Vec<Value> {
    app.messages(id)
        .await
        .into_iter()
        .filter(|m| m["template"] == "feedback_request")
        .collect()
}

/// Discharges `id` as a clinician and moves the clock to when the request is due.
async fn discharge_and_wait(app: &TestApp, id: &str) {
    let (status, body) = discharge(app, &app.clinician, id, json!({})).await;
    assert_eq!(status, 200, "{body}");
    app.advance(TimeDelta::days(2));
}

async fn a_discharge_is_shown_on_the_record_audited_and_refused_twice(engine: Engine) {
    let app = spawn(engine).await;
    let id = patient(&app, "Sam Taylor", Some(MOBILE)).await;
    let (status, before) = app.get(&app.clinician, &format!("/patients/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(before["discharged_at"], Value::Null, "{before}");

    let (status, body) = discharge(&app, &app.scheduler, &id, json!({})).await;
    assert_eq!(status, 403, "a scheduler may not discharge: {body}");
    let (status, body) = discharge(&app, &app.clinician, "01JNOSUCHPATIENT", json!({})).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = discharge(&app, &app.clinician, &id, json!({"reason": 1})).await;
    assert_eq!(status, 422, "unknown fields are refused: {body}");

    let (status, record) = discharge(
        &app,
        &app.clinician,
        &id,
        json!({"note": "Back with the GP; crisis plan shared."}),
    )
    .await;
    assert_eq!(status, 200, "{record}");
    assert_eq!(record["discharged_at"], "2026-11-23T14:00:00Z", "{record}");
    let (_, shown) = app.get(&app.scheduler, &format!("/patients/{id}")).await;
    assert_eq!(shown["discharged_at"], "2026-11-23T14:00:00Z");

    let (status, body) = discharge(&app, &app.admin, &id, json!({})).await;
    assert_eq!(status, 409, "already discharged: {body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("already discharged"),
        "{body}"
    );

    let audit = app.audit_entries().await;
    let discharges: Vec<&Value> = audit
        .iter()
        .filter(|e| e["action"] == "patient.discharge")
        .collect();
    assert_eq!(discharges.len(), 1, "{audit:#?}");
    assert_eq!(discharges[0]["target"], format!("patient:{id}"));
    assert_eq!(
        discharges[0]["note"],
        "Back with the GP; crisis plan shared."
    );

    // The document staff build clients from has the route and the summary.
    let doc = app.openapi().await;
    assert!(doc["paths"]["/api/v1/patients/{id}/discharge"]["post"].is_object());
    assert!(doc["paths"]["/api/v1/feedback"]["get"].is_object());
    app.stop().await;
}

async fn a_discharged_patient_is_asked_for_feedback_by_text_after_the_delay(engine: Engine) {
    let app = spawn(engine).await;
    let id = patient(&app, "Sam Taylor", Some(MOBILE)).await;
    let (status, _) = discharge(&app, &app.clinician, &id, json!({})).await;
    assert_eq!(status, 200);

    sweep(&app).await;
    app.advance(TimeDelta::days(2) - TimeDelta::minutes(1));
    sweep(&app).await;
    assert!(requests(&app, &id).await.is_empty(), "not before 2 days");

    app.advance(TimeDelta::minutes(1));
    sweep(&app).await;
    let sent = app.twilio.wait_for(1).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, MOBILE);
    let body = &sent[0].body;
    assert!(body.contains("Hi Sam Taylor"), "{body}");
    assert!(
        body.contains("Reply with a number from 1 to 5")
            && body.contains("any words you want to add"),
        "{body}"
    );
    assert!(body.contains(FEEDBACK_URL), "{body}");
    assert!(body.contains("999"), "{body}");
    let messages = requests(&app, &id).await;
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(messages[0]["channel"], "sms");

    // Due again on the next sweeps: nothing more.
    sweep(&app).await;
    app.advance(TimeDelta::days(1));
    sweep(&app).await;
    assert_eq!(requests(&app, &id).await.len(), 1);
    app.stop().await;
}

async fn quiet_hours_defer_the_feedback_request_to_their_end(engine: Engine) {
    let app = spawn_app_with(
        engine,
        |c| {
            with_feedback_page(c);
            c.quiet_hours = QuietHours::parse("21:00-08:00").expect("valid");
            // 14:00 + 8 h: 22:00 on a November night (GMT), inside quiet hours.
            c.feedback_after = std::time::Duration::from_secs(8 * 3600);
        },
        true,
    )
    .await;
    let id = patient(&app, "Sam Taylor", Some(MOBILE)).await;
    discharge(&app, &app.clinician, &id, json!({})).await;
    app.advance(TimeDelta::hours(8));
    sweep(&app).await;
    assert!(requests(&app, &id).await.is_empty(), "not at 22:00");
    app.advance(TimeDelta::hours(9) + TimeDelta::minutes(59)); // 07:59
    sweep(&app).await;
    assert!(requests(&app, &id).await.is_empty(), "not at 07:59");
    app.advance(TimeDelta::minutes(1)); // 08:00
    sweep(&app).await;
    let messages = requests(&app, &id).await;
    assert_eq!(
        messages.len(),
        1,
        "at the end of quiet hours: {messages:#?}"
    );
    assert_eq!(messages[0]["created_at"], "2026-11-24T08:00:00Z");
    app.stop().await;
}

async fn a_risk_text_within_72_hours_postpones_the_feedback_request(engine: Engine) {
    let mut app = spawn(engine).await;
    let id = patient(&app, "Sam Taylor", Some(MOBILE)).await;
    discharge(&app, &app.clinician, &id, json!({})).await;

    // A day later the patient texts, and the text screens as risk.
    app.advance(TimeDelta::days(1));
    let reply = app.text(MOBILE, "I want to kill myself").await;
    assert!(reply.text().contains("999"), "{}", reply.text());

    // Due a day after that: postponed until 72 hours after the risk text.
    app.advance(TimeDelta::days(1));
    sweep(&app).await;
    app.advance(TimeDelta::days(2) - TimeDelta::minutes(1));
    sweep(&app).await;
    assert!(requests(&app, &id).await.is_empty(), "within 72 hours");
    app.advance(TimeDelta::minutes(1));
    sweep(&app).await;
    assert_eq!(requests(&app, &id).await.len(), 1, "72 hours after it");
    app.stop().await;
}

/// The check is made again as the request is sent: a risk text that arrives after the sweep
/// looked at the request holds it back.
async fn a_risk_text_after_the_request_is_looked_at_holds_it_back(app: &mut TestApp, id: &str) {
    use crht_gateway::jobs::feedback::{FeedbackContext, Requested, request_one};
    let now = app.clock.as_ref().expect("manual clock").now();
    let due = app.app.store().due_feedback(now, 10).await.expect("due");
    let due = due
        .into_iter()
        .find(|d| *d.patient.id == *id)
        .expect("the patient's request is due");
    app.text(MOBILE, "I want to end my life").await;
    let ctx = FeedbackContext {
        outbound: app.app.state.outbound.clone(),
        feedback_url: None,
    };
    let outcome = request_one(&ctx, &due, now).await.expect("runs");
    assert_eq!(outcome, Requested::Stale);
    assert!(requests(app, id).await.is_empty());
}

async fn a_rating_and_words_are_recorded_and_summarised_by_month(engine: Engine) {
    let mut app = spawn(engine).await;
    let id = patient(&app, "Sam Taylor", Some(MOBILE)).await;
    let other = patient(&app, "Kim Lee", Some("+447911123482")).await;
    discharge(&app, &app.clinician, &id, json!({})).await;
    discharge(&app, &app.clinician, &other, json!({})).await;
    app.advance(TimeDelta::days(2));
    // The re-check at send time, before the first request goes.
    a_risk_text_after_the_request_is_looked_at_holds_it_back(&mut app, &id).await;
    app.advance(TimeDelta::hours(73));
    sweep(&app).await;
    assert_eq!(requests(&app, &id).await.len(), 1);
    assert_eq!(requests(&app, &other).await.len(), 1);

    let reply = app.text(MOBILE, "4 - you listened, thank you").await;
    assert!(
        reply.text().contains("We have your feedback"),
        "{}",
        reply.text()
    );
    // Answered: a later number is an ordinary text for the team.
    let later = app.text(MOBILE, "5").await;
    assert!(
        !later.text().contains("We have your feedback"),
        "{}",
        later.text()
    );

    let (status, summary) = app.get(&app.clinician, "/feedback").await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(
        summary["months"],
        json!([{
            "month": "2026-11",
            "ratings": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0},
            "responses": 1,
            "requests": 2,
        }]),
        "{summary}"
    );
    assert_eq!(
        summary["words"],
        json!([{"rating": 4, "month": "2026-11", "date": "2026-11-28", "words": "you listened, thank you"}]),
        "{summary}"
    );
    let text = summary.to_string();
    assert!(!text.contains("Sam") && !text.contains("7911"), "{text}");
    assert!(
        app.audit_entries()
            .await
            .iter()
            .any(|e| e["action"] == "feedback.read" && e["actor"] == "clinician-cal"),
        "reading the words is audited"
    );

    // Filters by month: nothing in December, November with its counts.
    let (_, december) = app.get(&app.admin, "/feedback?from=2026-12").await;
    assert_eq!(december["months"], json!([]), "{december}");
    let (_, november) = app
        .get(&app.admin, "/feedback?from=2026-11&to=2026-11")
        .await;
    assert_eq!(november["months"][0]["requests"], 2, "{november}");
    for bad in ["from=November", "to=2026-13", "from=2026-12&to=2026-11"] {
        let (status, body) = app.get(&app.admin, &format!("/feedback?{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    app.stop().await;
}

async fn a_reply_that_is_not_a_rating_is_asked_again_once_and_keywords_keep_their_meaning(
    engine: Engine,
) {
    let mut app = spawn(engine).await;
    let id = patient(&app, "Sam Taylor", Some(MOBILE)).await;
    discharge_and_wait(&app, &id).await;
    sweep(&app).await;
    assert_eq!(requests(&app, &id).await.len(), 1);

    // A keyword keeps its meaning and records nothing.
    let coping = app.text(MOBILE, "COPING").await;
    assert!(!coping.text().contains("1 to 5"), "{}", coping.text());

    let first = app.text(MOBILE, "it was ok").await;
    assert!(
        first
            .text()
            .contains("please reply with a number from 1 to 5"),
        "{}",
        first.text()
    );
    let second = app.text(MOBILE, "really it was fine").await;
    assert!(
        !second.text().contains("1 to 5"),
        "asked once only: {}",
        second.text()
    );
    // Both texts reached the team's inbox.
    let (_, inbox) = app.get(&app.clinician, "/inbox").await;
    let items = inbox["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        items.iter().filter(|i| i["kind"] == "patient_text").count(),
        2,
        "{inbox}"
    );

    let rated = app.text(MOBILE, "3").await;
    assert!(
        rated.text().contains("We have your feedback"),
        "{}",
        rated.text()
    );
    let (_, summary) = app.get(&app.clinician, "/feedback").await;
    assert_eq!(summary["months"][0]["ratings"]["3"], 1, "{summary}");
    assert_eq!(summary["words"], json!([]), "a rating alone has no words");

    // After the reply window, a number is an ordinary text.
    let other = patient(&app, "Kim Lee", Some("+447911123482")).await;
    discharge_and_wait(&app, &other).await;
    sweep(&app).await;
    app.advance(TimeDelta::days(15));
    let late = app.text("+447911123482", "5").await;
    assert!(
        !late.text().contains("We have your feedback"),
        "{}",
        late.text()
    );
    app.stop().await;
}

async fn feedback_words_are_hidden_from_a_scheduler(engine: Engine) {
    let mut app = spawn(engine).await;
    let id = patient(&app, "Sam Taylor", Some(MOBILE)).await;
    discharge_and_wait(&app, &id).await;
    sweep(&app).await;
    app.text(MOBILE, "5 the nurse who came was so kind").await;

    let (status, summary) = app.get(&app.scheduler, "/feedback").await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["months"][0]["ratings"]["5"], 1, "{summary}");
    assert!(summary.get("words").is_none(), "{summary}");
    assert!(!summary.to_string().contains("kind"), "{summary}");
    assert!(
        !app.audit_entries()
            .await
            .iter()
            .any(|e| e["action"] == "feedback.read"),
        "counts alone are not a personal read"
    );
    let (_, clinician) = app.get(&app.admin, "/feedback").await;
    assert_eq!(
        clinician["words"][0]["words"],
        "the nurse who came was so kind"
    );
    app.stop().await;
}

async fn feedback_words_past_the_retention_period_are_removed_and_the_rating_kept(engine: Engine) {
    let mut app = spawn(engine).await;
    let id = patient(&app, "Sam Taylor", Some(MOBILE)).await;
    discharge_and_wait(&app, &id).await;
    sweep(&app).await;
    app.text(MOBILE, "2 nobody called me back").await;
    let (_, summary) = app.get(&app.clinician, "/feedback").await;
    assert_eq!(summary["words"][0]["words"], "nobody called me back");

    app.advance(TimeDelta::days(91));
    sweep(&app).await;
    let (_, summary) = app.get(&app.clinician, "/feedback").await;
    assert_eq!(summary["words"], json!([]), "{summary}");
    assert_eq!(summary["months"][0]["ratings"]["2"], 1, "{summary}");
    app.stop().await;
}

async fn a_patient_without_a_mobile_is_asked_for_feedback_by_easy_read_letter(engine: Engine) {
    let app = spawn(engine).await;
    let mut record = passport("Sam Taylor", None);
    record["access_needs"] = json!(["easy_read", "large_print"]);
    let created = app.create_patient(record).await;
    let id = created["id"].as_str().unwrap().to_owned();
    discharge_and_wait(&app, &id).await;
    sweep(&app).await;
    let messages = requests(&app, &id).await;
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(messages[0]["channel"], "letter", "{:#}", messages[0]);
    assert_eq!(messages[0]["skipped"][0]["reason"], "no_mobile");
    let body = messages[0]["body"].as_str().unwrap_or_default();
    assert!(
        body.contains("Please give us a score from 1 to 5."),
        "easy read: {body}"
    );
    assert!(body.contains(FEEDBACK_URL), "{body}");
    let (_, tasks) = app
        .get(&app.scheduler, "/tasks?kind=letter&status=open")
        .await;
    let task = &tasks["items"][0];
    assert!(
        task["text"]
            .as_str()
            .unwrap_or_default()
            .contains("large print"),
        "{tasks}"
    );
    assert!(app.twilio.sent().is_empty());
    app.stop().await;
}

async fn a_restart_does_not_send_the_feedback_request_twice(engine: Engine) {
    let mut app = spawn(engine).await;
    let id = patient(&app, "Sam Taylor", Some(MOBILE)).await;
    discharge(&app, &app.clinician, &id, json!({})).await;

    // Planned before the restart, due after it: the plan survives.
    app.restart().await;
    app.advance(TimeDelta::days(2));
    sweep(&app).await;
    app.twilio.wait_for(1).await;
    app.wait_for_messages(&id, |m| m.iter().any(|m| m["status"] == "sent"))
        .await;

    app.restart().await;
    sweep(&app).await;
    app.advance(TimeDelta::days(1));
    sweep(&app).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(requests(&app, &id).await.len(), 1);
    assert_eq!(app.twilio.sent().len(), 1, "sent once");
    app.stop().await;
}

async fn a_feedback_request_is_never_texted_to_a_mobile_another_record_shares(engine: Engine) {
    let mut app = spawn(engine).await;
    let id = patient(&app, "Alex Taylor", Some(MOBILE)).await;
    let mut sharing = passport("Jo Taylor", Some(MOBILE));
    sharing["shared_mobile"] = json!(true);
    app.create_patient(sharing).await;
    discharge_and_wait(&app, &id).await;
    sweep(&app).await;
    let messages = requests(&app, &id).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["channel"], "letter", "{:#}", messages[0]);
    assert_eq!(messages[0]["skipped"][0]["reason"], "shared_mobile");
    // A number from the shared mobile answers nobody's request.
    let reply = app.text(MOBILE, "1").await;
    assert!(
        !reply.text().contains("We have your feedback"),
        "{}",
        reply.text()
    );
    let (_, summary) = app.get(&app.clinician, "/feedback").await;
    assert_eq!(summary["months"][0]["responses"], 0, "{summary}");
    assert!(app.twilio.sent().is_empty());
    app.stop().await;
}
