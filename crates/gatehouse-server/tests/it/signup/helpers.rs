//! Helpers of the sign-up tests: connection options, the sign-up endpoint, stored
//! passwords and the audit log.

use crate::kit::{authorize_path as kit_authorize_path, Server, DB};
use serde_json::{json, Value};

/// `authorize?…` of the sign-up tests: the profile scopes and a state, then `extra`.
pub fn authorize_path(client_id: &str, extra: &[(&str, &str)]) -> String {
    let fixed = [("scope", "openid profile email"), ("state", "st-1")];
    kit_authorize_path(client_id, &[&fixed[..], extra].concat())
}

/// Replaces the default connection's options.
pub async fn set_options(s: &Server, options: Value) {
    let conn = s.default_connection().await;
    let path = format!("/api/v2/connections/{}", conn["id"].as_str().unwrap());
    let (status, body) = s.api("PATCH", &path, Some(json!({"options": options}))).await;
    assert_eq!(status, 200, "{body}");
}

/// `POST /dbconnections/signup` with a JSON body.
pub async fn signup(s: &Server, body: Value) -> (u16, Value) {
    s.call("POST", "/dbconnections/signup", Some(body), None).await
}

/// Signs `email` up with `password` to the default connection, asserting success.
pub async fn signed_up(s: &Server, client_id: &str, email: &str, password: &str) -> Value {
    let (status, body) =
        signup(s, json!({"client_id": client_id, "connection": DB, "email": email, "password": password})).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Checks `password` against the user's stored hash.
pub async fn password_is(s: &Server, user_id: &str, password: &str) -> bool {
    let user = s.store.user(user_id).await.unwrap().unwrap();
    let hasher = crate::kit::test_hasher();
    let parsed = hasher.parse_stored(user.password_hash.as_deref().unwrap()).unwrap();
    hasher.verify(&parsed, password)
}

/// The audit log's event types, oldest first.
pub async fn log_types(s: &Server) -> Vec<String> {
    let (status, logs) = s.api("GET", "/api/v2/logs?per_page=100&sort=date:1", None).await;
    assert_eq!(status, 200, "{logs}");
    logs.as_array().unwrap().iter().map(|l| l["type"].as_str().unwrap().to_string()).collect()
}
