//! `POST /api/v2/users/{id}/identities` and `DELETE …/identities/{provider}/{user_id}`.

use super::world::{World, PASSWORD};
use crate::kit::{auth0_error, Backend};
use crate::on_both_backends;
use serde_json::json;

on_both_backends!(link_and_unlink, link_errors);

async fn link_and_unlink(backend: Backend) {
    let w = World::start(backend).await;
    let primary = w.gh.create_user(json!({"email": "p@example.com", "password": PASSWORD})).await;
    let pid = primary["user_id"].as_str().unwrap();
    // A social user, made by signing in.
    let mut b = w.browser();
    w.redeem(&w.sign_in(&mut b, "s-1", json!({"email": "s@example.com", "email_verified": true, "name": "Sec"})).await)
        .await;

    let (s, ids) =
        w.gh.api(
            "POST",
            &format!("/api/v2/users/{pid}/identities"),
            Some(json!({"provider": "oidc", "user_id": "corp|s-1"})),
        )
        .await;
    assert_eq!(s, 201, "{ids}");
    assert_eq!(ids.as_array().unwrap().len(), 2);
    assert_eq!(ids[0]["provider"], "auth0");
    assert_eq!(
        ids[1],
        json!({"connection": "corp", "user_id": "corp|s-1", "provider": "oidc", "isSocial": false,
        "profileData": {"email": "s@example.com", "email_verified": true, "name": "Sec", "nickname": "s"}})
    );
    let (s, _) = w.gh.api("GET", "/api/v2/users/oidc%7Ccorp%7Cs-1", None).await;
    assert_eq!(s, 404, "the secondary user is gone");
    let (_, listed) = w.gh.api("GET", "/api/v2/users-by-email?email=p@example.com", None).await;
    assert_eq!(listed[0]["identities"].as_array().unwrap().len(), 2);
    // Signing in with the linked identity signs in the primary.
    let mut b = w.browser();
    assert_eq!(w.redeem(&w.sign_in(&mut b, "s-1", json!({})).await).await["sub"], pid);

    let (s, ids) = w.gh.api("DELETE", &format!("/api/v2/users/{pid}/identities/oidc/corp%7Cs-1"), None).await;
    assert_eq!(s, 200, "{ids}");
    assert_eq!(ids.as_array().unwrap().len(), 1);
    let (s, back) = w.gh.api("GET", "/api/v2/users/oidc%7Ccorp%7Cs-1", None).await;
    assert_eq!(s, 200, "unlinked, the identity is a user again: {back}");
    assert_eq!(back["email"], "s@example.com");
    let (s, body) = w.gh.api("DELETE", &format!("/api/v2/users/{pid}/identities/oidc/corp%7Cs-1"), None).await;
    assert_eq!(s, 404, "{body}");
    w.gh.stop().await;
}

async fn link_errors(backend: Backend) {
    let w = World::start(backend).await;
    let a = w.gh.create_user(json!({"email": "a@example.com", "password": PASSWORD})).await;
    let aid = a["user_id"].as_str().unwrap();
    let path = format!("/api/v2/users/{aid}/identities");
    let (s, body) = w.gh.api("POST", &path, Some(json!({"provider": "auth0", "user_id": aid}))).await;
    assert!(auth0_error(s, &body, "invalid_body").contains("same"), "{body}");
    assert_eq!(s, 400);
    let (s, body) = w.gh.api("POST", &path, Some(json!({"provider": "auth0"}))).await;
    assert_eq!(
        auth0_error(s, &body, "invalid_body"),
        "Payload validation error: 'Missing required property: user_id'."
    );
    let (s, body) = w.gh.api("POST", &path, Some(json!({"provider": "auth0", "user_id": "nobody"}))).await;
    assert_eq!(s, 400, "{body}");
    let (s, body) =
        w.gh.api("POST", "/api/v2/users/auth0%7Cnobody/identities", Some(json!({"provider": "auth0", "user_id": aid})))
            .await;
    auth0_error(s, &body, "inexistent_user");
    let (s, body) = w.gh.api("DELETE", &format!("{path}/auth0/{}", &aid[6..]), None).await;
    assert_eq!(auth0_error(s, &body, "invalid_body"), "Main identity cannot be removed.");
    let (s, body) = w.gh.api("POST", &path, Some(json!({"link_with": "not.a.token"}))).await;
    assert!(auth0_error(s, &body, "invalid_body").contains("link_with"));
    let read_only = w.gh.token_with(&["read:users", "update:users_app_metadata"]).await;
    let (s, body) =
        w.gh.call("POST", &path, Some(json!({"provider": "auth0", "user_id": "x"})), Some(&read_only)).await;
    auth0_error(s, &body, "insufficient_scope");
    w.gh.stop().await;
}
