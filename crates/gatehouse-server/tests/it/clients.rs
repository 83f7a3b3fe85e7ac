//! `/api/v2/clients`: the secret is shown once and stored hashed.

use crate::kit::{auth0_error, Backend, Server};
use serde_json::json;

crate::on_both_backends!(secret_shown_once_and_rotation_revokes_it, patch_validates_and_delete_is_final);

async fn secret_shown_once_and_rotation_revokes_it(b: Backend) {
    let s = Server::start(b).await;
    let (status, c) = s
        .api(
            "POST",
            "/api/v2/clients",
            Some(json!({"name": "Backend job", "app_type": "non_interactive", "grant_types": ["client_credentials"]})),
        )
        .await;
    assert_eq!(status, 201, "{c}");
    let id = c["client_id"].as_str().unwrap();
    let secret = c["client_secret"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 32);
    assert!(secret.len() >= 64);
    assert_eq!(c["token_endpoint_auth_method"], "client_secret_post");
    let stored = s.store.client(id).await.unwrap().unwrap();
    assert!(!stored.client_secret_hash.unwrap().contains(&secret));
    let (_, got) = s.api("GET", &format!("/api/v2/clients/{id}"), None).await;
    assert!(got.get("client_secret").is_none(), "{got}");
    assert_eq!(got["name"], "Backend job");
    let (_, list) = s.api("GET", "/api/v2/clients?include_totals=true", None).await;
    assert!(list["total"].as_u64().unwrap() >= 2);
    assert!(list["clients"].as_array().unwrap().iter().all(|c| c.get("client_secret").is_none()));

    // Without a grant, the client gets no Management API token.
    let r = s
        .http
        .post(format!("{}/oauth/token", s.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", &secret),
            ("audience", &format!("{}api/v2/", s.issuer)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let (status, _) = s
        .api(
            "POST",
            "/api/v2/client-grants",
            Some(json!({"client_id": id, "audience": format!("{}api/v2/", s.issuer), "scope": ["read:users"]})),
        )
        .await;
    assert_eq!(status, 201);
    s.client_credentials(id, &secret, None).await;

    let (status, rotated) = s.api("POST", &format!("/api/v2/clients/{id}/rotate-secret"), None).await;
    assert_eq!(status, 200);
    let new_secret = rotated["client_secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    let r = s
        .http
        .post(format!("{}/oauth/token", s.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", &secret),
            ("audience", &format!("{}api/v2/", s.issuer)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the old secret no longer works");
    s.client_credentials(id, new_secret, None).await;
    s.stop().await;
}

async fn patch_validates_and_delete_is_final(b: Backend) {
    let s = Server::start(b).await;
    let (_, c) = s
        .api(
            "POST",
            "/api/v2/clients",
            Some(json!({"name": "SPA", "app_type": "spa", "callbacks": ["https://app.example/cb"]})),
        )
        .await;
    assert_eq!(c["token_endpoint_auth_method"], "none");
    assert!(c.get("client_secret").is_none(), "public clients have no secret: {c}");
    let path = format!("/api/v2/clients/{}", c["client_id"].as_str().unwrap());
    let (status, p) = s
        .api("PATCH", &path, Some(json!({"callbacks": ["https://app.example/cb", "http://localhost:3000/cb"], "allowed_logout_urls": ["https://app.example/"]})))
        .await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["callbacks"], json!(["https://app.example/cb", "http://localhost:3000/cb"]));
    let (status, body) = s.api("PATCH", &path, Some(json!({"callbacks": ["https://app.example/cb#frag"]}))).await;
    assert_eq!(status, 400);
    assert!(auth0_error(400, &body, "invalid_body").contains("callbacks[0]"));
    let (status, body) = s.api("PATCH", &path, Some(json!({"grant_types": ["magic"]}))).await;
    assert_eq!(status, 400);
    assert!(auth0_error(400, &body, "invalid_body").contains("grant_types[0]"));
    let (status, _) = s.api("DELETE", &path, None).await;
    assert_eq!(status, 204);
    let (status, body) = s.api("GET", &path, None).await;
    assert_eq!(status, 404);
    auth0_error(404, &body, "inexistent_client");
    s.stop().await;
}
