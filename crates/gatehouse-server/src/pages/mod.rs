//! Hosted pages: server-rendered HTML that works without JavaScript and loads nothing
//! from elsewhere (the one script, live password-rule feedback, is same-origin and
//! optional). Templates are minijinja, embedded, and may be replaced file by file from
//! `ServerConfig::template_dir` ([`view`]), as the email texts of
//! `gatehouse_services::mail` may.

pub mod co_verify;
pub mod cookies;
pub mod home;
pub mod login;
pub mod mfa;
pub mod passkeys;
pub mod passwordless;
pub mod reset;
pub mod signup;
pub mod social;
pub mod unblock;
pub mod verify;
pub mod view;

use crate::error::PageError;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_services::Services;
use minijinja::{context, Value};
use serde::Serialize;

/// HTML-escapes text (`&<>"'`), as the templates do.
pub use gatehouse_services::liquid_templates::escape_html as escape;

/// The brand as every page shows it: checked colours, and a logo only from an
/// `http(s)` URL.
#[derive(Debug, Clone, Serialize)]
pub struct BrandView {
    pub name: String,
    pub logo_url: Option<String>,
    pub primary_color: String,
    pub page_background: String,
}

impl BrandView {
    /// A brand is checked when it is set; a value that slipped past is replaced by the
    /// default here, so nothing unchecked reaches the style sheet or an attribute.
    pub fn of(b: &gatehouse_services::state::Branding) -> Self {
        use gatehouse_core::branding::{check_color, check_image_url};
        let defaults = gatehouse_services::state::Branding::default();
        let color = |c: &str, default: String| if check_color("", c).is_ok() { c.to_string() } else { default };
        Self {
            name: b.name.clone(),
            logo_url: b.logo_url.clone().filter(|u| check_image_url("", u).is_ok()),
            primary_color: color(&b.primary_color, defaults.primary_color),
            page_background: color(&b.page_background, defaults.page_background),
        }
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

/// How the hosted pages look right now: the brand in force and Auth0's page template, if
/// one is stored. A store that cannot be read leaves the configured brand and the layout
/// (the page still answers).
pub struct Look {
    pub brand: BrandView,
    pub page_template: Option<String>,
}

impl Look {
    pub async fn current(state: &Services) -> Self {
        let brand = gatehouse_services::branding::effective(state).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read the branding settings");
            state.config.branding.clone()
        });
        let page_template = gatehouse_services::page_template::stored(state).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read the page template");
            None
        });
        Self { brand: BrandView::of(&brand), page_template }
    }
}

/// Renders page template `name` with `context`, inside the layout, as the pages look now.
pub async fn render(state: &Services, status: StatusCode, title: &str, name: &'static str, context: Value) -> Page {
    render_in(state, &Look::current(state).await, status, title, name, context).await
}

/// [`render`] in a given look (the console's preview shows one not yet saved).
pub async fn render_in(
    state: &Services,
    look: &Look,
    status: StatusCode,
    title: &str,
    name: &'static str,
    context: Value,
) -> Page {
    let dir = state.config.template_dir.as_deref();
    let brand = &look.brand;
    let application_name = context.get_attr("client_name").ok().and_then(|v| v.as_str().map(str::to_string));
    let page = async {
        let content = view::render(dir, name, context! { brand, title, ..context }).await?;
        let content = Value::from_safe_string(content);
        if let Some(source) = &look.page_template {
            let head = view::render(dir, "head.html", context! { brand, title }).await?;
            let widget = view::render(dir, "widget.html", context! { brand, title, content }).await?;
            let facts = gatehouse_services::page_template::PageFacts {
                application_name,
                tenant_name: brand.name.clone(),
                logo_url: brand.logo_url.clone(),
                primary_color: brand.primary_color.clone(),
                page_background: brand.page_background.clone(),
                prompt: name.trim_end_matches(".html").to_string(),
            };
            match gatehouse_services::page_template::render(source, &facts, &head, &widget) {
                Ok(html) => return Ok(html),
                // Checked when it was stored; should it fail now, the layout answers.
                Err(e) => tracing::error!(error = %e, "the page template does not render; the layout answers"),
            }
        }
        view::render(dir, "layout.html", context! { brand, title, content }).await
    };
    match page.await {
        Ok(html) => Page { status, html, cookies: Vec::new() },
        Err(e) => {
            let tracking_id = tracking_id();
            tracing::error!(tracking_id = %tracking_id, template = name, error = %e, "hosted page does not render");
            let html = format!(
                "<!DOCTYPE html><html lang=\"en\"><title>Error</title><main><h1>Something went wrong</h1>\
                 <p>Tracking id: <code>{tracking_id}</code></p></main></html>"
            );
            Page { status: StatusCode::INTERNAL_SERVER_ERROR, html, cookies: Vec::new() }
        }
    }
}

/// A hosted page's answer: the handler's response, or its error as [`error_page`].
pub async fn or_error_page(state: &Services, result: Result<impl IntoResponse, PageError>) -> Response {
    match result {
        Ok(r) => r.into_response(),
        Err(e) => error_page(state, &e).await.into_response(),
    }
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
    let context = context! { error => e.error, description, tracking_id };
    render(state, e.status, "Something went wrong", "error.html", context).await
}

/// A short id for one error page (hosted or console): 16 hex digits, also in the log line.
pub(crate) fn tracking_id() -> String {
    let mut id = gatehouse_services::secrets::hash_secret(&gatehouse_services::secrets::random_token());
    id.truncate(16);
    id
}

/// A short message page (e.g. after logout).
pub async fn message_page(state: &Services, title: &str, message: &str) -> Page {
    message_page_with(state, title, message, None).await
}

/// A way back from a message page: where the link goes and what it says.
#[derive(Debug, Clone, Serialize)]
pub struct WayBack {
    pub href: String,
    pub text: String,
}

/// A message page with, when there is one, a link back to the application or log in.
pub async fn message_page_with(state: &Services, title: &str, message: &str, back: Option<WayBack>) -> Page {
    render(state, StatusCode::OK, title, "message.html", context! { message, back }).await
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

/// A new-password field as the forms show it: the policy for `password-rules.js`, the
/// error, and the rules, server-rendered so they show without JavaScript. After a refusal
/// for weakness, `checked` is the refused password's check: each rule is marked met or
/// not, so the page says which rules failed.
#[derive(Debug, Serialize)]
pub struct PasswordField {
    policy_json: String,
    error: Option<String>,
    rules: Vec<RuleView>,
}

/// One rule of the list; `state` is `met`, `unmet` or empty (not checked).
#[derive(Debug, Serialize)]
struct RuleView {
    code: Option<&'static str>,
    text: String,
    state: &'static str,
    items: Vec<RuleView>,
}

impl RuleView {
    fn plain(text: String) -> Self {
        Self { code: None, text, state: "", items: Vec::new() }
    }
}

pub fn password_field(
    policy: &gatehouse_core::password_policy::PasswordPolicy,
    error: Option<String>,
    checked: Option<&gatehouse_core::password_policy::Strength>,
) -> PasswordField {
    let state_of = |code: &str, nested: bool| -> &'static str {
        let found = checked.and_then(|s| {
            s.rules
                .iter()
                .find(|r| r.code == code && !nested)
                .or_else(|| s.rules.iter().flat_map(|r| r.items.iter()).find(|i| i.code == code && nested))
        });
        match found {
            Some(r) if r.verified => "met",
            Some(_) => "unmet",
            None => "",
        }
    };
    let mut rules: Vec<RuleView> = policy
        .strength("")
        .rules
        .iter()
        .map(|r| RuleView {
            code: Some(r.code),
            text: r.text(),
            state: state_of(r.code, false),
            items: r
                .items
                .iter()
                .map(|i| RuleView {
                    code: Some(i.code),
                    text: i.text(),
                    state: state_of(i.code, true),
                    items: Vec::new(),
                })
                .collect(),
        })
        .collect();
    if policy.dictionary.is_some() {
        rules.push(RuleView::plain("Not a common password".into()));
    }
    if policy.no_personal_info {
        rules.push(RuleView::plain("Not based on your name, username or email address".into()));
    }
    if policy.history_size > 0 {
        rules.push(RuleView::plain(format!("Not one of your last {} passwords", policy.history_size)));
    }
    PasswordField { policy_json: policy.to_client_json().to_string(), error, rules }
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
    script(include_str!("password-rules.js"))
}

/// `GET /u/webauthn.js`: the browser's half of the WebAuthn ceremonies.
pub async fn webauthn_script() -> Response {
    script(include_str!("webauthn.js"))
}

/// One of the pages' own scripts.
fn script(source: &'static str) -> Response {
    let mut r = source.into_response();
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
    fn unchecked_brand_values_never_reach_the_page() {
        let b = gatehouse_services::state::Branding {
            primary_color: "red;} body{display:none".into(),
            logo_url: Some("javascript:alert(1)".into()),
            ..Default::default()
        };
        let v = BrandView::of(&b);
        assert_eq!(v.primary_color, "#3b5bdb");
        assert_eq!(v.logo_url, None);
    }
}
