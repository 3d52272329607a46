//! Issue "Every text answered, every risk seen": the door never turns a person away over their
//! number or their bytes (safety rule 7), alerts follow the referral, staff can reach the
//! person, STOP means stop everywhere, and a shared mobile names no one. Both engines.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config as ProptestConfig, RngSeed, TestRunner};
use serde_json::json;

use crate::helpers::{Engine, SELF_REFERRAL, TestApp, spawn_app};
use crate::on_both_engines;

on_both_engines!(
    a_text_from_a_number_libphonenumber_does_not_list_is_stored_screened_and_answered,
    a_text_with_no_usable_sender_is_still_stored_and_answered,
    any_unicode_body_gets_a_200_whose_twiml_parses_and_is_in_the_transcript,
    control_characters_echoed_in_the_summary_leave_the_twiml_valid,
    a_nul_in_a_risk_text_is_kept_flagged_and_answered,
    alerts_follow_the_referral_to_the_team_it_moves_to,
    a_referral_carries_the_texters_phone_for_clinicians_audited_and_never_in_the_alert,
    stop_to_the_referral_number_opts_out_the_numbers_patient_records_and_start_lifts_it,
    a_text_from_a_shared_mobile_names_no_one_and_reaches_every_record,
    five_risk_texts_from_a_patient_alert_on_call_once,
    direction_overrides_never_reach_a_name_or_address_staff_read,
);

/// A mobile in 07911 3xx: a real UK range that libphonenumber's metadata does not list.
const UNLISTED: &str = "+447911300123";

async fn inbound_bodies(app: &TestApp, referral_id: &str) -> Vec<String> {
    let (status, transcript) = app
        .get(
            &app.clinician,
            &format!("/referrals/{referral_id}/transcript"),
        )
        .await;
    assert_eq!(status, 200, "{transcript}");
    transcript["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|item| item["direction"] == "inbound")
        .map(|item| item["body"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The body as the engine keeps it: PostgreSQL's text cannot hold U+0000.
fn as_stored(engine: &Engine, body: &str) -> String {
    match engine {
        Engine::Postgres(_) => body.replace('\0', "\u{FFFD}"),
        Engine::Sqlite => body.to_owned(),
    }
}

fn assert_strict_xml(raw: &str) {
    if let Err(error) = roxmltree::Document::parse(raw) {
        panic!("TwiML is not XML 1.0 ({error}): {raw:?}");
    }
}

async fn a_text_from_a_number_libphonenumber_does_not_list_is_stored_screened_and_answered(
    engine: Engine,
) {
    let mut app = spawn_app(engine).await;
    let reply = app.text(UNLISTED, "I want to kill myself").await;
    assert_eq!(reply.status, 200, "{}", reply.raw);
    assert!(reply.content_type.starts_with("text/xml"));
    assert!(reply.text().contains("999"), "{}", reply.text());
    // Stored under its E.164 form, screened, flagged and alerted like any other.
    let referral = app.referral_of(UNLISTED).await;
    assert_eq!(referral["urgent"], true);
    assert_eq!(referral["phone"], UNLISTED);
    assert_eq!(
        inbound_bodies(&app, referral["id"].as_str().unwrap()).await,
        ["I want to kill myself"]
    );
    let alerts = app.twilio.wait_for(2).await;
    assert!(alerts.iter().all(|s| s.to.starts_with("+4479112000")));
    // The conversation goes on.
    let next = app.text(UNLISTED, "1").await;
    assert_eq!(app.conversation(UNLISTED).await["step"], "name");
    assert_eq!(next.status, 200);

    // A satellite number and a foreign number in a range the metadata lacks, the same way.
    for from in ["+881631234567", "+4915199999999"] {
        let reply = app.text(from, "hello").await;
        assert_eq!(reply.status, 200, "{from}: {}", reply.raw);
        assert!(reply.text().contains("999"));
        assert_eq!(app.referral_of(from).await["phone"], from);
    }
    app.stop().await;
}

async fn a_text_with_no_usable_sender_is_still_stored_and_answered(engine: Engine) {
    let mut app = spawn_app(engine).await;
    // An alphanumeric sender and a missing From: answered with 999, kept for staff.
    let named = app.text("CarerLine", "my dad has taken an overdose").await;
    assert_eq!(named.status, 200, "{}", named.raw);
    assert!(named.text().contains("999"));
    let response = app
        .post_signed(
            "/webhooks/twilio/sms",
            &[("MessageSid", "SMnofrom0001"), ("Body", "please help")],
        )
        .await;
    assert_eq!(response.status(), 200);
    let raw = response.text().await.unwrap();
    assert!(raw.contains("999"), "{raw}");
    let (_, queue) = app.get(&app.clinician, "/referrals").await;
    let items = queue["items"].as_array().unwrap();
    let phones: Vec<&str> = items.iter().filter_map(|r| r["phone"].as_str()).collect();
    assert!(phones.contains(&"CarerLine"), "{phones:?}");
    assert!(phones.contains(&"unknown:SMnofrom0001"), "{phones:?}");
    let overdose = items.iter().find(|r| r["phone"] == "CarerLine").unwrap();
    assert_eq!(overdose["urgent"], true, "screened like any text");
    // The same provider retry is the same reply, stored once.
    let again = app
        .post_signed(
            "/webhooks/twilio/sms",
            &[("MessageSid", "SMnofrom0001"), ("Body", "please help")],
        )
        .await;
    assert_eq!(again.text().await.unwrap(), raw);
    app.stop().await;
}

/// Random bodies drawn from all of Unicode (fixed seed, so CI tries the same ones every run),
/// plus the bytes that were seen to fail.
async fn any_unicode_body_gets_a_200_whose_twiml_parses_and_is_in_the_transcript(engine: Engine) {
    let mut app = spawn_app(engine.clone()).await;
    let mut bodies: Vec<String> = vec![
        "\0".into(),
        "I want to kill myself\0".into(),
        "\u{1}\u{8}\u{B}\u{C}\u{1F}\u{7F}\u{85}".into(),
        "Sam \u{202E}htims\u{202C}".into(),
        "\u{FFFE}\u{FFFF}\u{FFA0}".into(),
        "😭😭😭".into(),
        "a\r\nb\rc".into(),
        " ".into(),
        "&lt;<Message>]]>".into(),
    ];
    let mut runner = TestRunner::new(ProptestConfig {
        rng_seed: RngSeed::Fixed(8),
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let strategy =
        proptest::collection::vec(any::<char>(), 0..120).prop_map(String::from_iter::<Vec<char>>);
    for _ in 0..48 {
        bodies.push(strategy.new_tree(&mut runner).expect("a value").current());
    }
    for (i, body) in bodies.iter().enumerate() {
        let from = format!("+4479118{i:05}");
        let reply = app.text(&from, body).await;
        assert_eq!(reply.status, 200, "body {body:?}: {}", reply.raw);
        assert_strict_xml(&reply.raw);
        assert!(!reply.texts.is_empty(), "body {body:?} got no reply");
        let referral = app.referral_of(&from).await;
        assert_eq!(
            inbound_bodies(&app, referral["id"].as_str().unwrap()).await,
            [as_stored(&engine, body)],
            "body {body:?}"
        );
    }
    app.stop().await;
}

async fn control_characters_echoed_in_the_summary_leave_the_twiml_valid(engine: Engine) {
    let mut app = spawn_app(engine).await;
    let phone = "+447911123457";
    app.text(phone, "hi").await;
    let mut steps: Vec<(&str, &str)> = SELF_REFERRAL.to_vec();
    steps.pop(); // stop at the summary
    steps[1] = ("name", "Sam\u{1}\u{1B}[2J\u{7}");
    steps[5] = ("situation", "tired\u{0}\u{B} and low");
    let summary = app.answer_steps(phone, &steps).await;
    assert_eq!(summary.status, 200);
    assert_strict_xml(&summary.raw);
    assert!(summary.text().contains("Sam"), "{}", summary.text());
    app.stop().await;
}

async fn a_nul_in_a_risk_text_is_kept_flagged_and_answered(engine: Engine) {
    let mut app = spawn_app(engine.clone()).await;
    let phone = "+447911123458";
    let body = "i took\0 all my pills";
    let reply = app.text(phone, body).await;
    assert_eq!(reply.status, 200, "{}", reply.raw);
    assert!(reply.text().contains("999"));
    let referral = app.referral_of(phone).await;
    assert_eq!(referral["urgent"], true);
    assert_eq!(
        inbound_bodies(&app, referral["id"].as_str().unwrap()).await,
        [as_stored(&engine, body)]
    );
    app.stop().await;
}

async fn alerts_follow_the_referral_to_the_team_it_moves_to(engine: Engine) {
    let mut app = spawn_app(engine).await;
    let phone = "+447911123459";
    app.start_referral(phone, &[("relationship", "1"), ("name", "Sam")])
        .await;
    // Urgent before anyone knows where they are: the triage team is alerted.
    let risk = app.text(phone, "I want to end my life").await;
    assert!(risk.text().contains("999"));
    let first = app.twilio.wait_for(2).await;
    let mut to: Vec<String> = first.iter().map(|s| s.to.clone()).collect();
    to.sort();
    assert_eq!(to, ["+447911200001", "+447911200002"], "triage on-call");
    // The postcode moves it to Leeds: Leeds' on-call hears of it too, once.
    app.answer_steps(phone, &[("age", "34"), ("postcode", "LS1 4DY")])
        .await;
    let referral = app.referral_of(phone).await;
    assert_eq!(referral["team"], "leeds");
    let all = app.twilio.wait_for(4).await;
    let mut leeds: Vec<String> = all[2..].iter().map(|s| s.to.clone()).collect();
    leeds.sort();
    assert_eq!(leeds, ["+447911200011", "+447911200012"]);
    assert!(
        all[2]
            .body
            .contains(referral["reference"].as_str().unwrap())
    );
    // Further answers do not alert again.
    app.answer_steps(phone, &[("safety", "1"), ("situation", "very low")])
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(app.twilio.sent().len(), 4);
    app.stop().await;
}

async fn a_referral_carries_the_texters_phone_for_clinicians_audited_and_never_in_the_alert(
    engine: Engine,
) {
    let mut app = spawn_app(engine).await;
    let phone = "+447911123460";
    app.text(phone, "I am going to kill myself").await;
    let id = app.referral_id_of(phone).await;
    let (status, referral) = app.get(&app.clinician, &format!("/referrals/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(referral["phone"], phone);
    let (status, queue) = app.get(&app.clinician, "/referrals").await;
    assert_eq!(status, 200);
    assert_eq!(queue["items"][0]["phone"], phone);
    // Schedulers never see it.
    let (status, _) = app.get(&app.scheduler, &format!("/referrals/{id}")).await;
    assert_eq!(status, 403);
    let (status, _) = app.get(&app.scheduler, "/referrals").await;
    assert_eq!(status, 403);
    // Each read is in the audit log, with who read it.
    let audit = app.audit_entries().await;
    assert!(
        audit.iter().any(|e| e["action"] == "referral.read"
            && e["target"] == format!("referral:{id}")
            && e["actor"] == "clinician-cal"),
        "{audit:?}"
    );
    // The on-call alert names the referral, never the number.
    for alert in app.twilio.wait_for(2).await {
        assert!(!alert.body.contains("7911123460"), "{}", alert.body);
        assert!(!alert.body.contains("123460"), "{}", alert.body);
    }
    app.stop().await;
}

async fn stop_to_the_referral_number_opts_out_the_numbers_patient_records_and_start_lifts_it(
    engine: Engine,
) {
    let mut app = spawn_app(engine).await;
    let mobile = "+447911123461";
    let patient = app
        .create_patient(json!({"name": "Alex Doe", "mobile": mobile}))
        .await;
    let id = patient["id"].as_str().unwrap();
    assert_eq!(patient["sms_opted_out"], false);
    let stop = app.text(mobile, "STOP").await;
    assert_eq!(stop.status, 200);
    let (_, after_stop) = app.get(&app.scheduler, &format!("/patients/{id}")).await;
    assert_eq!(after_stop["sms_opted_out"], true, "{after_stop}");
    app.text(mobile, "START").await;
    let (_, after_start) = app.get(&app.scheduler, &format!("/patients/{id}")).await;
    assert_eq!(after_start["sms_opted_out"], false, "{after_start}");
    app.stop().await;
}

async fn a_text_from_a_shared_mobile_names_no_one_and_reaches_every_record(engine: Engine) {
    let mut app = spawn_app(engine).await;
    let mobile = "+447911123462";
    let first = app
        .create_patient(json!({"name": "Robin Pike", "preferred_name": "Robin", "mobile": mobile}))
        .await;
    let (status, second) = app
        .post_json(
            &app.scheduler,
            "/patients",
            json!({"name": "Kit Pike", "preferred_name": "Kit", "mobile": mobile, "shared_mobile": true}),
        )
        .await;
    assert_eq!(status, 201, "{second}");
    let ids = [
        first["id"].as_str().unwrap(),
        second["id"].as_str().unwrap(),
    ];

    let reply = app.text(mobile, "can someone call me back").await;
    assert_eq!(reply.status, 200);
    let text = reply.text();
    assert!(!text.contains("Robin") && !text.contains("Kit"), "{text}");
    assert!(text.contains("999"), "{text}");
    let (_, inbox) = app.get(&app.scheduler, "/inbox").await;
    for id in ids {
        assert!(
            inbox["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["patient_id"] == id && i["body"] == "can someone call me back"),
            "no inbox item for {id}: {inbox}"
        );
    }
    // A risk text flags both records, names no one, and alerts once.
    let risk = app.text(mobile, "I want to die").await;
    assert!(risk.text().contains("999"));
    assert!(!risk.text().contains("Robin") && !risk.text().contains("Kit"));
    for id in ids {
        let (_, patient) = app.get(&app.clinician, &format!("/patients/{id}")).await;
        assert_eq!(patient["urgent"], true, "{patient}");
    }
    app.stop().await;
}

async fn five_risk_texts_from_a_patient_alert_on_call_once(engine: Engine) {
    let mut app = spawn_app(engine).await;
    let mobile = "+447911123463";
    let patient = app
        .create_patient(json!({"name": "Jo Bloggs", "mobile": mobile, "team": "wakefield"}))
        .await;
    let id = patient["id"].as_str().unwrap().to_owned();
    for text in [
        "I want to die",
        "I have pills",
        "going to take them all",
        "goodbye",
        "I want to kill myself",
    ] {
        let reply = app.text(mobile, text).await;
        assert!(reply.text().contains("999"), "{text}: {}", reply.text());
    }
    // Wakefield has one on-call number: one alert for the episode.
    app.twilio.wait_for(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let alerts: Vec<_> = app
        .twilio
        .sent()
        .into_iter()
        .filter(|s| s.to == "+447911200031")
        .collect();
    assert_eq!(alerts.len(), 1, "one alert per open episode");
    let (_, flagged) = app.get(&app.clinician, &format!("/patients/{id}")).await;
    assert_eq!(flagged["urgent"], true);

    // Acknowledged, the episode closes; the next risk text opens another and alerts again.
    let (status, _) = app.acknowledge_patient(&app.clinician, &id).await;
    assert_eq!(status, 200);
    app.text(mobile, "I want to die").await;
    app.twilio.wait_for(2).await;
    app.stop().await;
}

async fn direction_overrides_never_reach_a_name_or_address_staff_read(engine: Engine) {
    let mut app = spawn_app(engine).await;
    // Typed by staff.
    let patient = app
        .create_patient(json!({
            "name": "Sam \u{202E}htimS\u{202C}",
            "preferred_name": "\u{2067}Sam\u{2069}",
            "address": {"lines": ["1 High St\u{202E}"], "postcode": "LS1 4DY"}
        }))
        .await;
    assert_eq!(patient["name"], "Sam htimS");
    assert_eq!(patient["preferred_name"], "Sam");
    assert_eq!(patient["address"]["lines"][0], "1 High St");
    // Texted by a person: the answer is plain, the transcript keeps what was sent.
    let phone = "+447911123464";
    app.text(phone, "hi").await;
    app.answer_steps(
        phone,
        &[("relationship", "1"), ("name", "Alex \u{202E}wen")],
    )
    .await;
    let referral = app.referral_of(phone).await;
    assert_eq!(referral["answers"]["name"], "Alex wen");
    let bodies = inbound_bodies(&app, referral["id"].as_str().unwrap()).await;
    assert!(
        bodies.contains(&"Alex \u{202E}wen".to_owned()),
        "{bodies:?}"
    );
    app.stop().await;
}
