//! Patients and their e-Health Passports: building a passport from what staff write, turning a
//! referral into a patient, acknowledging a patient's urgent episode, finding patients.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use super::{Error, Page, Result, Services, audit_entry};
use crate::domain::channel::{AccessNeed, Channel};
use crate::domain::patient::{ContactPreferences, Purpose, split_pronouns};
use crate::domain::phone::PhoneNumber;
use crate::domain::postcode::Postcode;
use crate::domain::schedule::QuietHours;
use crate::domain::teams::Teams;
use crate::domain::text::without_direction_controls;
use crate::store::{
    Actor, Address, PassportSaved, Patient, PatientFilter, PatientRecord, Referral, StoreError,
};

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct AddressIo {
    #[serde(default)]
    pub lines: Vec<String>,
    pub postcode: Option<String>,
}

/// A patient's e-Health Passport as staff write it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct PatientIn {
    pub name: String,
    pub preferred_name: Option<String>,
    pub pronouns: Option<String>,
    /// National or international form; returned as E.164.
    pub mobile: Option<String>,
    pub landline: Option<String>,
    #[serde(default)]
    pub address: Option<AddressIo>,
    pub language: Option<String>,
    #[serde(default)]
    pub interpreter: Option<bool>,
    #[serde(default)]
    pub access_needs: Option<Vec<AccessNeed>>,
    pub support_person: Option<String>,
    pub service_animal: Option<String>,
    /// `"21:00-08:00"` or `"off"`; absent or null: the service's default.
    pub quiet_hours: Option<String>,
    /// A team id from the teams file; absent: routed by postcode.
    pub team: Option<String>,
    /// Ranked channels per purpose (`urgent`, `reminder`, `update`, `non_urgent`); purposes
    /// left out take the defaults.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub contact_preferences: Option<ContactPreferences>,
    pub notes: Option<String>,
    /// The mobile may already be on another patient's record (a phone shared in a family or
    /// a care home); without this such a mobile is refused with 409.
    #[serde(default)]
    pub shared_mobile: bool,
}

impl From<&Patient> for PatientIn {
    /// The passport as staff would write it again: what a change (a merge patch) applies to.
    fn from(p: &Patient) -> Self {
        PatientIn {
            name: p.name.clone(),
            preferred_name: p.preferred_name.clone(),
            pronouns: p.pronouns.clone(),
            mobile: p.mobile.as_ref().map(|m| m.e164().to_owned()),
            landline: p.landline.as_ref().map(|m| m.e164().to_owned()),
            address: Some(AddressIo {
                lines: p.address.lines.clone(),
                postcode: p.address.postcode.as_ref().map(|c| c.as_str().to_owned()),
            }),
            language: p.language.clone(),
            interpreter: Some(p.interpreter),
            access_needs: Some(p.access_needs.clone()),
            support_person: p.support_person.clone(),
            service_animal: p.service_animal.clone(),
            quiet_hours: p.quiet_hours.map(|q| q.to_string()),
            team: p.team.clone(),
            contact_preferences: Some(p.contact_preferences.complete()),
            notes: p.notes.clone(),
            shared_mobile: false,
        }
    }
}

/// Urgent patients come first (longest waiting first), then the rest, oldest record first.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PatientQuery {
    /// Only patients with this mobile number.
    pub mobile: Option<String>,
    /// `true`: only patients with an open urgent episode; `false`: only those without.
    pub urgent: Option<bool>,
    /// At most this many (default 200, up to 1000).
    pub limit: Option<u32>,
}

/// Options for making a patient from a referral; the body may be left out.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct FromReferralIn {
    /// The referral's number may already be on another patient's record; without this such a
    /// number is refused with 409.
    #[serde(default)]
    pub shared_mobile: bool,
}

impl Services {
    pub async fn create_patient(&self, actor: &Actor, input: PatientIn) -> Result<PatientRecord> {
        let shared_mobile = input.shared_mobile;
        let patient = patient_from(&self.outbound.teams, self.now(), input, None)?;
        let audit = audit_entry(
            actor,
            self.now(),
            "patient.create",
            format!("patient:{}", patient.id),
        );
        saved(
            self.store
                .save_passport(&patient, true, shared_mobile, &audit)
                .await?,
            &patient.id,
        )
    }

    pub async fn list_patients(&self, query: PatientQuery) -> Result<Vec<PatientRecord>> {
        let filter = PatientFilter {
            mobile: phone("mobile", query.mobile.as_deref())
                .map_err(|_| Error::BadRequest("mobile is not a valid phone number".into()))?,
            urgent: query.urgent,
            limit: Page::PATIENTS.limit(query.limit),
        };
        Ok(self.store.patient_records(&filter).await?)
    }

    pub async fn patient(&self, id: &str) -> Result<PatientRecord> {
        self.store
            .patient_record(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no patient {id}")))
    }

    /// Changes the fields given (JSON merge patch, RFC 7396: null clears a field). A new mobile
    /// already on another patient's record needs `"shared_mobile": true` in the patch.
    pub async fn update_patient(
        &self,
        actor: &Actor,
        id: &str,
        patch: Value,
    ) -> Result<PatientRecord> {
        if !patch.is_object() {
            return Err(Error::BadRequest(
                "send a JSON object of the fields to change".into(),
            ));
        }
        let existing = self.patient(id).await?;
        let mut current = serde_json::to_value(PatientIn::from(&existing.patient))
            .map_err(|e| Error::Internal(e.into()))?;
        merge_patch(&mut current, &patch);
        let input: PatientIn = serde_json::from_value(current)
            .map_err(|e| Error::Invalid(format!("the changed passport is not valid: {e}")))?;
        let shared_mobile = input.shared_mobile;
        let patient = patient_from(
            &self.outbound.teams,
            self.now(),
            input,
            Some(&existing.patient),
        )?;
        let audit = audit_entry(actor, self.now(), "patient.update", format!("patient:{id}"));
        saved(
            self.store
                .save_passport(&patient, false, shared_mobile, &audit)
                .await?,
            id,
        )
    }

    /// A clinician has seen the patient's urgent episode and is acting on it: the episode
    /// closes, re-alerts and escalation stop, and the risk signals stay on the record as
    /// history. Acknowledging a patient with no open episode changes nothing (a second
    /// clinician's click is harmless), and only a real acknowledgement is audited.
    pub async fn acknowledge_patient(&self, actor: &Actor, id: &str) -> Result<PatientRecord> {
        if !actor.role.may_read_referrals() {
            return Err(Error::Forbidden(
                "only clinicians and admins may acknowledge a patient's urgent episode".into(),
            ));
        }
        let audit = audit_entry(
            actor,
            self.now(),
            "patient.acknowledged",
            format!("patient:{id}"),
        );
        self.store
            .acknowledge_patient(id, &audit)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no patient {id}")))
    }

    /// Creates the patient a referral describes, carrying its answers over.
    pub async fn patient_from_referral(
        &self,
        actor: &Actor,
        referral_id: &str,
        options: FromReferralIn,
    ) -> Result<PatientRecord> {
        let referral = self
            .read_referral(actor, "referral.to_patient", referral_id)
            .await?;
        let input = passport_from_referral(&referral);
        let mut patient = patient_from(&self.outbound.teams, self.now(), input, None)?;
        patient.referral_id = Some(referral.id.clone());
        if patient.team.is_none() {
            patient.team = Some(referral.team.clone());
        }
        let audit = audit_entry(
            actor,
            self.now(),
            "patient.create",
            format!("patient:{}", patient.id),
        )
        .for_referral(&referral.id);
        let outcome = self
            .store
            .save_passport(&patient, true, options.shared_mobile, &audit)
            .await
            .map_err(|e| match e {
                // Two clinicians at once: the other's patient is in.
                StoreError::Conflict(_) => {
                    Error::Conflict(format!("referral {referral_id} already has a patient"))
                }
                other => other.into(),
            })?;
        saved(outcome, &patient.id)
    }
}

fn invalid(field: &str, problem: &str) -> Error {
    Error::Invalid(format!("{field}: {problem}"))
}

fn phone(field: &str, value: Option<&str>) -> Result<Option<PhoneNumber>> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| PhoneNumber::parse(v).map_err(|_| invalid(field, "not a valid phone number")))
        .transpose()
}

/// Staff-typed text as the record keeps it: trimmed, without direction overrides (which would
/// reverse what staff read and what a letter prints).
fn text(value: Option<String>) -> Option<String> {
    value
        .map(|v| without_direction_controls(&v).trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Parses and checks a passport; `existing` keeps the fields staff cannot write.
fn patient_from(
    teams: &Teams,
    now: chrono::DateTime<chrono::Utc>,
    input: PatientIn,
    existing: Option<&Patient>,
) -> Result<Patient> {
    let name = text(Some(input.name)).unwrap_or_default();
    if name.is_empty() {
        return Err(invalid("name", "is required"));
    }
    let mobile = phone("mobile", input.mobile.as_deref())?;
    if mobile.as_ref().is_some_and(|m| !m.is_mobile()) {
        return Err(invalid(
            "mobile",
            "is not a mobile number (put it in landline)",
        ));
    }
    let address = input.address.unwrap_or_default();
    let postcode = text(address.postcode)
        .map(|p| {
            Postcode::parse(&p).map_err(|_| invalid("address.postcode", "not a valid UK postcode"))
        })
        .transpose()?;
    let quiet_hours = text(input.quiet_hours)
        .map(|q| {
            QuietHours::parse(&q).ok_or_else(|| {
                invalid(
                    "quiet_hours",
                    "expected HH:MM-HH:MM (e.g. 21:00-08:00) or off",
                )
            })
        })
        .transpose()?;
    let contact_preferences = input.contact_preferences.unwrap_or_default();
    contact_preferences.validate().map_err(Error::Invalid)?;
    let team = match text(input.team) {
        Some(team) if teams.get(&team).is_none() => {
            return Err(invalid("team", "no such team in the teams file"));
        }
        Some(team) => Some(team),
        None => postcode
            .as_ref()
            .map(|p| teams.route_postcode(p).id.clone()),
    };
    let mut access_needs = input.access_needs.unwrap_or_default();
    access_needs.sort();
    access_needs.dedup();
    Ok(Patient {
        id: existing.map_or_else(crate::new_id, |p| p.id.clone()),
        name,
        preferred_name: text(input.preferred_name),
        pronouns: text(input.pronouns),
        mobile,
        landline: phone("landline", input.landline.as_deref())?,
        address: Address {
            lines: address
                .lines
                .into_iter()
                .filter_map(|l| text(Some(l)))
                .collect(),
            postcode,
        },
        language: text(input.language),
        interpreter: input.interpreter.unwrap_or(false),
        access_needs,
        support_person: text(input.support_person),
        service_animal: text(input.service_animal),
        quiet_hours,
        team,
        contact_preferences,
        sms_opted_out: existing.is_some_and(|p| p.sms_opted_out),
        mobile_failed: existing
            .filter(|p| p.mobile == mobile_of(&input.mobile))
            .and_then(|p| p.mobile_failed.clone()),
        urgent: existing.is_some_and(|p| p.urgent),
        risk_signals: existing.map(|p| p.risk_signals.clone()).unwrap_or_default(),
        notes: text(input.notes),
        referral_id: existing.and_then(|p| p.referral_id.clone()),
        created_at: existing.map_or(now, |p| p.created_at),
        updated_at: now,
    })
}

/// A new mobile number clears the old one's failure.
fn mobile_of(raw: &Option<String>) -> Option<PhoneNumber> {
    raw.as_deref().and_then(|m| PhoneNumber::parse(m).ok())
}

/// What a save came to. A refusal never repeats the number (safety rule 6).
fn saved(outcome: PassportSaved, id: &str) -> Result<PatientRecord> {
    match outcome {
        PassportSaved::Saved(record) => Ok(*record),
        PassportSaved::NoSuchPatient => Err(Error::NotFound(format!("no patient {id}"))),
        PassportSaved::MobileOnAnotherRecord { patient_id } => Err(Error::Conflict(format!(
            "this mobile number is already on another patient's record (patient {patient_id}); \
             if they share the phone, send \"shared_mobile\": true"
        ))),
        PassportSaved::ReferralHasPatient { patient_id } => Err(Error::Conflict(format!(
            "this referral already has a patient (patient {patient_id})"
        ))),
    }
}

/// RFC 7396: objects merge key by key, null removes, anything else replaces.
fn merge_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(key);
                } else {
                    merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

/// The passport a referral's answers describe.
fn passport_from_referral(referral: &Referral) -> PatientIn {
    let answers: &Map<String, Value> = &referral.answers;
    let answer = |key: &str| answers.get(key).and_then(Value::as_str).map(str::to_owned);
    let (name, pronouns) = split_pronouns(&answer("name").unwrap_or_else(|| "Unknown".into()));
    let about_self = answer("relationship").as_deref() != Some("someone_else");
    let mobile = if about_self {
        referral.phone.clone()
    } else {
        answer("subject_phone")
    }
    .filter(|m| PhoneNumber::parse(m).is_ok_and(|p| p.is_mobile()));
    let place = answer("postcode");
    let postcode = place.as_deref().and_then(|p| Postcode::parse(p).ok());
    let language = answer("language");
    let access_needs: Vec<AccessNeed> = answers
        .get("access_needs")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    let chosen = answer("contact_method").and_then(|c| Channel::parse(&c));
    let contact_preferences = chosen.map(|first| {
        ContactPreferences(
            Purpose::ALL
                .into_iter()
                .map(|purpose| {
                    let mut list = vec![first];
                    if purpose == Purpose::Urgent {
                        list = vec![Channel::PhoneCall, first];
                    }
                    for fallback in purpose.default_channels() {
                        list.push(fallback);
                    }
                    list.dedup();
                    let mut seen = Vec::new();
                    list.retain(|c| {
                        let fresh = !seen.contains(c);
                        seen.push(*c);
                        fresh
                    });
                    (purpose, list)
                })
                .collect(),
        )
    });
    let mut notes = Vec::new();
    if let Some(Value::String(situation)) = answers.get("situation") {
        notes.push(format!("At referral: {situation}"));
    }
    if let Some(Value::String(more)) = answers.get("anything_else") {
        notes.push(format!("Also said: {more}"));
    }
    if postcode.is_none()
        && let Some(town) = place
    {
        notes.push(format!("Where (from the referral): {town}"));
    }
    PatientIn {
        name,
        pronouns,
        mobile,
        address: Some(AddressIo {
            lines: Vec::new(),
            postcode: postcode.map(|p| p.as_str().to_owned()),
        }),
        interpreter: Some(language.is_some()),
        language,
        access_needs: Some(access_needs),
        contact_preferences,
        notes: (!notes.is_empty()).then(|| notes.join("\n")),
        ..PatientIn::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut doc, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(doc, json!({"a": "z", "c": {"d": "e"}}));
        let mut doc = json!({"a": [1, 2]});
        merge_patch(&mut doc, &json!({"a": [3], "b": null}));
        assert_eq!(doc, json!({"a": [3]}));
    }
}
