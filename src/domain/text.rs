//! Text people give us that staff and letters show back: names, addresses, answers.
//!
//! Unicode's explicit direction controls (embeddings, overrides and isolates) reorder every
//! character after them until the paragraph ends, so a name holding U+202E would show staff
//! and print on a letter with its letters (and whatever follows it) reversed. Right-to-left
//! scripts need none of them: the bidi algorithm lays out Arabic, Urdu or Hebrew by itself.
//! The transcript keeps each text exactly as received; fields built from it drop these.

use std::borrow::Cow;

/// LRE, RLE, PDF, LRO, RLO (U+202A–U+202E) and LRI, RLI, FSI, PDI (U+2066–U+2069).
pub fn is_direction_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The text without explicit direction controls; every other character kept.
pub fn without_direction_controls(text: &str) -> Cow<'_, str> {
    if text.chars().any(is_direction_control) {
        Cow::Owned(text.chars().filter(|&c| !is_direction_control(c)).collect())
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direction_overrides_and_isolates_are_dropped_and_nothing_else() {
        assert_eq!(
            without_direction_controls("Sam\u{202E}htims\u{202C} \u{2067}x\u{2069}"),
            "Samhtims x"
        );
        // Arabic and Urdu, with their own marks (ALM, RLM), are left as they are.
        let urdu = "عائشہ\u{200F} خان\u{061C}";
        assert!(matches!(without_direction_controls(urdu), Cow::Borrowed(t) if t == urdu));
    }
}
