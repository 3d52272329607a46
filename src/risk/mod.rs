//! Risk screening of inbound texts (safety rule 2): which risk-of-harm signals a text shows, so
//! the service can answer with 999, flag the referral urgent and alert on-call at once.
//!
//! The phrases live in `config/risk-signals.toml`, which clinicians review; this module only
//! reads that file and matches it. It is pure (no I/O, no logging: a message body must never
//! reach a log) and it leans towards flagging: a false alarm costs a phone call, a miss can
//! cost a life.
//!
//! How a text is read. The file's phrases go through the same steps, so clinicians write a
//! phrase the way people text it.
//! 1. Emoji listed in `[emoji]` become words ("💊" → "pills"). Letters are lower-cased.
//!    Apostrophes, zero-width characters and combining accents are dropped ("don't" = "dont").
//! 2. Letters and digits make words. `. , ; : ! ?`, line breaks, dashes, emoji and any other
//!    non-ASCII symbol end a clause; spaces and other ASCII punctuation only end a word.
//! 3. Two readings are screened and their signals joined: the words as written, and a
//!    leetspeak reading where a word mixing letters with 0 1 3 4 5 @ $ reads as letters
//!    ("su1c1de"), and a lone "2" or "4" as "to" or "for". Numbers ("30 tablets") stay
//!    numbers in the first reading, so patterns still see them.
//! 4. `[spellings]` rewrites shorthand, contractions and misspellings to one form
//!    ("do not" → "dont", "going to" → "gonna", "u" → "you"), even across punctuation
//!    ("Do. Not. Want. To. Live." still reads "dont wanna live").
//! 5. `[clauses] break_words` ("but", "and", …) start a new clause, as punctuation does.
//! 6. Phrases match whole words, with repeated letters squeezed ("diiie" = "die", "too" =
//!    "to") and spaces inside a phrase ignored ("kill my self" = "kill myself"), so "kms"
//!    never matches inside "kmsx". A one-word phrase must be spelt in full or stretched
//!    ("nooose" but never "nose"). A phrase of two or more words is also looked for inside
//!    one long run-together word ("#iwanttodie"). Phrases match across punctuation: a missed
//!    phrase is worse than an odd match.
//! 7. Phrases and patterns are tried on the words both with spellings applied and as
//!    written, so a spelling never hides a phrase ("it is not safe" reads "it isnt safe" yet
//!    still holds "not safe"). Patterns see the words joined by single spaces.
//!
//! When a match is ignored. A `[not_risk]` expression that holds the whole match in one
//! sentence ("hurt her feelings") silences it. A negation cue silences it only when it comes
//! within the window before the match, in the same clause, with only bridge words between, is
//! not itself undone ("can't not", "why not"), and the text has no uncertainty cue anywhere.
//! A phrase's own words ("can't go on") are never its cue: cues are looked for before it.

mod fold;
mod index;
mod negation;
mod reader;
mod rules;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::fmt;

use index::PhraseIndex;
use negation::MatchContext;
use reader::{Reading, TextReader};
use regex::Regex;

pub(crate) use fold::fold_text;

/// The rules shipped with the service, as reviewed by the clinical team.
const BUNDLED_RULES: &str = include_str!("../../config/risk-signals.toml");

/// A risk-signal file that cannot be used; each message names the entry at fault so a
/// clinician can fix the file without reading code.
#[derive(Debug, thiserror::Error)]
pub enum RiskConfigError {
    #[error("the risk-signal file is not valid (bad TOML, a missing field or an unknown key): {0}")]
    Toml(#[from] toml::de::Error),
    #[error("the risk-signal file defines no signals")]
    NoSignals,
    #[error(
        "signal name `{name}` must be lower case letters and digits joined by single underscores, e.g. `self_harm`"
    )]
    BadSignalName { name: String },
    #[error("signal `{signal}` has an empty description; say what it catches, staff see it")]
    MissingDescription { signal: String },
    #[error("signal `{signal}` has no phrases, patterns or together rules, so it could never flag")]
    NoRules { signal: String },
    #[error("{place}: entry {number} is empty")]
    EmptyPhrase { place: String, number: usize },
    #[error(
        "{place}: `{phrase}` contains `{character}`; phrases are words only (letters, digits, spaces, apostrophes, hyphens), use `patterns` for anything else"
    )]
    BadPhrase {
        place: String,
        phrase: String,
        character: char,
    },
    #[error("{place}: `{phrase}` must be a single word")]
    NotOneWord { place: String, phrase: String },
    #[error("spellings: `{variant}` is longer than {max} words")]
    SpellingTooLong { variant: String, max: usize },
    #[error("spellings: `{variant}` is listed under both `{first}` and `{second}`")]
    ConflictingSpelling {
        variant: String,
        first: String,
        second: String,
    },
    #[error("{place}: pattern `{pattern}` is not a valid regular expression: {source}")]
    InvalidPattern {
        place: String,
        pattern: String,
        #[source]
        source: regex::Error,
    },
    #[error("{place}: pattern `{pattern}` matches an empty text, so it would flag every message")]
    PatternMatchesEmpty { place: String, pattern: String },
    #[error("negation.window and negation.after_window must be between 1 and {max}, not {window}")]
    BadWindow { window: usize, max: usize },
    #[error(
        "{place}: a together rule needs `any_of` and at least one of `and_any_of` or `or_signals`"
    )]
    IncompleteTogether { place: String },
    #[error("{place}: `or_signals` names `{name}`, which is not a signal in this file")]
    UnknownSignal { place: String, name: String },
    #[error(
        "languages.{code}: `{name}` is not a signal in [signals]; a language section adds phrases to an existing signal"
    )]
    UnknownLanguageSignal { code: String, name: String },
    #[error("language code `{code}` must be letters, digits and hyphens, e.g. `pl` or `ur-Latn`")]
    BadLanguageCode { code: String },
    #[error(
        "languages.{code}: `name` and `review` must both be filled in (`review` says who wrote the phrases and who must check them)"
    )]
    MissingLanguageReview { code: String },
}

// ---------------------------------------------------------------------------------------------
// The loaded rules.

/// Loaded, validated risk-signal rules.
#[derive(Clone)]
pub struct RiskScreen {
    /// Sorted by name, so `screen` returns names in order.
    signals: Vec<Signal>,
    together: Vec<Together>,
    /// Every phrase of every list (signals, cues, together rules, not-risk), by matching key.
    phrases: PhraseIndex,
    not_risk_patterns: Vec<Regex>,
    reader: TextReader,
    negation_window: usize,
    after_window: usize,
    bridge_words: HashSet<String>,
    /// Words that may stand between a risk phrase and a negation that follows it.
    after_bridge_words: HashSet<String>,
    undone_by: HashSet<String>,
}

#[derive(Clone)]
struct Signal {
    name: String,
    patterns: Vec<Regex>,
}

/// Flags `signal` when a word from `any_of` and one from `and_any_of` both stand in the text,
/// or a word from `any_of` stands and one of `or_signals` flagged on its own.
#[derive(Clone)]
struct Together {
    signal: usize,
    or_signals: Vec<usize>,
}

/// What a phrase in the index belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    Signal(usize),
    NegationCue,
    /// A negation cue of a language where two negations make one: it negates like any cue but
    /// never undoes another ("nigdy bym sobie nie zrobił krzywdy" is "I would never hurt myself").
    ConcordNegationCue,
    /// A negation that follows what it negates ("আত্মহত্যা করব না": "suicide I will do not").
    AfterNegationCue,
    UncertaintyCue,
    NotRisk,
    TogetherAny(usize),
    TogetherWith(usize),
}

/// One match: words `start..end` of a reading.
#[derive(Clone, Copy, Debug)]
struct Hit {
    owner: Owner,
    start: usize,
    end: usize,
}

impl RiskScreen {
    /// The rules shipped in config/risk-signals.toml.
    pub fn bundled() -> Self {
        // Compiling the rules' patterns takes most of a second; a process that builds several
        // gateways (the test suite) pays it once.
        static BUNDLED: std::sync::OnceLock<RiskScreen> = std::sync::OnceLock::new();
        BUNDLED
            .get_or_init(|| {
                // The test `bundled_rules_load` proves this file loads, so this never panics
                // in a build whose tests passed.
                Self::from_toml(BUNDLED_RULES)
                    .expect("config/risk-signals.toml is invalid; run `cargo test risk` to see why")
            })
            .clone()
    }

    /// Names of the signals the text shows, sorted and de-duplicated; empty when none.
    pub fn screen(&self, text: &str) -> Vec<String> {
        let mut readings = vec![self.reader.read(&self.reader.words(text, false), false)];
        readings.extend(self.reader.read_leetspeak(text));
        let found: Vec<Vec<Hit>> = readings.iter().map(|r| self.find(r)).collect();
        let uncertain = found
            .iter()
            .flatten()
            .any(|hit| hit.owner == Owner::UncertaintyCue);

        let mut flagged = vec![false; self.signals.len()];
        let mut together_any = vec![false; self.together.len()];
        let mut together_with = vec![false; self.together.len()];
        for (reading, hits) in readings.iter().zip(&found) {
            let context = MatchContext::new(self, reading, hits, uncertain);
            for hit in hits {
                let slot = match hit.owner {
                    Owner::Signal(i) => &mut flagged[i],
                    Owner::TogetherAny(r) => &mut together_any[r],
                    Owner::TogetherWith(r) => &mut together_with[r],
                    Owner::NegationCue
                    | Owner::ConcordNegationCue
                    | Owner::AfterNegationCue
                    | Owner::UncertaintyCue
                    | Owner::NotRisk => continue,
                };
                if !*slot && context.stands(hit) {
                    *slot = true;
                }
            }
        }
        let direct = flagged.clone();
        for (r, rule) in self.together.iter().enumerate() {
            if together_any[r] && (together_with[r] || rule.or_signals.iter().any(|&s| direct[s])) {
                flagged[rule.signal] = true;
            }
        }
        self.signals
            .iter()
            .zip(flagged)
            .filter(|(_, f)| *f)
            .map(|(s, _)| s.name.clone())
            .collect()
    }

    /// Every signal name the rules define (for docs and validation).
    pub fn signal_names(&self) -> Vec<String> {
        self.signals.iter().map(|s| s.name.clone()).collect()
    }

    /// Every phrase and pattern match in one reading, before negation and exceptions.
    fn find(&self, reading: &Reading) -> Vec<Hit> {
        let keys: Vec<&str> = reading.words.iter().map(|w| w.key.as_str()).collect();
        let texts: Vec<&str> = reading.words.iter().map(|w| w.text.as_str()).collect();
        let mut hits = self.phrases.find(&keys, &texts);
        let written_keys: Vec<&str> = reading.written_keys.iter().map(String::as_str).collect();
        let written_texts: Vec<&str> = reading.written_texts.iter().map(String::as_str).collect();
        let written_hits = self.phrases.find(&written_keys, &written_texts);
        let run_on_hits = self.phrases.find_run_on(&written_keys);
        hits.extend(written_hits.into_iter().chain(run_on_hits).map(|hit| {
            let (start, end) = reading.written_span(hit.start, hit.end);
            Hit { start, end, ..hit }
        }));
        for (i, signal) in self.signals.iter().enumerate() {
            for pattern in &signal.patterns {
                reading.pattern_hits(pattern, Owner::Signal(i), &mut hits);
            }
        }
        for pattern in &self.not_risk_patterns {
            reading.pattern_hits(pattern, Owner::NotRisk, &mut hits);
        }
        hits
    }
}

impl fmt::Debug for RiskScreen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RiskScreen")
            .field("signals", &self.signals.len())
            .field("phrases", &self.phrases.count)
            .field(
                "patterns",
                &self.signals.iter().map(|s| s.patterns.len()).sum::<usize>(),
            )
            .field("together_rules", &self.together.len())
            .finish()
    }
}
