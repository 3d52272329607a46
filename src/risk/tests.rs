//! The screen's unit tests: the bundled rules, what must and must not flag (texts from
//! `safety/risk-test-texts/`), negation, every language, and properties of any text. Refusals of
//! broken rules files are tested in `rules/tests.rs`.

use std::sync::OnceLock;

use proptest::prelude::*;

use super::rules::RulesFile;
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

// ---- texts and the signals they must raise ----------------------------------------------
//
// The texts live in `safety/risk-test-texts/`, one file per test below, where clinicians can
// read them (the format is in `safety/risk-evaluation.md`).

/// A file of `safety/risk-test-texts/`, with its name for failure messages.
macro_rules! test_texts {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../../safety/risk-test-texts/", $name)),
        )
    };
}

/// Every file of `safety/risk-test-texts/` (the test `every_test_text_file_is_listed` keeps this
/// list and the folder in step).
const TEST_TEXT_FILES: [(&str, &str); 17] = [
    test_texts!("must-flag.tsv"),
    test_texts!("must-not-flag.tsv"),
    test_texts!("knowingly-flagged.tsv"),
    test_texts!("negation.tsv"),
    test_texts!("uncertainty.tsv"),
    test_texts!("threat-with-weapon.tsv"),
    test_texts!("preparatory-acts.tsv"),
    test_texts!("poison-or-chemical-swallowed.tsv"),
    test_texts!("emoji-only.tsv"),
    test_texts!("pl.tsv"),
    test_texts!("ro.tsv"),
    test_texts!("pt.tsv"),
    test_texts!("ar.tsv"),
    test_texts!("ur.tsv"),
    test_texts!("ur-Latn.tsv"),
    test_texts!("pa.tsv"),
    test_texts!("bn.tsv"),
];

const TEST_TEXT_HEADER: [&str; 3] = ["expect", "signals", "text"];

/// What screening a text must give.
#[derive(Debug)]
enum Expect {
    /// Each of these signals (others may flag too).
    Flags(Vec<String>),
    /// These signals and no others.
    Exactly(Vec<String>),
    /// No signal at all.
    Quiet,
}

/// One text of a file, with the line it is on.
#[derive(Debug)]
struct TestText {
    line: usize,
    expect: Expect,
    text: String,
}

/// Reads one file: `#` lines are comments, blank lines are skipped, the first other line is the
/// header, then `expect`, `signals` (comma-separated, `-` for none) and `text`, tab-separated.
/// `\u{…}` in a text stands for that character, so invisible ones can be seen in the file.
fn read_test_texts(name: &str, contents: &str) -> Vec<TestText> {
    let mut lines = contents
        .lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line))
        .filter(|(_, line)| !line.trim().is_empty() && !line.starts_with('#'));
    match lines.next() {
        Some((_, header)) if header.split('\t').eq(TEST_TEXT_HEADER) => {}
        other => panic!("{name}: the first line must be the header, got {other:?}"),
    }
    lines
        .map(|(line, row)| {
            let [expect, signals, text] = row.splitn(3, '\t').collect::<Vec<_>>()[..] else {
                panic!("{name} line {line}: expected 3 tab-separated columns");
            };
            let signals: Vec<String> = match signals.trim() {
                "-" => Vec::new(),
                list => list.split(',').map(|s| s.trim().to_owned()).collect(),
            };
            let expect = match (expect, signals.is_empty()) {
                ("flags", false) => Expect::Flags(signals),
                ("exactly", false) => Expect::Exactly(signals),
                ("quiet", true) => Expect::Quiet,
                _ => panic!(
                    "{name} line {line}: `{expect}` with `{}` must be `flags` or `exactly` with \
                     signals, or `quiet` with `-`",
                    signals.join(", ")
                ),
            };
            let text = unescape(text).unwrap_or_else(|| {
                panic!("{name} line {line}: a `\\` must start a `\\u{{…}}` escape")
            });
            assert!(!text.trim().is_empty(), "{name} line {line}: empty text");
            TestText { line, expect, text }
        })
        .collect()
}

/// A text with each `\u{…}` escape read as its character; `None` for any other backslash.
fn unescape(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let escape = rest[at..].strip_prefix("\\u{")?;
        let end = escape.find('}')?;
        out.push(char::from_u32(
            u32::from_str_radix(&escape[..end], 16).ok()?,
        )?);
        rest = &escape[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Screens every text of the file named `name` and fails listing each text whose signals are
/// not what its line expects.
fn check_test_texts(name: &str) {
    let (_, contents) = TEST_TEXT_FILES
        .iter()
        .find(|(file, _)| *file == name)
        .unwrap_or_else(|| panic!("{name} is not in TEST_TEXT_FILES"));
    let texts = read_test_texts(name, contents);
    assert!(!texts.is_empty(), "{name} holds no texts");
    let failures: Vec<String> = texts
        .iter()
        .filter_map(|TestText { line, expect, text }| {
            let got = flags(text);
            let problem = match expect {
                Expect::Flags(signals) => signals
                    .iter()
                    .find(|s| !got.contains(s))
                    .map(|missing| format!("missing {missing}")),
                Expect::Exactly(signals) => {
                    let mut signals = signals.clone();
                    signals.sort();
                    (got != signals).then(|| format!("expected exactly {signals:?}"))
                }
                Expect::Quiet => (!got.is_empty()).then(|| "a false alarm".to_owned()),
            }?;
            Some(format!("line {line}: {text:?}: {problem}, got {got:?}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{name}: {} of {} texts fail:\n{}",
        failures.len(),
        texts.len(),
        failures.join("\n")
    );
}

#[test]
fn every_test_text_file_is_listed() {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("safety/risk-test-texts");
    let mut on_disk: Vec<String> = std::fs::read_dir(folder)
        .expect("safety/risk-test-texts exists")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = TEST_TEXT_FILES
        .iter()
        .map(|(name, _)| (*name).to_owned())
        .collect();
    listed.sort();
    assert_eq!(on_disk, listed);
}

#[test]
fn test_text_files_are_read_as_written() {
    let texts = read_test_texts(
        "inline",
        "# a comment\nexpect\tsignals\ttext\n\n\
         flags\tself_harm, farewell\tI can\\u{2019}t\n\
         exactly\tfarewell\tbye for now\n\
         quiet\t-\thello\n",
    );
    let read: Vec<String> = texts.iter().map(|t| format!("{:?}", t.expect)).collect();
    assert_eq!(
        read,
        [
            r#"Flags(["self_harm", "farewell"])"#,
            r#"Exactly(["farewell"])"#,
            "Quiet"
        ]
    );
    assert_eq!(texts[0].text, "I can\u{2019}t");
    assert_eq!(texts[1].text, "bye for now");
    assert_eq!((texts[0].line, texts[2].line), (4, 6));
    assert_eq!(unescape("a\\nb"), None);
}

#[test]
fn texts_that_must_flag() {
    check_test_texts("must-flag.tsv");
}

/// Ordinary texts that must not flag. The empty text is here because a file cannot hold it.
#[test]
fn texts_that_must_not_flag() {
    assert!(flags("").is_empty());
    check_test_texts("must-not-flag.tsv");
}

/// False alarms we accept on purpose: each is close to a real risk text, and a missed
/// signal costs more than a call. Kept so the choice is visible and reviewed.
#[test]
fn texts_knowingly_flagged() {
    check_test_texts("knowingly-flagged.tsv");
}

#[test]
fn negation_switches_off_only_a_nearby_cue_in_the_same_clause() {
    check_test_texts("negation.tsv");
}

#[test]
fn uncertainty_anywhere_turns_negation_off() {
    check_test_texts("uncertainty.tsv");
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

#[test]
fn a_threat_to_others_with_a_weapon_is_a_risk_signal() {
    check_test_texts("threat-with-weapon.tsv");
}

#[test]
fn preparatory_acts_are_risk_signals() {
    check_test_texts("preparatory-acts.tsv");
}

#[test]
fn swallowing_a_household_chemical_is_a_risk_signal() {
    check_test_texts("poison-or-chemical-swallowed.tsv");
}

#[test]
fn emoji_only_risk_messages_are_flagged() {
    check_test_texts("emoji-only.tsv");
}

#[test]
fn polish_risk_texts_are_flagged_and_negations_are_not() {
    check_test_texts("pl.tsv");
}

#[test]
fn romanian_risk_texts_are_flagged_and_negations_are_not() {
    check_test_texts("ro.tsv");
}

#[test]
fn portuguese_risk_texts_are_flagged_and_negations_are_not() {
    check_test_texts("pt.tsv");
}

#[test]
fn arabic_risk_texts_are_flagged_and_negations_are_not() {
    check_test_texts("ar.tsv");
}

#[test]
fn urdu_risk_texts_are_flagged_and_negations_are_not() {
    check_test_texts("ur.tsv");
}

#[test]
fn roman_urdu_risk_texts_are_flagged_and_negations_are_not() {
    check_test_texts("ur-Latn.tsv");
}

#[test]
fn punjabi_risk_texts_are_flagged_and_negations_are_not() {
    check_test_texts("pa.tsv");
}

#[test]
fn bengali_risk_texts_are_flagged_and_negations_are_not() {
    check_test_texts("bn.tsv");
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
        BUNDLED_RULES.contains("MACHINE-DRAFTED, FOR REVIEW BY THE TRUST'S INTERPRETING SERVICE")
    );
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
