//! Rules files that must be refused, each with a message naming the entry at fault, and the
//! smallest one that works.

use crate::risk::RiskScreen;

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
