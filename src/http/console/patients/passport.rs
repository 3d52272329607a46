//! Making and editing a patient's e-Health Passport: one form for both (`GET/POST
//! /console/patients/new`, `GET/POST /console/patients/{id}/edit`). What the service refuses
//! (a bad NHS number or postcode, a mobile on another record) comes back in the form's error
//! summary, with what staff typed kept.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use super::{date_from, patient_href, some};
use crate::app::Error;
use crate::app::patients::{AddressIo, PatientIn};
use crate::domain::channel::{AccessNeed, Channel};
use crate::domain::id::PatientId;
use crate::domain::patient::{ContactPreferences, Purpose};
use crate::http::AppState;
use crate::http::console::csrf::CsrfForm;
use crate::http::console::pages::{FieldError, Section};
use crate::http::console::{SignedIn, done};
use crate::store::Patient;

/// Choices a form offers for each purpose's ranked channels.
const RANKS: usize = 3;

/// The passport form as staff filled it in (every field as typed, to show again).
#[derive(Debug, Default, Serialize)]
pub struct PassportForm {
    name: String,
    preferred_name: String,
    pronouns: String,
    nhs_number: String,
    dob_day: String,
    dob_month: String,
    dob_year: String,
    mobile: String,
    landline: String,
    /// One line per row, without the postcode.
    address: String,
    postcode: String,
    language: String,
    interpreter: bool,
    access_needs: Vec<String>,
    support_person: String,
    service_animal: String,
    quiet_hours: String,
    team: String,
    notes: String,
    /// Per purpose (`urgent`, ...), the channels chosen first, second and third.
    preferences: Vec<(String, Vec<String>)>,
    shared_mobile: bool,
}

/// A textarea's text as typed, with the browser's CRLF line ends made plain.
fn lines(text: &str) -> String {
    text.replace("\r\n", "\n")
}

impl PassportForm {
    fn blank() -> Self {
        PassportForm {
            preferences: Purpose::ALL
                .into_iter()
                .map(|p| {
                    let mut chosen: Vec<String> = p
                        .default_channels()
                        .into_iter()
                        .map(|c| c.as_str().to_owned())
                        .collect();
                    chosen.resize(RANKS, String::new());
                    (p.as_str().to_owned(), chosen)
                })
                .collect(),
            ..PassportForm::default()
        }
    }

    /// The form as the browser sent it: field names to values, some repeated.
    fn from_fields(fields: &[(String, String)]) -> Self {
        let mut form = PassportForm {
            preferences: Purpose::ALL
                .into_iter()
                .map(|p| (p.as_str().to_owned(), vec![String::new(); RANKS]))
                .collect(),
            ..PassportForm::default()
        };
        for (key, value) in fields {
            match key.as_str() {
                "name" => form.name.clone_from(value),
                "preferred_name" => form.preferred_name.clone_from(value),
                "pronouns" => form.pronouns.clone_from(value),
                "nhs_number" => form.nhs_number.clone_from(value),
                "dob_day" => form.dob_day.clone_from(value),
                "dob_month" => form.dob_month.clone_from(value),
                "dob_year" => form.dob_year.clone_from(value),
                "mobile" => form.mobile.clone_from(value),
                "landline" => form.landline.clone_from(value),
                "address" => form.address = lines(value),
                "postcode" => form.postcode.clone_from(value),
                "language" => form.language.clone_from(value),
                "interpreter" => form.interpreter = value == "yes",
                "access_needs" => form.access_needs.push(value.clone()),
                "support_person" => form.support_person.clone_from(value),
                "service_animal" => form.service_animal.clone_from(value),
                "quiet_hours" => form.quiet_hours.clone_from(value),
                "team" => form.team.clone_from(value),
                "notes" => form.notes = lines(value),
                "shared_mobile" => form.shared_mobile = value == "yes",
                other => {
                    // pref_<purpose>_<rank>
                    let Some(rest) = other.strip_prefix("pref_") else {
                        continue;
                    };
                    let Some((purpose, rank)) = rest.rsplit_once('_') else {
                        continue;
                    };
                    let rank = rank
                        .parse::<usize>()
                        .ok()
                        .filter(|r| (1..=RANKS).contains(r));
                    if let (Some(rank), Some(slot)) = (
                        rank,
                        form.preferences.iter_mut().find(|(p, _)| p == purpose),
                    ) {
                        slot.1[rank - 1].clone_from(value);
                    }
                }
            }
        }
        form
    }

    /// The passport as it is now, to edit.
    fn of(p: &Patient) -> Self {
        let preferences = p.contact_preferences.complete();
        PassportForm {
            name: p.name.clone(),
            preferred_name: p.preferred_name.clone().unwrap_or_default(),
            pronouns: p.pronouns.clone().unwrap_or_default(),
            nhs_number: p
                .nhs_number
                .as_ref()
                .map(|n| n.as_str().to_owned())
                .unwrap_or_default(),
            dob_day: p
                .date_of_birth
                .map(|d| d.format("%-d").to_string())
                .unwrap_or_default(),
            dob_month: p
                .date_of_birth
                .map(|d| d.format("%-m").to_string())
                .unwrap_or_default(),
            dob_year: p
                .date_of_birth
                .map(|d| d.format("%Y").to_string())
                .unwrap_or_default(),
            mobile: p
                .mobile
                .as_ref()
                .map(|m| m.e164().to_owned())
                .unwrap_or_default(),
            landline: p
                .landline
                .as_ref()
                .map(|m| m.e164().to_owned())
                .unwrap_or_default(),
            address: p.address.lines.join("\n"),
            postcode: p
                .address
                .postcode
                .as_ref()
                .map(|c| c.as_str().to_owned())
                .unwrap_or_default(),
            language: p.language.clone().unwrap_or_default(),
            interpreter: p.interpreter,
            access_needs: p
                .access_needs
                .iter()
                .map(|n| n.as_str().to_owned())
                .collect(),
            support_person: p.support_person.clone().unwrap_or_default(),
            service_animal: p.service_animal.clone().unwrap_or_default(),
            quiet_hours: p.quiet_hours.map(|q| q.to_string()).unwrap_or_default(),
            team: p.team.clone().unwrap_or_default(),
            notes: p.notes.clone().unwrap_or_default(),
            preferences: Purpose::ALL
                .into_iter()
                .map(|purpose| {
                    let mut chosen: Vec<String> = preferences
                        .channels(purpose)
                        .into_iter()
                        .map(|c| c.as_str().to_owned())
                        .collect();
                    chosen.resize(RANKS, String::new());
                    (purpose.as_str().to_owned(), chosen)
                })
                .collect(),
            shared_mobile: false,
        }
    }

    /// The passport to give the service; what the form alone can tell is wrong (a date of
    /// birth that is no date) is refused here.
    fn passport(&self) -> Result<PatientIn, Vec<FieldError>> {
        let date_of_birth =
            date_from(&self.dob_day, &self.dob_month, &self.dob_year).map_err(|()| {
                vec![FieldError {
                    field: "dob_day",
                    text: "Date of birth must be a real date, for example 15 3 1984".into(),
                }]
            })?;
        let contact_preferences = ContactPreferences(
            self.preferences
                .iter()
                .filter_map(|(purpose, chosen)| {
                    let purpose = Purpose::parse(purpose)?;
                    let channels: Vec<Channel> =
                        chosen.iter().filter_map(|c| Channel::parse(c)).collect();
                    // None chosen: the service's defaults, said out loud.
                    let channels = if channels.is_empty() {
                        purpose.default_channels()
                    } else {
                        channels
                    };
                    Some((purpose, channels))
                })
                .collect(),
        );
        Ok(PatientIn {
            name: self.name.trim().to_owned(),
            preferred_name: some(&self.preferred_name),
            pronouns: some(&self.pronouns),
            nhs_number: some(&self.nhs_number),
            date_of_birth: date_of_birth.map(|d| d.format("%Y-%m-%d").to_string()),
            mobile: some(&self.mobile),
            landline: some(&self.landline),
            address: Some(AddressIo {
                lines: self.address.lines().filter_map(some).collect(),
                postcode: some(&self.postcode),
            }),
            language: some(&self.language),
            interpreter: Some(self.interpreter),
            access_needs: Some(
                self.access_needs
                    .iter()
                    .filter_map(|n| AccessNeed::parse(n))
                    .collect(),
            ),
            support_person: some(&self.support_person),
            service_animal: some(&self.service_animal),
            quiet_hours: some(&self.quiet_hours),
            team: some(&self.team),
            contact_preferences: Some(contact_preferences),
            notes: some(&self.notes),
            shared_mobile: self.shared_mobile,
        })
    }
}

/// The form's field an error from the service is about (its detail starts with the
/// passport's field name).
fn field_of(detail: &str) -> &'static str {
    let key = detail.split([':', ' ']).next().unwrap_or_default();
    match key {
        "preferred_name" => "preferred_name",
        "pronouns" => "pronouns",
        "nhs_number" => "nhs_number",
        "date_of_birth" => "dob_day",
        "mobile" => "mobile",
        "landline" => "landline",
        "address.postcode" => "postcode",
        "address.lines" => "address",
        "language" => "language",
        "support_person" => "support_person",
        "service_animal" => "service_animal",
        "quiet_hours" => "quiet_hours",
        "team" => "team",
        "notes" => "notes",
        "contact_preferences.urgent" => "pref_urgent_1",
        "contact_preferences.reminder" => "pref_reminder_1",
        "contact_preferences.update" => "pref_update_1",
        "contact_preferences.non_urgent" => "pref_non_urgent_1",
        _ => "name",
    }
}

/// The field's name as the form labels it, to start an error's words.
fn label_of(field: &str) -> &'static str {
    match field {
        "preferred_name" => "Preferred name",
        "pronouns" => "Pronouns",
        "nhs_number" => "NHS number",
        "dob_day" => "Date of birth",
        "mobile" => "Mobile number",
        "landline" => "Landline number",
        "postcode" => "Postcode",
        "address" => "Address",
        "language" => "Language",
        "support_person" => "Support person",
        "service_animal" => "Assistance animal",
        "quiet_hours" => "Quiet hours",
        "team" => "Team",
        "notes" => "Notes",
        f if f.starts_with("pref_") => "Contact preferences",
        _ => "Name",
    }
}

/// What went wrong, in the form's words; `shared`: the mobile is on another record, and
/// staff may say the phone is shared.
struct Refusal {
    status: StatusCode,
    errors: Vec<FieldError>,
    shared: bool,
}

fn refusal(error: Error) -> Result<Refusal, Error> {
    match error {
        Error::Invalid(detail) => {
            let field = field_of(&detail);
            let problem = detail
                .split_once(": ")
                .map_or(detail.as_str(), |(_, problem)| problem);
            let problem = problem
                .strip_prefix(detail.split(' ').next().unwrap_or_default())
                .unwrap_or(problem)
                .trim();
            Ok(Refusal {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                errors: vec![FieldError {
                    field,
                    // "Name is required", "Postcode: not a valid UK postcode".
                    text: if problem.starts_with("is ") {
                        format!("{} {problem}", label_of(field))
                    } else {
                        format!("{}: {problem}", label_of(field))
                    },
                }],
                shared: false,
            })
        }
        Error::Conflict(detail) if detail.contains("mobile") => Ok(Refusal {
            status: StatusCode::CONFLICT,
            errors: vec![FieldError {
                field: "mobile",
                text: "This mobile number is already on another patient's record. If they \
                       share the phone, tick \"The phone is shared\" and save again."
                    .into(),
            }],
            shared: true,
        }),
        Error::Conflict(detail) if detail.contains("NHS number") => Ok(Refusal {
            status: StatusCode::CONFLICT,
            errors: vec![FieldError {
                field: "nhs_number",
                text: format!("NHS number: {detail}"),
            }],
            shared: false,
        }),
        other => Err(other),
    }
}

/// The form's page: `id` is the patient being edited, none for a new one.
fn form_page(
    app: &AppState,
    signed_in: &SignedIn,
    status: StatusCode,
    id: Option<&str>,
    form: &PassportForm,
    errors: &[FieldError],
    shared: bool,
) -> Response {
    let teams: Vec<serde_json::Value> = app
        .intake
        .teams
        .all()
        .iter()
        .map(|t| serde_json::json!({"value": t.id, "text": t.name}))
        .collect();
    let access_needs: Vec<serde_json::Value> = AccessNeed::ALL
        .iter()
        .map(|n| serde_json::json!({"value": n.as_str(), "text": super::access_need_text(*n)}))
        .collect();
    let purposes: Vec<serde_json::Value> = form
        .preferences
        .iter()
        .filter_map(|(purpose, chosen)| {
            let p = Purpose::parse(purpose)?;
            Some(serde_json::json!({
                "value": purpose,
                "text": super::purpose_text(p),
                "chosen": chosen,
            }))
        })
        .collect();
    let channels: Vec<serde_json::Value> = Channel::ALL
        .iter()
        .map(|c| serde_json::json!({"value": c.as_str(), "text": super::channel_text(*c)}))
        .collect();
    signed_in.page(
        status,
        Section::Patients,
        "console/patients/passport.html",
        serde_json::json!({
            "patient_id": id,
            "action": id.map_or_else(
                || "/console/patients/new".to_owned(),
                |id| format!("{}/edit", patient_href(id)),
            ),
            "form": form,
            "errors": errors,
            "show_shared": shared || form.shared_mobile,
            "teams": teams,
            "access_need_options": access_needs,
            "purposes": purposes,
            "channels": channels,
            "ranks": ["First choice", "Second choice", "Third choice"],
            "default_quiet_hours": app.config.quiet_hours.to_string(),
        }),
    )
}

/// `GET /console/patients/new`.
pub async fn new_page(State(app): State<AppState>, signed_in: SignedIn) -> Response {
    form_page(
        &app,
        &signed_in,
        StatusCode::OK,
        None,
        &PassportForm::blank(),
        &[],
        false,
    )
}

/// `POST /console/patients/new`.
pub async fn create(
    State(app): State<AppState>,
    signed_in: SignedIn,
    CsrfForm(fields): CsrfForm<Vec<(String, String)>>,
) -> Response {
    let form = PassportForm::from_fields(&fields);
    let input = match form.passport() {
        Ok(input) => input,
        Err(errors) => {
            return form_page(
                &app,
                &signed_in,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                &form,
                &errors,
                false,
            );
        }
    };
    match app
        .services
        .create_patient(&signed_in.user.actor(), input)
        .await
    {
        Ok(record) => {
            done(
                &signed_in,
                &patient_href(&record.patient.id),
                "Patient added",
            )
            .await
        }
        Err(error) => match refusal(error) {
            Ok(r) => form_page(&app, &signed_in, r.status, None, &form, &r.errors, r.shared),
            Err(error) => signed_in.failure(Section::Patients, error),
        },
    }
}

/// `GET /console/patients/{id}/edit`: the passport as it is (an audited read).
pub async fn edit_page(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Response {
    let id = PatientId::from(id);
    match app.services.patient(&signed_in.user.actor(), &id).await {
        Ok(record) => form_page(
            &app,
            &signed_in,
            StatusCode::OK,
            Some(&id),
            &PassportForm::of(&record.patient),
            &[],
            false,
        ),
        Err(error) => signed_in.failure(Section::Patients, error),
    }
}

/// `POST /console/patients/{id}/edit`: the whole passport as the form shows it; a field
/// left empty is cleared.
pub async fn update(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    CsrfForm(fields): CsrfForm<Vec<(String, String)>>,
) -> Response {
    let id = PatientId::from(id);
    let form = PassportForm::from_fields(&fields);
    let rejected = |status, errors: &[FieldError], shared| {
        form_page(&app, &signed_in, status, Some(&id), &form, errors, shared)
    };
    let input = match form.passport() {
        Ok(input) => input,
        Err(errors) => return rejected(StatusCode::UNPROCESSABLE_ENTITY, &errors, false),
    };
    // Every field is in the form, so the patch is the whole passport: null clears.
    let patch = match serde_json::to_value(&input) {
        Ok(patch) => patch,
        Err(error) => {
            return signed_in.failure(Section::Patients, Error::Internal(error.into()));
        }
    };
    match app
        .services
        .update_patient(&signed_in.user.actor(), &id, patch)
        .await
    {
        Ok(_) => done(&signed_in, &patient_href(&id), "Passport saved").await,
        Err(error) => match refusal(error) {
            Ok(r) => rejected(r.status, &r.errors, r.shared),
            Err(error) => signed_in.failure(Section::Patients, error),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_form_becomes_a_passport() {
        let form = PassportForm::from_fields(&fields(&[
            ("name", " Sam Taylor "),
            ("dob_day", "4"),
            ("dob_month", "3"),
            ("dob_year", "1987"),
            ("address", "12 Park Row\r\n\r\nLeeds"),
            ("access_needs", "large_print"),
            ("access_needs", "easy_read"),
            ("pref_urgent_1", "sms"),
            ("pref_urgent_2", "phone_call"),
            ("pref_reminder_1", ""),
            ("interpreter", "yes"),
        ]));
        let input = form.passport().expect("a passport");
        assert_eq!(input.name, "Sam Taylor");
        assert_eq!(input.date_of_birth.as_deref(), Some("1987-03-04"));
        let address = input.address.expect("an address");
        assert_eq!(address.lines, vec!["12 Park Row", "Leeds"]);
        assert_eq!(
            input.access_needs,
            Some(vec![AccessNeed::LargePrint, AccessNeed::EasyRead])
        );
        let prefs = input.contact_preferences.expect("preferences");
        assert_eq!(
            prefs.channels(Purpose::Urgent),
            vec![Channel::Sms, Channel::PhoneCall]
        );
        assert_eq!(prefs.channels(Purpose::Reminder), vec![Channel::Sms]);
        assert_eq!(input.interpreter, Some(true));
        assert!(input.preferred_name.is_none());

        let half_a_date =
            PassportForm::from_fields(&fields(&[("dob_day", "31"), ("dob_month", "2")]));
        let errors = half_a_date.passport().expect_err("not a date");
        assert_eq!(errors[0].field, "dob_day");
    }

    #[test]
    fn a_service_refusal_names_the_forms_field() {
        let r = refusal(Error::Invalid("nhs_number: the last digit is wrong".into()))
            .expect("a refusal");
        assert_eq!(r.errors[0].field, "nhs_number");
        assert_eq!(r.errors[0].text, "NHS number: the last digit is wrong");
        let r = refusal(Error::Invalid("name: is required".into())).expect("a refusal");
        assert_eq!(
            (r.errors[0].field, r.errors[0].text.as_str()),
            ("name", "Name is required")
        );
        let r = refusal(Error::Invalid(
            "contact_preferences.update lists a channel twice".into(),
        ))
        .expect("a refusal");
        assert_eq!(r.errors[0].field, "pref_update_1");
        assert_eq!(
            r.errors[0].text,
            "Contact preferences: lists a channel twice"
        );
        let r = refusal(Error::Conflict("this mobile number is already ...".into()))
            .expect("a refusal");
        assert!(r.shared && r.status == StatusCode::CONFLICT);
        assert!(refusal(Error::NotFound("no patient".into())).is_err());
    }
}
