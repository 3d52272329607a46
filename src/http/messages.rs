//! Brief updates and other messages to patients; the staff call and print lists; the inbox.
//! The rules are in `crate::app::messages`.

use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::Staff;
use super::error::{ApiError, Problem};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::{AppState, List};
use crate::app::PageQuery;
use crate::app::messages::{InboxCloseIn, InboxQuery, MessageIn, TaskCompleteIn, TaskQuery};
use crate::domain::id::{PatientId, StaffTaskId};
use crate::store::{InboxItem, Message, MessageEvent, Task};

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
        .route("/inbox/{id}/close", post(close_inbox_item))
}

/// A message as staff see it, with its history.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageOut {
    #[serde(flatten)]
    pub message: Message,
    /// Every status the message passed through, oldest first.
    pub history: Vec<MessageEvent>,
}

/// Queues a message by the patient's own channels for its purpose.
#[utoipa::path(post, path = "/api/v1/patients/{id}/messages", tag = "messages",
    params(("id" = String, Path)), request_body = MessageIn, security(("bearer" = [])),
    responses((status = 202, body = MessageOut), (status = 404, body = Problem), (status = 422, body = Problem),
        (status = 429, body = Problem, description = "The token has queued its messages for the day (CRHT_MESSAGES_PER_TOKEN_PER_DAY); Retry-After: seconds to midnight UTC")))]
pub async fn queue_message(
    State(app): State<AppState>,
    staff: Staff,
    ApiPath(patient_id): ApiPath<PatientId>,
    ApiJson(input): ApiJson<MessageIn>,
) -> Result<(StatusCode, Json<MessageOut>), ApiError> {
    let (message, history) = app
        .services
        .queue_message(&staff.0, &patient_id, input)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(MessageOut { message, history })))
}

/// Every message to the patient (reminders, notices, updates, urgent), newest first.
#[utoipa::path(get, path = "/api/v1/patients/{id}/messages", tag = "messages",
    params(("id" = String, Path), PageQuery), security(("bearer" = [])),
    responses((status = 200, body = List<MessageOut>), (status = 400, body = Problem),
        (status = 404, body = Problem)))]
pub async fn list_messages(
    State(app): State<AppState>,
    staff: Staff,
    ApiPath(patient_id): ApiPath<PatientId>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<List<MessageOut>>, ApiError> {
    let page = app
        .services
        .messages_for_patient(&staff.0, &patient_id, query)
        .await?;
    Ok(Json(List::page(page.map(|(message, history)| {
        MessageOut { message, history }
    }))))
}

/// A task as staff see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskOut {
    #[serde(flatten)]
    pub task: Task,
    /// For letters: where to fetch the PDF.
    pub letter_url: Option<String>,
}

impl From<Task> for TaskOut {
    fn from(task: Task) -> Self {
        TaskOut {
            letter_url: task
                .has_letter
                .then(|| format!("/api/v1/tasks/{}/letter.pdf", task.id)),
            task,
        }
    }
}

/// The call list and the print list.
#[utoipa::path(get, path = "/api/v1/tasks", tag = "tasks", params(TaskQuery), security(("bearer" = [])),
    responses((status = 200, body = List<TaskOut>), (status = 400, body = Problem)))]
pub async fn list_tasks(
    State(app): State<AppState>,
    staff: Staff,
    ApiQuery(query): ApiQuery<TaskQuery>,
) -> Result<Json<List<TaskOut>>, ApiError> {
    let page = app.services.tasks(&staff.0, query).await?;
    Ok(Json(List::page(page)))
}

/// Reports on a task: the call made (or not answered: back on the list until the third
/// try, then the patient's next channel), the letter posted (or returned).
#[utoipa::path(post, path = "/api/v1/tasks/{id}/complete", tag = "tasks", params(("id" = String, Path)),
    request_body(content = TaskCompleteIn, description = "May be left out: the outcome is then `done`."),
    security(("bearer" = [])),
    responses((status = 200, body = TaskOut), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn complete_task(
    State(app): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<StaffTaskId>,
    body: Option<ApiJson<TaskCompleteIn>>,
) -> Result<Json<TaskOut>, ApiError> {
    let input = body.map(|ApiJson(input)| input).unwrap_or_default();
    Ok(Json(
        app.services
            .complete_task(&staff.0, &id, input)
            .await?
            .into(),
    ))
}

/// The letter to print, as a PDF.
#[utoipa::path(get, path = "/api/v1/tasks/{id}/letter.pdf", tag = "tasks", params(("id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>), (status = 404, body = Problem)))]
pub async fn task_letter(
    State(app): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<StaffTaskId>,
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

/// What patients texted, and what the team should know: urgent first, then oldest. Items
/// about risk or a referral's thread are left out of a scheduler's list.
#[utoipa::path(get, path = "/api/v1/inbox", tag = "inbox", params(InboxQuery), security(("bearer" = [])),
    responses((status = 200, body = List<InboxItem>), (status = 400, body = Problem)))]
pub async fn list_inbox(
    State(app): State<AppState>,
    staff: Staff,
    ApiQuery(query): ApiQuery<InboxQuery>,
) -> Result<Json<List<InboxItem>>, ApiError> {
    let page = app.services.inbox(&staff.0, query).await?;
    Ok(Json(List::page(page)))
}

/// Closes an inbox item with a note.
#[utoipa::path(post, path = "/api/v1/inbox/{id}/close", tag = "inbox", params(("id" = String, Path)),
    request_body(content = InboxCloseIn, description = "May be left out."), security(("bearer" = [])),
    responses((status = 200, body = InboxItem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn close_inbox_item(
    State(app): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<crate::domain::id::InboxItemId>,
    body: Option<ApiJson<InboxCloseIn>>,
) -> Result<Json<InboxItem>, ApiError> {
    let input = body.map(|ApiJson(input)| input).unwrap_or_default();
    Ok(Json(
        app.services.close_inbox_item(&staff.0, &id, input).await?,
    ))
}
