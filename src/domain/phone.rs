//! Phone numbers: parsed once at the edge, stored as E.164, and masked whenever shown.
//!
//! A phone number of a person in crisis is personal data (safety rule 6), so this type has no
//! way to print itself in full by accident: `Display` and `Debug` both mask it. Code that
//! really needs the number (the SMS provider, the store) asks for [`PhoneNumber::e164`].

use std::fmt;

use phonenumber::country::Id as Region;
use phonenumber::metadata::DATABASE;
use phonenumber::{Mode, Type};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The region assumed for national-form input: the team serves England.
const DEFAULT_REGION: Region = Region::GB;

/// Longer input than this is not a phone number, and is not handed to the parser.
const MAX_INPUT_CHARS: usize = 64;

/// A valid phone number, kept as E.164. Display and Debug show it MASKED (so it can never leak
/// into logs by accident).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber(String);

/// Why text is not a phone number. The messages never echo the input: it may be someone's
/// number, and errors end up in logs.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PhoneError {
    #[error("no phone number was given")]
    Empty,
    /// Letters or other characters no phone number is written with.
    #[error("the text is not a phone number")]
    NotANumber,
    /// Written like a number, but not one that exists in the numbering plan.
    #[error("the phone number is not a valid number")]
    NotValid,
}

impl PhoneNumber {
    /// National or international form; default region GB ("07911 123456", "+44 7911 123456",
    /// "0044 7911 123456", "(0113) 496 0000", "+1 212 555 0123"). The number must be valid by
    /// libphonenumber's metadata, not merely possible: `phonenumber::parse` alone accepts
    /// "12345". Arabic-Indic and full-width digits are accepted, since people type numbers on
    /// whatever keyboard their phone has.
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        let cleaned = clean_number_text(input)?;
        // International form is parsed without a default region: phonenumber 0.3.10 drops the
        // leading zero of Italian-style numbers ("+39 02 …") when given one. "00" is GB's
        // international prefix, so it means the same as "+".
        let number = match cleaned
            .strip_prefix('+')
            .or_else(|| cleaned.strip_prefix("00"))
        {
            Some(rest) => phonenumber::parse(None, format!("+{rest}")),
            None => phonenumber::parse(Some(DEFAULT_REGION), &cleaned),
        }
        .map_err(|_| PhoneError::NotValid)?;
        if !number.is_valid() {
            return Err(PhoneError::NotValid);
        }
        Ok(Self(number.format().mode(Mode::E164).to_string()))
    }

    /// The sender of a signed inbound text, never refused (safety rule 7): the provider's
    /// signature is its word that a person sent it, and libphonenumber's metadata lags behind
    /// real numbering (new UK mobile ranges, ported, foreign and satellite numbers). A valid
    /// number, or one that is merely possible (a known country code and a plausible length),
    /// is normalised to E.164; anything else (an alphanumeric sender, a short code) is kept as
    /// given, less control characters. No sender at all gets a key of its own from the
    /// message id, so two such texts never share a conversation.
    pub fn from_sender(raw: Option<&str>, message_id: &str) -> Self {
        let raw = raw.unwrap_or_default();
        if let Ok(valid) = Self::parse(raw) {
            return valid;
        }
        if let Some(possible) = possible_e164(raw) {
            return Self(possible);
        }
        let kept: String = raw
            .trim()
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_INPUT_CHARS)
            .collect();
        if kept.is_empty() {
            let id: String = message_id.chars().filter(|c| !c.is_control()).collect();
            Self(format!("unknown:{id}"))
        } else {
            Self(kept)
        }
    }

    /// The full number, for the provider and the store only — never for logs. (For an
    /// unlisted sender kept as given, the sender as given.)
    pub fn e164(&self) -> &str {
        &self.0
    }

    /// True when the number is in E.164 form (`+` and digits), as every number staff enter
    /// and most senders are.
    pub fn is_e164(&self) -> bool {
        self.0
            .strip_prefix('+')
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
    }

    /// "+44 7*** ***111": country calling code, first digit of the national number, stars,
    /// last three digits. Enough for staff to tell two numbers apart, too little to call one.
    pub fn masked(&self) -> String {
        if !self.is_e164() {
            let digits: String = self.0.chars().filter_map(ascii_digit).collect();
            return mask_digits_only(&digits);
        }
        let digits = self.0.trim_start_matches('+');
        match split_country_code(digits) {
            Some((code, national)) => format!("+{code} {}", mask_national(national)),
            // Unreachable for a parsed number; still never print it whole.
            None => mask_digits_only(digits),
        }
    }

    /// The ISO 3166 alpha-2 code of the number's region (`GB`, `IE`, `JE`, …), when
    /// libphonenumber's metadata names one.
    pub fn region(&self) -> Option<String> {
        let number = phonenumber::parse(None, &self.0).ok()?;
        let region = number.country().id()?;
        Some(region.as_ref().to_owned())
    }

    /// Whether the number belongs to one of these countries (ISO 3166 alpha-2 codes). `GB`
    /// stands for the UK's whole numbering plan, which Guernsey, Jersey and the Isle of Man
    /// share (+44 numbers with regions of their own in libphonenumber's metadata).
    pub fn is_in_any_of(&self, countries: &[String]) -> bool {
        self.region().is_some_and(|region| {
            countries.iter().any(|country| {
                *country == region
                    || (country == "GB" && matches!(region.as_str(), "GG" | "JE" | "IM"))
            })
        })
    }

    /// True when the number can receive texts (mobile, or fixed-line-or-mobile).
    pub fn is_mobile(&self) -> bool {
        phonenumber::parse(None, &self.0).is_ok_and(|number| {
            matches!(
                number.number_type(&DATABASE),
                Type::Mobile | Type::FixedLineOrMobile
            )
        })
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

impl Serialize for PhoneNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PhoneNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PhoneNumberVisitor)
    }
}

/// A hand-written visitor, driven by `deserialize_any`, so that a number given as a JSON/TOML
/// integer is refused with a message that does not quote it (serde's "invalid type" error
/// would). Every format this service reads (JSON, TOML) is self-describing.
struct PhoneNumberVisitor;

impl Visitor<'_> for PhoneNumberVisitor {
    type Value = PhoneNumber;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a phone number as a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<PhoneNumber, E> {
        PhoneNumber::parse(v).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<PhoneNumber, E> {
        Err(E::custom("a phone number must be written as a string"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<PhoneNumber, E> {
        Err(E::custom("a phone number must be written as a string"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<PhoneNumber, E> {
        Err(E::custom("a phone number must be written as a string"))
    }
}

/// Masks any raw text that may hold a phone number (for log fields built from untrusted
/// strings): keep the leading '+' and country code if recognisable, else show only the last
/// three digits. Never returns the input's other digits, nor any of its other characters.
pub fn mask_raw(raw: &str) -> String {
    if let Ok(phone) = PhoneNumber::parse(raw) {
        return phone.masked();
    }
    let digits: String = raw.chars().filter_map(ascii_digit).collect();
    let trimmed = raw.trim_start();
    let international = if trimmed.starts_with('+') || trimmed.starts_with('＋') {
        Some(digits.as_str())
    } else if trimmed.starts_with("00") {
        digits.get(2..)
    } else {
        None
    };
    match international.and_then(split_country_code) {
        // Only name the country when enough digits follow for it to be a number at all.
        Some((code, rest)) if rest.len() >= 4 => format!("+{code} {}", mask_digits_only(rest)),
        _ => mask_digits_only(&digits),
    }
}

/// E.164 for text that parses as a possible number: a country calling code libphonenumber
/// knows and a national number of a length that country uses, even where the metadata does
/// not list the range.
fn possible_e164(raw: &str) -> Option<String> {
    let cleaned = clean_number_text(raw).ok()?;
    // The parser keeps a national "0" it cannot match to a listed range; a UK number in
    // national form is "+44" and the rest.
    let international = match cleaned
        .strip_prefix('+')
        .or_else(|| cleaned.strip_prefix("00"))
    {
        Some(rest) => format!("+{rest}"),
        None => format!("+44{}", cleaned.strip_prefix('0')?),
    };
    let number = phonenumber::parse(None, international).ok()?;
    let e164 = number.format().mode(Mode::E164).to_string();
    let digits = e164.strip_prefix('+')?;
    if digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (code, national) = split_country_code(digits)?;
    let length = u16::try_from(national.len()).ok()?;
    let code: u16 = code.parse().ok()?;
    // The metadata keeps lengths per kind of number (mobile, fixed line, …), not overall.
    let possible = DATABASE.by_code(&code)?.iter().any(|region| {
        let kinds = region.descriptors();
        [
            kinds.general(),
            kinds.mobile().unwrap_or(kinds.general()),
            kinds.fixed_line().unwrap_or(kinds.general()),
            kinds.voip().unwrap_or(kinds.general()),
            kinds.personal_number().unwrap_or(kinds.general()),
            kinds.pager().unwrap_or(kinds.general()),
            kinds.uan().unwrap_or(kinds.general()),
            kinds.toll_free().unwrap_or(kinds.general()),
        ]
        .iter()
        .any(|kind| kind.possible_length().contains(&length))
    });
    possible.then_some(e164)
}

/// Checks the characters and turns every digit into ASCII before libphonenumber sees the text;
/// letters (vanity numbers, "ext", words around a number) are refused rather than guessed at.
fn clean_number_text(input: &str) -> Result<String, PhoneError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(PhoneError::Empty);
    }
    if trimmed.chars().count() > MAX_INPUT_CHARS {
        return Err(PhoneError::NotANumber);
    }
    let mut cleaned = String::with_capacity(trimmed.len());
    let mut digit_count = 0;
    for c in trimmed.chars() {
        if let Some(d) = ascii_digit(c) {
            digit_count += 1;
            cleaned.push(d);
        } else if c == '+' || c == '＋' {
            cleaned.push('+');
        } else if c.is_whitespace() || "-‐‑–—.()/".contains(c) {
            cleaned.push(' ');
        } else {
            return Err(PhoneError::NotANumber);
        }
    }
    if digit_count == 0 {
        return Err(PhoneError::NotANumber);
    }
    Ok(cleaned.trim().to_owned())
}

/// The ASCII digit for an ASCII, Arabic-Indic, extended Arabic-Indic (Urdu, Persian) or
/// full-width digit.
fn ascii_digit(c: char) -> Option<char> {
    let zero = match c {
        '0'..='9' => '0',
        '\u{0660}'..='\u{0669}' => '\u{0660}',
        '\u{06F0}'..='\u{06F9}' => '\u{06F0}',
        '\u{FF10}'..='\u{FF19}' => '\u{FF10}',
        _ => return None,
    };
    char::from_digit(u32::from(c) - u32::from(zero), 10)
}

/// Splits digits that follow a '+' into a known country calling code and the rest. Calling
/// codes are prefix-free, so the first known one of length 1 to 3 is the only one.
fn split_country_code(digits: &str) -> Option<(&str, &str)> {
    (1..=3).find_map(|len| {
        let code: u16 = digits.get(..len)?.parse().ok()?;
        DATABASE
            .by_code(&code)
            .map(|_| (&digits[..len], &digits[len..]))
    })
}

/// "7*** ***111" for a national number; the first digit only when at least seven digits
/// remain, so that no more than four digits of a short number are ever shown.
fn mask_national(national: &str) -> String {
    match (national.get(..1), last_three(national)) {
        (Some(first), Some(last)) if national.len() >= 7 => format!("{first}*** ***{last}"),
        _ => mask_digits_only(national),
    }
}

/// "*** ***111", or just "*** ***" when there are too few digits for the last three to be
/// only a small part of them.
fn mask_digits_only(digits: &str) -> String {
    match last_three(digits) {
        Some(last) if digits.len() >= 7 => format!("*** ***{last}"),
        _ => "*** ***".to_owned(),
    }
}

fn last_three(digits: &str) -> Option<&str> {
    digits.get(digits.len().checked_sub(3)?..)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_national_and_international_forms() {
        let cases = [
            ("07911 123456", "+447911123456"),
            ("07911123456", "+447911123456"),
            ("+44 7911 123456", "+447911123456"),
            ("+447911123456", "+447911123456"),
            ("0044 7911 123456", "+447911123456"),
            ("+44 (0)7911 123456", "+447911123456"),
            ("07911-123-456", "+447911123456"),
            ("07911.123.456.", "+447911123456"),
            ("  07911 123456\n", "+447911123456"),
            ("(0113) 496 0000", "+441134960000"),
            ("0113 496 0999", "+441134960999"),
            ("+1 212 555 0123", "+12125550123"),
            ("+1 (212) 555-0123", "+12125550123"),
            ("+33 6 12 34 56 78", "+33612345678"),
            ("+39 02 1234 5678", "+390212345678"),
            ("0039 02 1234 5678", "+390212345678"),
            ("+ 44 7911 123456", "+447911123456"),
            ("(+44) 7911 123456", "+447911123456"),
            ("０７９１１ １２３４５６", "+447911123456"),
            ("٠٧٩١١١٢٣٤٥٦", "+447911123456"),
            ("۰۷۹۱۱۱۲۳۴۵۶", "+447911123456"),
            ("＋44 7911 123456", "+447911123456"),
        ];
        for (input, e164) in cases {
            let phone = PhoneNumber::parse(input);
            assert_eq!(
                phone.as_ref().map(PhoneNumber::e164),
                Ok(e164),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn a_sender_is_never_refused_and_is_e164_when_it_is_a_possible_number() {
        // 07911 3xx is a real UK mobile range libphonenumber does not list.
        assert!(PhoneNumber::parse("+447911300123").is_err());
        let unlisted = PhoneNumber::from_sender(Some("+447911300123"), "SM1");
        assert_eq!(unlisted.e164(), "+447911300123");
        assert_eq!(unlisted.masked(), "+44 7*** ***123");
        assert_eq!(
            PhoneNumber::from_sender(Some("07911 300123"), "SM1").e164(),
            "+447911300123"
        );
        // A valid number is as `parse` gives it.
        assert_eq!(
            PhoneNumber::from_sender(Some("+44 7911 123456"), "SM1").e164(),
            "+447911123456"
        );
        // A satellite number (Iridium, +881 6…) and an alphanumeric sender are kept as given.
        assert_eq!(
            PhoneNumber::from_sender(Some("+881631234567"), "SM1").e164(),
            "+881631234567"
        );
        let named = PhoneNumber::from_sender(Some("CarerLine\u{0}"), "SM1");
        assert_eq!(named.e164(), "CarerLine");
        assert_eq!(named.masked(), "*** ***");
        // No sender at all: a key of its own.
        assert_eq!(PhoneNumber::from_sender(None, "SM9").e164(), "unknown:SM9");
        assert_eq!(
            PhoneNumber::from_sender(Some("  "), "SM8").e164(),
            "unknown:SM8"
        );
        assert!(!PhoneNumber::from_sender(Some("12345"), "SM7").is_e164());
    }

    #[test]
    fn refuses_what_is_not_a_valid_number() {
        let too_long = "0".repeat(65);
        let cases = [
            ("", PhoneError::Empty),
            ("   ", PhoneError::Empty),
            ("hello", PhoneError::NotANumber),
            ("SKIP", PhoneError::NotANumber),
            ("0800 FLOWERS", PhoneError::NotANumber),
            ("07911 123456 ext 12", PhoneError::NotANumber),
            ("call me on 07911 123456", PhoneError::NotANumber),
            ("+-()", PhoneError::NotANumber),
            (too_long.as_str(), PhoneError::NotANumber),
            ("12345", PhoneError::NotValid),
            ("999", PhoneError::NotValid),
            ("0", PhoneError::NotValid),
            ("+", PhoneError::NotANumber),
            ("07911 12345", PhoneError::NotValid),
            ("07911 1234567", PhoneError::NotValid),
            // Ofcom's drama range: deliberately not a real number.
            ("07700 900123", PhoneError::NotValid),
            ("+999 1234 5678", PhoneError::NotValid),
            ("+44 0000 000000", PhoneError::NotValid),
        ];
        for (input, error) in cases {
            assert_eq!(PhoneNumber::parse(input), Err(error), "input {input:?}");
        }
    }

    #[test]
    fn errors_never_echo_the_input() {
        for input in ["07911 12345", "call 07911123456", "12345", ""] {
            let Err(error) = PhoneNumber::parse(input) else {
                panic!("{input:?} should not parse");
            };
            let message = error.to_string();
            assert!(!message.chars().any(|c| c.is_ascii_digit()), "{message}");
        }
    }

    #[test]
    fn masks_to_country_code_first_digit_and_last_three() {
        let cases = [
            ("+447520667111", "+44 7*** ***111"),
            ("07911 123456", "+44 7*** ***456"),
            ("0113 496 0000", "+44 1*** ***000"),
            ("+1 212 555 0123", "+1 2*** ***123"),
            ("+39 02 1234 5678", "+39 0*** ***678"),
        ];
        for (input, masked) in cases {
            let Ok(phone) = PhoneNumber::parse(input) else {
                panic!("{input:?} should parse");
            };
            assert_eq!(phone.masked(), masked);
            assert_eq!(phone.to_string(), masked);
            assert_eq!(format!("{phone:?}"), format!("PhoneNumber({masked})"));
        }
    }

    #[test]
    fn names_the_region_of_a_number() {
        let region = |n: &str| PhoneNumber::parse(n).expect("valid").region();
        assert_eq!(region("07400 123456").as_deref(), Some("GB"));
        assert_eq!(region("0113 496 0000").as_deref(), Some("GB"));
        // Guernsey, the Isle of Man and Jersey are in the UK's numbering plan.
        assert_eq!(region("07911 123456").as_deref(), Some("GG"));
        assert_eq!(region("+44 7624 123456").as_deref(), Some("IM"));
        assert_eq!(region("+44 7797 123456").as_deref(), Some("JE"));
        let number = PhoneNumber::parse("+44 7797 123456").expect("valid");
        assert!(number.is_in_any_of(&["GB".to_owned()]));
        assert!(number.is_in_any_of(&["JE".to_owned()]));
        assert!(!number.is_in_any_of(&["GG".to_owned(), "IE".to_owned()]));
        let irish = PhoneNumber::parse("+353 85 123 4567").expect("valid");
        assert!(!irish.is_in_any_of(&["GB".to_owned()]));
        assert_eq!(region("+353 85 123 4567").as_deref(), Some("IE"));
        assert_eq!(region("+1 212 555 0123").as_deref(), Some("US"));
    }

    #[test]
    fn knows_which_numbers_can_receive_texts() {
        let cases = [
            ("07911 123456", true),
            ("+1 212 555 0123", true), // fixed-line-or-mobile in the US plan
            ("0113 496 0000", false),
            ("0800 123 4567", false),
        ];
        for (input, mobile) in cases {
            let Ok(phone) = PhoneNumber::parse(input) else {
                panic!("{input:?} should parse");
            };
            assert_eq!(phone.is_mobile(), mobile, "input {input:?}");
        }
    }

    #[test]
    fn serialises_as_e164_and_deserialises_through_parse() -> Result<(), serde_json::Error> {
        let phone = PhoneNumber::parse("07911 123456").map_err(serde::de::Error::custom)?;
        assert_eq!(serde_json::to_string(&phone)?, r#""+447911123456""#);
        let back: PhoneNumber = serde_json::from_str(r#""07911 123456""#)?;
        assert_eq!(back, phone);
        Ok(())
    }

    #[test]
    fn deserialising_an_invalid_number_fails_without_echoing_it() {
        for json in [
            r#""07911 12345""#,
            "7911123456",
            "447911123456.0",
            r#""hello""#,
        ] {
            let Err(error) = serde_json::from_str::<PhoneNumber>(json) else {
                panic!("{json} should not deserialise");
            };
            let message = error.to_string();
            assert!(!message.contains("12345"), "{message}");
            assert!(!message.contains("hello"), "{message}");
        }
    }

    #[test]
    fn mask_raw_keeps_only_country_code_and_last_three_digits() {
        let cases = [
            ("+447911123456", "+44 7*** ***456"),
            ("07911 123456", "+44 7*** ***456"),
            // not valid numbers, but still masked
            ("+44 7911 12345", "+44 *** ***345"),
            ("0044 7911 12345", "+44 *** ***345"),
            ("07911 12345", "*** ***345"),
            ("call me on 07911 12345 please", "*** ***345"),
            ("+999 1234 5678", "*** ***678"),
            ("12345", "*** ***"),
            ("+44 12", "*** ***"),
            ("", "*** ***"),
            ("no digits at all", "*** ***"),
        ];
        for (raw, masked) in cases {
            assert_eq!(mask_raw(raw), masked, "raw {raw:?}");
        }
    }

    fn fail(error: serde_json::Error) -> TestCaseError {
        TestCaseError::fail(error.to_string())
    }

    /// The digits a masked rendering shows after the country code.
    fn shown_digits(masked: &str, code_len: usize) -> String {
        masked
            .get(code_len + 1..)
            .unwrap_or(masked)
            .chars()
            .filter(char::is_ascii_digit)
            .collect()
    }

    proptest! {
        #[test]
        fn parse_never_panics(input in "\\PC*") {
            let _ = PhoneNumber::parse(&input);
        }

        #[test]
        fn parse_never_panics_on_number_like_text(input in "[+0-9 ()\\-.]{0,30}") {
            let _ = PhoneNumber::parse(&input);
        }

        #[test]
        fn e164_round_trips(national in "7[1-9][0-9]{8}") {
            if let Ok(phone) = PhoneNumber::parse(&format!("0{national}")) {
                prop_assert_eq!(PhoneNumber::parse(phone.e164()), Ok(phone.clone()));
                let json = serde_json::to_string(&phone).map_err(fail)?;
                let back: PhoneNumber = serde_json::from_str(&json).map_err(fail)?;
                prop_assert_eq!(back, phone);
            }
        }

        #[test]
        fn masking_shows_at_most_first_digit_and_last_three(national in "[1-9][0-9]{9}") {
            if let Ok(phone) = PhoneNumber::parse(&format!("+44{national}")) {
                let masked = phone.masked();
                let shown = shown_digits(&masked, 3);
                prop_assert_eq!(shown, format!("{}{}", &national[..1], &national[7..]));
                let debug = format!("{:?}", phone);
                prop_assert!(!debug.contains(&national[1..7]));
            }
        }

        #[test]
        fn mask_raw_shows_no_more_than_last_three_digits(raw in "\\PC{0,40}") {
            let masked = mask_raw(&raw);
            let digits: String = raw.chars().filter_map(ascii_digit).collect();
            let hidden_rest = masked.trim_start_matches('+');
            // Everything shown is a country code, a first digit and the last three digits.
            let shown: String = hidden_rest.chars().filter(char::is_ascii_digit).collect();
            prop_assert!(shown.len() <= 3 + 3 + 1, "{}", masked);
            prop_assert!(
                masked.chars().all(|c| c.is_ascii_digit() || "+* ".contains(c)),
                "{}",
                masked
            );
            let start = raw.trim_start();
            let international = start.starts_with(['+', '＋']) || start.starts_with("00");
            if !international && PhoneNumber::parse(&raw).is_err() {
                // Without a country code only (some of) the last three digits may show.
                prop_assert!(digits.ends_with(&shown), "{}", masked);
                prop_assert!(shown.len() <= 3, "{}", masked);
            }
        }
    }
}
