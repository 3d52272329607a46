//! The console's admin pages (`/console/admin/…`), for admins only: staff accounts (listed,
//! and made with a one-time set-password link), API tokens (made, shown once, revoked after
//! a confirm step), the teams and their numbers as the teams file has them, and the audit log
//! with its CSV export. Every rule is `app::staff::Accounts`' or `app::Services`', as for the
//! command line and the JSON API: anyone but an admin gets the 403 page from them.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::SignedIn;
use super::csrf::CsrfForm;
use super::pages::Section;
use super::work::when;
use crate::app::Error;
use crate::app::audit::AuditQuery;
use crate::app::staff::{NewToken, NewUser};
use crate::domain::role::Role;
use crate::http::AppState;

/// Where a secret waits, in the session, for the one page that shows it (a token, a
/// set-password link): that page takes it out.
const SHOWN_ONCE_KEY: &str = "admin_shown_once";
/// Audit entries a page shows.
const AUDIT_PAGE_SIZE: u32 = 100;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/admin", get(hub))
        .route("/console/admin/users", get(users))
        .route("/console/admin/users/new", get(new_user).post(create_user))
        .route("/console/admin/users/created", get(user_created))
        .route(
            "/console/admin/users/{id}/deactivate",
            post(deactivate_user),
        )
        .route("/console/admin/tokens", get(tokens).post(create_token))
        .route("/console/admin/tokens/created", get(token_created))
        .route("/console/admin/tokens/{id}/revoke", post(revoke_token))
        .route("/console/admin/teams", get(teams))
        .route("/console/admin/audit", get(audit))
        .route("/console/admin/audit/export.csv", get(audit_export))
}

/// The 403 page for anyone but an admin, on the pages that read nothing audited.
fn refusal(app: &AppState, signed_in: &SignedIn) -> Option<Response> {
    app.services
        .accounts()
        .admin_only(&signed_in.user.actor())
        .err()
        .map(|error| signed_in.failure(Section::Admin, error))
}

/// `GET /console/admin`: the admin pages.
async fn hub(State(app): State<AppState>, signed_in: SignedIn) -> Response {
    if let Some(response) = refusal(&app, &signed_in) {
        return response;
    }
    signed_in.page(
        StatusCode::OK,
        Section::Admin,
        "console/admin/hub.html",
        serde_json::json!({}),
    )
}

#[derive(Serialize)]
struct UserRow {
    name: String,
    id: String,
    email: String,
    role: Role,
    teams: Vec<String>,
    /// `active`, `locked`, `no_password` or `deactivated`.
    state: &'static str,
    locked_until: Option<String>,
}

/// `GET /console/admin/users`: every staff account.
async fn users(State(app): State<AppState>, signed_in: SignedIn) -> Response {
    let accounts = app.services.accounts();
    let users = match accounts.users(&signed_in.user.actor()).await {
        Ok(users) => users,
        Err(error) => return signed_in.failure(Section::Admin, error),
    };
    let now = accounts.now();
    let teams = &app.intake.teams;
    let rows: Vec<UserRow> = users
        .into_iter()
        .map(|u| {
            let locked = u.locked_until.filter(|until| *until > now);
            UserRow {
                state: if !u.active {
                    "deactivated"
                } else if locked.is_some() {
                    "locked"
                } else if u.password_hash.is_none() {
                    "no_password"
                } else {
                    "active"
                },
                locked_until: locked.map(when),
                teams: u
                    .teams
                    .iter()
                    .map(|t| teams.get(t).map_or_else(|| t.clone(), |t| t.name.clone()))
                    .collect(),
                id: u.id,
                name: u.name,
                email: u.email,
                role: u.role,
            }
        })
        .collect();
    signed_in.page(
        StatusCode::OK,
        Section::Admin,
        "console/admin/users.html",
        serde_json::json!({ "rows": rows, "me": signed_in.user.id }),
    )
}

#[derive(Debug, Default, Deserialize, Serialize)]
struct UserForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    team: String,
}

/// One error in a form, linked to its field.
#[derive(Debug, Serialize)]
struct FormError {
    field: &'static str,
    text: String,
}

fn user_form(
    app: &AppState,
    signed_in: &SignedIn,
    status: StatusCode,
    form: &UserForm,
    errors: Vec<FormError>,
) -> Response {
    let teams: Vec<serde_json::Value> = app
        .intake
        .teams
        .all()
        .iter()
        .map(|t| serde_json::json!({ "value": t.id, "text": t.name }))
        .collect();
    let roles: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
    signed_in.page(
        status,
        Section::Admin,
        "console/admin/user_new.html",
        serde_json::json!({
            "form": form,
            "errors": errors,
            "teams": teams,
            "roles": roles,
        }),
    )
}

/// `GET /console/admin/users/new`: the form for a new account.
async fn new_user(State(app): State<AppState>, signed_in: SignedIn) -> Response {
    if let Some(response) = refusal(&app, &signed_in) {
        return response;
    }
    user_form(
        &app,
        &signed_in,
        StatusCode::OK,
        &UserForm::default(),
        Vec::new(),
    )
}

/// Which field an `Invalid` error from `Accounts` is about: its text starts with the field's
/// name ("email: not an email address").
fn field_of(text: &str, fields: &[&'static str], otherwise: &'static str) -> &'static str {
    fields
        .iter()
        .find(|f| {
            text.strip_prefix(**f)
                .is_some_and(|rest| rest.starts_with(':'))
        })
        .copied()
        .unwrap_or(otherwise)
}

/// What the one page after a form shows once.
#[derive(Debug, Serialize, Deserialize)]
struct ShownOnce {
    /// `token` or `user`.
    kind: String,
    /// The token's or the account's name.
    name: String,
    /// The token's id, or the account's email.
    about: String,
    /// The token, or the set-password link.
    secret: String,
}

async fn show_once(signed_in: &SignedIn, shown: ShownOnce, then: &str) -> Response {
    match signed_in.session.insert(SHOWN_ONCE_KEY, shown).await {
        Ok(()) => Redirect::to(then).into_response(),
        Err(error) => super::csrf::session_failed(&error),
    }
}

/// Takes the secret out of the session: it is shown on this page alone.
async fn take_shown(signed_in: &SignedIn, kind: &str) -> Result<Option<ShownOnce>, Response> {
    let shown: Option<ShownOnce> = signed_in
        .session
        .remove(SHOWN_ONCE_KEY)
        .await
        .map_err(|error| super::csrf::session_failed(&error))?;
    Ok(shown.filter(|s| s.kind == kind))
}

/// `POST /console/admin/users/new`: makes the account, without a password: its owner sets
/// one through the link shown once on the next page.
async fn create_user(
    State(app): State<AppState>,
    signed_in: SignedIn,
    CsrfForm(form): CsrfForm<UserForm>,
) -> Response {
    let mut errors = Vec::new();
    if form.email.trim().is_empty() {
        errors.push(FormError {
            field: "email",
            text: "Enter their email address".into(),
        });
    }
    if form.name.trim().is_empty() {
        errors.push(FormError {
            field: "name",
            text: "Enter their name".into(),
        });
    }
    let role = Role::parse(form.role.trim());
    if role.is_none() {
        errors.push(FormError {
            field: "role",
            text: "Select a role".into(),
        });
    }
    let (Some(role), true) = (role, errors.is_empty()) else {
        return user_form(
            &app,
            &signed_in,
            StatusCode::UNPROCESSABLE_ENTITY,
            &form,
            errors,
        );
    };
    let team = form.team.trim();
    let input = NewUser {
        email: form.email.clone(),
        name: form.name.clone(),
        role,
        teams: if team.is_empty() {
            Vec::new()
        } else {
            vec![team.to_owned()]
        },
    };
    let created = app
        .services
        .accounts()
        .create_user(&signed_in.user.actor(), input, None, &app.intake.teams)
        .await;
    let problem = match created {
        Ok(created) => {
            let Some(secret) = created.set_password_token else {
                return Redirect::to("/console/admin/users").into_response();
            };
            let mut link = match app.config.public_url.join("set-password") {
                Ok(link) => link,
                Err(error) => {
                    return signed_in.failure(Section::Admin, Error::Internal(error.into()));
                }
            };
            link.query_pairs_mut().append_pair("token", &secret);
            let shown = ShownOnce {
                kind: "user".into(),
                name: created.user.name,
                about: created.user.email,
                secret: link.to_string(),
            };
            return show_once(&signed_in, shown, "/console/admin/users/created").await;
        }
        Err(Error::Invalid(text)) => FormError {
            field: field_of(&text, &["email", "name", "team"], "email"),
            text: text
                .split_once(": ")
                .map_or(text.as_str(), |(_, t)| t)
                .to_owned(),
        },
        Err(Error::Conflict(text)) => FormError {
            field: "email",
            text,
        },
        Err(error) => return signed_in.failure(Section::Admin, error),
    };
    user_form(
        &app,
        &signed_in,
        StatusCode::UNPROCESSABLE_ENTITY,
        &form,
        vec![problem],
    )
}

/// `GET /console/admin/users/created`: the new account's set-password link, once.
async fn user_created(State(app): State<AppState>, signed_in: SignedIn) -> Response {
    if let Some(response) = refusal(&app, &signed_in) {
        return response;
    }
    match take_shown(&signed_in, "user").await {
        Ok(Some(shown)) => signed_in.page(
            StatusCode::OK,
            Section::Admin,
            "console/admin/shown_once.html",
            serde_json::json!({ "shown": shown }),
        ),
        Ok(None) => Redirect::to("/console/admin/users").into_response(),
        Err(response) => response,
    }
}

#[derive(Debug, Default, Deserialize, Serialize)]
struct TokenForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    /// The owner's email; empty for a named service's token.
    #[serde(default)]
    owner: String,
    /// How long it works, as `30d` or `12h`; empty: until revoked.
    #[serde(default)]
    expires_in: String,
}

#[derive(Serialize)]
struct TokenRow {
    id: String,
    name: String,
    role: Role,
    owner: Option<String>,
    created: String,
    expires: Option<String>,
    expired: bool,
    last_used: Option<String>,
    revoked: Option<String>,
}

async fn token_page(
    app: &AppState,
    signed_in: &SignedIn,
    status: StatusCode,
    form: &TokenForm,
    errors: Vec<FormError>,
) -> Response {
    let accounts = app.services.accounts();
    let tokens = match accounts.tokens(&signed_in.user.actor()).await {
        Ok(tokens) => tokens,
        Err(error) => return signed_in.failure(Section::Admin, error),
    };
    let now = accounts.now();
    let rows: Vec<TokenRow> = tokens
        .into_iter()
        .map(|t| TokenRow {
            expired: t.expires_at.is_some_and(|at| at <= now),
            id: t.id,
            name: t.name,
            role: t.role,
            owner: t.owner_email,
            created: when(t.created_at),
            expires: t.expires_at.map(when),
            last_used: t.last_used_at.map(when),
            revoked: t.revoked_at.map(when),
        })
        .collect();
    let roles: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
    signed_in.page(
        status,
        Section::Admin,
        "console/admin/tokens.html",
        serde_json::json!({
            "rows": rows,
            "form": form,
            "errors": errors,
            "roles": roles,
        }),
    )
}

/// `GET /console/admin/tokens`: every API token, and the form for a new one.
async fn tokens(State(app): State<AppState>, signed_in: SignedIn) -> Response {
    token_page(
        &app,
        &signed_in,
        StatusCode::OK,
        &TokenForm::default(),
        Vec::new(),
    )
    .await
}

/// `POST /console/admin/tokens`: makes a token (as `token create` does), shown once on the
/// next page.
async fn create_token(
    State(app): State<AppState>,
    signed_in: SignedIn,
    CsrfForm(form): CsrfForm<TokenForm>,
) -> Response {
    let mut errors = Vec::new();
    if form.name.trim().is_empty() {
        errors.push(FormError {
            field: "token-name",
            text: "Enter a name for the token".into(),
        });
    }
    let role = Role::parse(form.role.trim());
    if role.is_none() {
        errors.push(FormError {
            field: "token-role",
            text: "Select the token's role".into(),
        });
    }
    let expires_in = match form.expires_in.trim() {
        "" => None,
        text => match humantime::parse_duration(text)
            .ok()
            .and_then(|d| chrono::TimeDelta::from_std(d).ok())
            .filter(|d| *d > chrono::TimeDelta::zero())
        {
            Some(d) => Some(d),
            None => {
                errors.push(FormError {
                    field: "token-expires",
                    text: "Enter how long the token works, like 30d or 12h, or leave it empty"
                        .into(),
                });
                None
            }
        },
    };
    let (Some(role), true) = (role, errors.is_empty()) else {
        return token_page(
            &app,
            &signed_in,
            StatusCode::UNPROCESSABLE_ENTITY,
            &form,
            errors,
        )
        .await;
    };
    let owner = form.owner.trim();
    let input = NewToken {
        name: form.name.clone(),
        role,
        owner_email: (!owner.is_empty()).then(|| owner.to_owned()),
        expires_in,
    };
    let problem = match app
        .services
        .accounts()
        .create_token_by(&signed_in.user.actor(), input)
        .await
    {
        Ok(created) => {
            let shown = ShownOnce {
                kind: "token".into(),
                name: form.name.trim().to_owned(),
                about: created.id,
                secret: created.secret,
            };
            return show_once(&signed_in, shown, "/console/admin/tokens/created").await;
        }
        Err(Error::Invalid(text)) => {
            let field = match field_of(&text, &["name", "user", "expires in"], "name") {
                "user" => "token-owner",
                "expires in" => "token-expires",
                _ => "token-name",
            };
            FormError {
                field,
                text: text
                    .split_once(": ")
                    .map_or(text.as_str(), |(_, t)| t)
                    .to_owned(),
            }
        }
        // No account has the owner's email.
        Err(Error::NotFound(text)) => FormError {
            field: "token-owner",
            text,
        },
        Err(error) => return signed_in.failure(Section::Admin, error),
    };
    token_page(
        &app,
        &signed_in,
        StatusCode::UNPROCESSABLE_ENTITY,
        &form,
        vec![problem],
    )
    .await
}

/// `GET /console/admin/tokens/created`: the new token, once.
async fn token_created(State(app): State<AppState>, signed_in: SignedIn) -> Response {
    if let Some(response) = refusal(&app, &signed_in) {
        return response;
    }
    match take_shown(&signed_in, "token").await {
        Ok(Some(shown)) => signed_in.page(
            StatusCode::OK,
            Section::Admin,
            "console/admin/shown_once.html",
            serde_json::json!({ "shown": shown }),
        ),
        Ok(None) => Redirect::to("/console/admin/tokens").into_response(),
        Err(response) => response,
    }
}

#[derive(Debug, Deserialize)]
struct RevokeForm {
    /// `yes` from the confirm page; otherwise the confirm page is shown.
    #[serde(default)]
    confirm: String,
}

/// `POST /console/admin/tokens/{id}/revoke`: first the confirm page, then (with
/// `confirm=yes`) the revocation.
async fn revoke_token(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<RevokeForm>,
) -> Response {
    let accounts = app.services.accounts();
    let actor = signed_in.user.actor();
    if form.confirm != "yes" {
        let token = match accounts.tokens(&actor).await {
            Ok(tokens) => tokens.into_iter().find(|t| t.id == id),
            Err(error) => return signed_in.failure(Section::Admin, error),
        };
        let Some(token) = token else {
            return signed_in.failure(Section::Admin, Error::NotFound(format!("no token {id}")));
        };
        return signed_in.page(
            StatusCode::OK,
            Section::Admin,
            "console/admin/revoke.html",
            serde_json::json!({
                "token": {
                    "id": token.id,
                    "name": token.name,
                    "role": token.role,
                    "owner": token.owner_email,
                },
            }),
        );
    }
    match accounts.revoke_token(&actor, &id).await {
        Ok(()) => {
            if let Err(response) = super::flash(&signed_in.session, "Token revoked").await {
                return response;
            }
            Redirect::to("/console/admin/tokens").into_response()
        }
        Err(error) => signed_in.failure(Section::Admin, error),
    }
}

/// `POST /console/admin/users/{id}/deactivate`: first the confirm page, then (with
/// `confirm=yes`) the account is deactivated: a leaver's sessions and tokens stop working.
async fn deactivate_user(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<RevokeForm>,
) -> Response {
    let accounts = app.services.accounts();
    let actor = signed_in.user.actor();
    if form.confirm != "yes" {
        let user = match accounts.users(&actor).await {
            Ok(users) => users.into_iter().find(|u| u.id == id && u.active),
            Err(error) => return signed_in.failure(Section::Admin, error),
        };
        let Some(user) = user else {
            return signed_in.failure(
                Section::Admin,
                Error::NotFound(format!("no active account {id}")),
            );
        };
        return signed_in.page(
            StatusCode::OK,
            Section::Admin,
            "console/admin/deactivate.html",
            serde_json::json!({
                "account": { "id": user.id, "name": user.name, "email": user.email,
                             "role": user.role },
            }),
        );
    }
    match accounts.deactivate_user(&actor, &id).await {
        Ok(()) => {
            if let Err(response) = super::flash(&signed_in.session, "Account deactivated").await {
                return response;
            }
            Redirect::to("/console/admin/users").into_response()
        }
        Err(error) => signed_in.failure(Section::Admin, error),
    }
}

/// `GET /console/admin/teams`: the teams and their numbers, as the teams file says.
async fn teams(State(app): State<AppState>, signed_in: SignedIn) -> Response {
    if let Some(response) = refusal(&app, &signed_in) {
        return response;
    }
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
                "escalation": t.escalation.iter().map(|n| n.e164()).collect::<Vec<_>>(),
                "postcode_areas": t.postcode_areas,
                "towns": t.towns,
            })
        })
        .collect();
    signed_in.page(
        StatusCode::OK,
        Section::Admin,
        "console/admin/teams.html",
        serde_json::json!({
            "teams": teams,
            "default_team": app.intake.teams.default_team().name,
            "file": app.config.teams_file.as_ref().map(|p| p.display().to_string()),
        }),
    )
}

/// The audit log's filters as the page's form sends them: empty means any.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
struct AuditFilters {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    target: String,
    /// A day, `YYYY-MM-DD`, from its start on the UK clock.
    #[serde(default)]
    from: String,
    /// A day, `YYYY-MM-DD`, to its end on the UK clock.
    #[serde(default)]
    to: String,
    #[serde(default, skip_serializing)]
    cursor: String,
}

/// The start of a day on the UK clock.
fn start_of(day: NaiveDate) -> Option<DateTime<Utc>> {
    chrono_tz::Europe::London
        .from_local_datetime(&day.and_hms_opt(0, 0, 0)?)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

impl AuditFilters {
    fn some(text: &str) -> Option<String> {
        let text = text.trim();
        (!text.is_empty()).then(|| text.to_owned())
    }

    /// The API's query, or the fields that are not dates.
    fn query(&self) -> Result<AuditQuery, Vec<FormError>> {
        let mut errors = Vec::new();
        let mut day = |text: &str, field: &'static str, next: bool| {
            let text = text.trim();
            if text.is_empty() {
                return None;
            }
            let at = NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|d| if next { d.succ_opt() } else { Some(d) })
                .and_then(start_of);
            if at.is_none() {
                errors.push(FormError {
                    field,
                    text: "Enter a date like 2026-11-29".into(),
                });
            }
            at
        };
        let from = day(&self.from, "from", false);
        let to = day(&self.to, "to", true);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(AuditQuery {
            actor: Self::some(&self.actor),
            target: Self::some(&self.target),
            from,
            to,
            cursor: Self::some(&self.cursor),
            limit: Some(AUDIT_PAGE_SIZE),
            ..AuditQuery::default()
        })
    }

    fn as_query(&self) -> String {
        serde_urlencoded::to_string(self).unwrap_or_default()
    }
}

#[derive(Serialize)]
struct AuditRow {
    at: DateTime<Utc>,
    when: String,
    actor: String,
    role: String,
    action: String,
    target: String,
    note: Option<String>,
}

/// `GET /console/admin/audit`: the audit log, newest first, filtered and paged.
async fn audit(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Query(filters): Query<AuditFilters>,
) -> Response {
    let (status, errors, rows, next_cursor) = match filters.query() {
        Ok(query) => match app.services.audit_log(&signed_in.user.actor(), query).await {
            Ok(page) => {
                let rows: Vec<AuditRow> = page
                    .items
                    .into_iter()
                    .map(|r| {
                        let e = r.entry;
                        AuditRow {
                            at: e.at,
                            when: when(e.at),
                            actor: e.actor,
                            role: e.role.to_string(),
                            action: e.action.to_string(),
                            target: e.target,
                            note: e.note,
                        }
                    })
                    .collect();
                (StatusCode::OK, Vec::new(), rows, page.next_cursor)
            }
            Err(error) => return signed_in.failure(Section::Admin, error),
        },
        Err(errors) => {
            // The filters were not right: still only for admins.
            if let Some(response) = refusal(&app, &signed_in) {
                return response;
            }
            (StatusCode::UNPROCESSABLE_ENTITY, errors, Vec::new(), None)
        }
    };
    signed_in.page(
        status,
        Section::Admin,
        "console/admin/audit.html",
        serde_json::json!({
            "rows": rows,
            "errors": errors,
            "filters": filters,
            "filter_query": filters.as_query(),
            "next_cursor": next_cursor,
        }),
    )
}

/// `GET /console/admin/audit/export.csv`: the entries the filters match, as the JSON API's
/// export writes them (and audited as `audit.export`).
async fn audit_export(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Query(filters): Query<AuditFilters>,
) -> Response {
    let query = match filters.query() {
        Ok(query) => AuditQuery {
            cursor: None,
            limit: None,
            ..query
        },
        Err(errors) => {
            let text = errors
                .into_iter()
                .map(|e| format!("{}: {}", e.field, e.text))
                .collect::<Vec<_>>()
                .join("; ");
            return signed_in.failure(Section::Admin, Error::Invalid(text));
        }
    };
    match app
        .services
        .audit_export(&signed_in.user.actor(), query)
        .await
    {
        Ok(rows) => crate::http::staff_audit::csv_response(rows).into_response(),
        Err(error) => signed_in.failure(Section::Admin, error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_days_are_whole_days_on_the_uk_clock() {
        let filters = AuditFilters {
            from: "2026-07-01".into(),
            to: "2026-07-01".into(),
            actor: " ann@example.org ".into(),
            ..AuditFilters::default()
        };
        let query = filters.query().unwrap_or_default();
        assert_eq!(query.actor.as_deref(), Some("ann@example.org"));
        assert_eq!(
            query.from.map(|t| t.to_rfc3339()).as_deref(),
            Some("2026-06-30T23:00:00+00:00")
        );
        assert_eq!(
            query.to.map(|t| t.to_rfc3339()).as_deref(),
            Some("2026-07-01T23:00:00+00:00")
        );
        let bad = AuditFilters {
            from: "yesterday".into(),
            ..AuditFilters::default()
        };
        assert!(matches!(bad.query(), Err(e) if e[0].field == "from"));
    }

    #[test]
    fn accounts_errors_name_their_field() {
        let fields = ["email", "name", "team"];
        assert_eq!(field_of("team: x is not a team", &fields, "email"), "team");
        assert_eq!(field_of("something else", &fields, "email"), "email");
    }
}
