//! The one place that turns failures into HTTP answers: RFC 9457 problem details
//! (`application/problem+json`). Internal details are logged, never sent.

use axum::Json;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::app;
use crate::outbound::OutboundError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("a valid bearer token is required")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the request body is too large")]
    PayloadTooLarge,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Unprocessable(String),
    /// Items of a batch that break a rule: 422, each named in the problem's `errors`.
    #[error("{}", app::describe_items(.0))]
    UnprocessableItems(Vec<app::InvalidItem>),
    #[error("too many requests")]
    TooManyRequests,
    /// The token (or console user) has queued its day's messages; the day ends (UTC) in
    /// `retry_after` seconds.
    #[error(
        "this token has queued as many messages as it may today (CRHT_MESSAGES_PER_TOKEN_PER_DAY); \
         the count starts again at midnight UTC"
    )]
    MessageAllowanceSpent { retry_after: u64 },
    /// The database is unreachable: the provider should retry, staff should try again.
    #[error("the service is temporarily unavailable")]
    Unavailable,
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// RFC 9457 problem details.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// A batch's bad items, each by its index (from 0) and field (an extension member, RFC
    /// 9457 section 3.2); left out of every other problem.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<app::InvalidItem>,
}

impl ApiError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unprocessable(_) | ApiError::UnprocessableItems(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::TooManyRequests | ApiError::MessageAllowanceSpent { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

pub fn problem(status: StatusCode, detail: impl Into<String>) -> Response {
    problem_with(status, detail, Vec::new())
}

fn problem_with(
    status: StatusCode,
    detail: impl Into<String>,
    errors: Vec<app::InvalidItem>,
) -> Response {
    let body = Problem {
        kind: "about:blank".into(),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        detail: detail.into(),
        errors,
    };
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "request failed");
            }
            ApiError::Unavailable => tracing::warn!("database unavailable"),
            _ => {}
        }
        let errors = match &self {
            ApiError::UnprocessableItems(items) => items.clone(),
            _ => Vec::new(),
        };
        let mut response = problem_with(self.status(), self.to_string(), errors);
        if matches!(self, ApiError::Unauthorized) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if matches!(self, ApiError::Unavailable | ApiError::TooManyRequests) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        if let ApiError::MessageAllowanceSpent { retry_after } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            e if e.is_unavailable() => ApiError::Unavailable,
            StoreError::Conflict(what) => ApiError::Conflict(what),
            StoreError::AllowanceSpent { retry_after_secs } => ApiError::MessageAllowanceSpent {
                retry_after: retry_after_secs,
            },
            other => ApiError::Internal(other.into()),
        }
    }
}

impl ApiError {
    /// A person's text the store could not keep: 503 with `Retry-After` whatever the cause,
    /// never a 500, so the provider tries again (Twilio then tries the fallback URL) and the
    /// text is not lost. A cause that is not the database's state is logged as an error.
    pub(crate) fn text_not_stored(error: StoreError) -> ApiError {
        if !error.is_unavailable() {
            tracing::error!(
                error = format!("{error:#}"),
                "a text could not be stored; the provider will retry"
            );
        }
        ApiError::Unavailable
    }
}

/// The application layer's answer, as HTTP: the one mapping of its errors to statuses.
impl From<app::Error> for ApiError {
    fn from(error: app::Error) -> Self {
        match error {
            app::Error::BadRequest(detail) => ApiError::BadRequest(detail),
            app::Error::Invalid(detail) => ApiError::Unprocessable(detail),
            app::Error::InvalidItems(items) => ApiError::UnprocessableItems(items),
            app::Error::NotFound(detail) => ApiError::NotFound(detail),
            app::Error::Conflict(detail) => ApiError::Conflict(detail),
            app::Error::Forbidden(detail) => ApiError::Forbidden(detail),
            app::Error::Store(e) => e.into(),
            // A template or its variables are the caller's to fix.
            app::Error::Outbound(OutboundError::Template(e)) => {
                ApiError::Unprocessable(e.to_string())
            }
            app::Error::Outbound(OutboundError::Letter(e)) => ApiError::Internal(e.into()),
            app::Error::Outbound(OutboundError::Store(e)) => e.into(),
            app::Error::Internal(e) => ApiError::Internal(e),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType(
                "send JSON with Content-Type: application/json".into(),
            ),
            JsonRejection::BytesRejection(b) => b.into(),
            // Well-formed JSON that does not fit the shape: a field with a wrong value.
            JsonRejection::JsonDataError(e) => ApiError::Unprocessable(e.body_text()),
            other => ApiError::BadRequest(other.body_text()),
        }
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::BadRequest("the request body could not be read".into())
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Connection;

    use super::*;

    /// SQLite's disk full, for real: a database allowed no more pages than it has.
    #[tokio::test]
    async fn a_full_sqlite_database_answers_503_with_retry_after() {
        let mut db = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .expect("in-memory sqlite");
        sqlx::query("CREATE TABLE texts (body TEXT)")
            .execute(&mut db)
            .await
            .expect("table");
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(&mut db)
            .await
            .expect("page count");
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "PRAGMA max_page_count = {pages}"
        )))
        .execute(&mut db)
        .await
        .expect("cap the pages");
        let error = sqlx::query("INSERT INTO texts (body) VALUES ($1)")
            .bind("x".repeat(64 * 1024))
            .execute(&mut db)
            .await
            .expect_err("the database is full");
        let error = StoreError::from(error);
        assert!(error.is_unavailable(), "{error}");
        let response = ApiError::from(error).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(response.headers().contains_key(header::RETRY_AFTER));
        let stored = ApiError::text_not_stored(StoreError::Corrupt("unreadable".into()));
        assert_eq!(stored.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
