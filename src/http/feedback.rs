//! Feedback after care: the summary of patients' ratings per month, with their words for
//! clinicians and admins. The rules are in `crate::app::feedback`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use super::AppState;
use super::auth::Staff;
use super::error::{ApiError, Problem};
use super::extract::ApiQuery;
use crate::app::feedback::{FeedbackQuery, FeedbackSummary};

pub fn router() -> Router<AppState> {
    Router::new().route("/feedback", get(feedback))
}

/// Feedback after discharge: per UK month (of the request), how many requests went, how many
/// were answered, and how many gave each rating from 1 to 5. Clinicians and admins also get
/// the patients' own words (with rating and date, never a name or number), an audited read;
/// other roles get the counts only.
#[utoipa::path(get, path = "/api/v1/feedback", tag = "feedback", params(FeedbackQuery),
    security(("bearer" = [])),
    responses((status = 200, body = FeedbackSummary), (status = 400, body = Problem)))]
pub async fn feedback(
    State(app): State<AppState>,
    staff: Staff,
    ApiQuery(query): ApiQuery<FeedbackQuery>,
) -> Result<Json<FeedbackSummary>, ApiError> {
    Ok(Json(app.services.feedback(&staff.0, query).await?))
}
