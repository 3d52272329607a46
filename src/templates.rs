//! The words of every message the team sends a patient, loaded from
//! `message-templates/<language>/<sms|calls|letters>/<name>[.easy_read].j2` so the clinical
//! team can review and change them without reading code.
//!
//! Each message name exists for every channel, so a message can always fall back to the next
//! channel in the patient's contact preferences. Rendering is strict: a missing variable is an
//! error, never a blank in a text to a patient.

use std::collections::BTreeSet;
use std::path::{Component, Path};

use include_dir::{Dir, include_dir};
use minijinja::{AutoEscape, Environment, UndefinedBehavior, syntax::SyntaxConfig};

use crate::domain::channel::Channel;
use crate::language::language_code;

/// The templates shipped with the gateway, embedded so a deployment cannot lose them.
static BUNDLED: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/message-templates");

const ENGLISH: &str = "en";
const EASY_READ_SUFFIX: &str = ".easy_read";
const CHANNELS: [Channel; 3] = [Channel::Sms, Channel::PhoneCall, Channel::Letter];

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("there is no message template called `{name}`")]
    UnknownTemplate { name: String },
    #[error("message template `{name}` has no {} version", .channel.as_str())]
    Missing { name: String, channel: Channel },
    #[error("message template `{name}` ({}) could not be rendered: {source}", .channel.as_str())]
    Render {
        name: String,
        channel: Channel,
        source: minijinja::Error,
    },
    #[error("message template `{name}` ({}) rendered to nothing", .channel.as_str())]
    Blank { name: String, channel: Channel },
    #[error("message template file `{path}` is not a valid template: {source}")]
    Load {
        path: String,
        source: minijinja::Error,
    },
    #[error("message template file `{path}` {reason}")]
    Misplaced { path: String, reason: &'static str },
}

/// One message rendered for one patient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    /// The language actually used, e.g. "en".
    pub language: String,
    /// The patient's language has no template for this message: staff are shown that an
    /// interpreter may be needed.
    pub fell_back_to_english: bool,
    /// The easy-read variant was used (asked for, and one exists).
    pub easy_read: bool,
}

/// Where one template sits in `message-templates/`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct TemplateId {
    language: String,
    channel: Channel,
    name: String,
    easy_read: bool,
}

impl TemplateId {
    /// The template's name inside the environment, which also appears in render errors.
    fn key(&self) -> String {
        format!(
            "{}/{}/{}{}",
            self.language,
            channel_dir(self.channel),
            self.name,
            if self.easy_read { EASY_READ_SUFFIX } else { "" }
        )
    }
}

/// The loaded, parsed message templates of every language.
pub struct Templates {
    env: Environment<'static>,
    index: BTreeSet<TemplateId>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("templates", &self.index.len())
            .finish_non_exhaustive()
    }
}

impl Templates {
    /// The templates shipped in message-templates/, embedded in the binary. Parses them all:
    /// build once at start and share.
    pub fn bundled() -> Self {
        let mut files = Vec::new();
        collect_files(&BUNDLED, &mut files);
        #[allow(clippy::expect_used)]
        Self::from_files(files).expect("bundled message templates are checked by tests")
    }

    /// Loads `(path relative to message-templates/, contents)` pairs; files not ending in
    /// `.j2` (such as the conversation's wording) are left alone.
    fn from_files(files: Vec<(String, Option<&str>)>) -> Result<Self, TemplateError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Plain text for texts, scripts and letters: nothing is HTML-escaped.
        env.set_auto_escape_callback(|_| AutoEscape::None);
        // Debug info would carry patients' names and messages into error output and logs.
        env.set_debug(false);
        // Block tags on their own line leave no blank line behind, so the files stay readable.
        let syntax = SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .map_err(|source| TemplateError::Load {
                path: String::new(),
                source,
            })?;
        env.set_syntax(syntax);

        let mut index = BTreeSet::new();
        for (path, contents) in files {
            let Some(stem) = path.strip_suffix(".j2") else {
                continue;
            };
            let id = parse_path(stem).ok_or_else(|| TemplateError::Misplaced {
                path: path.clone(),
                reason: "is not at <language>/<sms|calls|letters>/<name>[.easy_read].j2",
            })?;
            let source = contents.ok_or_else(|| TemplateError::Misplaced {
                path: path.clone(),
                reason: "is not UTF-8 text",
            })?;
            env.add_template_owned(id.key(), source.replace("\r\n", "\n"))
                .map_err(|source| TemplateError::Load {
                    path: path.clone(),
                    source,
                })?;
            index.insert(id);
        }
        if let Some(orphan) = index.iter().find(|id| {
            id.easy_read
                && !index.contains(&TemplateId {
                    easy_read: false,
                    ..(*id).clone()
                })
        }) {
            return Err(TemplateError::Misplaced {
                path: format!("{}.j2", orphan.key()),
                reason: "is an easy-read variant without its plain template",
            });
        }
        Ok(Self { env, index })
    }

    /// Renders `name` for `channel`. `language` is the patient's passport language as staff
    /// typed it ("Polish", "pl", "English", None); a language with no template for this
    /// message falls back to English with `fell_back_to_english = true` (staff are then shown
    /// that an interpreter may be needed). `easy_read` picks the `.easy_read` variant when one
    /// exists. Strict: a missing variable is an error, never a blank.
    pub fn render(
        &self,
        name: &str,
        channel: Channel,
        language: Option<&str>,
        easy_read: bool,
        vars: &serde_json::Value,
    ) -> Result<Rendered, TemplateError> {
        if !self.is_known(name) {
            return Err(TemplateError::UnknownTemplate {
                name: name.to_owned(),
            });
        }
        let (language, fell_back_to_english) =
            match language.map(str::trim).filter(|l| !l.is_empty()) {
                None => (ENGLISH, false),
                Some(asked) => match language_code(asked) {
                    Some(ENGLISH) => (ENGLISH, false),
                    Some(code) if self.exists(code, channel, name, false) => (code, false),
                    _ => (ENGLISH, true),
                },
            };
        if !self.exists(language, channel, name, false) {
            return Err(TemplateError::Missing {
                name: name.to_owned(),
                channel,
            });
        }
        let easy_read = easy_read && self.exists(language, channel, name, true);
        let id = TemplateId {
            language: language.to_owned(),
            channel,
            name: name.to_owned(),
            easy_read,
        };
        let render_error = |source| TemplateError::Render {
            name: name.to_owned(),
            channel,
            source,
        };
        let raw = self
            .env
            .get_template(&id.key())
            .and_then(|template| template.render(minijinja::value::Serde(vars)))
            .map_err(render_error)?;
        let text = tidy(&raw);
        if text.is_empty() {
            return Err(TemplateError::Blank {
                name: name.to_owned(),
                channel,
            });
        }
        Ok(Rendered {
            text,
            language: id.language,
            fell_back_to_english,
            easy_read,
        })
    }

    /// True when the message exists in English for all three channels, so any channel in a
    /// patient's contact preferences can carry it.
    pub fn has(&self, name: &str) -> bool {
        CHANNELS
            .iter()
            .all(|&channel| self.exists(ENGLISH, channel, name, false))
    }

    /// Message names (English, any channel), sorted.
    pub fn names(&self) -> Vec<String> {
        let names: BTreeSet<&str> = self
            .index
            .iter()
            .filter(|id| id.language == ENGLISH)
            .map(|id| id.name.as_str())
            .collect();
        names.into_iter().map(str::to_owned).collect()
    }

    /// Variables any version of the message (every language, plain and easy read) refers to,
    /// so a test can prove texts carry no clinical detail.
    pub fn variables(
        &self,
        name: &str,
        channel: Channel,
    ) -> Result<BTreeSet<String>, TemplateError> {
        let versions: Vec<&TemplateId> = self
            .index
            .iter()
            .filter(|id| id.channel == channel && id.name == name)
            .collect();
        if versions.is_empty() {
            return Err(if self.is_known(name) {
                TemplateError::Missing {
                    name: name.to_owned(),
                    channel,
                }
            } else {
                TemplateError::UnknownTemplate {
                    name: name.to_owned(),
                }
            });
        }
        let mut variables = BTreeSet::new();
        for id in versions {
            let template =
                self.env
                    .get_template(&id.key())
                    .map_err(|source| TemplateError::Render {
                        name: name.to_owned(),
                        channel,
                        source,
                    })?;
            variables.extend(template.undeclared_variables(false));
        }
        Ok(variables)
    }

    fn exists(&self, language: &str, channel: Channel, name: &str, easy_read: bool) -> bool {
        self.index.contains(&TemplateId {
            language: language.to_owned(),
            channel,
            name: name.to_owned(),
            easy_read,
        })
    }

    /// A message is known by its English templates; other languages only translate them.
    fn is_known(&self, name: &str) -> bool {
        self.index
            .iter()
            .any(|id| id.language == ENGLISH && id.name == name)
    }
}

fn channel_dir(channel: Channel) -> &'static str {
    match channel {
        Channel::Sms => "sms",
        Channel::PhoneCall => "calls",
        Channel::Letter => "letters",
    }
}

fn collect_files<'a>(dir: &'a Dir<'a>, out: &mut Vec<(String, Option<&'a str>)>) {
    for file in dir.files() {
        out.push((slash_path(file.path()), file.contents_utf8()));
    }
    for sub in dir.dirs() {
        collect_files(sub, out);
    }
}

/// The same path on every platform, so layout checks and error messages agree.
fn slash_path(path: &Path) -> String {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(part) => Some(part.to_string_lossy()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// `en/sms/reminder.easy_read` → its id; None for anything else, so a misspelt folder or
/// name fails loudly at load instead of leaving a message missing.
fn parse_path(stem: &str) -> Option<TemplateId> {
    let mut parts = stem.split('/');
    let (language, dir, file) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let channel = CHANNELS.into_iter().find(|&c| channel_dir(c) == dir)?;
    let (name, easy_read) = match file.strip_suffix(EASY_READ_SUFFIX) {
        Some(name) => (name, true),
        None => (file, false),
    };
    let lower = |s: &str, extra: char| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == extra)
    };
    (lower(language, '-') && lower(name, '_')).then(|| TemplateId {
        language: language.to_owned(),
        channel,
        name: name.to_owned(),
        easy_read,
    })
}

/// Trims the text and each line's end, and leaves at most one blank line between paragraphs:
/// stray whitespace costs SMS units and looks careless in a letter.
fn tidy(raw: &str) -> String {
    let mut text = String::with_capacity(raw.len());
    let mut blank = false;
    for line in raw.trim().lines().map(str::trim_end) {
        if line.is_empty() {
            blank = true;
            continue;
        }
        if !text.is_empty() {
            text.push_str(if blank { "\n\n" } else { "\n" });
        }
        text.push_str(line);
        blank = false;
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::sms::{SmsEncoding, sms_size};
    use serde_json::{Value, json};

    const NAME: &str = "Alexandra Charlottes"; // 20 characters, a long preferred name
    const SITE: &str = "St James's University Hospital"; // 30 characters
    const WHEN: &str = "Wednesday 30 September at 10:00"; // the longest day and month
    const PHONE: &str = "0800 129 9999";

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
                assert!(
                    variable != "text" || name == "update" || name == "general_letter",
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
}
