//! Patients under the team's care: the e-Health Passport and contact preferences.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::channel::{AccessNeed, Channel};

text_enum! {
    /// Why a message is sent; each purpose has its own ranked list of channels.
    pub enum Purpose {
        Urgent = "urgent",
        Reminder = "reminder",
        Update = "update",
        NonUrgent = "non_urgent",
    }
}

text_enum! {
    /// Why a message was sent, as a message records it: a patient's purpose, or an alert to
    /// on-call staff.
    pub enum MessagePurpose {
        Urgent = "urgent",
        Reminder = "reminder",
        Update = "update",
        NonUrgent = "non_urgent",
        /// A text to on-call staff about an urgent referral or patient.
        OnCallAlert = "on_call_alert",
        /// Staff's own words back to a referral's texter, from the referral number.
        TextBack = "text_back",
        /// The gateway's reply to a text that came through a provider whose callback carries
        /// no answer (GOV.UK Notify): sent as a text of its own, from the referral number.
        Reply = "reply",
    }
}

impl From<Purpose> for MessagePurpose {
    fn from(purpose: Purpose) -> Self {
        match purpose {
            Purpose::Urgent => MessagePurpose::Urgent,
            Purpose::Reminder => MessagePurpose::Reminder,
            Purpose::Update => MessagePurpose::Update,
            Purpose::NonUrgent => MessagePurpose::NonUrgent,
        }
    }
}

impl MessagePurpose {
    /// The patient's purpose; `None` for an alert to staff.
    pub fn for_patient(self) -> Option<Purpose> {
        match self {
            MessagePurpose::Urgent => Some(Purpose::Urgent),
            MessagePurpose::Reminder => Some(Purpose::Reminder),
            MessagePurpose::Update => Some(Purpose::Update),
            MessagePurpose::NonUrgent => Some(Purpose::NonUrgent),
            MessagePurpose::OnCallAlert | MessagePurpose::TextBack | MessagePurpose::Reply => None,
        }
    }
}

impl MessagePurpose {
    /// Reminders, brief updates and non-urgent notices: texts that may wait (the hourly
    /// budget) and go only to the allowed countries. Urgent messages, on-call alerts and the
    /// gateway's replies to a person texting (a 999 answer among them) are never held back.
    pub fn is_non_urgent(self) -> bool {
        matches!(
            self,
            MessagePurpose::Reminder | MessagePurpose::Update | MessagePurpose::NonUrgent
        )
    }
}

impl Purpose {
    /// The service page's defaults: phone calls for urgent contact, texts for reminders and
    /// brief updates, letters for non-urgent communication.
    pub fn default_channels(self) -> Vec<Channel> {
        match self {
            Purpose::Urgent => vec![Channel::PhoneCall],
            Purpose::Reminder | Purpose::Update => vec![Channel::Sms],
            Purpose::NonUrgent => vec![Channel::Letter],
        }
    }
}

/// A ranked list of channels per purpose; purposes left out take the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactPreferences(pub BTreeMap<Purpose, Vec<Channel>>);

impl ContactPreferences {
    /// The ranked channels for `purpose`.
    pub fn channels(&self, purpose: Purpose) -> Vec<Channel> {
        match self.0.get(&purpose) {
            Some(list) if !list.is_empty() => list.clone(),
            _ => purpose.default_channels(),
        }
    }

    /// Every purpose spelled out, defaults filled in (what staff see).
    pub fn complete(&self) -> Self {
        ContactPreferences(
            Purpose::ALL
                .into_iter()
                .map(|p| (p, self.channels(p)))
                .collect(),
        )
    }

    /// Checks a list is usable: no channel twice.
    pub fn validate(&self) -> Result<(), String> {
        for (purpose, list) in &self.0 {
            let mut seen = list.clone();
            seen.sort();
            seen.dedup();
            if seen.len() != list.len() {
                return Err(format!(
                    "contact_preferences.{} lists a channel twice",
                    purpose.as_str()
                ));
            }
        }
        Ok(())
    }
}

/// Whether a letter should be in large print.
pub fn wants_large_print(access_needs: &[AccessNeed]) -> bool {
    access_needs.contains(&AccessNeed::LargePrint)
}

/// Whether texts and letters should use the easy-read wording.
pub fn wants_easy_read(access_needs: &[AccessNeed]) -> bool {
    access_needs.contains(&AccessNeed::EasyRead)
}

/// Splits "Sam, they/them" into the name and the pronouns, when pronouns are given.
pub fn split_pronouns(text: &str) -> (String, Option<String>) {
    let pronoun_words = [
        "she", "her", "hers", "he", "him", "his", "they", "them", "theirs", "ze", "zir", "xe",
        "xem", "any",
    ];
    let is_pronouns = |part: &str| {
        let words: Vec<String> = part
            .split(['/', ' '])
            .filter(|w| !w.is_empty())
            .map(|w| w.trim_matches(|c: char| !c.is_alphabetic()).to_lowercase())
            .collect();
        part.contains('/')
            && !words.is_empty()
            && words
                .iter()
                .all(|w| pronoun_words.contains(&w.as_str()) || w == "pronouns")
    };
    let trimmed = text.trim();
    for separator in [',', '(', '-', ';'] {
        if let Some((name, rest)) = trimmed.split_once(separator) {
            let rest = rest.trim().trim_end_matches(')').trim();
            if is_pronouns(rest) && !name.trim().is_empty() {
                return (name.trim().to_owned(), Some(rest.to_owned()));
            }
        }
    }
    // "Sam they/them"
    if let Some((name, last)) = trimmed.rsplit_once(' ')
        && is_pronouns(last)
    {
        return (name.trim().to_owned(), Some(last.to_owned()));
    }
    (trimmed.to_owned(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_service_page() {
        let prefs = ContactPreferences::default();
        assert_eq!(prefs.channels(Purpose::Urgent), vec![Channel::PhoneCall]);
        assert_eq!(prefs.channels(Purpose::Reminder), vec![Channel::Sms]);
        assert_eq!(prefs.channels(Purpose::Update), vec![Channel::Sms]);
        assert_eq!(prefs.channels(Purpose::NonUrgent), vec![Channel::Letter]);
        let own =
            ContactPreferences([(Purpose::Reminder, vec![Channel::Letter, Channel::Sms])].into());
        assert_eq!(
            own.channels(Purpose::Reminder),
            vec![Channel::Letter, Channel::Sms]
        );
        assert_eq!(own.channels(Purpose::Update), vec![Channel::Sms]);
        assert_eq!(own.complete().0.len(), 4);
    }

    #[test]
    fn a_reply_is_never_held_back_and_is_not_a_patient_message() {
        assert_eq!(MessagePurpose::parse("reply"), Some(MessagePurpose::Reply));
        assert!(!MessagePurpose::Reply.is_non_urgent());
        assert_eq!(MessagePurpose::Reply.for_patient(), None);
    }

    #[test]
    fn a_channel_listed_twice_is_refused() {
        let twice =
            ContactPreferences([(Purpose::Urgent, vec![Channel::Sms, Channel::Sms])].into());
        assert!(twice.validate().is_err());
    }

    #[test]
    fn pronouns_are_split_from_names() {
        assert_eq!(
            split_pronouns("Sam, they/them"),
            ("Sam".into(), Some("they/them".into()))
        );
        assert_eq!(
            split_pronouns("Jo (she/her)"),
            ("Jo".into(), Some("she/her".into()))
        );
        assert_eq!(
            split_pronouns("Alex he/him"),
            ("Alex".into(), Some("he/him".into()))
        );
        assert_eq!(
            split_pronouns("Mary-Jane Smith"),
            ("Mary-Jane Smith".into(), None)
        );
        assert_eq!(split_pronouns("Sam"), ("Sam".into(), None));
    }
}
