//! A patient's risk followed up like a referral's (safety rule 8), STOP honoured for patient
//! texts whichever way it came, and one mobile per record unless staff say it is shared.

use std::time::Duration;

use chrono::TimeDelta;
use serde_json::{Value, json};

use crate::helpers::{Engine, SELF_REFERRAL, TestApp, spawn_app, spawn_app_with};
use crate::on_both_engines;

on_both_engines!(
    a_patients_urgent_flag_is_acknowledged_and_audited,
    urgent_patients_are_listed_first_and_filtered_by_urgent_true,
    an_unacknowledged_urgent_patient_is_realerted_then_escalated,
    a_patient_created_with_an_opted_out_mobile_is_opted_out,
    a_send_to_a_number_opted_out_after_the_patient_was_made_falls_back,
    a_second_patient_with_the_same_mobile_is_refused_unless_shared_mobile,
);

const MOBILE: &str = "+447911123461";
const OTHER_MOBILE: &str = "+447911123462";
const THIRD_MOBILE: &str = "+447911123463";
const RISK: &str = "I want to kill myself";

/// A Leeds patient (LS1 4DY) reached by text, then by letter.
fn passport(name: &str, mobile: Option<&str>) -> Value {
    json!({
        "name": name,
        "mobile": mobile,
        "address": {"lines": ["12 Park Row", "Leeds"], "postcode": "LS1 4DY"},
        "contact_preferences": {"update": ["sms", "letter"]}
    })
}

async fn patient(app: &TestApp, id: &str) -> Value {
    let (status, body) = app.get(&app.scheduler, &format!("/patients/{id}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn listed(app: &TestApp, query: &str) -> Vec<String> {
    let (status, body) = app.get(&app.scheduler, &format!("/patients{query}")).await;
    assert_eq!(status, 200, "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn audit_actions(app: &TestApp, prefix: &str) -> Vec<Value> {
    let (status, audit) = app.get(&app.admin, "/audit").await;
    assert_eq!(status, 200, "{audit}");
    audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with(prefix))
        .cloned()
        .collect()
}

async fn send_update(app: &TestApp, id: &str) -> Value {
    let (status, message) = app.send_update(id, "hello").await;
    assert_eq!(status, 202, "{message}");
    message
}

fn id_of(patient: &Value) -> String {
    patient["id"].as_str().unwrap().to_owned()
}

async fn a_patients_urgent_flag_is_acknowledged_and_audited(engine: Engine) {
    let mut app = spawn_app(engine).await;
    let id = id_of(
        &app.create_patient(passport("Sam Taylor", Some(MOBILE)))
            .await,
    );
    let calm = patient(&app, &id).await;
    assert_eq!(calm["urgent"], false);
    assert_eq!(calm["urgent_at"], Value::Null);

    let reply = app.text(MOBILE, RISK).await;
    assert!(reply.text().contains("999"), "{}", reply.text());
    let urgent = patient(&app, &id).await;
    assert_eq!(urgent["urgent"], true, "{urgent}");
    assert!(urgent["urgent_at"].is_string(), "{urgent}");
    let signals = urgent["risk_signals"].clone();
    assert!(!signals.as_array().unwrap().is_empty());

    let (status, body) = app.acknowledge_patient(&app.scheduler, &id).await;
    assert_eq!(status, 403, "schedulers do not acknowledge risk: {body}");
    let (status, body) = app.acknowledge_patient(&app.clinician, "nobody").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(patient(&app, &id).await["urgent"], true, "still open");

    let (status, acknowledged) = app.acknowledge_patient(&app.clinician, &id).await;
    assert_eq!(status, 200, "{acknowledged}");
    assert_eq!(acknowledged["urgent"], false);
    assert_eq!(acknowledged["urgent_at"], Value::Null);
    assert_eq!(acknowledged["risk_signals"], signals, "kept as history");
    assert_eq!(acknowledged["acknowledged_by"], "clinician-cal");
    assert!(acknowledged["acknowledged_at"].is_string());
    assert_eq!(patient(&app, &id).await["urgent"], false);

    let entries = audit_actions(&app, "patient.acknowledged").await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["target"], format!("patient:{id}"));
    assert_eq!(entries[0]["actor"], "clinician-cal");
    assert_eq!(entries[0]["role"], "clinician");

    // A second click changes nothing and is not a second acknowledgement.
    let (status, again) = app.acknowledge_patient(&app.admin, &id).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["acknowledged_by"], "clinician-cal");
    assert_eq!(audit_actions(&app, "patient.acknowledged").await.len(), 1);

    // A new risk text opens a new episode.
    app.text(MOBILE, RISK).await;
    assert_eq!(patient(&app, &id).await["urgent"], true);
    app.stop().await;
}

async fn urgent_patients_are_listed_first_and_filtered_by_urgent_true(engine: Engine) {
    let mut app = spawn_app(engine).await;
    let first = id_of(
        &app.create_patient(passport("Alex Moss", Some(MOBILE)))
            .await,
    );
    let second = id_of(
        &app.create_patient(passport("Sam Taylor", Some(OTHER_MOBILE)))
            .await,
    );
    let third = id_of(&app.create_patient(passport("Jo Reed", None)).await);
    assert_eq!(listed(&app, "").await, [&*first, &second, &third]);
    assert!(listed(&app, "?urgent=true").await.is_empty());

    app.text(OTHER_MOBILE, RISK).await;
    assert_eq!(
        listed(&app, "").await,
        [&*second, &first, &third],
        "urgent first"
    );
    assert_eq!(listed(&app, "?urgent=true").await, [&*second]);
    assert_eq!(listed(&app, "?urgent=false").await, [&*first, &third]);
    let (status, _) = app.get(&app.scheduler, "/patients?urgent=maybe").await;
    assert_eq!(status, 400);

    let (status, _) = app.acknowledge_patient(&app.clinician, &second).await;
    assert_eq!(status, 200);
    assert!(listed(&app, "?urgent=true").await.is_empty());
    assert_eq!(listed(&app, "").await, [&*first, &second, &third]);
    app.stop().await;
}

async fn an_unacknowledged_urgent_patient_is_realerted_then_escalated(engine: Engine) {
    let mut app = spawn_app_with(engine, |_| {}, true).await;
    let team = app.app.state.intake.teams.get("leeds").unwrap();
    let on_call: Vec<String> = team.on_call.iter().map(|n| n.e164().to_owned()).collect();
    let escalation: Vec<String> = team
        .escalation
        .iter()
        .map(|n| n.e164().to_owned())
        .collect();
    assert!(
        !escalation.is_empty(),
        "the Leeds team lists escalation numbers"
    );
    let sorted = |mut numbers: Vec<String>| {
        numbers.sort();
        numbers
    };
    let id = id_of(
        &app.create_patient(passport("Sam Taylor", Some(MOBILE)))
            .await,
    );
    assert_eq!(patient(&app, &id).await["team"], "leeds");

    app.text(MOBILE, RISK).await;
    let first = on_call.len();
    let sent = app.twilio.wait_for(first).await;
    assert_eq!(
        sorted(sent.iter().map(|s| s.to.clone()).collect()),
        sorted(on_call.clone()),
        "on-call alerted"
    );

    app.advance(TimeDelta::minutes(14));
    app.app.sweep().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.twilio.sent().len(), first, "not yet 15 minutes");

    app.advance(TimeDelta::minutes(2));
    app.app.sweep().await.unwrap();
    app.app.sweep().await.unwrap();
    let sent = app.twilio.wait_for(2 * first).await;
    assert_eq!(
        sorted(sent[first..].iter().map(|s| s.to.clone()).collect()),
        sorted(on_call.clone()),
        "on-call alerted again, once"
    );
    assert_eq!(patient(&app, &id).await["escalation_level"], 1);

    app.advance(TimeDelta::minutes(15));
    app.app.sweep().await.unwrap();
    let sent = app.twilio.wait_for(2 * first + escalation.len()).await;
    assert_eq!(
        sorted(sent[2 * first..].iter().map(|s| s.to.clone()).collect()),
        sorted(escalation.clone()),
        "then the team's escalation numbers"
    );
    // Alerts name the team only: never the patient, their number or their words.
    for text in &sent {
        assert!(
            !text.body.contains("Sam")
                && !text.body.contains("7911123461")
                && !text.body.contains("kill"),
            "{}",
            text.body
        );
    }

    app.advance(TimeDelta::minutes(60));
    app.app.sweep().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let total = 2 * first + escalation.len();
    assert_eq!(app.twilio.sent().len(), total, "no more after escalation");
    let steps: Vec<_> = audit_actions(&app, "patient.escalated")
        .await
        .iter()
        .map(|e| {
            assert_eq!(e["target"], format!("patient:{id}"));
            e["action"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        steps,
        [
            "patient.escalated.escalation_numbers",
            "patient.escalated.on_call_again"
        ]
    );

    // Acknowledged in time: the next episode is never escalated.
    let (status, _) = app.acknowledge_patient(&app.clinician, &id).await;
    assert_eq!(status, 200);
    app.advance(TimeDelta::minutes(1));
    app.text(MOBILE, RISK).await;
    app.twilio.wait_for(total + first).await;
    let (status, _) = app.acknowledge_patient(&app.clinician, &id).await;
    assert_eq!(status, 200);
    app.advance(TimeDelta::minutes(45));
    app.app.sweep().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        app.twilio.sent().len(),
        total + first,
        "acknowledged: no re-alert"
    );
    app.stop().await;
}

async fn a_patient_created_with_an_opted_out_mobile_is_opted_out(engine: Engine) {
    let mut app = spawn_app(engine).await;
    // STOP to the referral number, before either number was any patient's.
    for number in [MOBILE, THIRD_MOBILE] {
        let reply = app.text(number, "STOP").await;
        assert_eq!(reply.status, 200);
    }
    let opted_out = app
        .create_patient(passport("Sam Taylor", Some(MOBILE)))
        .await;
    assert_eq!(opted_out["sms_opted_out"], true, "{opted_out}");
    let id = id_of(&opted_out);
    let message = send_update(&app, &id).await;
    assert_eq!(message["channel"], "letter");
    assert_eq!(
        message["skipped"],
        json!([{"channel": "sms", "reason": "sms_opted_out"}])
    );

    // Edited onto an opted-out number: opted out; onto a fresh one: texts again.
    let other = app
        .create_patient(passport("Jo Reed", Some(OTHER_MOBILE)))
        .await;
    assert_eq!(other["sms_opted_out"], false);
    let other = id_of(&other);
    let path = format!("/patients/{other}");
    let (status, edited) = app
        .patch_json(&app.scheduler, &path, json!({"mobile": THIRD_MOBILE}))
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["sms_opted_out"], true);
    let (_, edited) = app
        .patch_json(&app.scheduler, &path, json!({"name": "Jo Reed-Smith"}))
        .await;
    assert_eq!(
        edited["sms_opted_out"], true,
        "the same number stays opted out"
    );
    let (_, edited) = app
        .patch_json(&app.scheduler, &path, json!({"mobile": OTHER_MOBILE}))
        .await;
    assert_eq!(edited["sms_opted_out"], false, "a new number starts afresh");

    // START lifts it.
    app.text(MOBILE, "START").await;
    assert_eq!(patient(&app, &id).await["sms_opted_out"], false);
    assert_eq!(app.twilio.attempts(), 0, "nothing was texted");
    app.stop().await;
}

async fn a_send_to_a_number_opted_out_after_the_patient_was_made_falls_back(engine: Engine) {
    let mut app = spawn_app(engine).await;
    let id = id_of(
        &app.create_patient(passport("Sam Taylor", Some(MOBILE)))
            .await,
    );
    let mut sharing = passport("Alex Taylor", Some(MOBILE));
    sharing["shared_mobile"] = json!(true);
    let sharing = id_of(&app.create_patient(sharing).await);
    let message = send_update(&app, &id).await;
    assert_eq!(message["channel"], "sms");
    let sent = app.twilio.wait_for(1).await;
    app.wait_for_messages(&id, |m| m[0]["status"] == "sent")
        .await;

    // The number texts STOP; then the handset turns out to have been off (30003), and the
    // text that would be sent again is not: it falls back to the letter.
    app.text(MOBILE, "STOP").await;
    assert_eq!(
        app.receipt(&sent[0].sid, "undelivered", Some("30003"))
            .await,
        204
    );
    let messages = app
        .wait_for_messages(&id, |m| m[0]["channel"] == "letter")
        .await;
    assert_eq!(
        messages[0]["skipped"],
        json!([{"channel": "sms", "reason": "sms_opted_out"}]),
        "{:#?}",
        messages[0]
    );
    assert_eq!(messages[0]["status"], "task_created");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.twilio.sent().len(), 1, "not sent again");

    // The other record on the same number is opted out too.
    assert_eq!(patient(&app, &sharing).await["sms_opted_out"], true);
    let message = send_update(&app, &sharing).await;
    assert_eq!(message["channel"], "letter");
    assert_eq!(message["skipped"][0]["reason"], "sms_opted_out");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.twilio.attempts(), 1);
    app.stop().await;
}

async fn a_second_patient_with_the_same_mobile_is_refused_unless_shared_mobile(engine: Engine) {
    let mut app = spawn_app(engine).await;
    let first = id_of(
        &app.create_patient(passport("Sam Taylor", Some(MOBILE)))
            .await,
    );
    let never_echoed = |problem: &Value| {
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            !detail.contains("7911"),
            "the number is never echoed: {detail}"
        );
    };

    // In national form it is the same number.
    let (status, problem) = app
        .post_json(
            &app.scheduler,
            "/patients",
            passport("Alex Taylor", Some("07911 123461")),
        )
        .await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["status"], 409);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("shared_mobile")
    );
    never_echoed(&problem);
    assert_eq!(listed(&app, "").await, [&*first], "nothing was saved");
    let mut sharing = passport("Alex Taylor", Some("07911 123461"));
    sharing["shared_mobile"] = json!(true);
    let second = app.create_patient(sharing).await;
    assert_eq!(second["mobile"], MOBILE);

    // Changing a record's mobile to one on another record: the same rule.
    let third = id_of(
        &app.create_patient(passport("Jo Reed", Some(OTHER_MOBILE)))
            .await,
    );
    let path = format!("/patients/{third}");
    let (status, problem) = app
        .patch_json(&app.scheduler, &path, json!({"mobile": MOBILE}))
        .await;
    assert_eq!(status, 409, "{problem}");
    never_echoed(&problem);
    assert_eq!(patient(&app, &third).await["mobile"], OTHER_MOBILE);
    let (status, changed) = app
        .patch_json(
            &app.scheduler,
            &path,
            json!({"mobile": MOBILE, "shared_mobile": true}),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["mobile"], MOBILE);
    // A shared number already on the record is no change.
    let (status, changed) = app
        .patch_json(&app.scheduler, &path, json!({"name": "Jo Reed-Smith"}))
        .await;
    assert_eq!(status, 200, "{changed}");

    // A patient made from a referral whose number is already a patient's.
    app.start_referral(THIRD_MOBILE, SELF_REFERRAL).await;
    let referral = app.referral_id_of(THIRD_MOBILE).await;
    app.create_patient(passport("Sam Jones", Some(THIRD_MOBILE)))
        .await;
    let path = format!("/referrals/{referral}/patient");
    let (status, problem) = app.post_json(&app.clinician, &path, json!({})).await;
    assert_eq!(status, 409, "{problem}");
    never_echoed(&problem);
    let (status, made) = app
        .post_json(&app.clinician, &path, json!({"shared_mobile": true}))
        .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["mobile"], THIRD_MOBILE);
    assert_eq!(made["referral_id"], referral.as_str());
    let (status, problem) = app
        .post_json(&app.clinician, &path, json!({"shared_mobile": true}))
        .await;
    assert_eq!(status, 409, "one patient per referral: {problem}");
    app.stop().await;
}
