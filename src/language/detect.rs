//! Which of the service area's other languages a text is written in (safety rule 9), so the
//! first reply can give the 999 line and "we can arrange an interpreter" in that language as
//! well as in English.
//!
//! Detection is pure and deterministic, and uses only data compiled into the binary (whatlang
//! ships its own trigram tables; nothing is downloaded). It leans towards `None`: a wrong
//! language costs an English reader a line they cannot read, so an ordinary English text
//! ("hello", "LS1 4DY", "Sam", "I need help") must never be called foreign. In order:
//! 1. Script. Gurmukhi letters → Punjabi; Bengali letters → Bengali; Arabic-script letters →
//!    Urdu or Arabic by letters only one of them uses (ٹ ڈ ڑ ں ے ہ ھ for Urdu; ة ى ك ي for
//!    Arabic), else by whatever of the two whatlang finds closer (so Persian lands on one).
//! 2. Latin script. A language needs at least two pieces of evidence, one of them a common
//!    word of that language: its common words, its own accented letters (ł ą ę ś ż for Polish,
//!    ă ș ț for Romanian, ã õ ç for Portuguese), and whatlang naming it with confidence.
//!    Roman Urdu, which whatlang does not know, needs its common words alone (mujhe, nahi,
//!    madad, hai, kya …). A text with as many English words as words of the language is
//!    English.

use std::collections::HashSet;

use whatlang::{Detector, Lang};

use super::Language;
use super::words::{
    ENGLISH_WORDS, POLISH_WORDS, PORTUGUESE_WORDS, ROMAN_URDU_WEAK_WORDS, ROMAN_URDU_WORDS,
    ROMANIAN_WORDS,
};
use crate::risk::fold_text;

/// Fewest letters of a script for it to count (one stray letter is not a language).
const MIN_SCRIPT_LETTERS: usize = 2;

/// Lowest whatlang confidence that counts as evidence for a Latin-script language.
const MIN_WHATLANG_CONFIDENCE: f64 = 0.5;

/// Evidence a Latin-script language needs (see the module docs).
const MIN_EVIDENCE: f64 = 2.0;

/// The language of a text when it is confidently one of ours and not English; `None` for
/// English, for a language we do not answer in, and for a text too short to tell.
pub fn detect(text: &str) -> Option<Language> {
    let letters = ScriptLetters::count(text);
    let non_latin = [
        (letters.arabic, Script::Arabic),
        (letters.gurmukhi, Script::Gurmukhi),
        (letters.bengali, Script::Bengali),
    ];
    let (most, script) = non_latin
        .into_iter()
        .max_by_key(|(count, _)| *count)
        .unwrap_or((0, Script::Arabic));
    if most >= MIN_SCRIPT_LETTERS && most >= letters.other {
        return Some(match script {
            Script::Arabic => arabic_or_urdu(text),
            Script::Gurmukhi => Language::Punjabi,
            Script::Bengali => Language::Bengali,
        });
    }
    if letters.other > letters.latin {
        return None;
    }
    latin_language(text)
}

// ---------------------------------------------------------------------------------------------
// Scripts.

#[derive(Clone, Copy)]
enum Script {
    Arabic,
    Gurmukhi,
    Bengali,
}

#[derive(Default)]
struct ScriptLetters {
    latin: usize,
    arabic: usize,
    gurmukhi: usize,
    bengali: usize,
    /// Letters of any other script (Cyrillic, Devanagari, Chinese …).
    other: usize,
}

impl ScriptLetters {
    fn count(text: &str) -> Self {
        let mut letters = Self::default();
        for c in text.chars() {
            match c {
                '\u{0600}'..='\u{06FF}'
                | '\u{0750}'..='\u{077F}'
                | '\u{08A0}'..='\u{08FF}'
                | '\u{FB50}'..='\u{FDFF}'
                | '\u{FE70}'..='\u{FEFF}'
                    if c.is_alphabetic() =>
                {
                    letters.arabic += 1;
                }
                '\u{0A00}'..='\u{0A7F}' if c.is_alphabetic() => letters.gurmukhi += 1,
                '\u{0980}'..='\u{09FF}' if c.is_alphabetic() => letters.bengali += 1,
                _ if c.is_alphabetic() && u32::from(c) <= 0x024F => letters.latin += 1,
                _ if c.is_alphabetic() => letters.other += 1,
                _ => {}
            }
        }
        letters
    }
}

/// Letters only Urdu writes (Arabic never does).
const URDU_LETTERS: [char; 10] = [
    '\u{0679}', // ٹ
    '\u{0688}', // ڈ
    '\u{0691}', // ڑ
    '\u{06BA}', // ں
    '\u{06BE}', // ھ
    '\u{06C1}', // ہ
    '\u{06C2}', // ۂ
    '\u{06C3}', // ۃ
    '\u{06D2}', // ے
    '\u{06D3}', // ۓ
];

/// Letters Arabic writes where Urdu (and Persian) keyboards give another form.
const ARABIC_LETTERS: [char; 4] = [
    '\u{0629}', // ة
    '\u{0649}', // ى
    '\u{0643}', // ك
    '\u{064A}', // ي
];

fn arabic_or_urdu(text: &str) -> Language {
    let count = |set: &[char]| text.chars().filter(|c| set.contains(c)).count();
    let (urdu, arabic) = (count(&URDU_LETTERS), count(&ARABIC_LETTERS));
    if urdu != arabic {
        return if urdu > arabic {
            Language::Urdu
        } else {
            Language::Arabic
        };
    }
    // No letter settles it (short texts, Persian): whichever of the two whatlang finds closer.
    match Detector::with_allowlist(vec![Lang::Ara, Lang::Urd]).detect_lang(text) {
        Some(Lang::Urd) => Language::Urdu,
        _ => Language::Arabic,
    }
}

// ---------------------------------------------------------------------------------------------
// Latin script.

/// Accented letters that mark one Latin-script language (others are shared or too common).
const POLISH_LETTERS: &[char] = &['ą', 'ę', 'ł', 'ś', 'ź', 'ż', 'ć', 'ń'];
const ROMANIAN_LETTERS: &[char] = &['ă', 'ș', 'ț', 'ş', 'ţ', 'î'];
const PORTUGUESE_LETTERS: &[char] = &['ã', 'õ', 'ç', 'ê', 'ô', 'à'];

struct Candidate {
    language: Language,
    words: f64,
    letters: bool,
    whatlang: bool,
}

impl Candidate {
    fn evidence(&self) -> f64 {
        self.words + f64::from(u8::from(self.letters)) + f64::from(u8::from(self.whatlang))
    }
}

fn latin_language(text: &str) -> Option<Language> {
    let lower = text.to_lowercase();
    let folded = fold_text(&lower);
    let words: HashSet<&str> = folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let count = |list: &[&str]| list.iter().filter(|w| words.contains(**w)).count();
    let english = count(ENGLISH_WORDS) as f64;
    let has_letter = |set: &[char]| lower.chars().any(|c| set.contains(&c));
    let whatlang = whatlang::detect(text)
        .filter(|info| info.confidence() >= MIN_WHATLANG_CONFIDENCE)
        .map(|info| info.lang());
    let candidate = |language, list: &[&str], letters: &[char], lang| Candidate {
        language,
        words: count(list) as f64,
        letters: has_letter(letters),
        whatlang: whatlang == Some(lang),
    };
    let roman_urdu = Candidate {
        language: Language::RomanUrdu,
        words: count(ROMAN_URDU_WORDS) as f64 + 0.5 * count(ROMAN_URDU_WEAK_WORDS) as f64,
        letters: false,
        whatlang: false,
    };
    let mut candidates = [
        candidate(Language::Polish, POLISH_WORDS, POLISH_LETTERS, Lang::Pol),
        candidate(
            Language::Romanian,
            ROMANIAN_WORDS,
            ROMANIAN_LETTERS,
            Lang::Ron,
        ),
        candidate(
            Language::Portuguese,
            PORTUGUESE_WORDS,
            PORTUGUESE_LETTERS,
            Lang::Por,
        ),
        roman_urdu,
    ];
    candidates.sort_by(|a, b| b.evidence().total_cmp(&a.evidence()));
    let [best, runner_up, ..] = &candidates;
    let confident = best.words >= 1.0
        && best.evidence() >= MIN_EVIDENCE
        && best.evidence() > runner_up.evidence()
        && best.words > english;
    confident.then_some(best.language)
}
#[cfg(test)]
mod tests {
    use super::*;

    fn assert_detects(language: Language, texts: &[&str]) {
        for text in texts {
            assert_eq!(detect(text), Some(language), "{text:?}");
        }
    }

    #[test]
    fn polish_is_detected_with_and_without_accents() {
        assert_detects(
            Language::Polish,
            &[
                "Dzień dobry, potrzebuję pomocy",
                "Nie wiem co robić, jest mi bardzo źle",
                "nie wiem co robic, jest mi bardzo zle",
                "Mój syn potrzebuje tłumacza",
                "Chcę umrzeć",
                "prosze o pomoc dla mojej mamy",
            ],
        );
    }

    #[test]
    fn romanian_is_detected_with_and_without_accents() {
        assert_detects(
            Language::Romanian,
            &[
                "Bună ziua, am nevoie de ajutor",
                "Nu știu ce să fac, sunt foarte trist",
                "nu stiu ce sa fac, sunt foarte trist",
                "Fiul meu are nevoie de ajutor acum",
                "vreau sa mor",
            ],
        );
    }

    #[test]
    fn portuguese_is_detected_with_and_without_accents() {
        assert_detects(
            Language::Portuguese,
            &[
                "Olá, preciso de ajuda para a minha mãe",
                "Não sei o que fazer, estou muito triste",
                "nao sei o que fazer, estou muito triste",
                "O meu filho não está bem",
                "quero morrer",
            ],
        );
    }

    #[test]
    fn arabic_is_detected() {
        assert_detects(
            Language::Arabic,
            &[
                "مرحبا، أحتاج مساعدة لأمي",
                "أريد أن أموت",
                "ابني مريض جدا وأحتاج مترجم",
                "شكرا",
            ],
        );
    }

    #[test]
    fn urdu_is_detected_apart_from_arabic() {
        assert_detects(
            Language::Urdu,
            &[
                "مجھے مدد چاہیے",
                "میں بہت پریشان ہوں",
                "میرے بیٹے کی طبیعت ٹھیک نہیں ہے",
                "مجھے ترجمان چاہیے",
            ],
        );
    }

    #[test]
    fn roman_urdu_is_detected_by_its_words() {
        assert_detects(
            Language::RomanUrdu,
            &[
                "mujhe madad chahiye",
                "main bohat pareshan hoon",
                "mera beta theek nahi hai",
                "kya aap meri madad kar sakte hain",
                "mjhe marna h",
            ],
        );
    }

    #[test]
    fn punjabi_is_detected_by_gurmukhi() {
        assert_detects(
            Language::Punjabi,
            &["ਮੈਨੂੰ ਮਦਦ ਚਾਹੀਦੀ ਹੈ", "ਸਤ ਸ੍ਰੀ ਅਕਾਲ", "Help ਮੈਨੂੰ ਮਦਦ ਚਾਹੀਦੀ ਹੈ"],
        );
    }

    #[test]
    fn bengali_is_detected_by_its_script() {
        assert_detects(
            Language::Bengali,
            &["আমার সাহায্য দরকার", "ধন্যবাদ", "আমি খুব ক্লান্ত"],
        );
    }

    /// Ordinary English first texts, referral answers, names, postcodes, numbers and emoji are
    /// never called foreign.
    #[test]
    fn english_is_never_called_foreign() {
        let texts = [
            "",
            "hello",
            "hi",
            "Hi there",
            "1",
            "2",
            "yes",
            "no",
            "y",
            "yeah",
            "Yes please",
            "Sam",
            "LS1 4DY",
            "ls14dy",
            "SW1A 1AA",
            "help",
            "HELP",
            "I need help",
            "my son",
            "not sure",
            "Not sure",
            "me",
            "myself",
            "someone else",
            "STOP",
            "START",
            "BACK",
            "RESTART",
            "SKIP",
            "34",
            "18",
            "07/03/1990",
            "Leeds",
            "Bradford",
            "Manchester",
            "Maria",
            "Ana Maria",
            "José",
            "Zoë",
            "Łukasz",
            "Nicolae Popescu",
            "Ahmed Khan",
            "Priya",
            "Mohammed",
            "Nowak",
            "Silva",
            "Costa",
            "Paulo Costa",
            "they/them",
            "she/her",
            "phone call",
            "text message",
            "letter",
            "no thanks",
            "none",
            "8",
            "2 5",
            "BSL",
            "large print",
            "I'm safe",
            "I am not safe",
            "I want to die",
            "Can someone call me please",
            "My mum is not well",
            "Please call my partner, he knows about my care",
            "I'm a GP referring a patient with low mood",
            "my daughter is 19 and very anxious",
            "I've taken 30 tablets",
            "thanks bye",
            "ok",
            "👍",
            "😭😭",
            "💊💊",
            "🙏🏽",
            "...",
            "?",
            "+447700900123",
            "Tuesday afternoon",
            "can you ring me after 3pm",
            "hi its me again",
            "Is this the crisis team?",
            "I have an appointment tomorrow",
            "my son has a knife",
            "no I'm fine",
            "maybe later",
            "not today",
            "We moved from Poland 3 years ago",
            "My husband speaks Urdu",
            "Do you have a Portuguese interpreter?",
            "Romanian",
            "Punjabi please",
            "I need an interpreter",
            "Kal Singh",
            "Nisha",
            "hai",
            "Hai",
            "ok ji",
            "Jan Kowalski",
            "me and my mum",
            "I can't cope",
            "sorry wrong number",
            "pt took 20 paracetamol last night",
            "Denies SI/SH",
            "c",
            "YES",
            "a",
            "na",
        ];
        for text in texts {
            assert_eq!(detect(text), None, "{text:?} was called foreign");
        }
    }

    #[test]
    fn other_languages_are_not_ours() {
        for text in [
            "Hola, necesito ayuda para mi madre",
            "Bonjour, j'ai besoin d'aide",
            "Привет, мне нужна помощь",
            "मुझे मदद चाहिए",
        ] {
            assert_eq!(detect(text), None, "{text:?}");
        }
    }

    #[test]
    fn detection_is_deterministic() {
        for text in [
            "Chcę umrzeć",
            "mujhe madad chahiye",
            "مجھے مدد چاہیے",
            "hello",
        ] {
            assert_eq!(detect(text), detect(text));
        }
    }
}
