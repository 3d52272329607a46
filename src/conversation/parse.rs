//! Forgiving readings of what people text back: `1`, `yes`, `y`, `yeah` and `Yes please`
//! are the same answer. Every function here is pure and total: it returns `None` when the
//! text is not an answer, never panics.
//!
//! Longer than most files on purpose (about 810 lines of code): a third of it is the word
//! lists the readers share (yes, no, not sure, pleas, greetings), which read best beside the
//! readers that use them.

use chrono::{Datelike, NaiveDate};

use super::answers::{Age, ReferrerRole, Relationship, YesNoUnsure};
use crate::domain::channel::{AccessNeed, Channel};
use crate::domain::postcode::Postcode;

/// Commands that work at any step (case and spacing ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Help,
    Back,
    Restart,
    Skip,
    /// `STOP` and the provider's other opt-out words.
    Stop,
    /// `START` / `UNSTOP`: opted in again.
    Start,
    /// `COPING`, `CARER`, `TEAM`, `SERVICES`: a short answer, then the question again.
    Keyword(Keyword),
    /// `PLAN`: a patient asks for their safety plan (sent only to their own number).
    Plan,
}

/// The keywords that send a piece of the service page by text, from anyone, at any step.
/// `PLAN` (the patient's own safety plan) is not one of them: it needs the patient's record,
/// so it is a command of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    /// Steps for the next few hours: breathing, grounding, 999 and the team.
    Coping,
    /// For family, friends and carers: what helps, and support for themselves.
    Carer,
    /// The team's number and hours, and 111.
    Team,
    /// Other services, one line each.
    Services,
}

impl Keyword {
    pub const ALL: [Keyword; 4] = [
        Keyword::Coping,
        Keyword::Carer,
        Keyword::Team,
        Keyword::Services,
    ];

    /// Its entry in conversation.toml; the easy-read variant adds `_easy_read`.
    pub fn wording_key(self, easy_read: bool) -> &'static str {
        match (self, easy_read) {
            (Keyword::Coping, false) => "coping",
            (Keyword::Coping, true) => "coping_easy_read",
            (Keyword::Carer, false) => "carer",
            (Keyword::Carer, true) => "carer_easy_read",
            (Keyword::Team, false) => "team_contact",
            (Keyword::Team, true) => "team_contact_easy_read",
            (Keyword::Services, false) => "services",
            (Keyword::Services, true) => "services_easy_read",
        }
    }
}

/// The opt-out words the SMS provider itself acts on; never reuse them as reply keywords.
pub const OPT_OUT_WORDS: [&str; 8] = [
    "stop",
    "stopall",
    "unsubscribe",
    "cancel",
    "end",
    "quit",
    "revoke",
    "optout",
];

/// Lower case, apostrophes dropped, other punctuation turned into spaces, spaces collapsed.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        match c {
            '\'' | '’' | '‘' | '`' => {}
            c if c.is_alphanumeric() || c == '+' || c == '/' => out.push(c),
            _ => out.push(' '),
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A whole-message command, if the text is one.
pub fn command(text: &str) -> Option<Command> {
    let squeezed: String = normalise(text)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    match squeezed.as_str() {
        "help" | "info" => Some(Command::Help),
        "back" => Some(Command::Back),
        "restart" | "startagain" | "startover" => Some(Command::Restart),
        "skip" => Some(Command::Skip),
        "start" | "unstop" => Some(Command::Start),
        "coping" | "cope" => Some(Command::Keyword(Keyword::Coping)),
        "carer" | "carers" => Some(Command::Keyword(Keyword::Carer)),
        "team" => Some(Command::Keyword(Keyword::Team)),
        "services" | "service" => Some(Command::Keyword(Keyword::Services)),
        "plan" => Some(Command::Plan),
        w if OPT_OUT_WORDS.contains(&w) => Some(Command::Stop),
        _ => None,
    }
}

/// True when the text contains `phrase` as whole words.
fn has_phrase(normalised: &str, phrase: &str) -> bool {
    let hay = format!(" {normalised} ");
    hay.contains(&format!(" {phrase} "))
}

fn has_any(normalised: &str, phrases: &[&str]) -> bool {
    phrases.iter().any(|p| has_phrase(normalised, p))
}

/// The number alone (`"2"`, `"2."`, `"option 2"`), if the text is just a menu choice.
fn menu_number(normalised: &str) -> Option<u32> {
    let rest = normalised
        .strip_prefix("option ")
        .or_else(|| normalised.strip_prefix("number "))
        .unwrap_or(normalised);
    if rest.len() <= 2 {
        rest.parse().ok()
    } else {
        None
    }
}

const NOT_SURE: &[&str] = &[
    "not sure",
    "unsure",
    "dont know",
    "do not know",
    "dunno",
    "idk",
    "maybe",
    "no idea",
    "not certain",
    "dont think so not sure",
    "possibly",
    "perhaps",
    "i think so",
    "hard to say",
];
const NO: &[&str] = &[
    "no",
    "n",
    "nope",
    "nah",
    "na",
    "not really",
    "no im not",
    "im not",
    "i am not",
    "they are not",
    "theyre not",
    "they dont",
    "they do not",
    "dont",
    "not",
    "no they dont",
    "no thanks",
    "never",
];
const YES: &[&str] = &[
    "yes",
    "y",
    "yeah",
    "yea",
    "yep",
    "yup",
    "ya",
    "yh",
    "aye",
    "ok",
    "okay",
    "sure",
    "correct",
    "i am",
    "im ok",
    "they are",
    "they do",
    "they know",
    "definitely",
    "of course",
    "yes please",
];

/// `1`/yes, `2`/no, `3`/not sure — with the many ways people say each.
pub fn yes_no_unsure(text: &str) -> Option<YesNoUnsure> {
    let n = normalise(text);
    match menu_number(&n) {
        Some(1) => return Some(YesNoUnsure::Yes),
        Some(2) => return Some(YesNoUnsure::No),
        Some(3) => return Some(YesNoUnsure::NotSure),
        Some(_) => return None,
        None => {}
    }
    // Uncertainty first: "not sure" contains "not", "i dont know" contains "dont".
    if has_any(&n, NOT_SURE) {
        return Some(YesNoUnsure::NotSure);
    }
    let first = n.split(' ').next().unwrap_or_default();
    let starts_no = NO.contains(&first) || NO.iter().any(|p| n.starts_with(&format!("{p} ")));
    let starts_yes = YES.contains(&first) || YES.iter().any(|p| n.starts_with(&format!("{p} ")));
    match (starts_yes, starts_no) {
        (true, false) => Some(YesNoUnsure::Yes),
        (false, true) => Some(YesNoUnsure::No),
        _ if YES.contains(&n.as_str()) => Some(YesNoUnsure::Yes),
        _ if NO.contains(&n.as_str()) => Some(YesNoUnsure::No),
        _ => None,
    }
}

/// Yes or no only (for questions with no "not sure" option).
pub fn yes_no(text: &str) -> Option<bool> {
    match yes_no_unsure(text)? {
        YesNoUnsure::Yes => Some(true),
        YesNoUnsure::No => Some(false),
        YesNoUnsure::NotSure => None,
    }
}

const SOMEONE_ELSE: &[&str] = &[
    "someone else",
    "somebody else",
    "someone",
    "somebody",
    "other",
    "another person",
    "other person",
    "them",
    "him",
    "her",
    "my",
    "friend",
    "family",
    "patient",
    "client",
];
const MYSELF: &[&str] = &[
    "me", "myself", "self", "i", "im", "mine", "for me", "about me",
];

/// `1`/me/myself or `2`/someone else.
pub fn relationship(text: &str) -> Option<Relationship> {
    let n = normalise(text);
    match menu_number(&n) {
        Some(1) => return Some(Relationship::Myself),
        Some(2) => return Some(Relationship::SomeoneElse),
        Some(_) => return None,
        None => {}
    }
    // "I'm worried about my son" says both "I" and "my son": someone else wins.
    if has_any(&n, SOMEONE_ELSE) || referrer_role_word(&n).is_some() {
        Some(Relationship::SomeoneElse)
    } else if has_any(&n, MYSELF) {
        Some(Relationship::Myself)
    } else {
        None
    }
}

fn referrer_role_word(n: &str) -> Option<ReferrerRole> {
    const FAMILY: &[&str] = &[
        "family",
        "mum",
        "mom",
        "mother",
        "dad",
        "father",
        "parent",
        "son",
        "daughter",
        "child",
        "brother",
        "sister",
        "sibling",
        "husband",
        "wife",
        "partner",
        "boyfriend",
        "girlfriend",
        "grandson",
        "granddaughter",
        "grandparent",
        "nan",
        "gran",
        "grandad",
        "grandma",
        "aunt",
        "auntie",
        "uncle",
        "cousin",
        "niece",
        "nephew",
        "relative",
        "stepson",
        "stepdaughter",
    ];
    const FRIEND: &[&str] = &[
        "friend",
        "mate",
        "pal",
        "best friend",
        "flatmate",
        "housemate",
    ];
    const CARER: &[&str] = &[
        "carer",
        "caregiver",
        "care giver",
        "support worker",
        "personal assistant",
    ];
    const PROFESSIONAL: &[&str] = &[
        "professional",
        "gp",
        "doctor",
        "dr",
        "nurse",
        "nhs 111",
        "111",
        "police",
        "police officer",
        "officer",
        "paramedic",
        "ambulance",
        "social worker",
        "charity",
        "charity worker",
        "mental health worker",
        "teacher",
        "pharmacist",
        "health visitor",
        "midwife",
        "psychiatrist",
        "therapist",
        "counsellor",
        "key worker",
        "housing officer",
    ];
    if has_any(n, PROFESSIONAL) {
        Some(ReferrerRole::Professional)
    } else if has_any(n, CARER) {
        Some(ReferrerRole::Carer)
    } else if has_any(n, FAMILY) {
        Some(ReferrerRole::Family)
    } else if has_any(n, FRIEND) {
        Some(ReferrerRole::Friend)
    } else if has_any(
        n,
        &["other", "neighbour", "neighbor", "colleague", "landlord"],
    ) {
        Some(ReferrerRole::Other)
    } else {
        None
    }
}

/// `1` family … `5` other, or a word that says which ("her GP", "I'm his mum").
pub fn referrer_role(text: &str) -> Option<ReferrerRole> {
    let n = normalise(text);
    match menu_number(&n) {
        Some(1) => Some(ReferrerRole::Family),
        Some(2) => Some(ReferrerRole::Friend),
        Some(3) => Some(ReferrerRole::Carer),
        Some(4) => Some(ReferrerRole::Professional),
        Some(5) => Some(ReferrerRole::Other),
        Some(_) => None,
        None => referrer_role_word(&n),
    }
}

/// `1` phone call, `2` text message, `3` letter.
pub fn contact_method(text: &str) -> Option<Channel> {
    let n = normalise(text);
    match menu_number(&n) {
        Some(1) => return Some(Channel::PhoneCall),
        Some(2) => return Some(Channel::Sms),
        Some(3) => return Some(Channel::Letter),
        Some(_) => return None,
        None => {}
    }
    let text_words = [
        "text",
        "texts",
        "sms",
        "message",
        "text message",
        "txt",
        "whatsapp",
    ];
    let call_words = [
        "phone",
        "call",
        "ring",
        "phone call",
        "telephone",
        "calling",
        "mobile",
    ];
    let letter_words = ["letter", "post", "mail", "writing", "letters", "by post"];
    let hits = [
        (has_any(&n, &text_words), Channel::Sms),
        (has_any(&n, &call_words), Channel::PhoneCall),
        (has_any(&n, &letter_words), Channel::Letter),
    ];
    let mut found = hits.iter().filter(|(hit, _)| *hit).map(|(_, c)| *c);
    match (found.next(), found.next()) {
        (Some(one), None) => Some(one),
        // "phone me or text" names two: the first in the person's own words is not knowable
        // reliably, so ask again rather than guess.
        _ => None,
    }
}

/// Several access needs at once ("2 5", "2, 5", "large print and easy read"), or none (`8`).
/// `Some(vec![])` means "none"; `None` means the text wasn't an answer.
pub fn access_needs(text: &str) -> Option<Vec<AccessNeed>> {
    let n = normalise(text);
    if n.is_empty() {
        return None;
    }
    if has_any(
        &n,
        &[
            "none",
            "no",
            "nothing",
            "n/a",
            "na",
            "no thanks",
            "nope",
            "not really",
        ],
    ) && !n.chars().any(|c| c.is_ascii_digit())
    {
        return Some(Vec::new());
    }
    let mut needs = Vec::new();
    let mut none_chosen = false;
    let mut understood_anything = false;
    let spaced = n.replace('/', " ");
    for word in spaced.split(' ') {
        if let Ok(number) = word.parse::<usize>() {
            match number {
                1..=7 => needs.push(AccessNeed::ALL[number - 1]),
                8 => none_chosen = true,
                _ => return None,
            }
            understood_anything = true;
        }
    }
    let named = [
        (
            &["bsl", "sign language", "british sign language", "signing"][..],
            AccessNeed::Bsl,
        ),
        (
            &["large print", "big print", "large text", "bigger text"][..],
            AccessNeed::LargePrint,
        ),
        (&["braille"][..], AccessNeed::Braille),
        (&["audio", "recording", "spoken"][..], AccessNeed::Audio),
        (
            &["easy read", "easyread", "simple words"][..],
            AccessNeed::EasyRead,
        ),
        (
            &["text message", "texts", "text"][..],
            AccessNeed::TextMessage,
        ),
        (
            &[
                "carer",
                "advocate",
                "face to face",
                "support person",
                "someone with me",
            ][..],
            AccessNeed::FaceToFaceSupport,
        ),
    ];
    for (phrases, need) in named {
        if has_any(&n, phrases) {
            needs.push(need);
            understood_anything = true;
        }
    }
    if !understood_anything {
        return None;
    }
    if none_chosen && needs.is_empty() {
        return Some(Vec::new());
    }
    needs.sort();
    needs.dedup();
    Some(needs)
}

/// No interpreter needed (`no`, `none`, `english`)?
pub fn no_language_needed(text: &str) -> bool {
    let n = normalise(text);
    matches!(
        n.as_str(),
        "no" | "n"
            | "none"
            | "nope"
            | "nah"
            | "no thanks"
            | "no thank you"
            | "english"
            | "english is fine"
            | "english please"
            | "not needed"
            | "no need"
            | "no interpreter"
            | "2"
    ) || (has_phrase(&n, "no") && has_phrase(&n, "english"))
}

/// A language name as the person wrote it, tidied ("polish" → "Polish").
pub fn language(text: &str) -> Option<String> {
    let n = normalise(text);
    if n.is_empty() || n.len() > 60 || n.chars().all(|c| c.is_ascii_digit() || c == ' ') {
        return None;
    }
    if matches!(n.as_str(), "yes" | "y" | "yeah" | "yes please" | "1") {
        return None;
    }
    if has_any(&n, &["bsl", "sign language", "british sign language"]) {
        return Some("British Sign Language".to_owned());
    }
    let cleaned = text
        .trim()
        .trim_matches(|c: char| !c.is_alphanumeric() && c != ')');
    let mut chars = cleaned.chars();
    let first = chars.next()?;
    Some(first.to_uppercase().chain(chars).collect())
}

/// "No"/"nothing" for the free-text optional questions.
pub fn says_nothing_more(text: &str) -> bool {
    let n = normalise(text);
    matches!(
        n.as_str(),
        "no" | "n"
            | "none"
            | "nope"
            | "nah"
            | "no thanks"
            | "no thank you"
            | "nothing"
            | "nothing else"
            | "no nothing"
            | "thats all"
            | "thats it"
            | "n/a"
            | "na"
    )
}

/// "Are you 18 or over?": `1`/yes, `2`/no, an age like `34`, or a date of birth.
pub fn age(text: &str, today: NaiveDate) -> Option<Age> {
    let n = normalise(text);
    if let Some(dob) = date_of_birth(text, today) {
        if dob > today || today.year() - dob.year() > 120 {
            return None;
        }
        let years = years_between(dob, today);
        return Some(Age {
            over_18: years >= 18,
            years: Some(years),
            date_of_birth: Some(dob),
        });
    }
    match menu_number(&n) {
        Some(1) => return Some(adult(true)),
        Some(2) => return Some(adult(false)),
        _ => {}
    }
    if has_any(
        &n,
        &[
            "under 18",
            "under eighteen",
            "child",
            "minor",
            "teenager",
            "teen",
        ],
    ) {
        return Some(adult(false));
    }
    if has_any(
        &n,
        &[
            "18 or over",
            "over 18",
            "18+",
            "adult",
            "over eighteen",
            "18 or older",
            "older than 18",
        ],
    ) {
        return Some(adult(true));
    }
    let numbers: Vec<u32> = n
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .filter_map(|w| w.parse().ok())
        .collect();
    if let [number] = numbers[..] {
        // A year of birth on its own: only sure when it is not the borderline year.
        if (1900..=9999).contains(&number) {
            let at_most = today.year() - number as i32;
            return match at_most {
                a if !(0..=121).contains(&a) => None,
                a if a > 18 => Some(adult(true)),
                a if a < 18 => Some(adult(false)),
                _ => None,
            };
        }
        if (3..=120).contains(&number) {
            return Some(Age {
                over_18: number >= 18,
                years: Some(number),
                date_of_birth: None,
            });
        }
        return None;
    }
    if numbers.is_empty() {
        return yes_no(text).map(adult);
    }
    None
}

fn adult(over_18: bool) -> Age {
    Age {
        over_18,
        years: None,
        date_of_birth: None,
    }
}

fn years_between(born: NaiveDate, today: NaiveDate) -> u32 {
    let mut years = today.year() - born.year();
    if (today.month(), today.day()) < (born.month(), born.day()) {
        years -= 1;
    }
    years.max(0) as u32
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

fn month_number(word: &str) -> Option<u32> {
    let w = word.to_ascii_lowercase();
    if w.len() < 3 {
        return None;
    }
    MONTHS
        .iter()
        .position(|m| w.starts_with(m) || (w == "sept"))
        .map(|i| i as u32 + 1)
}

/// UK-style dates: `01/02/1990`, `1-2-90`, `1.2.1990`, `1990-02-01`, `1st February 1990`,
/// `Feb 1 1990`. Two-digit years are taken as the most recent past century.
pub fn date_of_birth(text: &str, today: NaiveDate) -> Option<NaiveDate> {
    let t = text.trim().to_ascii_lowercase();
    let parts: Vec<&str> = t
        .split(['/', '-', '.', ' ', ','])
        .filter(|p| !p.is_empty())
        .collect();
    if parts.len() != 3 {
        return None;
    }
    let strip_suffix = |p: &str| -> String {
        p.trim_end_matches("st")
            .trim_end_matches("nd")
            .trim_end_matches("rd")
            .trim_end_matches("th")
            .to_owned()
    };
    let num = |p: &str| strip_suffix(p).parse::<u32>().ok();
    let (day, month, year) = if parts[0].len() == 4 && parts[0].chars().all(|c| c.is_ascii_digit())
    {
        (num(parts[2])?, num(parts[1])?, num(parts[0])?)
    } else if let Some(m) = month_number(parts[1]) {
        (num(parts[0])?, m, num(parts[2])?)
    } else if let Some(m) = month_number(parts[0]) {
        (num(parts[1])?, m, num(parts[2])?)
    } else {
        (num(parts[0])?, num(parts[1])?, num(parts[2])?)
    };
    let year = match year {
        y if y < 100 && parts.iter().any(|p| p.len() == 2) => {
            // 90 → 1990, 05 → 2005: the century that makes it a past date.
            let this_year = today.year() as u32 % 100;
            if y > this_year { 1900 + y } else { 2000 + y }
        }
        y if (1000..=9999).contains(&y) => y,
        _ => return None,
    };
    NaiveDate::from_ymd_opt(year as i32, month, day)
}

/// Ward staff asking for discharge support: `DISCHARGE`, "discharge support" or "ward
/// staff". Only read at the relationship and role questions (the role menu's `6` too).
pub fn discharge_support(text: &str) -> bool {
    let n = normalise(text);
    matches!(n.as_str(), "discharge" | "discharge support" | "ward staff")
        || n.starts_with("discharge support")
}

/// When someone is expected to leave the ward: `today`, `tomorrow`, a full date as for a date
/// of birth (two-digit years are this century), or a day and month (`3/12`, `3 December`),
/// the next such date from today.
pub fn discharge_date(text: &str, today: NaiveDate) -> Option<NaiveDate> {
    let n = normalise(text);
    match n.as_str() {
        "today" => return Some(today),
        "tomorrow" => return today.succ_opt(),
        _ => {}
    }
    let t = text.trim().to_ascii_lowercase();
    let parts: Vec<&str> = t
        .split(['/', '-', '.', ' ', ','])
        .filter(|p| !p.is_empty())
        .collect();
    let num = |p: &str| {
        p.trim_end_matches(|c: char| c.is_ascii_alphabetic())
            .parse::<u32>()
            .ok()
    };
    let date = match parts.as_slice() {
        [a, b] => {
            let (day, month) = match (month_number(a), month_number(b)) {
                (None, Some(m)) => (num(a)?, m),
                (Some(m), None) => (num(b)?, m),
                _ => (num(a)?, num(b)?),
            };
            let this_year = NaiveDate::from_ymd_opt(today.year(), month, day)?;
            if this_year < today - chrono::TimeDelta::days(7) {
                NaiveDate::from_ymd_opt(today.year() + 1, month, day)?
            } else {
                this_year
            }
        }
        [_, _, year] => {
            let date = date_of_birth(&t, today)?;
            if year.len() == 2 && date.year() < 2000 {
                date.with_year(date.year() + 100)?
            } else {
                date
            }
        }
        _ => return None,
    };
    // A discharge date is near: not long past, and within a year.
    (date >= today - chrono::TimeDelta::days(31) && date <= today + chrono::TimeDelta::days(366))
        .then_some(date)
}

/// A postcode in the text, alone or inside a sentence ("my postcode is LS1 4DY").
pub fn postcode_in(text: &str) -> Option<Postcode> {
    if let Ok(postcode) = Postcode::parse(text) {
        return Some(postcode);
    }
    let words: Vec<&str> = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    words.iter().enumerate().find_map(|(i, word)| {
        let pair = words.get(i + 1).map(|next| format!("{word} {next}"));
        pair.and_then(|p| Postcode::parse(&p).ok())
            .or_else(|| Postcode::parse(word).ok())
    })
}

/// Tears or a plea rather than an answer: emoji alone ("😭😭😭"), a sad face (":(") or a
/// short plea ("please", "help me", "anyone?"). It gets a kind word and the question again,
/// never "Sorry, I didn't understand".
pub fn is_distress(text: &str) -> bool {
    emoji_only(text) || PLEAS.contains(&squeeze(&normalise(text)).as_str())
}

/// Said on coming back to a conversation, not an answer to its question ("hi", "I'm back").
pub fn is_greeting(text: &str) -> bool {
    GREETINGS.contains(&squeeze(&normalise(text)).as_str())
}

/// What people text when they are in tears or stuck, in `squeeze`d form (so "pleeease",
/// "need" and "help help help" are found as "please", "ned" and "help").
const PLEAS: &[&str] = &[
    "please",
    "pls",
    "plz",
    "plez",
    "plse",
    "pleas",
    "pleaze",
    "plis",
    "help",
    "help me",
    "help us",
    "help pls",
    "help plz",
    "help please",
    "please help",
    "pls help",
    "plz help",
    "help me please",
    "help me pls",
    "please help me",
    "pls help me",
    "plz help me",
    "someone",
    "somebody",
    "someone help",
    "someone help me",
    "somebody help",
    "somebody help me",
    "anyone",
    "anybody",
    "anyone help",
    "anyone there",
    "anybody there",
    "is anyone there",
    "is anybody there",
    "is someone there",
    "helo anyone",
    "sos",
    "i ned help",
    "ned help",
    "i ned someone",
    "i ned to talk",
    "ned to talk",
    "i cant",
    "cant",
    "i cant cope",
    "cant cope",
    "i cant do this",
    "cant do this",
    "i cant anymore",
    "cant anymore",
    "scared",
    "im scared",
    "so scared",
    "im so scared",
    "frightened",
    "im frightened",
    "alone",
    "im alone",
    "so alone",
    "im so alone",
    "lonely",
    "im lonely",
    "crying",
    "im crying",
    "cant stop crying",
    "i cant stop crying",
    "hurting",
    "im hurting",
    "it hurts",
    "not ok",
    "im not ok",
    "not okay",
    "im not okay",
];

const GREETINGS: &[&str] = &[
    "hi",
    "hiya",
    "hey",
    "helo",
    "hi there",
    "helo there",
    "god morning",
    "god afternon",
    "god evening",
    "im back",
    "i am back",
    "sory",
    "sory im back",
    "are you there",
    "stil there",
    "you there",
];

const SAD_FACES: &[&str] = &[":(", ":-(", ":'(", ";(", "='(", "</3"];

/// Nothing that reads as words or numbers, and at least one emoji or sad face.
fn emoji_only(text: &str) -> bool {
    !text.chars().any(char::is_alphanumeric)
        && (text.chars().any(is_emoji) || SAD_FACES.iter().any(|face| text.contains(face)))
}

/// The Unicode blocks emoji live in (pictographs, emoticons, symbols, dingbats).
fn is_emoji(c: char) -> bool {
    matches!(
        u32::from(c),
        0x1F000..=0x1FAFF
            | 0x2600..=0x27BF
            | 0x2300..=0x23FF
            | 0x2B00..=0x2BFF
            | 0x203C
            | 0x2049
            | 0x3030
            | 0x303D
            | 0x3297
            | 0x3299
    )
}

/// Runs of one letter made one ("pleeease" → "please") and a word said again and again made
/// once ("help help help" → "help"), so stretched pleas are still recognised.
fn squeeze(normalised: &str) -> String {
    let mut letters = String::with_capacity(normalised.len());
    for c in normalised.chars() {
        if !letters.ends_with(c) {
            letters.push(c);
        }
    }
    let mut words: Vec<&str> = Vec::new();
    for word in letters.split(' ') {
        if words.last() != Some(&word) {
            words.push(word);
        }
    }
    words.join(" ")
}

/// The script a text is mostly written in when that is not Latin ("Arabic", "Cyrillic"…): a
/// sure sign of another language even when no language was recognised.
pub fn other_script(text: &str) -> Option<&'static str> {
    let mut latin = 0usize;
    let mut others: Vec<(&'static str, usize)> = Vec::new();
    for c in text.chars().filter(|c| c.is_alphabetic()) {
        match script(c) {
            None => latin += 1,
            Some(name) => match others.iter_mut().find(|(n, _)| *n == name) {
                Some((_, count)) => *count += 1,
                None => others.push((name, 1)),
            },
        }
    }
    let (name, count) = others.into_iter().max_by_key(|(_, count)| *count)?;
    (count > latin).then_some(name)
}

/// A letter's script, `None` for Latin.
fn script(c: char) -> Option<&'static str> {
    Some(match u32::from(c) {
        0x0000..=0x02AF | 0x1E00..=0x1EFF | 0x2C60..=0x2C7F | 0xA720..=0xA7FF | 0xAB30..=0xAB6F => {
            return None;
        }
        0xFF21..=0xFF5A => return None,
        0x0370..=0x03FF | 0x1F00..=0x1FFF => "Greek",
        0x0400..=0x052F => "Cyrillic",
        0x0530..=0x058F => "Armenian",
        0x0590..=0x05FF => "Hebrew",
        0x0600..=0x06FF | 0x0750..=0x077F | 0x08A0..=0x08FF | 0xFB50..=0xFDFF | 0xFE70..=0xFEFF => {
            "Arabic"
        }
        0x0900..=0x097F => "Devanagari",
        0x0980..=0x09FF => "Bengali",
        0x0A00..=0x0A7F => "Gurmukhi",
        0x0A80..=0x0AFF => "Gujarati",
        0x0B80..=0x0BFF => "Tamil",
        0x0E00..=0x0E7F => "Thai",
        0x10A0..=0x10FF => "Georgian",
        0x1200..=0x139F => "Ethiopic",
        0x3040..=0x30FF => "Japanese",
        0x1100..=0x11FF | 0x3130..=0x318F | 0xAC00..=0xD7AF => "Korean",
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF => "Chinese",
        _ => "non-Latin",
    })
}

/// Free text trimmed and capped so one long text cannot fill a field without end.
pub fn free_text(text: &str, max_chars: usize) -> Option<String> {
    // A direction override in a name would reverse what staff read and letters print; the
    // transcript keeps the text exactly as sent.
    let plain = crate::domain::text::without_direction_controls(text);
    let trimmed = plain.trim();
    if trimmed.is_empty() {
        return None;
    }
    Some(trimmed.chars().take(max_chars).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).expect("valid date")
    }

    #[test]
    fn free_text_answers_drop_direction_overrides() {
        assert_eq!(
            free_text("Sam \u{202E}htimS\u{202C}", 100).as_deref(),
            Some("Sam htimS")
        );
        assert_eq!(free_text("\u{202E}\u{2066}", 100), None);
        assert_eq!(free_text("عائشہ", 100).as_deref(), Some("عائشہ"));
    }

    #[test]
    fn commands_ignore_case_spacing_and_punctuation() {
        for (text, want) in [
            ("HELP", Command::Help),
            (" help ", Command::Help),
            ("Back", Command::Back),
            ("re start", Command::Restart),
            ("RESTART!", Command::Restart),
            ("skip", Command::Skip),
            ("STOP", Command::Stop),
            ("stop.", Command::Stop),
            ("Stop All", Command::Stop),
            ("STOPALL", Command::Stop),
            ("unsubscribe", Command::Stop),
            ("CANCEL", Command::Stop),
            ("end", Command::Stop),
            ("Quit", Command::Stop),
            ("revoke", Command::Stop),
            ("opt out", Command::Stop),
            ("OPTOUT", Command::Stop),
            ("START", Command::Start),
            ("PLAN", Command::Plan),
            (" p l a n. ", Command::Plan),
            ("Plan", Command::Plan),
            ("unstop", Command::Start),
            ("COPING", Command::Keyword(Keyword::Coping)),
            ("coping", Command::Keyword(Keyword::Coping)),
            (" Coping! ", Command::Keyword(Keyword::Coping)),
            ("Carer.", Command::Keyword(Keyword::Carer)),
            ("CARERS", Command::Keyword(Keyword::Carer)),
            ("team", Command::Keyword(Keyword::Team)),
            ("Services?", Command::Keyword(Keyword::Services)),
        ] {
            assert_eq!(command(text), Some(want), "{text:?}");
        }
        for text in [
            "I can't stop crying",
            "help me please",
            "go back to sleep",
            "",
            "yes",
        ] {
            assert_eq!(command(text), None, "{text:?}");
        }
    }

    #[test]
    fn yes_no_unsure_accepts_the_forms_people_use() {
        use YesNoUnsure::*;
        for (text, want) in [
            ("1", Yes),
            ("yes", Yes),
            ("Y", Yes),
            ("yeah", Yes),
            ("Yes please", Yes),
            ("yep!", Yes),
            ("yes they do", Yes),
            ("2", No),
            ("no", No),
            ("Nope", No),
            ("not really", No),
            ("no I'm not", No),
            ("they don't", No),
            ("3", NotSure),
            ("not sure", NotSure),
            ("I don't know", NotSure),
            ("dunno", NotSure),
            ("maybe", NotSure),
        ] {
            assert_eq!(yes_no_unsure(text), Some(want), "{text:?}");
        }
        for text in ["4", "purple", "", "12"] {
            assert_eq!(yes_no_unsure(text), None, "{text:?}");
        }
    }

    #[test]
    fn relationship_reads_numbers_and_words() {
        use Relationship::*;
        for (text, want) in [
            ("1", Myself),
            ("me", Myself),
            ("Myself", Myself),
            ("it's for me", Myself),
            ("2", SomeoneElse),
            ("someone else", SomeoneElse),
            ("I'm worried about my son", SomeoneElse),
            ("my mum", SomeoneElse),
            ("a patient of mine", SomeoneElse),
        ] {
            assert_eq!(relationship(text), Some(want), "{text:?}");
        }
        assert_eq!(relationship("7"), None);
        assert_eq!(relationship("hello"), None);
    }

    #[test]
    fn referrer_role_reads_numbers_and_words() {
        use ReferrerRole::*;
        for (text, want) in [
            ("1", Family),
            ("2", Friend),
            ("3", Carer),
            ("4", Professional),
            ("5", Other),
            ("I'm her mum", Family),
            ("friend", Friend),
            ("his carer", Carer),
            ("GP", Professional),
            ("police officer", Professional),
            ("NHS 111", Professional),
            ("paramedic", Professional),
            ("charity worker", Professional),
            ("neighbour", Other),
        ] {
            assert_eq!(referrer_role(text), Some(want), "{text:?}");
        }
        assert_eq!(referrer_role("6"), None);
        assert_eq!(referrer_role("blah"), None);
    }

    #[test]
    fn contact_method_reads_numbers_and_words() {
        assert_eq!(contact_method("1"), Some(Channel::PhoneCall));
        assert_eq!(contact_method("2"), Some(Channel::Sms));
        assert_eq!(contact_method("3"), Some(Channel::Letter));
        assert_eq!(contact_method("Text message please"), Some(Channel::Sms));
        assert_eq!(contact_method("phone me"), Some(Channel::PhoneCall));
        assert_eq!(contact_method("by post"), Some(Channel::Letter));
        assert_eq!(contact_method("phone or text"), None);
        assert_eq!(contact_method("4"), None);
    }

    #[test]
    fn access_needs_takes_several_at_once() {
        use AccessNeed::*;
        assert_eq!(access_needs("2 5"), Some(vec![LargePrint, EasyRead]));
        assert_eq!(access_needs("2,5"), Some(vec![LargePrint, EasyRead]));
        assert_eq!(access_needs("5 and 2"), Some(vec![LargePrint, EasyRead]));
        assert_eq!(access_needs("1"), Some(vec![Bsl]));
        assert_eq!(access_needs("7"), Some(vec![FaceToFaceSupport]));
        assert_eq!(access_needs("8"), Some(vec![]));
        assert_eq!(access_needs("none"), Some(vec![]));
        assert_eq!(access_needs("No"), Some(vec![]));
        assert_eq!(
            access_needs("large print and BSL"),
            Some(vec![Bsl, LargePrint])
        );
        assert_eq!(access_needs("9"), None);
        assert_eq!(access_needs("purple"), None);
    }

    #[test]
    fn age_accepts_yes_no_numbers_and_dates() {
        let t = today();
        assert!(age("1", t).is_some_and(|a| a.over_18));
        assert!(age("yes", t).is_some_and(|a| a.over_18));
        assert!(age("2", t).is_some_and(|a| !a.over_18));
        assert!(age("no", t).is_some_and(|a| !a.over_18));
        let a = age("34", t).expect("an age");
        assert_eq!((a.over_18, a.years), (true, Some(34)));
        let a = age("I'm 17", t).expect("an age");
        assert_eq!((a.over_18, a.years), (false, Some(17)));
        assert!(age("18", t).is_some_and(|a| a.over_18));
        let a = age("01/02/1990", t).expect("a date of birth");
        assert_eq!(a.years, Some(36));
        assert_eq!(a.date_of_birth, NaiveDate::from_ymd_opt(1990, 2, 1));
        // Eighteenth birthday tomorrow: still 17 today.
        assert!(age("24/11/2008", t).is_some_and(|a| !a.over_18));
        assert!(age("23/11/2008", t).is_some_and(|a| a.over_18));
        assert!(age("1st February 1990", t).is_some_and(|a| a.years == Some(36)));
        assert!(age("1990-02-01", t).is_some_and(|a| a.years == Some(36)));
        assert!(age("1980", t).is_some_and(|a| a.over_18));
        assert!(age("2015", t).is_some_and(|a| !a.over_18));
        assert_eq!(age("2008", t), None, "born 2008 may be 17 or 18: ask again");
        assert_eq!(age("31/02/1990", t), None);
        assert_eq!(age("01/01/2030", t), None);
        assert_eq!(age("500", t), None);
        assert_eq!(age("purple", t), None);
    }

    #[test]
    fn postcodes_are_found_inside_sentences() {
        let found = |t: &str| postcode_in(t).map(|p| p.as_str().to_owned());
        assert_eq!(found("ls14dy").as_deref(), Some("LS1 4DY"));
        assert_eq!(
            found("my postcode is LS1 4DY thanks").as_deref(),
            Some("LS1 4DY")
        );
        assert_eq!(found("it's bd1 1aa.").as_deref(), Some("BD1 1AA"));
        assert_eq!(found("near Leeds"), None);
        assert_eq!(found("I am 34"), None);
    }

    #[test]
    fn language_and_nothing_more() {
        assert!(no_language_needed("no"));
        assert!(no_language_needed("English"));
        assert!(no_language_needed("No thanks"));
        assert!(!no_language_needed("Polish"));
        assert_eq!(language("polish").as_deref(), Some("Polish"));
        assert_eq!(language("BSL").as_deref(), Some("British Sign Language"));
        assert_eq!(language("yes"), None);
        assert!(says_nothing_more("No"));
        assert!(says_nothing_more("nothing else"));
        assert!(!says_nothing_more("I have a guide dog"));
    }

    #[test]
    fn tears_and_pleas_are_distress_but_answers_are_not() {
        for text in [
            "😭😭😭",
            "😢",
            "💔💔",
            "😭!!",
            ":(",
            ":'(",
            "please",
            "Pleeeease",
            "pls",
            "PLZ",
            "help me",
            "help help help",
            "Help me please!!",
            "anyone?",
            "Is anybody there",
            "SOS",
            "I need help",
            "I can't cope",
            "please 😭",
        ] {
            assert!(is_distress(text), "{text:?}");
        }
        for text in [
            "",
            "1",
            "yes",
            "no",
            "Sam",
            "LS1 4DY",
            "purple",
            "help me find my son",
            ":)",
            "???",
            "1️⃣",
        ] {
            assert!(!is_distress(text), "{text:?}");
        }
    }

    #[test]
    fn word_lists_are_written_squeezed_so_they_can_match() {
        for entry in PLEAS.iter().chain(GREETINGS) {
            assert_eq!(squeeze(entry), *entry, "{entry:?} can never match");
        }
        assert_eq!(squeeze("pleeease help help"), "please help");
    }

    #[test]
    fn greetings_on_coming_back() {
        for text in ["hi", "Hello?", "hey", "I'm back", "sorry", "good morning"] {
            assert!(is_greeting(text), "{text:?}");
        }
        for text in ["34", "Leeds", "hearing voices", "1"] {
            assert!(!is_greeting(text), "{text:?}");
        }
    }

    #[test]
    fn other_scripts_are_named_and_latin_is_not() {
        assert_eq!(other_script("مجھے مدد چاہیے"), Some("Arabic"));
        assert_eq!(other_script("ਮੈਨੂੰ ਮਦਦ ਚਾਹੀਦੀ ਹੈ"), Some("Gurmukhi"));
        assert_eq!(other_script("আমার সাহায্য দরকার"), Some("Bengali"));
        assert_eq!(other_script("мне нужна помощь"), Some("Cyrillic"));
        for text in [
            "I need help",
            "Potrzebuję pomocy",
            "Preciso de ajuda",
            "😭",
            "123",
            "",
            "Ali علی",
        ] {
            assert_eq!(other_script(text), None, "{text:?}");
        }
    }
}

#[cfg(test)]
mod date_properties {
    use chrono::{Datelike, NaiveDate};
    use proptest::prelude::*;

    use super::{age, date_of_birth};

    /// Texts shaped like dates (and not), with separators people use.
    fn date_like() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            (any::<i64>(), any::<i64>(), any::<i64>(), "[ /.,-]{1,3}")
                .prop_map(|(d, m, y, sep)| format!("{d}{sep}{m}{sep}{y}")),
            (0u32..40, 0u32..15, 0i32..3000, "[ /.,-]")
                .prop_map(|(d, m, y, sep)| format!("{d}{sep}{m}{sep}{y}")),
        ]
    }

    fn today() -> impl Strategy<Value = NaiveDate> {
        (1950i32..2200, 1u32..=365)
            .prop_map(|(y, day)| NaiveDate::from_yo_opt(y, day).unwrap_or(NaiveDate::MIN))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn date_and_age_parsing_never_panic_and_never_give_a_future_birth(
            text in date_like(),
            today in today(),
        ) {
            let _ = date_of_birth(&text, today);
            if let Some(age) = age(&text, today)
                && let Some(dob) = age.date_of_birth
            {
                prop_assert!(dob <= today, "born {dob}, after today {today}");
                prop_assert!(today.year() - dob.year() <= 120);
                let years = age.years.unwrap_or_default();
                prop_assert_eq!(age.over_18, years >= 18);
            }
        }
    }
}
