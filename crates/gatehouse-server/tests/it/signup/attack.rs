//! Brute-force protection through the Management API and the mailer: the settings
//! documents, `/api/v2/user-blocks`, and the unblock link of the notice email.

use super::helpers::{log_types, signup};
use crate::kit::{link, Backend, Server, DB};
use serde_json::{json, Value};

const PASSWORD: &str = "Blocked-but-right-42";

/// A confidential client allowed the password grant on the default connection.
async fn password_client(s: &Server) -> (String, String) {
    let (status, c) = s
        .api(
            "POST",
            "/api/v2/clients",
            Some(json!({
                "name": "Backend",
                "app_type": "regular_web",
                "token_endpoint_auth_method": "client_secret_post",
                "grant_types": ["password"],
            })),
        )
        .await;
    assert_eq!(status, 201, "{c}");
    let id = c["client_id"].as_str().unwrap().to_string();
    let conn = s.default_connection().await;
    let mut enabled: Vec<Value> = conn["enabled_clients"].as_array().unwrap().clone();
    enabled.push(json!(id));
    let path = format!("/api/v2/connections/{}", conn["id"].as_str().unwrap());
    assert_eq!(s.api("PATCH", &path, Some(json!({"enabled_clients": enabled}))).await.0, 200);
    (id, c["client_secret"].as_str().unwrap().to_string())
}

async fn login(s: &Server, client: &(String, String), username: &str, password: &str) -> (u16, Value) {
    let body = json!({
        "grant_type": "password", "client_id": client.0, "client_secret": client.1,
        "username": username, "password": password,
    });
    s.call("POST", "/oauth/token", Some(body), None).await
}

async fn settings_are_auth0_documents(b: Backend) {
    let s = Server::start(b).await;
    let path = "/api/v2/attack-protection/brute-force-protection";
    let (status, d) = s.api("GET", path, None).await;
    assert_eq!(status, 200);
    assert_eq!(d["max_attempts"], 10);
    assert_eq!(d["mode"], "count_per_identifier_and_ip");
    assert_eq!(d["shields"], json!(["block", "user_notification"]));
    let (status, p) = s.api("PATCH", path, Some(json!({"max_attempts": 4, "allowlist": ["10.0.0.0/8"]}))).await;
    assert_eq!(status, 200, "{p}");
    assert_eq!((p["max_attempts"].as_i64(), p["enabled"].as_bool()), (Some(4), Some(true)));
    assert_eq!(s.api("GET", path, None).await.1, p, "stored");
    let (status, e) = s.api("PATCH", path, Some(json!({"allowlist": ["10.0.0.1/8"]}))).await;
    assert_eq!(status, 400);
    assert!(e["message"].as_str().unwrap().contains("allowlist[0]"), "{e}");
    let sip = "/api/v2/attack-protection/suspicious-ip-throttling";
    let (status, d) = s.api("GET", sip, None).await;
    assert_eq!(status, 200);
    assert_eq!(d["stage"]["pre-login"], json!({"max_attempts": 100, "rate": 864000}));
    let (status, e) = s.api("PATCH", sip, Some(json!({"stage": {"pre-login": {"rate": 0}}}))).await;
    assert_eq!(status, 400, "{e}");
    let no_scope = s.token_with(&["read:users"]).await;
    assert_eq!(s.call("GET", path, None, Some(&no_scope)).await.0, 403);
    s.stop().await;
}

async fn blocks_are_listed_lifted_and_mailed(b: Backend) {
    let s = Server::start(b).await;
    let client = password_client(&s).await;
    let path = "/api/v2/attack-protection/brute-force-protection";
    assert_eq!(s.api("PATCH", path, Some(json!({"max_attempts": 2}))).await.0, 200);
    let user = s
        .create_user(json!({"email": "kim@example.com", "password": PASSWORD, "connection": DB, "verify_email": false}))
        .await;
    let id = user["user_id"].as_str().unwrap();

    let (status, none) = s.api("GET", &format!("/api/v2/user-blocks/{id}"), None).await;
    assert_eq!((status, none), (200, json!({"blocked_for": []})));
    for _ in 0..2 {
        assert_eq!(login(&s, &client, "kim@example.com", "Wrong-guess-1").await.0, 403);
    }
    let (status, body) = login(&s, &client, "kim@example.com", PASSWORD).await;
    assert_eq!((status, body["error"].as_str()), (429, Some("too_many_attempts")), "{body}");

    let expected = json!({"blocked_for": [{"identifier": "kim@example.com", "ip": "127.0.0.1", "connection": DB}]});
    assert_eq!(s.api("GET", &format!("/api/v2/user-blocks/{id}"), None).await.1, expected);
    assert_eq!(s.api("GET", "/api/v2/user-blocks?identifier=KIM@example.com", None).await.1, expected);
    assert_eq!(s.api("GET", "/api/v2/user-blocks", None).await.0, 400, "identifier is required");
    assert_eq!(s.api("GET", "/api/v2/user-blocks/auth0|nobody", None).await.0, 404);

    // The notice arrives with a single-use unblock link.
    let notice = s.emails_to("kim@example.com", 1).await.remove(0);
    assert!(notice.contains("127.0.0.1"), "{notice}");
    let url = link(&notice, "/u/unblock");
    let path_and_query = &url[url.find("/u/").unwrap()..];
    let mut browser = s.browser();
    let page = browser.get(path_and_query).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("unblocked"), "{}", page.body);
    assert_eq!(login(&s, &client, "kim@example.com", PASSWORD).await.0, 200);
    assert_eq!(browser.get(path_and_query).await.status, 400, "the link works once");
    assert!(log_types(&s).await.iter().any(|t| t == "ublkdu"));

    // Blocked again; the admin lifts it.
    for _ in 0..2 {
        login(&s, &client, "kim@example.com", "Wrong-guess-2").await;
    }
    assert_eq!(login(&s, &client, "kim@example.com", PASSWORD).await.0, 429);
    assert_eq!(s.api("DELETE", &format!("/api/v2/user-blocks/{id}"), None).await.0, 204);
    assert_eq!(s.api("GET", &format!("/api/v2/user-blocks/{id}"), None).await.1, json!({"blocked_for": []}));
    assert_eq!(login(&s, &client, "kim@example.com", PASSWORD).await.0, 200);

    // And a password change lifts a block too.
    for _ in 0..2 {
        login(&s, &client, "kim@example.com", "Wrong-guess-3").await;
    }
    let new_password = "Brand-new-secret-77";
    let patch = json!({"password": new_password, "connection": DB});
    assert_eq!(s.api("PATCH", &format!("/api/v2/users/{id}"), Some(patch)).await.0, 200);
    assert_eq!(login(&s, &client, "kim@example.com", new_password).await.0, 200);
    s.stop().await;
}

async fn signups_per_ip_are_throttled(b: Backend) {
    let s = Server::start(b).await;
    let client_id = s.spa_client().await;
    let sip = "/api/v2/attack-protection/suspicious-ip-throttling";
    let body = json!({"stage": {"pre-user-registration": {"max_attempts": 2, "rate": 3_600_000}}});
    assert_eq!(s.api("PATCH", sip, Some(body)).await.0, 200);
    for i in 0..2 {
        let email = format!("new{i}@example.com");
        let (status, body) =
            signup(&s, json!({"client_id": client_id, "connection": DB, "email": email, "password": PASSWORD})).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = signup(
        &s,
        json!({"client_id": client_id, "connection": DB, "email": "third@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (429, Some("too_many_attempts")), "{body}");
    assert!(s.store.users_by_email("third@example.com").await.unwrap().is_empty(), "nothing created");
    assert!(log_types(&s).await.iter().any(|t| t == "limit_mu"));
    // The allow-list exempts the address.
    assert_eq!(s.api("PATCH", sip, Some(json!({"allowlist": ["127.0.0.1"]}))).await.0, 200);
    let (status, body) = signup(
        &s,
        json!({"client_id": client_id, "connection": DB, "email": "third@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    s.stop().await;
}

crate::on_both_backends!(
    settings_are_auth0_documents,
    blocks_are_listed_lifted_and_mailed,
    signups_per_ip_are_throttled
);
