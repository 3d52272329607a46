//! Referrals staff enter: one taken on the 0800 line or passed on by NHS 111 (`source`
//! `phone`), or sent by another system (`api`), so that the triage queue holds every referral
//! whatever door it came through. The answers are read with the conversation's own parsers,
//! and the intake decides routing, risk and alerts as it does for a texted referral.

use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{Error, Result, Services, audit_entry, require_referral_reader};
use crate::conversation::answers::{
    Answers, Optional, Place, ReferrerRole, Relationship, YesNoUnsure,
};
use crate::conversation::parse;
use crate::domain::channel::AccessNeed;
use crate::domain::phone::PhoneNumber;
use crate::domain::postcode::Postcode;
use crate::domain::reference::ReferralRef;
use crate::domain::referral::{ReferralRoute, ReferralSource};
use crate::store::{Actor, AuditAction, EnteredReferral, Referral, StoreError};

/// A referral staff enter: the same answers the texted conversation gathers, by step id.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct ReferralIn {
    /// `phone` (the default: taken on the 0800 line or passed on by 111) or `api`.
    pub source: Option<String>,
    /// `crisis` (the default) or `discharge_support` (needs `ward`, `expected_discharge` and
    /// `consent`).
    pub route: Option<String>,
    /// The person's name (required).
    pub name: Option<String>,
    /// The number to reach the person on (UK or international).
    pub phone: Option<String>,
    /// An age like `34`, or `yes` / `no` to "18 or over?". This or `date_of_birth` is required.
    #[schema(value_type = Option<String>)]
    pub age: Option<serde_json::Value>,
    /// `YYYY-MM-DD` (or as a person would say it, e.g. `3/4/1990`).
    pub date_of_birth: Option<String>,
    /// Where the person is now: a UK postcode. This or `town` is required; it routes the team.
    pub postcode: Option<String>,
    /// The town, when the postcode is not known.
    pub town: Option<String>,
    /// "Safe right now?": `yes`, `no` or `not_sure` (required for the crisis route).
    pub safety: Option<String>,
    /// What is happening, in the caller's words (required for the crisis route); screened
    /// for risk.
    pub situation: Option<String>,
    /// `phone_call`, `sms` or `letter`.
    pub contact_method: Option<String>,
    /// A language other than English, or an interpreter needed.
    pub language: Option<String>,
    /// Access needs (`bsl`, `large_print`, `braille`, `audio`, `easy_read`, `text_message`,
    /// `advocate`, …).
    pub access_needs: Option<Vec<String>>,
    /// Anything else the team should know; screened for risk.
    pub anything_else: Option<String>,
    /// `self` or `someone_else` (the default when a referrer is named, or for discharge
    /// support).
    pub relationship: Option<String>,
    /// For someone else: `family`, `friend`, `carer`, `professional` or `other`.
    pub referrer_role: Option<String>,
    pub referrer_name: Option<String>,
    /// A professional's organisation.
    pub referrer_org: Option<String>,
    /// A professional's callback number.
    pub referrer_phone: Option<String>,
    /// For someone else: do they know and agree? `yes`, `no` or `not_sure`.
    pub consent: Option<String>,
    /// Discharge support: the ward the person is leaving.
    pub ward: Option<String>,
    /// Discharge support: the expected discharge date, `YYYY-MM-DD`.
    pub expected_discharge: Option<String>,
}

/// The problems found in an entered referral, each naming its field.
#[derive(Debug, Default)]
struct Problems(Vec<String>);

impl Problems {
    fn add(&mut self, field: &str, problem: impl std::fmt::Display) {
        self.0.push(format!("{field}: {problem}"));
    }

    fn into_result(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid(self.0.join("; ")))
        }
    }
}

/// A word in its JSON form (`not_sure`, `someone_else`), or as a person would say it.
fn word<T: serde::de::DeserializeOwned>(
    text: &str,
    spoken: impl Fn(&str) -> Option<T>,
) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(text.trim().to_owned()))
        .ok()
        .or_else(|| spoken(text))
}

fn given(text: &Option<String>) -> Option<&str> {
    text.as_deref().map(str::trim).filter(|t| !t.is_empty())
}

/// A date as `YYYY-MM-DD`, or `DD/MM/YYYY`.
fn date(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(text, "%d/%m/%Y"))
        .ok()
}

/// Reads an entered referral into the conversation's answers, naming every bad field.
fn read_answers(
    input: &ReferralIn,
    route: ReferralRoute,
    today: NaiveDate,
) -> Result<(Answers, Option<PhoneNumber>)> {
    let mut bad = Problems::default();
    let mut a = Answers::default();
    let discharge = route == ReferralRoute::DischargeSupport;

    match given(&input.name).map(|n| parse::free_text(n, 100)) {
        Some(Some(name)) => a.name = Some(name),
        Some(None) => bad.add("name", "is not a name (at most 100 characters)"),
        None => bad.add("name", "is required"),
    }
    let phone = match given(&input.phone) {
        Some(text) => match PhoneNumber::parse(text) {
            Ok(phone) => Some(phone),
            Err(_) => {
                bad.add("phone", "is not a phone number");
                None
            }
        },
        None => None,
    };
    let age_text = match &input.age {
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        Some(serde_json::Value::Bool(b)) => Some(if *b { "yes" } else { "no" }.to_owned()),
        _ => None,
    };
    match (age_text, given(&input.date_of_birth)) {
        (_, Some(dob)) => match date(dob)
            .filter(|d| *d <= today)
            .map(|d| d.format("%d/%m/%Y").to_string())
            .or_else(|| Some(dob.to_owned()))
            .and_then(|text| parse::age(&text, today))
        {
            Some(age) => a.age = Some(age),
            None => bad.add("date_of_birth", "is not a date of birth"),
        },
        (Some(text), None) => match parse::age(&text, today) {
            Some(age) => a.age = Some(age),
            None => bad.add("age", "is not an age (send a number like 34)"),
        },
        (None, None) => bad.add("age", "age or date_of_birth is required"),
    }
    if a.age.is_some_and(|age| !age.over_18) {
        bad.add(
            "age",
            "the team is for adults 18 and over; signpost to NHS 111 (mental health option)",
        );
    }
    match (given(&input.postcode), given(&input.town)) {
        (Some(text), _) => match Postcode::parse(text) {
            Ok(postcode) => a.postcode = Some(Place::Postcode(postcode)),
            Err(_) => bad.add("postcode", "is not a UK postcode"),
        },
        (None, Some(town)) => match parse::free_text(town, 60) {
            Some(town) if town.chars().any(char::is_alphabetic) => {
                a.postcode = Some(Place::Town(town))
            }
            _ => bad.add("town", "is not a town"),
        },
        (None, None) => bad.add("postcode", "postcode or town is required"),
    }
    match given(&input.safety) {
        Some(text) => match word(text, parse::yes_no_unsure) {
            Some(v) => a.safety = Some(v),
            None => bad.add("safety", "must be yes, no or not_sure"),
        },
        None if !discharge => bad.add("safety", "is required"),
        None => {}
    }
    match given(&input.situation).map(|t| parse::free_text(t, 1600)) {
        Some(Some(text)) => a.situation = Some(text),
        Some(None) => bad.add("situation", "is too long (at most 1600 characters)"),
        None if !discharge => bad.add("situation", "is required"),
        None => {}
    }
    if let Some(text) = given(&input.contact_method) {
        match word(text, parse::contact_method) {
            Some(c) => a.contact_method = Some(c),
            None => bad.add("contact_method", "must be phone_call, sms or letter"),
        }
    }
    if let Some(text) = given(&input.language) {
        match parse::language(text) {
            Some(language) => a.language = Some(Optional::Given(language)),
            None => bad.add("language", "is not a language"),
        }
    }
    if let Some(needs) = &input.access_needs {
        let mut read = Vec::new();
        for need in needs {
            match word::<AccessNeed>(need, |t| {
                parse::access_needs(t).and_then(|v| v.first().copied())
            }) {
                Some(n) if !read.contains(&n) => read.push(n),
                Some(_) => {}
                None => bad.add("access_needs", format!("`{need}` is not an access need")),
            }
        }
        a.access_needs = Some(Optional::Given(read));
    }
    if let Some(text) = given(&input.anything_else) {
        match parse::free_text(text, 1600) {
            Some(text) => a.anything_else = Some(Optional::Given(text)),
            None => bad.add("anything_else", "is too long (at most 1600 characters)"),
        }
    }

    let named_referrer = [
        &input.referrer_role,
        &input.referrer_name,
        &input.referrer_org,
        &input.referrer_phone,
    ]
    .iter()
    .any(|f| given(f).is_some());
    let relationship = match given(&input.relationship) {
        Some(text) => match word(text, parse::relationship) {
            Some(r) => Some(r),
            None => {
                bad.add("relationship", "must be self or someone_else");
                None
            }
        },
        None if discharge || named_referrer => Some(Relationship::SomeoneElse),
        None => Some(Relationship::Myself),
    };
    a.relationship = relationship;
    if relationship == Some(Relationship::SomeoneElse) {
        match given(&input.referrer_role) {
            Some(text) => match word(text, parse::referrer_role) {
                Some(r) => a.referrer_role = Some(r),
                None => bad.add(
                    "referrer_role",
                    "must be family, friend, carer, professional or other",
                ),
            },
            None if discharge => a.referrer_role = Some(ReferrerRole::Professional),
            None => bad.add("referrer_role", "is required for someone else"),
        }
        if let Some(text) = given(&input.referrer_name) {
            match parse::free_text(text, 100) {
                Some(n) => a.referrer_name = Some(Optional::Given(n)),
                None => bad.add("referrer_name", "is too long (at most 100 characters)"),
            }
        }
        if let Some(text) = given(&input.referrer_org) {
            match parse::free_text(text, 100) {
                Some(n) => a.referrer_org = Some(Optional::Given(n)),
                None => bad.add("referrer_org", "is too long (at most 100 characters)"),
            }
        }
        if let Some(text) = given(&input.referrer_phone) {
            match PhoneNumber::parse(text) {
                Ok(p) => a.referrer_phone = Some(Optional::Given(p)),
                Err(_) => bad.add("referrer_phone", "is not a phone number"),
            }
        }
        match given(&input.consent) {
            Some(text) => match word::<YesNoUnsure>(text, parse::yes_no_unsure) {
                Some(c) => a.consent = Some(c),
                None => bad.add("consent", "must be yes, no or not_sure"),
            },
            None => bad.add("consent", "is required for someone else"),
        }
        if let Some(phone) = &phone {
            a.subject_phone = Some(Optional::Given(phone.clone()));
        }
    }
    if discharge {
        match given(&input.ward).map(|t| parse::free_text(t, 100)) {
            Some(Some(ward)) => a.ward = Some(ward),
            Some(None) => bad.add("ward", "is too long (at most 100 characters)"),
            None => bad.add("ward", "is required for discharge support"),
        }
        match given(&input.expected_discharge) {
            Some(text) => match date(text) {
                Some(d) => a.expected_discharge = Some(d),
                None => bad.add("expected_discharge", "is not a date (YYYY-MM-DD)"),
            },
            None => bad.add("expected_discharge", "is required for discharge support"),
        }
        if given(&input.consent).is_none() && relationship != Some(Relationship::SomeoneElse) {
            bad.add("consent", "is required for discharge support");
        }
    }
    bad.into_result()?;
    Ok((a, phone))
}

impl Services {
    /// Enters a referral taken by phone (or sent by another system) into the triage queue:
    /// clinicians and admins only, audited as `referral.created` by the staff member.
    pub async fn enter_referral(&self, actor: &Actor, input: ReferralIn) -> Result<Referral> {
        require_referral_reader(actor)?;
        let source = match given(&input.source) {
            Some(text) => match ReferralSource::parse(text) {
                Some(ReferralSource::Sms) | None => {
                    return Err(Error::Invalid("source: must be phone or api".to_owned()));
                }
                Some(source) => source,
            },
            None => ReferralSource::Phone,
        };
        let route = match given(&input.route) {
            Some(text) => ReferralRoute::parse(text).ok_or_else(|| {
                Error::Invalid("route: must be crisis or discharge_support".to_owned())
            })?,
            None => ReferralRoute::Crisis,
        };
        let today = self.clock.today_in_uk();
        let (answers, phone) = read_answers(&input, route, today)?;
        // A clash of random references is rare; draw again a few times.
        let mut tries = 0;
        loop {
            let now = self.now();
            let reference = ReferralRef::generate();
            let decided = self
                .intake
                .entered_referral(&answers, route, reference.as_str(), now);
            let entry = EnteredReferral {
                fields: decided.fields,
                reference: reference.as_str().to_owned(),
                phone: phone.clone(),
                source,
                alerts: decided.alerts,
                audit: audit_entry(actor, now, AuditAction::ReferralCreated, String::new()),
                at: now,
            };
            match self.store.enter_referral(&entry).await {
                Err(StoreError::Conflict(_)) if tries < 3 => tries += 1,
                other => return Ok(other?),
            }
        }
    }
}
