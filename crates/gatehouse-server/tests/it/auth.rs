//! Management API access: client_credentials tokens, their signature and claims, and
//! the 401/403 answers of every protected endpoint.

use crate::kit::{auth0_error, Backend, Server, ADMIN_ID, ADMIN_SECRET};
use base64::Engine;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};

crate::on_both_backends!(
    token_is_a_jwt_verifiable_with_jwks,
    client_authentication_methods_and_failures,
    scopes_are_enforced
);

async fn token_is_a_jwt_verifiable_with_jwks(b: Backend) {
    let s = Server::start(b).await;
    let header = decode_header(&s.admin_token).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    let jwks: Value =
        s.http.get(format!("{}/.well-known/jwks.json", s.base)).send().await.unwrap().json().await.unwrap();
    let key = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"].as_str() == header.kid.as_deref()).unwrap();
    assert_eq!(key["kty"], "RSA");
    let decoding = DecodingKey::from_rsa_components(key["n"].as_str().unwrap(), key["e"].as_str().unwrap()).unwrap();
    let mut v = Validation::new(Algorithm::RS256);
    v.set_audience(&[format!("{}api/v2/", s.issuer)]);
    v.set_issuer(&[&s.issuer]);
    let claims: Value = decode(&s.admin_token, &decoding, &v).unwrap().claims;
    assert_eq!(claims["gty"], "client-credentials");
    assert_eq!(claims["azp"], ADMIN_ID);
    assert_eq!(claims["sub"], format!("{ADMIN_ID}@clients"));
    assert!(claims["scope"].as_str().unwrap().split(' ').any(|s| s == "delete:users"));
    let discovery: Value =
        s.http.get(format!("{}/.well-known/openid-configuration", s.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(discovery["issuer"], s.issuer);
    assert_eq!(discovery["jwks_uri"], format!("{}.well-known/jwks.json", s.issuer));
    s.stop().await;
}

async fn post_token(s: &Server, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> (u16, Value) {
    let mut req = s.http.post(format!("{}/oauth/token", s.base)).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    assert_eq!(r.headers().get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
    (status, r.json().await.unwrap())
}

async fn client_authentication_methods_and_failures(b: Backend) {
    let s = Server::start(b).await;
    let aud = format!("{}api/v2/", s.issuer);
    // client_secret_basic
    let (status, body) =
        post_token(&s, &[("grant_type", "client_credentials"), ("audience", &aud)], Some((ADMIN_ID, ADMIN_SECRET)))
            .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_i64().unwrap() > 0);
    // JSON body, as Auth0's SDKs send it.
    let r = s
        .http
        .post(format!("{}/oauth/token", s.base))
        .json(&json!({"grant_type": "client_credentials", "client_id": ADMIN_ID, "client_secret": ADMIN_SECRET, "audience": aud, "scope": "read:users"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["scope"], "read:users", "a requested subset is what is granted");
    // Wrong secret and unknown client answer alike.
    let (s1, b1) = post_token(
        &s,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", ADMIN_ID),
            ("client_secret", "wrong"),
            ("audience", &aud),
        ],
        None,
    )
    .await;
    let (s2, b2) = post_token(
        &s,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "nobody"),
            ("client_secret", "wrong"),
            ("audience", &aud),
        ],
        None,
    )
    .await;
    assert_eq!((s1, s2), (401, 401));
    assert_eq!(b1, b2);
    assert_eq!(b1["error"], "invalid_client");
    // Unknown audience, unknown scope, unknown grant type, missing grant type.
    let (status, body) = post_token(
        &s,
        &[("grant_type", "client_credentials"), ("audience", "https://elsewhere/")],
        Some((ADMIN_ID, ADMIN_SECRET)),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "access_denied");
    let (status, body) = post_token(
        &s,
        &[("grant_type", "client_credentials"), ("audience", &aud), ("scope", "read:users fly:away")],
        Some((ADMIN_ID, ADMIN_SECRET)),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = post_token(&s, &[("grant_type", "urn:nope")], Some((ADMIN_ID, ADMIN_SECRET))).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "unsupported_grant_type");
    let (status, body) = post_token(&s, &[("audience", &aud)], Some((ADMIN_ID, ADMIN_SECRET))).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_request");
    s.stop().await;
}

async fn scopes_are_enforced(b: Backend) {
    let s = Server::start(b).await;
    let (status, body) = s.call("GET", "/api/v2/users", None, None).await;
    assert_eq!(status, 401);
    auth0_error(401, &body, "invalid_token");
    let (status, body) = s.call("GET", "/api/v2/users", None, Some("not-a-jwt")).await;
    assert_eq!(status, 401);
    auth0_error(401, &body, "invalid_token");
    // A token signed by someone else's key.
    let forged = {
        let mut parts: Vec<String> = s.admin_token.split('.').map(str::to_string).collect();
        let mut claims: Value =
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&parts[1]).unwrap())
                .unwrap();
        claims["scope"] = json!("read:users delete:users");
        parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
        parts.join(".")
    };
    let (status, _) = s.call("GET", "/api/v2/users", None, Some(&forged)).await;
    assert_eq!(status, 401);

    let reader = s.token_with(&["read:users"]).await;
    let (status, _) = s.call("GET", "/api/v2/users", None, Some(&reader)).await;
    assert_eq!(status, 200);
    for (method, path, body) in [
        (
            "POST",
            "/api/v2/users",
            Some(json!({"connection": "Username-Password-Authentication", "email": "x@example.com"})),
        ),
        ("DELETE", "/api/v2/users/auth0%7Cabc", None),
        ("GET", "/api/v2/clients", None),
        ("POST", "/api/v2/connections", Some(json!({"name": "x", "strategy": "auth0"}))),
    ] {
        let (status, body) = s.call(method, path, body, Some(&reader)).await;
        assert_eq!(status, 403, "{method} {path}: {body}");
        assert!(auth0_error(403, &body, "insufficient_scope").starts_with("Insufficient scope"));
    }
    // update:users_app_metadata alone may change app_metadata and nothing else.
    let u = s.create_user(json!({"email": "scoped@example.com"})).await;
    let path = format!("/api/v2/users/{}", u["user_id"].as_str().unwrap());
    let meta = s.token_with(&["update:users_app_metadata"]).await;
    let (status, _) = s.call("PATCH", &path, Some(json!({"app_metadata": {"plan": "pro"}})), Some(&meta)).await;
    assert_eq!(status, 200);
    let (status, _) = s.call("PATCH", &path, Some(json!({"name": "Other"})), Some(&meta)).await;
    assert_eq!(status, 403);
    s.stop().await;
}
