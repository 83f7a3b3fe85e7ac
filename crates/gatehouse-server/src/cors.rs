//! Cross-origin requests from single-page apps. A browser app calls discovery, JWKS and
//! `/userinfo` (public, or a bearer token: any origin may read them, never with cookies),
//! and `/oauth/token` and `/oauth/revoke` (an origin may read the answer only if the
//! client named in the request allows it, as Auth0's "Allowed Origins (CORS)": its
//! `allowed_origins`, its `web_origins`, or the origin of one of its `callbacks`).
//!
//! The embedded login (Lock, auth0.js) calls `/dbconnections/*`, `/passwordless/start` and,
//! with the browser's cookies, `/co/authenticate`, under the same per-client rule.
//!
//! Preflights are answered for any origin: they only let a browser send what it could
//! send as a plain form post anyway. Whether it may read the answer is decided per client.

use axum::http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS,
    ORIGIN, VARY, WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_core::client::Client;

/// The request's `Origin`, if it sent a usable one.
pub fn origin(headers: &HeaderMap) -> Option<&str> {
    headers.get(ORIGIN).and_then(|v| v.to_str().ok()).filter(|o| !o.is_empty() && *o != "null")
}

/// Whether `client` lets pages of `origin` read answers to its requests.
pub fn client_allows(client: &Client, origin: &str) -> bool {
    let listed = client.allowed_origins.iter().chain(&client.web_origins);
    listed.into_iter().any(|pattern| origin_matches(pattern, origin))
        || client.callbacks.iter().any(|callback| origin_of(callback).is_some_and(|o| o == origin))
}

/// Whether `origin` is among the client's Allowed Web Origins (`web_origins`), where a
/// `web_message` response may be posted.
pub fn web_origin_allowed(client: &Client, origin: &str) -> bool {
    client.web_origins.iter().any(|pattern| origin_matches(pattern, origin))
}

/// `scheme://host[:port]` of `url`, as a browser writes it in `Origin`; `None` for a URL
/// without one (a custom scheme).
pub fn origin_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let origin = parsed.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

/// An allowed origin as configured (`https://app.example.com`, with or without a trailing
/// slash, or with one wildcard label, `https://*.example.com`) against a request's.
fn origin_matches(pattern: &str, origin: &str) -> bool {
    let pattern = pattern.trim_end_matches('/');
    if pattern.eq_ignore_ascii_case(origin) {
        return true;
    }
    let Some((scheme, rest)) = pattern.split_once("://*.") else { return false };
    let Some(host) = origin.strip_prefix(scheme).and_then(|o| o.strip_prefix("://")) else { return false };
    // One label in place of the star, never a dot: `a.b.example.com` is not `*.example.com`.
    match host.len().checked_sub(rest.len() + 1) {
        Some(label_end) => {
            let (label, suffix) = host.split_at(label_end);
            !label.is_empty()
                && !label.contains('.')
                && suffix.strip_prefix('.').is_some_and(|s| s.eq_ignore_ascii_case(rest))
        }
        None => false,
    }
}

/// Lets `origin` read `response` (and says the answer varies by origin).
pub fn allow(response: &mut Response, origin: &str) {
    if let Ok(value) = HeaderValue::from_str(origin) {
        let headers = response.headers_mut();
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.append(VARY, HeaderValue::from_static("Origin"));
    }
}

/// Lets `origin` read `response` to a request sent with the browser's cookies (the
/// cross-origin login, whose answer sets Gatehouse's verifier cookie).
pub fn allow_with_credentials(response: &mut Response, origin: &str) {
    allow(response, origin);
    response.headers_mut().insert(ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
}

/// Lets any page read `response` (it is public, or answers a bearer token, never a cookie).
pub fn allow_any(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from(WWW_AUTHENTICATE));
}

/// The answer to a preflight of `/co/authenticate`, which is sent with cookies. As for
/// [`preflight`], whether the page may read the answer is decided by the request itself.
pub async fn preflight_with_credentials(headers: HeaderMap) -> Response {
    let mut response = preflight(headers).await;
    if response.headers().contains_key(ACCESS_CONTROL_ALLOW_ORIGIN) {
        response.headers_mut().insert(ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
    }
    response
}

/// The answer to a preflight (`OPTIONS`) of the app endpoints.
pub async fn preflight(headers: HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let Some(origin) = origin(&headers) else { return response };
    allow(&mut response, origin);
    let out = response.headers_mut();
    out.insert(ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST"));
    // The headers the app asks to send (content-type, authorization, auth0-client…).
    if let Some(asked) = headers.get(ACCESS_CONTROL_REQUEST_HEADERS) {
        out.insert(ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
    }
    out.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(callbacks: &[&str], allowed: &[&str], web: &[&str]) -> Client {
        let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        Client {
            callbacks: owned(callbacks),
            allowed_origins: owned(allowed),
            web_origins: owned(web),
            ..Client::default()
        }
    }

    #[test]
    fn an_origin_is_allowed_by_the_clients_lists_or_its_callbacks() {
        let c = client(&["https://app.example.com/callback"], &["https://*.example.org"], &["http://localhost:3000/"]);
        for allowed in ["https://app.example.com", "https://a.example.org", "http://localhost:3000"] {
            assert!(client_allows(&c, allowed), "{allowed}");
        }
        for refused in [
            "http://app.example.com",
            "https://app.example.com:8443",
            "https://evil.com",
            "https://example.org",
            "https://a.b.example.org",
            "https://aexample.org",
            "http://a.example.org",
            "https://app.example.com.evil.com",
            "http://localhost:3001",
        ] {
            assert!(!client_allows(&c, refused), "{refused}");
        }
        assert!(!client_allows(&client(&["not a url"], &[], &[]), "null"));
    }
}
