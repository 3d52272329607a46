//! The console's pages: minijinja templates from `templates/console/` (every file there,
//! bundled into the binary), escaped as HTML, and the page frame every signed-in page shares
//! (who is signed in, the menu for their role, the CSRF token for its forms).

use std::sync::OnceLock;

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use include_dir::{Dir, include_dir};
use minijinja::Environment;
use serde::Serialize;

use super::SignedIn;
use crate::app;
use crate::domain::role::Role;
use crate::http::error::ApiError;

static TEMPLATES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/templates/console");

/// Every template, named `console/<its path>`.
fn templates() -> Vec<(String, &'static str)> {
    fn walk(dir: &'static Dir<'static>, out: &mut Vec<(String, &'static str)>) {
        for file in dir.files() {
            if let Some(source) = file.contents_utf8() {
                out.push((format!("console/{}", file.path().display()), source));
            }
        }
        for sub in dir.dirs() {
            walk(sub, out);
        }
    }
    let mut out = Vec::new();
    walk(&TEMPLATES, &mut out);
    out
}

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in templates() {
            // The templates are ours and tested; one that does not parse is a build mistake.
            if let Err(error) = env.add_template_owned(name.clone(), source) {
                tracing::error!(%error, template = name, "console template does not parse");
            }
        }
        env
    })
}

/// One error in a form's error summary, linked to its field.
#[derive(Debug, Clone, Serialize)]
pub struct FieldError {
    pub field: &'static str,
    pub text: String,
}

/// A page rendered with `context`, answered with `status`.
pub fn page(status: StatusCode, template: &str, context: impl Serialize) -> Response {
    let rendered = environment()
        .get_template(template)
        .and_then(|t| t.render(minijinja::value::Serde(context)));
    match rendered {
        // Pages about people and sessions are never kept by a browser or a proxy.
        Ok(html) => (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response(),
        Err(error) => {
            tracing::error!(
                error = format!("{error:#}"),
                template,
                "console page did not render"
            );
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CACHE_CONTROL, "no-store")],
                Html("<!doctype html><title>Error</title><p>Something went wrong.</p>"),
            )
                .into_response()
        }
    }
}

/// A page that only says something (an error, an expired link).
pub fn message(
    status: StatusCode,
    heading: &str,
    text: &str,
    link: Option<(&str, &str)>,
) -> Response {
    #[derive(Serialize)]
    struct Link<'a> {
        href: &'a str,
        text: &'a str,
    }
    page(
        status,
        "console/message.html",
        serde_json::json!({
            "heading": heading,
            "text": text,
            "link": link.map(|(href, text)| Link { href, text }),
        }),
    )
}

/// A moment as staff read it, on the team's (UK) clock and the 24-hour clock the console's
/// forms take: "1 December 2026 at 10:00".
pub fn uk_time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.with_timezone(&chrono_tz::Europe::London)
        .format("%-d %B %Y at %H:%M")
        .to_string()
}

/// The parts of the console, as its menu names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Referrals,
    Patients,
    Calls,
    Letters,
    Inbox,
    Admin,
}

impl Section {
    fn href(self) -> &'static str {
        match self {
            Section::Referrals => "/console/referrals",
            Section::Patients => "/console/patients",
            Section::Calls => "/console/calls",
            Section::Letters => "/console/letters",
            Section::Inbox => "/console/inbox",
            Section::Admin => "/console/admin",
        }
    }

    fn text(self) -> &'static str {
        match self {
            Section::Referrals => "Referrals",
            Section::Patients => "Patients",
            Section::Calls => "Call list",
            Section::Letters => "Print list",
            Section::Inbox => "Inbox",
            Section::Admin => "Admin",
        }
    }

    /// The sections a role's menu shows: a scheduler never sees referrals, only admins
    /// administer.
    pub fn for_role(role: Role) -> &'static [Section] {
        use Section::*;
        match role {
            Role::Admin => &[Referrals, Patients, Calls, Letters, Inbox, Admin],
            Role::Clinician => &[Referrals, Patients, Calls, Letters, Inbox],
            Role::Scheduler => &[Patients, Calls, Letters, Inbox],
        }
    }
}

/// Where a role starts after signing in.
pub fn home(role: Role) -> &'static str {
    Section::for_role(role)[0].href()
}

#[derive(Serialize)]
struct NavItem {
    href: &'static str,
    text: &'static str,
    current: bool,
}

impl SignedIn {
    /// A page of the console for the signed-in member of staff, in `section` of the menu:
    /// `context` (a JSON object) gains `user`, `csrf_token`, `nav`, `idle_seconds` and
    /// `flash`.
    pub fn page(
        &self,
        status: StatusCode,
        section: Section,
        template: &str,
        context: serde_json::Value,
    ) -> Response {
        let nav: Vec<NavItem> = Section::for_role(self.user.role)
            .iter()
            .map(|s| NavItem {
                href: s.href(),
                text: s.text(),
                current: *s == section,
            })
            .collect();
        let mut context = match context {
            serde_json::Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        let frame = serde_json::json!({
            "user": self.user,
            "csrf_token": self.csrf_token,
            "nav": nav,
            "idle_seconds": self.idle_seconds,
            "flash": self.flash,
        });
        if let serde_json::Value::Object(frame) = frame {
            context.extend(frame);
        }
        page(status, template, context)
    }

    /// The page for an application error, in the console's words (the status is the one
    /// the JSON API would answer).
    pub fn failure(&self, section: Section, error: app::Error) -> Response {
        let api = ApiError::from(error);
        let status = api.status();
        let (heading, text) = match status {
            StatusCode::NOT_FOUND => ("Page not found", api.to_string()),
            StatusCode::FORBIDDEN => ("You cannot do this with your role", api.to_string()),
            StatusCode::CONFLICT => ("This cannot be done now", api.to_string()),
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => {
                ("There is a problem", api.to_string())
            }
            StatusCode::SERVICE_UNAVAILABLE => (
                "Sorry, the service is unavailable",
                "The database is not answering. Try again in a few seconds.".to_owned(),
            ),
            _ => {
                // Logged here, where the detail is known; the page says nothing of it.
                tracing::error!(error = %api, "console request failed");
                (
                    "Sorry, there is a problem with the service",
                    "Try again later.".to_owned(),
                )
            }
        };
        self.page(
            status,
            section,
            "console/message.html",
            serde_json::json!({ "heading": heading, "text": text }),
        )
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn every_template_parses_and_escapes() {
        let all = templates();
        assert!(all.iter().any(|(name, _)| name == "console/login.html"));
        for (name, _) in &all {
            assert!(environment().get_template(name).is_ok(), "{name}");
        }
        let html = environment()
            .get_template("console/login.html")
            .unwrap()
            .render(minijinja::context! { csrf_token => "t", email => "<script>" })
            .unwrap();
        assert!(html.contains("&lt;script&gt;") && !html.contains("value=\"<script>"));
        assert!(html.contains(r#"name="csrf_token" value="t""#));
    }

    /// Renders `template` with `context` as a page would, failing with minijinja's whole
    /// explanation.
    pub fn render(template: &str, context: serde_json::Value) -> String {
        environment()
            .get_template(template)
            .and_then(|t| t.render(minijinja::value::Serde(context)))
            .unwrap_or_else(|e| panic!("{template}: {e:#}"))
    }
}
