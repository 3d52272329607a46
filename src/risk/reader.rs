//! How a text, and each phrase of the rules file, is read into words: emoji, folding, leetspeak,
//! spellings, sentences and clauses (steps 1 to 5 of the module docs).

use std::collections::{HashMap, HashSet};

use regex::Regex;

use super::fold::{fold_into, folds_away};
use super::rules::RulesFile;
use super::{Hit, Owner, RiskConfigError};

/// Longest `[spellings]` variant, in words; anything longer belongs in a phrase list.
const MAX_SPELLING_WORDS: usize = 3;

/// Straight and curly apostrophes and look-alikes people type for one.
const APOSTROPHES: [char; 8] = [
    '\'', '\u{2019}', '\u{2018}', '`', '\u{00B4}', '\u{02BC}', '\u{2032}', '\u{FF07}',
];

// ---------------------------------------------------------------------------------------------
// Reading a text into words.

/// How the file says texts (and its own phrases) are read: emoji, spellings, clause breaks.
#[derive(Clone, Default)]
pub(super) struct TextReader {
    emoji: Vec<(String, String)>,
    /// Squeezed variant words joined by spaces → the word it is read as.
    spellings: HashMap<String, String>,
    longest_spelling: usize,
    break_words: HashSet<String>,
}

/// A word as written, lower case, before spellings.
pub(super) struct WrittenWord {
    pub(super) text: String,
    sentence: usize,
}

/// A word as read, after spellings.
#[derive(Debug)]
pub(super) struct Word {
    pub(super) text: String,
    /// `text` with repeated letters squeezed: what phrases compare.
    pub(super) key: String,
    /// Punctuation-delimited; spellings and not-risk expressions stay inside one.
    pub(super) sentence: usize,
    /// A sentence further split by break words; negation stays inside one.
    pub(super) clause: usize,
}

/// One reading of a text (as written, or as leetspeak).
pub(super) struct Reading {
    pub(super) words: Vec<Word>,
    /// The words before spellings, and squeezed, for phrases.
    pub(super) written_texts: Vec<String>,
    pub(super) written_keys: Vec<String>,
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

/// Collapses runs of one letter ("killll" → "kil", "too" → "to"); digits are left alone so
/// "100" stays a hundred.
pub(super) fn squeeze(word: &str) -> String {
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
pub(super) fn push_key(key: &mut String, word_key: &str) {
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
    pub(super) fn load(file: &RulesFile) -> Result<Self, RiskConfigError> {
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
    pub(super) fn words(&self, text: &str, leet: bool) -> Vec<WrittenWord> {
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
    pub(super) fn read_leetspeak(&self, text: &str) -> Option<Reading> {
        let written = self.words(text, true);
        written
            .iter()
            .any(|w| read_leet(&w.text).is_some())
            .then(|| self.read(&written, true))
    }

    /// Reads written words into words: leetspeak (when asked), spellings, clauses.
    pub(super) fn read(&self, written: &[WrittenWord], leet: bool) -> Reading {
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
    pub(super) fn phrase(
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
    pub(super) fn single_words(
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
    pub(super) fn written_span(&self, start: usize, end: usize) -> (usize, usize) {
        (
            self.written_to_word[start],
            self.written_to_word[end - 1] + 1,
        )
    }

    /// Pattern matches on both joined texts. After each match the search restarts at the
    /// next word, so a negated match cannot hide an overlapping one that stands.
    pub(super) fn pattern_hits(&self, pattern: &Regex, owner: Owner, hits: &mut Vec<Hit>) {
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
