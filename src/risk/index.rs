//! Every phrase of every list, indexed so a text is matched against all of them in one pass
//! over its words (step 6 of the module docs).

use std::collections::HashMap;

use super::reader::{TextReader, push_key, squeeze};
use super::{Hit, Owner, RiskConfigError};

/// Shortest key of a risk phrase looked for inside a run-together word ("iwanttodie"):
/// long enough that no English word holds one by chance.
const MIN_RUN_ON_KEY: usize = 8;

// ---------------------------------------------------------------------------------------------
// Phrase lookup.

/// Phrases by matching key (squeezed words run together), so a text is matched against all
/// lists in one pass over its words. Each phrase is indexed both with spellings applied and
/// as written.
#[derive(Clone, Default)]
pub(super) struct PhraseIndex {
    by_key: HashMap<String, Vec<Entry>>,
    longest_key: usize,
    pub(super) count: usize,
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
    pub(super) fn add_all(
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
    pub(super) fn find(&self, keys: &[&str], texts: &[&str]) -> Vec<Hit> {
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
    pub(super) fn find_run_on(&self, keys: &[&str]) -> Vec<Hit> {
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
