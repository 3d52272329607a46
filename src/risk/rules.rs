//! The risk-signal file as clinicians write it (`config/risk-signals.toml`), and how it is
//! checked and compiled into a [`RiskScreen`]: anything that could silently weaken the
//! screen is refused with a message naming the entry at fault.

use std::collections::{BTreeMap, HashMap};

use regex::{Regex, RegexBuilder};
use serde::Deserialize;

use super::fold::fold_text;
use super::index::PhraseIndex;
use super::reader::TextReader;
use super::{Owner, RiskConfigError, RiskScreen, Signal, Together};

/// Widest negation window the file may set: a wider one would let a "not" early in a long
/// sentence silence a risk phrase that it has nothing to do with.
const MAX_NEGATION_WINDOW: usize = 6;

// ---------------------------------------------------------------------------------------------
// The file, as written by clinicians. Unknown keys are errors, so a misspelt key never
// silently drops a list of phrases.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RulesFile {
    pub(super) clauses: ClausesIn,
    pub(super) negation: NegationIn,
    pub(super) uncertainty: UncertaintyIn,
    #[serde(default)]
    pub(super) spellings: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub(super) emoji: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) not_risk: NotRiskIn,
    pub(super) signals: BTreeMap<String, SignalIn>,
    #[serde(default)]
    pub(super) languages: BTreeMap<String, LanguageIn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ClausesIn {
    pub(super) break_words: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NegationIn {
    pub(super) window: usize,
    pub(super) cues: Vec<String>,
    pub(super) bridge_words: Vec<String>,
    pub(super) undone_by: Vec<String>,
    #[serde(default)]
    pub(super) after_cues: Vec<String>,
    #[serde(default)]
    pub(super) after_bridge_words: Vec<String>,
    /// How far after a match an after-cue may stand (default: `window`).
    #[serde(default)]
    pub(super) after_window: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UncertaintyIn {
    pub(super) cues: Vec<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NotRiskIn {
    #[serde(default)]
    pub(super) phrases: Vec<String>,
    #[serde(default)]
    pub(super) patterns: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SignalIn {
    pub(super) description: String,
    #[serde(default)]
    pub(super) phrases: Vec<String>,
    #[serde(default)]
    pub(super) patterns: Vec<String>,
    #[serde(default)]
    pub(super) together: Vec<TogetherIn>,
}

/// One language's words, kept together so an interpreter can review them as one section.
/// Everything here is added to the lists of the same name above; `signals` only add to
/// signals the file already defines.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LanguageIn {
    pub(super) name: String,
    /// Who wrote these words and who must review them (shown in review, required).
    pub(super) review: String,
    #[serde(default)]
    pub(super) break_words: Vec<String>,
    #[serde(default)]
    pub(super) negation_cues: Vec<String>,
    /// Two negations make one ("nigdy … nie", "never … not"), so this language's cues never
    /// undo each other.
    #[serde(default)]
    pub(super) negative_concord: bool,
    #[serde(default)]
    pub(super) negation_after_cues: Vec<String>,
    #[serde(default)]
    pub(super) bridge_words: Vec<String>,
    #[serde(default)]
    pub(super) after_bridge_words: Vec<String>,
    #[serde(default)]
    pub(super) undone_by: Vec<String>,
    #[serde(default)]
    pub(super) uncertainty_cues: Vec<String>,
    #[serde(default)]
    pub(super) not_risk: Vec<String>,
    #[serde(default)]
    pub(super) spellings: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub(super) signals: BTreeMap<String, LanguageSignalIn>,
}

/// A language's phrases for a signal defined in `[signals]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LanguageSignalIn {
    #[serde(default)]
    pub(super) phrases: Vec<String>,
    #[serde(default)]
    pub(super) patterns: Vec<String>,
    #[serde(default)]
    pub(super) together: Vec<TogetherIn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TogetherIn {
    pub(super) any_of: Vec<String>,
    #[serde(default)]
    pub(super) and_any_of: Vec<String>,
    #[serde(default)]
    pub(super) or_signals: Vec<String>,
}

/// Adds a signal's phrases, patterns and together rules, wherever in the file they are.
struct RuleBuilder<'a> {
    reader: &'a TextReader,
    position: &'a HashMap<&'a str, usize>,
    phrases: PhraseIndex,
    together: Vec<Together>,
}

impl RuleBuilder<'_> {
    /// Indexes the phrases and together rules of signal `signal`; returns its compiled patterns.
    fn add(
        &mut self,
        place: &str,
        signal: usize,
        phrases: &[String],
        patterns: &[String],
        together: &[TogetherIn],
    ) -> Result<Vec<Regex>, RiskConfigError> {
        self.phrases.add_all(
            self.reader,
            &format!("{place}.phrases"),
            phrases,
            Owner::Signal(signal),
        )?;
        let patterns = compile_patterns(&format!("{place}.patterns"), patterns)?;
        for (n, rule) in together.iter().enumerate() {
            let place = format!("{place}.together[{}]", n + 1);
            if rule.any_of.is_empty() || (rule.and_any_of.is_empty() && rule.or_signals.is_empty())
            {
                return Err(RiskConfigError::IncompleteTogether { place });
            }
            let id = self.together.len();
            self.phrases.add_all(
                self.reader,
                &format!("{place}.any_of"),
                &rule.any_of,
                Owner::TogetherAny(id),
            )?;
            self.phrases.add_all(
                self.reader,
                &format!("{place}.and_any_of"),
                &rule.and_any_of,
                Owner::TogetherWith(id),
            )?;
            let or_signals = rule
                .or_signals
                .iter()
                .map(|other| {
                    self.position.get(other.as_str()).copied().ok_or_else(|| {
                        RiskConfigError::UnknownSignal {
                            place: place.clone(),
                            name: other.clone(),
                        }
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            self.together.push(Together { signal, or_signals });
        }
        Ok(patterns)
    }
}

impl RiskScreen {
    /// Loads the rules from the text of a risk-signal file, refusing anything that could
    /// silently weaken the screen (unknown keys, empty phrases, bad patterns).
    pub fn from_toml(text: &str) -> Result<Self, RiskConfigError> {
        let file: RulesFile = toml::from_str(text)?;
        for (code, language) in &file.languages {
            if code.is_empty() || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(RiskConfigError::BadLanguageCode { code: code.clone() });
            }
            if language.name.trim().is_empty() || language.review.trim().is_empty() {
                return Err(RiskConfigError::MissingLanguageReview { code: code.clone() });
            }
        }
        let reader = TextReader::load(&file)?;

        let window = file.negation.window;
        let after_window = file.negation.after_window.unwrap_or(window);
        for window in [window, after_window] {
            if !(1..=MAX_NEGATION_WINDOW).contains(&window) {
                return Err(RiskConfigError::BadWindow {
                    window,
                    max: MAX_NEGATION_WINDOW,
                });
            }
        }
        let mut phrases = PhraseIndex::default();
        phrases.add_all(
            &reader,
            "negation.cues",
            &file.negation.cues,
            Owner::NegationCue,
        )?;
        phrases.add_all(
            &reader,
            "negation.after_cues",
            &file.negation.after_cues,
            Owner::AfterNegationCue,
        )?;
        let mut bridge_words =
            reader.single_words("negation.bridge_words", &file.negation.bridge_words)?;
        let mut after_bridge_words = reader.single_words(
            "negation.after_bridge_words",
            &file.negation.after_bridge_words,
        )?;
        let mut undone_by = reader.single_words("negation.undone_by", &file.negation.undone_by)?;
        phrases.add_all(
            &reader,
            "uncertainty.cues",
            &file.uncertainty.cues,
            Owner::UncertaintyCue,
        )?;
        phrases.add_all(
            &reader,
            "not_risk.phrases",
            &file.not_risk.phrases,
            Owner::NotRisk,
        )?;
        for (code, language) in &file.languages {
            let place = |list: &str| format!("languages.{code}.{list}");
            let cue = if language.negative_concord {
                Owner::ConcordNegationCue
            } else {
                Owner::NegationCue
            };
            let lists = [
                ("negation_cues", &language.negation_cues, cue),
                (
                    "negation_after_cues",
                    &language.negation_after_cues,
                    Owner::AfterNegationCue,
                ),
                (
                    "uncertainty_cues",
                    &language.uncertainty_cues,
                    Owner::UncertaintyCue,
                ),
                ("not_risk", &language.not_risk, Owner::NotRisk),
            ];
            for (list, entries, owner) in lists {
                phrases.add_all(&reader, &place(list), entries, owner)?;
            }
            bridge_words
                .extend(reader.single_words(&place("bridge_words"), &language.bridge_words)?);
            after_bridge_words.extend(
                reader.single_words(&place("after_bridge_words"), &language.after_bridge_words)?,
            );
            undone_by.extend(reader.single_words(&place("undone_by"), &language.undone_by)?);
        }
        let not_risk_patterns = compile_patterns("not_risk.patterns", &file.not_risk.patterns)?;

        if file.signals.is_empty() {
            return Err(RiskConfigError::NoSignals);
        }
        let position: HashMap<&str, usize> = file
            .signals
            .keys()
            .enumerate()
            .map(|(i, name)| (name.as_str(), i))
            .collect();
        let mut rules = RuleBuilder {
            reader: &reader,
            position: &position,
            phrases,
            together: Vec::new(),
        };
        let mut signals = Vec::with_capacity(file.signals.len());
        for (i, (name, signal)) in file.signals.iter().enumerate() {
            if !is_signal_name(name) {
                return Err(RiskConfigError::BadSignalName { name: name.clone() });
            }
            if signal.description.trim().is_empty() {
                return Err(RiskConfigError::MissingDescription {
                    signal: name.clone(),
                });
            }
            if signal.phrases.is_empty() && signal.patterns.is_empty() && signal.together.is_empty()
            {
                return Err(RiskConfigError::NoRules {
                    signal: name.clone(),
                });
            }
            let patterns = rules.add(
                &format!("signals.{name}"),
                i,
                &signal.phrases,
                &signal.patterns,
                &signal.together,
            )?;
            signals.push(Signal {
                name: name.clone(),
                patterns,
            });
        }
        for (code, language) in &file.languages {
            for (name, signal) in &language.signals {
                let &i = position.get(name.as_str()).ok_or_else(|| {
                    RiskConfigError::UnknownLanguageSignal {
                        code: code.clone(),
                        name: name.clone(),
                    }
                })?;
                let patterns = rules.add(
                    &format!("languages.{code}.signals.{name}"),
                    i,
                    &signal.phrases,
                    &signal.patterns,
                    &signal.together,
                )?;
                signals[i].patterns.extend(patterns);
            }
        }
        let RuleBuilder {
            phrases, together, ..
        } = rules;

        Ok(Self {
            signals,
            together,
            phrases,
            not_risk_patterns,
            reader,
            negation_window: window,
            after_window,
            bridge_words,
            after_bridge_words,
            undone_by,
        })
    }
}

fn is_signal_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('_')
        && !name.contains("__")
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn compile_patterns(place: &str, patterns: &[String]) -> Result<Vec<Regex>, RiskConfigError> {
    // Patterns see folded words, so they are folded too: "chcę" in a pattern matches "chce".
    let compile = |source: &str| {
        RegexBuilder::new(&fold_text(source))
            .case_insensitive(true)
            .build()
    };
    patterns
        .iter()
        .enumerate()
        .map(|(n, pattern)| {
            let invalid = |source| RiskConfigError::InvalidPattern {
                place: place.to_owned(),
                pattern: pattern.clone(),
                source,
            };
            if pattern.trim().is_empty() {
                return Err(RiskConfigError::EmptyPhrase {
                    place: place.to_owned(),
                    number: n + 1,
                });
            }
            // Parsed alone first (cheap: no compiling), so a stray `)` cannot escape the
            // whole-word wrapper and a pattern that can match nothing at all is refused.
            let alone = regex_syntax::ParserBuilder::new()
                .case_insensitive(true)
                .build()
                .parse(&fold_text(pattern))
                .map_err(|e| invalid(regex::Error::Syntax(e.to_string())))?;
            if alone.properties().minimum_len() == Some(0) {
                return Err(RiskConfigError::PatternMatchesEmpty {
                    place: place.to_owned(),
                    pattern: pattern.clone(),
                });
            }
            compile(&format!(r"\b(?:{pattern})\b")).map_err(invalid)
        })
        .collect()
}

#[cfg(test)]
mod tests;
