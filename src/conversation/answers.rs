//! What the referral conversation has gathered, one field per step id.
//!
//! Serialised, this is the `answers` object staff see: keys are step ids, values are plain
//! strings where possible, `null` for an optional question the person skipped or said "no" to.

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Step;
use crate::domain::channel::{AccessNeed, Channel};
use crate::domain::phone::PhoneNumber;
use crate::domain::postcode::Postcode;
use crate::domain::referral::ReferralRoute;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relationship {
    #[serde(rename = "self")]
    Myself,
    SomeoneElse,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferrerRole {
    Family,
    Friend,
    Carer,
    Professional,
    Other,
}

/// The three-way answer to "do they agree?" and "are you safe right now?".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum YesNoUnsure {
    Yes,
    No,
    NotSure,
}

/// Whether the person is an adult, with the age or date of birth when they gave one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Age {
    pub over_18: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub years: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<NaiveDate>,
}

/// Where the person is now: a validated postcode, or a town when they don't know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    Postcode(Postcode),
    Town(String),
}

impl Serialize for Place {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Place::Postcode(p) => s.serialize_str(p.as_str()),
            Place::Town(t) => s.serialize_str(t),
        }
    }
}

impl<'de> Deserialize<'de> for Place {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Ok(match Postcode::parse(&text) {
            Ok(p) => Place::Postcode(p),
            Err(_) => Place::Town(text),
        })
    }
}

/// An optional question's answer: given, or skipped / "no" (`null` in JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Optional<T> {
    Given(T),
    Skipped,
}

impl<T> Optional<T> {
    pub fn given(&self) -> Option<&T> {
        match self {
            Optional::Given(v) => Some(v),
            Optional::Skipped => None,
        }
    }
}

impl<T: Serialize> Serialize for Optional<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Optional::Given(v) => v.serialize(s),
            Optional::Skipped => s.serialize_none(),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Optional<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(d)? {
            Some(v) => Optional::Given(v),
            None => Optional::Skipped,
        })
    }
}

/// Deserialises a present-but-null optional answer as `Some(Skipped)` rather than `None`.
fn optional_answer<'de, D, T>(d: D) -> Result<Option<Optional<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Optional::deserialize(d).map(Some)
}

/// Every answer given so far; a field per step id. Absent means not asked or not answered
/// yet; an optional question that was skipped is present as `null`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Answers {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationship: Option<Relationship>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer_role: Option<ReferrerRole>,
    /// `discharge_support` when ward staff chose it (DISCHARGE, or option 6 at
    /// `referrer_role`); absent for a crisis referral. Set with `referrer_role`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<ReferralRoute>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_answer"
    )]
    pub referrer_name: Option<Optional<String>>,
    /// A professional's organisation (GP practice, ward, 111 …).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_answer"
    )]
    pub referrer_org: Option<Optional<String>>,
    /// A professional's callback number.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_answer"
    )]
    pub referrer_phone: Option<Optional<PhoneNumber>>,
    /// Discharge support: the ward the person is leaving.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ward: Option<String>,
    /// Discharge support: when they are expected to leave the ward.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_discharge: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<YesNoUnsure>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_answer"
    )]
    pub subject_phone: Option<Optional<PhoneNumber>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age: Option<Age>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postcode: Option<Place>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety: Option<YesNoUnsure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub situation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_method: Option<Channel>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_answer"
    )]
    pub language: Option<Optional<String>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_answer"
    )]
    pub access_needs: Option<Optional<Vec<AccessNeed>>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_answer"
    )]
    pub anything_else: Option<Optional<String>>,
}

impl Answers {
    /// The answer to `step` as JSON, if one was given.
    pub fn get_json(&self, step: Step) -> Option<serde_json::Value> {
        self.to_json().remove(step.id())
    }

    /// Removes the answer to `step`, returning it as JSON so nothing said is ever dropped.
    pub fn take(&mut self, step: Step) -> Option<serde_json::Value> {
        let old = self.get_json(step);
        match step {
            Step::Relationship => self.relationship = None,
            Step::ReferrerRole => {
                self.referrer_role = None;
                self.route = None;
            }
            Step::ReferrerName => self.referrer_name = None,
            Step::ReferrerOrg => self.referrer_org = None,
            Step::ReferrerPhone => self.referrer_phone = None,
            Step::Ward => self.ward = None,
            Step::ExpectedDischarge => self.expected_discharge = None,
            Step::Consent => self.consent = None,
            Step::SubjectPhone => self.subject_phone = None,
            Step::Name => self.name = None,
            Step::Age => self.age = None,
            Step::Postcode => self.postcode = None,
            Step::Safety => self.safety = None,
            Step::Situation => self.situation = None,
            Step::ContactMethod => self.contact_method = None,
            Step::Language => self.language = None,
            Step::AccessNeeds => self.access_needs = None,
            Step::AnythingElse => self.anything_else = None,
            Step::Confirm => {}
        }
        old
    }

    /// The answers as the JSON object staff see (step id → value).
    pub fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(map)) => map,
            // Every field serialises to plain JSON; an object is the only possible shape.
            _ => serde_json::Map::new(),
        }
    }

    /// Referred by a professional (asked their organisation and callback number).
    pub fn by_professional(&self) -> bool {
        self.relationship == Some(Relationship::SomeoneElse)
            && self.referrer_role == Some(ReferrerRole::Professional)
    }

    /// Ward staff referring someone for discharge support.
    pub fn discharge_support(&self) -> bool {
        self.by_professional() && self.route == Some(ReferralRoute::DischargeSupport)
    }

    /// The pathway these answers are for.
    pub fn referral_route(&self) -> ReferralRoute {
        if self.discharge_support() {
            ReferralRoute::DischargeSupport
        } else {
            ReferralRoute::Crisis
        }
    }

    pub fn about_self(&self) -> bool {
        self.relationship != Some(Relationship::SomeoneElse)
    }
}
