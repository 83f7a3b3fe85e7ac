//! Social and OIDC connections through `/api/v2/connections`: validated with errors
//! naming the option, secrets never returned, kept by a PATCH that omits them.

use super::world::World;
use crate::kit::{auth0_error, Backend};
use crate::on_both_backends;
use serde_json::json;

on_both_backends!(options_are_validated_and_secrets_hidden, login_page_shows_buttons);

async fn options_are_validated_and_secrets_hidden(backend: Backend) {
    let w = World::start(backend).await;
    let gh = &w.gh;
    for (body, field) in [
        (json!({"name": "g1", "strategy": "google-oauth2"}), "options"),
        (json!({"name": "g2", "strategy": "google-oauth2", "options": {"client_secret": "s"}}), "options.client_id"),
        (json!({"name": "g3", "strategy": "github", "options": {"client_id": "c"}}), "options.client_secret"),
        (
            json!({"name": "o1", "strategy": "oidc", "options": {"client_id": "c", "client_secret": "s"}}),
            "options.issuer",
        ),
        (
            json!({"name": "o2", "strategy": "oidc", "options": {"client_id": "c", "client_secret": "s",
            "discovery_url": "http://idp.example.com/.well-known/openid-configuration"}}),
            "options.discovery_url",
        ),
        (
            json!({"name": "o3", "strategy": "oidc", "options": {"client_id": "c", "client_secret": "s",
            "discovery_url": "https://idp.example.com/.well-known/openid-configuration", "type": "front_channel"}}),
            "options.type",
        ),
        (json!({"name": "x1", "strategy": "saml"}), "strategy"),
    ] {
        let (s, err) = gh.api("POST", "/api/v2/connections", Some(body.clone())).await;
        let message = auth0_error(s, &err, "invalid_body");
        assert!(message.contains(field), "{body}: {message}");
    }
    let (s, created) = gh
        .api(
            "POST",
            "/api/v2/connections",
            Some(json!({"name": "google", "strategy": "google-oauth2",
                "options": {"client_id": "gid", "client_secret": "top-secret-value", "scope": ["email", "profile"]}})),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(created["options"], json!({"client_id": "gid", "scope": ["email", "profile"]}));
    let id = created["id"].as_str().unwrap();
    let (_, got) = gh.api("GET", &format!("/api/v2/connections/{id}"), None).await;
    assert!(!got.to_string().contains("top-secret-value"), "{got}");
    let (_, list) = gh.api("GET", "/api/v2/connections", None).await;
    assert!(!list.to_string().contains("top-secret-value"));
    let (s, patched) =
        gh.api("PATCH", &format!("/api/v2/connections/{id}"), Some(json!({"options": {"client_id": "gid2"}}))).await;
    assert_eq!(s, 200, "{patched}");
    let stored = gh.store.connection(id).await.unwrap().unwrap();
    assert_eq!(stored.options["client_secret"], "top-secret-value", "kept when the PATCH omits it");
    assert_eq!(stored.options["client_id"], "gid2");
    // Creating users through the API is for database connections only (Auth0's rule).
    let (s, err) = gh.api("POST", "/api/v2/users", Some(json!({"connection": "google", "email": "a@b.co"}))).await;
    assert!(auth0_error(s, &err, "invalid_body").contains("database"));
    w.gh.stop().await;
}

async fn login_page_shows_buttons(backend: Backend) {
    let w = World::start(backend).await;
    let mut b = w.browser();
    let a = b.get(&super::world::authorize_path(&w.client_id, None)).await;
    assert_eq!(a.status, 302);
    let page = b.get(&a.location.unwrap()).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(r#"data-connection="corp""#), "{}", page.body);
    let tx = super::world::hidden(&page.body, "state");
    let csrf = super::world::hidden(&page.body, "csrf_token");
    // Without the CSRF token the button does nothing.
    let r = b.post_form("u/login/social", &[("state", &tx), ("connection", "corp")]).await;
    assert_eq!(r.status, 403);
    let r = b.post_form("u/login/social", &[("state", &tx), ("csrf_token", &csrf), ("connection", "corp")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let up = r.location.unwrap();
    assert!(up.starts_with(&w.op.base), "{up}");
    let callback = w.op.approve(&up, "button-user", json!({}));
    let claims = w.redeem(&b.get(&callback).await).await;
    assert_eq!(claims["sub"], "oidc|corp|button-user");
    w.gh.stop().await;
}
