//! `POST /dbconnections/signup` and `POST /dbconnections/change_password`.

use super::helpers::{log_types, set_options, signed_up, signup};
use crate::kit::{link, Backend, Server, DB};
use serde_json::{json, Value};

async fn signup_answers_like_auth0(b: Backend) {
    let s = Server::start(b).await;
    let client = s.spa_client().await;
    let (status, body) = signup(
        &s,
        json!({
            "client_id": client, "connection": DB, "email": "Ada@Example.com", "password": "Analytical-1843",
            "given_name": "Ada", "family_name": "Lovelace", "user_metadata": {"lang": "en"},
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let id = body["_id"].as_str().unwrap();
    assert!(!id.contains('|'), "{body}");
    assert_eq!(body["email"], "ada@example.com");
    assert_eq!(body["email_verified"], false);
    assert_eq!(body["given_name"], "Ada");
    assert_eq!(body["user_metadata"], json!({"lang": "en"}));
    let text = body.to_string();
    assert!(!text.contains("Analytical") && !text.contains("password"), "{text}");
    let stored = s.store.user(&format!("auth0|{id}")).await.unwrap().unwrap();
    assert!(stored.password_hash.unwrap().starts_with("$argon2id$"));
    // A verification email went out; the same email again is Auth0's user_exists.
    let mail = s.emails_to("ada@example.com", 1).await;
    link(&mail[0], "/u/email-verification?ticket=");
    let (status, body) = signup(
        &s,
        json!({"client_id": client, "connection": DB, "email": "ada@example.com", "password": "Another-1843"}),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({"name": "BadRequestError", "code": "user_exists", "description": "The user already exists.", "statusCode": 400})
        )
    );
    let types = log_types(&s).await;
    assert!(types.contains(&"ss".to_string()) && types.contains(&"fs".to_string()), "{types:?}");
    s.stop().await;
}

async fn usernames_and_disabled_signup(b: Backend) {
    let s = Server::start(b).await;
    let client = s.spa_client().await;
    set_options(&s, json!({"requires_username": true, "validation": {"username": {"min": 3, "max": 8}}})).await;
    let body = |username: Value, email: &str| json!({"client_id": client, "connection": DB, "email": email, "username": username, "password": "Username-pw-1"});
    let (status, r) = signup(
        &s,
        json!({"client_id": client, "connection": DB, "email": "u@example.com", "password": "Username-pw-1"}),
    )
    .await;
    assert_eq!((status, r["code"].as_str()), (400, Some("invalid_body")), "{r}");
    assert!(r["description"].as_str().unwrap().contains("username"), "{r}");
    let (status, r) = signup(&s, body(json!("ab"), "u@example.com")).await;
    assert_eq!(status, 400, "{r}");
    assert!(r["description"].as_str().unwrap().contains("3 to 8"), "{r}");
    let (status, r) = signup(&s, body(json!("ada_l"), "u@example.com")).await;
    assert_eq!((status, r["username"].as_str()), (200, Some("ada_l")), "{r}");
    let (status, r) = signup(&s, body(json!("ADA_L"), "other@example.com")).await;
    assert_eq!((status, r["code"].as_str()), (400, Some("username_exists")), "{r}");
    set_options(&s, json!({"disable_signup": true})).await;
    let (status, r) = signup(
        &s,
        json!({"client_id": client, "connection": DB, "email": "x@example.com", "password": "Username-pw-1"}),
    )
    .await;
    assert_eq!(
        (status, r),
        (
            400,
            json!({"name": "BadRequestError", "code": "invalid_signup", "description": "Invalid sign up", "statusCode": 400})
        )
    );
    s.stop().await;
}

/// Bad input of every kind gets a 400 naming the problem, never a 500.
async fn signup_bad_input(b: Backend) {
    let s = Server::start(b).await;
    let client = s.spa_client().await;
    let ok = json!({"client_id": client, "connection": DB, "email": "b@example.com", "password": "Good-pass-123"});
    let with = |k: &str, v: Value| {
        let mut o = ok.clone();
        o[k] = v;
        o
    };
    let without = |k: &str| {
        let mut o = ok.clone();
        o.as_object_mut().unwrap().remove(k);
        o
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (without("client_id"), "invalid_body", "client_id"),
        (without("connection"), "invalid_body", "connection"),
        (without("email"), "invalid_body", "email"),
        (without("password"), "invalid_body", "password"),
        (with("client_id", json!("nope")), "invalid_client", "client"),
        (with("connection", json!("Nope")), "bad.connection", "Connection"),
        (with("email", json!("not-an-email")), "invalid_body", "email"),
        (with("email", json!(42)), "invalid_body", "email"),
        (with("password", json!(["x"])), "invalid_body", "password"),
        (with("bogus", json!(1)), "invalid_body", "bogus"),
        (with("picture", json!("javascript:alert(1)")), "invalid_body", "picture"),
        (with("user_metadata", json!({"a": {"nested": true}})), "invalid_body", "user_metadata"),
        (
            with(
                "user_metadata",
                json!((0..11).map(|i| (format!("k{i}"), json!("v"))).collect::<serde_json::Map<_, _>>()),
            ),
            "invalid_body",
            "user_metadata",
        ),
        (with("user_metadata", json!({"k": "v".repeat(501)})), "invalid_body", "user_metadata"),
    ];
    for (body, code, mention) in cases {
        let (status, r) = signup(&s, body.clone()).await;
        assert_eq!((status, r["code"].as_str()), (400, Some(code)), "{body} → {r}");
        assert!(r["description"].as_str().unwrap().contains(mention), "{body} → {r}");
        assert_eq!(r["statusCode"], 400);
    }
    for (ct, raw) in [
        ("application/json", b"{not json".to_vec()),
        ("application/json", b"[1,2]".to_vec()),
        ("text/plain", b"email=x".to_vec()),
        ("application/json", vec![b'a'; 70 * 1024]),
    ] {
        let (status, r) = s.raw("POST", "/dbconnections/signup", ct, raw).await;
        assert_eq!((status, r["code"].as_str()), (400, Some("invalid_body")), "{ct} → {r}");
    }
    // A form body works too.
    let r = s
        .http
        .post(format!("{}/dbconnections/signup", s.base))
        .form(&[
            ("client_id", client.as_str()),
            ("connection", DB),
            ("email", "form@example.com"),
            ("password", "Form-pass-123"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    s.stop().await;
}

/// The same 200 text for a known and an unknown email; only the known one gets an email,
/// whose link is a password-change ticket.
async fn change_password_same_answer(b: Backend) {
    let s = Server::start(b).await;
    let client = s.spa_client().await;
    signed_up(&s, &client, "known@example.com", "Known-pass-123").await;
    let mut answers = Vec::new();
    for email in ["known@example.com", "unknown@example.com"] {
        let r = s
            .http
            .post(format!("{}/dbconnections/change_password", s.base))
            .json(&json!({"client_id": client, "email": email, "connection": DB}))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let ct = r.headers()["content-type"].to_str().unwrap().to_string();
        answers.push((status, ct, r.text().await.unwrap()));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].0, 200);
    assert_eq!(answers[0].2, "We've just sent you an email to reset your password.");
    let mail = s.emails_to("known@example.com", 2).await;
    let reset = mail.iter().find(|m| m.contains("/u/reset-password?ticket=")).expect("a reset email");
    link(reset, "/u/reset-password?ticket=");
    // The unknown address got nothing, and the log tells the two apart.
    assert!(s.outbox().iter().all(|m| !m.contains("unknown@example.com")));
    let mut types = Vec::new();
    for _ in 0..100 {
        types = log_types(&s).await;
        if types.contains(&"scpr".to_string()) && types.contains(&"fcpr".to_string()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(types.contains(&"scpr".to_string()) && types.contains(&"fcpr".to_string()), "{types:?}");
    // Bad input is a 400, not a 500.
    for body in [
        json!({"email": "x@example.com"}),
        json!({"connection": DB}),
        json!({"email": "nope", "connection": DB}),
        json!({"email": "x@example.com", "connection": "Nope"}),
    ] {
        let (status, r) = s.call("POST", "/dbconnections/change_password", Some(body.clone()), None).await;
        assert_eq!(status, 400, "{body} → {r}");
    }
    s.stop().await;
}

/// Reset requests are limited per IP and email (Auth0: a burst of 10), with Auth0's 429.
async fn change_password_is_rate_limited(b: Backend) {
    let s = Server::start(b).await;
    let body = json!({"email": "often@example.com", "connection": DB});
    for _ in 0..10 {
        let (status, _) = s.call("POST", "/dbconnections/change_password", Some(body.clone()), None).await;
        assert_eq!(status, 200);
    }
    let (status, r) = s.call("POST", "/dbconnections/change_password", Some(body), None).await;
    assert_eq!((status, r["statusCode"].as_u64()), (429, Some(429)), "{r}");
    let other = json!({"email": "other@example.com", "connection": DB});
    let (status, _) = s.call("POST", "/dbconnections/change_password", Some(other), None).await;
    assert_eq!(status, 200, "another address has its own budget");
    s.stop().await;
}

crate::on_both_backends!(
    change_password_is_rate_limited,
    signup_answers_like_auth0,
    usernames_and_disabled_signup,
    signup_bad_input,
    change_password_same_answer
);
