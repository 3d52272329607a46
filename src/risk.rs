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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use regex::{Regex, RegexBuilder};
use serde::Deserialize;

/// The rules shipped with the service, as reviewed by the clinical team.
const BUNDLED_RULES: &str = include_str!("../config/risk-signals.toml");

/// Widest negation window the file may set: a wider one would let a "not" early in a long
/// sentence silence a risk phrase that it has nothing to do with.
const MAX_NEGATION_WINDOW: usize = 6;

/// Shortest key of a risk phrase looked for inside a run-together word ("iwanttodie"):
/// long enough that no English word holds one by chance.
const MIN_RUN_ON_KEY: usize = 8;

/// Longest `[spellings]` variant, in words; anything longer belongs in a phrase list.
const MAX_SPELLING_WORDS: usize = 3;

/// Straight and curly apostrophes and look-alikes people type for one.
const APOSTROPHES: [char; 8] = [
    '\'', '\u{2019}', '\u{2018}', '`', '\u{00B4}', '\u{02BC}', '\u{2032}', '\u{FF07}',
];

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
// The file, as written by clinicians. Unknown keys are errors, so a misspelt key never
// silently drops a list of phrases.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    clauses: ClausesIn,
    negation: NegationIn,
    uncertainty: UncertaintyIn,
    #[serde(default)]
    spellings: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    emoji: BTreeMap<String, String>,
    #[serde(default)]
    not_risk: NotRiskIn,
    signals: BTreeMap<String, SignalIn>,
    #[serde(default)]
    languages: BTreeMap<String, LanguageIn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClausesIn {
    break_words: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NegationIn {
    window: usize,
    cues: Vec<String>,
    bridge_words: Vec<String>,
    undone_by: Vec<String>,
    #[serde(default)]
    after_cues: Vec<String>,
    #[serde(default)]
    after_bridge_words: Vec<String>,
    /// How far after a match an after-cue may stand (default: `window`).
    #[serde(default)]
    after_window: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UncertaintyIn {
    cues: Vec<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NotRiskIn {
    #[serde(default)]
    phrases: Vec<String>,
    #[serde(default)]
    patterns: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignalIn {
    description: String,
    #[serde(default)]
    phrases: Vec<String>,
    #[serde(default)]
    patterns: Vec<String>,
    #[serde(default)]
    together: Vec<TogetherIn>,
}

/// One language's words, kept together so an interpreter can review them as one section.
/// Everything here is added to the lists of the same name above; `signals` only add to
/// signals the file already defines.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LanguageIn {
    name: String,
    /// Who wrote these words and who must review them (shown in review, required).
    review: String,
    #[serde(default)]
    break_words: Vec<String>,
    #[serde(default)]
    negation_cues: Vec<String>,
    /// Two negations make one ("nigdy … nie", "never … not"), so this language's cues never
    /// undo each other.
    #[serde(default)]
    negative_concord: bool,
    #[serde(default)]
    negation_after_cues: Vec<String>,
    #[serde(default)]
    bridge_words: Vec<String>,
    #[serde(default)]
    after_bridge_words: Vec<String>,
    #[serde(default)]
    undone_by: Vec<String>,
    #[serde(default)]
    uncertainty_cues: Vec<String>,
    #[serde(default)]
    not_risk: Vec<String>,
    #[serde(default)]
    spellings: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    signals: BTreeMap<String, LanguageSignalIn>,
}

/// A language's phrases for a signal defined in `[signals]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LanguageSignalIn {
    #[serde(default)]
    phrases: Vec<String>,
    #[serde(default)]
    patterns: Vec<String>,
    #[serde(default)]
    together: Vec<TogetherIn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TogetherIn {
    any_of: Vec<String>,
    #[serde(default)]
    and_any_of: Vec<String>,
    #[serde(default)]
    or_signals: Vec<String>,
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

/// Everything needed to judge whether a hit in one reading stands.
struct MatchContext<'a> {
    screen: &'a RiskScreen,
    words: &'a [Word],
    uncertain: bool,
    /// For each word position, where the negation cues ending just before it start.
    cues_ending_at: Vec<Vec<usize>>,
    /// Word positions where a negation that follows what it negates starts.
    after_cue_at: Vec<bool>,
    /// Words that undo a following cue: `undone_by` words and every cue's words.
    negative: Vec<bool>,
    /// Not-risk expressions, each within one sentence.
    not_risk: Vec<(usize, usize)>,
}

impl<'a> MatchContext<'a> {
    fn new(screen: &'a RiskScreen, reading: &'a Reading, hits: &[Hit], uncertain: bool) -> Self {
        let words = reading.words.as_slice();
        let mut cues_ending_at = vec![Vec::new(); words.len() + 1];
        let mut after_cue_at = vec![false; words.len() + 1];
        let mut negative: Vec<bool> = words
            .iter()
            .map(|w| screen.undone_by.contains(&w.key))
            .collect();
        let mut not_risk = Vec::new();
        for hit in hits {
            match hit.owner {
                Owner::NegationCue => {
                    cues_ending_at[hit.end].push(hit.start);
                    negative[hit.start..hit.end].fill(true);
                }
                Owner::ConcordNegationCue => cues_ending_at[hit.end].push(hit.start),
                Owner::AfterNegationCue => after_cue_at[hit.start] = true,
                Owner::NotRisk if words[hit.start].sentence == words[hit.end - 1].sentence => {
                    not_risk.push((hit.start, hit.end));
                }
                _ => {}
            }
        }
        Self {
            screen,
            words,
            uncertain,
            cues_ending_at,
            after_cue_at,
            negative,
            not_risk,
        }
    }

    fn stands(&self, hit: &Hit) -> bool {
        let excepted = self
            .not_risk
            .iter()
            .any(|&(start, end)| start <= hit.start && hit.end <= end);
        !excepted && (self.uncertain || !(self.negated(hit.start) || self.negated_after(hit.end)))
    }

    /// Whether a negation that follows the match ending before word `end` negates it: in the
    /// same clause, within the window, with only after-bridge words between.
    fn negated_after(&self, end: usize) -> bool {
        let Some(last) = end.checked_sub(1) else {
            return false;
        };
        let clause = self.words[last].clause;
        for at in end..(end + self.screen.after_window).min(self.words.len()) {
            if self.words[at].clause != clause {
                return false;
            }
            if self.after_cue_at[at] {
                return true;
            }
            if !self.screen.after_bridge_words.contains(&self.words[at].key) {
                return false;
            }
        }
        false
    }

    /// Whether a cue negates the match starting at word `start` (see the module docs).
    fn negated(&self, start: usize) -> bool {
        let clause = self.words[start].clause;
        let mut end = start;
        for _ in 0..self.screen.negation_window {
            if end == 0 {
                return false;
            }
            let cue = self.cues_ending_at[end]
                .iter()
                .copied()
                .filter(|&cue| {
                    self.words[cue].clause == clause && self.words[end - 1].clause == clause
                })
                .min();
            if let Some(cue) = cue {
                return !self.undone(cue, clause);
            }
            let before = &self.words[end - 1];
            if before.clause != clause || !self.screen.bridge_words.contains(&before.key) {
                return false;
            }
            end -= 1;
        }
        false
    }

    /// Whether the cue starting at word `cue` is undone by a negative word just before it.
    fn undone(&self, cue: usize, clause: usize) -> bool {
        let from = cue.saturating_sub(self.screen.negation_window);
        (from..cue)
            .rev()
            .take_while(|&w| self.words[w].clause == clause)
            .any(|w| self.negative[w])
    }
}

// ---------------------------------------------------------------------------------------------
// Reading a text into words.

/// How the file says texts (and its own phrases) are read: emoji, spellings, clause breaks.
#[derive(Clone, Default)]
struct TextReader {
    emoji: Vec<(String, String)>,
    /// Squeezed variant words joined by spaces → the word it is read as.
    spellings: HashMap<String, String>,
    longest_spelling: usize,
    break_words: HashSet<String>,
}

/// A word as written, lower case, before spellings.
struct WrittenWord {
    text: String,
    sentence: usize,
}

/// A word as read, after spellings.
#[derive(Debug)]
struct Word {
    text: String,
    /// `text` with repeated letters squeezed: what phrases compare.
    key: String,
    /// Punctuation-delimited; spellings and not-risk expressions stay inside one.
    sentence: usize,
    /// A sentence further split by break words; negation stays inside one.
    clause: usize,
}

/// One reading of a text (as written, or as leetspeak).
struct Reading {
    words: Vec<Word>,
    /// The words before spellings, and squeezed, for phrases.
    written_texts: Vec<String>,
    written_keys: Vec<String>,
    /// The words before spellings, joined by single spaces, for patterns.
    written_text: String,
    written_starts: Vec<usize>,
    written_to_word: Vec<usize>,
    /// The words after spellings, joined by single spaces, for patterns.
    text: String,
    starts: Vec<usize>,
}

enum CharKind {
    Word,
    Ignored,
    WordBreak,
    ClauseBreak,
}

fn char_kind(c: char) -> CharKind {
    if c.is_alphanumeric() || c == '@' || c == '$' || is_indic(c) {
        return CharKind::Word;
    }
    if APOSTROPHES.contains(&c)
        || matches!(c,
            '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}'
            | '\u{FE00}'..='\u{FE0F}' | '\u{0300}'..='\u{036F}')
    {
        return CharKind::Ignored;
    }
    if c == '\n' || c == '\r' {
        return CharKind::ClauseBreak;
    }
    if c.is_whitespace() {
        return CharKind::WordBreak;
    }
    if c.is_ascii() {
        return match c {
            '.' | ',' | ';' | ':' | '!' | '?' => CharKind::ClauseBreak,
            _ => CharKind::WordBreak,
        };
    }
    match c {
        // curly double quotes, guillemets, Unicode hyphens
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{00AB}' | '\u{00BB}' | '\u{2010}'
        | '\u{2011}' => CharKind::WordBreak,
        _ => CharKind::ClauseBreak,
    }
}

/// Letters and signs of the Indic scripts (Devanagari to Sinhala: Bengali, Gurmukhi …), whose
/// vowel signs and viramas are marks rather than letters but belong inside a word. The
/// dandas (। ॥) end a sentence.
fn is_indic(c: char) -> bool {
    matches!(c, '\u{0900}'..='\u{0DFF}') && !matches!(c, '\u{0964}' | '\u{0965}')
}

/// A letter of a script other than Latin, which a number typed next to it does not join.
fn is_other_script_letter(c: char) -> bool {
    u32::from(c) >= 0x0370 && (c.is_alphabetic() || is_indic(c))
}

fn splits_from_number(last: char, next: char) -> bool {
    (last.is_ascii_digit() && is_other_script_letter(next))
        || (is_other_script_letter(last) && next.is_ascii_digit())
}

/// Marks that people often leave out when they type, so the reader drops them: Arabic
/// harakat (tashkeel), tatweel and the lone hamza; the Bengali nukta and chandrabindu; the
/// Gurmukhi nukta, addak, tippi and bindi.
fn folds_away(c: char) -> bool {
    matches!(c,
        '\u{0610}'..='\u{061A}' | '\u{064B}'..='\u{065F}' | '\u{0670}' | '\u{06D6}'..='\u{06ED}'
        | '\u{0640}' | '\u{0621}'
        | '\u{0981}' | '\u{09BC}'
        | '\u{0A02}' | '\u{0A3C}' | '\u{0A70}' | '\u{0A71}')
}

/// A lower-case character as the reader sees it, pushed onto `out`. People type the same word
/// with and without accents, and with Arabic, Urdu or Persian keyboards, so each letter is read
/// in one form and the file's phrases go through the same step:
/// - Latin letters lose their accents: Polish ł ą ę ś ż ź ć ń ó, Romanian ă â î ș ț (and the
///   cedilla forms ş ţ), Portuguese ã õ ç á é ê ô …, so "chcę umrzeć" = "chce umrzec".
/// - Arabic script: alef forms (أ إ آ ٱ) → ا; alef maqsura, Farsi and Urdu yeh (ى ی ے ئ) → ي;
///   teh marbuta and the Urdu hehs (ة ہ ھ ۂ) → ه; keheh (ک) → ك; noon ghunna (ں) → ن; waw with
///   hamza (ؤ) → و.
/// - Bengali: ড় ঢ় য় → ড ঢ য (the nukta is dropped); khanda ta (ৎ) → ত্.
/// - Gurmukhi: letters with a nukta (ਸ਼ ਖ਼ ਗ਼ ਜ਼ ਫ਼ ਲ਼) → the letter without it.
/// - Arabic-Indic, Persian, Bengali and Gurmukhi digits → 0-9, so "٣٠ حبة" holds 30.
fn fold_into(c: char, out: &mut Vec<char>) {
    if c.is_ascii() {
        out.push(c);
        return;
    }
    if folds_away(c) {
        return;
    }
    let digit = |zero: char| char::from_digit(u32::from(c) - u32::from(zero), 10).unwrap_or(c);
    let folded = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => 'a',
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => 'c',
        'ď' | 'đ' => 'd',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => 'e',
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => 'g',
        'ĥ' | 'ħ' => 'h',
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => 'i',
        'ĵ' => 'j',
        'ķ' => 'k',
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => 'l',
        'ñ' | 'ń' | 'ņ' | 'ň' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => 'o',
        'ŕ' | 'ŗ' | 'ř' => 'r',
        'ś' | 'ŝ' | 'ş' | 'š' | 'ș' => 's',
        'ţ' | 'ť' | 'ŧ' | 'ț' => 't',
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => 'u',
        'ŵ' => 'w',
        'ý' | 'ÿ' | 'ŷ' => 'y',
        'ź' | 'ż' | 'ž' => 'z',
        '\u{0622}' | '\u{0623}' | '\u{0625}' | '\u{0671}' | '\u{0672}' | '\u{0673}' => '\u{0627}',
        '\u{0649}' | '\u{06CC}' | '\u{06D0}' | '\u{06CD}' | '\u{06D2}' | '\u{06D3}'
        | '\u{0626}' => '\u{064A}',
        '\u{0629}' | '\u{06C3}' | '\u{06C1}' | '\u{06C2}' | '\u{06BE}' | '\u{06D5}' => '\u{0647}',
        '\u{06A9}' | '\u{06AA}' => '\u{0643}',
        '\u{06BA}' => '\u{0646}',
        '\u{0624}' => '\u{0648}',
        '\u{0660}'..='\u{0669}' => digit('\u{0660}'),
        '\u{06F0}'..='\u{06F9}' => digit('\u{06F0}'),
        '\u{09E6}'..='\u{09EF}' => digit('\u{09E6}'),
        '\u{0A66}'..='\u{0A6F}' => digit('\u{0A66}'),
        '\u{09DC}' => '\u{09A1}',
        '\u{09DD}' => '\u{09A2}',
        '\u{09DF}' => '\u{09AF}',
        '\u{09CE}' => {
            out.extend(['\u{09A4}', '\u{09CD}']);
            return;
        }
        '\u{0A33}' => '\u{0A32}',
        '\u{0A36}' => '\u{0A38}',
        '\u{0A59}' => '\u{0A16}',
        '\u{0A5A}' => '\u{0A17}',
        '\u{0A5B}' => '\u{0A1C}',
        '\u{0A5E}' => '\u{0A2B}',
        _ => c,
    };
    out.push(folded);
}

/// A text with every character folded as the reader folds it (for patterns, whose words
/// must be compared in the same form).
pub(crate) fn fold_text(text: &str) -> String {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        fold_into(c, &mut out);
    }
    out.into_iter().collect()
}

/// Collapses runs of one letter ("killll" → "kil", "too" → "to"); digits are left alone so
/// "100" stays a hundred.
fn squeeze(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut last = None;
    for c in word.chars() {
        if Some(c) == last && !c.is_numeric() {
            continue;
        }
        out.push(c);
        last = Some(c);
    }
    out
}

/// Appends a word's key to a phrase key, squeezing across the join, so spaces inside a
/// phrase do not matter ("kill my self" and "killmyself" both read "kilmyself").
fn push_key(key: &mut String, word_key: &str) {
    let mut chars = word_key.chars();
    if let (Some(last), Some(first)) = (key.chars().next_back(), word_key.chars().next())
        && last == first
        && !first.is_numeric()
    {
        chars.next();
    }
    key.extend(chars);
}

fn leet_letter(c: char) -> Option<char> {
    match c {
        '0' => Some('o'),
        '1' | '!' => Some('i'),
        '3' => Some('e'),
        '4' | '@' => Some('a'),
        '5' | '$' => Some('s'),
        _ => None,
    }
}

/// The leetspeak reading of a word, when it has one: a word with letters whose digits and
/// symbols all read as letters ("k1ll", "k!ll", "$uicide"), or a lone "2" / "4".
fn read_leet(word: &str) -> Option<String> {
    match word {
        "2" => return Some("to".to_owned()),
        "4" => return Some("for".to_owned()),
        _ => {}
    }
    if !word.chars().any(char::is_alphabetic) || !word.chars().any(|c| leet_letter(c).is_some()) {
        return None;
    }
    let read: String = word.chars().map(|c| leet_letter(c).unwrap_or(c)).collect();
    read.chars().all(char::is_alphabetic).then_some(read)
}

impl TextReader {
    fn load(file: &RulesFile) -> Result<Self, RiskConfigError> {
        let mut reader = Self::default();
        for (emoji, word) in &file.emoji {
            let emoji = emoji.replace('\u{FE0F}', "");
            if emoji.trim().is_empty() {
                return Err(RiskConfigError::EmptyPhrase {
                    place: "emoji".to_owned(),
                    number: reader.emoji.len() + 1,
                });
            }
            check_phrase_text("emoji", reader.emoji.len(), word)?;
            reader.emoji.push((emoji, word.clone()));
        }

        let language_spellings = file.languages.iter().flat_map(|(code, language)| {
            language
                .spellings
                .iter()
                .map(move |entry| (format!("languages.{code}.spellings"), entry))
        });
        let all_spellings = file
            .spellings
            .iter()
            .map(|entry| ("spellings".to_owned(), entry))
            .chain(language_spellings);
        for (section, (canonical, variants)) in all_spellings {
            check_phrase_text(&section, 0, canonical)?;
            let canonical_words = reader.words(canonical, false);
            let [canonical_word] = canonical_words.as_slice() else {
                return Err(RiskConfigError::NotOneWord {
                    place: section,
                    phrase: canonical.clone(),
                });
            };
            let canonical_key = squeeze(&canonical_word.text);
            let place = format!("{section}.{canonical}");
            for (n, variant) in variants.iter().enumerate() {
                check_phrase_text(&place, n, variant)?;
                let words = reader.words(variant, false);
                if words.len() > MAX_SPELLING_WORDS {
                    return Err(RiskConfigError::SpellingTooLong {
                        variant: variant.clone(),
                        max: MAX_SPELLING_WORDS,
                    });
                }
                let key = words
                    .iter()
                    .map(|w| squeeze(&w.text))
                    .collect::<Vec<_>>()
                    .join(" ");
                if key == canonical_key {
                    continue;
                }
                if let Some(first) = reader.spellings.get(&key)
                    && *first != canonical_word.text
                {
                    return Err(RiskConfigError::ConflictingSpelling {
                        variant: variant.clone(),
                        first: first.clone(),
                        second: canonical.clone(),
                    });
                }
                reader.longest_spelling = reader.longest_spelling.max(words.len());
                reader.spellings.insert(key, canonical_word.text.clone());
            }
        }

        reader.break_words =
            reader.single_words("clauses.break_words", &file.clauses.break_words)?;
        for (code, language) in &file.languages {
            let place = format!("languages.{code}.break_words");
            let words = reader.single_words(&place, &language.break_words)?;
            reader.break_words.extend(words);
        }
        Ok(reader)
    }

    /// The words of a text as written: emoji read, lower case, apostrophes dropped,
    /// each with the number of the sentence it is in. For leetspeak, a `!` between letters
    /// is a letter ("k!ll"); otherwise it ends a clause ("die!please" is two words).
    fn words(&self, text: &str, leet: bool) -> Vec<WrittenWord> {
        let with_emoji_read;
        let text = if self.emoji.iter().any(|(e, _)| text.contains(e.as_str())) {
            let mut read = text.replace('\u{FE0F}', "");
            for (emoji, word) in &self.emoji {
                read = read.replace(emoji.as_str(), &format!(" {word} "));
            }
            with_emoji_read = read;
            with_emoji_read.as_str()
        } else {
            text
        };

        let mut chars: Vec<char> = Vec::with_capacity(text.len());
        for c in text.chars().flat_map(char::to_lowercase) {
            fold_into(c, &mut chars);
        }
        let mut words = Vec::new();
        let mut current = String::new();
        let mut sentence = 0;
        for (i, &c) in chars.iter().enumerate() {
            let kind = if leet
                && c == '!'
                && i > 0
                && chars[i - 1].is_alphabetic()
                && chars.get(i + 1).is_some_and(|n| n.is_alphabetic())
            {
                CharKind::Word
            } else {
                char_kind(c)
            };
            match kind {
                CharKind::Word => {
                    // "৩০টা" (30 pieces) is a number and a word, so patterns see the number.
                    if current
                        .chars()
                        .next_back()
                        .is_some_and(|last| splits_from_number(last, c))
                    {
                        end_word(&mut words, &mut current, sentence);
                    }
                    current.push(c);
                }
                CharKind::Ignored => {}
                CharKind::WordBreak => end_word(&mut words, &mut current, sentence),
                CharKind::ClauseBreak => {
                    end_word(&mut words, &mut current, sentence);
                    sentence += 1;
                }
            }
        }
        end_word(&mut words, &mut current, sentence);
        words
    }

    /// The leetspeak reading, or `None` when the text has no leetspeak.
    fn read_leetspeak(&self, text: &str) -> Option<Reading> {
        let written = self.words(text, true);
        written
            .iter()
            .any(|w| read_leet(&w.text).is_some())
            .then(|| self.read(&written, true))
    }

    /// Reads written words into words: leetspeak (when asked), spellings, clauses.
    fn read(&self, written: &[WrittenWord], leet: bool) -> Reading {
        let texts: Vec<String> = written
            .iter()
            .map(|w| {
                leet.then(|| read_leet(&w.text))
                    .flatten()
                    .unwrap_or_else(|| w.text.clone())
            })
            .collect();
        let keys: Vec<String> = texts.iter().map(|t| squeeze(t)).collect();
        let drafts: Vec<Word> = texts
            .iter()
            .zip(&keys)
            .zip(written)
            .map(|((text, key), w)| Word {
                text: text.clone(),
                key: key.clone(),
                sentence: w.sentence,
                clause: 0,
            })
            .collect();
        // Twice, so a misspelling inside a contraction still reads ("wnt 2" → "want to" → "wanna").
        let (drafts, first_map) = self.respell(drafts);
        let (mut words, second_map) = self.respell(drafts);
        let written_to_word: Vec<usize> = first_map.iter().map(|&i| second_map[i]).collect();

        let mut clause = 0;
        for k in 1..words.len() {
            if words[k].sentence != words[k - 1].sentence
                || self.break_words.contains(&words[k].key)
            {
                clause += 1;
            }
            words[k].clause = clause;
        }

        let (written_text, written_starts) = join_words(texts.iter().map(String::as_str));
        let (text, starts) = join_words(words.iter().map(|w| w.text.as_str()));
        Reading {
            words,
            written_texts: texts,
            written_keys: keys,
            written_text,
            written_starts,
            written_to_word,
            text,
            starts,
        }
    }

    /// Words with `[spellings]` applied, and for each word given, the word it became.
    fn respell(&self, words: Vec<Word>) -> (Vec<Word>, Vec<usize>) {
        let keys: Vec<String> = words.iter().map(|w| w.key.clone()).collect();
        let mut respelt: Vec<Word> = Vec::with_capacity(words.len());
        let mut map = Vec::with_capacity(words.len());
        let mut words = words.into_iter().enumerate();
        while let Some((i, word)) = words.next() {
            map.push(respelt.len());
            match self.spelling_at(&keys, i) {
                Some((len, text)) => {
                    for _ in 1..len {
                        words.next();
                        map.push(respelt.len());
                    }
                    respelt.push(Word {
                        key: squeeze(&text),
                        text,
                        ..word
                    });
                }
                None => respelt.push(word),
            }
        }
        (respelt, map)
    }

    /// The longest spelling that starts at word `i`. It may cross punctuation; the word it
    /// makes belongs to the sentence of its first word, so a cue made across a full stop
    /// ("do. not") never negates what follows.
    fn spelling_at(&self, keys: &[String], i: usize) -> Option<(usize, String)> {
        let longest = self.longest_spelling.min(keys.len() - i);
        (1..=longest).rev().find_map(|len| {
            let key = keys[i..i + len].join(" ");
            self.spellings.get(&key).map(|word| (len, word.clone()))
        })
    }

    /// A phrase from the file read as words, or an error naming it when it is not words.
    fn phrase(
        &self,
        place: &str,
        index: usize,
        phrase: &str,
    ) -> Result<Vec<Word>, RiskConfigError> {
        check_phrase_text(place, index, phrase)?;
        let words = self.read(&self.words(phrase, false), false).words;
        if words.is_empty() {
            return Err(RiskConfigError::EmptyPhrase {
                place: place.to_owned(),
                number: index + 1,
            });
        }
        Ok(words)
    }

    /// A list of one-word entries, as the keys they are compared by.
    fn single_words(
        &self,
        place: &str,
        list: &[String],
    ) -> Result<HashSet<String>, RiskConfigError> {
        let mut keys = HashSet::with_capacity(list.len());
        for (n, entry) in list.iter().enumerate() {
            let mut words = self.phrase(place, n, entry)?;
            match (words.pop(), words.is_empty()) {
                (Some(word), true) => keys.insert(word.key),
                _ => {
                    return Err(RiskConfigError::NotOneWord {
                        place: place.to_owned(),
                        phrase: entry.clone(),
                    });
                }
            };
        }
        Ok(keys)
    }
}

fn end_word(words: &mut Vec<WrittenWord>, current: &mut String, sentence: usize) {
    if !current.is_empty() {
        words.push(WrittenWord {
            text: std::mem::take(current),
            sentence,
        });
    }
}

/// Words joined by single spaces, and where each starts.
fn join_words<'a>(words: impl Iterator<Item = &'a str>) -> (String, Vec<usize>) {
    let mut text = String::new();
    let mut starts = Vec::new();
    for word in words {
        if !text.is_empty() {
            text.push(' ');
        }
        starts.push(text.len());
        text.push_str(word);
    }
    (text, starts)
}

/// The words `start..end` that the bytes `from..to` of a joined text cover.
fn word_span(starts: &[usize], from: usize, to: usize) -> Option<(usize, usize)> {
    if from >= to {
        return None;
    }
    let start = starts.partition_point(|&s| s <= from).checked_sub(1)?;
    let end = starts.partition_point(|&s| s < to);
    (start < end).then_some((start, end))
}

impl Reading {
    /// The words that the written words `start..end` were read into.
    fn written_span(&self, start: usize, end: usize) -> (usize, usize) {
        (
            self.written_to_word[start],
            self.written_to_word[end - 1] + 1,
        )
    }

    /// Pattern matches on both joined texts. After each match the search restarts at the
    /// next word, so a negated match cannot hide an overlapping one that stands.
    fn pattern_hits(&self, pattern: &Regex, owner: Owner, hits: &mut Vec<Hit>) {
        for (text, starts, written) in [
            (&self.text, &self.starts, false),
            (&self.written_text, &self.written_starts, true),
        ] {
            let mut at = 0;
            while let Some(m) = pattern.find_at(text, at) {
                if let Some((start, end)) = word_span(starts, m.start(), m.end()) {
                    let (start, end) = if written {
                        self.written_span(start, end)
                    } else {
                        (start, end)
                    };
                    hits.push(Hit { owner, start, end });
                }
                let next = starts.partition_point(|&s| s <= m.start());
                match starts.get(next) {
                    Some(&next_start) => at = next_start,
                    None => break,
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Phrase lookup.

/// Phrases by matching key (squeezed words run together), so a text is matched against all
/// lists in one pass over its words. Each phrase is indexed both with spellings applied and
/// as written.
#[derive(Clone, Default)]
struct PhraseIndex {
    by_key: HashMap<String, Vec<Entry>>,
    longest_key: usize,
    count: usize,
    /// Risk phrases of two or more words with long keys, also looked for inside a single
    /// run-together word ("#iwanttodie").
    run_on: Vec<(String, Owner)>,
}

/// One phrase under its key.
#[derive(Clone, PartialEq)]
struct Entry {
    owner: Owner,
    /// A one-word phrase's letters. Squeezing alone would let "nose" match "noose", so a
    /// one-word phrase must be spelt in full, or with a letter stretched ("nooooose").
    exact: Option<String>,
}

/// Whether a word has a letter typed three or more times in a row ("diiie").
fn is_stretched(word: &str) -> bool {
    let chars: Vec<char> = word.chars().collect();
    chars
        .windows(3)
        .any(|w| w[0] == w[1] && w[1] == w[2] && !w[0].is_numeric())
}

impl PhraseIndex {
    fn add_all(
        &mut self,
        reader: &TextReader,
        place: &str,
        phrases: &[String],
        owner: Owner,
    ) -> Result<(), RiskConfigError> {
        for (n, phrase) in phrases.iter().enumerate() {
            let read: Vec<(String, String)> = reader
                .phrase(place, n, phrase)?
                .into_iter()
                .map(|w| (w.key, w.text))
                .collect();
            let written: Vec<(String, String)> = reader
                .words(phrase, false)
                .into_iter()
                .map(|w| (squeeze(&w.text), w.text))
                .collect();
            for words in [read, written] {
                let mut key = String::new();
                for (word_key, _) in &words {
                    push_key(&mut key, word_key);
                }
                self.longest_key = self.longest_key.max(key.len());
                let exact = match words.as_slice() {
                    [(_, text)] => Some(text.clone()),
                    _ => None,
                };
                let run_on = (key.clone(), owner);
                if matches!(owner, Owner::Signal(_))
                    && exact.is_none()
                    && key.len() >= MIN_RUN_ON_KEY
                    && !self.run_on.contains(&run_on)
                {
                    self.run_on.push(run_on);
                }
                let entry = Entry { owner, exact };
                let entries = self.by_key.entry(key).or_default();
                if !entries.contains(&entry) {
                    entries.push(entry);
                }
            }
            self.count += 1;
        }
        Ok(())
    }

    /// Matches over a sequence of words, given as keys and texts; `start..end` index into it.
    fn find(&self, keys: &[&str], texts: &[&str]) -> Vec<Hit> {
        let mut hits = Vec::new();
        for start in 0..keys.len() {
            let mut key = String::new();
            let mut letters = String::new();
            for end in start..keys.len() {
                push_key(&mut key, keys[end]);
                letters.push_str(texts[end]);
                if key.len() > self.longest_key {
                    break;
                }
                let Some(entries) = self.by_key.get(&key) else {
                    continue;
                };
                for entry in entries {
                    let spelt = entry
                        .exact
                        .as_ref()
                        .is_none_or(|exact| *exact == letters || is_stretched(&letters));
                    if spelt {
                        hits.push(Hit {
                            owner: entry.owner,
                            start,
                            end: end + 1,
                        });
                    }
                }
            }
        }
        hits
    }

    /// Risk phrases inside single run-together words.
    fn find_run_on(&self, keys: &[&str]) -> Vec<Hit> {
        let mut hits = Vec::new();
        for (i, word_key) in keys.iter().enumerate() {
            if word_key.len() <= MIN_RUN_ON_KEY {
                continue;
            }
            for (phrase_key, owner) in &self.run_on {
                if word_key.len() > phrase_key.len() && word_key.contains(phrase_key.as_str()) {
                    hits.push(Hit {
                        owner: *owner,
                        start: i,
                        end: i + 1,
                    });
                }
            }
        }
        hits
    }
}

// ---------------------------------------------------------------------------------------------
// Validation helpers.

fn is_signal_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('_')
        && !name.contains("__")
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn check_phrase_text(place: &str, index: usize, phrase: &str) -> Result<(), RiskConfigError> {
    if phrase.trim().is_empty() {
        return Err(RiskConfigError::EmptyPhrase {
            place: place.to_owned(),
            number: index + 1,
        });
    }
    let allowed = |c: char| {
        c.is_alphanumeric()
            || c == ' '
            || c == '-'
            || APOSTROPHES.contains(&c)
            || is_indic(c)
            || folds_away(c)
            || matches!(char_kind(c), CharKind::Ignored)
    };
    match phrase.chars().find(|&c| !allowed(c)) {
        Some(character) => Err(RiskConfigError::BadPhrase {
            place: place.to_owned(),
            phrase: phrase.to_owned(),
            character,
        }),
        None => Ok(()),
    }
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
mod tests {
    use std::sync::OnceLock;

    use proptest::prelude::*;

    use super::*;

    fn bundled() -> &'static RiskScreen {
        static SCREEN: OnceLock<RiskScreen> = OnceLock::new();
        SCREEN.get_or_init(RiskScreen::bundled)
    }

    fn flags(text: &str) -> Vec<String> {
        bundled().screen(text)
    }

    const ALL_SIGNALS: [&str; 13] = [
        "command_hallucinations",
        "emoji_means_of_harm",
        "farewell",
        "harm_to_others",
        "not_safe",
        "overdose_taken",
        "poison_or_chemical_swallowed",
        "preparatory_acts",
        "self_harm",
        "suicidal_intent",
        "suicide_plan_or_means",
        "third_party_at_risk",
        "threat_with_weapon",
    ];

    #[test]
    fn bundled_rules_load() {
        let loaded = RiskScreen::from_toml(BUNDLED_RULES);
        assert!(loaded.is_ok(), "bundled rules fail to load: {loaded:?}");
        assert_eq!(bundled().signal_names(), ALL_SIGNALS);
    }

    #[test]
    fn every_signal_has_a_phrase_or_pattern() {
        let file: RulesFile = toml::from_str(BUNDLED_RULES).expect("bundled file parses");
        for (name, signal) in &file.signals {
            assert!(
                !signal.phrases.is_empty() || !signal.patterns.is_empty(),
                "signal {name} has no phrase and no pattern"
            );
            assert!(
                !signal.description.trim().is_empty(),
                "{name} has no description"
            );
        }
    }

    /// Each phrase in the file, texted on its own, raises its own signal: catches a phrase
    /// that a spelling rewrite or a not-risk expression has made unmatchable.
    #[test]
    fn every_bundled_phrase_flags_its_own_signal() {
        let file: RulesFile = toml::from_str(BUNDLED_RULES).expect("bundled file parses");
        for (name, signal) in &file.signals {
            for phrase in &signal.phrases {
                assert!(
                    flags(phrase).contains(name),
                    "phrase {phrase:?} does not flag {name}: {:?}",
                    flags(phrase)
                );
            }
            for rule in &signal.together {
                for means in &rule.any_of {
                    for context in &rule.and_any_of {
                        let text = format!("{means}. {context}");
                        assert!(flags(&text).contains(name), "{text:?} does not flag {name}");
                    }
                }
            }
        }
    }

    #[test]
    fn debug_is_short_and_clone_screens_the_same() {
        let shown = format!("{:?}", bundled());
        assert!(shown.starts_with("RiskScreen {"), "{shown}");
        assert!(shown.len() < 200, "{shown}");
        let copy = bundled().clone();
        assert_eq!(copy.screen("I want to die"), ["suicidal_intent"]);
    }

    /// Texts that must flag, with the signals each must include (others may also flag).
    const MUST_FLAG: &[(&str, &[&str])] = &[
        // suicidal intent or ideation, with misspellings, shorthand and leetspeak
        ("I want to kill myself", &["suicidal_intent"]),
        ("i want to die", &["suicidal_intent"]),
        ("I wanna die", &["suicidal_intent"]),
        ("i wana die", &["suicidal_intent"]),
        ("want 2 die", &["suicidal_intent"]),
        ("I want too die", &["suicidal_intent"]),
        ("I WANT TO DIE", &["suicidal_intent"]),
        ("I want to die!!!!!", &["suicidal_intent"]),
        ("i...want...to...die", &["suicidal_intent"]),
        ("want-to-die", &["suicidal_intent"]),
        ("I w4nt t0 d1e", &["suicidal_intent"]),
        ("I want to d1e", &["suicidal_intent"]),
        ("I'm suicidal", &["suicidal_intent"]),
        ("feeling suicidle tonight", &["suicidal_intent"]),
        ("i feel sucidal", &["suicidal_intent"]),
        ("thinking about suicde", &["suicidal_intent"]),
        ("having thoughts of sucide", &["suicidal_intent"]),
        ("su1c1de", &["suicidal_intent"]),
        ("$uicidal af", &["suicidal_intent"]),
        ("5uicide", &["suicidal_intent"]),
        ("kms", &["suicidal_intent"]),
        ("KMS", &["suicidal_intent"]),
        ("honestly kms 😭😭", &["suicidal_intent"]),
        ("kys", &["suicidal_intent"]),
        ("I'm going to unalive myself", &["suicidal_intent"]),
        ("i want to end it all", &["suicidal_intent"]),
        ("I'm going to end it", &["suicidal_intent"]),
        ("I just want to end it tonight", &["suicidal_intent"]),
        ("I cant go on", &["suicidal_intent"]),
        ("I can't go on like this", &["suicidal_intent"]),
        ("I cannot go on", &["suicidal_intent"]),
        ("I can\u{2019}t go on", &["suicidal_intent"]),
        ("I don't want to be here anymore", &["suicidal_intent"]),
        ("dont want to be here", &["suicidal_intent"]),
        ("I do not want to be here", &["suicidal_intent"]),
        ("I don\u{2019}t wanna be here", &["suicidal_intent"]),
        ("I don't want to wake up tomorrow", &["suicidal_intent"]),
        ("I hope I don't wake up", &["suicidal_intent"]),
        ("there's no reason to live", &["suicidal_intent"]),
        (
            "everyone would be better off without me",
            &["suicidal_intent"],
        ),
        ("they'd be better off without me", &["suicidal_intent"]),
        ("I'd be better off dead", &["suicidal_intent"]),
        ("no point living", &["suicidal_intent"]),
        ("theres no point in living anymore", &["suicidal_intent"]),
        ("what's the point in living", &["suicidal_intent"]),
        ("I wish I was dead", &["suicidal_intent"]),
        ("i want to kill my self", &["suicidal_intent"]),
        ("i want to killmyself", &["suicidal_intent"]),
        ("I want to kiiiiill myself", &["suicidal_intent"]),
        ("gonna kill meself", &["suicidal_intent"]),
        ("I want to kill myslef", &["suicidal_intent"]),
        ("I'm going to top myself", &["suicidal_intent"]),
        ("I'm gonna do myself in", &["suicidal_intent"]),
        ("I've been thinking about ending it", &["suicidal_intent"]),
        ("Im so tired of living", &["suicidal_intent"]),
        ("I can't do this anymore", &["suicidal_intent"]),
        ("I can't take it any more", &["suicidal_intent"]),
        ("I'm ready to die", &["suicidal_intent"]),
        ("I don't think I want to live anymore", &["suicidal_intent"]),
        ("I don't know if I can go on", &["suicidal_intent"]),
        ("I'm not sure I want to be alive", &["suicidal_intent"]),
        ("I don't see the point anymore", &["suicidal_intent"]),
        ("life isn't worth living", &["suicidal_intent"]),
        ("no one would miss me if I died", &["suicidal_intent"]),
        ("kill\u{200B}myself", &["suicidal_intent"]),
        ("kill. myself", &["suicidal_intent"]),
        ("i w@nt 2 k!ll my$elf", &["suicidal_intent"]),
        ("I wanna d!e", &["suicidal_intent"]),
        ("I want to die!please help", &["suicidal_intent"]),
        ("#iwanttodie", &["suicidal_intent"]),
        ("I want to k i l l myself", &["suicidal_intent"]),
        ("i wnt 2 die", &["suicidal_intent"]),
        ("i dnt wnt 2 live", &["suicidal_intent"]),
        ("Do. Not. Want. To. Live.", &["suicidal_intent"]),
        (
            "I want to go to sleep and not wake up",
            &["suicidal_intent"],
        ),
        (
            "ive had enough of everything i just want it to stop",
            &["suicidal_intent"],
        ),
        (
            "I don't want to die, I just want the pain to stop",
            &["suicidal_intent"],
        ),
        ("Everyone hates me. I'm a burden", &["suicidal_intent"]),
        ("Nobody would care if I was gone", &["suicidal_intent"]),
        ("tired of being alive", &["suicidal_intent"]),
        ("sewer slide", &["suicidal_intent"]),
        ("ctb tonight", &["suicidal_intent"]),
        (
            "Paramedic: patient expressing suicidal ideation",
            &["suicidal_intent"],
        ),
        // multi-sentence, other languages and emoji around English
        (
            "Hi. I need help with my mum. Actually I want to die.",
            &["suicidal_intent"],
        ),
        (
            "مجھے مدد چاہیے۔ I want to kill myself",
            &["suicidal_intent"],
        ),
        ("میں بہت پریشان ہوں I want to die ہوں", &["suicidal_intent"]),
        ("Mujhe bahut dukh hai. I want to die", &["suicidal_intent"]),
        (
            "Nie wiem co robić, chcę umrzeć. I want to die",
            &["suicidal_intent"],
        ),
        (
            "Proszę pomóż. Wziąłem 30 tabletek. I've taken 30 tablets",
            &["overdose_taken"],
        ),
        ("😭😭 i want to die 💔", &["suicidal_intent"]),
        ("I want to die 🙏🏽", &["suicidal_intent"]),
        ("ＩＭ ＯＫ. want to die", &["suicidal_intent"]),
        // self-harm
        ("I've been cutting again", &["self_harm"]),
        ("I cut myself last night", &["self_harm"]),
        ("I want to hurt myself", &["self_harm"]),
        ("i keep hurting my self", &["self_harm"]),
        ("i hurt meself again", &["self_harm"]),
        ("relapsed on sh", &["self_harm"]),
        ("I self harmed", &["self_harm"]),
        ("self-harm urges are bad", &["self_harm"]),
        ("I keep burning myself with a lighter", &["self_harm"]),
        ("I've been starving myself", &["self_harm"]),
        // suicide plan or means
        ("I've got a rope", &["suicide_plan_or_means"]),
        ("I'm on the bridge", &["suicide_plan_or_means"]),
        (
            "standing on the edge of the bridge",
            &["suicide_plan_or_means"],
        ),
        (
            "I'm going to jump in front of a train",
            &["suicide_plan_or_means"],
        ),
        ("gonna step in front of a bus", &["suicide_plan_or_means"]),
        (
            "I'm going to take all my tablets",
            &["suicide_plan_or_means"],
        ),
        (
            "I've been stockpiling my tablets",
            &["suicide_plan_or_means"],
        ),
        ("im saving up my pills", &["suicide_plan_or_means"]),
        (
            "I can't cope, I've got paracetamol here",
            &["suicide_plan_or_means"],
        ),
        ("💊💊💊 had enough", &["suicide_plan_or_means"]),
        (
            "how many paracetamol would it take",
            &["suicide_plan_or_means"],
        ),
        ("I want to hang myself", &["suicide_plan_or_means"]),
        ("I tied a noose", &["suicide_plan_or_means"]),
        (
            "sitting in the car with the exhaust running",
            &["suicide_plan_or_means"],
        ),
        ("I'm going to overdose", &["suicide_plan_or_means"]),
        ("I have a gun", &["suicide_plan_or_means"]),
        (
            "I've got a bottle of vodka and all my pills",
            &["suicide_plan_or_means"],
        ),
        (
            "I'm going to drive my car into a tree",
            &["suicide_plan_or_means"],
        ),
        (
            "What happens if you take 50 paracetamol",
            &["suicide_plan_or_means"],
        ),
        ("nooooose", &["suicide_plan_or_means"]),
        (
            "Police here, male on a bridge threatening to jump",
            &["suicide_plan_or_means"],
        ),
        (
            "I want to die and I have tablets",
            &["suicidal_intent", "suicide_plan_or_means"],
        ),
        ("carbon monoxide", &["suicide_plan_or_means"]),
        ("I've got the knife in my hand", &["suicide_plan_or_means"]),
        // an overdose already taken
        ("I've taken 30 tablets", &["overdose_taken"]),
        ("I've taken 30 tablets!!! 😭😭", &["overdose_taken"]),
        ("ive taken 30 paracetamol", &["overdose_taken"]),
        ("ive taken 30 paracetemol", &["overdose_taken"]),
        ("I took all my pills", &["overdose_taken"]),
        ("just took a whole box of paracetamol", &["overdose_taken"]),
        ("I swallowed a load of tablets", &["overdose_taken"]),
        ("took 16 co-codamol", &["overdose_taken"]),
        ("I've OD'd", &["overdose_taken"]),
        ("I\u{2019}ve OD\u{2019}d on my meds", &["overdose_taken"]),
        ("I've taken an overdose", &["overdose_taken"]),
        ("I took too many tablets", &["overdose_taken"]),
        ("i took 3 sleeping tablets", &["overdose_taken"]),
        ("I've had 20 sertraline", &["overdose_taken"]),
        ("I took my pills with vodka", &["overdose_taken"]),
        (
            "I've drunk a bottle of wine and taken my tablets",
            &["overdose_taken"],
        ),
        (
            "My patient has taken an overdose of 30 paracetamol",
            &["overdose_taken"],
        ),
        ("taken the lot", &["overdose_taken"]),
        ("I've taken thirty tablets", &["overdose_taken"]),
        // harm to others
        ("I'm going to kill him", &["harm_to_others"]),
        ("I want to stab someone", &["harm_to_others"]),
        ("I'm going to hurt my mum", &["harm_to_others"]),
        ("I'll kill you", &["harm_to_others"]),
        ("ill kill u", &["harm_to_others"]),
        ("I want to hurt the baby", &["harm_to_others"]),
        (
            "I keep having thoughts of killing my neighbour",
            &["harm_to_others"],
        ),
        ("I could kill her", &["harm_to_others"]),
        ("He's threatening to kill me", &["harm_to_others"]),
        ("I feel like hurting people", &["harm_to_others"]),
        ("I am going to strangle my boyfriend", &["harm_to_others"]),
        // someone else at immediate risk
        ("My son says he's going to end it", &["third_party_at_risk"]),
        ("she's taken pills", &["third_party_at_risk"]),
        ("She\u{2019}s taken pills", &["third_party_at_risk"]),
        (
            "my daughter has taken an overdose",
            &["third_party_at_risk", "overdose_taken"],
        ),
        (
            "My husband is talking about killing himself",
            &["third_party_at_risk"],
        ),
        ("my friend wants to die", &["third_party_at_risk"]),
        (
            "my mum is suicidal",
            &["third_party_at_risk", "suicidal_intent"],
        ),
        ("he's threatening to jump", &["third_party_at_risk"]),
        (
            "My brother is missing and he left a note",
            &["third_party_at_risk"],
        ),
        (
            "she said she'll be dead by morning",
            &["third_party_at_risk"],
        ),
        ("my dad has gone missing", &["third_party_at_risk"]),
        ("I can't wake him up", &["third_party_at_risk"]),
        (
            "my mate said hes gonna top himself",
            &["third_party_at_risk"],
        ),
        (
            "My husband has locked himself in the bathroom with pills",
            &["third_party_at_risk"],
        ),
        (
            "My partner has a knife and says he will kill me",
            &["harm_to_others"],
        ),
        ("I'm scared I'll hurt my baby", &["harm_to_others"]),
        (
            "my partner just swallowed a load of tablets",
            &["overdose_taken"],
        ),
        (
            "Hi. I'm worried about my mum. She's taken pills and won't wake up.",
            &["third_party_at_risk"],
        ),
        // farewell
        ("this is goodbye", &["farewell"]),
        ("I won't be here tomorrow", &["farewell"]),
        ("i wont be here tmrw", &["farewell"]),
        ("say bye to my kids for me", &["farewell"]),
        ("please look after my dog", &["farewell"]),
        ("by the time you read this I'll be gone", &["farewell"]),
        ("I've written a note", &["farewell"]),
        ("Goodbye everyone. Sorry for everything", &["farewell"]),
        ("i gave away my things", &["farewell"]),
        ("i've written letters to my family", &["farewell"]),
        // not safe
        ("I'm not safe", &["not_safe"]),
        ("I am not safe", &["not_safe"]),
        ("I don't feel safe right now", &["not_safe"]),
        ("I can't keep myself safe", &["not_safe"]),
        ("it is not safe for me here", &["not_safe"]),
        ("I need help I've done something stupid", &["not_safe"]),
        // command hallucinations
        (
            "the voices are telling me to hurt people",
            &["command_hallucinations", "harm_to_others"],
        ),
        ("voices telling me to jump", &["command_hallucinations"]),
    ];

    /// Ordinary texts that must not flag.
    const MUST_NOT_FLAG: &[&str] = &[
        "",
        "hello",
        "Hi",
        "yes",
        "2",
        "I need help with my mum",
        "can you call me tomorrow",
        "Can I change my appointment to Tuesday?",
        "My son is 19 and lives with me",
        "I'm a paramedic referring a patient",
        "Is the crisis team open at weekends?",
        "Please call my partner, he knows about my care",
        "thanks, bye",
        "ok goodbye",
        "Bye for now",
        "I'm feeling low but safe",
        "I'm safe",
        "Yes I am safe right now",
        "no, I'm fine thanks",
        // "die" must not match inside other words or idioms
        "my diet is going badly",
        "I died laughing",
        "I'm dying to see my grandson",
        "the battery died",
        "I'm dead tired",
        "My dog died last week and I'm sad",
        // everyday "kill", "hurt", "shoot"
        "My back is killing me",
        "this heat is killing me",
        "Killing time before my appointment",
        "I could murder a cup of tea",
        "I hurt her feelings and feel bad",
        "I think I hurt my mum's feelings",
        "I'll shoot you a text later",
        "Hit me up when you can",
        "I ran 10 kms today",
        "kmsx",
        "I cut my finger cooking",
        "I need to cut my hair",
        "my nose is blocked",
        "I hurt my nose",
        // medicines in ordinary use: no amount, no distress, nothing taken in excess
        "I take my tablets every morning",
        "I took my tablets this morning",
        "She's taken her tablets today",
        "He took 2 paracetamol for his headache",
        "I stopped taking my tablets because of side effects",
        "My mum has dementia and forgets her medication",
        "Can you tell me how many tablets I should take?",
        "I need a repeat prescription for sertraline",
        "I took all my tablets as prescribed today",
        "I had to take 2 extra paracetamol for my back pain",
        // places and vehicles in ordinary use
        "The train was late so I missed my appointment",
        "I'm on the bus",
        "I walked over the bridge to the clinic",
        "I'm going to the bridge club on Friday",
        // negated risk phrases
        "I'm not going to hurt myself",
        "I don't want to die",
        "I do not want to die",
        "I would never kill myself",
        "I'm not suicidal",
        "I'm not suicidal, I just need to talk to someone",
        "I have no thoughts of suicide",
        "I don't have any suicidal thoughts",
        "I haven't self harmed in months",
        "I'm not thinking about suicide",
        "I'm not going to end it",
        "I'm not going to kill myself, I promise",
        "I'd never take an overdose",
        "I would never hurt anyone",
        "I don't want to hurt anyone",
        "I'm not going to hurt myself or anyone else",
        "I'm not in danger",
        "I'm not unsafe",
        "I don't feel unsafe",
        "No. I'm not going to hurt myself.",
        "I've not taken an overdose",
        "I have no intention of killing myself",
        "I'm not gonna kms",
        "Denies suicidal ideation",
        "I'm a GP. Patient has no current suicidal intent",
        "my son isn't going to kill himself",
        "I'm on the edge of my seat",
        // other languages only, and emoji only
        "Nie, dziękuję",
        "مجھے مدد چاہیے",
        "😊👍",
        "🙂🙃😉",
    ];

    #[test]
    fn texts_that_must_flag() {
        let mut failures = Vec::new();
        for (text, expected) in MUST_FLAG {
            let got = flags(text);
            if let Some(missing) = expected.iter().find(|s| !got.iter().any(|g| g == *s)) {
                failures.push(format!("{text:?}: missing {missing}, got {got:?}"));
            }
        }
        assert!(
            failures.is_empty(),
            "{} missed:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    #[test]
    fn texts_that_must_not_flag() {
        let failures: Vec<String> = MUST_NOT_FLAG
            .iter()
            .map(|text| (text, flags(text)))
            .filter(|(_, got)| !got.is_empty())
            .map(|(text, got)| format!("{text:?}: {got:?}"))
            .collect();
        assert!(
            failures.is_empty(),
            "{} false alarms:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    /// False alarms we accept on purpose: each is close to a real risk text, and a missed
    /// signal costs more than a call. Kept here so the choice is visible and reviewed.
    #[test]
    fn texts_knowingly_flagged() {
        let cases: &[(&str, &str)] = &[
            // self-harm phrase used for an accident
            ("I cut myself shaving", "self_harm"),
            // a jumping plan phrase used for an everyday jump
            ("I'm going to jump in the shower", "suicide_plan_or_means"),
            // a patient rearranging an appointment uses a farewell phrase
            ("I won't be here tomorrow, can we rearrange?", "farewell"),
            // the "not" is too far from "hurt myself" to count (window of 3 words)
            ("I'm not going to do anything to hurt myself", "self_harm"),
            // hyperbole that is also how a threat of violence is reported
            (
                "my mum's gonna kill me when she sees my room",
                "harm_to_others",
            ),
            // the word "suicide" in a film title
            ("Watching Suicide Squad", "suicidal_intent"),
            // three tablets count as an overdose taken
            ("I had 3 paracetamol for my headache", "overdose_taken"),
            // a means word with distress, whatever the topic
            (
                "I can't cope with the train strike",
                "suicide_plan_or_means",
            ),
            // "today" is a time limit, a hedge that turns off negation
            ("I won't hurt myself today", "self_harm"),
            // a phrase with its own "don't" about an appointment time
            (
                "I don't want to be here at 9am, can we do later?",
                "suicidal_intent",
            ),
            // "no" just before "not" reads as a double negative ("no way I'm not ...")
            ("no im not going to hurt myself", "self_harm"),
            // "of" and "off" read alike, so this reads like "off the bridge"
            ("a picture of the bridge", "suicide_plan_or_means"),
        ];
        for (text, signal) in cases {
            assert!(
                flags(text).iter().any(|s| s == signal),
                "{text:?} no longer flags {signal}"
            );
        }
    }

    #[test]
    fn negation_switches_off_only_a_nearby_cue_in_the_same_clause() {
        let cases: &[(&str, &[&str])] = &[
            ("I'm not going to hurt myself", &[]),
            ("I don't want to die", &[]),
            ("I won't kill myself", &[]),
            ("I'm not really going to hurt myself", &[]),
            ("I no longer want to kill myself", &[]),
            // the cue belongs to another clause
            ("not ok and I want to kill myself", &["suicidal_intent"]),
            ("not ok, want to die", &["suicidal_intent"]),
            ("I'm not ok but I want to die", &["suicidal_intent"]),
            ("No. I want to die", &["suicidal_intent"]),
            ("I'm not 😭 want to die", &["suicidal_intent"]),
            // words between the cue and the phrase that are not bridge words
            ("I'm not ok I want to die", &["suicidal_intent"]),
            ("No I want to die", &["suicidal_intent"]),
            (
                "I never thought I would want to kill myself",
                &["suicidal_intent"],
            ),
            ("I didn't mean to hurt myself", &["self_harm"]),
            // the cue is too far before the phrase
            (
                "I have never felt so much like I want to die",
                &["suicidal_intent"],
            ),
            // a cue after the phrase negates nothing
            ("I want to die, not live", &["suicidal_intent"]),
            // phrases with their own negation are never negated by it
            ("I dont want to be here", &["suicidal_intent"]),
            ("I can't go on", &["suicidal_intent"]),
            ("I don't want to wake up", &["suicidal_intent"]),
            ("there is no reason to live", &["suicidal_intent"]),
            ("I'm not safe", &["not_safe"]),
            // double negatives and "why not"
            ("I can't not hurt myself", &["self_harm"]),
            ("I cannot not hurt myself", &["self_harm"]),
            ("I'm not able to not hurt myself", &["self_harm"]),
            ("why not just kill myself", &["suicidal_intent"]),
            ("why not kill myself", &["suicidal_intent"]),
            (
                "the only reason I don't kill myself is my kids",
                &["suicidal_intent"],
            ),
            (
                "if I don't kill myself tonight it will be tomorrow",
                &["suicidal_intent"],
            ),
            ("I'm trying not to hurt myself", &["self_harm"]),
        ];
        for (text, expected) in cases {
            assert_eq!(flags(text), *expected, "{text:?}");
        }
    }

    #[test]
    fn uncertainty_anywhere_turns_negation_off() {
        let cases: &[(&str, &[&str])] = &[
            ("I'm not sure I won't hurt myself", &["self_harm"]),
            ("I don't know if I won't hurt myself", &["self_harm"]),
            ("I won't hurt myself, maybe", &["self_harm"]),
            ("I might not kill myself", &["suicidal_intent"]),
            ("I'm scared I'll hurt myself", &["self_harm"]),
            (
                "I'm afraid I might not be able to stop myself. I won't kill myself",
                &["suicidal_intent"],
            ),
            ("I can't promise I won't hurt myself", &["self_harm"]),
            ("I'm worried I'll hurt myself", &["self_harm"]),
            ("I won't kill myself tonight", &["suicidal_intent"]),
            ("I'm not going to kill myself yet", &["suicidal_intent"]),
            ("I'm not going to kill myself for now", &["suicidal_intent"]),
            ("I don't think I'll hurt myself", &["self_harm"]),
            ("idk, I'm not suicidal", &["suicidal_intent"]),
            (
                "I'm not suicidal but part of me wants to die",
                &["suicidal_intent"],
            ),
            (
                "I'm not going to kill myself but I want to",
                &["suicidal_intent"],
            ),
            // uncertainty on its own is not a risk signal
            ("I'm not sure what time my appointment is", &[]),
            ("maybe call me after lunch", &[]),
        ];
        for (text, expected) in cases {
            assert_eq!(flags(text), *expected, "{text:?}");
        }
    }

    #[test]
    fn results_are_sorted_and_unique() {
        let got = flags(
            "I want to kill myself. I want to kill myself. I've taken 30 tablets. This is goodbye",
        );
        // tablets alongside another signal also count as means
        assert_eq!(
            got,
            [
                "farewell",
                "overdose_taken",
                "suicidal_intent",
                "suicide_plan_or_means"
            ]
        );
    }

    #[test]
    fn leetspeak_reads_letters_but_keeps_numbers() {
        assert_eq!(flags("su1c1de"), ["suicidal_intent"]);
        assert_eq!(flags("k1ll mys3lf"), ["suicidal_intent"]);
        // "30" must stay a number for the overdose pattern
        assert_eq!(flags("taken 30 tablets"), ["overdose_taken"]);
        // "2" alone is a number, too small to be an overdose
        assert!(flags("took 2 tablets").is_empty());
    }

    // ---- new signals and other languages ----------------------------------------------------

    /// Each text flags `signal` (others may flag too).
    fn assert_flags(signal: &str, texts: &[&str]) {
        let failures: Vec<String> = texts
            .iter()
            .map(|text| (text, flags(text)))
            .filter(|(_, got)| !got.iter().any(|s| s == signal))
            .map(|(text, got)| format!("{text:?}: {got:?}"))
            .collect();
        assert!(
            failures.is_empty(),
            "missing {signal}:\n{}",
            failures.join("\n")
        );
    }

    /// No text flags anything.
    fn assert_quiet(texts: &[&str]) {
        let failures: Vec<String> = texts
            .iter()
            .map(|text| (text, flags(text)))
            .filter(|(_, got)| !got.is_empty())
            .map(|(text, got)| format!("{text:?}: {got:?}"))
            .collect();
        assert!(
            failures.is_empty(),
            "false alarms:\n{}",
            failures.join("\n")
        );
    }

    #[test]
    fn a_threat_to_others_with_a_weapon_is_a_risk_signal() {
        assert_flags(
            "threat_with_weapon",
            &[
                "my son has a knife and is threatening to use it",
                "my husband is waving a knife around",
                "he pulled a knife on me",
                "Police: male with knife threatening family at address",
                "she's holding a kitchen knife and won't put it down",
                "dad has a hammer and is threatening mum",
                "I'm going to stab him",
            ],
        );
        assert_quiet(&[
            "my son is a chef and uses knives all day",
            "the knife crime in our area scares me",
            "I cut the vegetables with a sharp knife",
        ]);
    }

    #[test]
    fn preparatory_acts_are_risk_signals() {
        assert_flags(
            "preparatory_acts",
            &[
                "i've written my goodbye letters",
                "ive written letters to my kids for after im gone",
                "sorted my will out today",
                "i've put my affairs in order",
                "ive been saying my goodbyes to everyone",
                "been giving all my stuff away",
                "I've planned my funeral",
                "Daughter reports pt has been giving possessions away and has updated will",
            ],
        );
        assert_quiet(&[
            "i wrote a letter to my MP about the cuts",
            "i wrote a goodbye card for a colleague who is leaving",
            "we said goodbye to my nan at the funeral yesterday",
            "my will is strong, I'll get through this",
        ]);
    }

    #[test]
    fn swallowing_a_household_chemical_is_a_risk_signal() {
        assert_flags(
            "poison_or_chemical_swallowed",
            &[
                "I drank bleach",
                "ive swallowed some weedkiller",
                "my mum has drunk antifreeze",
                "took rat poison about an hour ago",
                "I'm going to drink the bleach under the sink",
                "111 call: caller states she has swallowed bleach",
                "i just had a mouthful of drain cleaner",
            ],
        );
        assert_quiet(&[
            "I cleaned the bathroom with bleach today",
            "I need to buy antifreeze for the car",
            "I haven't drunk any bleach",
        ]);
    }

    #[test]
    fn emoji_only_risk_messages_are_flagged() {
        for text in [
            "💊💊💊",
            "🔪",
            "🪢",
            "⚰️",
            "🪦",
            "🩸🩸",
            "🔫",
            "💊🍷",
            "💊😭",
            "🔪🩸",
        ] {
            assert!(
                flags(text).iter().any(|s| s == "emoji_means_of_harm"),
                "{text:?}: {:?}",
                flags(text)
            );
        }
        // distress, laughter, prayer or a jab alone are not a means of harm
        assert_quiet(&["😭", "😭😭😭", "💔", "💀", "🙏", "💉", "👍🙂"]);
        // with words, a means emoji still counts alongside distress
        assert_eq!(flags("💊💊💊 had enough"), ["suicide_plan_or_means"]);
    }

    #[test]
    fn polish_risk_texts_are_flagged_and_negations_are_not() {
        assert_flags(
            "suicidal_intent",
            &[
                "Chcę umrzeć",
                "chce umrzec",
                "Chcę się zabić",
                "nie chce juz zyc",
            ],
        );
        assert_flags(
            "overdose_taken",
            &["Wziąłem 30 tabletek", "wzielam wszystkie tabletki"],
        );
        assert_flags("self_harm", &["Tnę się znowu", "Zrobiłem sobie krzywdę"]);
        assert_flags(
            "threat_with_weapon",
            &["Mój syn ma nóż i grozi, że go użyje"],
        );
        assert_flags("suicidal_intent", &["nie wiem czy się nie zabiję"]);
        assert_quiet(&[
            "Nie chcę się zabić",
            "nie chce umrzec, chce pomocy",
            "Nigdy bym sobie nie zrobił krzywdy",
            "Nie mam myśli samobójczych",
            "Pacjent zaprzecza myślom samobójczym",
            "Kroję warzywa nożem",
        ]);
    }

    #[test]
    fn romanian_risk_texts_are_flagged_and_negations_are_not() {
        assert_flags(
            "suicidal_intent",
            &["Vreau să mor", "vreau sa mor", "ma gandesc la sinucidere"],
        );
        assert_flags("overdose_taken", &["Am luat 30 de pastile"]);
        assert_flags(
            "self_harm",
            &[
                "M-am tăiat din nou",
                "M-am tăiat din nou".replace('ă', "a").as_str(),
            ],
        );
        assert_flags("poison_or_chemical_swallowed", &["Am băut clor"]);
        assert_quiet(&[
            "Nu vreau să mor",
            "nu vreau sa ma sinucid, vreau ajutor",
            "Nu am gânduri de sinucidere",
            "Nu m-aș răni niciodată",
            "mor de râs",
        ]);
    }

    #[test]
    fn portuguese_risk_texts_are_flagged_and_negations_are_not() {
        assert_flags(
            "suicidal_intent",
            &["Quero morrer", "Vou me matar", "penso em suicidio"],
        );
        assert_flags("overdose_taken", &["Tomei 30 comprimidos"]);
        assert_flags(
            "poison_or_chemical_swallowed",
            &["Bebi lixívia", "bebi agua sanitaria"],
        );
        assert_flags(
            "threat_with_weapon",
            &["Meu filho tem uma faca e está ameaçando usar"],
        );
        assert_quiet(&[
            "Não quero morrer, quero ajuda",
            "nao vou me matar",
            "Nunca me machucaria",
            "Não tenho pensamentos suicidas",
            "morri de rir",
        ]);
    }

    #[test]
    fn arabic_risk_texts_are_flagged_and_negations_are_not() {
        assert_flags(
            "suicidal_intent",
            &["أريد أن أموت", "اريد ان اموت", "بدي موت", "سأقتل نفسي"],
        );
        // tashkeel and tatweel make no difference
        assert_flags("suicidal_intent", &["أُرِيدُ أَنْ أَمُوتَ", "أريـــد أن أموت"]);
        assert_flags("overdose_taken", &["أخذت ٣٠ حبة"]);
        assert_flags("threat_with_weapon", &["زوجي يهددني بالسكين"]);
        assert_quiet(&[
            "لا أريد أن أموت، أريد المساعدة",
            "لن أقتل نفسي",
            "ليس لدي أفكار انتحارية",
            "قطعت الخضار بالسكين",
        ]);
    }

    #[test]
    fn urdu_risk_texts_are_flagged_and_negations_are_not() {
        assert_flags(
            "suicidal_intent",
            &["میں مرنا چاہتا ہوں", "میں خودکشی کرنا چاہتا ہوں"],
        );
        // typed with Arabic yeh, kaf and heh it reads the same
        assert_flags("suicidal_intent", &["ميں خودكشي كرنا چاهتا هوں"]);
        assert_flags("overdose_taken", &["میں نے ۳۰ گولیاں کھا لی ہیں"]);
        assert_flags("poison_or_chemical_swallowed", &["میں نے بلیچ پی لیا"]);
        // "not" after what it negates
        assert_quiet(&[
            "میں خودکشی نہیں کروں گا",
            "میرے خودکشی کے کوئی خیالات نہیں ہیں",
            "میں مرنا نہیں چاہتا، مدد چاہتا ہوں",
            "مجھے مدد چاہیے",
        ]);
        // unsure: flag
        assert_flags("self_harm", &["پتہ نہیں میں خود کو نقصان پہنچاؤں یا نہیں"]);
    }

    #[test]
    fn roman_urdu_risk_texts_are_flagged_and_negations_are_not() {
        assert_flags(
            "suicidal_intent",
            &[
                "main marna chahta hoon",
                "mjhe marna h",
                "mai khudkshi krna chahta hu",
            ],
        );
        assert_flags("overdose_taken", &["maine 30 goliyan kha li hain"]);
        assert_flags(
            "threat_with_weapon",
            &["mere bete ke paas chaaku hai aur dhamki de raha hai"],
        );
        assert_quiet(&[
            "main khudkushi nahi karunga",
            "main marna nahi chahta, madad chahta hoon",
            "mere khudkushi ke koi khayalat nahi hain",
            "mujhe madad chahiye",
        ]);
    }

    #[test]
    fn punjabi_risk_texts_are_flagged_and_negations_are_not() {
        assert_flags(
            "suicidal_intent",
            &["ਮੈਂ ਮਰਨਾ ਚਾਹੁੰਦਾ ਹਾਂ", "ਮੈਂ ਖੁਦਕੁਸ਼ੀ ਕਰਨਾ ਚਾਹੁੰਦਾ ਹਾਂ"],
        );
        // nukta, tippi and bindi left out read the same
        assert_flags("suicidal_intent", &["ਮੈ ਖੁਦਕੁਸੀ ਕਰਨੀ ਚਾਹੁਦਾ ਹਾ"]);
        assert_flags("overdose_taken", &["ਮੈਂ 30 ਗੋਲੀਆਂ ਖਾ ਲਈਆਂ ਹਨ"]);
        assert_quiet(&[
            "ਮੈਂ ਖੁਦਕੁਸ਼ੀ ਨਹੀਂ ਕਰਾਂਗਾ",
            "ਮੈਨੂੰ ਖੁਦਕੁਸ਼ੀ ਦੇ ਕੋਈ ਵਿਚਾਰ ਨਹੀਂ ਹਨ",
            "ਮੈਨੂੰ ਮਦਦ ਚਾਹੀਦੀ ਹੈ",
        ]);
    }

    #[test]
    fn bengali_risk_texts_are_flagged_and_negations_are_not() {
        assert_flags(
            "suicidal_intent",
            &["আমি মরতে চাই", "আমি আত্মহত্যা করব", "আমি আত্নহত্যা করবো"],
        );
        // Bengali digits joined to a counter word still read as a number
        assert_flags("overdose_taken", &["আমি ৩০টা ওষুধ খেয়েছি"]);
        assert_flags("poison_or_chemical_swallowed", &["আমার ছেলে কীটনাশক খেয়েছে"]);
        assert_quiet(&[
            "আমি মরতে চাই না, সাহায্য চাই",
            "আমি আত্মহত্যা করব না",
            "আমার আত্মহত্যার কোনো চিন্তা নেই",
            "মাথাব্যথার জন্য দুটো ওষুধ খেয়েছি",
        ]);
        assert_flags("self_harm", &["জানি না আমি নিজের ক্ষতি করব কি না"]);
    }

    #[test]
    fn accents_are_optional_and_both_romanian_forms_match() {
        for (with, without) in [
            ("Chcę się zabić", "chce sie zabic"),
            ("Mă gândesc să mă omor", "ma gandesc sa ma omor"),
            ("Não quero mais viver", "nao quero mais viver"),
        ] {
            assert!(!flags(with).is_empty(), "{with:?}");
            assert_eq!(flags(with), flags(without), "{with:?} vs {without:?}");
        }
        // Romanian s and t with a comma (ș ț) or a cedilla (ş ţ)
        assert_eq!(
            flags("mă gândesc la sinucidere"),
            flags("mă gândesc la sinucidere".replace('ș', "ş").as_str())
        );
        assert_eq!(flags("Nu sunt în siguranță"), flags("Nu sunt în siguranţă"));
        assert_eq!(flags("Nu sunt în siguranță"), ["not_safe"]);
    }

    /// Each phrase of every language section, texted on its own, raises its own signal.
    #[test]
    fn every_language_phrase_flags_its_own_signal() {
        let file: RulesFile = toml::from_str(BUNDLED_RULES).expect("bundled file parses");
        assert!(file.languages.len() >= 8);
        for (code, language) in &file.languages {
            assert!(
                language.review.contains("interpreting service"),
                "languages.{code} must say who reviews it"
            );
            for (name, signal) in &language.signals {
                for phrase in &signal.phrases {
                    assert!(
                        flags(phrase).contains(name),
                        "languages.{code}: {phrase:?} does not flag {name}: {:?}",
                        flags(phrase)
                    );
                }
            }
        }
        assert!(
            BUNDLED_RULES
                .contains("MACHINE-DRAFTED, FOR REVIEW BY THE TRUST'S INTERPRETING SERVICE")
        );
    }

    #[test]
    fn language_sections_are_checked_like_the_rest() {
        let with = |section: &str| format!("{MINIMAL}\n{section}");
        let cases = [
            (
                with("[languages.pl]\nname = \"Polish\"\nreview = \" \"\n"),
                "review",
            ),
            (
                with(
                    "[languages.pl]\nname = \"Polish\"\nreview = \"x\"\n[languages.pl.signals.no_such]\nphrases = [\"a\"]\n",
                ),
                "no_such",
            ),
            (
                with("[languages.\"p l\"]\nname = \"Polish\"\nreview = \"x\"\n"),
                "p l",
            ),
            (
                with("[languages.pl]\nname = \"Polish\"\nreview = \"x\"\ncolour = 1\n"),
                "colour",
            ),
            (
                with(
                    "[languages.pl]\nname = \"Polish\"\nreview = \"x\"\n[languages.pl.signals.self_harm]\npatterns = ['(tne']\n",
                ),
                "languages.pl.signals.self_harm.patterns",
            ),
        ];
        for (text, expected) in cases {
            let message = load_error(&text);
            assert!(
                message.contains(expected),
                "{expected:?} not in {message:?}"
            );
        }
        let screen = RiskScreen::from_toml(&with(
            "[languages.pl]\nname = \"Polish\"\nreview = \"x\"\nnegation_cues = [\"nie\"]\n\
             [languages.pl.signals.self_harm]\nphrases = [\"tnę się\"]\n",
        ))
        .expect("loads");
        assert_eq!(screen.screen("tne sie"), ["self_harm"]);
        assert!(screen.screen("nie tnę się").is_empty());
    }

    // ---- rules file errors ------------------------------------------------------------------

    const MINIMAL: &str = r#"
[clauses]
break_words = ["but"]

[negation]
window = 3
cues = ["not"]
bridge_words = ["going", "to"]
undone_by = ["can't"]

[uncertainty]
cues = ["not sure"]

[signals.self_harm]
description = "Hurting themselves"
phrases = ["hurt myself"]
"#;

    fn load_error(text: &str) -> String {
        RiskScreen::from_toml(text)
            .expect_err("these rules should be refused")
            .to_string()
    }

    #[test]
    fn minimal_rules_work() {
        let screen = RiskScreen::from_toml(MINIMAL).expect("minimal rules load");
        assert_eq!(screen.screen("I want to hurt myself"), ["self_harm"]);
        assert!(screen.screen("I'm not going to hurt myself").is_empty());
        assert_eq!(
            screen.screen("not sure. not going to hurt myself"),
            ["self_harm"]
        );
        assert_eq!(screen.signal_names(), ["self_harm"]);
    }

    #[test]
    fn bad_toml_is_refused() {
        let message = load_error("[signals.self_harm\nphrases = [");
        assert!(message.contains("not valid"), "{message}");
        let message = load_error("");
        assert!(message.contains("clauses"), "{message}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let message = load_error(&format!("{MINIMAL}colour = \"red\"\n"));
        assert!(message.contains("colour"), "{message}");
        let message = load_error(&MINIMAL.replace("phrases = ", "phrase = "));
        assert!(message.contains("phrase"), "{message}");
        let message = load_error(&format!("{MINIMAL}\n[extra]\nthing = 1\n"));
        assert!(message.contains("extra"), "{message}");
    }

    #[test]
    fn invalid_regex_is_refused_naming_signal_and_pattern() {
        let message = load_error(&format!("{MINIMAL}patterns = ['(took|taken 30']\n"));
        assert!(message.contains("signals.self_harm.patterns"), "{message}");
        assert!(message.contains("(took|taken 30"), "{message}");
        // a stray `)` must not escape the whole-word wrapper
        let message = load_error(&format!("{MINIMAL}patterns = ['a)|(b']\n"));
        assert!(message.contains("a)|(b"), "{message}");
    }

    #[test]
    fn pattern_matching_everything_is_refused() {
        let message = load_error(&format!("{MINIMAL}patterns = ['x*']\n"));
        assert!(message.contains("matches an empty text"), "{message}");
        assert!(message.contains("x*"), "{message}");
    }

    #[test]
    fn empty_phrase_is_refused_naming_where() {
        let message = load_error(&MINIMAL.replace(r#"["hurt myself"]"#, r#"["hurt myself", " "]"#));
        assert!(message.contains("signals.self_harm.phrases"), "{message}");
        assert!(message.contains("entry 2"), "{message}");
        let message = load_error(&MINIMAL.replace(r#"cues = ["not sure"]"#, r#"cues = ["'"]"#));
        assert!(message.contains("uncertainty.cues"), "{message}");
    }

    #[test]
    fn phrase_with_punctuation_is_refused() {
        let message = load_error(&MINIMAL.replace("hurt myself", "hurt myself!"));
        assert!(message.contains("hurt myself!"), "{message}");
        assert!(message.contains("`!`"), "{message}");
    }

    #[test]
    fn other_rule_mistakes_are_refused() {
        let cases = [
            (MINIMAL.replace("self_harm", "Self-Harm"), "Self-Harm"),
            (MINIMAL.replace("Hurting themselves", " "), "description"),
            (
                MINIMAL.replace(r#"phrases = ["hurt myself"]"#, ""),
                "no phrases, patterns or together rules",
            ),
            (MINIMAL.replace("window = 3", "window = 0"), "negation.window"),
            (MINIMAL.replace(r#"["going", "to"]"#, r#"["going home"]"#), "going home"),
            (MINIMAL.replace("[signals.self_harm]\ndescription = \"Hurting themselves\"\nphrases = [\"hurt myself\"]\n", ""), "signals"),
            (
                format!(
                    "{MINIMAL}[[signals.self_harm.together]]\nany_of = [\"rope\"]\nor_signals = [\"no_such_signal\"]\n"
                ),
                "no_such_signal",
            ),
            (
                format!("{MINIMAL}[[signals.self_harm.together]]\nany_of = [\"rope\"]\n"),
                "together[1]",
            ),
            (
                format!("{MINIMAL}[spellings]\ndont = [\"do not\"]\nnot = [\"do not\"]\n"),
                "do not",
            ),
        ];
        for (text, expected) in cases {
            let message = load_error(&text);
            assert!(
                message.contains(expected),
                "{expected:?} not in {message:?}"
            );
        }
    }

    // ---- properties -------------------------------------------------------------------------

    const POSITIVE: &[(&str, &str)] = &[
        ("I want to kill myself", "suicidal_intent"),
        ("I'm not going to lie, I want to die", "suicidal_intent"),
        ("I've taken 30 tablets", "overdose_taken"),
        ("I'm going to hurt my mum", "harm_to_others"),
        ("my son says he's going to end it", "third_party_at_risk"),
        ("this is goodbye", "farewell"),
        ("I can't go on", "suicidal_intent"),
        ("I'm not sure I won't hurt myself", "self_harm"),
        ("I'm on the bridge", "suicide_plan_or_means"),
        ("I'm not safe", "not_safe"),
    ];

    const NEUTRAL_WORDS: &[&str] = &[
        "hello",
        "thanks",
        "the",
        "weather",
        "is",
        "nice",
        "my",
        "appointment",
        "bus",
        "tea",
        "garden",
        "tuesday",
        "please",
        "call",
        "me",
        "back",
        "dog",
        "walk",
        "work",
        "football",
        "shopping",
        "book",
        "film",
        "music",
        "kitchen",
        "not",
        "no",
        "never",
        "don't",
        "ok",
        "fine",
        "feelings",
        "with",
        "kindness",
        "them",
        "a",
        "an",
        "i",
        "you",
        "bye",
        "but",
    ];

    /// Fragments that exercise every branch of the reader: emoji, apostrophes, leetspeak,
    /// numbers, clause breaks, combining marks, right-to-left text.
    const FRAGMENTS: &[&str] = &[
        "kill",
        "myself",
        "my self",
        "k1ll",
        "$",
        "@",
        "0",
        "30",
        "2",
        "4",
        "tablets",
        "'",
        "’",
        "don't",
        "not",
        ".",
        ",",
        "!",
        "?",
        "\n",
        " ",
        "-",
        "—",
        "…",
        "💊",
        "🔪",
        "😭",
        "\u{FE0F}",
        "\u{200B}",
        "\u{0301}",
        "İ",
        "ß",
        "مجھے",
        "ہوں",
        "۔",
        "zabiję",
        "się",
        "ＩＭ",
        "𝓀",
        "but",
        "and",
        "maybe",
        "no longer",
        "why",
        "can't",
        "kms",
        "end it",
        "sh",
        "\t",
        "\"",
    ];

    proptest! {
        #[test]
        fn any_text_screens_without_panicking(text in proptest::collection::vec(any::<char>(), 0..2000)) {
            let text: String = text.into_iter().collect();
            let got = bundled().screen(&text);
            prop_assert!(got.windows(2).all(|w| w[0] < w[1]), "not sorted and unique: {:?}", got);
        }

        #[test]
        fn tricky_fragments_screen_without_panicking(parts in proptest::collection::vec(proptest::sample::select(FRAGMENTS), 0..300)) {
            let text = parts.concat();
            let got = bundled().screen(&text);
            prop_assert!(got.iter().all(|s| ALL_SIGNALS.contains(&s.as_str())));
        }

        #[test]
        fn neutral_text_after_a_signal_keeps_it(
            (text, signal) in proptest::sample::select(POSITIVE),
            words in proptest::collection::vec(proptest::sample::select(NEUTRAL_WORDS), 0..40),
        ) {
            let longer = format!("{text}. {}", words.join(" "));
            let got = bundled().screen(&longer);
            prop_assert!(got.iter().any(|s| s == signal), "{:?} lost {}: {:?}", longer, signal, got);
        }

        #[test]
        fn neutral_text_before_a_signal_keeps_it(
            (text, signal) in proptest::sample::select(POSITIVE),
            words in proptest::collection::vec(proptest::sample::select(NEUTRAL_WORDS), 0..40),
        ) {
            let longer = format!("{}. {text}", words.join(" "));
            let got = bundled().screen(&longer);
            prop_assert!(got.iter().any(|s| s == signal), "{:?} lost {}: {:?}", longer, signal, got);
        }

        #[test]
        fn capitals_make_no_difference((text, _) in proptest::sample::select(POSITIVE)) {
            prop_assert_eq!(bundled().screen(&text.to_uppercase()), bundled().screen(text));
        }
    }
}
