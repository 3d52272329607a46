//! The keywords anyone can text at any step (`COPING`, `CARER`, `TEAM`, `SERVICES`, beside
//! `HELP`): answered, then the question again; from a patient's number too; never before the
//! 999 answer to a risk text. And the referral's closing text: when the team aims to be in
//! touch (`CRHT_RESPONSE_TARGET`), and for a carer, what happens next and `CARER`.

use serde_json::json;

use crate::helpers::{Engine, SELF_REFERRAL, spawn_app, spawn_app_with};
use crate::on_both_engines;

on_both_engines!(
    every_keyword_mid_conversation_answers_and_repeats_the_question,
    a_keyword_from_a_patients_number_is_answered_in_easy_read_when_the_passport_asks,
    a_risk_text_with_a_keyword_still_gets_999_first,
    help_names_the_teams_number_and_111,
    a_keyword_after_the_referral_is_sent_is_answered_not_put_in_the_thread,
    the_closing_text_gives_the_response_target_when_set,
    a_carers_closing_text_offers_carer_and_a_self_referrals_does_not,
);

const PHONE: &str = "+447911123471";
const PATIENT_MOBILE: &str = "+447911123472";

/// Each keyword, how a person might type it, and words its answer must hold.
const KEYWORDS: &[(&str, &[&str])] = &[
    ("COPING", &["Breathe", "999", "0800 129 9999"]),
    (
        "Carer.",
        &["listen", "Rethink Mental Illness", "0800 129 9999", "999"],
    ),
    (
        "team",
        &["0800 129 9999", "listen carefully", "24 hours", "111"],
    ),
    (
        " Services ",
        &[
            "Talking Therapies",
            "Mind",
            "MoodTools",
            "mental health option",
            "116 123",
            "85258",
        ],
    ),
];

async fn every_keyword_mid_conversation_answers_and_repeats_the_question(engine: Engine) {
    let mut app = spawn_app(engine).await;
    app.start_referral(PHONE, &SELF_REFERRAL[..2]).await;
    for (keyword, words) in KEYWORDS {
        let reply = app.text(PHONE, keyword).await;
        assert_eq!(reply.status, 200, "{}", reply.raw);
        let text = reply.text();
        for word in *words {
            assert!(text.contains(word), "{keyword:?} lacks {word:?}: {text}");
        }
        assert!(
            text.trim_end()
                .ends_with("Or send your age or date of birth."),
            "{keyword:?} asks the age question again: {text}"
        );
        assert_eq!(app.conversation(PHONE).await["step"], "age");
    }
    // The conversation goes on where it was.
    app.answer_steps(PHONE, &SELF_REFERRAL[2..]).await;
    let referral = app.referral_of(PHONE).await;
    assert_eq!(referral["status"], "submitted");
    assert_eq!(referral["urgent"], false, "a keyword is not a risk signal");
    app.stop().await;
}

async fn a_keyword_from_a_patients_number_is_answered_in_easy_read_when_the_passport_asks(
    engine: Engine,
) {
    let mut app = spawn_app(engine).await;
    let patient = app
        .create_patient(json!({
            "name": "Sam Taylor",
            "mobile": PATIENT_MOBILE,
            "address": {"lines": ["12 Park Row", "Leeds"], "postcode": "LS1 4DY"},
            "access_needs": ["easy_read"],
        }))
        .await;
    let reply = app.text(PATIENT_MOBILE, "coping").await;
    let text = reply.text();
    assert!(text.starts_with("To help right now"), "easy read: {text}");
    assert!(
        text.contains("999") && text.contains("0800 129 9999"),
        "{text}"
    );
    assert!(!text.contains("Sam"), "names no one: {text}");

    // Without easy read, the plain words.
    let id = patient["id"].as_str().unwrap();
    let (status, body) = app
        .patch_json(
            &app.scheduler,
            &format!("/patients/{id}"),
            json!({"access_needs": []}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let text = app.text(PATIENT_MOBILE, "SERVICES").await.text();
    assert!(
        text.starts_with("Other help") && text.contains("NHS Talking Therapies"),
        "{text}"
    );
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM referrals").await,
        0,
        "a patient's keyword starts no referral"
    );
    app.stop().await;
}

async fn a_risk_text_with_a_keyword_still_gets_999_first(engine: Engine) {
    let mut app = spawn_app(engine).await;
    app.start_referral(PHONE, &SELF_REFERRAL[..2]).await;
    let reply = app.text(PHONE, "COPING I want to kill myself").await;
    let text = reply.text();
    assert!(
        text.starts_with("Please call 999 now"),
        "999 comes first: {text}"
    );
    let referral = app.referral_of(PHONE).await;
    assert_eq!(referral["urgent"], true, "{referral}");

    // A patient's risk text too.
    app.create_patient(json!({
        "name": "Alex Moss",
        "mobile": PATIENT_MOBILE,
        "address": {"lines": ["12 Park Row", "Leeds"], "postcode": "LS1 4DY"},
    }))
    .await;
    let text = app
        .text(PATIENT_MOBILE, "team, I want to end my life")
        .await
        .text();
    assert!(text.starts_with("Please call 999 now"), "{text}");
    app.stop().await;
}

async fn help_names_the_teams_number_and_111(engine: Engine) {
    let mut app = spawn_app(engine).await;
    let text = app.text(PHONE, "HELP").await.text();
    for word in [
        "0800 129 9999",
        "111",
        "999",
        "COPING",
        "CARER",
        "TEAM",
        "SERVICES",
    ] {
        assert!(text.contains(word), "HELP lacks {word}: {text}");
    }
    app.stop().await;
}

async fn a_keyword_after_the_referral_is_sent_is_answered_not_put_in_the_thread(engine: Engine) {
    let mut app = spawn_app(engine).await;
    app.start_referral(PHONE, SELF_REFERRAL).await;
    // SELF_REFERRAL asked for easy read among the access needs.
    let text = app.text(PHONE, "TEAM").await.text();
    assert!(
        text.starts_with("Call the crisis team: 0800 129 9999"),
        "{text}"
    );
    assert!(!text.contains("team has your message"), "{text}");
    let text = app.text(PHONE, "carer").await.text();
    assert!(text.starts_with("If you look after someone"), "{text}");
    app.stop().await;
}

/// A family member's referral for someone else, up to the summary.
const FAMILY_REFERRAL: &[(&str, &str)] = &[
    ("relationship", "2"),
    ("referrer_role", "1"),
    ("referrer_name", "Jo"),
    ("consent", "1"),
    ("subject_phone", "07911 123499"),
    ("name", "Alex"),
    ("age", "yes"),
    ("postcode", "LS1 4DY"),
    ("safety", "yes"),
    ("situation", "not eating, not sleeping"),
    ("contact_method", "1"),
    ("language", "no"),
    ("access_needs", "8"),
    ("anything_else", "no"),
    ("confirm", "yes"),
];

async fn the_closing_text_gives_the_response_target_when_set(engine: Engine) {
    let mut app = spawn_app_with(
        engine.clone(),
        |c| c.response_target = Some("within 4 hours".to_owned()),
        false,
    )
    .await;
    let text = app.start_referral(PHONE, SELF_REFERRAL).await.text();
    assert!(
        text.contains("They aim to do this within 4 hours."),
        "{text}"
    );
    app.stop().await;

    let mut app = spawn_app(engine).await;
    let text = app.start_referral(PHONE, SELF_REFERRAL).await.text();
    assert!(text.contains("as soon as they can"), "{text}");
    assert!(!text.contains("aim to"), "no target, no promise: {text}");
    app.stop().await;
}

async fn a_carers_closing_text_offers_carer_and_a_self_referrals_does_not(engine: Engine) {
    let mut app = spawn_app(engine).await;
    let text = app.start_referral(PHONE, FAMILY_REFERRAL).await.text();
    assert!(text.contains("CRHT-"), "{text}");
    assert!(text.contains("What happens next"), "{text}");
    assert!(text.contains("Text CARER"), "{text}");
    // The offer is good: CARER answers.
    let text = app.text(PHONE, "CARER").await.text();
    assert!(text.contains("Rethink Mental Illness"), "{text}");

    let text = app
        .start_referral(PATIENT_MOBILE, SELF_REFERRAL)
        .await
        .text();
    assert!(text.contains("CRHT-"), "{text}");
    assert!(!text.contains("CARER"), "{text}");
    app.stop().await;
}
