//! Exhaustive tests of the referral conversation, plus a property test over random texts.

use std::collections::BTreeSet;

use proptest::prelude::*;
use serde_json::json;

use super::*;

fn wording() -> &'static Wording {
    static WORDING: std::sync::OnceLock<Wording> = std::sync::OnceLock::new();
    WORDING.get_or_init(Wording::english)
}

fn ctx() -> Context<'static> {
    Context {
        today: NaiveDate::from_ymd_opt(2026, 11, 23).expect("valid date"),
        reference: "CRHT-7K3M9Q",
        wording: wording(),
        at_risk: false,
        foreign_language: None,
        response_target: None,
    }
}

/// A text in which risk screening found signals.
fn at_risk() -> Context<'static> {
    Context {
        at_risk: true,
        ..ctx()
    }
}

/// A text recognised as written in `language`.
fn written_in(language: &'static str) -> Context<'static> {
    Context {
        foreign_language: Some(language),
        ..ctx()
    }
}

fn reply(turn: &Turn) -> String {
    turn.replies.join("\n\n")
}

/// Starts a conversation and sends each text in turn, returning the last turn.
fn run(texts: &[&str]) -> (Conversation, Turn) {
    let (mut c, mut turn) = Conversation::begin("hello", &ctx());
    for text in texts {
        turn = c.step(text, &ctx());
    }
    (c, turn)
}

const SELF_PATH: &[&str] = &[
    "1",
    "Sam, they/them",
    "34",
    "ls14dy",
    "1",
    "not sleeping, very anxious",
    "2",
    "no",
    "2 5",
    "I have a guide dog",
];

const OTHER_PATH: &[&str] = &[
    "2",
    "4",
    "Dr Jo Patel",
    "Park Lane Surgery",
    "SKIP",
    "1",
    "07911 123456",
    "Alex",
    "yes",
    "Leeds",
    "1",
    "hearing voices",
    "1",
    "Polish",
    "8",
    "no",
];

#[test]
fn the_first_reply_tells_the_person_to_call_999_and_asks_the_first_question() {
    let (c, turn) = Conversation::begin("hello", &ctx());
    let text = reply(&turn);
    assert!(text.contains("999"), "{text}");
    assert!(text.contains("yourself or someone else"), "{text}");
    assert_eq!(c.step, Step::Relationship);
    assert_eq!(c.status, Status::Active);
}

#[test]
fn a_self_referral_walks_every_step_in_order() {
    let (mut c, _) = Conversation::begin("hi", &ctx());
    let mut seen = vec![c.step];
    for text in SELF_PATH {
        c.step(text, &ctx());
        seen.push(c.step);
    }
    assert_eq!(
        seen,
        vec![
            Step::Relationship,
            Step::Name,
            Step::Age,
            Step::Postcode,
            Step::Safety,
            Step::Situation,
            Step::ContactMethod,
            Step::Language,
            Step::AccessNeeds,
            Step::AnythingElse,
            Step::Confirm,
        ]
    );
}

#[test]
fn a_referral_for_someone_else_asks_about_the_referrer_too() {
    let (mut c, _) = Conversation::begin("hi", &ctx());
    let mut seen = vec![c.step];
    for text in OTHER_PATH {
        c.step(text, &ctx());
        seen.push(c.step);
    }
    assert_eq!(
        seen,
        vec![
            Step::Relationship,
            Step::ReferrerRole,
            Step::ReferrerName,
            Step::ReferrerOrg,
            Step::ReferrerPhone,
            Step::Consent,
            Step::SubjectPhone,
            Step::Name,
            Step::Age,
            Step::Postcode,
            Step::Safety,
            Step::Situation,
            Step::ContactMethod,
            Step::Language,
            Step::AccessNeeds,
            Step::AnythingElse,
            Step::Confirm,
        ]
    );
    let answers = serde_json::Value::Object(c.answers.to_json());
    assert_eq!(answers["relationship"], "someone_else");
    assert_eq!(answers["referrer_role"], "professional");
    assert_eq!(answers["referrer_name"], "Dr Jo Patel");
    assert_eq!(answers["consent"], "yes");
    assert_eq!(answers["subject_phone"], "+447911123456");
    assert_eq!(answers["postcode"], "Leeds");
    assert_eq!(answers["contact_method"], "phone_call");
    assert_eq!(answers["language"], "Polish");
    assert_eq!(answers["access_needs"], json!([]));
    assert_eq!(answers["anything_else"], serde_json::Value::Null);
}

#[test]
fn yes_at_the_summary_submits_with_the_reference_what_to_have_ready_and_999() {
    let mut texts = SELF_PATH.to_vec();
    texts.push("Yes please");
    let (c, turn) = run(&texts);
    assert_eq!(c.status, Status::Completed);
    assert_eq!(c.outcome, Some(Outcome::Submitted));
    assert_eq!(turn.effects, vec![Effect::Submitted]);
    let text = reply(&turn);
    for needle in [
        "CRHT-7K3M9Q",
        "medicines",
        "doses",
        "hospital",
        "worries",
        "999",
    ] {
        assert!(text.contains(needle), "{needle} missing from {text}");
    }
    let answers = serde_json::Value::Object(c.answers.to_json());
    assert_eq!(answers["relationship"], "self");
    assert_eq!(answers["name"], "Sam, they/them");
    assert_eq!(answers["age"], json!({"over_18": true, "years": 34}));
    assert_eq!(answers["postcode"], "LS1 4DY");
    assert_eq!(answers["safety"], "yes");
    assert_eq!(answers["situation"], "not sleeping, very anxious");
    assert_eq!(answers["contact_method"], "sms");
    assert_eq!(answers["language"], serde_json::Value::Null);
    assert_eq!(answers["access_needs"], json!(["large_print", "easy_read"]));
    assert_eq!(answers["anything_else"], "I have a guide dog");
}

/// The closing text of a referral along `path`, sent with YES.
fn closing_text(path: &[&str], ctx: &Context<'_>) -> String {
    let (mut c, _) = Conversation::begin("hello", ctx);
    for text in path {
        c.step(text, ctx);
    }
    let turn = c.step("yes", ctx);
    assert_eq!(turn.effects, vec![Effect::Submitted], "{turn:?}");
    reply(&turn)
}

#[test]
fn the_closing_text_says_when_the_team_aims_to_be_in_touch_when_set() {
    let with_target = Context {
        response_target: Some("within 4 hours"),
        ..ctx()
    };
    let text = closing_text(SELF_PATH, &with_target);
    assert!(
        text.contains("by text message. They aim to do this within 4 hours."),
        "{text}"
    );
    assert!(!text.contains("as soon as they can"), "{text}");
    let text = closing_text(SELF_PATH, &ctx());
    assert!(
        text.contains("by text message as soon as they can."),
        "no target, no promise: {text}"
    );
}

#[test]
fn a_carer_s_closing_text_says_what_happens_next_and_offers_carer() {
    for role in ["1", "2", "3"] {
        let mut path = OTHER_PATH.to_vec();
        path[1] = role;
        let text = closing_text(&path, &ctx());
        assert!(text.contains("What happens next"), "{role}: {text}");
        assert!(text.contains("Text CARER"), "{role}: {text}");
        assert!(text.contains("999"), "{role}: {text}");
    }
    for path in [SELF_PATH, OTHER_PATH] {
        // Myself, and a professional (role 4).
        let text = closing_text(path, &ctx());
        assert!(!text.contains("CARER"), "{text}");
    }
}

#[test]
fn the_summary_shows_the_answers_before_sending() {
    let (c, turn) = run(SELF_PATH);
    assert_eq!(c.step, Step::Confirm);
    let text = reply(&turn);
    for needle in ["Sam, they/them", "LS1 4DY", "text message", "YES"] {
        assert!(text.contains(needle), "{needle} missing from {text}");
    }
}

#[test]
fn every_step_id_round_trips_and_is_the_contract_name() {
    let ids: Vec<_> = Step::ALL.iter().map(|s| s.id()).collect();
    assert_eq!(
        ids,
        [
            "relationship",
            "referrer_role",
            "referrer_name",
            "referrer_org",
            "referrer_phone",
            "ward",
            "expected_discharge",
            "consent",
            "subject_phone",
            "name",
            "age",
            "postcode",
            "safety",
            "situation",
            "contact_method",
            "language",
            "access_needs",
            "anything_else",
            "confirm"
        ]
    );
    for step in Step::ALL {
        assert_eq!(Step::from_id(step.id()), Some(step));
        assert_eq!(serde_json::to_value(step).ok(), Some(json!(step.id())));
    }
}

#[test]
fn an_answer_that_is_not_understood_is_asked_again_kindly() {
    let (c, turn) = run(&["purple"]);
    assert_eq!(c.step, Step::Relationship);
    let text = reply(&turn);
    assert!(text.contains("Sorry"), "{text}");
    assert!(text.contains("yourself or someone else"), "{text}");
}

#[test]
fn help_works_at_any_step_and_repeats_the_question() {
    let (c, turn) = run(&["1", "Sam", "help"]);
    assert_eq!(c.step, Step::Age);
    let text = reply(&turn);
    assert!(text.contains("999") && text.contains("STOP"), "{text}");
    assert!(text.contains("18 or over"), "{text}");
}

#[test]
fn every_keyword_works_at_any_step_answers_and_repeats_the_question() {
    for keyword in parse::Keyword::ALL {
        let answer = wording().render(keyword.wording_key(false), &Vars::default());
        for texts in [&["1", "Sam"][..], &OTHER_PATH[..3], &SELF_PATH[..5]] {
            let (before, _) = run(texts);
            let mut c = before.clone();
            let word = match keyword {
                parse::Keyword::Coping => "coping",
                parse::Keyword::Carer => "Carer.",
                parse::Keyword::Team => " TEAM ",
                parse::Keyword::Services => "Services",
            };
            let turn = c.step(word, &ctx());
            assert_eq!(c, before, "{word:?} changes nothing");
            assert!(turn.effects.is_empty());
            assert_eq!(turn.replies.len(), 2, "{word:?}: {turn:?}");
            assert_eq!(turn.replies[0], answer);
            assert_eq!(
                turn.replies[1],
                wording().render(c.step.ask_key(), &c.vars(&ctx())),
                "{word:?} repeats the question"
            );
        }
    }
}

#[test]
fn a_keyword_as_the_first_text_answers_and_asks_the_first_question() {
    let (c, turn) = Conversation::begin("COPING", &ctx());
    assert_eq!(c.step, Step::Relationship);
    let text = reply(&turn);
    assert!(text.starts_with("For the next few hours"), "{text}");
    assert!(
        text.contains("999") && text.contains("yourself or someone else"),
        "{text}"
    );
}

#[test]
fn keywords_are_answered_after_the_referral_is_sent_and_after_stop() {
    let mut texts = SELF_PATH.to_vec();
    texts.push("yes");
    let (mut c, _) = run(&texts);
    let turn = c.step("team", &ctx());
    assert!(reply(&turn).contains("0800 129 9999"), "{}", reply(&turn));
    assert!(
        !reply(&turn).contains("CRHT-7K3M9Q"),
        "no question, no reminder"
    );
    assert_eq!(c.status, Status::Completed);

    let (mut c, _) = run(&["1", "Sam", "STOP"]);
    let turn = c.step("services", &ctx());
    assert!(reply(&turn).contains("116 123"), "{}", reply(&turn));
    assert!(c.opted_out, "a keyword is not START");
}

#[test]
fn a_person_who_asked_for_easy_read_gets_the_easy_read_keyword_answers() {
    // SELF_PATH answers the access needs with "2 5": large print and easy read.
    let (mut c, _) = run(&SELF_PATH[..9]);
    let turn = c.step("CARER", &ctx());
    assert_eq!(
        turn.replies[0],
        wording().render("carer_easy_read", &Vars::default())
    );
    let (mut c, _) = run(&OTHER_PATH[..13]);
    let turn = c.step("CARER", &ctx());
    assert_eq!(turn.replies[0], wording().render("carer", &Vars::default()));
}

#[test]
fn no_keyword_is_an_opt_out_word() {
    for keyword in parse::Keyword::ALL {
        let word = keyword
            .wording_key(false)
            .split('_')
            .next()
            .unwrap_or_default();
        assert!(!parse::OPT_OUT_WORDS.contains(&word), "{word}");
    }
    for word in ["coping", "carer", "team", "services"] {
        assert!(!parse::OPT_OUT_WORDS.contains(&word), "{word}");
        assert!(
            matches!(parse::command(word), Some(Command::Keyword(_))),
            "{word}"
        );
    }
}

#[test]
fn back_goes_to_the_previous_question_and_a_new_answer_keeps_the_old_one() {
    let (mut c, _) = run(&["1", "Sam"]);
    assert_eq!(c.step, Step::Age);
    let turn = c.step("BACK", &ctx());
    assert_eq!(c.step, Step::Name);
    assert!(reply(&turn).contains("What name"));
    c.step("Samira", &ctx());
    assert_eq!(c.answers.name.as_deref(), Some("Samira"));
    assert_eq!(c.step, Step::Age);
    assert!(
        c.superseded
            .iter()
            .any(|s| s.step == Step::Name && s.value == json!("Sam"))
    );
}

#[test]
fn back_at_the_first_question_says_so() {
    let (c, turn) = run(&["back"]);
    assert_eq!(c.step, Step::Relationship);
    assert!(reply(&turn).contains("first question"));
}

#[test]
fn edit_at_the_summary_goes_back() {
    let mut texts = SELF_PATH.to_vec();
    texts.push("edit");
    let (c, _) = run(&texts);
    assert_eq!(c.step, Step::AnythingElse);
    assert_eq!(c.status, Status::Active);
}

#[test]
fn restart_starts_again_with_999_and_keeps_what_was_said() {
    let (c, turn) = run(&["1", "Sam", "34", "RESTART"]);
    assert_eq!(c.step, Step::Relationship);
    assert!(c.answers.name.is_none());
    assert!(reply(&turn).contains("999"));
    let kept: BTreeSet<_> = c.superseded.iter().map(|s| s.step).collect();
    assert!(kept.contains(&Step::Name) && kept.contains(&Step::Age));
}

#[test]
fn skip_works_only_on_optional_questions() {
    let (c, turn) = run(&["2", "1", "skip"]);
    assert_eq!(c.step, Step::Consent, "referrer_name is optional");
    assert!(reply(&turn).contains("agree"));
    let (c, turn) = run(&["1", "skip"]);
    assert_eq!(c.step, Step::Name, "name is required");
    assert!(reply(&turn).contains("can't be skipped"));
}

#[test]
fn subject_phone_accepts_numbers_and_skip_and_asks_again_when_wrong() {
    let (c, turn) = run(&["2", "1", "Jo", "1", "12345"]);
    assert_eq!(c.step, Step::SubjectPhone);
    assert!(reply(&turn).contains("doesn't look right"));
    let (c, _) = run(&["2", "1", "Jo", "1", "SKIP"]);
    assert_eq!(c.step, Step::Name);
    assert_eq!(c.answers.subject_phone, Some(Optional::Skipped));
    let (c, _) = run(&["2", "1", "Jo", "1", "+44 7911 123456"]);
    assert_eq!(
        c.answers
            .subject_phone
            .as_ref()
            .and_then(Optional::given)
            .map(PhoneNumber::e164),
        Some("+447911123456")
    );
}

#[test]
fn postcodes_are_normalised_towns_accepted_and_bad_postcodes_questioned() {
    let (c, _) = run(&["1", "Sam", "34", " ls1  4dy "]);
    assert_eq!(
        c.answers.postcode,
        Postcode::parse("LS1 4DY").ok().map(Place::Postcode)
    );
    let (c, _) = run(&["1", "Sam", "34", "Wakefield"]);
    assert_eq!(c.answers.postcode, Some(Place::Town("Wakefield".into())));
    let (c, turn) = run(&["1", "Sam", "34", "LS1 4D"]);
    assert_eq!(c.step, Step::Postcode);
    assert!(reply(&turn).contains("postcode doesn't look right"));
}

#[test]
fn not_safe_right_now_is_urgent_and_the_reply_carries_999() {
    for (answer, reason) in [
        ("2", UrgentReason::NotSafeNow),
        ("no", UrgentReason::NotSafeNow),
        ("3", UrgentReason::UnsureIfSafeNow),
        ("not sure", UrgentReason::UnsureIfSafeNow),
    ] {
        let (c, turn) = run(&["1", "Sam", "34", "LS1 4DY", answer]);
        assert_eq!(turn.effects, vec![Effect::Urgent(reason)], "{answer}");
        assert!(reply(&turn).contains("999"), "{answer}");
        assert_eq!(c.step, Step::Situation, "the conversation goes on");
    }
    let (_, turn) = run(&["1", "Sam", "34", "LS1 4DY", "yes"]);
    assert!(turn.effects.is_empty());
}

#[test]
fn under_18s_are_signposted_with_999_and_recorded() {
    for age in ["2", "16", "no", "01/01/2015"] {
        let (c, turn) = run(&["1", "Sam", age]);
        assert_eq!(c.status, Status::Completed, "{age}");
        assert_eq!(c.outcome, Some(Outcome::Signposted));
        assert_eq!(turn.effects, vec![Effect::Signposted]);
        let text = reply(&turn);
        assert!(text.contains("999") && text.contains("111") && text.contains("Childline"));
    }
}

#[test]
fn back_after_signposting_reopens_the_age_question() {
    let (mut c, _) = run(&["1", "Sam", "16"]);
    let turn = c.step("back", &ctx());
    assert_eq!(c.status, Status::Active);
    assert_eq!(c.step, Step::Age);
    assert!(reply(&turn).contains("18 or over"));
    c.step("26", &ctx());
    assert_eq!(c.step, Step::Postcode);
}

#[test]
fn stop_opts_out_once_keeps_the_answers_and_start_resumes() {
    let (mut c, turn) = run(&["1", "Sam", "STOP"]);
    assert_eq!(c.status, Status::Stopped);
    assert!(c.opted_out);
    assert_eq!(turn.effects, vec![Effect::OptedOut]);
    assert!(reply(&turn).contains("999"));
    assert_eq!(c.answers.name.as_deref(), Some("Sam"));

    let again = c.step("stop", &ctx());
    assert!(again.replies.is_empty(), "confirmed once only");
    let quiet = c.step("34", &ctx());
    assert!(quiet.replies.is_empty());
    assert_eq!(c.step, Step::Age, "nothing moves while opted out");

    let turn = c.step("START", &ctx());
    assert_eq!(turn.effects, vec![Effect::OptedIn]);
    assert_eq!(c.status, Status::Active);
    assert!(reply(&turn).contains("18 or over"));
}

#[test]
fn every_opt_out_word_opts_out() {
    for word in [
        "STOP",
        "STOPALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "REVOKE",
        "OPTOUT",
    ] {
        let (c, turn) = run(&["1", word]);
        assert!(c.opted_out, "{word}");
        assert_eq!(turn.effects, vec![Effect::OptedOut], "{word}");
    }
}

#[test]
fn unstop_opts_back_in() {
    let (mut c, _) = run(&["STOP"]);
    let turn = c.step("unstop", &ctx());
    assert!(!c.opted_out);
    assert_eq!(turn.effects, vec![Effect::OptedIn]);
}

#[test]
fn stop_as_the_very_first_text_still_mentions_999() {
    let (c, turn) = Conversation::begin("STOP", &ctx());
    assert!(c.opted_out);
    assert_eq!(c.status, Status::Stopped);
    assert!(reply(&turn).contains("999"));
}

#[test]
fn an_abandoned_conversation_resumes_where_it_stopped() {
    let (mut c, _) = run(&["1", "Sam"]);
    c.status = Status::Abandoned;
    let turn = c.step("34", &ctx());
    assert_eq!(c.status, Status::Active);
    assert_eq!(c.step, Step::Postcode);
    assert!(reply(&turn).contains("postcode"));
}

#[test]
fn more_text_at_the_summary_is_added_not_lost() {
    let mut texts = SELF_PATH.to_vec();
    texts.push("also my partner will come with me");
    let (c, turn) = run(&texts);
    assert_eq!(c.step, Step::Confirm);
    assert!(reply(&turn).contains("added"));
    assert_eq!(
        c.answers
            .anything_else
            .as_ref()
            .and_then(Optional::given)
            .map(String::as_str),
        Some("I have a guide dog\nalso my partner will come with me")
    );
    let mut texts = SELF_PATH.to_vec();
    texts.push("no");
    let (c, turn) = run(&texts);
    assert_eq!(c.status, Status::Active);
    assert!(reply(&turn).contains("What would you like to change"));
}

#[test]
fn after_submitting_texts_get_a_short_reply_and_restart_begins_a_new_referral() {
    let mut texts = SELF_PATH.to_vec();
    texts.push("yes");
    let (mut c, _) = run(&texts);
    let turn = c.step("thank you", &ctx());
    assert!(reply(&turn).contains("CRHT-7K3M9Q") && reply(&turn).contains("999"));
    assert!(turn.effects.is_empty());
    let turn = c.step("restart", &ctx());
    assert_eq!(turn.effects, vec![Effect::NewReferral]);
    assert_eq!(c.status, Status::Active);
    assert_eq!(c.step, Step::Relationship);
    assert!(c.answers.name.is_none());
    assert!(reply(&turn).contains("999"));
}

#[test]
fn language_yes_asks_which_and_no_means_none() {
    let base = &SELF_PATH[..7];
    let mut texts = base.to_vec();
    texts.push("yes");
    let (c, turn) = run(&texts);
    assert_eq!(c.step, Step::Language);
    assert!(reply(&turn).contains("Which language"));
    texts.push("Urdu");
    let (c, _) = run(&texts);
    assert_eq!(c.step, Step::AccessNeeds);
    assert_eq!(c.answers.language, Some(Optional::Given("Urdu".into())));
}

#[test]
fn switching_to_myself_keeps_referrer_answers_out_of_the_sent_referral() {
    let (mut c, _) = run(&["2", "1", "Jo", "1", "skip", "Alex"]);
    for _ in 0..6 {
        c.step("back", &ctx());
    }
    assert_eq!(c.step, Step::Relationship);
    for text in SELF_PATH {
        c.step(text, &ctx());
    }
    c.step("yes", &ctx());
    assert_eq!(c.outcome, Some(Outcome::Submitted));
    assert!(c.answers.referrer_role.is_none());
    assert!(c.superseded.iter().any(|s| s.step == Step::ReferrerRole));
}

#[test]
fn state_survives_a_round_trip_through_json() {
    let mut texts = OTHER_PATH.to_vec();
    texts.push("yes");
    let (c, _) = run(&texts);
    let stored = serde_json::to_string(&c).expect("serialises");
    let back: Conversation = serde_json::from_str(&stored).expect("deserialises");
    assert_eq!(back, c);
}

const SORRY: &[&str] = &["Sorry", "didn't understand", "doesn't look right"];

fn says_sorry(turn: &Turn) -> bool {
    let text = reply(turn);
    SORRY.iter().any(|s| text.contains(s))
}

#[test]
fn a_risk_text_that_is_not_an_answer_is_asked_again_gently_without_sorry() {
    // At each kind of question: a menu, a name, the age, the postcode and "are you safe?".
    for (before, step) in [
        (&[][..], Step::Relationship),
        (&["1"][..], Step::Name),
        (&["1", "Sam"][..], Step::Age),
        (&["1", "Sam", "34"][..], Step::Postcode),
        (&["1", "Sam", "34", "LS1 4DY"][..], Step::Safety),
    ] {
        let (mut c, _) = run(before);
        let turn = c.step("cant go on anymore", &at_risk());
        assert_eq!(c.step, step);
        assert!(!says_sorry(&turn), "{step:?}: {}", reply(&turn));
        let text = reply(&turn);
        assert!(text.contains("Thank you for telling us"), "{text}");
        let question = wording().render(step.ask_key(), &c.vars(&ctx()));
        assert!(text.ends_with(&question), "{step:?}: {text}");
    }
    // Again and again: still gentle, never "Sorry".
    let (mut c, _) = run(&["1", "Sam"]);
    for _ in 0..4 {
        let turn = c.step("I can't go on", &at_risk());
        assert!(!says_sorry(&turn), "{}", reply(&turn));
        assert_eq!(
            c.status,
            Status::Active,
            "an English speaker is never handed over"
        );
    }
}

#[test]
fn a_risk_text_that_answers_the_question_is_recorded_as_usual() {
    let (mut c, _) = run(&["1", "Sam", "34", "LS1 4DY", "no"]);
    assert_eq!(c.step, Step::Situation);
    let turn = c.step("I want to end it all", &at_risk());
    assert_eq!(c.answers.situation.as_deref(), Some("I want to end it all"));
    assert_eq!(c.step, Step::ContactMethod);
    assert!(!says_sorry(&turn));
    assert!(reply(&turn).contains("How should the team get in touch"));
}

#[test]
fn an_emoji_only_distress_text_gets_a_kind_reply_and_the_question_again() {
    for tears in ["😭😭😭", "😢", " 💔 ", "😭😭!!", ":(", ":'(", "🙏🏽"] {
        for (before, step) in [
            (&[][..], Step::Relationship),
            (&["1"][..], Step::Name),
            (&["1", "Sam"][..], Step::Age),
            (&["1", "Sam", "34"][..], Step::Postcode),
            (&["1", "Sam", "34", "LS1 4DY"][..], Step::Safety),
        ] {
            let (mut c, _) = run(before);
            let turn = c.step(tears, &ctx());
            assert_eq!(c.step, step, "{tears:?}");
            assert!(!says_sorry(&turn), "{tears:?}: {}", reply(&turn));
            let text = reply(&turn);
            assert!(text.contains("You're not alone"), "{tears:?}: {text}");
            assert!(
                text.ends_with(&wording().render(step.ask_key(), &c.vars(&ctx()))),
                "{tears:?}: {text}"
            );
            assert_eq!(c.unreadable_in_a_row, 0, "tears are not a wrong answer");
        }
    }
    // The name question does not take tears as a name.
    let (c, _) = run(&["1", "😭😭😭"]);
    assert_eq!(c.answers.name, None);
}

#[test]
fn a_one_word_plea_gets_a_kind_reply_and_the_question_again() {
    for plea in [
        "please",
        "Pleeease",
        "pls",
        "plz!!",
        "help me",
        "HELP ME PLEASE",
        "help help help",
        "anyone?",
        "is anyone there?",
        "SOS",
        "I need help",
        "please 😭",
        "I'm scared",
    ] {
        for (before, step) in [
            (&["1"][..], Step::Name),
            (&["1", "Sam"][..], Step::Age),
            (&["1", "Sam", "34"][..], Step::Postcode),
            (&["1", "Sam", "34", "LS1 4DY"][..], Step::Safety),
            (
                &["1", "Sam", "34", "LS1 4DY", "1", "x", "1"][..],
                Step::Language,
            ),
        ] {
            let (mut c, _) = run(before);
            let turn = c.step(plea, &ctx());
            assert_eq!(c.step, step, "{plea:?}");
            let text = reply(&turn);
            assert!(!says_sorry(&turn), "{plea:?} at {step:?}: {text}");
            assert!(text.contains("You're not alone"), "{plea:?}: {text}");
            assert!(
                text.ends_with(&wording().render(step.ask_key(), &c.vars(&ctx()))),
                "{plea:?}: {text}"
            );
        }
    }
    // Not taken as a name or a town.
    let (c, _) = run(&["1", "please"]);
    assert_eq!(c.answers.name, None);
    let (c, _) = run(&["1", "Sam", "34", "help me"]);
    assert_eq!(c.answers.postcode, None);
}

#[test]
fn a_plea_that_answers_the_question_is_recorded_with_a_kind_word() {
    // "What is happening?" — "please help me" is the answer.
    let (mut c, _) = run(&["1", "Sam", "34", "LS1 4DY", "1"]);
    let turn = c.step("please help me", &ctx());
    assert_eq!(c.answers.situation.as_deref(), Some("please help me"));
    assert_eq!(c.step, Step::ContactMethod);
    let text = reply(&turn);
    assert!(text.contains("You're not alone") && text.contains("get in touch"));
    // "Are you safe right now?" — "I'm not ok" says no, and that is urgent.
    let (mut c, _) = run(&["1", "Sam", "34", "LS1 4DY"]);
    let turn = c.step("I'm not ok", &ctx());
    assert_eq!(c.answers.safety, Some(YesNoUnsure::No));
    assert_eq!(turn.effects, vec![Effect::Urgent(UrgentReason::NotSafeNow)]);
    assert!(reply(&turn).contains("999"));
}

#[test]
fn help_is_kind_and_repeats_the_question() {
    let (_, turn) = run(&["1", "Sam", "34", "LS1 4DY", "HELP"]);
    let text = reply(&turn);
    assert!(!says_sorry(&turn), "{text}");
    assert!(text.contains("not alone") && text.contains("999"), "{text}");
    assert!(text.contains("safe right now"), "{text}");
}

#[test]
fn a_distress_text_at_the_summary_is_met_kindly_and_not_added() {
    let (mut c, _) = run(SELF_PATH);
    let turn = c.step("😭😭", &ctx());
    assert_eq!(c.step, Step::Confirm);
    assert!(reply(&turn).contains("You're not alone"));
    assert!(reply(&turn).contains("Please check"));
    assert_eq!(
        c.answers.anything_else,
        Some(Optional::Given("I have a guide dog".into()))
    );
}

#[test]
fn resuming_after_abandonment_says_welcome_back_and_repeats_the_question() {
    for text in ["hi", "Hello?", "I'm back", "purple", "😭"] {
        let (mut c, _) = run(&["1", "Sam"]);
        c.status = Status::Abandoned;
        let turn = c.step(text, &ctx());
        assert_eq!(c.status, Status::Active);
        assert_eq!(c.step, Step::Age, "{text:?}");
        let reply = reply(&turn);
        assert!(reply.starts_with("Welcome back"), "{text:?}: {reply}");
        assert!(!says_sorry(&turn), "{text:?}: {reply}");
        assert!(reply.contains("18 or over"), "{text:?}: {reply}");
    }
    // A greeting is not taken as an answer to a free-text question either.
    let (mut c, _) = run(&["1", "Sam", "34", "LS1 4DY", "1"]);
    c.status = Status::Abandoned;
    let turn = c.step("hiya", &ctx());
    assert_eq!(c.step, Step::Situation);
    assert_eq!(c.answers.situation, None);
    assert!(reply(&turn).contains("what is happening"));
}

#[test]
fn resuming_with_an_answer_records_it_and_asks_the_next_question() {
    let (mut c, _) = run(&["1", "Sam"]);
    c.status = Status::Abandoned;
    let turn = c.step("34", &ctx());
    assert_eq!(c.step, Step::Postcode);
    let text = reply(&turn);
    assert!(text.starts_with("Welcome back"), "{text}");
    assert!(text.contains("postcode"), "{text}");
    // STOP on coming back is just STOP.
    let (mut c, _) = run(&["1", "Sam"]);
    c.status = Status::Abandoned;
    let turn = c.step("stop", &ctx());
    assert!(!reply(&turn).contains("Welcome back"));
    assert!(c.opted_out);
}

#[test]
fn two_unreadable_answers_in_another_language_hand_over_to_an_interpreter() {
    let (mut c, _) = run(&[]);
    let turn = c.step("Nie rozumiem, potrzebuję pomocy", &written_in("pl"));
    assert_eq!(
        c.status,
        Status::Active,
        "one unreadable answer is asked again"
    );
    assert_eq!(c.step, Step::Relationship);
    assert!(turn.effects.is_empty());
    // Shown on the referral at once.
    assert_eq!(
        c.referral_answers().get("language"),
        Some(&json!("Polish (detected)"))
    );

    // The second need not be recognised itself: the person has been writing Polish.
    let turn = c.step("???", &ctx());
    assert_eq!(c.status, Status::Completed);
    assert_eq!(c.outcome, Some(Outcome::InterpreterNeeded));
    assert_eq!(turn.effects, vec![Effect::InterpreterNeeded]);
    let text = reply(&turn);
    assert!(
        text.contains("interpreter") && text.contains("999"),
        "{text}"
    );
    assert!(!says_sorry(&turn), "{text}");
    assert_eq!(
        serde_json::to_value(Outcome::InterpreterNeeded).ok(),
        Some(json!("interpreter_needed"))
    );

    // Later texts are kept for staff and answered without asking again.
    let turn = c.step("halo?", &ctx());
    assert!(reply(&turn).contains("interpreter"));
    assert!(turn.effects.is_empty());
    assert_eq!(c.outcome, Some(Outcome::InterpreterNeeded));
}

#[test]
fn an_answer_in_another_script_counts_as_another_language() {
    let (mut c, _) = run(&["1", "Sam"]);
    c.step("عمري أربعة وثلاثون", &ctx());
    assert_eq!(c.status, Status::Active);
    assert_eq!(
        c.answers.language,
        Some(Optional::Given(
            "Not known (written in Arabic script)".into()
        ))
    );
    let turn = c.step("ਮੈਨੂੰ ਸਮਝ ਨਹੀਂ ਆਇਆ", &ctx());
    assert_eq!(turn.effects, vec![Effect::InterpreterNeeded]);
    assert_eq!(c.outcome, Some(Outcome::InterpreterNeeded));
}

#[test]
fn a_readable_answer_in_between_starts_the_count_again() {
    let (mut c, _) = run(&[]);
    c.step("nie wiem", &written_in("pl"));
    c.step("1", &ctx());
    assert_eq!(c.step, Step::Name);
    c.step("Ania", &ctx());
    let turn = c.step("nie wiem", &written_in("pl"));
    assert_eq!(c.status, Status::Active, "only one unreadable in a row");
    assert!(turn.effects.is_empty());
    let turn = c.step("nie", &written_in("pl"));
    assert_eq!(turn.effects, vec![Effect::InterpreterNeeded]);
}

#[test]
fn a_language_recognised_in_the_texts_is_kept_unless_the_person_says_otherwise() {
    let (mut c, _) = Conversation::begin("Dzień dobry", &written_in("pl"));
    for text in ["1", "Ania", "34", "LS1 4DY", "1", "nie mogę spać", "2"] {
        c.step(text, &ctx());
    }
    assert_eq!(c.step, Step::Language);
    assert_eq!(
        c.answers.language,
        Some(Optional::Given("Polish (detected)".into()))
    );
    // "Yes" keeps the recognised language rather than asking which.
    let mut yes = c.clone();
    yes.step("yes", &ctx());
    assert_eq!(yes.step, Step::AccessNeeds);
    assert_eq!(yes.answers.language, c.answers.language);
    // "No" is the person's word, and the recognised one is kept as superseded.
    c.step("no", &ctx());
    assert_eq!(c.answers.language, Some(Optional::Skipped));
    assert!(c.superseded.iter().any(|s| s.step == Step::Language));
    // BACK still reaches the question.
    c.step("back", &ctx());
    assert_eq!(c.step, Step::Language);
}

#[test]
fn roman_urdu_is_named_so_staff_and_the_patient_record_read_it() {
    let (c, _) = Conversation::begin("mujhe madad chahiye", &written_in("ur-Latn"));
    let language = c.answers.language.as_ref().and_then(Optional::given);
    assert_eq!(
        language.map(String::as_str),
        Some("Urdu (Roman Urdu, detected)")
    );
    assert_eq!(
        language.and_then(|l| crate::language::language_code(l)),
        Some("ur")
    );
}

#[test]
fn an_english_speaker_not_understood_is_never_handed_over() {
    let (mut c, first) = run(&["purple"]);
    let mut replies = vec![reply(&first)];
    for _ in 0..6 {
        let turn = c.step("purple", &ctx());
        assert!(turn.effects.is_empty());
        replies.push(reply(&turn));
    }
    assert_eq!(c.status, Status::Active);
    assert_eq!(c.step, Step::Relationship);
    assert_eq!(c.answers.language, None);
    // The second is more helpful than the first: how to get unstuck.
    assert!(!replies[0].contains("HELP"), "{}", replies[0]);
    assert_ne!(replies[0], replies[1]);
    assert!(replies[1].contains("still") && replies[1].contains("text HELP"));
    assert!(replies[1].contains("yourself or someone else"));
    // A question with its own hint keeps it, and adds how to get unstuck.
    let (mut c, _) = run(&["1", "Sam", "34", "LS1 4D"]);
    let turn = c.step("LS1 4D", &ctx());
    let text = reply(&turn);
    assert!(text.contains("postcode doesn't look right") && text.contains("text HELP"));
}

#[test]
fn restart_keeps_every_answer_as_superseded_in_the_referral_answers() {
    let (mut c, _) = run(&["1", "Sam", "BACK", "Samira", "34", "RESTART", "2"]);
    let answers = c.referral_answers();
    assert_eq!(answers.get("relationship"), Some(&json!("someone_else")));
    assert_eq!(
        answers.get("superseded"),
        Some(&json!([
            {"step": "name", "value": "Sam"},
            {"step": "relationship", "value": "self"},
            {"step": "name", "value": "Samira"},
            {"step": "age", "value": {"over_18": true, "years": 34}},
        ]))
    );
    // Same keys as before for the current answers.
    let mut current = answers.clone();
    current.remove("superseded");
    assert_eq!(current, c.answers.to_json());
    // No "superseded" key until something has been replaced.
    c = Conversation::new();
    c.step("1", &ctx());
    assert!(!c.referral_answers().contains_key("superseded"));
}

#[test]
fn a_state_stored_before_these_fields_still_loads() {
    let stored = json!({"step": "age", "status": "abandoned", "answers": {"name": "Sam"}});
    let c: Conversation = serde_json::from_value(stored).expect("loads");
    assert_eq!(c.unreadable_in_a_row, 0);
    assert!(!c.wrote_in_another_language);
}

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("1".to_owned()),
        Just("2".to_owned()),
        Just("3".to_owned()),
        Just("8".to_owned()),
        Just("yes".to_owned()),
        Just("no".to_owned()),
        Just("not sure".to_owned()),
        Just("BACK".to_owned()),
        Just("RESTART".to_owned()),
        Just("SKIP".to_owned()),
        Just("HELP".to_owned()),
        Just("STOP".to_owned()),
        Just("START".to_owned()),
        Just("edit".to_owned()),
        Just("34".to_owned()),
        Just("16".to_owned()),
        Just("LS1 4DY".to_owned()),
        Just("07911 123456".to_owned()),
        Just("2 5".to_owned()),
        Just("😭😭😭".to_owned()),
        Just("please".to_owned()),
        Just("help me".to_owned()),
        Just("hi".to_owned()),
        Just("I want to end it all".to_owned()),
        Just("nie wiem".to_owned()),
        Just("مجھے مدد چاہیے".to_owned()),
        Just("ਮੈਨੂੰ ਮਦਦ ਚਾਹੀਦੀ ਹੈ".to_owned()),
        any::<String>(),
        "[a-z ]{0,20}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Random texts in any order never panic, always get a reply unless the person opted
    /// out, and never lose an answer already given.
    #[test]
    fn random_texts_never_panic_always_reply_and_never_lose_an_answer(
        first in any_text(),
        texts in proptest::collection::vec(any_text(), 0..40),
    ) {
        let (mut c, turn) = Conversation::begin(&first, &ctx());
        prop_assert!(!turn.replies.is_empty());
        let mut given: Vec<(Step, serde_json::Value)> = Vec::new();
        for text in &texts {
            let was_opted_out = c.opted_out;
            let turn = c.step(text, &ctx());
            if turn.effects.contains(&Effect::NewReferral) {
                // The old answers stay with the old referral; start tracking afresh.
                given.clear();
            }
            let opted_out_quietly = was_opted_out && c.opted_out;
            prop_assert!(opted_out_quietly || !turn.replies.is_empty(), "no reply to {text:?}");
            prop_assert!(turn.replies.iter().all(|r| !r.trim().is_empty()));
            for step in Step::ALL {
                if let Some(v) = c.answers.get_json(step) && !given.contains(&(step, v.clone())) {
                    given.push((step, v));
                }
            }
        }
        for (step, value) in given {
            // Text added at the summary extends "anything else" rather than replacing it.
            let extended = |v: &serde_json::Value| match (v.as_str(), value.as_str()) {
                (Some(now), Some(before)) => step == Step::AnythingElse && now.starts_with(before),
                _ => false,
            };
            let still_there = c.answers.get_json(step).as_ref().is_some_and(|v| *v == value || extended(v))
                || c.superseded.iter().any(|s| s.step == step && (s.value == value || extended(&s.value)));
            prop_assert!(still_there, "lost {step:?} = {value}");
        }
    }
}

/// One inbound text with what the gateway knows about it: risk found, a language recognised,
/// and whether the person went quiet long enough before it for the conversation to be
/// abandoned.
fn any_inbound() -> impl Strategy<Value = (String, bool, Option<&'static str>, bool)> {
    (
        any_text(),
        any::<bool>(),
        prop_oneof![
            4 => Just(None),
            1 => Just(Some("pl")),
            1 => Just(Some("ur-Latn")),
        ],
        proptest::bool::weighted(0.1),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// With risk, other languages and breaks in the mix: no panic, every answer given is on
    /// the referral (current or superseded), a risk text is never met with "Sorry", and only
    /// a person who wrote in another language is handed over to an interpreter.
    #[test]
    fn risk_languages_and_breaks_never_panic_lose_an_answer_or_say_sorry_to_a_risk_text(
        first in any_text(),
        inbound in proptest::collection::vec(any_inbound(), 0..40),
    ) {
        let (mut c, _) = Conversation::begin(&first, &ctx());
        let mut wrote_in_another_language = parse::other_script(&first).is_some();
        let mut given: Vec<(Step, serde_json::Value)> = Vec::new();
        let track = |c: &Conversation, given: &mut Vec<(Step, serde_json::Value)>| {
            for step in Step::ALL {
                if let Some(v) = c.answers.get_json(step) && !given.contains(&(step, v.clone())) {
                    given.push((step, v));
                }
            }
        };
        track(&c, &mut given);
        for (text, at_risk, language, went_quiet) in &inbound {
            if *went_quiet && c.status == Status::Active {
                c.status = Status::Abandoned;
            }
            let ctx = Context { at_risk: *at_risk, foreign_language: *language, ..ctx() };
            wrote_in_another_language |= language.is_some() || parse::other_script(text).is_some();
            let was_opted_out = c.opted_out;
            let turn = c.step(text, &ctx);
            if turn.effects.contains(&Effect::NewReferral) {
                given.clear();
            }
            prop_assert!(was_opted_out && c.opted_out || !turn.replies.is_empty(), "no reply to {text:?}");
            if *at_risk {
                for reply in &turn.replies {
                    prop_assert!(
                        !SORRY.iter().any(|s| reply.contains(s)),
                        "risk text {text:?} at {:?} got {reply:?}", c.step
                    );
                }
            }
            if turn.effects.contains(&Effect::InterpreterNeeded) {
                prop_assert!(wrote_in_another_language, "handed over after {text:?}");
                prop_assert_eq!(c.outcome, Some(Outcome::InterpreterNeeded));
            }
            track(&c, &mut given);
        }
        let on_referral = serde_json::Value::Object(c.referral_answers());
        let superseded = on_referral["superseded"].as_array().cloned().unwrap_or_default();
        for (step, value) in given {
            // Text added at the summary extends "anything else" rather than replacing it.
            let same = |v: &serde_json::Value| {
                *v == value
                    || step == Step::AnythingElse
                        && v.as_str().zip(value.as_str()).is_some_and(|(now, before)| now.starts_with(before))
            };
            let still_there = same(&on_referral[step.id()])
                || superseded.iter().any(|s| s["step"] == step.id() && same(&s["value"]));
            prop_assert!(still_there, "lost {step:?} = {value}");
        }
    }
}

#[test]
fn ward_staff_texting_discharge_are_asked_the_ward_and_date_and_back_undoes_it() {
    let (mut c, _) = Conversation::begin("hi", &ctx());
    let turn = c.step("DISCHARGE", &ctx());
    assert_eq!(
        c.step,
        Step::ReferrerName,
        "the role is known: professional"
    );
    assert!(reply(&turn).contains("What is your name?"));
    assert!(c.answers.discharge_support());
    for text in ["Kim", "Becklin Centre", "SKIP", "Ward 4"] {
        c.step(text, &ctx());
    }
    assert_eq!(c.step, Step::ExpectedDischarge);
    let turn = c.step("whenever", &ctx());
    assert!(
        reply(&turn).contains("date doesn't look right"),
        "{}",
        reply(&turn)
    );
    c.step("3/12", &ctx());
    assert_eq!(c.step, Step::Consent);
    assert_eq!(
        c.answers.expected_discharge,
        NaiveDate::from_ymd_opt(2026, 12, 3)
    );
    assert_eq!(c.answers.referral_route(), ReferralRoute::DischargeSupport);

    // Back to the start and "myself": no longer a discharge referral.
    let (mut c, _) = Conversation::begin("hi", &ctx());
    c.step("discharge support", &ctx());
    c.step("BACK", &ctx());
    assert_eq!(c.step, Step::Relationship);
    c.step("1", &ctx());
    assert_eq!(c.step, Step::Name);
    assert_eq!(c.answers.referral_route(), ReferralRoute::Crisis);
}

#[test]
fn family_are_not_asked_where_they_work_and_6_at_the_role_is_ward_staff() {
    let (mut c, _) = Conversation::begin("hi", &ctx());
    for text in ["2", "1", "Jo"] {
        c.step(text, &ctx());
    }
    assert_eq!(c.step, Step::Consent);
    let (mut c, _) = Conversation::begin("hi", &ctx());
    for text in ["2", "6", "Kim", "SKIP", "07911 200099"] {
        c.step(text, &ctx());
    }
    assert_eq!(c.step, Step::Ward);
    assert!(c.answers.referrer_phone.is_some());
    // "6" at the first question is not a way in: it is not understood.
    let (mut c, _) = Conversation::begin("hi", &ctx());
    c.step("6", &ctx());
    assert_eq!(c.step, Step::Relationship);
}

#[test]
fn discharge_dates_read_as_near_dates() {
    let today = NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
    let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
    assert_eq!(parse::discharge_date("today", today), date(2026, 11, 23));
    assert_eq!(parse::discharge_date("Tomorrow", today), date(2026, 11, 24));
    assert_eq!(
        parse::discharge_date("3 December", today),
        date(2026, 12, 3)
    );
    assert_eq!(parse::discharge_date("5/1", today), date(2027, 1, 5));
    assert_eq!(parse::discharge_date("03/12/26", today), date(2026, 12, 3));
    assert_eq!(
        parse::discharge_date("2026-12-03", today),
        date(2026, 12, 3)
    );
    assert_eq!(parse::discharge_date("1/1/1990", today), None, "not near");
    assert_eq!(parse::discharge_date("soon", today), None);
}
