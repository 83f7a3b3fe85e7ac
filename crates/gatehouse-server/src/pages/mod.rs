//! Hosted pages: server-rendered HTML that works without JavaScript and loads nothing
//! from elsewhere (the one script, live password-rule feedback, is same-origin and
//! optional). Templates are embedded and may be replaced, file by file, from
//! `ServerConfig::template_dir` (as the email texts of `gatehouse_services::mail` may).
//!
//! Template syntax: `{{name}}` inserts an HTML-escaped value, `{{{name}}}` a fragment the
//! server built (already escaped). Substitution is one pass, so values can never inject
//! further placeholders.

pub mod cookies;
pub mod home;
pub mod login;
pub mod reset;
pub mod signup;
pub mod social;
pub mod unblock;
pub mod verify;

use crate::error::PageError;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_services::Services;

const EMBEDDED: &[(&str, &str)] = &[
    ("layout.html", include_str!("templates/layout.html")),
    ("login.html", include_str!("templates/login.html")),
    ("error.html", include_str!("templates/error.html")),
    ("message.html", include_str!("templates/message.html")),
    ("signup.html", include_str!("templates/signup.html")),
    ("reset-request.html", include_str!("templates/reset-request.html")),
    ("reset-password.html", include_str!("templates/reset-password.html")),
    ("social_buttons.html", include_str!("templates/social_buttons.html")),
    ("social_button.html", include_str!("templates/social_button.html")),
    ("link.html", include_str!("templates/link.html")),
    ("home.html", include_str!("templates/home.html")),
];

/// A value for a template placeholder.
pub enum Var {
    /// Escaped on insertion.
    Text(String),
    /// Inserted as is: only for fragments built from escaped parts.
    Html(String),
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Fills `template`'s placeholders from `vars`; unknown names become empty.
pub fn fill(template: &str, vars: &[(&str, Var)]) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let (raw, open, close) = if after.starts_with("{{{") { (true, 3, "}}}") } else { (false, 2, "}}") };
        let Some(end) = after[open..].find(close) else {
            out.push_str(after);
            return out;
        };
        let name = after[open..open + end].trim();
        match vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v) {
            Some(Var::Text(v)) => out.push_str(&escape(v)),
            Some(Var::Html(v)) if raw => out.push_str(v),
            // A fragment in an escaping placeholder is still escaped.
            Some(Var::Html(v)) => out.push_str(&escape(v)),
            None => {}
        }
        rest = &after[open + end + close.len()..];
    }
    out.push_str(rest);
    out
}

pub(crate) async fn template(state: &Services, name: &str) -> String {
    gatehouse_services::templates::load(state.config.template_dir.as_deref(), name, EMBEDDED).await
}

/// Only `#rgb`/`#rrggbb` reach the style sheet, so configuration cannot inject CSS.
fn safe_color(c: &str) -> String {
    let hex = c.strip_prefix('#').unwrap_or("");
    if matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        c.to_string()
    } else {
        gatehouse_services::state::Branding::default().primary_color
    }
}

/// An HTML page, with the headers every hosted page carries.
pub struct Page {
    pub status: StatusCode,
    pub html: String,
    pub cookies: Vec<String>,
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let mut r = (self.status, self.html).into_response();
        let h = r.headers_mut();
        h.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(
            HeaderName::from_static("content-security-policy"),
            HeaderValue::from_static(
                "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src https: http: data:; \
                 frame-ancestors 'none'; base-uri 'none'",
            ),
        );
        h.insert(HeaderName::from_static("x-frame-options"), HeaderValue::from_static("DENY"));
        h.insert(HeaderName::from_static("x-content-type-options"), HeaderValue::from_static("nosniff"));
        h.insert(HeaderName::from_static("referrer-policy"), HeaderValue::from_static("no-referrer"));
        for c in self.cookies {
            if let Ok(v) = HeaderValue::from_str(&c) {
                h.append(SET_COOKIE, v);
            }
        }
        r
    }
}

/// Renders `name` inside the layout.
pub async fn render(state: &Services, status: StatusCode, title: &str, name: &str, vars: Vec<(&str, Var)>) -> Page {
    let b = &state.config.branding;
    let mut vars = vars;
    vars.push(("brand_name", Var::Text(b.name.clone())));
    let content = fill(&template(state, name).await, &vars);
    let logo = match &b.logo_url {
        Some(u) if u.starts_with("https://") || u.starts_with("http://") => {
            format!(r#"<img src="{}" alt="{}">"#, escape(u), escape(&b.name))
        }
        _ => String::new(),
    };
    let layout_vars = vec![
        ("title", Var::Text(title.to_string())),
        ("heading", Var::Text(title.to_string())),
        ("brand_name", Var::Text(b.name.clone())),
        ("primary_color", Var::Text(safe_color(&b.primary_color))),
        ("logo", Var::Html(logo)),
        ("content", Var::Html(content)),
    ];
    Page { status, html: fill(&template(state, "layout.html").await, &layout_vars), cookies: Vec::new() }
}

/// The one place page errors become responses: a plain sentence, the error's code, and a
/// tracking id that is also in the server's log line for the error, so an administrator
/// told the id finds what happened (internal details are only in the log).
pub async fn error_page(state: &Services, e: &PageError) -> Page {
    let tracking_id = tracking_id();
    // Only internal errors hide their detail (a provider's failure, 502, is explained).
    let internal = e.status == StatusCode::INTERNAL_SERVER_ERROR;
    if internal {
        tracing::error!(tracking_id = %tracking_id, error = e.error, detail = %e.description, "hosted page internal error");
    } else {
        tracing::info!(tracking_id = %tracking_id, status = e.status.as_u16(), error = e.error, description = %e.description, "hosted page error");
    }
    let description = if internal {
        "Something went wrong on our side. Please try again in a moment.".to_string()
    } else {
        e.description.clone()
    };
    render(
        state,
        e.status,
        "Something went wrong",
        "error.html",
        vec![
            ("error", Var::Text(e.error.to_string())),
            ("description", Var::Text(description)),
            ("tracking_id", Var::Text(tracking_id)),
        ],
    )
    .await
}

/// A short id for one error page: 16 hex digits.
fn tracking_id() -> String {
    let mut id = gatehouse_services::secrets::hash_secret(&gatehouse_services::secrets::random_token());
    id.truncate(16);
    id
}

/// A short message page (e.g. after logout).
pub async fn message_page(state: &Services, title: &str, message: &str) -> Page {
    message_page_with(state, title, message, None).await
}

/// A way back from a message page: where the link goes and what it says.
pub struct WayBack {
    pub href: String,
    pub text: String,
}

/// A message page with, when there is one, a link back to the application or log in.
pub async fn message_page_with(state: &Services, title: &str, message: &str, back: Option<WayBack>) -> Page {
    let back = back
        .map(|b| format!(r#"<p class="links"><a href="{}">{}</a></p>"#, escape(&b.href), escape(&b.text)))
        .unwrap_or_default();
    let vars = vec![("message", Var::Text(message.to_string())), ("back_link", Var::Html(back))];
    render(state, StatusCode::OK, title, "message.html", vars).await
}

/// The way back to an application from a page reached by an emailed link: the origin of
/// its first callback URL (the application's own address), if the client is known and
/// has one.
pub async fn back_to_application(state: &Services, client_id: Option<&str>) -> Result<Option<WayBack>, PageError> {
    let Some(id) = client_id else { return Ok(None) };
    let Some(client) = state.store.client(id).await? else { return Ok(None) };
    let origin = client
        .callbacks
        .iter()
        .filter_map(|c| url::Url::parse(c).ok())
        .find(|u| matches!(u.scheme(), "https" | "http"))
        .map(|u| u.origin().ascii_serialization());
    Ok(origin.map(|o| WayBack { href: format!("{o}/"), text: format!("Back to {}", client.name) }))
}

/// The password field's attributes and the list of its rules (server-rendered, so the
/// rules show without JavaScript; `password-rules.js` marks them live). After a refusal
/// for weakness, `checked` is the refused password's check: each rule is marked ✓ or ✗
/// (in words too, for screen readers), so the page says which rules failed.
pub fn password_field(
    policy: &gatehouse_core::password_policy::PasswordPolicy,
    error: Option<&str>,
    checked: Option<&gatehouse_core::password_policy::Strength>,
) -> (String, String, String) {
    let mark = |code: &str, nested: bool| -> (String, &'static str) {
        let found = checked.and_then(|s| {
            s.rules
                .iter()
                .find(|r| r.code == code && !nested)
                .or_else(|| s.rules.iter().flat_map(|r| r.items.iter()).find(|i| i.code == code && nested))
        });
        match found {
            Some(r) if r.verified => (r#" class="met""#.into(), r#"<span class="visually-hidden said"> (met)</span>"#),
            Some(_) => (r#" class="unmet""#.into(), r#"<span class="visually-hidden said"> (not met)</span>"#),
            None => (String::new(), ""),
        }
    };
    let mut items = String::new();
    for r in policy.strength("").rules {
        let (class, said) = mark(r.code, false);
        items.push_str(&format!(r#"<li data-code="{}"{class}>{}{said}"#, escape(r.code), escape(&r.text())));
        if !r.items.is_empty() {
            items.push_str("<ul>");
            for i in &r.items {
                let (class, said) = mark(i.code, true);
                items.push_str(&format!(
                    r#"<li data-code="{}"{class}>{}{said}</li>"#,
                    escape(i.code),
                    escape(&i.text())
                ));
            }
            items.push_str("</ul>");
        }
        items.push_str("</li>");
    }
    if policy.dictionary.is_some() {
        items.push_str("<li>Not a common password</li>");
    }
    if policy.no_personal_info {
        items.push_str("<li>Not based on your name, username or email address</li>");
    }
    if policy.history_size > 0 {
        items.push_str(&format!("<li>Not one of your last {} passwords</li>", policy.history_size));
    }
    let rules = format!(
        r#"<ul id="password-rules" class="rules">{items}</ul><p id="password-rules-status" class="visually-hidden" aria-live="polite"></p>"#
    );
    let described = if error.is_some() { "password-rules password-error" } else { "password-rules" };
    let mut attrs = format!(
        r#"aria-describedby="{described}" data-password-rules="{}""#,
        escape(&policy.to_client_json().to_string())
    );
    let error_html = match error {
        Some(e) => {
            attrs.push_str(r#" aria-invalid="true""#);
            format!(r#"<p id="password-error" class="field-error">{}</p>"#, escape(e))
        }
        None => String::new(),
    };
    (attrs, error_html, rules)
}

/// What a form says of a refused password, and, when it was too weak, its check for
/// [`password_field`]'s ✓/✗ list.
pub fn refused_password(
    r: gatehouse_core::password_policy::PasswordRejection,
) -> (String, Option<gatehouse_core::password_policy::Strength>) {
    use gatehouse_core::password_policy::PasswordRejection;
    match r {
        PasswordRejection::TooWeak { strength, .. } => {
            ("Password is too weak: it does not meet the rules marked ✗ below.".to_string(), Some(strength))
        }
        other => (other.explanation(), None),
    }
}

/// `GET /u/password-rules.js`.
pub async fn password_rules_script() -> Response {
    let mut r = include_str!("password-rules.js").into_response();
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    h.insert(HeaderName::from_static("x-content-type-options"), HeaderValue::from_static("nosniff"));
    r
}

/// A new browser secret for a page reached without one (a link from an email), and
/// the `Set-Cookie` that stores it.
pub fn browser_secret(state: &Services, headers: &axum::http::HeaderMap) -> (String, Option<String>) {
    match cookies::get(headers, cookies::BROWSER) {
        Some(b) => (b, None),
        None => {
            let b = gatehouse_services::secrets::random_token();
            let c = cookies::set(&state.config, cookies::BROWSER, &b, None);
            (b, Some(c))
        }
    }
}

pub(crate) fn link_invalid() -> PageError {
    PageError::bad_request("invalid_ticket", "This link has expired or has already been used.")
}

/// Spends the `?ticket=` of an emailed link if it is live and of `kind`. The kind is
/// checked before use, so a ticket of another kind is never spent by the wrong page.
pub(crate) async fn use_ticket(
    state: &Services,
    uri: &axum::http::Uri,
    kind: gatehouse_store::TicketKind,
) -> Result<gatehouse_store::Ticket, PageError> {
    let ticket = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "ticket")
        .map(|(_, v)| v.to_string())
        .ok_or_else(link_invalid)?;
    let hash = gatehouse_services::secrets::hash_secret(&ticket);
    let now = state.clock.now().unix_timestamp();
    let live = state.store.live_ticket(&hash, now).await?;
    if !live.is_some_and(|t| t.kind == kind) {
        return Err(link_invalid());
    }
    state.store.consume_ticket(&hash, now).await?.ok_or_else(link_invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_escapes_and_is_single_pass() {
        let vars =
            vec![("a", Var::Text("<b>{{c}}</b>".into())), ("c", Var::Text("x".into())), ("h", Var::Html("<i>".into()))];
        assert_eq!(fill("[{{a}}] {{{h}}} {{h}} {{missing}}", &vars), "[&lt;b&gt;{{c}}&lt;/b&gt;] <i> &lt;i&gt; ");
        assert_eq!(fill("unterminated {{a", &vars), "unterminated {{a");
    }

    #[test]
    fn colours_are_checked() {
        assert_eq!(safe_color("#abc"), "#abc");
        assert_eq!(safe_color("red;} body{display:none"), "#3b5bdb");
    }
}
