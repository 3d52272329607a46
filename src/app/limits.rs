//! The longest text staff may write in each free-text field of the staff API, in one place.
//! Past a limit the request is refused (422) naming the field, before anything is stored:
//! a record, a letter or a text must never carry a pasted document, and an error must never
//! echo one.

use serde_json::{Map, Value};

use super::{Error, Result};

/// A person's name, a preferred name, a support person, a site or a member of staff.
pub const NAME: usize = 200;
/// Pronouns ("they/them").
pub const PRONOUNS: usize = 50;
/// One line of an address.
pub const ADDRESS_LINE: usize = 200;
/// Lines in an address (a letter's address block has room for these).
pub const ADDRESS_LINES: usize = 8;
/// A phone number as typed, a postcode, a language, quiet hours, a team id, a status, a
/// kind, a purpose, a template's name: short words and codes.
pub const CODE: usize = 100;
/// Staff's own words in a message to a patient (a text of ~13 segments; a short letter).
pub const MESSAGE_TEXT: usize = 2_000;
/// A passport's notes.
pub const NOTES: usize = 4_000;
/// One line of a safety plan (a sign, a person, a reason): short, as it is sent by text.
pub const SAFETY_PLAN_LINE: usize = 300;
/// Lines in one section of a safety plan.
pub const SAFETY_PLAN_LINES: usize = 20;
/// A template's variables: how many, and the longest value.
pub const VARS: usize = 20;
pub const VAR_VALUE: usize = MESSAGE_TEXT;

/// `value` in `field` is at most `max` characters.
pub fn at_most(field: &str, value: &str, max: usize) -> Result<()> {
    let length = value.chars().count();
    if length > max {
        return Err(Error::Invalid(format!(
            "{field}: at most {max} characters (this one has {length})"
        )));
    }
    Ok(())
}

/// As `at_most`, for a field that may be left out.
pub fn optional(field: &str, value: Option<&str>, max: usize) -> Result<()> {
    value.map_or(Ok(()), |value| at_most(field, value, max))
}

/// A template's variables: at most `VARS` of them, names of at most `CODE` characters, and
/// values (strings, or anything else as JSON) of at most `VAR_VALUE`.
pub fn vars(vars: &Map<String, Value>) -> Result<()> {
    if vars.len() > VARS {
        return Err(Error::Invalid(format!(
            "vars: at most {VARS} variables (this has {})",
            vars.len()
        )));
    }
    for (name, value) in vars {
        at_most("vars (a variable's name)", name, CODE)?;
        match value {
            Value::String(text) => at_most(&format!("vars.{name}"), text, VAR_VALUE)?,
            other => at_most(&format!("vars.{name}"), &other.to_string(), VAR_VALUE)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_past_its_limit_is_refused_by_name() {
        assert!(at_most("name", &"é".repeat(NAME), NAME).is_ok());
        let error = at_most("name", &"é".repeat(NAME + 1), NAME).expect_err("too long");
        assert!(matches!(&error, Error::Invalid(d) if d.starts_with("name: at most 200")));
        assert!(optional("notes", None, NOTES).is_ok());
        let mut many = Map::new();
        for i in 0..=VARS {
            many.insert(format!("v{i}"), Value::String("x".into()));
        }
        assert!(vars(&many).is_err());
        let mut long = Map::new();
        long.insert("text".into(), Value::String("x".repeat(VAR_VALUE + 1)));
        assert!(matches!(vars(&long), Err(Error::Invalid(d)) if d.starts_with("vars.text")));
    }
}
