//! Patients in the console: the search (`/console/patients`), a patient's e-Health Passport
//! with their appointments and messages (`/console/patients/{id}`), acknowledging their
//! urgent flag, discharging them from the team's care; making and editing a passport (`passport`), booking, moving and cancelling
//! appointments (`appointments`), sending a message (`messages`). Every read and change goes
//! through `app::Services` with the signed-in user as the actor, as the JSON API does, so
//! roles and audit entries are the API's. Times are shown and entered on the UK wall clock.

mod appointments;
mod messages;
mod passport;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::csrf::CsrfForm;
use super::pages::{FieldError, Section};
use super::{SignedIn, done};
use crate::app::patients::PatientQuery;
use crate::app::{Error, PageQuery};
use crate::domain::channel::{AccessNeed, Channel};
use crate::domain::id::PatientId;
use crate::domain::patient::{MessagePurpose, Purpose};
use crate::http::AppState;
use crate::store::{
    Appointment, AppointmentKind, AppointmentPlace, Message, MessageEvent, PatientRecord,
};

/// Patients a page of the search shows.
const PAGE_SIZE: u32 = 50;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/patients", get(search))
        .route(
            "/console/patients/new",
            get(passport::new_page).post(passport::create),
        )
        .route("/console/patients/{id}", get(show))
        .route(
            "/console/patients/{id}/edit",
            get(passport::edit_page).post(passport::update),
        )
        .route("/console/patients/{id}/acknowledge", post(acknowledge))
        .route("/console/patients/{id}/discharge", post(discharge))
        .route(
            "/console/patients/{id}/appointments/new",
            get(appointments::new_page).post(appointments::book),
        )
        .route(
            "/console/appointments/{id}/move",
            get(appointments::move_page).post(appointments::reschedule),
        )
        .route(
            "/console/appointments/{id}/cancel",
            get(appointments::cancel_page).post(appointments::cancel),
        )
        .route(
            "/console/patients/{id}/messages/new",
            get(messages::new_page).post(messages::send),
        )
}

/// Trimmed text, none when empty.
fn some(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// A day from a form's three boxes (NHS.UK date input): none when all are empty, an error
/// when they are not a real day.
fn date_from(day: &str, month: &str, year: &str) -> Result<Option<NaiveDate>, ()> {
    let (day, month, year) = (day.trim(), month.trim(), year.trim());
    if day.is_empty() && month.is_empty() && year.is_empty() {
        return Ok(None);
    }
    let day = day.parse::<u32>().map_err(|_| ())?;
    let month = month.parse::<u32>().map_err(|_| ())?;
    let year = year.parse::<i32>().map_err(|_| ())?;
    if !(1000..=9999).contains(&year) {
        return Err(());
    }
    NaiveDate::from_ymd_opt(year, month, day)
        .map(Some)
        .ok_or(())
}

/// A moment as staff read it, on the UK wall clock: "1 December 2026 at 10:00".
pub fn london_time(at: DateTime<Utc>) -> String {
    super::pages::uk_time(at)
}

/// A day as staff read it: "15 March 1984".
fn long_date(date: NaiveDate) -> String {
    date.format("%-d %B %Y").to_string()
}

/// An NHS number as it is printed, in groups of 3, 3 and 4 digits.
fn nhs_number_spaced(digits: &str) -> String {
    if digits.len() == 10 && digits.is_ascii() {
        format!("{} {} {}", &digits[..3], &digits[3..6], &digits[6..])
    } else {
        digits.to_owned()
    }
}

fn channel_text(channel: Channel) -> &'static str {
    match channel {
        Channel::Sms => "Text message",
        Channel::PhoneCall => "Phone call",
        Channel::Letter => "Letter",
    }
}

fn purpose_text(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Urgent => "Urgent",
        Purpose::Reminder => "Reminders",
        Purpose::Update => "Brief updates",
        Purpose::NonUrgent => "Non-urgent",
    }
}

fn message_purpose_text(purpose: MessagePurpose) -> &'static str {
    match purpose.for_patient() {
        Some(purpose) => purpose_text(purpose),
        None => match purpose {
            MessagePurpose::OnCallAlert => "On-call alert",
            _ => "Text back",
        },
    }
}

fn access_need_text(need: AccessNeed) -> &'static str {
    match need {
        AccessNeed::Bsl => "British Sign Language (BSL)",
        AccessNeed::LargePrint => "Large print",
        AccessNeed::Braille => "Braille",
        AccessNeed::Audio => "Audio",
        AccessNeed::EasyRead => "Easy read",
        AccessNeed::TextMessage => "Text message",
        AccessNeed::FaceToFaceSupport => "Face-to-face support with a carer or advocate",
    }
}

fn kind_text(kind: AppointmentKind) -> &'static str {
    match kind {
        AppointmentKind::Assessment => "Assessment",
        AppointmentKind::HomeVisit => "Home visit",
        AppointmentKind::Review => "Review",
    }
}

fn team_name(app: &AppState, team: Option<&str>) -> Option<String> {
    team.map(|id| {
        app.intake
            .teams
            .get(id)
            .map_or_else(|| id.to_owned(), |t| t.name.clone())
    })
}

/// The search's fields as the page's form sends them: empty means any.
#[derive(Debug, Default, Deserialize, Serialize)]
struct Search {
    #[serde(default)]
    q: String,
    /// `true`, `false` or empty.
    #[serde(default)]
    urgent: String,
    #[serde(default, skip_serializing)]
    cursor: String,
}

#[derive(Serialize)]
struct Row {
    id: String,
    name: String,
    preferred_name: Option<String>,
    nhs_number: Option<String>,
    date_of_birth: Option<String>,
    team: Option<String>,
    urgent: bool,
    risk_signals: Vec<String>,
}

/// `GET /console/patients`: find a patient by name, NHS number or mobile; urgent first.
async fn search(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Query(search): Query<Search>,
) -> Response {
    let query = PatientQuery {
        q: some(&search.q),
        mobile: None,
        urgent: match search.urgent.as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        cursor: some(&search.cursor),
        limit: Some(PAGE_SIZE),
    };
    let (status, rows, next_cursor, errors) = match app
        .services
        .list_patients(&signed_in.user.actor(), query)
        .await
    {
        Ok(page) => {
            let rows: Vec<Row> = page
                .items
                .iter()
                .map(|r| {
                    let p = &r.patient;
                    Row {
                        id: p.id.to_string(),
                        name: p.name.clone(),
                        preferred_name: p.preferred_name.clone(),
                        nhs_number: p.nhs_number.as_ref().map(|n| nhs_number_spaced(n.as_str())),
                        date_of_birth: p.date_of_birth.map(long_date),
                        team: team_name(&app, p.team.as_deref()),
                        urgent: p.urgent,
                        risk_signals: p.risk_signals.clone(),
                    }
                })
                .collect();
            (StatusCode::OK, rows, page.next_cursor, Vec::new())
        }
        Err(Error::BadRequest(text)) => (
            StatusCode::BAD_REQUEST,
            Vec::new(),
            None,
            vec![FieldError { field: "q", text }],
        ),
        Err(error) => return signed_in.failure(Section::Patients, error),
    };
    let title_error = !errors.is_empty();
    signed_in.page(
        status,
        Section::Patients,
        "console/patients/search.html",
        serde_json::json!({
            "search": search,
            "search_query": serde_urlencoded::to_string(&search).unwrap_or_default(),
            "rows": rows,
            "next_cursor": next_cursor,
            "errors": errors,
            "title_error": title_error,
        }),
    )
}

#[derive(Serialize)]
struct PreferenceView {
    purpose: &'static str,
    channels: Vec<&'static str>,
}

/// A passport as the page shows it.
#[derive(Serialize)]
struct PassportView {
    id: String,
    /// When a clinician discharged them, on the UK clock; none while in the team's care.
    discharged: Option<String>,
    name: String,
    preferred_name: Option<String>,
    pronouns: Option<String>,
    nhs_number: Option<String>,
    date_of_birth: Option<String>,
    mobile: Option<String>,
    landline: Option<String>,
    address_lines: Vec<String>,
    postcode: Option<String>,
    language: Option<String>,
    interpreter: bool,
    access_needs: Vec<&'static str>,
    support_person: Option<String>,
    service_animal: Option<String>,
    /// The patient's own quiet hours, if they have them.
    quiet_hours: Option<String>,
    default_quiet_hours: String,
    team: Option<String>,
    contact_preferences: Vec<PreferenceView>,
    sms_opted_out: bool,
    mobile_failed: Option<String>,
    urgent: bool,
    risk_signals: Vec<String>,
    urgent_since: Option<String>,
    escalation_level: i64,
    acknowledged_at: Option<String>,
    acknowledged_by: Option<String>,
    notes: Option<String>,
    referral_id: Option<String>,
}

fn passport_view(app: &AppState, record: &PatientRecord) -> PassportView {
    let p = &record.patient;
    let preferences = p.contact_preferences.complete();
    PassportView {
        id: p.id.to_string(),
        discharged: record.discharged_at.map(london_time),
        name: p.name.clone(),
        preferred_name: p.preferred_name.clone(),
        pronouns: p.pronouns.clone(),
        nhs_number: p.nhs_number.as_ref().map(|n| nhs_number_spaced(n.as_str())),
        date_of_birth: p.date_of_birth.map(long_date),
        mobile: p.mobile.as_ref().map(|m| m.e164().to_owned()),
        landline: p.landline.as_ref().map(|m| m.e164().to_owned()),
        address_lines: p.address.lines.clone(),
        postcode: p.address.postcode.as_ref().map(|c| c.as_str().to_owned()),
        language: p.language.clone(),
        interpreter: p.interpreter,
        access_needs: p
            .access_needs
            .iter()
            .map(|n| access_need_text(*n))
            .collect(),
        support_person: p.support_person.clone(),
        service_animal: p.service_animal.clone(),
        quiet_hours: p.quiet_hours.map(|q| q.to_string()),
        default_quiet_hours: app.config.quiet_hours.to_string(),
        team: team_name(app, p.team.as_deref()),
        contact_preferences: Purpose::ALL
            .into_iter()
            .map(|purpose| PreferenceView {
                purpose: purpose_text(purpose),
                channels: preferences
                    .channels(purpose)
                    .into_iter()
                    .map(channel_text)
                    .collect(),
            })
            .collect(),
        sms_opted_out: p.sms_opted_out,
        mobile_failed: p.mobile_failed.clone(),
        urgent: p.urgent,
        risk_signals: p.risk_signals.clone(),
        urgent_since: record.episode.urgent_at.map(london_time),
        escalation_level: record.episode.escalation_level,
        acknowledged_at: record.episode.acknowledged_at.map(london_time),
        acknowledged_by: record.episode.acknowledged_by.clone(),
        notes: p.notes.clone(),
        referral_id: p.referral_id.as_ref().map(ToString::to_string),
    }
}

#[derive(Serialize)]
struct ReminderView {
    due: String,
    due_at: DateTime<Utc>,
    status: &'static str,
    reason: Option<String>,
}

/// An appointment as the pages show it.
#[derive(Serialize)]
struct AppointmentView {
    id: String,
    patient_id: String,
    when: String,
    starts_at: DateTime<Utc>,
    kind: &'static str,
    place: String,
    staff_name: Option<String>,
    status: &'static str,
    cancelled: bool,
    reminders: Vec<ReminderView>,
}

fn appointment_view(a: &Appointment) -> AppointmentView {
    let mut reminders: Vec<_> = a.reminders.iter().collect();
    reminders.sort_by_key(|r| std::cmp::Reverse(r.offset_seconds));
    AppointmentView {
        id: a.id.to_string(),
        patient_id: a.patient_id.to_string(),
        when: london_time(a.starts_at),
        starts_at: a.starts_at,
        kind: kind_text(a.kind),
        place: match (a.place, &a.site_name) {
            (AppointmentPlace::Site, Some(site)) => format!("At {site}"),
            (AppointmentPlace::Site, None) => "At a team site".to_owned(),
            (AppointmentPlace::Home, _) => "At home".to_owned(),
        },
        staff_name: a.staff_name.clone(),
        status: a.status.as_str(),
        cancelled: a.status == crate::store::AppointmentStatus::Cancelled,
        reminders: reminders
            .into_iter()
            .map(|r| {
                // As the JSON API says it: when it goes (out of quiet hours), else when due.
                let due_at = r.send_at.unwrap_or(r.due_at);
                ReminderView {
                    due: london_time(due_at),
                    due_at,
                    status: r.status.as_str(),
                    reason: r.reason.as_ref().map(|r| r.replace('_', " ")),
                }
            })
            .collect(),
    }
}

#[derive(Serialize)]
struct EventView {
    at: String,
    status: String,
    channel: Option<&'static str>,
    detail: Option<String>,
}

#[derive(Serialize)]
struct MessageView {
    id: String,
    purpose: &'static str,
    channel: Option<&'static str>,
    status: &'static str,
    created: String,
    created_at: DateTime<Utc>,
    body: Option<String>,
    interpreter_may_be_needed: bool,
    skipped: Vec<(&'static str, String)>,
    history: Vec<EventView>,
}

fn message_view((m, history): &(Message, Vec<MessageEvent>)) -> MessageView {
    MessageView {
        id: m.id.to_string(),
        purpose: message_purpose_text(m.purpose),
        channel: m.channel.map(channel_text),
        status: m.status.as_str(),
        created: london_time(m.created_at),
        created_at: m.created_at,
        body: m.body.clone(),
        interpreter_may_be_needed: m.interpreter_may_be_needed,
        skipped: m
            .skipped
            .iter()
            .map(|s| (channel_text(s.channel), s.reason.replace('_', " ")))
            .collect(),
        history: history
            .iter()
            .map(|e| EventView {
                at: london_time(e.at),
                status: e.status.clone(),
                channel: e
                    .channel
                    .as_deref()
                    .and_then(Channel::parse)
                    .map(channel_text),
                detail: e.detail.clone(),
            })
            .collect(),
    }
}

/// `GET /console/patients/{id}`: the passport, the appointments and the messages, each read
/// audited by `Services` as the JSON API's are.
async fn show(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Response {
    let id = PatientId::from(id);
    let actor = signed_in.user.actor();
    let record = match app.services.patient(&actor, &id).await {
        Ok(record) => record,
        Err(error) => return signed_in.failure(Section::Patients, error),
    };
    let appointments = match app
        .services
        .appointments_for_patient(&actor, &id, PageQuery::default())
        .await
    {
        Ok(page) => page,
        Err(error) => return signed_in.failure(Section::Patients, error),
    };
    let messages = match app
        .services
        .messages_for_patient(&actor, &id, PageQuery::default())
        .await
    {
        Ok(page) => page,
        Err(error) => return signed_in.failure(Section::Patients, error),
    };
    signed_in.page(
        StatusCode::OK,
        Section::Patients,
        "console/patients/show.html",
        serde_json::json!({
            "patient": passport_view(&app, &record),
            "appointments": appointments.items.iter().map(appointment_view).collect::<Vec<_>>(),
            "more_appointments": appointments.next_cursor.is_some(),
            "messages": messages.items.iter().map(message_view).collect::<Vec<_>>(),
            "more_messages": messages.next_cursor.is_some(),
            "may_acknowledge": signed_in.user.role.may_read_referrals(),
            "feedback_after": duration_in_words(app.config.feedback_after),
        }),
    )
}

#[derive(Debug, Deserialize)]
struct NoFields {}

/// `POST /console/patients/{id}/acknowledge`: a clinician has seen the urgent flag and is
/// acting on it.
async fn acknowledge(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    CsrfForm(NoFields {}): CsrfForm<NoFields>,
) -> Response {
    let id = PatientId::from(id);
    match app
        .services
        .acknowledge_patient(&signed_in.user.actor(), &id)
        .await
    {
        Ok(_) => done(&signed_in, &patient_href(&id), "Urgent flag acknowledged").await,
        Err(error) => signed_in.failure(Section::Patients, error),
    }
}

#[derive(Debug, Deserialize)]
struct DischargeForm {
    #[serde(default)]
    note: String,
}

/// `POST /console/patients/{id}/discharge`: a clinician discharges the patient from the
/// team's care (with an optional note for the audit log); their feedback request is planned.
async fn discharge(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<DischargeForm>,
) -> Response {
    let id = PatientId::from(id);
    let input = crate::app::feedback::DischargeIn {
        note: some(&form.note),
    };
    match app
        .services
        .discharge_patient(&signed_in.user.actor(), &id, input)
        .await
    {
        Ok(_) => {
            done(
                &signed_in,
                &patient_href(&id),
                "Discharged from the team's care",
            )
            .await
        }
        Err(error) => signed_in.failure(Section::Patients, error),
    }
}

/// A setting's length as a page says it: "2 days", "12 hours", "30 minutes".
fn duration_in_words(length: std::time::Duration) -> String {
    let minutes = length.as_secs() / 60;
    let (n, unit) = if minutes > 0 && minutes.is_multiple_of(24 * 60) {
        (minutes / (24 * 60), "day")
    } else if minutes > 0 && minutes.is_multiple_of(60) {
        (minutes / 60, "hour")
    } else {
        (minutes, "minute")
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// The passport's page.
fn patient_href(id: &str) -> String {
    format!("/console/patients/{}", urlencoding(id))
}

/// An id as a path segment (ids are ULIDs; anything else is escaped, never trusted).
fn urlencoding(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_string()
            } else {
                let mut buf = [0u8; 4];
                c.encode_utf8(&mut buf)
                    .bytes()
                    .map(|b| format!("%{b:02X}"))
                    .collect()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone;

    use super::*;

    #[test]
    fn times_are_shown_on_the_uk_wall_clock() {
        let summer = Utc.with_ymd_and_hms(2026, 7, 1, 9, 0, 0).unwrap();
        assert_eq!(london_time(summer), "1 July 2026 at 10:00");
        let winter = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        assert_eq!(london_time(winter), "1 December 2026 at 09:00");
    }

    #[test]
    fn a_settings_length_is_said_in_its_largest_whole_unit() {
        let words = |secs| duration_in_words(std::time::Duration::from_secs(secs));
        assert_eq!(words(2 * 86_400), "2 days");
        assert_eq!(words(86_400), "1 day");
        assert_eq!(words(36 * 3_600), "36 hours");
        assert_eq!(words(90 * 60), "90 minutes");
        assert_eq!(words(60), "1 minute");
    }

    #[test]
    fn nhs_numbers_are_grouped_and_ids_escaped() {
        assert_eq!(nhs_number_spaced("9434765919"), "943 476 5919");
        assert_eq!(nhs_number_spaced("12"), "12");
        assert_eq!(patient_href("01ABC"), "/console/patients/01ABC");
        assert_eq!(patient_href("../x"), "/console/patients/%2E%2E%2Fx");
    }
}
