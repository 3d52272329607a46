//! The work lists: the call list (`/console/calls`: open phone-call tasks, who to ring and the
//! script to read, a form for the outcome), the print list (`/console/letters`: open letter
//! tasks, their PDF, posted or returned) and the inbox (`/console/inbox`: what patients texted
//! and what the team should know, each closed with a note). Every list and every outcome goes
//! through `app::Services` with the signed-in user as the actor, as the JSON API does: the
//! same roles, the same audit entries, the same fall back to a patient's next channel.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::SignedIn;
use super::csrf::CsrfForm;
use super::pages::Section;
use crate::app;
use crate::app::messages::{InboxCloseIn, InboxQuery, TaskCompleteIn, TaskQuery};
use crate::domain::id::StaffTaskId;
use crate::domain::task::TaskOutcome;
use crate::http::AppState;
use crate::store::{InboxItem, InboxKind, Task, TaskKind, TaskStatus};

/// Tasks or inbox items a page shows.
const PAGE_SIZE: u32 = 100;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/calls", get(calls))
        .route("/console/letters", get(letters))
        .route("/console/letters/{file}", get(letter_pdf))
        .route("/console/tasks/{id}/complete", post(complete))
        .route("/console/inbox", get(inbox))
        .route("/console/inbox/{id}/close", post(close))
}

#[derive(Debug, Default, Deserialize)]
struct PageParams {
    #[serde(default)]
    cursor: String,
}

impl PageParams {
    fn cursor(&self) -> Option<String> {
        let cursor = self.cursor.trim();
        (!cursor.is_empty()).then(|| cursor.to_owned())
    }
}

/// A time as staff read it, on the UK clock.
pub fn when(at: DateTime<Utc>) -> String {
    super::pages::uk_time(at)
}

/// An error in a form of a list page, linked to its field (ids differ per task).
#[derive(Debug, Serialize)]
struct ListError {
    field: String,
    text: String,
}

/// Who to ring, read from the first line of a call task's text ("Call Sam on +44… or +44…."),
/// and the rest of it, the script to read.
#[derive(Debug, PartialEq, Eq, Serialize)]
struct CallParts {
    who: String,
    numbers: Vec<String>,
    script: String,
}

fn call_parts(text: &str) -> CallParts {
    let (who, script) = text.split_once('\n').unwrap_or((text, ""));
    let numbers = who
        .strip_prefix("Call ")
        .and_then(|rest| rest.strip_suffix('.'))
        .and_then(|rest| rest.rsplit_once(" on "))
        .map(|(_, numbers)| {
            numbers
                .split(" or ")
                .map(str::trim)
                .filter(|n| {
                    n.strip_prefix('+')
                        .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()))
                })
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    CallParts {
        who: who.trim().to_owned(),
        numbers,
        script: script.trim().to_owned(),
    }
}

#[derive(Serialize)]
struct TaskRow {
    id: String,
    patient_id: Option<String>,
    text: String,
    call: Option<CallParts>,
    attempts: i64,
    created: String,
    created_at: DateTime<Utc>,
    outcome: Option<String>,
    note: Option<String>,
    completed_by: Option<String>,
}

impl From<Task> for TaskRow {
    fn from(task: Task) -> Self {
        TaskRow {
            call: (task.kind == TaskKind::PhoneCall).then(|| call_parts(&task.text)),
            id: task.id.to_string(),
            patient_id: task.patient_id.map(|p| p.to_string()),
            text: task.text,
            attempts: task.attempts,
            created: when(task.created_at),
            created_at: task.created_at,
            outcome: task.outcome,
            note: task.note,
            completed_by: task.completed_by,
        }
    }
}

/// A task list's page (`kind`), with a form's errors when one was sent wrong.
async fn task_list(
    app: &AppState,
    signed_in: &SignedIn,
    kind: TaskKind,
    cursor: Option<String>,
    failed: Option<(String, Vec<ListError>, TaskForm)>,
) -> Response {
    let section = section_of(kind);
    let query = TaskQuery {
        kind: Some(kind.as_str().to_owned()),
        status: Some(TaskStatus::Open.as_str().to_owned()),
        cursor,
        limit: Some(PAGE_SIZE),
    };
    let page = match app.services.tasks(&signed_in.user.actor(), query).await {
        Ok(page) => page,
        Err(error) => return signed_in.failure(section, error),
    };
    let rows: Vec<TaskRow> = page.items.into_iter().map(TaskRow::from).collect();
    let (status, failed_id, errors, form) = match failed {
        Some((id, errors, form)) => (StatusCode::UNPROCESSABLE_ENTITY, Some(id), errors, form),
        None => (StatusCode::OK, None, Vec::new(), TaskForm::default()),
    };
    let template = match kind {
        TaskKind::PhoneCall => "console/work/calls.html",
        TaskKind::Letter => "console/work/letters.html",
    };
    signed_in.page(
        status,
        section,
        template,
        serde_json::json!({
            "rows": rows,
            "next_cursor": page.next_cursor,
            "errors": errors,
            "failed_id": failed_id,
            "form": form,
        }),
    )
}

fn section_of(kind: TaskKind) -> Section {
    match kind {
        TaskKind::PhoneCall => Section::Calls,
        TaskKind::Letter => Section::Letters,
    }
}

async fn calls(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Query(params): Query<PageParams>,
) -> Response {
    task_list(&app, &signed_in, TaskKind::PhoneCall, params.cursor(), None).await
}

async fn letters(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Query(params): Query<PageParams>,
) -> Response {
    task_list(&app, &signed_in, TaskKind::Letter, params.cursor(), None).await
}

/// `GET /console/letters/{task id}.pdf`: the letter to print (its read audited).
async fn letter_pdf(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Path(file): Path<String>,
) -> Response {
    let Some(id) = file.strip_suffix(".pdf") else {
        return signed_in.failure(
            Section::Letters,
            app::Error::NotFound(format!("no letter {file}")),
        );
    };
    let id = StaffTaskId::from(id.to_owned());
    match app.services.task_letter(&signed_in.user.actor(), &id).await {
        Ok(pdf) => (
            [
                (header::CONTENT_TYPE, "application/pdf".to_owned()),
                (header::CACHE_CONTROL, "no-store".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("inline; filename=\"letter-{id}.pdf\""),
                ),
            ],
            Body::from(pdf),
        )
            .into_response(),
        Err(error) => signed_in.failure(Section::Letters, error),
    }
}

/// A task's outcome as the call list's and print list's forms send it.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
struct TaskForm {
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    note: String,
    /// Which list the form is on: `calls` or `letters`.
    #[serde(default)]
    list: String,
}

/// What a task's outcome did, in a sentence for the next page's banner.
fn outcome_said(task: &Task, outcome: TaskOutcome) -> String {
    let open = task.status == TaskStatus::Open;
    match outcome {
        TaskOutcome::Done if task.kind == TaskKind::Letter => {
            "Letter marked printed and posted".to_owned()
        }
        TaskOutcome::Done => "Call recorded as done".to_owned(),
        TaskOutcome::LeftMessage => "Message left: the call is done".to_owned(),
        TaskOutcome::NoAnswer if open => format!(
            "No answer ({} of {} tries): the call stays on the list",
            task.attempts,
            crate::domain::task::CALL_TRIES
        ),
        TaskOutcome::NoAnswer => format!(
            "No answer {} times: the message goes to the patient by their next channel",
            task.attempts
        ),
        TaskOutcome::WrongNumber => {
            "Wrong number: the message goes to the patient by their next channel".to_owned()
        }
        TaskOutcome::Returned => "Letter marked as returned".to_owned(),
    }
}

/// `POST /console/tasks/{id}/complete`: staff's report on a call or a letter.
async fn complete(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<TaskForm>,
) -> Response {
    let kind = if form.list == "letters" {
        TaskKind::Letter
    } else {
        TaskKind::PhoneCall
    };
    let section = section_of(kind);
    let outcome_field = format!("outcome-{id}");
    let note_field = format!("note-{id}");
    let Some(outcome) = TaskOutcome::parse(form.outcome.trim()) else {
        let errors = vec![ListError {
            field: outcome_field,
            text: "Select what happened".into(),
        }];
        return task_list(&app, &signed_in, kind, None, Some((id, errors, form))).await;
    };
    let task_id = StaffTaskId::from(id.clone());
    let input = TaskCompleteIn {
        outcome: Some(outcome.as_str().to_owned()),
        note: Some(form.note.clone()).filter(|n| !n.trim().is_empty()),
    };
    match app
        .services
        .complete_task(&signed_in.user.actor(), &task_id, input)
        .await
    {
        Ok(task) => {
            let back = match task.kind {
                TaskKind::PhoneCall => "/console/calls",
                TaskKind::Letter => "/console/letters",
            };
            if let Err(response) =
                super::flash(&signed_in.session, outcome_said(&task, outcome)).await
            {
                return response;
            }
            Redirect::to(back).into_response()
        }
        Err(app::Error::Invalid(text)) => {
            let field = if text.starts_with("note") {
                note_field
            } else {
                outcome_field
            };
            let errors = vec![ListError { field, text }];
            task_list(&app, &signed_in, kind, None, Some((id, errors, form))).await
        }
        Err(error) => signed_in.failure(section, error),
    }
}

#[derive(Serialize)]
struct InboxRow {
    id: String,
    kind: InboxKind,
    kind_text: &'static str,
    urgent: bool,
    patient_id: Option<String>,
    referral_id: Option<String>,
    summary: String,
    body: Option<String>,
    created: String,
    created_at: DateTime<Utc>,
}

fn kind_text(kind: InboxKind) -> &'static str {
    match kind {
        InboxKind::PatientText => "Text from a patient",
        InboxKind::AppointmentConfirmed => "Appointment confirmed",
        InboxKind::AppointmentCancelled => "Appointment cancelled",
        InboxKind::Risk => "Risk",
        InboxKind::ReferralThread => "Text about a referral",
        InboxKind::Undeliverable => "Message not delivered",
        InboxKind::SafetyPlanAsked => "Asked for their safety plan",
    }
}

impl From<InboxItem> for InboxRow {
    fn from(item: InboxItem) -> Self {
        InboxRow {
            id: item.id.to_string(),
            kind: item.kind,
            kind_text: kind_text(item.kind),
            urgent: item.urgent,
            patient_id: item.patient_id.map(|p| p.to_string()),
            referral_id: item.referral_id.map(|r| r.to_string()),
            summary: item.summary,
            body: item.body,
            created: when(item.created_at),
            created_at: item.created_at,
        }
    }
}

async fn inbox_page(
    app: &AppState,
    signed_in: &SignedIn,
    cursor: Option<String>,
    failed: Option<(String, Vec<ListError>, String)>,
) -> Response {
    let query = InboxQuery {
        status: Some("open".into()),
        cursor,
        limit: Some(PAGE_SIZE),
    };
    let page = match app.services.inbox(&signed_in.user.actor(), query).await {
        Ok(page) => page,
        Err(error) => return signed_in.failure(Section::Inbox, error),
    };
    let rows: Vec<InboxRow> = page.items.into_iter().map(InboxRow::from).collect();
    let (status, failed_id, errors, note) = match failed {
        Some((id, errors, note)) => (StatusCode::UNPROCESSABLE_ENTITY, Some(id), errors, note),
        None => (StatusCode::OK, None, Vec::new(), String::new()),
    };
    signed_in.page(
        status,
        Section::Inbox,
        "console/work/inbox.html",
        serde_json::json!({
            "rows": rows,
            "next_cursor": page.next_cursor,
            "errors": errors,
            "failed_id": failed_id,
            "note": note,
        }),
    )
}

async fn inbox(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Query(params): Query<PageParams>,
) -> Response {
    inbox_page(&app, &signed_in, params.cursor(), None).await
}

#[derive(Debug, Deserialize)]
struct CloseForm {
    #[serde(default)]
    note: String,
}

/// `POST /console/inbox/{id}/close`: closes an inbox item with staff's note.
async fn close(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<CloseForm>,
) -> Response {
    let note = form.note.trim().to_owned();
    if note.is_empty() {
        let errors = vec![ListError {
            field: format!("note-{id}"),
            text: "Enter a note saying what was done".into(),
        }];
        return inbox_page(&app, &signed_in, None, Some((id, errors, form.note))).await;
    }
    let input = InboxCloseIn {
        note: Some(note.clone()),
    };
    match app
        .services
        .close_inbox_item(&signed_in.user.actor(), &id, input)
        .await
    {
        Ok(_) => {
            if let Err(response) = super::flash(&signed_in.session, "Inbox item closed").await {
                return response;
            }
            Redirect::to("/console/inbox").into_response()
        }
        Err(app::Error::Invalid(text)) => {
            let errors = vec![ListError {
                field: format!("note-{id}"),
                text,
            }];
            inbox_page(&app, &signed_in, None, Some((id, errors, form.note))).await
        }
        Err(error) => signed_in.failure(Section::Inbox, error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_task_says_who_to_ring_and_the_script() {
        let parts = call_parts(
            "Call Sam on +447911123456 or +441134960000.\nNeeds a Polish interpreter.\n\nHello Sam",
        );
        assert_eq!(parts.who, "Call Sam on +447911123456 or +441134960000.");
        assert_eq!(parts.numbers, ["+447911123456", "+441134960000"]);
        assert_eq!(parts.script, "Needs a Polish interpreter.\n\nHello Sam");

        // A name with " on " in it still finds the numbers after the last one.
        let parts = call_parts("Call Jo on Tyne on +447911123456.\n\nHi");
        assert_eq!(parts.numbers, ["+447911123456"]);

        // Text in another shape is shown as it is, with no links.
        let parts = call_parts("Ring the ward");
        assert_eq!(parts.who, "Ring the ward");
        assert!(parts.numbers.is_empty() && parts.script.is_empty());
    }

    #[test]
    fn times_are_on_the_uk_clock() {
        let summer = DateTime::parse_from_rfc3339("2026-07-01T12:05:00Z")
            .unwrap_or_default()
            .with_timezone(&Utc);
        assert_eq!(when(summer), "1 July 2026 at 13:05");
    }
}
