//! The NHS number, which ties a patient to their records across the NHS, and the date of birth
//! that goes with it.
//!
//! An NHS number is ten digits, the last a modulus 11 check digit over the first nine (NHS
//! Data Dictionary, "NHS Number"): each of the nine is weighted 10 down to 2, the weighted sum
//! is taken modulo 11, and the check digit is 11 less that remainder, 11 counting as 0. A
//! result of 10 has no digit, so no number is issued with those first nine digits. The check
//! catches one mistyped digit and two neighbouring digits swapped, the usual slips of a person
//! copying a number from a letter.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// A valid NHS number, kept as its ten digits ("9434765919"); shown to people as `943 476 5919`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NhsNumber(String);

/// Why text is not an NHS number. Safe to show staff: it never repeats the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NhsNumberError {
    #[error("an NHS number is written with digits only (spaces or dashes between them are fine)")]
    NotDigits,
    #[error("an NHS number has 10 digits")]
    WrongLength,
    #[error("the last digit is not the NHS number's check digit; check it was copied correctly")]
    WrongCheckDigit,
}

impl NhsNumber {
    /// Accepts the digits with spaces or dashes between them, as the number is printed
    /// (`943 476 5919`, `943-476-5919`).
    pub fn parse(input: &str) -> Result<Self, NhsNumberError> {
        let mut digits = Vec::with_capacity(10);
        for c in input.trim().chars() {
            match c {
                '0'..='9' => digits.push(c as u8 - b'0'),
                ' ' | '-' => {}
                _ => return Err(NhsNumberError::NotDigits),
            }
        }
        let digits: [u8; 10] = digits.try_into().map_err(|_| NhsNumberError::WrongLength)?;
        let (first_nine, check) = digits.split_at(9);
        if check_digit(first_nine) != Some(check[0]) {
            return Err(NhsNumberError::WrongCheckDigit);
        }
        Ok(Self(digits.iter().map(|d| char::from(b'0' + d)).collect()))
    }

    /// The ten digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The modulus 11 check digit of the first nine digits; `None` when the remainder gives 10,
/// which is never issued.
pub fn check_digit(first_nine: &[u8]) -> Option<u8> {
    let sum: u32 = first_nine
        .iter()
        .zip((2..=10).rev())
        .map(|(&d, weight)| u32::from(d) * weight)
        .sum();
    match 11 - sum % 11 {
        11 => Some(0),
        10 => None,
        digit => u8::try_from(digit).ok(),
    }
}

impl fmt::Display for NhsNumber {
    /// In the 3-3-4 groups the NHS prints it in.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.0;
        write!(f, "{} {} {}", &d[..3], &d[3..6], &d[6..])
    }
}

impl TryFrom<String> for NhsNumber {
    type Error = NhsNumberError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<NhsNumber> for String {
    fn from(value: NhsNumber) -> Self {
        value.0
    }
}

/// The earliest date of birth the record takes: anything before is a typing slip.
const EARLIEST_BIRTH_YEAR: i32 = 1900;

/// Why text is not a date of birth the record can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DateOfBirthError {
    #[error("write the date of birth as YYYY-MM-DD, e.g. 1987-03-14")]
    NotADate,
    #[error("the date of birth is in the future")]
    InTheFuture,
    #[error("the date of birth is before 1900")]
    TooEarly,
}

/// A date of birth as `YYYY-MM-DD`, no later than `today` and not before 1900. `today` is
/// given, so this stays pure (it is the date where the team works).
pub fn parse_date_of_birth(input: &str, today: NaiveDate) -> Result<NaiveDate, DateOfBirthError> {
    let input = input.trim();
    // chrono alone would also take "1987-3-4"; the contract is the ISO form, ten characters.
    if input.len() != 10 {
        return Err(DateOfBirthError::NotADate);
    }
    let date =
        NaiveDate::parse_from_str(input, "%Y-%m-%d").map_err(|_| DateOfBirthError::NotADate)?;
    check_date_of_birth(date, today)
}

/// Checks a date of birth already parsed (from a referral's answers, say).
pub fn check_date_of_birth(
    date: NaiveDate,
    today: NaiveDate,
) -> Result<NaiveDate, DateOfBirthError> {
    if date > today {
        Err(DateOfBirthError::InTheFuture)
    } else if date.year() < EARLIEST_BIRTH_YEAR {
        Err(DateOfBirthError::TooEarly)
    } else {
        Ok(date)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Numbers whose check digits were worked by hand (9434765919 is the NHS's own example).
    const VALID: [&str; 4] = ["9434765919", "4010232137", "9876543210", "4505577104"];

    #[test]
    fn known_valid_numbers_are_accepted_and_kept_as_ten_digits() {
        for number in VALID {
            assert_eq!(NhsNumber::parse(number).map(|n| n.0), Ok(number.to_owned()));
        }
        let spaced = NhsNumber::parse(" 943 476 5919 ").expect("as written");
        assert_eq!(spaced.as_str(), "9434765919");
        assert_eq!(spaced.to_string(), "943 476 5919");
        assert_eq!(
            NhsNumber::parse("943-476-5919")
                .expect("as written")
                .as_str(),
            "9434765919"
        );
    }

    #[test]
    fn a_wrong_check_digit_is_refused() {
        for number in ["9434765918", "9434765910", "4010232138"] {
            assert_eq!(
                NhsNumber::parse(number),
                Err(NhsNumberError::WrongCheckDigit),
                "{number}"
            );
        }
        // Two neighbouring digits swapped.
        assert_eq!(
            NhsNumber::parse("4934765919"),
            Err(NhsNumberError::WrongCheckDigit)
        );
    }

    #[test]
    fn a_remainder_giving_ten_is_never_a_number() {
        // 1,0,0,0,0,0,0,0,0 weighs 10: 11 - 10 = 1. 0,0,0,0,0,0,0,0,1 weighs 2: 11 - 2 = 9.
        assert_eq!(check_digit(&[1, 0, 0, 0, 0, 0, 0, 0, 0]), Some(1));
        assert_eq!(check_digit(&[0, 0, 0, 0, 0, 0, 0, 0, 1]), Some(9));
        // 1,0,0,0,0,0,0,0,1 weighs 10 + 2 = 12, 1 modulo 11, leaving 10: no check digit.
        assert_eq!(check_digit(&[1, 0, 0, 0, 0, 0, 0, 0, 1]), None);
        for last in 0..=9 {
            let number = format!("100000001{last}");
            assert_eq!(
                NhsNumber::parse(&number),
                Err(NhsNumberError::WrongCheckDigit)
            );
        }
        // A sum of 0 (mod 11) gives 11, written 0.
        assert_eq!(check_digit(&[0; 9]), Some(0));
    }

    #[test]
    fn wrong_lengths_and_other_characters_are_refused() {
        for (input, error) in [
            ("", NhsNumberError::WrongLength),
            ("943476591", NhsNumberError::WrongLength),
            ("94347659190", NhsNumberError::WrongLength),
            ("943 476 591", NhsNumberError::WrongLength),
            ("943.476.5919", NhsNumberError::NotDigits),
            ("94347659l9", NhsNumberError::NotDigits),
            ("９４３４７６５９１９", NhsNumberError::NotDigits),
            ("+449434765919", NhsNumberError::NotDigits),
        ] {
            assert_eq!(NhsNumber::parse(input), Err(error), "{input:?}");
        }
    }

    #[test]
    fn dates_of_birth_are_iso_dates_from_1900_to_today() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 30).expect("as written");
        let ok = |d: &str| parse_date_of_birth(d, today);
        assert_eq!(
            ok("1987-03-14"),
            Ok(NaiveDate::from_ymd_opt(1987, 3, 14).expect("as written"))
        );
        assert_eq!(ok("2026-11-30"), Ok(today), "born today");
        assert_eq!(ok("1900-01-01").map(|d| d.year()), Ok(1900));
        assert_eq!(ok("2026-12-01"), Err(DateOfBirthError::InTheFuture));
        assert_eq!(ok("1899-12-31"), Err(DateOfBirthError::TooEarly));
        for bad in [
            "14/03/1987",
            "1987-3-14",
            "1987-02-30",
            "",
            "yesterday",
            "19870314",
        ] {
            assert_eq!(ok(bad), Err(DateOfBirthError::NotADate), "{bad:?}");
        }
    }

    proptest! {
        // A fixed seed: the same cases on every run and every machine.
        #![proptest_config(ProptestConfig {
            cases: 512,
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x4e48_5331),
            ..ProptestConfig::default()
        })]

        /// Every nine digits with a check digit make a number that parses, printed or not;
        /// changing any one digit of it is always caught.
        #[test]
        fn one_changed_digit_is_always_caught(first in proptest::array::uniform9(0u8..10), at in 0usize..10, by in 1u8..10) {
            if let Some(check) = check_digit(&first) {
                let mut digits = first.to_vec();
                digits.push(check);
                let text: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
                let parsed = NhsNumber::parse(&text).expect("as written");
                prop_assert_eq!(NhsNumber::parse(&parsed.to_string()), Ok(parsed));
                digits[at] = (digits[at] + by) % 10;
                let changed: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
                prop_assert_eq!(NhsNumber::parse(&changed), Err(NhsNumberError::WrongCheckDigit));
            }
        }

        /// No text makes the parser panic.
        #[test]
        fn any_text_is_answered(text in "\\PC{0,24}") {
            let _ = NhsNumber::parse(&text);
        }
    }
}
