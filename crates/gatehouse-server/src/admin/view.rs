//! The console's HTML: minijinja templates embedded in the binary (autoescaped, parsed
//! once), the one style sheet and script, and the headers every console page carries
//! (a strict CSP: nothing but this origin's own files, no inline code).

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use minijinja::{Environment, UndefinedBehavior, Value};
use std::sync::OnceLock;

const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("templates/layout.html")),
    ("macros.html", include_str!("templates/macros.html")),
    ("message.html", include_str!("templates/message.html")),
    ("home.html", include_str!("templates/home.html")),
    ("users.html", include_str!("templates/users.html")),
    ("user.html", include_str!("templates/user.html")),
    ("user-new.html", include_str!("templates/user-new.html")),
    ("confirm.html", include_str!("templates/confirm.html")),
    ("jobs.html", include_str!("templates/jobs.html")),
    ("actions.html", include_str!("templates/actions.html")),
    ("action.html", include_str!("templates/action.html")),
    ("job.html", include_str!("templates/job.html")),
    ("import.html", include_str!("templates/import.html")),
    ("import-preview.html", include_str!("templates/import-preview.html")),
    ("export.html", include_str!("templates/export.html")),
    ("connections.html", include_str!("templates/connections.html")),
    ("connection.html", include_str!("templates/connection.html")),
    ("logs.html", include_str!("templates/logs.html")),
    ("protection.html", include_str!("templates/protection.html")),
    ("applications.html", include_str!("templates/applications.html")),
    ("application.html", include_str!("templates/application.html")),
    ("branding.html", include_str!("templates/branding.html")),
    ("apis.html", include_str!("templates/apis.html")),
    ("api.html", include_str!("templates/api.html")),
    ("role.html", include_str!("templates/role.html")),
];

pub const STYLE: &str = include_str!("console.css");
pub const SCRIPT: &str = include_str!("console.js");

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        // A name a template misspells is an error in the tests, not an empty string.
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        for (name, source) in TEMPLATES {
            if let Err(e) = env.add_template(name, source) {
                // Caught by every console test; the page then answers 500.
                tracing::error!(template = name, error = %e, "console template does not parse");
            }
        }
        env
    })
}

/// An HTML page of the console.
pub struct Page {
    pub status: StatusCode,
    pub html: String,
    pub cookies: Vec<String>,
}

/// Renders template `name` with `context`.
pub fn render(status: StatusCode, name: &str, context: Value) -> Result<Page, minijinja::Error> {
    let html = environment().get_template(name)?.render(context)?;
    Ok(Page { status, html, cookies: Vec::new() })
}

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn secure_headers(r: &mut Response) {
    let h = r.headers_mut();
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(HeaderName::from_static("content-security-policy"), HeaderValue::from_static(CSP));
    h.insert(HeaderName::from_static("x-frame-options"), HeaderValue::from_static("DENY"));
    h.insert(HeaderName::from_static("x-content-type-options"), HeaderValue::from_static("nosniff"));
    h.insert(HeaderName::from_static("referrer-policy"), HeaderValue::from_static("same-origin"));
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let mut r = (self.status, self.html).into_response();
        r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
        secure_headers(&mut r);
        for c in self.cookies {
            if let Ok(v) = HeaderValue::from_str(&c) {
                r.headers_mut().append(SET_COOKIE, v);
            }
        }
        r
    }
}

/// A `303 See Other` to `location` (after a form, or to sign in), setting `cookies`.
pub fn see_other(location: &str, cookies: Vec<String>) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(axum::http::header::LOCATION, v);
    }
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            r.headers_mut().append(SET_COOKIE, v);
        }
    }
    secure_headers(&mut r);
    r
}

/// The style sheet and the script, cached by browsers for an hour.
pub fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    h.insert(HeaderName::from_static("x-content-type-options"), HeaderValue::from_static("nosniff"));
    r
}

/// `id` as one segment of a console path (ids may hold `|` and other reserved characters).
pub fn path_segment(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        let env = environment();
        for (name, _) in TEMPLATES {
            assert!(env.get_template(name).is_ok(), "{name} does not parse");
        }
    }

    #[test]
    fn values_are_escaped() {
        let page = render(
            StatusCode::OK,
            "message.html",
            minijinja::context! {
                admin => (),
                csrf => "",
                title => "<b>t</b>",
                message => "<script>alert(1)</script>",
                back => (),
            },
        )
        .unwrap_or_else(|e| unreachable!("{e}"));
        assert!(page.html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"), "{}", page.html);
        assert!(!page.html.contains("<script>alert"));
    }
}
