//! Safety plans: written and read by clinicians through the staff API, and sent by text only
//! to the patient's own number when they text PLAN (hazard H-31).

use serde_json::{Value, json};

use crate::helpers::{Engine, TestApp, spawn_app};
use crate::on_both_engines;

on_both_engines!(
    a_safety_plan_is_written_and_read_back_with_both_audited,
    a_plan_read_back_can_be_written_back_as_it_is,
    a_scheduler_may_neither_write_nor_read_a_safety_plan,
    an_unknown_patient_or_a_missing_plan_is_not_found,
    plan_from_the_patients_own_number_gets_the_plan_in_numbered_texts,
    plan_from_another_number_or_a_shared_mobile_gets_only_the_neutral_answer,
    a_risk_text_containing_plan_gets_999_and_no_plan,
    a_changed_plan_is_sent_by_the_patients_channels_as_an_easy_read_letter,
    a_plan_sent_by_channels_is_never_texted_to_a_shared_mobile,
);

const MOBILE: &str = "+447911123471";
const OTHER_MOBILE: &str = "+447911123472";
const SHARED_MOBILE: &str = "+447911123473";
/// A word of the plan that appears nowhere else, to prove where the plan went.
const SECRET: &str = "Bluebell";

fn passport(name: &str, mobile: &str) -> Value {
    json!({
        "name": name,
        "mobile": mobile,
        "address": {"lines": ["12 Park Row", "Leeds"], "postcode": "LS1 4DY"},
        "contact_preferences": {"update": ["sms", "letter"]}
    })
}

fn short_plan() -> Value {
    json!({
        "warning_signs": ["Not sleeping", "  ", "Staying in my room"],
        "reasons_for_living": [format!("My dog {SECRET}")],
    })
}

/// A plan far longer than two SMS segments.
fn long_plan() -> Value {
    let lines = |what: &str| -> Vec<String> {
        (1..=4)
            .map(|n| format!("{what} number {n}, written out in a few more words"))
            .collect()
    };
    json!({
        "warning_signs": lines("A sign"),
        "things_i_can_do": lines("Something to do"),
        "people_and_places": lines("A place"),
        "people_i_can_ask": lines("A friend"),
        "professionals_and_services": ["Samaritans 116 123", "Shout 85258"],
        "making_surroundings_safer": lines("A safer thing"),
        "reasons_for_living": [format!("My dog {SECRET}")],
    })
}

async fn put(app: &TestApp, token: &str, patient: &str, plan: Value) -> (u16, Value) {
    let response = app
        .http
        .put(app.url(&format!("/api/v1/patients/{patient}/safety-plan")))
        .bearer_auth(token)
        .json(&plan)
        .send()
        .await
        .expect("PUT safety plan");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn patient_with_plan(app: &TestApp, name: &str, mobile: &str, plan: Value) -> String {
    let patient = app.create_patient(passport(name, mobile)).await;
    let id = patient["id"].as_str().expect("id").to_owned();
    let (status, body) = put(app, &app.clinician, &id, plan).await;
    assert_eq!(status, 200, "{body}");
    id
}

fn sends(audit: &[Value]) -> Vec<&Value> {
    audit
        .iter()
        .filter(|e| e["action"] == "safety_plan.send")
        .collect()
}

async fn a_safety_plan_is_written_and_read_back_with_both_audited(engine: Engine) {
    let app = spawn_app(engine).await;
    let id = patient_with_plan(&app, "Sam Taylor", MOBILE, short_plan()).await;
    let (status, plan) = app
        .get(&app.clinician, &format!("/patients/{id}/safety-plan"))
        .await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["patient_id"], id.as_str());
    assert_eq!(
        plan["warning_signs"],
        json!(["Not sleeping", "Staying in my room"]),
        "blank lines are dropped"
    );
    assert_eq!(
        plan["reasons_for_living"],
        json!([format!("My dog {SECRET}")])
    );
    assert_eq!(plan["things_i_can_do"], json!([]));
    assert!(
        plan["updated_at"].is_string() && plan["updated_by"].is_string(),
        "{plan}"
    );

    // A new version replaces the old one.
    let (status, _) = put(
        &app,
        &app.admin,
        &id,
        json!({"things_i_can_do": ["Walk by the canal"]}),
    )
    .await;
    assert_eq!(status, 200);
    let (_, plan) = app
        .get(&app.clinician, &format!("/patients/{id}/safety-plan"))
        .await;
    assert_eq!(plan["things_i_can_do"], json!(["Walk by the canal"]));
    assert_eq!(plan["reasons_for_living"], json!([]));

    // Too long a line, or an unknown section, is refused and nothing changes.
    let (status, body) = put(
        &app,
        &app.clinician,
        &id,
        json!({"warning_signs": ["x".repeat(301)]}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = put(&app, &app.clinician, &id, json!({"wishes": ["x"]})).await;
    assert!((400..500).contains(&status), "{status}");

    let audit = app.audit_entries().await;
    let target = format!("patient:{id}");
    let count = |action: &str| {
        audit
            .iter()
            .filter(|e| e["action"] == action && e["target"] == target.as_str())
            .count()
    };
    assert_eq!(count("safety_plan.write"), 2, "{audit:#?}");
    assert_eq!(count("safety_plan.read"), 2, "{audit:#?}");
    assert!(!serde_json::to_string(&audit).unwrap().contains(SECRET));
    let paths = app.openapi().await["paths"].clone();
    let path = &paths["/api/v1/patients/{id}/safety-plan"];
    assert!(path["put"].is_object() && path["get"].is_object(), "{path}");
    app.stop().await;
}

async fn a_plan_read_back_can_be_written_back_as_it_is(engine: Engine) {
    let app = spawn_app(engine).await;
    let id = patient_with_plan(&app, "Sam Taylor", MOBILE, short_plan()).await;
    let other = app
        .create_patient(passport("Alex Green", OTHER_MOBILE))
        .await;
    let path = format!("/patients/{id}/safety-plan");
    let (_, mut read) = app.get(&app.clinician, &path).await;

    // Edited in place and sent back whole, read-only fields included.
    read["things_i_can_do"] = json!(["Walk by the canal"]);
    let (status, written) = put(&app, &app.clinician, &id, read.clone()).await;
    assert_eq!(status, 200, "{written}");
    assert_eq!(written["things_i_can_do"], json!(["Walk by the canal"]));
    assert_eq!(
        written["reasons_for_living"],
        json!([format!("My dog {SECRET}")]),
        "the rest of the plan is kept"
    );

    // The same body against another patient is refused, and that patient gets no plan.
    let other_id = other["id"].as_str().expect("id");
    let (status, body) = put(&app, &app.clinician, other_id, read.clone()).await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = app
        .get(&app.clinician, &format!("/patients/{other_id}/safety-plan"))
        .await;
    assert_eq!(status, 404);

    // A misspelt section is still refused, read-only fields or not.
    read["reasons_for_livin"] = json!(["typo"]);
    let (status, body) = put(&app, &app.clinician, &id, read).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = put(&app, &app.clinician, &id, json!(["not", "a", "plan"])).await;
    assert_eq!(status, 422, "{body}");
    app.stop().await;
}

async fn a_scheduler_may_neither_write_nor_read_a_safety_plan(engine: Engine) {
    let app = spawn_app(engine).await;
    let id = patient_with_plan(&app, "Sam Taylor", MOBILE, short_plan()).await;
    let (status, body) = put(&app, &app.scheduler, &id, json!({"warning_signs": ["x"]})).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = app
        .get(&app.scheduler, &format!("/patients/{id}/safety-plan"))
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(!body.to_string().contains(SECRET));
    let (_, plan) = app
        .get(&app.clinician, &format!("/patients/{id}/safety-plan"))
        .await;
    assert_eq!(plan["warning_signs"][0], "Not sleeping", "unchanged");
    app.stop().await;
}

async fn an_unknown_patient_or_a_missing_plan_is_not_found(engine: Engine) {
    let app = spawn_app(engine).await;
    let unknown = "01JZZZZZZZZZZZZZZZZZZZZZZZ";
    let (status, _) = put(&app, &app.clinician, unknown, short_plan()).await;
    assert_eq!(status, 404);
    let (status, _) = app
        .get(&app.clinician, &format!("/patients/{unknown}/safety-plan"))
        .await;
    assert_eq!(status, 404);

    let patient = app.create_patient(passport("Sam Taylor", MOBILE)).await;
    let id = patient["id"].as_str().unwrap();
    let response = app
        .http
        .get(app.url(&format!("/api/v1/patients/{id}/safety-plan")))
        .bearer_auth(&app.clinician)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    let kind = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(kind, "application/problem+json");
    app.stop().await;
}

async fn plan_from_the_patients_own_number_gets_the_plan_in_numbered_texts(engine: Engine) {
    let mut app = spawn_app(engine).await;
    let id = patient_with_plan(&app, "Sam Taylor", MOBILE, long_plan()).await;

    let reply = app.text(MOBILE, "plan").await;
    assert_eq!(reply.status, 200);
    let texts = &reply.texts;
    let total = texts.len();
    assert!(total > 1, "a long plan comes in parts: {texts:#?}");
    for (i, text) in texts.iter().enumerate() {
        assert!(
            text.starts_with(&format!("{}/{total} ", i + 1)),
            "numbered: {text}"
        );
        let size = crht_gateway::channels::sms::sms_size(text);
        assert!(size.segments <= 2, "{size:?}: {text}");
    }
    let all = reply.text();
    for line in [
        "A sign number 4, written out in a few more words",
        "A safer thing number 1",
        "Samaritans 116 123",
        SECRET,
        "999",
        "0800 129 9999",
    ] {
        assert!(all.contains(line), "{line} missing from {all}");
    }

    // Any case, any spacing, and once per send in the audit, with none of the plan's words.
    let again = app.text(MOBILE, " P L A N. ").await;
    assert_eq!(again.texts.len(), total);
    let audit = app.audit_entries().await;
    let sent = sends(&audit);
    assert_eq!(sent.len(), 2, "{audit:#?}");
    for entry in sent {
        assert_eq!(entry["target"], format!("patient:{id}"));
    }
    assert!(!serde_json::to_string(&audit).unwrap().contains(SECRET));

    // The team hears each time, without the plan's words: someone reaching for it may be
    // struggling.
    let (status, inbox) = app.get(&app.clinician, "/inbox?status=open").await;
    assert_eq!(status, 200, "{inbox}");
    let asked: Vec<&Value> = inbox["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["kind"] == "safety_plan_asked")
        .collect();
    assert_eq!(asked.len(), 2, "{inbox:#}");
    assert_eq!(
        asked[0]["summary"],
        format!("Sam Taylor asked for their safety plan by text: it was sent in {total} texts.")
    );
    assert_eq!(asked[0]["patient_id"], id.as_str(), "{inbox:#}");
    assert!(!inbox.to_string().contains(SECRET));
    app.stop().await;
}

async fn plan_from_another_number_or_a_shared_mobile_gets_only_the_neutral_answer(engine: Engine) {
    let mut app = spawn_app(engine).await;
    patient_with_plan(&app, "Sam Taylor", MOBILE, short_plan()).await;

    // A number on no record: the neutral words, and the referral conversation goes on.
    let stranger = app.text(OTHER_MOBILE, "PLAN").await;
    let neutral = stranger.text();
    assert!(neutral.contains("only send a safety plan to the mobile number on your record"));
    assert!(neutral.contains("999"));
    assert!(!neutral.contains(SECRET) && !neutral.contains("Not sleeping"));

    // One mobile on two records, one with a plan: no plan, the same words.
    let first = patient_with_plan(&app, "Alex Taylor", SHARED_MOBILE, short_plan()).await;
    assert!(!first.is_empty());
    let mut sharing = passport("Jo Taylor", SHARED_MOBILE);
    sharing["shared_mobile"] = json!(true);
    app.create_patient(sharing).await;
    let shared = app.text(SHARED_MOBILE, "plan").await;
    assert_eq!(shared.texts.len(), 1);
    assert!(!shared.text().contains(SECRET) && !shared.text().contains("Not sleeping"));
    assert!(
        neutral.contains(&shared.text()),
        "{neutral} / {}",
        shared.text()
    );

    // A patient with no plan hears the same words.
    app.create_patient(passport("Kim Lee", "+447911123474"))
        .await;
    let none = app.text("+447911123474", "plan").await;
    assert_eq!(none.text(), shared.text());

    assert!(sends(&app.audit_entries().await).is_empty());
    app.stop().await;
}

async fn a_risk_text_containing_plan_gets_999_and_no_plan(engine: Engine) {
    let mut app = spawn_app(engine).await;
    patient_with_plan(&app, "Sam Taylor", MOBILE, short_plan()).await;
    let reply = app.text(MOBILE, "PLAN I want to kill myself").await;
    let text = reply.text();
    assert!(text.contains("999"), "{text}");
    assert!(text.contains("urgent"), "{text}");
    assert!(!text.contains(SECRET), "{text}");
    assert!(sends(&app.audit_entries().await).is_empty());
    app.stop().await;
}

async fn a_changed_plan_is_sent_by_the_patients_channels_as_an_easy_read_letter(engine: Engine) {
    let app = spawn_app(engine).await;
    let mut record = passport("Sam Taylor", MOBILE);
    record["access_needs"] = json!(["easy_read"]);
    record["contact_preferences"] = json!({"non_urgent": ["letter"]});
    let patient = app.create_patient(record).await;
    let id = patient["id"].as_str().unwrap().to_owned();
    let path = format!("/patients/{id}/safety-plan/send");

    let (status, body) = app.post_json(&app.clinician, &path, json!({})).await;
    assert_eq!(status, 404, "no plan yet: {body}");
    let (status, _) = put(&app, &app.clinician, &id, short_plan()).await;
    assert_eq!(status, 200);
    let (status, body) = app.post_json(&app.scheduler, &path, json!({})).await;
    assert_eq!(status, 403, "{body}");

    let (status, message) = app.post_json(&app.clinician, &path, json!({})).await;
    assert_eq!(status, 202, "{message}");
    assert_eq!(message["channel"], "letter", "{message}");
    assert_eq!(message["template"], "safety_plan");
    assert_eq!(message["purpose"], "non_urgent");
    let body = message["body"].as_str().unwrap_or_default();
    assert!(
        body.contains("You made it with the crisis team"),
        "easy read: {body}"
    );
    assert!(body.contains(&format!("- My dog {SECRET}")), "{body}");
    assert!(body.contains("- Not sleeping"), "{body}");

    let audit = app.audit_entries().await;
    let sent = sends(&audit);
    assert_eq!(sent.len(), 1, "{audit:#?}");
    assert_eq!(sent[0]["target"], format!("patient:{id}"));
    assert!(!serde_json::to_string(&audit).unwrap().contains(SECRET));
    app.stop().await;
}

async fn a_plan_sent_by_channels_is_never_texted_to_a_shared_mobile(engine: Engine) {
    let app = spawn_app(engine).await;
    let mut record = passport("Alex Taylor", SHARED_MOBILE);
    record["contact_preferences"] = json!({"non_urgent": ["sms", "letter"]});
    let patient = app.create_patient(record).await;
    let id = patient["id"].as_str().unwrap().to_owned();
    let mut sharing = passport("Jo Taylor", SHARED_MOBILE);
    sharing["shared_mobile"] = json!(true);
    app.create_patient(sharing).await;
    put(&app, &app.clinician, &id, short_plan()).await;

    let (status, message) = app
        .post_json(
            &app.clinician,
            &format!("/patients/{id}/safety-plan/send"),
            json!({}),
        )
        .await;
    assert_eq!(status, 202, "{message}");
    assert_eq!(message["channel"], "letter", "{message}");
    assert_eq!(message["skipped"][0]["channel"], "sms", "{message}");

    // A patient whose mobile is theirs alone gets it by text when their passport says so.
    let mut own = passport("Sam Taylor", MOBILE);
    own["contact_preferences"] = json!({"non_urgent": ["sms", "letter"]});
    let own = app.create_patient(own).await;
    let own_id = own["id"].as_str().unwrap().to_owned();
    put(&app, &app.clinician, &own_id, short_plan()).await;
    let (status, message) = app
        .post_json(
            &app.clinician,
            &format!("/patients/{own_id}/safety-plan/send"),
            json!({}),
        )
        .await;
    assert_eq!(status, 202, "{message}");
    assert_eq!(message["channel"], "sms", "{message}");
    let texts = app.twilio.wait_for(1).await;
    assert_eq!(texts.len(), 1);
    assert!(texts[0].body.contains(SECRET), "{}", texts[0].body);
    assert!(texts.iter().all(|t| t.to != SHARED_MOBILE), "{texts:#?}");
    app.stop().await;
}
