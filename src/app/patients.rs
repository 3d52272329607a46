//! Patients and their e-Health Passports: building a passport from what staff write, turning a
//! referral into a patient, acknowledging a patient's urgent episode, finding patients.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use super::{Cursor, Error, Page, Paged, Result, Services, audit_entry, limits, list_entry};
use crate::domain::channel::{AccessNeed, Channel};
use crate::domain::id::{PatientId, ReferralId};
use crate::domain::nhs::{NhsNumber, check_date_of_birth, parse_date_of_birth};
use crate::domain::patient::{ContactPreferences, Purpose, split_pronouns};
use crate::domain::phone::PhoneNumber;
use crate::domain::postcode::Postcode;
use crate::domain::schedule::QuietHours;
use crate::domain::teams::Teams;
use crate::domain::text::without_direction_controls;
use crate::language::{english_name, language_code};
use crate::store::{
    Actor, Address, AuditAction, PassportSaved, Patient, PatientFilter, PatientKey, PatientRecord,
    PatientSearch, Referral, StoreError,
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
    /// Ten digits, spaces or dashes allowed (`943 476 5919`); checked by its modulus 11 check
    /// digit and returned as the ten digits. One record per NHS number (409 otherwise).
    pub nhs_number: Option<String>,
    /// `YYYY-MM-DD`, not in the future and not before 1900.
    pub date_of_birth: Option<String>,
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
            nhs_number: p.nhs_number.as_ref().map(|n| n.as_str().to_owned()),
            date_of_birth: p.date_of_birth.map(|d| d.to_string()),
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
    /// Find patients by a part of their name (any case), their NHS number (spaces ignored) or
    /// their mobile number (any form, national or international).
    pub q: Option<String>,
    /// Only patients with this mobile number.
    pub mobile: Option<String>,
    /// `true`: only patients with an open urgent episode; `false`: only those without.
    pub urgent: Option<bool>,
    /// The `next_cursor` of the page before.
    pub cursor: Option<String>,
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
        check_lengths(&input, None)?;
        let shared_mobile = input.shared_mobile;
        let patient = patient_from(&self.outbound.teams, self.now(), input, None)?;
        let audit = audit_entry(
            actor,
            self.now(),
            AuditAction::PatientCreate,
            format!("patient:{}", patient.id),
        );
        saved(
            self.store
                .save_passport(&patient, true, shared_mobile, &audit)
                .await?,
            &patient.id,
        )
    }

    /// A page of patients: urgent first (longest waiting first), then the rest, oldest record
    /// first. The read is audited with the ids shown before the page is returned.
    pub async fn list_patients(
        &self,
        actor: &Actor,
        query: PatientQuery,
    ) -> Result<Paged<PatientRecord>> {
        let limit = Page::PATIENTS.limit(query.limit);
        let filter = PatientFilter {
            mobile: phone("mobile", query.mobile.as_deref())
                .map_err(|_| Error::BadRequest("mobile is not a valid phone number".into()))?,
            search: search(query.q.as_deref())?,
            urgent: query.urgent,
            after: Cursor::decode(query.cursor.as_deref())?,
            limit: limit + 1,
        };
        let rows = self.store.patient_records(&filter).await?;
        let page = Paged::of(rows, limit, PatientKey::of);
        self.store
            .audit(&list_entry(
                actor,
                self.now(),
                AuditAction::PatientList,
                "patients".into(),
                page.items.iter().map(|r| r.patient.id.as_ref()),
            ))
            .await?;
        Ok(page)
    }

    /// One patient for staff; the read is audited before it is made.
    pub async fn patient(&self, actor: &Actor, id: &PatientId) -> Result<PatientRecord> {
        self.store
            .audit(&audit_entry(
                actor,
                self.now(),
                AuditAction::PatientRead,
                format!("patient:{id}"),
            ))
            .await?;
        self.patient_record(id).await
    }

    /// The patient, for the rules of another operation (not a read staff see as such).
    pub(super) async fn patient_record(&self, id: &PatientId) -> Result<PatientRecord> {
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
        id: &PatientId,
        patch: Value,
    ) -> Result<PatientRecord> {
        if !patch.is_object() {
            return Err(Error::BadRequest(
                "send a JSON object of the fields to change".into(),
            ));
        }
        let existing = self.patient_record(id).await?;
        let before = PatientIn::from(&existing.patient);
        let mut current = serde_json::to_value(&before).map_err(|e| Error::Internal(e.into()))?;
        merge_patch(&mut current, &patch);
        let input: PatientIn = serde_json::from_value(current)
            .map_err(|e| Error::Invalid(format!("the changed passport is not valid: {e}")))?;
        check_lengths(&input, Some(&before))?;
        let shared_mobile = input.shared_mobile;
        let patient = patient_from(
            &self.outbound.teams,
            self.now(),
            input,
            Some(&existing.patient),
        )?;
        let audit = audit_entry(
            actor,
            self.now(),
            AuditAction::PatientUpdate,
            format!("patient:{id}"),
        );
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
    pub async fn acknowledge_patient(
        &self,
        actor: &Actor,
        id: &PatientId,
    ) -> Result<PatientRecord> {
        if !actor.role.may_read_referrals() {
            return Err(Error::Forbidden(
                "only clinicians and admins may acknowledge a patient's urgent episode".into(),
            ));
        }
        let audit = audit_entry(
            actor,
            self.now(),
            AuditAction::PatientAcknowledged,
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
        referral_id: &ReferralId,
        options: FromReferralIn,
    ) -> Result<PatientRecord> {
        let referral = self
            .read_referral(actor, AuditAction::ReferralToPatient, referral_id)
            .await?;
        let input = passport_from_referral(&referral, london_today(self.now()));
        let mut patient = patient_from(&self.outbound.teams, self.now(), input, None)?;
        patient.referral_id = Some(referral.id.clone());
        // The referral's risk stays with the person: an urgent referral makes a patient whose
        // urgent episode is open (from now) until a clinician acknowledges it.
        patient.urgent = referral.urgent;
        patient.risk_signals = referral.risk_signals.clone();
        if patient.team.is_none() {
            patient.team = Some(referral.team.clone());
        }
        let audit = audit_entry(
            actor,
            self.now(),
            AuditAction::PatientCreate,
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

/// The longest search staff may type: a name, a number, nothing longer.
const MAX_SEARCH_CHARS: usize = 100;

/// What staff typed in the search box, read as a name, an NHS number and a phone number.
fn search(q: Option<&str>) -> Result<Option<PatientSearch>> {
    let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) else {
        return Ok(None);
    };
    if q.chars().count() > MAX_SEARCH_CHARS {
        return Err(Error::BadRequest(format!(
            "q is longer than {MAX_SEARCH_CHARS} characters"
        )));
    }
    if q.chars().any(char::is_control) {
        // No name or number holds one, and PostgreSQL refuses a NUL in text.
        return Err(Error::BadRequest("q holds control characters".into()));
    }
    let digits: String = q.chars().filter(char::is_ascii_digit).collect();
    let only_digits = q
        .chars()
        .all(|c| c.is_ascii_digit() || c == ' ' || c == '-');
    Ok(Some(PatientSearch {
        name: without_direction_controls(q).to_lowercase(),
        nhs_number: (only_digits && !digits.is_empty()).then_some(digits),
        mobile: PhoneNumber::parse(q).ok(),
    }))
}

/// Today's date where the team works (a date of birth may be today, not tomorrow).
fn london_today(now: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDate {
    now.with_timezone(&chrono_tz::Europe::London).date_naive()
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

/// A passport's text field, read from a passport.
type FieldOf = fn(&PatientIn) -> Option<&str>;

/// Each free-text field of a passport staff wrote is within its limit (`limits`). In a
/// change, fields left as they were (`before`) are not checked again: a passport made from a
/// referral keeps its notes however long the person's answers were.
fn check_lengths(input: &PatientIn, before: Option<&PatientIn>) -> Result<()> {
    let fields: [(&str, FieldOf, usize); 12] = [
        ("name", |p| Some(p.name.as_str()), limits::NAME),
        (
            "preferred_name",
            |p| p.preferred_name.as_deref(),
            limits::NAME,
        ),
        ("pronouns", |p| p.pronouns.as_deref(), limits::PRONOUNS),
        ("mobile", |p| p.mobile.as_deref(), limits::CODE),
        ("landline", |p| p.landline.as_deref(), limits::CODE),
        (
            "address.postcode",
            |p| p.address.as_ref().and_then(|a| a.postcode.as_deref()),
            limits::CODE,
        ),
        ("language", |p| p.language.as_deref(), limits::CODE),
        (
            "support_person",
            |p| p.support_person.as_deref(),
            limits::NAME,
        ),
        (
            "service_animal",
            |p| p.service_animal.as_deref(),
            limits::NAME,
        ),
        ("quiet_hours", |p| p.quiet_hours.as_deref(), limits::CODE),
        ("team", |p| p.team.as_deref(), limits::CODE),
        ("notes", |p| p.notes.as_deref(), limits::NOTES),
    ];
    for (field, value_of, max) in fields {
        let value = value_of(input);
        if before.is_none_or(|before| value_of(before) != value) {
            limits::optional(field, value, max)?;
        }
    }
    let lines = |p: &PatientIn| {
        p.address
            .as_ref()
            .map(|a| a.lines.clone())
            .unwrap_or_default()
    };
    let new_lines = lines(input);
    if before.is_none_or(|before| lines(before) != new_lines) {
        if new_lines.len() > limits::ADDRESS_LINES {
            return Err(Error::Invalid(format!(
                "address.lines: at most {} lines",
                limits::ADDRESS_LINES
            )));
        }
        for line in &new_lines {
            limits::at_most("address.lines", line, limits::ADDRESS_LINE)?;
        }
    }
    Ok(())
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
    let nhs_number = text(input.nhs_number)
        .map(|n| NhsNumber::parse(&n).map_err(|e| invalid("nhs_number", &e.to_string())))
        .transpose()?;
    let date_of_birth = text(input.date_of_birth)
        .map(|d| {
            parse_date_of_birth(&d, london_today(now))
                .map_err(|e| invalid("date_of_birth", &e.to_string()))
        })
        .transpose()?;
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
        id: existing.map_or_else(|| crate::new_id().into(), |p| p.id.clone()),
        name,
        preferred_name: text(input.preferred_name),
        pronouns: text(input.pronouns),
        nhs_number,
        date_of_birth,
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
        PassportSaved::NhsNumberOnAnotherRecord { patient_id } => Err(Error::Conflict(format!(
            "this NHS number is already on another patient's record (patient {patient_id}); \
             two records for one person must be merged, not both kept"
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

/// The passport a referral's answers describe, each answer in the passport's own field.
///
/// What the person said in their own words (the situation, anything else) is never copied:
/// the passport is read by schedulers, the referral only by clinicians. From those words only
/// a service animal is recognised (a guide dog must be known before a home visit), and named
/// in the service's words; the note says where the rest is.
fn passport_from_referral(referral: &Referral, today: chrono::NaiveDate) -> PatientIn {
    let answers: &Map<String, Value> = &referral.answers;
    let answer = |key: &str| {
        answers
            .get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let (name, pronouns) = split_pronouns(&answer("name").unwrap_or_else(|| "Unknown".into()));
    let about_self = answer("relationship").as_deref() != Some("someone_else");
    let their_number = if about_self {
        referral.phone.clone()
    } else {
        answer("subject_phone")
    }
    .and_then(|m| PhoneNumber::parse(&m).ok());
    let (mobile, landline) = match their_number {
        Some(number) if number.is_mobile() => (Some(number), None),
        other => (None, other),
    };
    let place = answer("postcode");
    let postcode = place.as_deref().and_then(|p| Postcode::parse(p).ok());
    let language = answer("language")
        .map(|l| english_name(&l).unwrap_or(l))
        .filter(|l| language_code(l) != Some("en"))
        .filter(|l| !l.starts_with("Not known"))
        .or_else(|| referral.language.as_deref().and_then(english_name))
        .filter(|l| l != "English");
    let access_needs: Vec<AccessNeed> = answers
        .get("access_needs")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    let date_of_birth = answers
        .get("age")
        .and_then(|age| age.get("date_of_birth"))
        .and_then(Value::as_str)
        .and_then(|d| d.parse::<chrono::NaiveDate>().ok())
        .and_then(|d| check_date_of_birth(d, today).ok());
    let anything_else = answer("anything_else");
    let service_animal = anything_else.as_deref().and_then(service_animal_in);
    let support_person = if about_self {
        None
    } else {
        support_person_from(
            answer("referrer_role").as_deref(),
            answer("referrer_name").as_deref(),
            referral.phone.as_deref(),
        )
    };
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
    let mut notes = vec![format!(
        "Made from referral {}. What was said at referral is in the referral (clinicians).",
        referral.reference
    )];
    if postcode.is_none() && place.is_some() {
        notes.push("No postcode was given: the referral says where they were.".to_owned());
    }
    PatientIn {
        name,
        pronouns,
        mobile: mobile.map(|m| m.e164().to_owned()),
        landline: landline.map(|m| m.e164().to_owned()),
        date_of_birth: date_of_birth.map(|d| d.to_string()),
        address: Some(AddressIo {
            lines: Vec::new(),
            postcode: postcode.map(|p| p.as_str().to_owned()),
        }),
        interpreter: Some(referral.interpreter || language.is_some()),
        language,
        access_needs: Some(access_needs),
        support_person,
        service_animal,
        contact_preferences,
        notes: Some(notes.join("\n")),
        ..PatientIn::default()
    }
}

/// An assistance animal the person mentioned, in the service's words (never theirs).
fn service_animal_in(said: &str) -> Option<String> {
    let said = said.to_lowercase();
    let kinds = [
        ("guide dog", "Guide dog"),
        ("hearing dog", "Hearing dog"),
        ("assistance dog", "Assistance dog"),
        ("service dog", "Assistance dog"),
        ("support dog", "Assistance dog"),
        ("assistance animal", "Assistance animal"),
        ("service animal", "Assistance animal"),
    ];
    kinds
        .iter()
        .find(|(words, _)| said.contains(words))
        .map(|(_, kind)| (*kind).to_owned())
}

/// The family member, friend or carer who made the referral, and the number they texted
/// from: who the team can call alongside the person. A professional is not a support person.
fn support_person_from(
    role: Option<&str>,
    name: Option<&str>,
    phone: Option<&str>,
) -> Option<String> {
    let role = match role? {
        "family" => "family",
        "friend" => "friend",
        "carer" => "carer",
        _ => return None,
    };
    let name = name.map_or_else(|| "Name not given".to_owned(), str::to_owned);
    let phone = phone.and_then(|p| PhoneNumber::parse(p).ok());
    Some(match phone {
        Some(phone) => format!("{name} ({role}), {}", phone.e164()),
        None => format!("{name} ({role})"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn search_reads_a_name_an_nhs_number_and_a_mobile() {
        let found = search(Some(" 943 476 5919 "))
            .expect("as written")
            .expect("as written");
        assert_eq!(found.nhs_number.as_deref(), Some("9434765919"));
        let found = search(Some("07911 123456"))
            .expect("as written")
            .expect("as written");
        assert_eq!(
            found.mobile.map(|m| m.e164().to_owned()).as_deref(),
            Some("+447911123456")
        );
        let found = search(Some("50%_Sam"))
            .expect("as written")
            .expect("as written");
        assert_eq!(found.nhs_number, None);
        assert_eq!(found.name_pattern(), "%50\\%\\_sam%");
        assert!(search(Some("   ")).expect("as written").is_none());
        assert!(search(Some(&"x".repeat(101))).is_err());
        assert!(search(Some("Sam\u{0}")).is_err());
    }

    #[test]
    fn only_an_assistance_animal_is_taken_from_what_was_said() {
        assert_eq!(
            service_animal_in("I have a Guide Dog called Max").as_deref(),
            Some("Guide dog")
        );
        assert_eq!(service_animal_in("my cat is lovely"), None);
    }

    #[test]
    fn a_family_member_or_carer_who_referred_is_the_support_person() {
        assert_eq!(
            support_person_from(Some("family"), Some("Jo"), Some("07911 123456")).as_deref(),
            Some("Jo (family), +447911123456")
        );
        assert_eq!(
            support_person_from(Some("professional"), Some("Dr Lee"), None),
            None
        );
    }

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
