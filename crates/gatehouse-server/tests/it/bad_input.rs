//! Bad input is a 400 (or 413/415) that names the field, never a 500, and writes nothing.

use crate::kit::{auth0_error, Backend, Server};
use serde_json::json;

crate::on_both_backends!(bad_bodies_name_the_field_and_write_nothing, malformed_transport_is_refused_cleanly);

async fn bad_bodies_name_the_field_and_write_nothing(b: Backend) {
    let s = Server::start(b).await;
    let conn = "Username-Password-Authentication";
    let cases = [
        (json!({"connection": conn, "email": "a@example.com", "favourite_colour": "red"}), "favourite_colour"),
        (json!({"connection": conn, "email": 42}), "email"),
        (json!({"connection": conn, "email": "not an email"}), "email"),
        (json!({"connection": conn, "email": "a@example.com", "blocked": "yes"}), "blocked"),
        (json!({"connection": conn, "email": "a@example.com", "user_metadata": []}), "user_metadata"),
        (json!({"connection": conn, "email": "a@example.com", "app_metadata": {"a$b": 1}}), "app_metadata"),
        (json!({"connection": conn, "email": "a@example.com", "phone_number": "555-1234"}), "phone_number"),
        (json!({"connection": conn, "email": "a@example.com", "picture": "javascript:alert(1)"}), "picture"),
        (json!({"connection": conn, "email": "a@example.com", "user_id": "x|y"}), "user_id"),
        (json!({"connection": conn, "email": format!("{}@example.com", "a".repeat(65))}), "email"),
        (json!({"email": "a@example.com"}), "connection"),
        (json!({"connection": 7, "email": "a@example.com"}), "connection"),
        (json!(["not", "an", "object"]), "connection"),
    ];
    for (body, field) in cases {
        let (status, resp) = s.api("POST", "/api/v2/users", Some(body.clone())).await;
        assert_eq!(status, 400, "{body} -> {resp}");
        let message = auth0_error(400, &resp, "invalid_body");
        assert!(message.contains(field), "{body}: message {message:?} should name {field}");
    }
    let (status, resp) =
        s.api("POST", "/api/v2/users", Some(json!({"connection": "nope", "email": "a@example.com"}))).await;
    assert_eq!(status, 400);
    assert_eq!(auth0_error(400, &resp, "invalid_body"), "Connection does not exist.");
    let (_, list) = s.api("GET", "/api/v2/users?include_totals=true", None).await;
    assert_eq!(list["total"], 0, "nothing was written: {list}");
    let (status, resp) = s.api("POST", "/api/v2/clients", Some(json!({"name": "x", "app_type": "tv"}))).await;
    assert_eq!(status, 400);
    assert!(auth0_error(400, &resp, "invalid_body").contains("app_type"));
    let (status, resp) = s
        .api(
            "POST",
            "/api/v2/connections",
            Some(json!({"name": "x", "strategy": "auth0", "options": {"requires_username": "yes"}})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(auth0_error(400, &resp, "invalid_body").contains("options.requires_username"));
    s.stop().await;
}

async fn malformed_transport_is_refused_cleanly(b: Backend) {
    let s = Server::start(b).await;
    let (status, resp) = s.raw("POST", "/api/v2/users", "application/json", b"{\"email\": ".to_vec()).await;
    assert_eq!(status, 400);
    assert!(auth0_error(400, &resp, "invalid_body").contains("Invalid JSON"));
    let (status, resp) = s.raw("POST", "/api/v2/users", "text/plain", b"email=a@example.com".to_vec()).await;
    assert_eq!(status, 400, "{resp}");
    let big = format!(
        "{{\"connection\":\"Username-Password-Authentication\",\"email\":\"a@example.com\",\"name\":\"{}\"}}",
        "x".repeat(2 * 1024 * 1024)
    );
    let (status, resp) = s.raw("POST", "/api/v2/users", "application/json", big.into_bytes()).await;
    assert_eq!(status, 413);
    auth0_error(413, &resp, "payload_too_large");
    let (status, resp) = s.api("GET", "/api/v2/users?page=-1", None).await;
    assert_eq!(status, 400);
    assert!(auth0_error(400, &resp, "invalid_query_string").contains("page"));
    let (status, resp) = s.api("GET", "/api/v2/users?unknown_param=1", None).await;
    assert_eq!(status, 400);
    assert!(auth0_error(400, &resp, "invalid_query_string").contains("unknown_param"));
    let (status, resp) = s.api("GET", &format!("/api/v2/users?q={}", "a".repeat(5000)), None).await;
    assert_eq!(status, 400, "{resp}");
    // A URI past 16 KiB: Auth0's 414 JSON, on any route, never an empty body.
    for path in [format!("/api/v2/users?q={}", "a".repeat(20_000)), format!("/authorize?state={}", "s".repeat(20_000))]
    {
        let (status, resp) = s.api("GET", &path, None).await;
        assert_eq!(status, 414, "{resp}");
        assert_eq!(resp["error"], "URI Too Long", "{resp}");
        assert_eq!(auth0_error(414, &resp, "uri_too_long"), "The request URI is longer than 16384 bytes.");
    }
    let (status, resp) = s.api("GET", "/api/v2/no-such-endpoint", None).await;
    assert_eq!(status, 404, "{resp}");
    let (status, resp) =
        s.raw("POST", "/oauth/token", "application/x-www-form-urlencoded", vec![0xff, 0xfe, b'=', 0x00]).await;
    assert!(status == 400 || status == 401, "{status} {resp}");
    s.stop().await;
}
