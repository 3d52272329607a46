//! The clinical hazard log (`safety/hazard-log.md`) names, under each hazard, the tests that
//! prove its controls. These checks keep it honest: every hazard cites at least one test,
//! every cited test exists in `src/` or `tests/`, and the hazard ids are unique and in order.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const LOG: &str = "safety/hazard-log.md";

/// Macros that define a test per name listed in their invocation (`tests/api/helpers.rs`).
const TEST_DEFINING_MACROS: &[&str] = &["on_both_engines!"];

/// One `## H-NN …` section of the log.
#[derive(Debug)]
struct Hazard {
    id: String,
    number: u32,
    /// 1-based line of its heading.
    line: usize,
    /// The names listed under `Tests:`, with their 1-based lines.
    tests: Vec<(String, usize)>,
}

/// Reads the hazards from the log's Markdown. A hazard starts at a `## H-NN` heading and ends
/// at the next `## ` heading. Its `Tests:` line is followed by bullets, each naming one test in
/// backticks; the list ends at the first line that is neither a bullet nor blank (`Drills:`).
fn parse(markdown: &str) -> Result<Vec<Hazard>, Vec<String>> {
    let mut hazards: Vec<Hazard> = Vec::new();
    let mut problems = Vec::new();
    let mut in_hazard = false;
    let mut in_tests = false;
    for (index, raw) in markdown.lines().enumerate() {
        let line_no = index + 1;
        let line = raw.trim();
        if let Some(heading) = line.strip_prefix("## ") {
            in_tests = false;
            in_hazard = false;
            let heading = heading.trim();
            if heading.starts_with("H-") || heading.starts_with("H‑") {
                let id: String = heading.chars().take_while(|c| !c.is_whitespace()).collect();
                match id.strip_prefix("H-").map(str::parse::<u32>) {
                    Some(Ok(number)) if id.len() >= 4 => {
                        hazards.push(Hazard {
                            id,
                            number,
                            line: line_no,
                            tests: Vec::new(),
                        });
                        in_hazard = true;
                    }
                    _ => problems.push(format!(
                        "line {line_no}: hazard heading {id:?} is not of the form H-01"
                    )),
                }
            }
            continue;
        }
        let label = line.trim_matches('*');
        if label == "Tests:" {
            if in_hazard {
                in_tests = true;
            } else {
                problems.push(format!("line {line_no}: `Tests:` outside any hazard"));
            }
            continue;
        }
        if !in_tests || line.is_empty() {
            continue;
        }
        let Some(item) = line.strip_prefix("- ").or_else(|| line.strip_prefix("* ")) else {
            in_tests = false;
            continue;
        };
        let name = item
            .split('`')
            .nth(1)
            .filter(|_| item.trim_start().starts_with('`'))
            .map(str::trim);
        match name {
            Some(name) if is_identifier(name) => {
                if let Some(hazard) = hazards.last_mut() {
                    hazard.tests.push((name.to_owned(), line_no));
                }
            }
            Some(name) if name.contains("::") => problems.push(format!(
                "line {line_no}: `{name}`: cite the test's name as written in the source, \
                 without a module path or ::sqlite/::postgres"
            )),
            _ => problems.push(format!(
                "line {line_no}: a `Tests:` entry must be one test name in backticks, like \
                 - `safety_rule_1_first_reply_in_any_new_conversation_says_call_999`; got {line:?}"
            )),
        }
    }
    if hazards.is_empty() {
        problems.push("no hazards found: expected headings like `## H-01 — title`".to_owned());
    }
    if problems.is_empty() {
        Ok(hazards)
    } else {
        Err(problems)
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

fn is_identifier_char(c: char) -> bool {
    c == '_' || c.is_ascii_alphanumeric()
}

/// The tests one Rust source file defines: functions marked `#[test]` or `#[tokio::test]`
/// (also inside `proptest!`), and every name listed in a test-defining macro's invocation.
/// The bodies of `macro_rules!` definitions are skipped: the functions there are templates.
fn tests_defined_in(source: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let lines: Vec<&str> = source.lines().collect();
    let mut macro_depth: Option<i64> = None;
    for (index, line) in lines.iter().enumerate() {
        if macro_depth.is_none() && line.trim_start().starts_with("macro_rules!") {
            macro_depth = Some(0);
        }
        if let Some(depth) = macro_depth.as_mut() {
            *depth += braces(line);
            if *depth <= 0 && line.contains('}') {
                macro_depth = None;
            }
            continue;
        }
        for (at, _) in line.match_indices("fn ") {
            if line[..at]
                .chars()
                .next_back()
                .is_some_and(is_identifier_char)
            {
                continue;
            }
            let name: String = line[at + 3..]
                .trim_start()
                .chars()
                .take_while(|c| is_identifier_char(*c))
                .collect();
            if !name.is_empty() && marked_as_test(&line[..at], &lines[..index]) {
                found.insert(name);
            }
        }
    }
    for macro_name in TEST_DEFINING_MACROS {
        for (at, _) in source.match_indices(macro_name) {
            let rest = source[at + macro_name.len()..].trim_start();
            let close = match rest.chars().next() {
                Some('(') => ')',
                Some('[') => ']',
                Some('{') => '}',
                _ => continue,
            };
            let Some(end) = rest.find(close) else {
                continue;
            };
            found.extend(
                rest[1..end]
                    .split(',')
                    .map(str::trim)
                    .filter(|name| is_identifier(name))
                    .map(str::to_owned),
            );
        }
    }
    found
}

/// Opening less closing braces on a line.
fn braces(line: &str) -> i64 {
    line.chars()
        .map(|c| match c {
            '{' => 1,
            '}' => -1,
            _ => 0,
        })
        .sum()
}

/// Whether the attributes just above a `fn` (or before it on its line) include a test one.
fn marked_as_test(before_on_line: &str, lines_above: &[&str]) -> bool {
    let is_test_attribute = |text: &str| text.contains("#[test]") || text.contains("#[tokio::test");
    if is_test_attribute(before_on_line) {
        return true;
    }
    lines_above
        .iter()
        .rev()
        .map(|line| line.trim())
        .take_while(|line| line.starts_with("#[") || line.starts_with("//"))
        .any(is_test_attribute)
}

fn rust_files(dir: &Path, into: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read directory {}: {e}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("cannot read an entry of {}: {e}", dir.display()))
            .path();
        if path.is_dir() {
            rust_files(&path, into);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            into.push(path);
        }
    }
}

/// Every test defined anywhere under `src/` and `tests/`.
fn known_tests() -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "tests"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(
        !files.is_empty(),
        "no .rs files found under src/ and tests/"
    );
    let mut known = BTreeSet::new();
    for file in files {
        let source = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        known.extend(tests_defined_in(&source));
    }
    known
}

fn hazards() -> Vec<Hazard> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(LOG);
    let markdown = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read the hazard log {}: {e}", path.display()));
    parse(&markdown).unwrap_or_else(|problems| {
        panic!(
            "{LOG} could not be read as a hazard log:\n  {}",
            problems.join("\n  ")
        )
    })
}

/// Ids of hazards that cite no test.
fn without_tests(hazards: &[Hazard]) -> Vec<String> {
    hazards
        .iter()
        .filter(|h| h.tests.is_empty())
        .map(|h| format!("{} (line {})", h.id, h.line))
        .collect()
}

/// Cited tests that are not defined anywhere.
fn missing_tests(hazards: &[Hazard], known: &BTreeSet<String>) -> Vec<String> {
    hazards
        .iter()
        .flat_map(|h| {
            h.tests
                .iter()
                .filter(|(name, _)| !known.contains(name))
                .map(move |(name, line)| format!("{}: `{name}` (line {line})", h.id))
        })
        .collect()
}

/// Ids that repeat an earlier one, or do not come after the one before.
fn order_problems(hazards: &[Hazard]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for (index, hazard) in hazards.iter().enumerate() {
        if !seen.insert(hazard.number) {
            problems.push(format!(
                "{} (line {}) is used more than once",
                hazard.id, hazard.line
            ));
        }
        if let Some(before) = index.checked_sub(1).map(|i| &hazards[i])
            && hazard.number <= before.number
        {
            problems.push(format!(
                "{} (line {}) comes after {} (line {})",
                hazard.id, hazard.line, before.id, before.line
            ));
        }
    }
    problems
}

#[test]
fn every_hazard_in_the_log_cites_at_least_one_test() {
    let hazards = hazards();
    let bare = without_tests(&hazards);
    assert!(
        bare.is_empty(),
        "{LOG}: these hazards list no tests under `Tests:`:\n  {}",
        bare.join("\n  ")
    );
}

#[test]
fn every_test_the_hazard_log_cites_exists() {
    let hazards = hazards();
    let missing = missing_tests(&hazards, &known_tests());
    assert!(
        missing.is_empty(),
        "{LOG} cites {} test(s) that no .rs file under src/ or tests/ defines \
         (as a function marked #[test] or #[tokio::test], or a name in on_both_engines!):\n  {}",
        missing.len(),
        missing.join("\n  ")
    );
}

#[test]
fn hazard_ids_are_unique_and_in_order() {
    let problems = order_problems(&hazards());
    assert!(
        problems.is_empty(),
        "{LOG}: hazard ids must be unique and in increasing order:\n  {}",
        problems.join("\n  ")
    );
}

/// The checks above would catch a broken log: a hazard with no tests, a made-up test name,
/// ids out of order or repeated, and a test cited in the wrong form.
#[test]
fn the_hazard_log_checks_catch_a_broken_log() {
    let broken = "\
# Log

## H-02 — Second

Tests:
- `every_hazard_in_the_log_cites_at_least_one_test`
- `a_test_that_nobody_wrote`

Drills:
- `crht-drill crash`

## H-01 — First, out of order

No tests here.

## H-02 — Repeated

Tests:

- `the_hazard_log_checks_catch_a_broken_log`

## Open hazards

Tests:
";
    let problems = parse(broken).expect_err("`Tests:` outside a hazard");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("outside any hazard"), "{problems:?}");

    let broken = broken.replace("## Open hazards\n\nTests:\n", "");
    let hazards = parse(&broken).expect("parses");
    let ids: Vec<&str> = hazards.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(ids, ["H-02", "H-01", "H-02"]);
    assert_eq!(hazards[0].tests.len(), 2, "the drills are not tests");
    assert_eq!(
        hazards[2].tests.len(),
        1,
        "a blank line before the list is fine"
    );

    assert_eq!(without_tests(&hazards), ["H-01 (line 12)"]);
    let missing = missing_tests(&hazards, &known_tests());
    assert_eq!(missing, ["H-02: `a_test_that_nobody_wrote` (line 7)"]);
    let order = order_problems(&hazards);
    assert_eq!(order.len(), 2, "{order:?}");
    assert!(
        order[0].contains("H-01 (line 12) comes after H-02"),
        "{order:?}"
    );
    assert!(
        order[1].contains("H-02 (line 16) is used more than once"),
        "{order:?}"
    );

    for bad in [
        "## H-01 x\n\nTests:\n- `helpers::spawn_app`\n",
        "## H-01 x\n\nTests:\n- spawn_app\n",
        "## H-1x y\n",
    ] {
        assert!(parse(bad).is_err(), "{bad:?}");
    }

    // Written with stand-ins, so that this file does not itself define these names.
    let source = "\
#[test]
FN plain() {}
/// Docs.
#[tokio::test(flavor = \"multi_thread\")]
async FN asynchronous() {}
FN helper_not_a_test() {}
proptest! {
    #[test]
    FN property(x in 0..1) {}
}
MACRO_RULES engine_template {
    ($name:ident) => {
        #[test]
        FN template_not_a_test() {}
    };
}
#[test]
FN after_the_macro() {}
BOTH_ENGINES(
    first_engine_test,
    second_engine_test,
);
"
    .replace("FN ", "fn ")
    .replace("MACRO_RULES", "macro_rules!")
    .replace("BOTH_ENGINES", TEST_DEFINING_MACROS[0]);
    let defined: Vec<String> = tests_defined_in(&source).into_iter().collect();
    assert_eq!(
        defined,
        [
            "after_the_macro",
            "asynchronous",
            "first_engine_test",
            "plain",
            "property",
            "second_engine_test"
        ]
    );
}
