//! The console's pages: minijinja templates from `templates/console/`, bundled into the
//! binary, escaped as HTML.

use std::sync::OnceLock;

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::Environment;
use serde::Serialize;

const TEMPLATES: &[(&str, &str)] = &[
    (
        "console/layout.html",
        include_str!("../../../templates/console/layout.html"),
    ),
    (
        "console/error_summary.html",
        include_str!("../../../templates/console/error_summary.html"),
    ),
    (
        "console/login.html",
        include_str!("../../../templates/console/login.html"),
    ),
    (
        "console/set_password.html",
        include_str!("../../../templates/console/set_password.html"),
    ),
    (
        "console/message.html",
        include_str!("../../../templates/console/message.html"),
    ),
    (
        "console/referrals.html",
        include_str!("../../../templates/console/referrals.html"),
    ),
];

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            // The templates are ours and tested; one that does not parse is a build mistake.
            if let Err(error) = env.add_template(name, source) {
                tracing::error!(%error, template = name, "console template does not parse");
            }
        }
        env
    })
}

/// One error in a form's error summary, linked to its field.
#[derive(Debug, Serialize)]
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
            tracing::error!(%error, template, "console page did not render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn every_template_parses_and_escapes() {
        for (name, _) in TEMPLATES {
            assert!(environment().get_template(name).is_ok(), "{name}");
        }
        let html = environment()
            .get_template("console/login.html")
            .unwrap()
            .render(minijinja::context! { csrf_token => "t", email => "<script>" })
            .unwrap();
        assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"));
        assert!(html.contains(r#"name="csrf_token" value="t""#));
    }
}
