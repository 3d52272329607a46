//! Brief updates and other messages to patients; the staff call and print lists; the inbox.
//! The rules are in `crate::app::messages`.

use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::Staff;
use super::error::{ApiError, Problem};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::{AppState, List};
use crate::app::messages::{InboxQuery, MessageIn, TaskQuery};
use crate::domain::channel::Channel;
use crate::domain::patient::MessagePurpose;
use crate::store::{InboxItem, Message, MessageEvent, Skipped, Task};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/patients/{id}/messages",
            post(queue_message).get(list_messages),
        )
        .route("/tasks", get(list_tasks))
        .route("/tasks/{id}/complete", post(complete_task))
        .route("/tasks/{id}/letter.pdf", get(task_letter))
        .route("/inbox", get(list_inbox))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryOut {
    pub at: DateTime<Utc>,
    pub status: String,
    pub channel: Option<String>,
    pub detail: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageOut {
    pub id: String,
    pub purpose: MessagePurpose,
    /// Null when no channel could be used.
    pub channel: Option<Channel>,
    /// `queued`, `sending`, `sent`, `delivered`, `undelivered`, `failed` or `task_created`.
    pub status: String,
    /// Channels passed over, and why (e.g. `sms_opted_out`, `no_address`).
    pub skipped: Vec<Skipped>,
    pub template: Option<String>,
    pub body: Option<String>,
    pub appointment_id: Option<String>,
    /// The template language used (`en` when the patient's language has none yet).
    pub language: Option<String>,
    /// The patient's language had no wording of its own, or they need an interpreter.
    pub interpreter_may_be_needed: bool,
    /// Every status the message passed through, oldest first.
    pub history: Vec<HistoryOut>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn message_out(message: Message, history: Vec<MessageEvent>) -> MessageOut {
    MessageOut {
        id: message.id,
        purpose: message.purpose,
        channel: message.channel,
        status: message.status,
        skipped: message.skipped,
        template: message.template,
        body: message.body,
        appointment_id: message.appointment_id,
        language: message.language,
        interpreter_may_be_needed: message.interpreter_may_be_needed,
        history: history
            .into_iter()
            .map(|e| HistoryOut {
                at: e.at,
                status: e.status,
                channel: e.channel,
                detail: e.detail,
            })
            .collect(),
        created_at: message.created_at,
        updated_at: message.updated_at,
    }
}

/// Queues a message by the patient's own channels for its purpose.
#[utoipa::path(post, path = "/api/v1/patients/{id}/messages", tag = "messages",
    params(("id" = String, Path)), request_body = MessageIn, security(("bearer" = [])),
    responses((status = 202, body = MessageOut), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn queue_message(
    State(app): State<AppState>,
    staff: Staff,
    ApiPath(patient_id): ApiPath<String>,
    ApiJson(input): ApiJson<MessageIn>,
) -> Result<(StatusCode, Json<MessageOut>), ApiError> {
    let (message, history) = app
        .services
        .queue_message(&staff.0, &patient_id, input)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(message_out(message, history))))
}

/// Every message to the patient (reminders, notices, updates, urgent), newest first.
#[utoipa::path(get, path = "/api/v1/patients/{id}/messages", tag = "messages",
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = List<MessageOut>), (status = 404, body = Problem)))]
pub async fn list_messages(
    State(app): State<AppState>,
    _staff: Staff,
    ApiPath(patient_id): ApiPath<String>,
) -> Result<Json<List<MessageOut>>, ApiError> {
    let messages = app.services.messages_for_patient(&patient_id).await?;
    Ok(Json(List::of(
        messages.into_iter().map(|(m, h)| message_out(m, h)),
    )))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskOut {
    pub id: String,
    /// `phone_call` or `letter`.
    pub kind: String,
    pub patient_id: Option<String>,
    pub message_id: Option<String>,
    /// `open` or `done`.
    pub status: String,
    /// What to do: who to call and what to say, or where to post the letter.
    pub text: String,
    /// For letters: where to fetch the PDF.
    pub letter_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub completed_by: Option<String>,
}

impl From<Task> for TaskOut {
    fn from(t: Task) -> Self {
        TaskOut {
            letter_url: t
                .has_letter
                .then(|| format!("/api/v1/tasks/{}/letter.pdf", t.id)),
            id: t.id,
            kind: t.kind,
            patient_id: t.patient_id,
            message_id: t.message_id,
            status: t.status,
            text: t.text,
            created_at: t.created_at,
            completed_at: t.completed_at,
            completed_by: t.completed_by,
        }
    }
}

/// The call list and the print list.
#[utoipa::path(get, path = "/api/v1/tasks", tag = "tasks", params(TaskQuery), security(("bearer" = [])),
    responses((status = 200, body = List<TaskOut>), (status = 400, body = Problem)))]
pub async fn list_tasks(
    State(app): State<AppState>,
    _staff: Staff,
    ApiQuery(query): ApiQuery<TaskQuery>,
) -> Result<Json<List<TaskOut>>, ApiError> {
    let tasks = app.services.tasks(query).await?;
    Ok(Json(List::of(tasks.into_iter().map(Into::into))))
}

/// The call was made or the letter posted.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/complete", tag = "tasks", params(("id" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = TaskOut), (status = 404, body = Problem)))]
pub async fn complete_task(
    State(app): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<TaskOut>, ApiError> {
    Ok(Json(
        app.services.complete_task(&staff.0, &id).await?.into(),
    ))
}

/// The letter to print, as a PDF.
#[utoipa::path(get, path = "/api/v1/tasks/{id}/letter.pdf", tag = "tasks", params(("id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>), (status = 404, body = Problem)))]
pub async fn task_letter(
    State(app): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let pdf = app.services.task_letter(&staff.0, &id).await?;
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/pdf")
        .header(
            header::CONTENT_DISPOSITION,
            format!("inline; filename=\"letter-{id}.pdf\""),
        )
        .body(Body::from(pdf))
        .map_err(|e| ApiError::Internal(e.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InboxOut {
    pub id: String,
    /// `patient_text`, `appointment_confirmed`, `appointment_cancelled`, `risk`,
    /// `undeliverable`.
    pub kind: String,
    pub urgent: bool,
    pub summary: String,
    /// The patient's words, when a text.
    pub body: Option<String>,
    pub patient_id: Option<String>,
    pub referral_id: Option<String>,
    pub appointment_id: Option<String>,
    pub message_id: Option<String>,
    pub status: String,
    pub created_at: DateTime<Utc>,
}

impl From<InboxItem> for InboxOut {
    fn from(i: InboxItem) -> Self {
        InboxOut {
            id: i.id,
            kind: i.kind,
            urgent: i.urgent,
            summary: i.summary,
            body: i.body,
            patient_id: i.patient_id,
            referral_id: i.referral_id,
            appointment_id: i.appointment_id,
            message_id: i.message_id,
            status: i.status,
            created_at: i.created_at,
        }
    }
}

/// What patients texted, and what the team should know: urgent first, then oldest.
#[utoipa::path(get, path = "/api/v1/inbox", tag = "inbox", params(InboxQuery), security(("bearer" = [])),
    responses((status = 200, body = List<InboxOut>)))]
pub async fn list_inbox(
    State(app): State<AppState>,
    staff: Staff,
    ApiQuery(query): ApiQuery<InboxQuery>,
) -> Result<Json<List<InboxOut>>, ApiError> {
    let items = app.services.inbox(&staff.0, query).await?;
    Ok(Json(List::of(items.into_iter().map(Into::into))))
}
