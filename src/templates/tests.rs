//! Tests of the message templates: every bundled template renders strictly, fits its channel
//! and carries no clinical detail by text.

use super::*;
use crate::channels::sms::{SmsEncoding, sms_size};
use serde_json::{Value, json};

const NAME: &str = "Alexandra Charlottes"; // 20 characters, a long preferred name
const SITE: &str = "St James's University Hospital"; // 30 characters
const WHEN: &str = "Wednesday 30 September at 10:00"; // the longest day and month
const PHONE: &str = "0800 129 9999";
/// `CRHT_FEEDBACK_URL` at its longest (`config::FEEDBACK_URL_MAX` characters).
const FEEDBACK_URL: &str =
    "https://www.leedsandyorkpft.nhs.uk/contact-us/compliments-complaints/feedback-22";

/// Everything any template may use, with long-ish realistic values.
fn sample(first_of_assessment: bool) -> Value {
    json!({
        "preferred_name": NAME,
        "when": WHEN,
        "place": format!("at {SITE}"),
        "first_of_assessment": first_of_assessment,
        "team_phone": PHONE,
        "text": "Your next visit will be from two of the team. Please call us if you would rather meet at Becklin Centre.",
        "staff_name": "Priya Okonkwo-Smith",
        "kind": "home visit",
        // A patient's safety plan (`safety_plan`): a short one; long ones are split into
        // numbered texts by the intake, tested there.
        // Every section is there, as the plan's serialisation has it; most are empty.
        "plan": {
            "warning_signs": ["Not sleeping"],
            "things_i_can_do": [],
            "people_and_places": [],
            "people_i_can_ask": [],
            "professionals_and_services": [],
            "making_surroundings_safer": [],
            "reasons_for_living": ["My dog, Bess"],
        },
        // The Trust's feedback page (`CRHT_FEEDBACK_URL`), as long as the setting allows.
        "feedback_url": FEEDBACK_URL,
    })
}

/// Only the variables an SMS may carry: no clinical detail beyond time and place.
const SMS_ALLOWED: &[&str] = &[
    "preferred_name",
    "when",
    "place",
    "first_of_assessment",
    "team_phone",
    "text",
    // The patient's own safety plan, sent only to the number on their own record (H-31).
    "plan",
    // The Trust's public feedback page (a setting, the same for everyone).
    "feedback_url",
];

fn sms(name: &str, easy_read: bool, vars: &Value) -> String {
    Templates::bundled()
        .render(name, Channel::Sms, None, easy_read, vars)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .text
}

#[test]
fn the_bundled_templates_load_and_every_message_has_every_channel() {
    let templates = Templates::bundled();
    let names = templates.names();
    for required in [
        "reminder",
        "cancellation",
        "appointment_moved",
        "confirmed_reply",
        "cancelled_reply",
        "received_reply",
        "update",
        "urgent",
        "general_letter",
        "feedback_request",
        "feedback_thanks",
        "feedback_reask",
    ] {
        assert!(names.iter().any(|n| n == required), "{required} is missing");
    }
    for name in &names {
        assert!(templates.has(name), "{name} lacks a channel");
        for channel in [Channel::Sms, Channel::Letter] {
            assert!(
                templates.exists(ENGLISH, channel, name, true),
                "{name} ({}) lacks an easy-read variant",
                channel.as_str()
            );
        }
    }
    assert!(!templates.has("no_such_message"));
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
}

#[test]
fn every_template_renders_in_strict_mode_with_and_without_optional_parts() {
    let templates = Templates::bundled();
    for name in templates.names() {
        for channel in CHANNELS {
            for easy_read in [false, true] {
                for first in [true, false] {
                    let mut vars = sample(first);
                    let rendered = templates
                        .render(&name, channel, None, easy_read, &vars)
                        .unwrap_or_else(|e| panic!("{name} {channel:?}: {e}"));
                    let text = &rendered.text;
                    assert!(!text.contains("{{") && !text.contains("{%"), "{text}");
                    assert!(!text.contains("\n\n\n"), "{name}: {text}");
                    assert_eq!(text.trim(), text);
                    assert!(text.contains(NAME), "{name} {channel:?} greets nobody");
                    assert!(text.contains("999"), "{name} {channel:?}: {text}");
                    assert_eq!(rendered.language, "en");
                    assert_eq!(
                        rendered.easy_read,
                        easy_read && channel != Channel::PhoneCall
                    );

                    // Optional variables may be absent, or empty.
                    let object = vars.as_object_mut().expect("an object");
                    object.insert("staff_name".into(), Value::Null);
                    object.remove("kind");
                    let without = templates
                        .render(&name, channel, None, easy_read, &vars)
                        .unwrap_or_else(|e| panic!("{name} {channel:?} without: {e}"));
                    assert!(!without.text.contains("Priya"));
                    assert!(!without.text.contains("  "), "{}", without.text);
                }
            }
        }
    }
}

#[test]
fn optional_details_appear_in_calls_and_letters_when_given() {
    let templates = Templates::bundled();
    for channel in [Channel::PhoneCall, Channel::Letter] {
        let text = templates
            .render("reminder", channel, None, false, &sample(false))
            .expect("renders")
            .text;
        assert!(text.contains("Priya Okonkwo-Smith"), "{text}");
        assert!(text.contains("your home visit on") || text.contains("your home visit with"));
    }
    let mut vars = sample(false);
    vars["kind"] = json!("home_visit");
    let text = templates
        .render("reminder", Channel::Letter, None, false, &vars)
        .expect("renders")
        .text;
    assert!(text.contains("home visit"), "{text}");
}

#[test]
fn a_missing_variable_is_an_error_not_a_blank() {
    let templates = Templates::bundled();
    for name in templates.names() {
        for channel in CHANNELS {
            for easy_read in [false, true] {
                let mut vars = sample(false);
                vars.as_object_mut()
                    .expect("an object")
                    .remove("preferred_name");
                let result = templates.render(&name, channel, None, easy_read, &vars);
                assert!(
                    matches!(result, Err(TemplateError::Render { .. })),
                    "{name} {channel:?} rendered without a name: {result:?}"
                );
            }
        }
    }
    let mut vars = sample(true);
    vars.as_object_mut()
        .expect("an object")
        .remove("first_of_assessment");
    assert!(
        templates
            .render("reminder", Channel::Sms, None, false, &vars)
            .is_err()
    );
}

#[test]
fn render_errors_carry_no_patient_data() {
    let mut vars = sample(false);
    vars.as_object_mut().expect("an object").remove("when");
    let err = Templates::bundled()
        .render("reminder", Channel::Sms, None, false, &vars)
        .expect_err("`when` is missing");
    for shown in [format!("{err}"), format!("{err:?}")] {
        assert!(shown.contains("reminder"), "{shown}");
        assert!(!shown.contains(NAME) && !shown.contains(PHONE), "{shown}");
    }
}

#[test]
fn unknown_names_and_channels_are_errors() {
    let templates = Templates::bundled();
    assert!(matches!(
        templates.render("surprise", Channel::Sms, None, false, &sample(false)),
        Err(TemplateError::UnknownTemplate { name }) if name == "surprise"
    ));
    assert!(matches!(
        templates.variables("surprise", Channel::Letter),
        Err(TemplateError::UnknownTemplate { .. })
    ));
    let partial = Templates::from_files(vec![(
        "en/sms/only_text.j2".into(),
        Some("Hi {{ preferred_name }}"),
    )])
    .expect("loads");
    assert!(!partial.has("only_text"));
    assert!(matches!(
        partial.render("only_text", Channel::Letter, None, false, &sample(false)),
        Err(TemplateError::Missing {
            channel: Channel::Letter,
            ..
        })
    ));
}

#[test]
fn misplaced_broken_and_blank_templates_are_refused() {
    let load =
        |path: &str, source: &str| Templates::from_files(vec![(path.to_owned(), Some(source))]);
    for path in [
        "en/reminder.j2",
        "en/texts/reminder.j2",
        "en/sms/Reminder.j2",
        "en/sms/extra/reminder.j2",
        "en/sms/reminder.easy_read.j2",
    ] {
        assert!(
            matches!(load(path, "hi"), Err(TemplateError::Misplaced { .. })),
            "{path}"
        );
    }
    assert!(matches!(
        load("en/sms/reminder.j2", "{% if %}"),
        Err(TemplateError::Load { .. })
    ));
    assert!(load("en/conversation.toml", "not a template {{").is_ok());
    let blank = load("en/sms/quiet.j2", "{% if false %}x{% endif %}\n  \n").expect("loads");
    assert!(matches!(
        blank.render("quiet", Channel::Sms, None, false, &json!({})),
        Err(TemplateError::Blank { .. })
    ));
}

#[test]
fn sms_templates_fit_in_two_segments_with_long_realistic_data() {
    let templates = Templates::bundled();
    for name in templates.names() {
        for easy_read in [false, true] {
            for first in [true, false] {
                let text = sms(&name, easy_read, &sample(first));
                let size = sms_size(&text);
                assert_eq!(size.encoding, SmsEncoding::Gsm7, "{name}: {text}");
                assert!(
                    size.segments <= 2,
                    "{name} (easy read {easy_read}, first {first}) is {size:?}:\n{text}"
                );
            }
        }
    }
    // Staff's own words may make an update longer; the reminder never is.
    let mut long = sample(true);
    long["text"] = json!("Please remember to bring your list. ".repeat(9));
    assert!(sms_size(&sms("update", false, &long)).segments > 2);
    assert!(sms_size(&sms("reminder", false, &long)).segments <= 2);
}

#[test]
fn the_feedback_request_asks_for_1_to_5_and_links_the_feedback_page_only_when_set() {
    assert_eq!(
        FEEDBACK_URL.chars().count(),
        crate::config::FEEDBACK_URL_MAX
    );
    for easy_read in [false, true] {
        let with = sms("feedback_request", easy_read, &sample(false));
        assert!(with.contains("number from 1 to 5"), "{with}");
        assert!(with.contains(FEEDBACK_URL), "{with}");
        assert!(sms_size(&with).segments <= 2, "{with}");
        let mut vars = sample(false);
        vars.as_object_mut().expect("object").remove("feedback_url");
        let without = sms("feedback_request", easy_read, &vars);
        assert!(
            !without.contains("http") && !without.contains("tell us here"),
            "{without}"
        );
        vars["feedback_url"] = Value::Null;
        assert_eq!(sms("feedback_request", easy_read, &vars), without);
        for channel in [Channel::Letter, Channel::PhoneCall] {
            let text = Templates::bundled()
                .render("feedback_request", channel, None, easy_read, &sample(false))
                .expect("renders")
                .text;
            assert!(
                text.contains("1 to 5") && text.contains(FEEDBACK_URL),
                "{text}"
            );
        }
        let reask = sms("feedback_reask", easy_read, &sample(false));
        assert!(reask.contains("number from 1 to 5"), "{reask}");
    }
}

#[test]
fn the_reminder_size_test_would_catch_a_three_segment_reminder() {
    let mut vars = sample(true);
    vars["place"] = json!(format!("at {SITE}, {SITE}, {SITE}"));
    assert_eq!(sms_size(&sms("reminder", false, &vars)).segments, 3);
}

#[test]
fn sms_templates_use_only_non_clinical_variables() {
    let templates = Templates::bundled();
    for name in templates.names() {
        let variables = templates
            .variables(&name, Channel::Sms)
            .expect("has an SMS version");
        for variable in &variables {
            assert!(
                SMS_ALLOWED.contains(&variable.as_str()),
                "SMS `{name}` uses `{variable}`"
            );
            // Free text is staff's own words, written for this message: an update, a
            // letter's words sent by text, or what staff add to an urgent "please call us".
            assert!(
                variable != "text"
                    || ["update", "general_letter", "urgent"].contains(&name.as_str()),
                "SMS `{name}` carries free text"
            );
        }
    }
    let letter = templates
        .variables("reminder", Channel::Letter)
        .expect("has a letter");
    assert!(letter.contains("staff_name") && letter.contains("kind"));
}

#[test]
fn no_sms_asks_for_a_provider_opt_out_word() {
    let templates = Templates::bundled();
    let asks = regex::Regex::new(
        r#"(?i)\b(reply|text|send|say)\b\W+(with\s+|the\s+word\s+)?["'“‘]?(stop|stopall|unsubscribe|cancel|end|quit|revoke|optout)\b"#,
    )
    .expect("valid regex");
    let shouted =
        regex::Regex::new(r"\b(STOP|STOPALL|UNSUBSCRIBE|CANCEL|END|QUIT|REVOKE|OPTOUT)\b")
            .expect("valid regex");
    assert!(asks.is_match("Reply CANCEL to cancel") && asks.is_match("text stop"));
    for name in templates.names() {
        for easy_read in [false, true] {
            for first in [true, false] {
                let text = sms(&name, easy_read, &sample(first));
                assert!(!asks.is_match(&text), "{name}: {text}");
                assert!(!shouted.is_match(&text), "{name}: {text}");
            }
        }
    }
    for easy_read in [false, true] {
        for first in [true, false] {
            let text = sms("reminder", easy_read, &sample(first));
            assert!(text.contains("Reply YES"), "{text}");
            assert!(text.contains(" C to cancel"), "{text}");
        }
    }
}

#[test]
fn safety_texts_mention_999_and_the_first_assessment_says_what_to_have_ready() {
    for easy_read in [false, true] {
        for name in ["reminder", "received_reply", "urgent"] {
            assert!(
                sms(name, easy_read, &sample(false)).contains("999"),
                "{name}"
            );
        }
        let first = sms("reminder", easy_read, &sample(true));
        assert!(
            first.contains("medicines") && first.contains("how often"),
            "{first}"
        );
        assert!(first.contains("hospital visits") && first.contains("worries"));
        let later = sms("reminder", easy_read, &sample(false));
        assert!(!later.contains("medicine"), "{later}");
        assert!(later.contains(PHONE), "{later}");
    }
    for channel in [Channel::PhoneCall, Channel::Letter] {
        let text = Templates::bundled()
            .render("reminder", channel, None, false, &sample(true))
            .expect("renders")
            .text;
        assert!(
            text.contains("medicines") && text.contains("how often"),
            "{text}"
        );
    }
}

#[test]
fn another_language_falls_back_to_english_and_says_so() {
    let templates = Templates::bundled();
    let render = |language| {
        templates
            .render("reminder", Channel::Sms, language, false, &sample(false))
            .expect("renders")
    };
    for language in [Some("Polish"), Some("pl"), Some("Klingon")] {
        let rendered = render(language);
        assert_eq!(rendered.language, "en");
        assert!(rendered.fell_back_to_english, "{language:?}");
    }
    for language in [Some("English"), Some("en"), Some(" en-GB "), Some(""), None] {
        let rendered = render(language);
        assert_eq!(rendered.language, "en");
        assert!(!rendered.fell_back_to_english, "{language:?}");
    }
}

#[test]
fn a_language_with_its_own_templates_is_used_and_easy_read_falls_back_to_plain() {
    let templates = Templates::from_files(vec![
        ("en/sms/hello.j2".into(), Some("Hello {{ preferred_name }}")),
        (
            "en/sms/hello.easy_read.j2".into(),
            Some("Hi {{ preferred_name }}"),
        ),
        (
            "en/letters/hello.j2".into(),
            Some("Dear {{ preferred_name }}"),
        ),
        (
            "pl/sms/hello.j2".into(),
            Some("Dzień dobry {{ preferred_name }}"),
        ),
    ])
    .expect("loads");
    let vars = json!({ "preferred_name": "Ola" });
    let polish = templates
        .render("hello", Channel::Sms, Some("polski"), true, &vars)
        .expect("renders");
    assert_eq!(
        polish,
        Rendered {
            text: "Dzień dobry Ola".into(),
            language: "pl".into(),
            fell_back_to_english: false,
            easy_read: false,
        }
    );
    let letter = templates
        .render("hello", Channel::Letter, Some("Polish"), true, &vars)
        .expect("renders");
    assert_eq!(
        (letter.language.as_str(), letter.fell_back_to_english),
        ("en", true)
    );
    let easy = templates
        .render("hello", Channel::Sms, Some("English"), true, &vars)
        .expect("renders");
    assert_eq!((easy.text.as_str(), easy.easy_read), ("Hi Ola", true));
}

#[test]
fn whitespace_is_tidied() {
    assert_eq!(
        tidy("\n\n  Hi  \n\n\n\nthere \n\nyou\nall\n\n"),
        "Hi\n\nthere\n\nyou\nall"
    );
}
