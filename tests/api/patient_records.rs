//! Patients as the NHS records them (NHS number, date of birth, search), a referral made a
//! patient without losing anything, and messages as staff expect them: their own words for any
//! purpose, the interpreter a patient needs, and no letter for a change too close to wait.

use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};

use crate::helpers::{Engine, TestApp, spawn_app};
use crate::on_both_engines;

on_both_engines!(
    a_referral_becomes_a_patient_with_every_answer_in_its_own_field,
    the_nhs_number_is_checked_and_belongs_to_one_record,
    the_date_of_birth_is_an_iso_date_from_1900_to_today,
    patients_are_found_by_name_nhs_number_or_mobile,
    staff_words_go_for_every_purpose,
    the_interpreter_needed_is_on_the_call_task_the_letter_task_and_the_letter,
    a_change_less_than_48_hours_away_is_never_only_a_letter,
);

/// The family member who texts.
const REFERRER: &str = "+447911123471";
const MOBILE: &str = "+447911123472";
const OTHER_MOBILE: &str = "+447911123473";

/// What the referrer said in their own words: none of it may reach a scheduler.
const SITUATION: &str = "Not sleeping since the flood at the bakery";
const ANYTHING_ELSE: &str = "She has a guide dog called Biscuit, keep him calm";

fn passport(name: &str, mobile: &str) -> Value {
    json!({
        "name": name,
        "mobile": mobile,
        "address": {"lines": ["12 Park Row", "Leeds"], "postcode": "LS1 4DY"},
    })
}

fn with(mut base: Value, changes: Value) -> Value {
    for (k, v) in changes.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

fn id_of(patient: &Value) -> String {
    patient["id"].as_str().unwrap().to_owned()
}

async fn a_referral_becomes_a_patient_with_every_answer_in_its_own_field(engine: Engine) {
    let mut app = spawn_app(engine).await;
    app.start_referral(
        REFERRER,
        &[
            ("relationship", "2"),
            ("referrer_role", "1"),
            ("referrer_name", "Jo Reed"),
            ("consent", "1"),
            ("subject_phone", "0113 496 0123"),
            ("name", "Ana Nowak, she/her"),
            ("age", "14/03/1987"),
            ("postcode", "LS1 4DY"),
            ("safety", "2"),
            ("situation", SITUATION),
            ("contact_method", "3"),
            ("language", "Polish"),
            ("access_needs", "2 5"),
            ("anything_else", ANYTHING_ELSE),
            ("confirm", "yes"),
        ],
    )
    .await;
    let referral_id = app.referral_id_of(REFERRER).await;
    let referral = app.referral(&referral_id).await;
    assert_eq!(referral["urgent"], true, "not safe now: {referral}");
    let path = format!("/referrals/{referral_id}/patient");
    let (status, made) = app.post_json(&app.clinician, &path, json!({})).await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["name"], "Ana Nowak");
    assert_eq!(made["pronouns"], "she/her");
    assert_eq!(made["mobile"], Value::Null, "their number is a landline");
    assert_eq!(made["landline"], "+441134960123");
    assert_eq!(made["date_of_birth"], "1987-03-14");
    assert_eq!(made["language"], "Polish");
    assert_eq!(made["interpreter"], true);
    let needs = made["access_needs"].as_array().unwrap();
    assert!(
        needs.contains(&json!("large_print")) && needs.contains(&json!("easy_read")),
        "{made}"
    );
    assert_eq!(
        made["support_person"],
        format!("Jo Reed (family), {REFERRER}")
    );
    assert_eq!(made["service_animal"], "Guide dog");
    assert_eq!(made["contact_preferences"]["non_urgent"][0], "letter");
    assert_eq!(made["referral_id"], referral_id.as_str());
    // The referral's risk stays with the person, as a patient's urgent episode.
    assert_eq!(made["urgent"], true);
    assert_eq!(made["risk_signals"], referral["risk_signals"]);
    assert!(!made["risk_signals"].as_array().unwrap().is_empty());
    assert!(made["urgent_at"].is_string(), "{made}");
    let (_, urgent) = app.get(&app.scheduler, "/patients?urgent=true").await;
    assert_eq!(urgent["items"][0]["id"], made["id"]);

    // A scheduler reads the patient, alone and in the list, and none of the person's words.
    let id = id_of(&made);
    let (status, seen) = app.get(&app.scheduler, &format!("/patients/{id}")).await;
    assert_eq!(status, 200);
    let (_, listed) = app.get(&app.scheduler, "/patients").await;
    for shown in [seen.to_string(), listed.to_string()] {
        for words in ["flood", "bakery", "Biscuit", "calm", "sleeping"] {
            assert!(
                !shown.contains(words),
                "{words:?} shown to a scheduler: {shown}"
            );
        }
    }
    assert!(
        seen["notes"]
            .as_str()
            .unwrap()
            .contains(referral["reference"].as_str().unwrap()),
        "the note says where the rest is: {seen}"
    );
    let audited = app.audit_entries().await;
    assert!(
        audited
            .iter()
            .any(|e| e["action"] == "patient.create" && e["target"] == format!("patient:{id}")),
        "{audited:?}"
    );
    // The patient's episode is acknowledged as any patient's is.
    let (status, acknowledged) = app.acknowledge_patient(&app.clinician, &id).await;
    assert_eq!(status, 200, "{acknowledged}");
    assert_eq!(acknowledged["urgent"], false);
    assert_eq!(acknowledged["risk_signals"], referral["risk_signals"]);
    app.stop().await;
}

async fn the_nhs_number_is_checked_and_belongs_to_one_record(engine: Engine) {
    let app = spawn_app(engine).await;
    let sam = app
        .create_patient(with(
            passport("Sam Taylor", MOBILE),
            json!({"nhs_number": "943 476 5919"}),
        ))
        .await;
    assert_eq!(sam["nhs_number"], "9434765919", "kept as the ten digits");
    for wrong in [
        "9434765918",
        "943476591",
        "94347659190",
        "943.476.5919",
        "NHS",
    ] {
        let (status, problem) = app
            .post_json(
                &app.scheduler,
                "/patients",
                with(
                    passport("Jo Reed", OTHER_MOBILE),
                    json!({"nhs_number": wrong}),
                ),
            )
            .await;
        assert_eq!(status, 422, "{wrong}: {problem}");
        assert!(problem["detail"].as_str().unwrap().contains("nhs_number"));
    }
    let (status, problem) = app
        .post_json(
            &app.scheduler,
            "/patients",
            with(
                passport("Samuel Taylor", OTHER_MOBILE),
                json!({"nhs_number": "943-476-5919"}),
            ),
        )
        .await;
    assert_eq!(status, 409, "the same person twice: {problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains(sam["id"].as_str().unwrap())
    );
    let jo = app
        .create_patient(with(
            passport("Jo Reed", OTHER_MOBILE),
            json!({"nhs_number": "4010232137"}),
        ))
        .await;
    let path = format!("/patients/{}", id_of(&jo));
    let (status, _) = app
        .patch_json(&app.scheduler, &path, json!({"nhs_number": "9434765919"}))
        .await;
    assert_eq!(status, 409, "nor by a change");
    let (status, _) = app
        .patch_json(&app.scheduler, &path, json!({"nhs_number": "4010232138"}))
        .await;
    assert_eq!(status, 422);
    let (status, changed) = app
        .patch_json(&app.scheduler, &path, json!({"name": "Jo Reed-Smith"}))
        .await;
    assert_eq!(status, 200, "its own number is no conflict: {changed}");
    assert_eq!(changed["nhs_number"], "4010232137");
    let (status, cleared) = app
        .patch_json(&app.scheduler, &path, json!({"nhs_number": null}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(cleared["nhs_number"], Value::Null);
    app.stop().await;
}

async fn the_date_of_birth_is_an_iso_date_from_1900_to_today(engine: Engine) {
    let app = spawn_app(engine).await;
    let sam = app
        .create_patient(with(
            passport("Sam Taylor", MOBILE),
            json!({"date_of_birth": "1987-03-14"}),
        ))
        .await;
    assert_eq!(sam["date_of_birth"], "1987-03-14");
    let tomorrow = (Utc::now() + TimeDelta::days(2)).date_naive().to_string();
    for wrong in [
        tomorrow.as_str(),
        "1899-12-31",
        "14/03/1987",
        "1987-02-30",
        "yesterday",
    ] {
        let (status, problem) = app
            .post_json(
                &app.scheduler,
                "/patients",
                with(
                    passport("Jo Reed", OTHER_MOBILE),
                    json!({"date_of_birth": wrong}),
                ),
            )
            .await;
        assert_eq!(status, 422, "{wrong}: {problem}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("date_of_birth")
        );
    }
    let (status, _) = app
        .patch_json(
            &app.scheduler,
            &format!("/patients/{}", id_of(&sam)),
            json!({"date_of_birth": "2999-01-01"}),
        )
        .await;
    assert_eq!(status, 422);
    app.stop().await;
}

async fn patients_are_found_by_name_nhs_number_or_mobile(engine: Engine) {
    let app = spawn_app(engine).await;
    let sam = app
        .create_patient(with(
            passport("Sam Taylor", MOBILE),
            json!({"nhs_number": "9434765919", "preferred_name": "Sammy"}),
        ))
        .await;
    let jo = app.create_patient(passport("Jo Reed", OTHER_MOBILE)).await;
    let found = |query: &str| {
        let path = format!("/patients?{query}");
        let app = &app;
        async move {
            let (status, body) = app.get(&app.scheduler, &path).await;
            assert_eq!(status, 200, "{path}: {body}");
            body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    let sam_id = id_of(&sam);
    let jo_id = id_of(&jo);
    assert_eq!(
        found("q=taYL").await,
        [sam_id.as_str()],
        "any case, any part"
    );
    assert_eq!(
        found("q=sammy").await,
        [sam_id.as_str()],
        "the preferred name too"
    );
    assert_eq!(found("q=943%20476%205919").await, [sam_id.as_str()]);
    assert_eq!(
        found("q=07911%20123473").await,
        [jo_id.as_str()],
        "national form"
    );
    assert_eq!(found("q=%2B447911123472").await, [sam_id.as_str()]);
    assert_eq!(found("q=o").await.len(), 2);
    assert!(found("q=%25").await.is_empty(), "% is only a percent sign");
    assert!(found("q=_").await.is_empty(), "_ is only an underscore");
    assert!(found("q=Alex").await.is_empty());
    assert_eq!(found("q=reed&urgent=false").await, [jo_id.as_str()]);
    assert!(found("q=reed&urgent=true").await.is_empty());
    let (status, _) = app
        .get(&app.scheduler, &format!("/patients?q={}", "x".repeat(101)))
        .await;
    assert_eq!(status, 400);
    let (status, _) = app.get(&app.scheduler, "/patients?q=Sam%00").await;
    assert_eq!(status, 400, "a NUL is no name");
    app.stop().await;
}

async fn staff_words_go_for_every_purpose(engine: Engine) {
    let app = spawn_app(engine).await;
    let id = id_of(&app.create_patient(passport("Sam Taylor", MOBILE)).await);
    let mut texts = 0;
    for purpose in ["urgent", "reminder", "update", "non_urgent"] {
        let words = format!("Words for the {purpose} message.");
        let (status, message) = app
            .send_message(&id, json!({"purpose": purpose, "text": words}))
            .await;
        assert_eq!(status, 202, "{purpose}: {message}");
        assert_eq!(message["purpose"], purpose);
        match message["channel"].as_str().unwrap() {
            "sms" => {
                texts += 1;
                let sent = app.twilio.wait_for(texts).await;
                assert!(sent.iter().any(|t| t.body.contains(&words)), "{sent:?}");
            }
            "phone_call" => {
                let (_, tasks) = app.get(&app.scheduler, "/tasks?kind=phone_call").await;
                let task = tasks["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|t| t["message_id"] == message["id"])
                    .expect("a call task")
                    .clone();
                assert!(task["text"].as_str().unwrap().contains(&words), "{task}");
            }
            "letter" => {
                let pdf = letter_of(&app, &message).await;
                assert!(pdf.contains(&words), "{pdf}");
            }
            other => panic!("{purpose} went by {other}"),
        }
    }
    assert_eq!(texts, 2, "a reminder and an update go by text by default");
    let (status, _) = app.send_message(&id, json!({"purpose": "reminder"})).await;
    assert_eq!(status, 422, "words or a template are needed");
    app.stop().await;
}

/// The letter task of `message`, and the text of its PDF (words joined by single spaces).
async fn letter_task_and_text(app: &TestApp, message: &Value) -> (Value, String) {
    let (_, tasks) = app.get(&app.scheduler, "/tasks?kind=letter").await;
    let task = tasks["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["message_id"] == message["id"])
        .expect("a letter task")
        .clone();
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
    let pdf = response.bytes().await.unwrap();
    let text = pdf_extract::extract_text_from_mem(&pdf).expect("a readable PDF");
    (task, text.split_whitespace().collect::<Vec<_>>().join(" "))
}

async fn letter_of(app: &TestApp, message: &Value) -> String {
    letter_task_and_text(app, message).await.1
}

async fn the_interpreter_needed_is_on_the_call_task_the_letter_task_and_the_letter(engine: Engine) {
    let app = spawn_app(engine).await;
    let id = id_of(
        &app.create_patient(with(
            passport("Ana Nowak", MOBILE),
            json!({"language": "pl", "interpreter": true,
                   "contact_preferences": {"update": ["phone_call"]}}),
        ))
        .await,
    );
    let (status, call) = app
        .send_message(
            &id,
            json!({"purpose": "update", "text": "Your nurse is Alex."}),
        )
        .await;
    assert_eq!(status, 202, "{call}");
    assert_eq!(call["channel"], "phone_call");
    let (_, tasks) = app.get(&app.scheduler, "/tasks?kind=phone_call").await;
    let script = tasks["items"][0]["text"].as_str().unwrap().to_owned();
    assert!(script.contains("Interpreter: Polish"), "{script}");

    let (status, letter) = app
        .send_message(
            &id,
            json!({"purpose": "non_urgent", "text": "Your care plan."}),
        )
        .await;
    assert_eq!(status, 202, "{letter}");
    assert_eq!(letter["channel"], "letter");
    let (task, pdf) = letter_task_and_text(&app, &letter).await;
    assert!(
        task["text"]
            .as_str()
            .unwrap()
            .contains("Interpreter: Polish"),
        "{task}"
    );
    assert!(pdf.contains("Interpreter: Polish"), "{pdf}");

    // No interpreter needed: no line.
    let other = id_of(
        &app.create_patient(with(
            passport("Sam Taylor", OTHER_MOBILE),
            json!({"contact_preferences": {"update": ["phone_call"]}}),
        ))
        .await,
    );
    let (_, call) = app
        .send_message(&other, json!({"purpose": "update", "text": "Hello."}))
        .await;
    let (_, tasks) = app.get(&app.scheduler, "/tasks?kind=phone_call").await;
    let script = tasks["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["message_id"] == call["id"])
        .unwrap()["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!script.contains("Interpreter"), "{script}");
    app.stop().await;
}

fn home_visit_in_hours(hours: i64) -> Value {
    json!({
        "starts_at": (Utc::now() + TimeDelta::hours(hours)).to_rfc3339(),
        "place": "home",
        "kind": "home_visit",
    })
}

/// Moves the appointment to `hours` from now; the notice the patient got.
async fn move_to(app: &TestApp, patient_id: &str, appointment: &Value, hours: i64) -> Value {
    let (status, moved) = app
        .patch_json(
            &app.scheduler,
            &format!("/appointments/{}", appointment["id"].as_str().unwrap()),
            json!({"starts_at": (Utc::now() + TimeDelta::hours(hours)).to_rfc3339()}),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    let messages = app.messages(patient_id).await;
    assert_eq!(messages[0]["appointment_id"], appointment["id"]);
    messages[0].clone()
}

fn skipped(message: &Value) -> Vec<(String, String)> {
    message["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["channel"].as_str().unwrap().to_owned(),
                s["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn a_change_less_than_48_hours_away_is_never_only_a_letter(engine: Engine) {
    let app = spawn_app(engine).await;
    let letters_only = json!({"contact_preferences": {"update": ["letter"]}});
    let id = id_of(
        &app.create_patient(with(passport("Sam Taylor", MOBILE), letters_only.clone()))
            .await,
    );

    // Far enough ahead, both before and after: the letter they asked for.
    let later = app.book_appointment(&id, home_visit_in_hours(96)).await;
    let notice = move_to(&app, &id, &later, 120).await;
    assert_eq!(notice["channel"], "letter", "{notice}");
    assert!(skipped(&notice).is_empty());

    // From next week to tomorrow: the new time is too close for the post.
    let notice = move_to(&app, &id, &later, 30).await;
    assert_eq!(notice["channel"], "sms", "{notice}");
    assert_eq!(skipped(&notice), [("letter".into(), "too_slow".into())]);
    let sent = app.twilio.wait_for(1).await;
    assert_eq!(sent[0].to, MOBILE);

    // From tomorrow to next week: the old time is too close.
    let soon = app.book_appointment(&id, home_visit_in_hours(20)).await;
    let notice = move_to(&app, &id, &soon, 150).await;
    assert_eq!(notice["channel"], "sms", "{notice}");
    assert_eq!(skipped(&notice), [("letter".into(), "too_slow".into())]);

    // No mobile: a call, never only a letter, even for a cancellation.
    let landline_only = id_of(
        &app.create_patient(with(
            json!({"name": "Jo Reed", "landline": "0113 496 0000",
                   "address": {"lines": ["1 High St", "Leeds"]}}),
            letters_only,
        ))
        .await,
    );
    let tomorrow = app
        .book_appointment(&landline_only, home_visit_in_hours(24))
        .await;
    let path = format!("/appointments/{}", tomorrow["id"].as_str().unwrap());
    assert_eq!(app.delete(&app.scheduler, &path).await, 204);
    let notice = app.messages(&landline_only).await[0].clone();
    assert_eq!(notice["channel"], "phone_call", "{notice}");
    assert_eq!(notice["status"], "task_created");
    assert_eq!(
        skipped(&notice),
        [
            ("letter".into(), "too_slow".into()),
            ("sms".into(), "no_mobile".into())
        ]
    );
    app.stop().await;
}
