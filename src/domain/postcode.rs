//! UK postcodes: where a person in crisis is now, and so which team the referral goes to.
//!
//! The format rules are Royal Mail's (outward code `A9`, `A99`, `AA9`, `AA99`, `A9A`, `AA9A`;
//! inward code `9AA`; some letters never used in some positions). The postcode area list is
//! deliberately not checked: a rare real postcode refused would cost a person in crisis a
//! retry, while an unknown area only sends the referral to the default triage team.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A UK postcode, validated and normalised to "AB1 2CD" form (outward code, space, inward code).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Postcode(String);

/// Why text is not a UK postcode. The messages are safe to show to the person texting.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PostcodeError {
    #[error("no postcode was given")]
    Empty,
    #[error("a postcode is written with letters and numbers only, like LS1 4DY")]
    InvalidCharacters,
    #[error("a postcode has 5 to 7 letters and numbers, like LS1 4DY")]
    WrongLength,
    #[error("the first part of the postcode (like LS1) is not in a UK format")]
    InvalidOutwardCode,
    #[error("the last part of the postcode (like 4DY) is not in a UK format")]
    InvalidInwardCode,
}

/// Girobank's postcode: the one postcode outside the usual format still in use.
const GIROBANK: &str = "GIR0AA";

impl Postcode {
    /// Accepts any case, any or no spaces, and trims surrounding punctuation ("ls14dy",
    /// " LS1  4DY. ", "sw1a1aa", "GIR 0AA"), because people text postcodes however their
    /// keyboard and autocorrect left them.
    pub fn parse(input: &str) -> Result<Self, PostcodeError> {
        let compact = compact_upper(input);
        if compact.is_empty() {
            return Err(PostcodeError::Empty);
        }
        if !compact.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(PostcodeError::InvalidCharacters);
        }
        if compact == GIROBANK {
            return Ok(Self("GIR 0AA".to_owned()));
        }
        if !(5..=7).contains(&compact.len()) {
            return Err(PostcodeError::WrongLength);
        }
        let (outward, inward) = compact.split_at(compact.len() - 3);
        if !is_outward_code(outward.as_bytes()) {
            return Err(PostcodeError::InvalidOutwardCode);
        }
        if !is_inward_code(inward.as_bytes()) {
            return Err(PostcodeError::InvalidInwardCode);
        }
        Ok(Self(format!("{outward} {inward}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The outward code ("LS1"): the postcode district, which is what routing looks at.
    pub fn outward(&self) -> &str {
        self.0.split_once(' ').map_or(self.0.as_str(), |(o, _)| o)
    }

    /// The postcode area ("LS"): the leading letters of the outward code.
    pub fn area(&self) -> &str {
        let outward = self.outward();
        let letters = outward
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(outward.len());
        &outward[..letters]
    }

    /// True when the text looks like an attempt at a postcode (letters+digits in postcode-ish
    /// shape) even if invalid — lets the conversation say "that postcode doesn't look right"
    /// instead of treating it as a town. Also true for valid postcodes.
    ///
    /// The shape is one or two letters, then a digit or a digit look-alike (O, I, L), with at
    /// least one real digit somewhere: "LS1", "LS1 4D", "LSI 4DY", "SW1A OAA" are attempts;
    /// "Leeds", "Hebden Bridge", "Leeds 6" and "12345" are not.
    pub fn looks_like_attempt(input: &str) -> bool {
        if input.split_whitespace().count() > 3 {
            return false;
        }
        let compact = compact_upper(input);
        let bytes = compact.as_bytes();
        if !(2..=8).contains(&bytes.len()) || !bytes.iter().all(u8::is_ascii_alphanumeric) {
            return false;
        }
        let letters = bytes.iter().take_while(|b| b.is_ascii_alphabetic()).count();
        let after_letters = bytes.get(letters.min(2));
        let digit_like = |b: &u8| b.is_ascii_digit() || matches!(b, b'O' | b'I' | b'L');
        (1..=3).contains(&letters)
            && bytes[0].is_ascii_alphabetic()
            && after_letters.is_some_and(digit_like)
            && bytes.iter().any(u8::is_ascii_digit)
    }
}

impl fmt::Display for Postcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Postcode {
    type Error = PostcodeError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Postcode> for String {
    fn from(postcode: Postcode) -> Self {
        postcode.0
    }
}

/// Surrounding punctuation and all whitespace removed, ASCII letters upper-cased.
fn compact_upper(input: &str) -> String {
    input
        .trim_matches(|c: char| !c.is_alphanumeric())
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Royal Mail: the first letter is never Q, V or X.
fn first_letter(b: u8) -> bool {
    b.is_ascii_uppercase() && !matches!(b, b'Q' | b'V' | b'X')
}

/// Royal Mail: the second letter is never I, J or Z.
fn second_letter(b: u8) -> bool {
    b.is_ascii_uppercase() && !matches!(b, b'I' | b'J' | b'Z')
}

/// Royal Mail: the letter closing an `A9A` outward code ("W1A") is one of these.
fn third_letter(b: u8) -> bool {
    b"ABCDEFGHJKPSTUW".contains(&b)
}

/// Royal Mail: the letter closing an `AA9A` outward code ("EC1A") is one of these.
fn fourth_letter(b: u8) -> bool {
    b"ABEHMNPRVWXY".contains(&b)
}

/// Royal Mail: inward-code letters are never C, I, K, M, O or V (they look like others when
/// handwritten).
fn inward_letter(b: u8) -> bool {
    b.is_ascii_uppercase() && !matches!(b, b'C' | b'I' | b'K' | b'M' | b'O' | b'V')
}

/// Outward code in one of the formats A9, A99, AA9, AA99, A9A, AA9A (upper case).
fn is_outward_code(code: &[u8]) -> bool {
    let shape: Vec<u8> = code
        .iter()
        .map(|b| if b.is_ascii_digit() { b'9' } else { b'A' })
        .collect();
    match (shape.as_slice(), code) {
        (b"A9" | b"A99", [a, ..]) => first_letter(*a),
        (b"AA9" | b"AA99", [a, b, ..]) => first_letter(*a) && second_letter(*b),
        (b"A9A", [a, _, l]) => first_letter(*a) && third_letter(*l),
        (b"AA9A", [a, b, _, l]) => first_letter(*a) && second_letter(*b) && fourth_letter(*l),
        _ => false,
    }
}

/// Inward code 9AA (upper case).
fn is_inward_code(code: &[u8]) -> bool {
    matches!(*code, [n, a, b] if n.is_ascii_digit() && inward_letter(a) && inward_letter(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_and_normalises_every_format() {
        let cases = [
            ("M1 1AE", "M1 1AE", "M1", "M"),        // A9 9AA
            ("B33 8TH", "B33 8TH", "B33", "B"),     // A99 9AA
            ("CR2 6XH", "CR2 6XH", "CR2", "CR"),    // AA9 9AA
            ("DN55 1PT", "DN55 1PT", "DN55", "DN"), // AA99 9AA
            ("W1A 1HQ", "W1A 1HQ", "W1A", "W"),     // A9A 9AA
            ("EC1A 1BB", "EC1A 1BB", "EC1A", "EC"), // AA9A 9AA
            ("ls14dy", "LS1 4DY", "LS1", "LS"),
            (" LS1  4DY. ", "LS1 4DY", "LS1", "LS"),
            ("sw1a1aa", "SW1A 1AA", "SW1A", "SW"),
            ("Ls1 4dY", "LS1 4DY", "LS1", "LS"),
            ("L S 1 4 D Y", "LS1 4DY", "LS1", "LS"),
            ("ls1\t4dy", "LS1 4DY", "LS1", "LS"),
            ("(LS1 4DY)", "LS1 4DY", "LS1", "LS"),
            ("\"bd1 1hy\"!", "BD1 1HY", "BD1", "BD"),
            ("HX7 8AD", "HX7 8AD", "HX7", "HX"),
            ("WF1 2DE", "WF1 2DE", "WF1", "WF"),
            ("LS29 9DY", "LS29 9DY", "LS29", "LS"),
            ("E1W 1AA", "E1W 1AA", "E1W", "E"),
            ("NW1W 7AA", "NW1W 7AA", "NW1W", "NW"),
            ("GIR 0AA", "GIR 0AA", "GIR", "GIR"),
            ("gir0aa", "GIR 0AA", "GIR", "GIR"),
        ];
        for (input, normalised, outward, area) in cases {
            let Ok(postcode) = Postcode::parse(input) else {
                panic!("{input:?} should parse");
            };
            assert_eq!(postcode.as_str(), normalised, "input {input:?}");
            assert_eq!(postcode.outward(), outward, "input {input:?}");
            assert_eq!(postcode.area(), area, "input {input:?}");
            assert_eq!(postcode.to_string(), normalised);
        }
    }

    #[test]
    fn refuses_what_is_not_a_uk_postcode() {
        use PostcodeError::*;
        let cases = [
            ("", Empty),
            ("  ...  ", Empty),
            ("LS1-4DY", InvalidCharacters),
            ("LS1 4DY please", WrongLength),
            ("LS1_4DY", InvalidCharacters),
            ("ＬＳ１ ４ＤＹ", InvalidCharacters),
            ("Leeds", InvalidOutwardCode),
            ("Bradford", WrongLength),
            ("LS1", WrongLength),
            ("LS1 4D", InvalidOutwardCode),
            ("LS14 4DYY", WrongLength),
            ("1S1 4DY", InvalidOutwardCode),
            ("QS1 4DY", InvalidOutwardCode),
            ("VA1 1AA", InvalidOutwardCode),
            ("XM4 5HQ", InvalidOutwardCode),
            ("LI1 4DY", InvalidOutwardCode),
            ("LJ1 4DY", InvalidOutwardCode),
            ("LZ1 4DY", InvalidOutwardCode),
            ("W1I 1AA", InvalidOutwardCode),
            ("W1L 1AA", InvalidOutwardCode),
            ("EC1C 1BB", InvalidOutwardCode),
            ("EC1D 1BB", InvalidOutwardCode),
            ("LSA 4DY", InvalidOutwardCode),
            ("LS1A1 4DY", WrongLength),
            ("ABC 1AA", InvalidOutwardCode),
            ("LS1 ADY", InvalidInwardCode),
            ("LS1 44Y", InvalidInwardCode),
            ("LS1 4CY", InvalidInwardCode),
            ("LS1 4DI", InvalidInwardCode),
            ("LS1 4KA", InvalidInwardCode),
            ("LS1 4MA", InvalidInwardCode),
            ("LS1 4DO", InvalidInwardCode),
            ("LS1 4VA", InvalidInwardCode),
            ("SW1A OAA", InvalidInwardCode),
            ("12345", InvalidOutwardCode),
        ];
        for (input, error) in cases {
            assert_eq!(Postcode::parse(input), Err(error), "input {input:?}");
        }
    }

    #[test]
    fn recognises_attempts_at_a_postcode() {
        let cases = [
            ("LS1 4DY", true),
            ("LS1", true),
            ("ls1 4d", true),
            ("LS1 4CY", true),
            ("LSI 4DY", true),
            ("SW1A OAA", true),
            ("M1", true),
            ("QS1 4DY", true),
            ("Leeds", false),
            ("Hebden Bridge", false),
            ("Leeds 6", false),
            ("leeds ls6", false),
            ("12345", false),
            ("LS", false),
            ("", false),
            ("not sure", false),
            ("I am near LS1 please help", false),
            ("Area 51", false),
        ];
        for (input, attempt) in cases {
            assert_eq!(
                Postcode::looks_like_attempt(input),
                attempt,
                "input {input:?}"
            );
        }
    }

    #[test]
    fn serde_uses_the_normalised_string() -> Result<(), serde_json::Error> {
        let postcode: Postcode = serde_json::from_str(r#""ls14dy""#)?;
        assert_eq!(serde_json::to_string(&postcode)?, r#""LS1 4DY""#);
        assert!(serde_json::from_str::<Postcode>(r#""LS1 4CY""#).is_err());
        Ok(())
    }

    /// Valid postcodes of every outward format, in normalised form.
    fn valid_postcode() -> impl Strategy<Value = String> {
        let first = "[A-PR-UWYZ]";
        let second = "[A-HK-Y]";
        let inward = " [0-9][ABD-HJLNP-UW-Z]{2}";
        let formats = [
            format!("{first}[0-9]{inward}"),
            format!("{first}[0-9][0-9]{inward}"),
            format!("{first}{second}[0-9]{inward}"),
            format!("{first}{second}[0-9][0-9]{inward}"),
            format!("{first}[0-9][ABCDEFGHJKPSTUW]{inward}"),
            format!("{first}{second}[0-9][ABEHMNPRVWXY]{inward}"),
        ];
        let strategies: Vec<_> = formats
            .iter()
            .filter_map(|pattern| proptest::string::string_regex(pattern).ok())
            .collect();
        assert_eq!(strategies.len(), formats.len(), "every pattern compiles");
        proptest::strategy::Union::new(strategies)
    }

    proptest! {
        #[test]
        fn parse_never_panics(input in any::<String>()) {
            let _ = Postcode::parse(&input);
            let _ = Postcode::looks_like_attempt(&input);
        }

        #[test]
        fn parse_never_panics_on_postcode_like_text(input in "[A-Za-z0-9 .]{0,10}") {
            let _ = Postcode::parse(&input);
            let _ = Postcode::looks_like_attempt(&input);
        }

        #[test]
        fn normalised_form_round_trips(text in valid_postcode()) {
            let postcode = Postcode::parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(postcode.as_str(), text.as_str());
            prop_assert_eq!(Postcode::parse(postcode.as_str()), Ok(postcode.clone()));
            let sloppy = format!(" {}. ", text.replace(' ', "").to_lowercase());
            prop_assert_eq!(Postcode::parse(&sloppy), Ok(postcode.clone()));
            prop_assert!(Postcode::looks_like_attempt(&text));
            prop_assert!(postcode.as_str().starts_with(postcode.outward()));
            prop_assert!(postcode.outward().starts_with(postcode.area()));
        }
    }
}
