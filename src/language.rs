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
//!
//! The replies live in `message-templates/languages.toml`, drafted by machine and awaiting
//! review by the Trust's interpreting service.

use std::collections::{BTreeMap, HashSet};
use std::sync::OnceLock;

use serde::Deserialize;
use whatlang::{Detector, Lang};

use crate::risk::fold_text;

/// The replies, one section per language code (see the file's header).
const BUNDLED_WORDINGS: &str = include_str!("../message-templates/languages.toml");

/// Fewest letters of a script for it to count (one stray letter is not a language).
const MIN_SCRIPT_LETTERS: usize = 2;

/// Lowest whatlang confidence that counts as evidence for a Latin-script language.
const MIN_WHATLANG_CONFIDENCE: f64 = 0.5;

/// Evidence a Latin-script language needs (see the module docs).
const MIN_EVIDENCE: f64 = 2.0;

/// A language the service answers in besides English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    Polish,
    Romanian,
    Portuguese,
    Arabic,
    Urdu,
    RomanUrdu,
    Punjabi,
    Bengali,
}

impl Language {
    /// Every language, in the order of the service area's needs.
    pub const ALL: [Language; 8] = [
        Language::Polish,
        Language::Romanian,
        Language::Portuguese,
        Language::Arabic,
        Language::Urdu,
        Language::RomanUrdu,
        Language::Punjabi,
        Language::Bengali,
    ];

    /// The language's code (BCP 47; `ur-Latn` is Urdu in Roman script).
    pub fn code(self) -> &'static str {
        match self {
            Language::Polish => "pl",
            Language::Romanian => "ro",
            Language::Portuguese => "pt",
            Language::Arabic => "ar",
            Language::Urdu => "ur",
            Language::RomanUrdu => "ur-Latn",
            Language::Punjabi => "pa",
            Language::Bengali => "bn",
        }
    }

    /// The language with this code (as `code` gives it, any case), if it is one of ours.
    pub fn from_code(code: &str) -> Option<Language> {
        Self::ALL
            .into_iter()
            .find(|l| l.code().eq_ignore_ascii_case(code.trim()))
    }

    /// The language's name in English, as staff see it.
    pub fn english_name(self) -> &'static str {
        match self {
            Language::Polish => "Polish",
            Language::Romanian => "Romanian",
            Language::Portuguese => "Portuguese",
            Language::Arabic => "Arabic",
            Language::Urdu => "Urdu",
            Language::RomanUrdu => "Urdu (Roman script)",
            Language::Punjabi => "Punjabi",
            Language::Bengali => "Bengali",
        }
    }

    /// In this language: in an emergency call 999; we can arrange an interpreter, tell us your
    /// language.
    pub fn first_reply(self) -> &'static str {
        &wordings()[self.index()].first_reply
    }

    /// In this language: we could not read your answers; the team will contact you with an
    /// interpreter; in an emergency call 999.
    pub fn interpreter_handover(self) -> &'static str {
        &wordings()[self.index()].interpreter_handover
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|l| *l == self).unwrap_or(0)
    }
}

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
// Wordings.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WordingIn {
    name: String,
    review: String,
    first_reply: String,
    interpreter_handover: String,
}

/// A wording file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WordingsError {
    #[error("message-templates/languages.toml is not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("message-templates/languages.toml has no section [{0}]")]
    Missing(&'static str),
    #[error("message-templates/languages.toml: [{0}] is not one of our languages")]
    Unknown(String),
    #[error("message-templates/languages.toml: [{code}] {problem}")]
    Invalid { code: String, problem: String },
}

/// Longest wording, in characters: two UCS-2 segments and a bit, so the English reply and
/// this one still arrive together.
const MAX_WORDING_CHARS: usize = 160;

fn parse_wordings(text: &str) -> Result<Vec<WordingIn>, WordingsError> {
    let mut file: BTreeMap<String, WordingIn> = toml::from_str(text)?;
    if let Some(unknown) = file.keys().find(|code| Language::from_code(code).is_none()) {
        return Err(WordingsError::Unknown(unknown.clone()));
    }
    Language::ALL
        .into_iter()
        .map(|language| {
            let code = language.code();
            let wording = file.remove(code).ok_or(WordingsError::Missing(code))?;
            let invalid = |problem: &str| WordingsError::Invalid {
                code: code.to_owned(),
                problem: problem.to_owned(),
            };
            if wording.name.trim().is_empty() || wording.review.trim().is_empty() {
                return Err(invalid("needs a `name` and a `review` line"));
            }
            for (key, text) in [
                ("first_reply", &wording.first_reply),
                ("interpreter_handover", &wording.interpreter_handover),
            ] {
                if !text.contains("999") {
                    return Err(invalid(&format!("`{key}` must contain 999")));
                }
                if text.chars().count() > MAX_WORDING_CHARS {
                    return Err(invalid(&format!(
                        "`{key}` is longer than {MAX_WORDING_CHARS} characters"
                    )));
                }
            }
            Ok(wording)
        })
        .collect()
}

/// The bundled wordings, in the order of `Language::ALL`.
fn wordings() -> &'static [WordingIn] {
    static WORDINGS: OnceLock<Vec<WordingIn>> = OnceLock::new();
    WORDINGS.get_or_init(|| {
        // The test `bundled_wordings_load` proves the file loads, so this never panics in a
        // build whose tests passed.
        parse_wordings(BUNDLED_WORDINGS)
            .expect("message-templates/languages.toml is invalid; run `cargo test language`")
    })
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

/// Common words of each Latin-script language, lower case without accents. None is an English
/// word or common in English texts (no "to", "am", "care", "com", "sim", "mere").
const POLISH_WORDS: &[&str] = &[
    "nie",
    "sie",
    "mnie",
    "chce",
    "jak",
    "zeby",
    "moja",
    "moj",
    "moje",
    "mojego",
    "mojej",
    "pomocy",
    "pomoc",
    "prosze",
    "dziekuje",
    "tak",
    "juz",
    "jestem",
    "jestes",
    "czy",
    "bardzo",
    "syn",
    "corka",
    "maz",
    "zona",
    "dzien",
    "dobry",
    "wiem",
    "nic",
    "moge",
    "moze",
    "dla",
    "tez",
    "potrzebuje",
    "zle",
    "boli",
    "glowa",
    "zycie",
    "zyc",
    "umrzec",
    "tabletki",
    "tabletek",
    "tlumacza",
    "wizyta",
    "wizyte",
    "lekarz",
    "lekarza",
    "jutro",
    "dzisiaj",
    "nigdy",
    "zawsze",
    "jeszcze",
    "tylko",
    "wszystko",
    "bez",
    "przez",
    "kiedy",
    "gdzie",
    "dlaczego",
    "siebie",
    "sobie",
    "ona",
    "oni",
    "ten",
    "jego",
    "jej",
    "mam",
    "mamy",
    "zabic",
    "chcialbym",
    "chcialabym",
    "bezpieczna",
    "bezpieczny",
    "ktory",
    "ktora",
];
const ROMANIAN_WORDS: &[&str] = &[
    "nu",
    "sunt",
    "vreau",
    "este",
    "ajutor",
    "rog",
    "multumesc",
    "foarte",
    "fiul",
    "fiica",
    "meu",
    "mea",
    "mele",
    "acum",
    "nevoie",
    "ziua",
    "buna",
    "mor",
    "imi",
    "sotul",
    "sotia",
    "nimic",
    "ceva",
    "unde",
    "cand",
    "pentru",
    "doare",
    "capul",
    "vrea",
    "traiesc",
    "medicamente",
    "pastile",
    "maine",
    "astazi",
    "azi",
    "sinucid",
    "siguranta",
    "putem",
    "poate",
    "stiu",
    "fata",
    "baiatul",
    "mama",
    "tata",
    "lui",
    "dar",
    "iar",
    "asta",
    "acest",
    "aceasta",
    "sunati",
];
const PORTUGUESE_WORDS: &[&str] = &[
    "nao",
    "estou",
    "quero",
    "preciso",
    "ajuda",
    "meu",
    "minha",
    "obrigado",
    "obrigada",
    "muito",
    "esta",
    "mais",
    "voce",
    "filho",
    "filha",
    "tenho",
    "que",
    "uma",
    "mae",
    "marido",
    "mulher",
    "consigo",
    "aguento",
    "morrer",
    "viver",
    "ola",
    "tchau",
    "ontem",
    "hoje",
    "amanha",
    "cabeca",
    "remedios",
    "comprimidos",
    "sou",
    "estava",
    "porque",
    "tambem",
    "tudo",
    "isso",
    "isto",
    "ela",
    "eles",
    "ja",
    "sei",
    "vou",
    "vai",
    "faz",
    "segura",
    "seguro",
    "matar",
    "pode",
    "podem",
    "ligar",
    "quando",
    "onde",
];
/// Roman Urdu words, strong (seldom anything else) …
const ROMAN_URDU_WORDS: &[&str] = &[
    "mujhe",
    "mujhay",
    "mjhe",
    "muje",
    "nahi",
    "nahin",
    "nhi",
    "hai",
    "hain",
    "kya",
    "kyun",
    "kyu",
    "hoon",
    "hun",
    "mein",
    "bohat",
    "bahut",
    "bht",
    "chahta",
    "chahti",
    "chahiye",
    "chahye",
    "karna",
    "karo",
    "karein",
    "krna",
    "raha",
    "rahi",
    "rahe",
    "madad",
    "mera",
    "meri",
    "apni",
    "apna",
    "apne",
    "khud",
    "zindagi",
    "marna",
    "pata",
    "kaise",
    "kyunke",
    "kyunki",
    "lekin",
    "magar",
    "aur",
    "saath",
    "sath",
    "bilkul",
    "theek",
    "thik",
    "acha",
    "accha",
    "achha",
    "hamesha",
    "pareshan",
    "dukh",
    "abhi",
    "ammi",
    "abbu",
    "beti",
    "bhai",
    "behen",
    "shohar",
    "biwi",
    "ghar",
    "aaj",
    "raat",
    "subah",
    "shukriya",
    "haan",
    "khudkushi",
    "maine",
    "humne",
    "tum",
    "aap",
    "unhe",
    "usay",
    "gaya",
    "gayi",
    "wala",
    "wali",
    "kuch",
    "sab",
    "koi",
    "liye",
    "kar",
    "kal",
];
/// … and weak (short words that also turn up in names and other languages).
const ROMAN_URDU_WEAK_WORDS: &[&str] = &["ko", "se", "ka", "ki", "ke", "ne", "ji", "na", "h"];

/// Common English words: a text with as many of these as words of another language is
/// English.
const ENGLISH_WORDS: &[&str] = &[
    "i",
    "im",
    "me",
    "my",
    "mine",
    "myself",
    "you",
    "your",
    "he",
    "she",
    "it",
    "its",
    "we",
    "they",
    "them",
    "his",
    "her",
    "our",
    "their",
    "the",
    "a",
    "an",
    "and",
    "or",
    "but",
    "to",
    "of",
    "in",
    "on",
    "at",
    "for",
    "with",
    "from",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "am",
    "have",
    "has",
    "had",
    "do",
    "does",
    "did",
    "not",
    "no",
    "yes",
    "yeah",
    "ok",
    "okay",
    "please",
    "thanks",
    "thank",
    "help",
    "need",
    "want",
    "can",
    "cant",
    "could",
    "would",
    "will",
    "should",
    "what",
    "when",
    "where",
    "who",
    "why",
    "how",
    "this",
    "that",
    "there",
    "here",
    "hello",
    "hi",
    "bye",
    "call",
    "text",
    "son",
    "daughter",
    "mum",
    "dad",
    "mom",
    "wife",
    "husband",
    "partner",
    "friend",
    "sorry",
    "sure",
    "just",
    "now",
    "today",
    "tomorrow",
    "dont",
    "know",
    "feel",
    "feeling",
    "very",
    "really",
    "so",
    "about",
    "after",
    "before",
    "some",
    "any",
    "all",
    "one",
    "two",
    "if",
    "then",
    "than",
    "up",
    "out",
    "get",
    "got",
    "go",
    "going",
    "told",
    "said",
    "says",
    "appointment",
    "safe",
    "fine",
    "good",
    "bad",
    "tired",
    "work",
    "home",
    "name",
    "age",
    "years",
    "old",
];

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

    #[test]
    fn bundled_wordings_load() {
        let loaded = parse_wordings(BUNDLED_WORDINGS);
        assert!(loaded.is_ok(), "{:?}", loaded.err());
    }

    #[test]
    fn every_first_reply_and_handover_holds_999_and_is_short() {
        for language in Language::ALL {
            for text in [language.first_reply(), language.interpreter_handover()] {
                assert!(text.contains("999"), "{language:?}: {text}");
                assert!(text.chars().count() <= MAX_WORDING_CHARS, "{language:?}");
                assert!(!text.trim().is_empty());
            }
            assert_ne!(language.first_reply(), language.interpreter_handover());
        }
    }

    #[test]
    fn wordings_are_marked_for_review_by_the_interpreting_service() {
        assert!(BUNDLED_WORDINGS.contains("FOR REVIEW BY THE TRUST'S INTERPRETING SERVICE"));
        let file: BTreeMap<String, WordingIn> = toml::from_str(BUNDLED_WORDINGS).expect("parses");
        for (code, wording) in file {
            assert!(wording.review.contains("interpreting service"), "{code}");
        }
    }

    #[test]
    fn broken_wordings_are_refused() {
        let missing = BUNDLED_WORDINGS.replace("[bn]", "[xx]");
        assert!(parse_wordings(&missing).is_err());
        let no_999 = BUNDLED_WORDINGS.replacen("dzwoń pod 999", "dzwoń", 1);
        let error = parse_wordings(&no_999).expect_err("refused").to_string();
        assert!(error.contains("999") && error.contains("[pl]"), "{error}");
    }

    #[test]
    fn codes_and_names() {
        let codes: Vec<&str> = Language::ALL.iter().map(|l| l.code()).collect();
        assert_eq!(codes, ["pl", "ro", "pt", "ar", "ur", "ur-Latn", "pa", "bn"]);
        assert_eq!(Language::RomanUrdu.english_name(), "Urdu (Roman script)");
        assert_eq!(Language::Punjabi.english_name(), "Punjabi");
        for language in Language::ALL {
            assert_eq!(Language::from_code(language.code()), Some(language));
        }
        assert_eq!(Language::from_code("UR-latn"), Some(Language::RomanUrdu));
        assert_eq!(Language::from_code("en"), None);
    }

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
