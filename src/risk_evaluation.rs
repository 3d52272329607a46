//! How well risk screening does on a labelled set of texts, per language: recall (risky texts
//! flagged) and false alarms (safe texts flagged). `crht-gateway risk evaluate` prints it, and a
//! unit test holds the bundled rules to the targets on the bundled set, so a change to
//! `config/risk-signals.toml` that misses more fails `cargo test`.
//!
//! The set lives in `safety/risk-evaluation/*.tsv`, one file per language, with a header line
//! and four tab-separated columns: `language`, `label` (`risk` or `safe`), `kind` (`everyday`
//! or `clinical`) and `text`. Its non-English texts were not written by native speakers; see
//! `safety/risk-evaluation.md`.

use std::fmt::Write as _;
use std::path::Path;

use crate::risk::RiskScreen;

/// The bundled set, one file per language (the test `bundled_set_lists_every_file` keeps this
/// list and the folder in step).
const BUNDLED_SET: [(&str, &str); 9] = [
    ("en.tsv", include_str!("../safety/risk-evaluation/en.tsv")),
    ("pl.tsv", include_str!("../safety/risk-evaluation/pl.tsv")),
    ("ro.tsv", include_str!("../safety/risk-evaluation/ro.tsv")),
    ("pt.tsv", include_str!("../safety/risk-evaluation/pt.tsv")),
    ("ar.tsv", include_str!("../safety/risk-evaluation/ar.tsv")),
    ("ur.tsv", include_str!("../safety/risk-evaluation/ur.tsv")),
    (
        "ur-Latn.tsv",
        include_str!("../safety/risk-evaluation/ur-Latn.tsv"),
    ),
    ("pa.tsv", include_str!("../safety/risk-evaluation/pa.tsv")),
    ("bn.tsv", include_str!("../safety/risk-evaluation/bn.tsv")),
];

const HEADER: [&str; 4] = ["language", "label", "kind", "text"];

/// Lowest recall accepted on English texts.
pub const ENGLISH_RECALL_TARGET: f64 = 0.98;
/// Lowest recall accepted in every other language.
pub const OTHER_RECALL_TARGET: f64 = 0.95;
/// Highest share of safe texts that may be flagged, in every language.
pub const FALSE_ALARM_TARGET: f64 = 0.05;

/// A set that cannot be read; the message names the file and line.
#[derive(Debug, thiserror::Error)]
pub enum EvaluationError {
    #[error("{place}: cannot read it: {source}")]
    Read {
        place: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{place}: {problem}")]
    Malformed { place: String, problem: String },
    #[error("{place}: no .tsv files found")]
    Empty { place: String },
}

/// Whether a text shows risk, as labelled by its author.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Label {
    Risk,
    Safe,
}

/// Who writes like this: the public, or a professional's referral note.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Everyday,
    Clinical,
}

/// One labelled text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    pub language: String,
    pub label: Label,
    pub kind: Kind,
    pub text: String,
}

/// The figures of one language.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LanguageFigures {
    pub language: String,
    pub texts: usize,
    pub risky: usize,
    /// Risky texts that were flagged.
    pub caught: usize,
    pub safe: usize,
    /// Safe texts that were flagged.
    pub false_alarms: usize,
}

impl LanguageFigures {
    /// Share of risky texts flagged (1 when there are none).
    pub fn recall(&self) -> f64 {
        ratio(self.caught, self.risky, 1.0)
    }

    /// Share of safe texts flagged (0 when there are none).
    pub fn false_alarm_rate(&self) -> f64 {
        ratio(self.false_alarms, self.safe, 0.0)
    }

    pub fn recall_target(&self) -> f64 {
        if self.language == "en" {
            ENGLISH_RECALL_TARGET
        } else {
            OTHER_RECALL_TARGET
        }
    }

    fn meets_targets(&self) -> bool {
        self.recall() >= self.recall_target() && self.false_alarm_rate() <= FALSE_ALARM_TARGET
    }
}

fn ratio(part: usize, whole: usize, empty: f64) -> f64 {
    if whole == 0 {
        empty
    } else {
        // Counts of texts are far below 2^52, so the conversion is exact.
        part as f64 / whole as f64
    }
}

/// The outcome of screening a set.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// In the order languages first appear in the set.
    pub languages: Vec<LanguageFigures>,
    /// Risky texts that were not flagged.
    pub missed: Vec<Sample>,
    /// Safe texts that were flagged, with the signals they raised.
    pub false_alarms: Vec<(Sample, Vec<String>)>,
}

impl Report {
    /// One line per language that misses a target; empty when all are met.
    pub fn shortfalls(&self) -> Vec<String> {
        self.languages
            .iter()
            .filter(|l| !l.meets_targets())
            .map(|l| {
                format!(
                    "{}: recall {:.1}% (target ≥ {:.0}%), false alarms {:.1}% (target ≤ {:.0}%)",
                    l.language,
                    l.recall() * 100.0,
                    l.recall_target() * 100.0,
                    l.false_alarm_rate() * 100.0,
                    FALSE_ALARM_TARGET * 100.0
                )
            })
            .collect()
    }

    /// The figures as a table, then every missed text and false alarm (the set is made-up
    /// examples, never real messages, so it may be printed).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<9} {:>6} {:>6} {:>8} {:>7} {:>14} {:>8}",
            "language", "texts", "risky", "recall", "target", "false alarms", "target"
        );
        let mut total = LanguageFigures {
            language: "all".to_owned(),
            ..LanguageFigures::default()
        };
        for l in &self.languages {
            let _ = writeln!(
                out,
                "{:<9} {:>6} {:>6} {:>7.1}% {:>6.0}% {:>5}/{:<3} {:>4.1}% {:>6.0}%",
                l.language,
                l.texts,
                l.risky,
                l.recall() * 100.0,
                l.recall_target() * 100.0,
                l.false_alarms,
                l.safe,
                l.false_alarm_rate() * 100.0,
                FALSE_ALARM_TARGET * 100.0
            );
            total.texts += l.texts;
            total.risky += l.risky;
            total.caught += l.caught;
            total.safe += l.safe;
            total.false_alarms += l.false_alarms;
        }
        let _ = writeln!(
            out,
            "{:<9} {:>6} {:>6} {:>7.1}% {:>7} {:>5}/{:<3} {:>4.1}%",
            total.language,
            total.texts,
            total.risky,
            total.recall() * 100.0,
            "",
            total.false_alarms,
            total.safe,
            total.false_alarm_rate() * 100.0,
        );
        if !self.missed.is_empty() {
            let _ = writeln!(out, "\nmissed (risky, not flagged):");
            for s in &self.missed {
                let _ = writeln!(out, "  [{}] {}", s.language, s.text);
            }
        }
        if !self.false_alarms.is_empty() {
            let _ = writeln!(out, "\nfalse alarms (safe, flagged):");
            for (s, signals) in &self.false_alarms {
                let _ = writeln!(
                    out,
                    "  [{}] {}  ({})",
                    s.language,
                    s.text,
                    signals.join(", ")
                );
            }
        }
        out
    }
}

/// Reads one TSV file of the set; `place` names it in errors.
pub fn parse_set(place: &str, text: &str) -> Result<Vec<Sample>, EvaluationError> {
    let malformed = |line: usize, problem: String| EvaluationError::Malformed {
        place: format!("{place} line {line}"),
        problem,
    };
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, header)) if header.split('\t').eq(HEADER) => {}
        _ => {
            return Err(malformed(
                1,
                format!("the first line must be the header `{}`", HEADER.join("\\t")),
            ));
        }
    }
    let mut samples = Vec::new();
    for (i, line) in lines {
        let number = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let columns: Vec<&str> = line.splitn(4, '\t').collect();
        let [language, label, kind, text] = columns.as_slice() else {
            return Err(malformed(number, "expected 4 tab-separated columns".into()));
        };
        let label = match *label {
            "risk" => Label::Risk,
            "safe" => Label::Safe,
            other => {
                return Err(malformed(
                    number,
                    format!("label `{other}` must be `risk` or `safe`"),
                ));
            }
        };
        let kind = match *kind {
            "everyday" => Kind::Everyday,
            "clinical" => Kind::Clinical,
            other => {
                return Err(malformed(
                    number,
                    format!("kind `{other}` must be `everyday` or `clinical`"),
                ));
            }
        };
        if language.trim().is_empty() || text.trim().is_empty() {
            return Err(malformed(
                number,
                "language and text must not be empty".into(),
            ));
        }
        samples.push(Sample {
            language: (*language).to_owned(),
            label,
            kind,
            text: (*text).to_owned(),
        });
    }
    Ok(samples)
}

/// The set shipped in `safety/risk-evaluation/`.
pub fn bundled_set() -> Vec<Sample> {
    BUNDLED_SET
        .iter()
        .flat_map(|(name, text)| {
            // The test `bundled_set_parses` proves every bundled file parses.
            parse_set(name, text).unwrap_or_default()
        })
        .collect()
}

/// A set from disk: one `.tsv` file, or every `.tsv` file in a folder (in name order).
pub fn load_set(path: &Path) -> Result<Vec<Sample>, EvaluationError> {
    let place = path.display().to_string();
    let read = |file: &Path| {
        std::fs::read_to_string(file).map_err(|source| EvaluationError::Read {
            place: file.display().to_string(),
            source,
        })
    };
    if !path.is_dir() {
        return parse_set(&place, &read(path)?);
    }
    let entries = std::fs::read_dir(path).map_err(|source| EvaluationError::Read {
        place: place.clone(),
        source,
    })?;
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "tsv"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(EvaluationError::Empty { place });
    }
    let mut samples = Vec::new();
    for file in files {
        samples.extend(parse_set(&file.display().to_string(), &read(&file)?)?);
    }
    Ok(samples)
}

/// Screens every text of the set and counts, per language.
pub fn evaluate(screen: &RiskScreen, samples: &[Sample]) -> Report {
    let mut report = Report::default();
    for sample in samples {
        let signals = screen.screen(&sample.text);
        let flagged = !signals.is_empty();
        let at = match report
            .languages
            .iter()
            .position(|l| l.language == sample.language)
        {
            Some(at) => at,
            None => {
                report.languages.push(LanguageFigures {
                    language: sample.language.clone(),
                    ..LanguageFigures::default()
                });
                report.languages.len() - 1
            }
        };
        let figures = &mut report.languages[at];
        figures.texts += 1;
        match (sample.label, flagged) {
            (Label::Risk, true) => {
                figures.risky += 1;
                figures.caught += 1;
            }
            (Label::Risk, false) => {
                figures.risky += 1;
                report.missed.push(sample.clone());
            }
            (Label::Safe, true) => {
                figures.safe += 1;
                figures.false_alarms += 1;
                report.false_alarms.push((sample.clone(), signals));
            }
            (Label::Safe, false) => figures.safe += 1,
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Languages the set must cover (safety rule 9), each with at least this many texts.
    const LANGUAGES: [&str; 9] = ["en", "pl", "ro", "pt", "ar", "ur", "ur-Latn", "pa", "bn"];
    const MIN_PER_LANGUAGE: usize = 40;
    const MIN_TEXTS: usize = 600;

    #[test]
    fn bundled_set_parses() {
        for (name, text) in BUNDLED_SET {
            let samples = parse_set(name, text);
            assert!(samples.is_ok(), "{name}: {samples:?}");
        }
    }

    #[test]
    fn bundled_set_lists_every_file() {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("safety/risk-evaluation");
        let mut on_disk: Vec<String> = std::fs::read_dir(folder)
            .expect("safety/risk-evaluation exists")
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".tsv"))
            .collect();
        on_disk.sort();
        let mut bundled: Vec<String> = BUNDLED_SET.iter().map(|(n, _)| (*n).to_owned()).collect();
        bundled.sort();
        assert_eq!(on_disk, bundled);
        let from_disk = load_set(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("safety/risk-evaluation")
                .as_path(),
        )
        .expect("the folder loads");
        assert_eq!(from_disk.len(), bundled_set().len());
    }

    #[test]
    fn bundled_set_is_large_and_covers_every_language() {
        let set = bundled_set();
        assert!(set.len() >= MIN_TEXTS, "only {} texts", set.len());
        for language in LANGUAGES {
            let of = |label| {
                set.iter()
                    .filter(|s| s.language == language && s.label == label)
                    .count()
            };
            let (risky, safe) = (of(Label::Risk), of(Label::Safe));
            assert!(
                risky + safe >= MIN_PER_LANGUAGE,
                "{language}: {} texts",
                risky + safe
            );
            assert!(
                risky >= 15 && safe >= 15,
                "{language}: {risky} risky, {safe} safe"
            );
        }
        for kind in [Kind::Everyday, Kind::Clinical] {
            assert!(set.iter().any(|s| s.kind == kind && s.label == Label::Risk));
            assert!(set.iter().any(|s| s.kind == kind && s.label == Label::Safe));
        }
    }

    /// The bundled rules meet the targets on the bundled set: recall ≥ 98% in English and
    /// ≥ 95% in every other language, false alarms ≤ 5% everywhere.
    #[test]
    fn bundled_rules_meet_the_targets_on_the_bundled_set() {
        let report = evaluate(&RiskScreen::bundled(), &bundled_set());
        let shortfalls = report.shortfalls();
        assert!(
            shortfalls.is_empty(),
            "{}\n\n{}",
            shortfalls.join("\n"),
            report.render()
        );
        assert_eq!(report.languages.len(), LANGUAGES.len());
    }

    #[test]
    fn figures_count_misses_and_false_alarms() {
        let set = parse_set(
            "inline",
            "language\tlabel\tkind\ttext\n\
             en\trisk\teveryday\tI want to die\n\
             en\trisk\tclinical\tnothing to see here\n\
             en\tsafe\teveryday\thello\n\
             en\tsafe\teveryday\tI'm on the bridge\n",
        )
        .expect("parses");
        let report = evaluate(&RiskScreen::bundled(), &set);
        let en = &report.languages[0];
        assert_eq!((en.texts, en.risky, en.caught), (4, 2, 1));
        assert_eq!((en.safe, en.false_alarms), (2, 1));
        assert!((en.recall() - 0.5).abs() < 1e-9);
        assert!((en.false_alarm_rate() - 0.5).abs() < 1e-9);
        assert_eq!(report.missed.len(), 1);
        assert_eq!(report.false_alarms.len(), 1);
        assert_eq!(report.shortfalls().len(), 1);
        let shown = report.render();
        assert!(shown.contains("nothing to see here"), "{shown}");
        assert!(shown.contains("50.0%"), "{shown}");
    }

    #[test]
    fn malformed_sets_are_refused_naming_the_line() {
        let cases = [
            ("en\trisk\teveryday\tno header\n", "line 1"),
            (
                "language\tlabel\tkind\ttext\nen\tmaybe\teveryday\tx\n",
                "line 2",
            ),
            ("language\tlabel\tkind\ttext\nen\trisk\tdaily\tx\n", "daily"),
            ("language\tlabel\tkind\ttext\nen\trisk\n", "4 tab-separated"),
            (
                "language\tlabel\tkind\ttext\nen\trisk\teveryday\t \n",
                "empty",
            ),
        ];
        for (text, expected) in cases {
            let error = parse_set("t.tsv", text).expect_err("refused").to_string();
            assert!(error.contains(expected), "{expected:?} not in {error:?}");
        }
    }
}
