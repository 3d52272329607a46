//! The triage queue (`/console/referrals`): urgent first, then oldest, with filters by team,
//! status, urgency, reference or name, route and the way it came in, and the teams' on-call numbers. The first page is
//! live: htmx asks `/console/referrals/live` every few seconds with the queue's stamp, gets
//! 204 while nothing has changed, and otherwise the new table, a new page title and words for
//! the live region when an urgent referral has arrived.

use std::collections::HashSet;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::SignedIn;
use super::pages::Section;
use crate::app::referrals::ReferralQuery;
use crate::domain::referral::{ReferralRoute, ReferralSource, ReferralStatus};
use crate::http::AppState;
use crate::store::Referral;

/// How often the first page asks whether the queue has changed.
pub const POLL_SECONDS: u32 = 5;
/// Referrals a page shows.
const PAGE_SIZE: u32 = 50;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/referrals", get(queue))
        .route("/console/referrals/live", get(live))
}

/// The queue's filters as the page's form sends them: empty means any.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct Filters {
    #[serde(default)]
    team: String,
    #[serde(default)]
    status: String,
    /// `urgent`, `not_urgent` or empty.
    #[serde(default)]
    urgency: String,
    /// A reference or part of a name.
    #[serde(default)]
    q: String,
    /// `crisis`, `discharge_support` or empty.
    #[serde(default)]
    route: String,
    /// `sms`, `phone`, `api` or empty.
    #[serde(default)]
    source: String,
    #[serde(default, skip_serializing)]
    cursor: String,
}

fn some(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

impl Filters {
    fn query(&self) -> ReferralQuery {
        ReferralQuery {
            status: some(&self.status),
            team: some(&self.team),
            urgent: match self.urgency.as_str() {
                "urgent" => Some(true),
                "not_urgent" => Some(false),
                _ => None,
            },
            q: some(&self.q),
            route: some(&self.route),
            source: some(&self.source),
            cursor: some(&self.cursor),
            limit: Some(PAGE_SIZE),
            ..ReferralQuery::default()
        }
    }

    /// The filters as a query string, for the live page's address and the next page's link.
    fn as_query(&self) -> String {
        serde_urlencoded::to_string(self).unwrap_or_default()
    }
}

#[derive(Debug, Deserialize)]
struct LiveQuery {
    #[serde(flatten)]
    filters: Filters,
    /// The stamp of the queue the page shows.
    #[serde(default)]
    stamp: String,
    /// The urgent referrals the page shows, comma-separated ids.
    #[serde(default)]
    known: String,
}

#[derive(Serialize)]
struct Row {
    id: String,
    reference: String,
    urgent: bool,
    risk_signals: Vec<String>,
    team: String,
    status: ReferralStatus,
    incomplete: bool,
    source: ReferralSource,
    route: ReferralRoute,
    created_at: DateTime<Utc>,
    waiting: String,
}

/// How long someone has been waiting, in the few words a queue needs.
pub fn waiting(since: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let minutes = (now - since).num_minutes().max(0);
    match minutes {
        0 => "just now".to_owned(),
        1 => "1 minute".to_owned(),
        m if m < 60 => format!("{m} minutes"),
        m if m < 48 * 60 => {
            let (h, m) = (m / 60, m % 60);
            let hours = if h == 1 {
                "1 hour".to_owned()
            } else {
                format!("{h} hours")
            };
            if m == 0 {
                hours
            } else {
                format!("{hours} {m} min")
            }
        }
        m => format!("{} days", m / (24 * 60)),
    }
}

struct Table {
    rows: Vec<Row>,
    next_cursor: Option<String>,
    stamp: String,
    urgent_ids: Vec<String>,
}

async fn read(
    app: &AppState,
    signed_in: &SignedIn,
    filters: &Filters,
) -> Result<Table, crate::app::Error> {
    let actor = signed_in.user.actor();
    let query = filters.query();
    // The stamp first: a change landing between the two reads shows next time.
    let stamp = app.services.referral_queue_stamp(&actor, &query).await?;
    let page = app.services.referrals(&actor, query).await?;
    let now = app.clock.now();
    let teams = &app.intake.teams;
    let rows: Vec<Row> = page
        .items
        .into_iter()
        .map(|r: Referral| Row {
            waiting: waiting(r.created_at, now),
            team: teams
                .get(&r.team)
                .map_or_else(|| r.team.clone(), |t| t.name.clone()),
            id: r.id.to_string(),
            reference: r.reference,
            urgent: r.urgent,
            risk_signals: r.risk_signals,
            status: r.status,
            incomplete: r.incomplete,
            source: r.source,
            route: r.route,
            created_at: r.created_at,
        })
        .collect();
    let urgent_ids = rows
        .iter()
        .filter(|r| r.urgent)
        .map(|r| r.id.clone())
        .collect();
    Ok(Table {
        rows,
        next_cursor: page.next_cursor,
        stamp,
        urgent_ids,
    })
}

fn table_context(filters: &Filters, table: &Table, live: bool) -> serde_json::Value {
    serde_json::json!({
        "rows": table.rows,
        "live": live,
        "poll_seconds": POLL_SECONDS,
        "filter_query": filters.as_query(),
        "stamp": table.stamp,
        "known": table.urgent_ids.join(","),
        "next_cursor": table.next_cursor,
        "urgent_count": table.rows.iter().filter(|r| r.urgent).count(),
    })
}

async fn queue(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Query(filters): Query<Filters>,
) -> Response {
    let table = match read(&app, &signed_in, &filters).await {
        Ok(table) => table,
        Err(error) => return signed_in.failure(Section::Referrals, error),
    };
    let teams: Vec<serde_json::Value> = app
        .intake
        .teams
        .all()
        .iter()
        .map(|t| {
            serde_json::json!({
                "id": t.id,
                "name": t.name,
                "on_call": t.on_call.iter().map(|n| n.e164()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let statuses: Vec<&str> = ReferralStatus::ALL.iter().map(|s| s.as_str()).collect();
    let mut context = table_context(&filters, &table, filters.cursor.is_empty());
    if let serde_json::Value::Object(map) = &mut context {
        map.insert("filters".into(), serde_json::json!(filters));
        map.insert("teams".into(), serde_json::json!(teams));
        map.insert("statuses".into(), serde_json::json!(statuses));
    }
    signed_in.page(
        StatusCode::OK,
        Section::Referrals,
        "console/queue/page.html",
        context,
    )
}

/// `GET /console/referrals/live`: 204 while the queue is as the page shows it; otherwise the
/// new table, and the news of any urgent referral the page did not show.
async fn live(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Query(query): Query<LiveQuery>,
) -> Response {
    let actor = signed_in.user.actor();
    match app
        .services
        .referral_queue_stamp(&actor, &query.filters.query())
        .await
    {
        Ok(stamp) if stamp == query.stamp => return StatusCode::NO_CONTENT.into_response(),
        Ok(_) => {}
        Err(error) => return signed_in.failure(Section::Referrals, error),
    }
    let table = match read(&app, &signed_in, &query.filters).await {
        Ok(table) => table,
        Err(error) => return signed_in.failure(Section::Referrals, error),
    };
    let known: HashSet<&str> = query.known.split(',').collect();
    let arrived: Vec<&str> = table
        .rows
        .iter()
        .filter(|r| r.urgent && !known.contains(r.id.as_str()))
        .map(|r| r.reference.as_str())
        .collect();
    let mut context = table_context(&query.filters, &table, true);
    if let serde_json::Value::Object(map) = &mut context {
        map.insert("arrived".into(), serde_json::json!(arrived));
    }
    signed_in.page(
        StatusCode::OK,
        Section::Referrals,
        "console/queue/live.html",
        context,
    )
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    #[test]
    fn waiting_is_said_in_few_words() {
        let now = Utc::now();
        let ago = |m: i64| waiting(now - TimeDelta::minutes(m), now);
        assert_eq!(ago(0), "just now");
        assert_eq!(ago(1), "1 minute");
        assert_eq!(ago(59), "59 minutes");
        assert_eq!(ago(60), "1 hour");
        assert_eq!(ago(125), "2 hours 5 min");
        assert_eq!(ago(3 * 24 * 60), "3 days");
        assert_eq!(waiting(now + TimeDelta::minutes(5), now), "just now");
    }

    #[test]
    fn the_live_table_names_its_stamp_and_announces_what_arrived() {
        let html = crate::http::console::pages::tests::render(
            "console/queue/live.html",
            serde_json::json!({
                "rows": [{"id": "01J", "reference": "CRHT-7K3M9Q", "urgent": true,
                          "risk_signals": ["suicidal_intent"], "team": "Leeds",
                          "status": "submitted", "created_at": "2026-11-29T10:00:00Z",
                          "waiting": "5 minutes"}],
                "live": true, "poll_seconds": 5, "filter_query": "team=&status=&urgency=&q=",
                "stamp": "1-2", "known": "", "next_cursor": "abc/+", "urgent_count": 1,
                "arrived": ["CRHT-7K3M9Q"],
            }),
        );
        assert!(html.contains("<title>(1) New urgent referral"), "{html}");
        assert!(html.contains("stamp=1-2&amp;known="), "{html}");
        assert!(html.contains("suicidal intent") && html.contains(">Urgent<"));
        // A `+` in a cursor would read as a space: it is escaped.
        assert!(html.contains("cursor=abc&#x2f;%2B"), "{html}");
        assert!(html.contains(r#"hx-swap-oob="innerHTML">"#));
    }

    #[test]
    fn filters_become_the_api_query() {
        let filters = Filters {
            team: "north".into(),
            status: String::new(),
            urgency: "urgent".into(),
            q: "  ".into(),
            route: "discharge_support".into(),
            source: String::new(),
            cursor: String::new(),
        };
        let query = filters.query();
        assert_eq!(query.team.as_deref(), Some("north"));
        assert_eq!(query.urgent, Some(true));
        assert_eq!(query.route.as_deref(), Some("discharge_support"));
        assert!(query.status.is_none() && query.q.is_none() && query.source.is_none());
        assert_eq!(
            filters.as_query(),
            "team=north&status=&urgency=urgent&q=++&route=discharge_support&source="
        );
    }
}
