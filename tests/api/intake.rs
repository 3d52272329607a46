//! The referral conversation end to end: every step, every command, routing, abandonment.

use chrono::TimeDelta;
use serde_json::json;

use crate::helpers::{Engine, SELF_REFERRAL, spawn_app, spawn_app_with};
use crate::on_both_engines;

on_both_engines!(
    a_self_referral_completes_step_by_step_and_reaches_the_triage_queue,
    a_referral_for_someone_else_asks_about_the_referrer,
    a_referral_exists_and_is_visible_from_the_first_text,
    help_back_restart_and_skip_work_at_any_step,
    stop_opts_out_once_keeps_the_referral_and_start_resumes,
    every_opt_out_word_stops_texts,
    referrals_are_routed_to_the_team_for_their_area,
    an_idle_conversation_is_abandoned_into_the_queue_and_resumes_when_texted,
    texts_after_submitting_are_kept_and_restart_begins_a_new_referral,
    answers_that_are_not_understood_are_asked_again,
);

const PHONE: &str = "+447911123456";

async fn a_self_referral_completes_step_by_step_and_reaches_the_triage_queue(engine: Engine) {
    let mut app = spawn_app(engine).await;
    let first = app.text(PHONE, "hello").await;
    assert_eq!(first.status, 200);
    assert!(
        first.content_type.starts_with("text/xml"),
        "{}",
        first.content_type
    );
    let last = app.answer_steps(PHONE, SELF_REFERRAL).await;

    let conversation = app.conversation(PHONE).await;
    assert_eq!(conversation["status"], "completed");
    let reference = regex_reference(&last.text()).expect("a reference like CRHT-7K3M9Q");
    for needle in ["medicines", "hospital", "999"] {
        assert!(last.text().contains(needle), "{needle}: {}", last.text());
    }

    let referral = app
        .referral(conversation["referral_id"].as_str().unwrap())
        .await;
    assert_eq!(referral["reference"], reference);
    assert_eq!(referral["status"], "submitted");
    assert_eq!(referral["incomplete"], false);
    assert_eq!(referral["urgent"], false);
    assert_eq!(referral["team"], "leeds");
    let answers = &referral["answers"];
    assert_eq!(answers["relationship"], "self");
    assert_eq!(answers["name"], "Sam, they/them");
    assert_eq!(answers["age"], json!({"over_18": true, "years": 34}));
    assert_eq!(answers["postcode"], "LS1 4DY");
    assert_eq!(answers["safety"], "yes");
    assert_eq!(answers["contact_method"], "sms");
    assert_eq!(answers["language"], serde_json::Value::Null);
    assert_eq!(answers["access_needs"], json!(["large_print", "easy_read"]));
    assert_eq!(answers["anything_else"], "I have a guide dog");

    // Every text, both ways, one item each, oldest first.
    let (status, transcript) = app
        .get(
            &app.clinician,
            &format!("/referrals/{}/transcript", referral["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(status, 200);
    let items = transcript["items"].as_array().unwrap();
    assert_eq!(items.len(), 2 * (SELF_REFERRAL.len() + 1));
    assert_eq!(items[0]["direction"], "inbound");
    assert_eq!(items[0]["body"], "hello");
    assert!(items[0]["provider_id"].as_str().unwrap().starts_with("SM"));
    assert_eq!(items[1]["direction"], "outbound");
    assert!(items[1]["body"].as_str().unwrap().contains("999"));
    assert_eq!(items.last().unwrap()["body"], last.text());

    let (_, queue) = app.get(&app.clinician, "/referrals").await;
    assert!(
        queue["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["reference"] == reference)
    );
    app.stop().await;
}

fn regex_reference(text: &str) -> Option<String> {
    let re = regex::Regex::new(r"CRHT-[34679ACDEFHJKMNPQRTWXY]{6}").unwrap();
    re.find(text).map(|m| m.as_str().to_owned())
}

async fn a_referral_for_someone_else_asks_about_the_referrer(engine: Engine) {
    let mut app = spawn_app(engine).await;
    app.text(PHONE, "hi").await;
    app.answer_steps(
        PHONE,
        &[
            ("relationship", "someone else"),
            ("referrer_role", "4"),
            ("referrer_name", "Dr Jo Patel"),
            ("referrer_org", "Park Lane Surgery"),
            ("referrer_phone", "0113 496 0123"),
            ("consent", "not sure"),
            ("subject_phone", "07911 123499"),
            ("name", "Alex"),
            ("age", "yes"),
            ("postcode", "BD1 1AA"),
            ("safety", "yes"),
            ("situation", "hearing voices, not eating"),
            ("contact_method", "phone call"),
            ("language", "Polish"),
            ("access_needs", "8"),
            ("anything_else", "no"),
            ("confirm", "Yes please"),
        ],
    )
    .await;
    let conversation = app.conversation(PHONE).await;
    assert_eq!(conversation["status"], "completed");
    let referral = app
        .referral(conversation["referral_id"].as_str().unwrap())
        .await;
    let answers = &referral["answers"];
    assert_eq!(answers["relationship"], "someone_else");
    assert_eq!(answers["referrer_role"], "professional");
    assert_eq!(answers["referrer_name"], "Dr Jo Patel");
    assert_eq!(answers["referrer_org"], "Park Lane Surgery");
    assert_eq!(answers["referrer_phone"], "+441134960123");
    assert_eq!(answers["consent"], "not_sure");
    assert_eq!(answers["subject_phone"], "+447911123499");
    assert_eq!(answers["contact_method"], "phone_call");
    assert_eq!(answers["language"], "Polish");
    assert_eq!(answers["access_needs"], json!([]));
    assert_eq!(referral["team"], "bradford");
    app.stop().await;
}

async fn a_referral_exists_and_is_visible_from_the_first_text(engine: Engine) {
    let mut app = spawn_app(engine).await;
    app.text(PHONE, "hello").await;
    let conversation = app.conversation(PHONE).await;
    assert_eq!(conversation["step"], "relationship");
    assert_eq!(conversation["status"], "active");
    let (_, queue) = app.get(&app.clinician, "/referrals").await;
    let items = queue["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], conversation["referral_id"]);
    assert_eq!(items[0]["status"], "in_progress");
    assert_eq!(items[0]["incomplete"], true);
    assert_eq!(items[0]["team"], "triage", "unknown area: the default team");
    app.stop().await;
}

async fn help_back_restart_and_skip_work_at_any_step(engine: Engine) {
    let mut app = spawn_app(engine).await;
    app.start_referral(PHONE, &[("relationship", "2"), ("referrer_role", "1")])
        .await;

    let help = app.text(PHONE, " Help ").await;
    assert!(
        help.text().contains("999") && help.text().contains("STOP"),
        "{}",
        help.text()
    );
    assert_eq!(app.conversation(PHONE).await["step"], "referrer_name");

    let skip = app.text(PHONE, "SKIP").await;
    assert!(skip.text().contains("agree"), "{}", skip.text());
    assert_eq!(app.conversation(PHONE).await["step"], "consent");

    let refused = app.text(PHONE, "skip").await;
    assert!(
        refused.text().contains("can't be skipped"),
        "{}",
        refused.text()
    );
    assert_eq!(app.conversation(PHONE).await["step"], "consent");

    app.text(PHONE, "back").await;
    assert_eq!(app.conversation(PHONE).await["step"], "referrer_name");

    let restart = app.text(PHONE, "RESTART").await;
    assert!(restart.text().contains("999"));
    let conversation = app.conversation(PHONE).await;
    assert_eq!(conversation["step"], "relationship");
    let referral = app
        .referral(conversation["referral_id"].as_str().unwrap())
        .await;
    // The questions start again; every earlier answer stays on the referral, marked as
    // superseded (and the transcript keeps the texts).
    let answers = referral["answers"].as_object().unwrap();
    assert_eq!(answers.keys().collect::<Vec<_>>(), ["superseded"]);
    let superseded = answers["superseded"].as_array().unwrap();
    assert!(
        superseded
            .iter()
            .any(|s| s["step"] == "relationship" && s["value"] == "someone_else"),
        "{superseded:?}"
    );
    assert!(
        superseded
            .iter()
            .any(|s| s["step"] == "referrer_role" && s["value"] == "family")
    );
    app.stop().await;
}

async fn stop_opts_out_once_keeps_the_referral_and_start_resumes(engine: Engine) {
    let mut app = spawn_app(engine).await;
    app.start_referral(PHONE, &[("relationship", "1"), ("name", "Sam")])
        .await;
    let stop = app.text(PHONE, "STOP").await;
    assert_eq!(stop.texts.len(), 1);
    assert!(stop.text().contains("START"));
    let conversation = app.conversation(PHONE).await;
    assert_eq!(conversation["status"], "stopped");
    let referral = app
        .referral(conversation["referral_id"].as_str().unwrap())
        .await;
    assert_eq!(referral["status"], "stopped");
    assert_eq!(
        referral["answers"]["name"], "Sam",
        "the partial referral is kept for staff"
    );

    let again = app.text(PHONE, "stop").await;
    assert!(
        again.texts.is_empty(),
        "confirmed once only: {:?}",
        again.texts
    );
    let quiet = app.text(PHONE, "34").await;
    assert_eq!(quiet.status, 200);
    assert!(quiet.texts.is_empty(), "no texts to an opted-out number");

    let start = app.text(PHONE, "START").await;
    assert!(start.text().contains("18 or over"), "{}", start.text());
    let conversation = app.conversation(PHONE).await;
    assert_eq!(conversation["status"], "active");
    assert_eq!(conversation["step"], "age");
    let referral = app
        .referral(conversation["referral_id"].as_str().unwrap())
        .await;
    assert_eq!(referral["status"], "in_progress");

    // The texts sent while opted out are in the transcript for staff.
    let transcript = app.transcript(referral["id"].as_str().unwrap()).await;
    assert!(
        transcript["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["body"] == "34")
    );
    app.stop().await;
}

async fn every_opt_out_word_stops_texts(engine: Engine) {
    let mut app = spawn_app(engine).await;
    for (i, word) in [
        "STOP",
        "stopall",
        "Unsubscribe",
        "CANCEL",
        "end",
        "QUIT",
        "revoke",
        "OptOut",
    ]
    .iter()
    .enumerate()
    {
        let phone = format!("+4479111234{:02}", 10 + i);
        app.text(&phone, "hello").await;
        let reply = app.text(&phone, word).await;
        assert!(
            reply.text().contains("not get any more texts"),
            "{word}: {}",
            reply.text()
        );
        assert_eq!(
            app.conversation(&phone).await["status"],
            "stopped",
            "{word}"
        );
        let unstop = app.text(&phone, "UNSTOP").await;
        assert!(unstop.text().contains("texts from us again"), "{word}");
    }
    app.stop().await;
}

async fn referrals_are_routed_to_the_team_for_their_area(engine: Engine) {
    let mut app = spawn_app(engine).await;
    for (i, (place, team)) in [
        ("LS1 4DY", "leeds"),
        ("ls29 8aa", "bradford"),
        ("WF1 2AB", "wakefield"),
        ("Hebden Bridge", "calderdale-kirklees"),
        ("Keighley", "bradford"),
        ("SW1A 1AA", "triage"),
        ("Atlantis", "triage"),
    ]
    .iter()
    .enumerate()
    {
        let phone = format!("+4479112233{:02}", 10 + i);
        app.start_referral(
            &phone,
            &[
                ("relationship", "1"),
                ("name", "Sam"),
                ("age", "40"),
                ("postcode", place),
            ],
        )
        .await;
        let conversation = app.conversation(&phone).await;
        let referral = app
            .referral(conversation["referral_id"].as_str().unwrap())
            .await;
        assert_eq!(referral["team"], *team, "{place}");
    }
    app.stop().await;
}

async fn an_idle_conversation_is_abandoned_into_the_queue_and_resumes_when_texted(engine: Engine) {
    let mut app = spawn_app_with(engine, |_| {}, true).await;
    app.start_referral(PHONE, &[("relationship", "1"), ("name", "Sam")])
        .await;

    app.advance(TimeDelta::minutes(29));
    app.app.sweep().await.unwrap();
    assert_eq!(
        app.conversation(PHONE).await["status"],
        "active",
        "not yet 30 minutes"
    );

    app.advance(TimeDelta::minutes(2));
    app.app.sweep().await.unwrap();
    let conversation = app.conversation(PHONE).await;
    assert_eq!(conversation["status"], "abandoned");
    let (_, queue) = app.get(&app.clinician, "/referrals?status=abandoned").await;
    let items = queue["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["incomplete"], true);
    assert_eq!(items[0]["answers"]["name"], "Sam");

    let resumed = app.text(PHONE, "34").await;
    assert!(resumed.text().contains("postcode"), "{}", resumed.text());
    let conversation = app.conversation(PHONE).await;
    assert_eq!(conversation["status"], "active");
    assert_eq!(conversation["step"], "postcode");
    let referral = app
        .referral(conversation["referral_id"].as_str().unwrap())
        .await;
    assert_eq!(referral["status"], "in_progress");
    app.stop().await;
}

async fn texts_after_submitting_are_kept_and_restart_begins_a_new_referral(engine: Engine) {
    let mut app = spawn_app(engine).await;
    app.start_referral(PHONE, SELF_REFERRAL).await;
    let first = app.conversation(PHONE).await["referral_id"].clone();

    let thanks = app.text(PHONE, "thank you").await;
    assert!(thanks.text().contains("RESTART") && thanks.text().contains("999"));
    let restart = app.text(PHONE, "restart").await;
    assert!(restart.text().contains("999"));
    let conversation = app.conversation(PHONE).await;
    assert_ne!(conversation["referral_id"], first, "a new referral");
    assert_eq!(conversation["status"], "active");
    assert_eq!(conversation["step"], "relationship");
    assert_eq!(
        app.referral(first.as_str().unwrap()).await["status"],
        "submitted"
    );

    let transcript = app.transcript(first.as_str().unwrap()).await;
    assert!(
        transcript["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["body"] == "thank you")
    );
    app.stop().await;
}

async fn answers_that_are_not_understood_are_asked_again(engine: Engine) {
    let mut app = spawn_app(engine).await;
    app.text(PHONE, "hello").await;
    let reply = app.text(PHONE, "purple").await;
    assert!(reply.text().contains("Sorry"), "{}", reply.text());
    assert_eq!(app.conversation(PHONE).await["step"], "relationship");
    app.answer_steps(
        PHONE,
        &[("relationship", "1"), ("name", "Sam"), ("age", "40")],
    )
    .await;
    let reply = app.text(PHONE, "LS1 4D").await;
    assert!(
        reply.text().contains("postcode doesn't look right"),
        "{}",
        reply.text()
    );
    assert_eq!(app.conversation(PHONE).await["step"], "postcode");
    app.stop().await;
}
