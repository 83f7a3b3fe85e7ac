//! Delivering an authorization response — a code, or an error — to the client's
//! verified `redirect_uri`: in its query (`response_mode=query`, the default for
//! `response_type=code`) or as an HTML form the browser POSTs there (`form_post`, the
//! OAuth 2.0 Form Post Response Mode), which keeps the code out of URLs, logs and
//! `Referer` headers.
//!
//! The form submits itself with one inline script, allowed by its hash in the page's
//! CSP; without JavaScript the `<noscript>` button does it.
//!
//! Auth0's `web_message` mode (single-page apps' silent authentication in a hidden
//! iframe, or a popup) answers with a page that posts the response to the window that
//! opened or framed it, addressed to the redirect URI's origin only; the client must list
//! that origin among its `web_origins`, and only that origin may frame the page.

use crate::pages::view::render_fixed;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use minijinja::{context, Value};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// How the authorization response travels. Stored with a login transaction, so a
/// transaction written before this field existed reads as `Query`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    #[default]
    Query,
    FormPost,
    WebMessage,
}

/// What discovery advertises: exactly the modes [`ResponseMode::parse`] accepts.
pub const SUPPORTED: &[&str] = &["query", "form_post", "web_message"];

impl ResponseMode {
    /// `response_mode` as requested; absent means the default for `code`, `query`.
    /// `fragment` (legal for `code` in OAuth, useless to a server-side client) is refused
    /// rather than silently answered in the query.
    pub fn parse(raw: Option<&str>) -> Result<Self, String> {
        match raw {
            None | Some("query") => Ok(Self::Query),
            Some("form_post") => Ok(Self::FormPost),
            Some("web_message") => Ok(Self::WebMessage),
            Some(other) => Err(format!("Unsupported response_mode: {other}")),
        }
    }
}

/// An authorization response for a redirect URI the client registered.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorizationResponse {
    pub redirect_uri: String,
    pub mode: ResponseMode,
    pub params: Vec<(&'static str, String)>,
}

/// The page's one script; its hash is in the CSP, so it must match the template byte for byte.
const SUBMIT_SCRIPT: &str = "document.forms[0].submit()";

/// The web_message page's one script (hashed into its CSP): the response, read from the
/// page's JSON block, to the opener or parent, at the redirect URI's origin only.
const POST_MESSAGE_SCRIPT: &str = "var m=JSON.parse(document.getElementById('authorization-response').textContent);\
(window.opener||window.parent).postMessage({type:'authorization_response',response:m.response},m.origin)";

fn script_hash(script: &str) -> String {
    STANDARD.encode(Sha256::digest(script.as_bytes()))
}

static FORM_POST_CSP: LazyLock<HeaderValue> = LazyLock::new(|| {
    let hash = script_hash(SUBMIT_SCRIPT);
    let csp = format!(
        "default-src 'none'; script-src 'sha256-{hash}'; style-src 'unsafe-inline'; frame-ancestors 'none'; \
         base-uri 'none'"
    );
    // Base64 and ASCII literals only: always a valid header value.
    HeaderValue::from_str(&csp).unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
});

impl AuthorizationResponse {
    /// An authorization code (and the request's `state`).
    pub fn code(redirect_uri: &str, mode: ResponseMode, code: String, state: Option<&str>) -> Self {
        let mut params = vec![("code", code)];
        params.extend(state.map(|s| ("state", s.to_string())));
        Self { redirect_uri: redirect_uri.to_string(), mode, params }
    }

    /// An OAuth error (RFC 6749 §4.1.2.1).
    pub fn error(redirect_uri: &str, mode: ResponseMode, error: &str, description: &str, state: Option<&str>) -> Self {
        let mut params = vec![("error", error.to_string()), ("error_description", description.to_string())];
        params.extend(state.map(|s| ("state", s.to_string())));
        Self { redirect_uri: redirect_uri.to_string(), mode, params }
    }

    /// The response: a redirect with `redirect_status` (302 after a GET, 303 after a
    /// form POST) or the self-submitting form page (200).
    pub fn deliver(&self, redirect_status: StatusCode) -> Response {
        match self.mode {
            ResponseMode::Query => {
                let pairs: Vec<(&str, &str)> = self.params.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let mut r = super::authorize::redirect(&super::authorize::with_query(&self.redirect_uri, &pairs));
                *r.status_mut() = redirect_status;
                r
            }
            ResponseMode::FormPost => self.form_post_page(),
            ResponseMode::WebMessage => self.web_message_page(),
        }
    }

    /// The web_message page's HTML: the response as JSON in a data block (with `<`, `>`
    /// and `&` escaped, so no value can end the block), then the fixed script.
    pub fn web_message_html(&self, origin: &str) -> String {
        let response: serde_json::Map<String, serde_json::Value> =
            self.params.iter().map(|(k, v)| (k.to_string(), serde_json::Value::String(v.clone()))).collect();
        let message = serde_json::json!({"origin": origin, "response": response})
            .to_string()
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026");
        let context = context! {
            message => Value::from_safe_string(message),
            script => Value::from_safe_string(POST_MESSAGE_SCRIPT.to_string()),
        };
        render_fixed("web_message.html", context).unwrap_or_else(|e| {
            tracing::error!(error = %e, "the web_message page does not render");
            String::new()
        })
    }

    fn web_message_page(&self) -> Response {
        // Checked when the request was validated; a redirect URI without an origin never
        // gets this far, and gets nothing if it does.
        let Some(origin) = crate::cors::origin_of(&self.redirect_uri) else {
            return StatusCode::BAD_REQUEST.into_response();
        };
        let csp = format!(
            "default-src 'none'; script-src 'sha256-{}'; frame-ancestors {origin}; base-uri 'none'",
            script_hash(POST_MESSAGE_SCRIPT)
        );
        // The origin is a serialized URL origin: always a valid header value.
        let csp = HeaderValue::from_str(&csp).unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"));
        response_page(self.web_message_html(&origin), csp)
    }

    /// The form's HTML: every value escaped, the action exactly the redirect URI.
    pub fn form_post_html(&self) -> String {
        let context = context! {
            action => &self.redirect_uri,
            fields => self.params.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>(),
            script => Value::from_safe_string(SUBMIT_SCRIPT.to_string()),
        };
        render_fixed("form_post.html", context).unwrap_or_else(|e| {
            tracing::error!(error = %e, "the form_post page does not render");
            String::new()
        })
    }

    fn form_post_page(&self) -> Response {
        let mut r = response_page(self.form_post_html(), FORM_POST_CSP.clone());
        r.headers_mut().insert(HeaderName::from_static("x-frame-options"), HeaderValue::from_static("DENY"));
        r
    }
}

/// A page carrying an authorization response: never cached, never leaking its URL, and
/// running no script but what `csp` allows.
fn response_page(html: String, csp: HeaderValue) -> Response {
    let mut r = (StatusCode::OK, html).into_response();
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("pragma", HeaderValue::from_static("no-cache"));
    h.insert(HeaderName::from_static("content-security-policy"), csp);
    h.insert(HeaderName::from_static("x-content-type-options"), HeaderValue::from_static("nosniff"));
    h.insert(HeaderName::from_static("referrer-policy"), HeaderValue::from_static("no-referrer"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header::LOCATION;

    #[test]
    fn modes() {
        assert_eq!(ResponseMode::parse(None), Ok(ResponseMode::Query));
        assert_eq!(ResponseMode::parse(Some("query")), Ok(ResponseMode::Query));
        assert_eq!(ResponseMode::parse(Some("form_post")), Ok(ResponseMode::FormPost));
        assert_eq!(ResponseMode::parse(Some("web_message")), Ok(ResponseMode::WebMessage));
        for bad in ["fragment", "FORM_POST", "form_post "] {
            assert_eq!(ResponseMode::parse(Some(bad)), Err(format!("Unsupported response_mode: {bad}")));
        }
        for m in SUPPORTED {
            assert!(ResponseMode::parse(Some(m)).is_ok());
        }
        // Transactions stored before response_mode existed still load.
        #[derive(Deserialize)]
        struct Old {
            #[serde(default)]
            mode: ResponseMode,
        }
        let old: Old = serde_json::from_str("{}").unwrap();
        assert_eq!(old.mode, ResponseMode::Query);
    }

    #[test]
    fn form_escapes_values_and_carries_the_hashed_script() {
        let r = AuthorizationResponse::code(
            "https://app.test/cb?a=1&b=2",
            ResponseMode::FormPost,
            "c0de".into(),
            Some(r#""><script>alert(1)</script>"#),
        );
        let html = r.form_post_html();
        assert!(html.contains(r#"action="https://app.test/cb?a=1&amp;b=2""#), "{html}");
        assert!(html.contains(r#"<input type="hidden" name="code" value="c0de">"#));
        assert!(html.contains(r#"value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;""#), "{html}");
        assert_eq!(html.matches("<script>").count(), 1);
        assert!(html.contains(&format!("<script>{SUBMIT_SCRIPT}</script>")));
        assert!(html.contains("<noscript>") && html.contains(r#"type="submit""#));
        // The script's hash, computed with `openssl dgst -sha256 -binary | base64`; no
        // other script may run.
        let csp = FORM_POST_CSP.to_str().unwrap();
        assert!(csp.contains("; script-src 'sha256-ePniVEkSivX/c7XWBGafqh8tSpiRrKiqYeqbG7N1TOE='; "), "{csp}");
    }

    #[test]
    fn web_message_posts_to_the_redirect_origin_only_and_nothing_escapes_its_data_block() {
        let r = AuthorizationResponse::code(
            "https://app.test:8443/cb?x=1",
            ResponseMode::WebMessage,
            "c0de".into(),
            Some("</script><script>alert(1)</script>&"),
        );
        let resp = r.deliver(StatusCode::FOUND);
        assert_eq!(resp.status(), StatusCode::OK);
        let csp = resp.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors https://app.test:8443;"), "{csp}");
        assert!(csp.contains(&format!("script-src 'sha256-{}'", script_hash(POST_MESSAGE_SCRIPT))), "{csp}");
        assert!(resp.headers().get("x-frame-options").is_none());
        let html = r.web_message_html("https://app.test:8443");
        assert_eq!(html.matches("</script>").count(), 2, "{html}");
        let data = html.split("id=\"authorization-response\">").nth(1).unwrap().split("</script>").next().unwrap();
        let message: serde_json::Value = serde_json::from_str(data).unwrap();
        assert_eq!(message["origin"], "https://app.test:8443");
        assert_eq!(message["response"]["code"], "c0de");
        assert_eq!(message["response"]["state"], "</script><script>alert(1)</script>&");
        assert_eq!(crate::cors::origin_of("com.example.app:/callback"), None);
    }

    #[test]
    fn query_mode_redirects_with_the_status_asked_for() {
        let r = AuthorizationResponse::error(
            "https://app.test/cb",
            ResponseMode::Query,
            "login_required",
            "Login required",
            Some("s"),
        );
        let resp = r.deliver(StatusCode::SEE_OTHER);
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            resp.headers()[LOCATION],
            "https://app.test/cb?error=login_required&error_description=Login+required&state=s"
        );
    }
}
