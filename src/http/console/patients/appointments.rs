//! Booking, moving and cancelling a patient's appointments. Staff enter the day and time on
//! the UK wall clock (Europe/London, summer time included); the service keeps UTC.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::offset::LocalResult;
use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Europe::London;
use serde::{Deserialize, Serialize};

use super::{appointment_view, date_from, london_time, patient_href};
use crate::app::Error;
use crate::app::appointments::{AppointmentIn, AppointmentPatch};
use crate::domain::id::{AppointmentId, PatientId};
use crate::http::AppState;
use crate::http::console::csrf::CsrfForm;
use crate::http::console::pages::{FieldError, Section};
use crate::http::console::{SignedIn, done};
use crate::store::{AppointmentKind, AppointmentPlace};

/// The day and time boxes of a form, as typed.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct When {
    #[serde(default)]
    day: String,
    #[serde(default)]
    month: String,
    #[serde(default)]
    year: String,
    /// `HH:MM`, 24-hour.
    #[serde(default)]
    time: String,
}

impl When {
    fn of(at: DateTime<Utc>) -> Self {
        let local = at.with_timezone(&London);
        When {
            day: local.format("%-d").to_string(),
            month: local.format("%-m").to_string(),
            year: local.format("%Y").to_string(),
            time: local.format("%H:%M").to_string(),
        }
    }

    /// The moment the boxes name on the UK wall clock, or what is wrong with them.
    fn starts_at(&self) -> Result<DateTime<Utc>, FieldError> {
        let date: NaiveDate = match date_from(&self.day, &self.month, &self.year) {
            Ok(Some(date)) => date,
            _ => {
                return Err(FieldError {
                    field: "day",
                    text: "Date must be a real date, for example 1 12 2026".into(),
                });
            }
        };
        let time = NaiveTime::parse_from_str(&self.time.trim().replace('.', ":"), "%H:%M")
            .map_err(|_| FieldError {
                field: "time",
                text: "Time must be a 24-hour time, for example 14:30".into(),
            })?;
        local_to_utc(date, time)
    }
}

/// A UK wall-clock time as a moment: when the clocks go back the hour happens twice and the
/// first is meant; when they go forward the hour skipped is refused.
fn local_to_utc(date: NaiveDate, time: NaiveTime) -> Result<DateTime<Utc>, FieldError> {
    match London.from_local_datetime(&date.and_time(time)) {
        LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => Ok(at.with_timezone(&Utc)),
        LocalResult::None => Err(FieldError {
            field: "time",
            text: "Time does not exist on that day: the clocks go forward an hour".into(),
        }),
    }
}

/// An error from the service about an appointment, on the form's field.
fn refusal(error: Error) -> Result<FieldError, Error> {
    match error {
        Error::Invalid(detail) => {
            let (field, text) = if detail.starts_with("starts_at") {
                ("day", "Date and time must be in the future".to_owned())
            } else if detail.starts_with("site_name is required") {
                ("site_name", "Enter the site's name".to_owned())
            } else if detail.starts_with("site_name") {
                ("site_name", format!("Site {detail}"))
            } else if detail.starts_with("staff_name") {
                ("staff_name", format!("Staff {detail}"))
            } else {
                ("kind", detail)
            };
            Ok(FieldError {
                field,
                text: text
                    .replace("site_name: ", "name: ")
                    .replace("staff_name: ", "name: "),
            })
        }
        other => Err(other),
    }
}

/// The booking form as typed.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct BookForm {
    #[serde(flatten)]
    when: When,
    #[serde(default)]
    place: String,
    #[serde(default)]
    site_name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    staff_name: String,
}

fn book_page(
    signed_in: &SignedIn,
    status: StatusCode,
    patient: &crate::store::Patient,
    form: &BookForm,
    errors: &[FieldError],
) -> Response {
    let kinds: Vec<serde_json::Value> = AppointmentKind::ALL
        .iter()
        .map(|k| serde_json::json!({"value": k.as_str(), "text": super::kind_text(*k)}))
        .collect();
    signed_in.page(
        status,
        Section::Patients,
        "console/patients/book.html",
        serde_json::json!({
            "patient": {"id": patient.id, "name": patient.name},
            "form": form,
            "kinds": kinds,
            "errors": errors,
        }),
    )
}

/// `GET /console/patients/{id}/appointments/new`.
pub async fn new_page(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Response {
    let id = PatientId::from(id);
    match app.services.patient(&signed_in.user.actor(), &id).await {
        Ok(record) => {
            let form = BookForm {
                place: "home".into(),
                kind: "assessment".into(),
                ..BookForm::default()
            };
            book_page(&signed_in, StatusCode::OK, &record.patient, &form, &[])
        }
        Err(error) => signed_in.failure(Section::Patients, error),
    }
}

/// `POST /console/patients/{id}/appointments/new`.
pub async fn book(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<BookForm>,
) -> Response {
    let id = PatientId::from(id);
    let actor = signed_in.user.actor();
    let input = form.when.starts_at().and_then(|starts_at| {
        let place = AppointmentPlace::parse(&form.place).ok_or_else(|| FieldError {
            field: "place",
            text: "Choose where the appointment is".into(),
        })?;
        Ok(AppointmentIn {
            starts_at,
            place,
            site_name: super::some(&form.site_name),
            kind: form.kind.trim().to_owned(),
            staff_name: super::some(&form.staff_name),
        })
    });
    let error = match input {
        Ok(input) => match app.services.book_appointment(&actor, &id, input).await {
            Ok(booked) => {
                let said = format!("Appointment booked for {}", london_time(booked.starts_at));
                return done(&signed_in, &patient_href(&id), said).await;
            }
            Err(error) => match refusal(error) {
                Ok(error) => error,
                Err(error) => return signed_in.failure(Section::Patients, error),
            },
        },
        Err(error) => error,
    };
    match app.services.patient(&actor, &id).await {
        Ok(record) => book_page(
            &signed_in,
            StatusCode::UNPROCESSABLE_ENTITY,
            &record.patient,
            &form,
            &[error],
        ),
        Err(error) => signed_in.failure(Section::Patients, error),
    }
}

fn move_form(
    signed_in: &SignedIn,
    status: StatusCode,
    appointment: &crate::store::Appointment,
    when: &When,
    errors: &[FieldError],
) -> Response {
    signed_in.page(
        status,
        Section::Patients,
        "console/patients/move.html",
        serde_json::json!({
            "appointment": appointment_view(appointment),
            "form": when,
            "errors": errors,
        }),
    )
}

/// `GET /console/appointments/{id}/move`.
pub async fn move_page(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Response {
    let id = AppointmentId::from(id);
    match app.services.appointment(&signed_in.user.actor(), &id).await {
        Ok(appointment) => move_form(
            &signed_in,
            StatusCode::OK,
            &appointment,
            &When::of(appointment.starts_at),
            &[],
        ),
        Err(error) => signed_in.failure(Section::Patients, error),
    }
}

/// `POST /console/appointments/{id}/move`: its reminders move with it and the patient is
/// told.
pub async fn reschedule(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    CsrfForm(when): CsrfForm<When>,
) -> Response {
    let id = AppointmentId::from(id);
    let actor = signed_in.user.actor();
    let error = match when.starts_at() {
        Ok(starts_at) => match app
            .services
            .reschedule_appointment(&actor, &id, AppointmentPatch { starts_at })
            .await
        {
            Ok(moved) => {
                let said = format!("Appointment moved to {}", london_time(moved.starts_at));
                return done(&signed_in, &patient_href(&moved.patient_id), said).await;
            }
            Err(error) => match refusal(error) {
                Ok(error) => error,
                Err(error) => return signed_in.failure(Section::Patients, error),
            },
        },
        Err(error) => error,
    };
    match app.services.appointment(&actor, &id).await {
        Ok(appointment) => move_form(
            &signed_in,
            StatusCode::UNPROCESSABLE_ENTITY,
            &appointment,
            &when,
            &[error],
        ),
        Err(error) => signed_in.failure(Section::Patients, error),
    }
}

/// `GET /console/appointments/{id}/cancel`: are you sure?
pub async fn cancel_page(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Response {
    let id = AppointmentId::from(id);
    match app.services.appointment(&signed_in.user.actor(), &id).await {
        Ok(appointment) => signed_in.page(
            StatusCode::OK,
            Section::Patients,
            "console/patients/cancel.html",
            serde_json::json!({ "appointment": appointment_view(&appointment) }),
        ),
        Err(error) => signed_in.failure(Section::Patients, error),
    }
}

#[derive(Debug, Deserialize)]
pub struct NoFields {}

/// `POST /console/appointments/{id}/cancel`: its reminders are withdrawn and the patient is
/// told; it stays listed as cancelled.
pub async fn cancel(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    CsrfForm(NoFields {}): CsrfForm<NoFields>,
) -> Response {
    let id = AppointmentId::from(id);
    let actor = signed_in.user.actor();
    // Read first for whose it is: the page to go back to.
    let appointment = match app.services.appointment(&actor, &id).await {
        Ok(appointment) => appointment,
        Err(error) => return signed_in.failure(Section::Patients, error),
    };
    if let Err(error) = app.services.cancel_appointment(&actor, &id).await {
        return signed_in.failure(Section::Patients, error);
    }
    let said = format!(
        "Appointment on {} cancelled",
        london_time(appointment.starts_at)
    );
    done(&signed_in, &patient_href(&appointment.patient_id), said).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn when(day: &str, month: &str, year: &str, time: &str) -> When {
        When {
            day: day.into(),
            month: month.into(),
            year: year.into(),
            time: time.into(),
        }
    }

    #[test]
    fn a_time_is_read_on_the_uk_wall_clock() {
        let summer = when("1", "7", "2026", "10:00").starts_at().unwrap();
        assert_eq!(summer, Utc.with_ymd_and_hms(2026, 7, 1, 9, 0, 0).unwrap());
        let winter = when("1", "12", "2026", "9.30").starts_at().unwrap();
        assert_eq!(winter, Utc.with_ymd_and_hms(2026, 12, 1, 9, 30, 0).unwrap());
        assert_eq!(When::of(summer).time, "10:00");
        // 29 March 2026: 01:00 to 02:00 does not happen in London.
        let skipped = when("29", "3", "2026", "01:30").starts_at().unwrap_err();
        assert_eq!(skipped.field, "time");
        // 25 October 2026: 01:30 happens twice; the first (BST) is meant.
        let twice = when("25", "10", "2026", "01:30").starts_at().unwrap();
        assert_eq!(twice, Utc.with_ymd_and_hms(2026, 10, 25, 0, 30, 0).unwrap());
        assert_eq!(
            when("31", "2", "2026", "10:00")
                .starts_at()
                .unwrap_err()
                .field,
            "day"
        );
        assert_eq!(
            when("1", "2", "2026", "25:00")
                .starts_at()
                .unwrap_err()
                .field,
            "time"
        );
    }

    #[test]
    fn a_refusal_is_put_by_its_field() {
        let past = refusal(Error::Invalid("starts_at is in the past".into())).unwrap();
        assert_eq!(
            (past.field, past.text.as_str()),
            ("day", "Date and time must be in the future")
        );
        let site = refusal(Error::Invalid(
            "site_name is required when place is site".into(),
        ))
        .unwrap();
        assert_eq!(site.field, "site_name");
        assert!(refusal(Error::Conflict("cancelled".into())).is_err());
    }
}
