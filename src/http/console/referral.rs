//! One referral (`/console/referrals/{id}`), for clinicians and admins: what the person said
//! (the answers, the transcript), what the team and the gateway have done (the on-call
//! alerts, the events), and what staff can do next: text them back, move the referral on in
//! triage, make a patient from it. Every read and change is `app::Services`', with the
//! signed-in user as the actor, so a scheduler is refused (403) and each read is audited as
//! the JSON API's is. A form the service refuses shows the page again with the service's
//! words in an error summary.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::csrf::CsrfForm;
use super::pages::{FieldError, Section};
use super::{SignedIn, done};
use crate::app;
use crate::app::patients::FromReferralIn;
use crate::app::referrals::{StatusIn, TEXT_BACK_MAX_CHARS, TextBackIn};
use crate::domain::id::ReferralId;
use crate::domain::referral::{ReferralRoute, ReferralSource, ReferralStatus};
use crate::http::AppState;
use crate::store::{AuditAction, AuditEntry, AuditRole, Message, Referral, TranscriptItem};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/referrals/{id}", get(show))
        .route("/console/referrals/{id}/text-back", post(text_back))
        .route("/console/referrals/{id}/status", post(set_status))
        .route("/console/referrals/{id}/patient", post(make_patient))
}

/// What a refused form had in it, to show again beside its error.
#[derive(Debug, Default)]
struct Redo {
    errors: Vec<FieldError>,
    /// The text back as typed.
    text: String,
    /// The status form sent, and its note as typed.
    status: String,
    note: String,
    shared_mobile: bool,
}

async fn show(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<ReferralId>,
) -> Response {
    render(&app, &signed_in, &id, StatusCode::OK, Redo::default()).await
}

#[derive(Debug, Deserialize)]
struct TextBackForm {
    #[serde(default)]
    text: String,
}

async fn text_back(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<ReferralId>,
    CsrfForm(form): CsrfForm<TextBackForm>,
) -> Response {
    let input = TextBackIn {
        text: form.text.clone(),
    };
    match app
        .services
        .text_back(&signed_in.user.actor(), &id, input)
        .await
    {
        Ok(_) => done(&signed_in, &referral_href(&id), "Your text is on its way").await,
        Err(error) => {
            let redo = Redo {
                text: form.text,
                ..Redo::default()
            };
            refused(&app, &signed_in, &id, error, "text", "your text", redo).await
        }
    }
}

#[derive(Debug, Deserialize)]
struct StatusForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    note: String,
}

async fn set_status(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<ReferralId>,
    CsrfForm(form): CsrfForm<StatusForm>,
) -> Response {
    let input = StatusIn {
        status: form.status.clone(),
        note: Some(form.note.clone()),
    };
    match app
        .services
        .set_referral_status(&signed_in.user.actor(), &id, input)
        .await
    {
        Ok(referral) => {
            let text = format!(
                "Referral {} {}",
                referral.reference,
                status_words(referral.status)
            );
            done(&signed_in, &referral_href(&id), text).await
        }
        Err(error) => {
            let offered = ReferralStatus::parse(&form.status).and_then(Action::of);
            let (field, label) = match offered {
                Some(action) if error.to_string().starts_with("note") => {
                    (action.note_id, "the note")
                }
                _ => ("status-actions", "the status"),
            };
            let redo = Redo {
                status: form.status,
                note: form.note,
                ..Redo::default()
            };
            refused(&app, &signed_in, &id, error, field, label, redo).await
        }
    }
}

#[derive(Debug, Deserialize)]
struct PatientForm {
    /// A checked checkbox sends `true`; an unchecked one sends nothing.
    #[serde(default)]
    shared_mobile: Option<String>,
}

async fn make_patient(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<ReferralId>,
    CsrfForm(form): CsrfForm<PatientForm>,
) -> Response {
    let shared_mobile = form.shared_mobile.is_some();
    match app
        .services
        .patient_from_referral(
            &signed_in.user.actor(),
            &id,
            FromReferralIn { shared_mobile },
        )
        .await
    {
        Ok(record) => {
            let href = format!("/console/patients/{}", record.patient.id);
            done(&signed_in, &href, "Patient record made from the referral").await
        }
        Err(error) => {
            let redo = Redo {
                shared_mobile,
                ..Redo::default()
            };
            // The API's way to say a mobile is shared is a field; here it is the checkbox.
            let error = match error {
                app::Error::Conflict(detail) => app::Error::Conflict(detail.replace(
                    r#"send "shared_mobile": true"#,
                    "tick the box to say so and make the patient again",
                )),
                other => other,
            };
            refused(&app, &signed_in, &id, error, "make-patient", "", redo).await
        }
    }
}

fn referral_href(id: &ReferralId) -> String {
    format!("/console/referrals/{id}")
}

/// A form the service refused: what staff sent could be put right (422, or 409 when the
/// referral or the number does not allow it now), so the page shows again with the error
/// beside `field`; anything else (a role refused, no such referral) is the error page.
async fn refused(
    app: &AppState,
    signed_in: &SignedIn,
    id: &ReferralId,
    error: app::Error,
    field: &'static str,
    label: &str,
    mut redo: Redo,
) -> Response {
    let status = match &error {
        app::Error::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        app::Error::BadRequest(_) => StatusCode::BAD_REQUEST,
        app::Error::Conflict(_) => StatusCode::CONFLICT,
        _ => return signed_in.failure(Section::Referrals, error),
    };
    redo.errors.push(FieldError {
        field,
        text: in_words(&error.to_string(), label),
    });
    render(app, signed_in, id, status, redo).await
}

/// The service's words for a refused field (`text: must not be empty`) as a sentence about
/// `label` ("your text"): the error summary's and the field's message.
fn in_words(detail: &str, label: &str) -> String {
    let rest = detail
        .split_once(": ")
        .filter(|(field, _)| !field.contains(' '))
        .map_or(detail, |(_, rest)| rest);
    let sentence = if label.is_empty() {
        rest.to_owned()
    } else if rest == "must not be empty" {
        format!("Enter {label}")
    } else if rest.starts_with("at most ") {
        format!("{label} must be {rest}")
    } else if rest == "control characters are not allowed" {
        format!("{label} must not contain control characters")
    } else {
        rest.to_owned()
    };
    capitalised(&sentence)
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// The page: the referral, its transcript and its events, each read through `Services` (and
/// audited there), with `redo`'s errors and values when a form was refused.
async fn render(
    app: &AppState,
    signed_in: &SignedIn,
    id: &ReferralId,
    status: StatusCode,
    redo: Redo,
) -> Response {
    let actor = signed_in.user.actor();
    let found = match app.services.referral(&actor, id).await {
        Ok(found) => found,
        Err(error) => return signed_in.failure(Section::Referrals, error),
    };
    let transcript = match app.services.transcript(&actor, id).await {
        Ok(items) => items,
        Err(error) => return signed_in.failure(Section::Referrals, error),
    };
    let events = match app.services.referral_events(&actor, id).await {
        Ok(events) => events,
        Err(error) => return signed_in.failure(Section::Referrals, error),
    };
    let referral = found.referral;
    let team = app
        .intake
        .teams
        .get(&referral.team)
        .map_or_else(|| referral.team.clone(), |t| t.name.clone());
    let (answers, superseded) = answer_rows(&referral.answers);
    let patient_id = events
        .iter()
        .filter(|e| e.action == AuditAction::PatientCreate)
        .find_map(|e| e.target.strip_prefix("patient:"))
        .map(str::to_owned);
    let actions: Vec<Action> = offered(referral.status)
        .iter()
        .filter_map(|s| Action::of(*s))
        .collect();
    signed_in.page(
        status,
        Section::Referrals,
        "console/referral/page.html",
        serde_json::json!({
            "r": details(&referral, team),
            "answers": answers,
            "superseded": superseded,
            "alerts": found.alerts.iter().map(alert_row).collect::<Vec<_>>(),
            "thread": transcript.iter().map(thread_item).collect::<Vec<_>>(),
            "events": events.iter().map(event_row).collect::<Vec<_>>(),
            "actions": actions,
            "awaiting_acknowledgement": referral.status.follows_conversation()
                && referral.status != ReferralStatus::Signposted,
            "patient_id": patient_id,
            "text_back_max": TEXT_BACK_MAX_CHARS,
            "errors": redo.errors,
            "text": redo.text,
            "redo_status": redo.status,
            "note": redo.note,
            "shared_mobile": redo.shared_mobile,
        }),
    )
}

/// A time as the page shows it: in the team's time zone, and as machine-readable text.
#[derive(Debug, Serialize)]
struct When {
    text: String,
    iso: String,
}

fn when(at: DateTime<Utc>) -> When {
    When {
        text: super::pages::uk_time(at),
        iso: at.to_rfc3339(),
    }
}

#[derive(Debug, Serialize)]
struct Details {
    id: String,
    reference: String,
    status: ReferralStatus,
    urgent: bool,
    urgent_at: Option<When>,
    risk_signals: Vec<String>,
    team: String,
    incomplete: bool,
    phone: Option<String>,
    language: Option<String>,
    interpreter: bool,
    source: ReferralSource,
    route: ReferralRoute,
    created_at: When,
    submitted_at: Option<When>,
    updated_at: When,
}

fn details(r: &Referral, team: String) -> Details {
    Details {
        id: r.id.to_string(),
        reference: r.reference.clone(),
        status: r.status,
        urgent: r.urgent,
        urgent_at: r.urgent_at.map(when),
        risk_signals: r.risk_signals.clone(),
        team,
        incomplete: r.incomplete,
        phone: r.phone.clone(),
        language: r.language.as_deref().map(|code| {
            crate::language::english_name(code)
                .map_or_else(|| code.to_owned(), |name| format!("{name} ({code})"))
        }),
        interpreter: r.interpreter,
        source: r.source,
        route: r.route,
        created_at: when(r.created_at),
        submitted_at: r.submitted_at.map(when),
        updated_at: when(r.updated_at),
    }
}

#[derive(Debug, Serialize)]
struct AlertRow {
    to: String,
    status: String,
    at: When,
}

fn alert_row(m: &Message) -> AlertRow {
    AlertRow {
        to: m.to.clone().unwrap_or_default(),
        status: m.status.as_str().to_owned(),
        at: when(m.created_at),
    }
}

/// One text of the thread: who said it, when, and (for ours) where it has got to.
#[derive(Debug, Serialize)]
struct ThreadItem {
    inbound: bool,
    from: String,
    body: Option<String>,
    at: When,
    delivery_status: Option<String>,
}

fn thread_item(t: &TranscriptItem) -> ThreadItem {
    let inbound = t.direction == "inbound";
    let from = match (&t.sent_by, inbound) {
        (_, true) => "They texted".to_owned(),
        (Some(name), false) => format!("{name} texted back"),
        (None, false) => "The gateway replied".to_owned(),
    };
    ThreadItem {
        inbound,
        from,
        body: t.body.clone(),
        at: when(t.at),
        delivery_status: t.delivery_status.clone(),
    }
}

#[derive(Debug, Serialize)]
struct EventRow {
    at: When,
    who: String,
    what: String,
    note: Option<String>,
}

fn event_row(e: &AuditEntry) -> EventRow {
    EventRow {
        at: when(e.at),
        who: if e.role == AuditRole::System {
            "The gateway".to_owned()
        } else {
            format!("{} ({})", e.actor, e.role.as_str())
        },
        what: event_words(e.action),
        note: e.note.clone(),
    }
}

/// What an event did, in the team's words.
fn event_words(action: AuditAction) -> String {
    let words = match action {
        AuditAction::ReferralCreated => "Referral made",
        AuditAction::ReferralAcknowledged => "Acknowledged",
        AuditAction::ReferralAccepted => "Accepted",
        AuditAction::ReferralSignposted => "Signposted",
        AuditAction::ReferralClosed => "Closed",
        AuditAction::ReferralTextBack => "Texted them back",
        AuditAction::ReferralThreadText => "They texted again",
        AuditAction::ReferralReopened => "Reopened by a new text",
        AuditAction::ReferralEscalatedOnCallAgain => {
            "Not acknowledged in time: on-call alerted again"
        }
        AuditAction::ReferralEscalatedEscalationNumbers => {
            "Not acknowledged in time: escalation numbers alerted"
        }
        AuditAction::PatientCreate => "Patient record made",
        AuditAction::InboxClose => "Inbox item closed",
        other => return other.as_str().replace(['.', '_'], " "),
    };
    words.to_owned()
}

/// A status change staff can make from the page.
#[derive(Debug, Clone, Copy, Serialize)]
struct Action {
    status: &'static str,
    /// The button's words.
    button: &'static str,
    button_id: &'static str,
    note_id: &'static str,
}

impl Action {
    fn of(status: ReferralStatus) -> Option<Action> {
        let (button, button_id, note_id) = match status {
            ReferralStatus::Acknowledged => ("Acknowledge", "acknowledge", "note-acknowledged"),
            ReferralStatus::Accepted => ("Accept", "accept", "note-accepted"),
            ReferralStatus::Signposted => ("Signpost", "signpost", "note-signposted"),
            ReferralStatus::Closed => ("Close", "close", "note-closed"),
            _ => return None,
        };
        Some(Action {
            status: status.as_str(),
            button,
            button_id,
            note_id,
        })
    }
}

/// The moves the page offers from `status` (the service accepts any status staff may set;
/// these are the ones that make sense next).
fn offered(status: ReferralStatus) -> &'static [ReferralStatus] {
    use ReferralStatus::*;
    match status {
        InProgress | Submitted | Abandoned | Stopped => {
            &[Acknowledged, Accepted, Signposted, Closed]
        }
        Acknowledged => &[Accepted, Signposted, Closed],
        Accepted => &[Signposted, Closed],
        Signposted => &[Accepted, Closed],
        Closed => &[],
    }
}

fn status_words(status: ReferralStatus) -> &'static str {
    match status {
        ReferralStatus::Acknowledged => "acknowledged",
        ReferralStatus::Accepted => "accepted",
        ReferralStatus::Signposted => "signposted",
        ReferralStatus::Closed => "closed",
        _ => "updated",
    }
}

/// One row of the answers' summary list.
#[derive(Debug, PartialEq, Eq, Serialize)]
struct AnswerRow {
    label: String,
    value: String,
}

/// The answers in the order the conversation asks them (then anything else the referral
/// holds), and the answers replaced by BACK or RESTART, oldest first.
fn answer_rows(answers: &Map<String, Value>) -> (Vec<AnswerRow>, Vec<AnswerRow>) {
    let order = |key: &str| {
        STEPS
            .iter()
            .position(|(id, _)| *id == key)
            .unwrap_or(usize::MAX)
    };
    let mut current: Vec<(&String, &Value)> = answers
        .iter()
        .filter(|(key, _)| key.as_str() != "superseded")
        .collect();
    current.sort_by_key(|(key, _)| order(key));
    let rows = current
        .into_iter()
        .map(|(key, value)| AnswerRow {
            label: answer_label(key),
            value: answer_value(key, value),
        })
        .collect();
    let superseded = answers
        .get("superseded")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|item| {
                    let key = item.get("step").and_then(Value::as_str).unwrap_or_default();
                    AnswerRow {
                        label: answer_label(key),
                        value: answer_value(key, item.get("value").unwrap_or(&Value::Null)),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    (rows, superseded)
}

/// The conversation's steps (`conversation::Step` ids) in the order it asks them, each with
/// what its answer is, as a summary list's key.
const STEPS: [(&str, &str); 19] = [
    ("relationship", "Who is texting"),
    ("referrer_role", "Texter's relationship to them"),
    ("referrer_name", "Texter's name"),
    ("referrer_org", "Texter's organisation"),
    ("referrer_phone", "Texter's callback number"),
    ("ward", "Ward they are leaving"),
    ("expected_discharge", "Expected discharge date"),
    ("consent", "They agree to the referral"),
    ("subject_phone", "Their phone number"),
    ("name", "Name"),
    ("age", "Aged 18 or over"),
    ("postcode", "Postcode or town"),
    ("safety", "Safe right now"),
    ("situation", "What is happening"),
    ("contact_method", "How to contact them"),
    ("language", "Language"),
    ("access_needs", "Communication and access needs"),
    ("anything_else", "Anything else"),
    ("confirm", "Sent with"),
];

fn answer_label(key: &str) -> String {
    STEPS.iter().find(|(id, _)| *id == key).map_or_else(
        || capitalised(&key.replace('_', " ")),
        |(_, label)| (*label).to_owned(),
    )
}

/// An answer's value in words: a skipped question says so, codes become their meaning.
fn answer_value(key: &str, value: &Value) -> String {
    match value {
        Value::Null => "Skipped".to_owned(),
        Value::Bool(true) => "Yes".to_owned(),
        Value::Bool(false) => "No".to_owned(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => answer_word(key, s),
        Value::Array(items) if items.is_empty() => "None".to_owned(),
        Value::Array(items) => items
            .iter()
            .map(|item| answer_value(key, item))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Object(fields) if key == "age" => age_words(fields),
        Value::Object(fields) => fields
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}: {}",
                    capitalised(&k.replace('_', " ")),
                    answer_value(k, v)
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
    }
}

fn answer_word(key: &str, word: &str) -> String {
    let said = match (key, word) {
        ("relationship", "self") => "They are texting about themself",
        ("relationship", "someone_else") => "Someone else, about them",
        ("consent" | "safety", "yes") => "Yes",
        ("consent" | "safety", "no") => "No",
        ("consent" | "safety", "not_sure") => "Not sure",
        ("contact_method", "sms") => "Text message",
        ("contact_method", "phone_call") => "Phone call",
        ("contact_method", "letter") => "Letter",
        ("access_needs", "bsl") => "British Sign Language",
        ("access_needs", "large_print") => "Large print",
        ("access_needs", "braille") => "Braille",
        ("access_needs", "audio") => "Audio",
        ("access_needs", "easy_read") => "Easy read",
        ("access_needs", "text_message") => "Text message",
        ("access_needs", "face_to_face_support") => "Face-to-face support",
        ("referrer_role", role) => return capitalised(role),
        _ => word,
    };
    said.to_owned()
}

fn age_words(fields: &Map<String, Value>) -> String {
    let over_18 = match fields.get("over_18").and_then(Value::as_bool) {
        Some(true) => "Yes",
        Some(false) => "No",
        None => "Not known",
    };
    let mut said = over_18.to_owned();
    if let Some(years) = fields.get("years").and_then(Value::as_u64) {
        said.push_str(&format!(", {years} years old"));
    }
    if let Some(born) = fields.get("date_of_birth").and_then(Value::as_str) {
        let born = chrono::NaiveDate::parse_from_str(born, "%Y-%m-%d")
            .map_or_else(|_| born.to_owned(), |d| d.format("%-d %B %Y").to_string());
        said.push_str(&format!(", born {born}"));
    }
    said
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone;

    use super::*;

    #[test]
    fn answers_read_as_words_in_the_order_asked() {
        let answers = serde_json::json!({
            "situation": "not sleeping",
            "relationship": "self",
            "age": {"over_18": true, "years": 34},
            "safety": "not_sure",
            "contact_method": "phone_call",
            "access_needs": ["bsl", "easy_read"],
            "language": null,
            "source": "phone",
            "superseded": [{"step": "name", "value": "Sammy"}],
        });
        let (rows, superseded) = answer_rows(answers.as_object().unwrap());
        let pairs: Vec<(&str, &str)> = rows
            .iter()
            .map(|r| (r.label.as_str(), r.value.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("Who is texting", "They are texting about themself"),
                ("Aged 18 or over", "Yes, 34 years old"),
                ("Safe right now", "Not sure"),
                ("What is happening", "not sleeping"),
                ("How to contact them", "Phone call"),
                ("Language", "Skipped"),
                (
                    "Communication and access needs",
                    "British Sign Language, Easy read"
                ),
                ("Source", "phone"),
            ]
        );
        assert_eq!(
            superseded,
            [AnswerRow {
                label: "Name".into(),
                value: "Sammy".into()
            }]
        );
        let born = serde_json::json!({"over_18": false, "date_of_birth": "2010-03-01"});
        assert_eq!(
            answer_value("age", &born),
            "No, born 1 March 2010".to_owned()
        );
    }

    #[test]
    fn every_step_of_the_conversation_has_a_label_in_its_order() {
        let ids: Vec<&str> = crate::conversation::Step::ALL
            .iter()
            .map(|s| s.id())
            .collect();
        let ours: Vec<&str> = STEPS.iter().map(|(id, _)| *id).collect();
        assert_eq!(ours, ids);
    }

    #[test]
    fn the_services_refusals_read_as_sentences() {
        assert_eq!(
            in_words("text: must not be empty", "your text"),
            "Enter your text"
        );
        assert_eq!(
            in_words("text: at most 612 characters", "your text"),
            "Your text must be at most 612 characters"
        );
        assert_eq!(
            in_words("note: control characters are not allowed", "the note"),
            "The note must not contain control characters"
        );
        assert_eq!(
            in_words(
                "this number has opted out of texts (STOP): nothing was sent",
                "your text"
            ),
            "This number has opted out of texts (STOP): nothing was sent"
        );
    }

    #[test]
    fn each_status_offers_the_moves_that_make_sense() {
        use ReferralStatus::*;
        for status in ReferralStatus::ALL {
            let next = offered(status);
            assert!(!next.contains(&status), "{status:?} is not a move");
            assert!(next.iter().all(|s| s.settable_by_staff()));
            assert!(next.iter().all(|s| Action::of(*s).is_some()));
        }
        assert_eq!(
            offered(Submitted),
            [Acknowledged, Accepted, Signposted, Closed]
        );
        assert_eq!(offered(Acknowledged), [Accepted, Signposted, Closed]);
        assert!(offered(Closed).is_empty());
    }

    #[test]
    fn times_show_in_the_teams_time_zone() {
        let summer = Utc.with_ymd_and_hms(2026, 7, 1, 13, 5, 0).unwrap();
        assert_eq!(when(summer).text, "1 July 2026 at 14:05");
        let winter = Utc.with_ymd_and_hms(2026, 11, 29, 9, 30, 0).unwrap();
        assert_eq!(when(winter).text, "29 November 2026 at 09:30");
        assert_eq!(when(winter).iso, "2026-11-29T09:30:00+00:00");
    }
}
