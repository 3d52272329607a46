//! What the conversation says, loaded from `message-templates/<lang>/conversation.toml` so
//! the clinical team can review and change the words without reading code.

use std::collections::BTreeMap;

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

/// Every entry the conversation uses; a file missing one (or carrying an unknown one) fails
/// to load.
pub const KEYS: &[&str] = &[
    "welcome",
    "help",
    "coping",
    "coping_easy_read",
    "carer",
    "carer_easy_read",
    "team_contact",
    "team_contact_easy_read",
    "services",
    "services_easy_read",
    "risk",
    "not_safe",
    "not_safe_other",
    "stopped",
    "started",
    "not_understood",
    "not_understood_again",
    "stuck_hint",
    "kind_words",
    "ask_again_gently",
    "interpreter_offer",
    "welcome_back",
    "interpreter_handover",
    "already_handed_over",
    "first_question",
    "cannot_skip",
    "bad_phone",
    "bad_postcode",
    "bad_age",
    "which_language",
    "added",
    "ask_relationship",
    "ask_referrer_role",
    "ask_referrer_name",
    "ask_referrer_org",
    "ask_referrer_phone",
    "ask_ward",
    "ask_expected_discharge",
    "bad_date",
    "ask_consent",
    "ask_subject_phone",
    "ask_name",
    "ask_age",
    "ask_postcode",
    "ask_safety",
    "ask_situation",
    "ask_contact_method",
    "ask_language",
    "ask_access_needs",
    "ask_anything_else",
    "ask_confirm",
    "confirm_no",
    "submitted",
    "signposted",
    "already_sent",
    "already_signposted",
    "thread_received",
    "on_call_alert",
    "on_call_escalation",
    "on_call_escalation_patient",
    "on_call_alert_patient",
    "patient_stopped",
    "patient_started",
    "patient_fallback",
    "plan_not_here",
];

/// Said when an entry cannot be rendered: short, safe, and never blank.
const FALLBACK: &str = "Sorry, something went wrong on our side. In an emergency call 999. \
                        Otherwise please call 0800 129 9999 or NHS 111.";

#[derive(Debug, thiserror::Error)]
pub enum WordingError {
    #[error("conversation wording is not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("conversation wording lacks the entry `{0}`")]
    Missing(&'static str),
    #[error("conversation wording has an unknown entry `{0}`")]
    Unknown(String),
    #[error("conversation wording entry `{key}` is not a valid template: {source}")]
    Template {
        key: String,
        source: minijinja::Error,
    },
}

/// The loaded, checked wording of one language.
pub struct Wording {
    env: Environment<'static>,
}

impl std::fmt::Debug for Wording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wording").finish_non_exhaustive()
    }
}

/// The variables every entry may use (see the header of conversation.toml).
#[derive(Debug, Default, Serialize)]
pub struct Vars {
    pub about_self: bool,
    pub reference: String,
    /// The team's name (staff-facing texts only).
    pub team: String,
    /// When the team aims to be in touch ("within 4 hours"); empty: no time is promised.
    pub response_target: String,
    /// The referrer is the person's family, friend or carer: the closing text says what
    /// happens next for them too and offers CARER.
    pub carer: bool,
    pub a: DisplayAnswers,
}

/// Answers as short display strings; empty when not given.
#[derive(Debug, Default, Serialize)]
pub struct DisplayAnswers {
    pub role: String,
    pub referrer_name: String,
    pub referrer_org: String,
    pub ward: String,
    pub expected_discharge: String,
    pub consent: String,
    pub subject_phone: String,
    pub name: String,
    pub age: String,
    pub place: String,
    pub safety: String,
    pub situation: String,
    pub contact_method: String,
    pub language: String,
    pub access_needs: String,
    pub anything_else: String,
}

impl Wording {
    pub fn from_toml(text: &str) -> Result<Self, WordingError> {
        let entries: BTreeMap<String, String> = toml::from_str(text)?;
        if let Some(unknown) = entries.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(WordingError::Unknown(unknown.clone()));
        }
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Debug info would carry people's names and words into error output and logs.
        env.set_debug(false);
        for key in KEYS {
            let source = entries.get(*key).ok_or(WordingError::Missing(key))?;
            env.add_template_owned(key.to_string(), source.trim().to_owned())
                .map_err(|source| WordingError::Template {
                    key: key.to_string(),
                    source,
                })?;
        }
        Ok(Self { env })
    }

    /// The English wording shipped with the gateway (a test proves it loads and renders).
    pub fn english() -> Self {
        #[allow(clippy::expect_used)]
        Self::from_toml(include_str!("../../message-templates/en/conversation.toml"))
            .expect("bundled English wording is checked by tests")
    }

    /// Renders one entry; on a template error returns a safe fallback rather than nothing.
    pub fn render(&self, key: &str, vars: &Vars) -> String {
        self.try_render(key, vars).unwrap_or_else(|err| {
            tracing::error!(entry = key, error = %err, "conversation wording failed to render");
            FALLBACK.to_owned()
        })
    }

    pub fn try_render(&self, key: &str, vars: &Vars) -> Result<String, minijinja::Error> {
        self.env
            .get_template(key)?
            .render(minijinja::value::Serde(vars))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(about_self: bool) -> Vars {
        Vars {
            about_self,
            reference: "CRHT-7K3M9Q".into(),
            team: "Leeds Crisis Team".into(),
            response_target: String::new(),
            carer: !about_self,
            a: DisplayAnswers {
                role: "family".into(),
                referrer_name: "Jo".into(),
                referrer_org: "Becklin Centre".into(),
                ward: "Ward 4, Becklin Centre".into(),
                expected_discharge: "3 December 2026".into(),
                consent: "yes".into(),
                subject_phone: "07911 123456".into(),
                name: "Sam".into(),
                age: "yes".into(),
                place: "LS1 4DY".into(),
                safety: "yes".into(),
                situation: "not sleeping".into(),
                contact_method: "text message".into(),
                language: "none".into(),
                access_needs: "none".into(),
                anything_else: "none".into(),
            },
        }
    }

    #[test]
    fn every_entry_renders_in_strict_mode_for_both_kinds_of_referrer() {
        let wording = Wording::english();
        for about_self in [true, false] {
            for key in KEYS {
                let text = wording
                    .try_render(key, &sample(about_self))
                    .unwrap_or_else(|e| panic!("{key}: {e}"));
                assert!(!text.trim().is_empty(), "{key} rendered blank");
                assert!(
                    !text.contains("{{") && !text.contains("{%"),
                    "{key}: {text}"
                );
            }
        }
    }

    #[test]
    fn safety_texts_mention_999() {
        let wording = Wording::english();
        for key in [
            "welcome",
            "help",
            "risk",
            "not_safe",
            "not_safe_other",
            "stopped",
            "submitted",
            "signposted",
            "already_sent",
            "thread_received",
            "stuck_hint",
            "interpreter_handover",
            "already_handed_over",
            "patient_stopped",
            "patient_started",
            "patient_fallback",
            "plan_not_here",
        ] {
            let text = wording.render(key, &sample(true));
            assert!(text.contains("999"), "{key} must mention 999: {text}");
        }
    }

    #[test]
    fn every_keyword_answer_fits_two_text_segments_and_mentions_999() {
        use crate::channels::sms::{SmsEncoding, sms_size};
        use crate::conversation::parse::Keyword;
        let wording = Wording::english();
        for keyword in Keyword::ALL {
            for easy_read in [false, true] {
                let key = keyword.wording_key(easy_read);
                let text = wording
                    .try_render(key, &sample(true))
                    .unwrap_or_else(|e| panic!("{key}: {e}"));
                let size = sms_size(&text);
                assert_eq!(size.encoding, SmsEncoding::Gsm7, "{key}: {text}");
                assert!(size.segments <= 2, "{key} is {size:?}:\n{text}");
                assert!(text.contains("999"), "{key} must mention 999: {text}");
            }
        }
        // The words the issue names are there.
        let plain = |k: Keyword| wording.render(k.wording_key(false), &sample(true));
        for (keyword, words) in [
            (Keyword::Coping, &["Breathe", "0800 129 9999"][..]),
            (
                Keyword::Carer,
                &["listen", "Rethink Mental Illness", "0800 129 9999"][..],
            ),
            (
                Keyword::Team,
                &["0800 129 9999", "listen carefully", "24 hours", "111"][..],
            ),
            (
                Keyword::Services,
                &[
                    "Talking Therapies",
                    "Mind",
                    "MoodTools",
                    "NHS 111",
                    "mental health option",
                    "116 123",
                    "85258",
                ][..],
            ),
        ] {
            let text = plain(keyword);
            for word in words {
                assert!(text.contains(word), "{keyword:?} lacks {word:?}: {text}");
            }
        }
    }

    #[test]
    fn help_names_the_team_s_number_111_and_the_keywords() {
        let text = Wording::english().render("help", &sample(true));
        for word in [
            "0800 129 9999",
            "111",
            "999",
            "COPING",
            "CARER",
            "TEAM",
            "SERVICES",
        ] {
            assert!(text.contains(word), "help lacks {word}: {text}");
        }
    }

    #[test]
    fn the_kind_words_never_say_sorry() {
        let wording = Wording::english();
        for key in [
            "help",
            "kind_words",
            "ask_again_gently",
            "welcome_back",
            "interpreter_handover",
            "already_handed_over",
        ] {
            for about_self in [true, false] {
                let text = wording.render(key, &sample(about_self));
                assert!(
                    !text.contains("Sorry") && !text.contains("understand"),
                    "{key}: {text}"
                );
            }
        }
    }

    #[test]
    fn a_missing_variable_is_an_error_not_a_blank() {
        let wording = Wording::from_toml(
            &include_str!("../../message-templates/en/conversation.toml")
                .replace("{{ reference }}", "{{ no_such_variable }}"),
        )
        .expect("still loads");
        assert!(wording.try_render("submitted", &sample(true)).is_err());
        assert!(wording.render("submitted", &sample(true)).contains("999"));
    }

    #[test]
    fn missing_and_unknown_entries_are_refused() {
        assert!(matches!(
            Wording::from_toml("welcome = \"hi\""),
            Err(WordingError::Missing(_))
        ));
        let extra = format!(
            "{}\nsurprise = \"x\"\n",
            include_str!("../../message-templates/en/conversation.toml")
        );
        assert!(matches!(
            Wording::from_toml(&extra),
            Err(WordingError::Unknown(k)) if k == "surprise"
        ));
    }
}
