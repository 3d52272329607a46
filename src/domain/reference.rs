//! Referral references: what a person is given when their referral is sent, and what they
//! read out when they phone the team about it.

use std::fmt;

use rand::RngExt;
use serde::{Deserialize, Serialize};

/// Written before the code so a text or a letter makes clear what the reference belongs to.
const PREFIX: &str = "CRHT";

const CODE_LEN: usize = 6;

/// A referral reference like "CRHT-7K3M9Q": six characters from an alphabet with no
/// look-alikes (no 0/O, 1/I/L, 2/Z, 5/S, 8/B), easy to read aloud over the phone.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String")]
pub struct ReferralRef(String);

/// Why text is not a referral reference. Safe to show to staff and to the person.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ReferenceError {
    #[error("no referral reference was given")]
    Empty,
    #[error("a referral reference has 6 letters and numbers after CRHT, like CRHT-7K3M9Q")]
    WrongLength,
    #[error(
        "a referral reference uses only the characters {}, like CRHT-7K3M9Q",
        ReferralRef::ALPHABET
    )]
    InvalidCharacter,
}

impl ReferralRef {
    /// 22 characters: the digits 3 4 6 7 9 and the letters A C D E F H J K M N P Q R T W X Y.
    ///
    /// Left out, because each is easily mistaken for another when read, written or heard:
    /// 0/O, 1/I/L, 2/Z, 5/S, 8/B (look-alikes), G (looks like 6), U and V (look alike
    /// handwritten; V also sounds like B, D, E, P, T). 22⁶ ≈ 113 million codes: enough that
    /// a guessed reference is useless, but not enough to skip a uniqueness check when storing.
    pub const ALPHABET: &'static str = "34679ACDEFHJKMNPQRTWXY";

    /// A fresh random reference from the thread-local generator.
    pub fn generate() -> Self {
        let alphabet = Self::ALPHABET.as_bytes();
        let mut rng = rand::rng();
        let code: String = (0..CODE_LEN)
            .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
            .collect();
        Self(format!("{PREFIX}-{code}"))
    }

    /// Case-insensitive and tolerant of how people copy a reference: "crht 7k3m9q",
    /// "CRHT7K3M9Q", "CRHT–7K3 M9Q." and the bare code "7K3M9Q" all mean "CRHT-7K3M9Q".
    pub fn parse(input: &str) -> Result<Self, ReferenceError> {
        let compact: String = input
            .chars()
            .filter(|c| !c.is_whitespace() && !"-‐‑–—_.:#()\"'".contains(*c))
            .flat_map(char::to_uppercase)
            .collect();
        if compact.is_empty() {
            return Err(ReferenceError::Empty);
        }
        // A bare code may itself begin with the letters C, R, H, T, so only a longer text
        // is read as prefixed.
        let code = match compact.strip_prefix(PREFIX) {
            Some(code) if compact.chars().count() > CODE_LEN => code,
            _ => &compact,
        };
        if code.chars().count() != CODE_LEN {
            return Err(ReferenceError::WrongLength);
        }
        if !code.chars().all(|c| Self::ALPHABET.contains(c)) {
            return Err(ReferenceError::InvalidCharacter);
        }
        Ok(Self(format!("{PREFIX}-{code}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ReferralRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ReferralRef {
    type Error = ReferenceError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    #[test]
    fn alphabet_has_no_look_alikes_and_no_repeats() {
        let alphabet = ReferralRef::ALPHABET;
        for banned in "0O1IL2Z5S8BGUV".chars() {
            assert!(!alphabet.contains(banned), "{banned} must not be used");
        }
        for needed in "379KMQ".chars() {
            assert!(alphabet.contains(needed), "{needed} must be used");
        }
        let distinct: HashSet<char> = alphabet.chars().collect();
        assert_eq!(distinct.len(), alphabet.len());
        assert!(
            alphabet
                .chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        );
    }

    #[test]
    fn generated_references_are_well_formed_and_parse_back() {
        let mut seen = HashSet::new();
        for _ in 0..2_000 {
            let reference = ReferralRef::generate();
            let text = reference.as_str();
            assert_eq!(text.len(), "CRHT-".len() + 6, "{text}");
            assert!(text.starts_with("CRHT-"), "{text}");
            assert!(text[5..].chars().all(|c| ReferralRef::ALPHABET.contains(c)));
            assert_eq!(ReferralRef::parse(text), Ok(reference.clone()));
            seen.insert(reference);
        }
        // 2,000 draws from ~113 million: a repeat would mean the generator is broken.
        assert!(seen.len() >= 1_999);
    }

    #[test]
    fn every_character_of_the_alphabet_is_generated() {
        let mut used = HashSet::new();
        for _ in 0..500 {
            used.extend(ReferralRef::generate().as_str()[5..].chars());
        }
        assert_eq!(used.len(), ReferralRef::ALPHABET.len());
    }

    #[test]
    fn parse_is_forgiving_about_case_and_separators() {
        for input in [
            "CRHT-7K3M9Q",
            "crht-7k3m9q",
            "CRHT 7K3M9Q",
            "CRHT7K3M9Q",
            "crht7k3m9q",
            "CRHT – 7K3M9Q.",
            "CRHT_7K3M9Q",
            "  CRHT-7K3M9Q\n",
            "(CRHT-7K3M9Q)",
            "7K3M9Q",
            "7k3m9q",
            "Crht: 7K3M9Q",
            "CRHT 7K3 M9Q",
            "CRHT-7K3-M9Q",
            "\"CRHT-7K3M9Q\"",
        ] {
            assert_eq!(
                ReferralRef::parse(input).as_ref().map(ReferralRef::as_str),
                Ok("CRHT-7K3M9Q"),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn parse_refuses_what_is_not_a_reference() {
        use ReferenceError::*;
        let cases = [
            ("", Empty),
            (" - ", Empty),
            ("CRHT-", WrongLength),
            ("CRHT-7K3M9", WrongLength),
            ("CRHT-7K3M9QQ", WrongLength),
            ("CRHT-7K3M!Q", InvalidCharacter),
            ("CRHT-7K3M9O", InvalidCharacter),
            ("CRHT-0K3M9Q", InvalidCharacter),
            ("CRHT-1K3M9Q", InvalidCharacter),
            ("CRHT-BK3M9Q", InvalidCharacter),
            ("CRHT-SK3M9Q", InvalidCharacter),
            ("CRHT-ZK3M9Q", InvalidCharacter),
            ("CRHT-GK3M9Q", InvalidCharacter),
            ("ABCD-7K3M9Q", WrongLength),
            ("CRHT-7K3M9É", InvalidCharacter),
            ("hello there", WrongLength),
            ("CRHT", WrongLength),
        ];
        for (input, error) in cases {
            assert_eq!(ReferralRef::parse(input), Err(error), "input {input:?}");
        }
    }

    #[test]
    fn serde_uses_the_canonical_string() -> Result<(), serde_json::Error> {
        let reference: ReferralRef = serde_json::from_str(r#""crht 7k3m9q""#)?;
        assert_eq!(serde_json::to_string(&reference)?, r#""CRHT-7K3M9Q""#);
        assert!(serde_json::from_str::<ReferralRef>(r#""CRHT-0OOOOO""#).is_err());
        Ok(())
    }

    const CODE: &str = "[34679ACDEFHJKMNPQRTWXY]{6}";
    const TWO_CHARACTERS: &str = "[34679ACDEFHJKMNPQRTWXY]{2}";

    proptest! {
        #[test]
        fn parse_never_panics(input in any::<String>()) {
            let _ = ReferralRef::parse(&input);
        }

        #[test]
        fn canonical_and_sloppy_forms_round_trip(code in CODE, sep in "[ -]{0,2}") {
            let reference = ReferralRef::parse(&format!("CRHT-{code}"))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(ReferralRef::parse(reference.as_str()), Ok(reference.clone()));
            let sloppy = format!("crht{sep}{}", code.to_lowercase());
            prop_assert_eq!(ReferralRef::parse(&sloppy), Ok(reference.clone()));
            prop_assert_eq!(ReferralRef::parse(&code), Ok(reference));
        }

        #[test]
        fn a_bare_code_starting_with_the_prefix_letters_still_parses(rest in TWO_CHARACTERS) {
            let code = format!("CRHT{rest}");
            prop_assert_eq!(
                ReferralRef::parse(&code).map(|r| r.as_str().to_owned()),
                Ok(format!("CRHT-{code}"))
            );
        }
    }
}
