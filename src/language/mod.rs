//! The languages the gateway knows: the eight it answers in besides English (safety rule 9),
//! each with its first reply and interpreter handover, and the names staff type for a language
//! on a passport.
//!
//! The replies live in `message-templates/languages.toml`, drafted by machine and awaiting
//! review by the Trust's interpreting service.

mod detect;
mod names;
mod words;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

pub use detect::detect;
pub(crate) use names::{english_name, language_code};

/// The replies, one section per language code (see the file's header).
const BUNDLED_WORDINGS: &str = include_str!("../../message-templates/languages.toml");

/// A language the service answers in besides English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    Polish,
    Romanian,
    Portuguese,
    Arabic,
    Urdu,
    RomanUrdu,
    Punjabi,
    Bengali,
}

impl Language {
    /// Every language, in the order of the service area's needs.
    pub const ALL: [Language; 8] = [
        Language::Polish,
        Language::Romanian,
        Language::Portuguese,
        Language::Arabic,
        Language::Urdu,
        Language::RomanUrdu,
        Language::Punjabi,
        Language::Bengali,
    ];

    /// The language's code (BCP 47; `ur-Latn` is Urdu in Roman script).
    pub fn code(self) -> &'static str {
        match self {
            Language::Polish => "pl",
            Language::Romanian => "ro",
            Language::Portuguese => "pt",
            Language::Arabic => "ar",
            Language::Urdu => "ur",
            Language::RomanUrdu => "ur-Latn",
            Language::Punjabi => "pa",
            Language::Bengali => "bn",
        }
    }

    /// The language with this code (as `code` gives it, any case), if it is one of ours.
    pub fn from_code(code: &str) -> Option<Language> {
        Self::ALL
            .into_iter()
            .find(|l| l.code().eq_ignore_ascii_case(code.trim()))
    }

    /// The language's name in English, as staff see it.
    pub fn english_name(self) -> &'static str {
        match self {
            Language::Polish => "Polish",
            Language::Romanian => "Romanian",
            Language::Portuguese => "Portuguese",
            Language::Arabic => "Arabic",
            Language::Urdu => "Urdu",
            Language::RomanUrdu => "Urdu (Roman script)",
            Language::Punjabi => "Punjabi",
            Language::Bengali => "Bengali",
        }
    }

    /// In this language: in an emergency call 999; we can arrange an interpreter, tell us your
    /// language.
    pub fn first_reply(self) -> &'static str {
        &wordings()[self.index()].first_reply
    }

    /// In this language: we could not read your answers; the team will contact you with an
    /// interpreter; in an emergency call 999.
    pub fn interpreter_handover(self) -> &'static str {
        &wordings()[self.index()].interpreter_handover
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|l| *l == self).unwrap_or(0)
    }
}

// ---------------------------------------------------------------------------------------------
// Wordings.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WordingIn {
    name: String,
    review: String,
    first_reply: String,
    interpreter_handover: String,
}

/// A wording file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WordingsError {
    #[error("message-templates/languages.toml is not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("message-templates/languages.toml has no section [{0}]")]
    Missing(&'static str),
    #[error("message-templates/languages.toml: [{0}] is not one of our languages")]
    Unknown(String),
    #[error("message-templates/languages.toml: [{code}] {problem}")]
    Invalid { code: String, problem: String },
}

/// Longest wording, in characters: two UCS-2 segments and a bit, so the English reply and
/// this one still arrive together.
const MAX_WORDING_CHARS: usize = 160;

fn parse_wordings(text: &str) -> Result<Vec<WordingIn>, WordingsError> {
    let mut file: BTreeMap<String, WordingIn> = toml::from_str(text)?;
    if let Some(unknown) = file.keys().find(|code| Language::from_code(code).is_none()) {
        return Err(WordingsError::Unknown(unknown.clone()));
    }
    Language::ALL
        .into_iter()
        .map(|language| {
            let code = language.code();
            let wording = file.remove(code).ok_or(WordingsError::Missing(code))?;
            let invalid = |problem: &str| WordingsError::Invalid {
                code: code.to_owned(),
                problem: problem.to_owned(),
            };
            if wording.name.trim().is_empty() || wording.review.trim().is_empty() {
                return Err(invalid("needs a `name` and a `review` line"));
            }
            for (key, text) in [
                ("first_reply", &wording.first_reply),
                ("interpreter_handover", &wording.interpreter_handover),
            ] {
                if !text.contains("999") {
                    return Err(invalid(&format!("`{key}` must contain 999")));
                }
                if text.chars().count() > MAX_WORDING_CHARS {
                    return Err(invalid(&format!(
                        "`{key}` is longer than {MAX_WORDING_CHARS} characters"
                    )));
                }
            }
            Ok(wording)
        })
        .collect()
}

/// The bundled wordings, in the order of `Language::ALL`.
fn wordings() -> &'static [WordingIn] {
    static WORDINGS: OnceLock<Vec<WordingIn>> = OnceLock::new();
    WORDINGS.get_or_init(|| {
        // The test `bundled_wordings_load` proves the file loads, so this never panics in a
        // build whose tests passed.
        parse_wordings(BUNDLED_WORDINGS)
            .expect("message-templates/languages.toml is invalid; run `cargo test language`")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_wordings_load() {
        let loaded = parse_wordings(BUNDLED_WORDINGS);
        assert!(loaded.is_ok(), "{:?}", loaded.err());
    }

    #[test]
    fn every_first_reply_and_handover_holds_999_and_is_short() {
        for language in Language::ALL {
            for text in [language.first_reply(), language.interpreter_handover()] {
                assert!(text.contains("999"), "{language:?}: {text}");
                assert!(text.chars().count() <= MAX_WORDING_CHARS, "{language:?}");
                assert!(!text.trim().is_empty());
            }
            assert_ne!(language.first_reply(), language.interpreter_handover());
        }
    }

    #[test]
    fn wordings_are_marked_for_review_by_the_interpreting_service() {
        assert!(BUNDLED_WORDINGS.contains("FOR REVIEW BY THE TRUST'S INTERPRETING SERVICE"));
        let file: BTreeMap<String, WordingIn> = toml::from_str(BUNDLED_WORDINGS).expect("parses");
        for (code, wording) in file {
            assert!(wording.review.contains("interpreting service"), "{code}");
        }
    }

    #[test]
    fn broken_wordings_are_refused() {
        let missing = BUNDLED_WORDINGS.replace("[bn]", "[xx]");
        assert!(parse_wordings(&missing).is_err());
        let no_999 = BUNDLED_WORDINGS.replacen("dzwoń pod 999", "dzwoń", 1);
        let error = parse_wordings(&no_999).expect_err("refused").to_string();
        assert!(error.contains("999") && error.contains("[pl]"), "{error}");
    }

    #[test]
    fn codes_and_names() {
        let codes: Vec<&str> = Language::ALL.iter().map(|l| l.code()).collect();
        assert_eq!(codes, ["pl", "ro", "pt", "ar", "ur", "ur-Latn", "pa", "bn"]);
        assert_eq!(Language::RomanUrdu.english_name(), "Urdu (Roman script)");
        assert_eq!(Language::Punjabi.english_name(), "Punjabi");
        for language in Language::ALL {
            assert_eq!(Language::from_code(language.code()), Some(language));
        }
        assert_eq!(Language::from_code("UR-latn"), Some(Language::RomanUrdu));
        assert_eq!(Language::from_code("en"), None);
    }
}
