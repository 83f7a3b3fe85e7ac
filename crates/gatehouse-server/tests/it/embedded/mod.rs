//! The embedded login of Auth0's Lock and auth0.js: `/co/authenticate` and the
//! `/authorize` that redeems its tickets, the client configuration Lock reads, and
//! passwordless connections (`/passwordless/start`, the `passwordless/otp` grant, magic
//! links, sign-up on first use).

mod cross_origin;
mod passwordless;

use crate::kit::{Server, CALLBACK, DB};
use serde_json::{json, Value};

/// The origin of the test application's pages (its callback is [`CALLBACK`]).
pub const APP_ORIGIN: &str = "http://app.test";
pub const PASSWORD: &str = "Correct-Horse-Battery-9";
pub const EMAIL: &str = "ada@example.com";

/// A public single-page application on the default connection, its pages allowed to log
/// users in cross-origin; its id. `extra` is merged into its settings.
pub async fn embedded_app(s: &Server, extra: Value) -> String {
    let id = s.spa_client().await;
    let mut patch = json!({"cross_origin_authentication": true, "web_origins": [APP_ORIGIN],
        "grant_types": ["authorization_code", "refresh_token", "http://auth0.com/oauth/grant-type/passwordless/otp"]});
    if let (Value::Object(p), Value::Object(e)) = (&mut patch, extra) {
        p.extend(e);
    }
    let (status, body) = s.api("PATCH", &format!("/api/v2/clients/{id}"), Some(patch)).await;
    assert_eq!(status, 200, "{body}");
    id
}

/// `POST /co/authenticate` from `origin` (none: no `Origin` header).
pub async fn co_authenticate(s: &Server, origin: Option<&str>, body: Value) -> reqwest::Response {
    let mut r = s.http.post(s.url("co/authenticate")).json(&body);
    if let Some(o) = origin {
        r = r.header("origin", o);
    }
    r.send().await.unwrap()
}

/// A password login's body for `/co/authenticate`.
pub fn password_body(client_id: &str, password: &str) -> Value {
    json!({"client_id": client_id, "username": EMAIL, "password": password, "realm": DB,
        "credential_type": "http://auth0.com/oauth/grant-type/password-realm"})
}

/// An enabled passwordless connection of `strategy` (`email` or `sms`) for `clients`.
pub async fn passwordless_connection(s: &Server, strategy: &str, clients: &[&str], options: Option<Value>) -> Value {
    let mut body = json!({"name": strategy, "strategy": strategy, "enabled_clients": clients});
    if let Some(o) = options {
        body["options"] = o;
    }
    let (status, c) = s.api("POST", "/api/v2/connections", Some(body)).await;
    assert_eq!(status, 201, "{c}");
    c
}

/// The code of the newest passwordless email to `to`, waiting for the `n`th.
pub async fn emailed_code(s: &Server, to: &str, n: usize) -> String {
    let mails = s.emails_to(to, n).await;
    let text = crate::kit::decode_qp(&mails[n - 1]);
    text.lines().map(str::trim).find(|l| l.len() == 6 && l.bytes().all(|b| b.is_ascii_digit())).unwrap().to_string()
}

/// The redirect's query as a map.
pub fn redirect_query(location: &str) -> std::collections::HashMap<String, String> {
    let u = url::Url::parse(location).unwrap();
    assert!(location.starts_with(CALLBACK), "{location}");
    u.query_pairs().into_owned().collect()
}
