//! The console's static files, embedded in the binary: the NHS.UK frontend's compiled CSS, JS
//! and images and htmx (both vendored under `assets/vendor/`, updated by
//! `scripts/update-frontend`), and the console's own small script and styles
//! (`assets/console/`). Served under `/assets/`, where the NHS.UK CSS looks for its images.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use include_dir::{Dir, include_dir};

static ASSETS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/assets");

/// The file behind a public path under `/assets/`, if there is one.
fn file_for(path: &str) -> Option<&'static [u8]> {
    let inside = match path {
        "nhsuk-frontend.min.css" => "vendor/nhsuk-frontend/nhsuk-frontend.min.css".to_owned(),
        "nhsuk-frontend.min.js" => "vendor/nhsuk-frontend/nhsuk-frontend.min.js".to_owned(),
        "htmx.min.js" => "vendor/htmx/htmx.min.js".to_owned(),
        "console.js" | "console.css" => format!("console/{path}"),
        image => {
            let name = image.strip_prefix("images/")?;
            // One plain file name: no way out of the images folder.
            if name.contains('/') || name.contains("..") {
                return None;
            }
            format!("vendor/nhsuk-frontend/images/{name}")
        }
    };
    ASSETS.get_file(inside).map(|f| f.contents())
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}

/// `GET /assets/{*path}`.
pub async fn asset(Path(path): Path<String>) -> Response {
    match file_for(&path) {
        Some(bytes) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(content_type(&path)),
                ),
                // Nothing personal; an hour keeps pages quick and an upgrade visible soon.
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=3600"),
                ),
            ],
            bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frontend_and_every_image_its_css_names_are_served() {
        for path in [
            "nhsuk-frontend.min.css",
            "nhsuk-frontend.min.js",
            "htmx.min.js",
            "console.js",
            "console.css",
        ] {
            assert!(file_for(path).is_some(), "{path}");
        }
        let css = String::from_utf8_lossy(file_for("nhsuk-frontend.min.css").unwrap_or_default())
            .into_owned();
        let mut named = 0;
        for image in css.split("url(/assets/").skip(1) {
            let path = image.split(')').next().unwrap_or_default();
            assert!(file_for(path).is_some(), "{path}");
            named += 1;
        }
        assert!(named > 0);
        assert!(file_for("images/../LICENSE").is_none());
        assert!(file_for("vendor/htmx/LICENSE").is_none());
    }
}
