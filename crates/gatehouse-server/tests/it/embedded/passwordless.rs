//! Passwordless connections: codes by email and SMS, magic links, sign-up on first use,
//! and what keeps codes from being guessed or reused.

use super::*;
use crate::kit::{authorize_path, hidden, jwt_claims, link, query_param, Backend, CHALLENGE, VERIFIER};
use std::time::Duration;

crate::on_both_backends!(
    an_email_code_signs_up_then_logs_in_once,
    wrong_codes_void_the_code_and_count_as_failures,
    a_magic_link_signs_in_through_the_browser,
    a_code_through_co_authenticate,
    sms_codes_go_to_the_sms_outbox,
    start_refusals_and_quiet_answers,
    the_management_api_takes_passwordless_connections_and_users,
    the_hosted_login_page_emails_a_code,
);

const OTP: &str = "http://auth0.com/oauth/grant-type/passwordless/otp";

async fn start(s: &Server, body: Value) -> (u16, Value) {
    let r = s.http.post(s.url("passwordless/start")).header("origin", APP_ORIGIN).json(&body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn otp_grant(s: &Server, app: &str, realm: &str, username: &str, otp: &str) -> (u16, Value) {
    s.token(&[
        ("grant_type", OTP),
        ("client_id", app),
        ("realm", realm),
        ("username", username),
        ("otp", otp),
        ("scope", "openid email"),
    ])
    .await
}

async fn an_email_code_signs_up_then_logs_in_once(b: Backend) {
    let s = Server::start(b).await;
    let app = embedded_app(&s, json!({})).await;
    passwordless_connection(&s, "email", &[&app], None).await;
    let (status, body) =
        start(&s, json!({"client_id": app, "connection": "email", "email": "New@Example.com", "send": "code"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["email"], "new@example.com");
    assert_eq!(body["email_verified"], false);
    let code = emailed_code(&s, "new@example.com", 1).await;
    let (status, tokens) = otp_grant(&s, &app, "email", "new@example.com", &code).await;
    assert_eq!(status, 200, "{tokens}");
    let id = jwt_claims(tokens["id_token"].as_str().unwrap());
    let sub = id["sub"].as_str().unwrap();
    assert!(sub.starts_with("email|"), "{sub}");
    assert_eq!(id["email"], "new@example.com");
    assert_eq!(id["email_verified"], true, "the code proved the address");
    let user = s.store.user(sub).await.unwrap().unwrap();
    assert_eq!((user.connection.as_str(), user.logins_count), ("email", 1));

    // Single use.
    let (status, again) = otp_grant(&s, &app, "email", "new@example.com", &code).await;
    assert_eq!(status, 403, "{again}");
    assert_eq!(again["error"], "invalid_grant");
    assert_eq!(again["error_description"], "Wrong email or verification code.");

    // The next login is the same user.
    start(&s, json!({"client_id": app, "connection": "email", "email": "new@example.com", "send": "code"})).await;
    let code = emailed_code(&s, "new@example.com", 2).await;
    let (status, tokens) = otp_grant(&s, &app, "email", "new@example.com", &code).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(jwt_claims(tokens["id_token"].as_str().unwrap())["sub"], sub);

    // Neither the code nor the mail's text is in the store or the log.
    let (_, logs) = s.api("GET", "/api/v2/logs?per_page=100", None).await;
    assert!(!logs.to_string().contains(&code), "{logs}");
    s.stop().await;
}

async fn wrong_codes_void_the_code_and_count_as_failures(b: Backend) {
    let s = Server::start(b).await;
    let app = embedded_app(&s, json!({})).await;
    passwordless_connection(&s, "email", &[&app], None).await;
    let to = "guess@example.com";
    let ask = || start(&s, json!({"client_id": app, "connection": "email", "email": to, "send": "code"}));
    ask().await;
    let code = emailed_code(&s, to, 1).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..3 {
        let (status, body) = otp_grant(&s, &app, "email", to, wrong).await;
        assert_eq!(status, 403, "{body}");
    }
    let (status, body) = otp_grant(&s, &app, "email", to, &code).await;
    assert_eq!(status, 403, "three wrong tries void the code: {body}");

    // Brute-force protection: ten failures in a row block the identifier.
    let mut n = 1;
    for _ in 0..3 {
        ask().await;
        n += 1;
        emailed_code(&s, to, n).await;
        for _ in 0..3 {
            otp_grant(&s, &app, "email", to, wrong).await;
        }
    }
    ask().await;
    let code = emailed_code(&s, to, n + 1).await;
    let (status, body) = otp_grant(&s, &app, "email", to, &code).await;
    assert_eq!((status, body["error"].as_str()), (429, Some("too_many_attempts")), "{body}");
    s.stop().await;
}

async fn a_magic_link_signs_in_through_the_browser(b: Backend) {
    let s = Server::start(b).await;
    let app = embedded_app(&s, json!({})).await;
    passwordless_connection(&s, "email", &[&app], None).await;
    let auth_params = json!({"response_type": "code", "redirectUri": crate::kit::CALLBACK, "scope": "openid email",
        "state": "link-state", "code_challenge": CHALLENGE, "code_challenge_method": "S256"});
    let (status, body) = start(
        &s,
        json!({"client_id": app, "connection": "email", "email": EMAIL, "send": "link", "authParams": auth_params}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let mail = s.emails_to(EMAIL, 1).await.remove(0);
    let url = link(&mail, "/passwordless/verify_redirect");
    let mut browser = s.browser();
    let a = browser.get(&url).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let q = redirect_query(a.location.as_deref().unwrap());
    assert_eq!(q.get("state").map(String::as_str), Some("link-state"));
    let (status, tokens) = s
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", &app),
            ("code", &q["code"]),
            ("redirect_uri", crate::kit::CALLBACK),
            ("code_verifier", VERIFIER),
        ])
        .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(jwt_claims(tokens["id_token"].as_str().unwrap())["email"], EMAIL);
    // The session it started serves the next authorization without a login.
    let a = browser.get(&authorize_path(&app, &[("state", "sso")])).await;
    assert!(redirect_query(a.location.as_deref().unwrap()).contains_key("code"));
    // The link works once.
    let again = s.browser().get(&url).await;
    let q = redirect_query(again.location.as_deref().unwrap());
    assert_eq!(q.get("error").map(String::as_str), Some("access_denied"), "{q:?}");
    s.stop().await;
}

async fn a_code_through_co_authenticate(b: Backend) {
    let s = Server::start(b).await;
    let app = embedded_app(&s, json!({})).await;
    passwordless_connection(&s, "email", &[&app], None).await;
    start(&s, json!({"client_id": app, "connection": "email", "email": EMAIL, "send": "code"})).await;
    let code = emailed_code(&s, EMAIL, 1).await;
    let body = json!({"client_id": app, "username": EMAIL, "otp": code, "realm": "email", "credential_type": OTP});
    let r = co_authenticate(&s, Some(APP_ORIGIN), body).await;
    assert_eq!(r.status(), 200);
    let issued: Value = r.json().await.unwrap();
    let mut browser = s.browser();
    browser.cookies.insert("gh_co".into(), issued["co_verifier"].as_str().unwrap().into());
    let a = browser.get(&authorize_path(&app, &[("login_ticket", issued["login_ticket"].as_str().unwrap())])).await;
    assert!(redirect_query(a.location.as_deref().unwrap()).contains_key("code"), "{:?}", a.location);
    let bad = json!({"client_id": app, "username": EMAIL, "otp": "123", "realm": "email", "credential_type": OTP});
    let r = co_authenticate(&s, Some(APP_ORIGIN), bad).await;
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body, json!({"error": "access_denied", "error_description": "Wrong email or verification code."}));
    s.stop().await;
}

async fn sms_codes_go_to_the_sms_outbox(b: Backend) {
    let s = Server::start(b).await;
    let app = embedded_app(&s, json!({})).await;
    passwordless_connection(&s, "sms", &[&app], None).await;
    let phone = "+14155550100";
    let (status, body) = start(&s, json!({"client_id": app, "connection": "sms", "phone_number": phone})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["phone_number"], phone);
    let dir = s.data_dir.join("sms-outbox");
    let mut text = String::new();
    for _ in 0..100 {
        // A message is written under a hidden temporary name, then renamed: only `*.txt`
        // files are whole.
        let sent = std::fs::read_dir(&dir).ok().and_then(|mut d| {
            d.find_map(|e| e.ok().filter(|e| e.file_name().to_str().is_some_and(|n| n.ends_with(".txt"))))
        });
        if let Some(f) = sent {
            text = std::fs::read_to_string(f.path()).unwrap();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(text.starts_with(&format!("To: {phone}\n")), "{text}");
    let code: String = text
        .split_whitespace()
        .find(|w| w.trim_end_matches('.').len() == 6 && w.bytes().take(6).all(|c| c.is_ascii_digit()))
        .unwrap()
        .trim_end_matches('.')
        .into();
    let (status, tokens) = otp_grant(&s, &app, "sms", phone, &code).await;
    assert_eq!(status, 200, "{tokens}");
    let sub = jwt_claims(tokens["id_token"].as_str().unwrap())["sub"].as_str().unwrap().to_string();
    assert!(sub.starts_with("sms|"), "{sub}");
    let user = s.store.user(&sub).await.unwrap().unwrap();
    assert_eq!((user.phone_number.as_deref(), user.phone_verified), (Some(phone), true));
    let (status, body) =
        start(&s, json!({"client_id": app, "connection": "sms", "phone_number": phone, "send": "link"})).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("bad.send")), "{body}");
    s.stop().await;
}

async fn start_refusals_and_quiet_answers(b: Backend) {
    let s = Server::start(b).await;
    let app = embedded_app(&s, json!({})).await;
    let other = embedded_app(&s, json!({})).await;
    passwordless_connection(&s, "email", &[&app], Some(json!({"disable_signup": true}))).await;
    let refused = |status: u16, body: &Value, error: &str| {
        assert_eq!((status, body["error"].as_str()), (400, Some(error)), "{body}");
        assert!(body["error_description"].is_string(), "{body}");
    };
    let (status, body) = start(&s, json!({"client_id": app, "connection": "nope", "email": EMAIL})).await;
    refused(status, &body, "bad.connection");
    let (status, body) = start(&s, json!({"client_id": other, "connection": "email", "email": EMAIL})).await;
    refused(status, &body, "bad.connection");
    let (status, body) = start(&s, json!({"client_id": app, "connection": "email", "email": "not-an-email"})).await;
    refused(status, &body, "bad.email");
    let (status, body) =
        start(&s, json!({"client_id": app, "connection": "email", "email": EMAIL, "send": "carrier-pigeon"})).await;
    refused(status, &body, "bad.send");

    // Sign-ups are off and nobody has this address: the same answer, and no email.
    let (status, body) =
        start(&s, json!({"client_id": app, "connection": "email", "email": "stranger@example.com", "send": "code"}))
            .await;
    assert_eq!((status, body["email"].as_str()), (200, Some("stranger@example.com")), "{body}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(s.outbox().iter().all(|m| !m.contains("stranger@example.com")), "no code for an unknown address");

    // Ten codes an hour per address and identifier.
    let mut last = 0;
    for _ in 0..11 {
        (last, _) = start(
            &s,
            json!({"client_id": app, "connection": "email", "email": "stranger@example.com", "send": "code"}),
        )
        .await;
    }
    assert_eq!(last, 429);
    s.stop().await;
}

async fn the_management_api_takes_passwordless_connections_and_users(b: Backend) {
    let s = Server::start(b).await;
    let c = passwordless_connection(&s, "email", &[], None).await;
    assert_eq!(c["strategy"], "email");
    assert_eq!(c["options"]["totp"], json!({"time_step": 300, "length": 6}));
    let (status, body) = s
        .api(
            "POST",
            "/api/v2/connections",
            Some(json!({"name": "text", "strategy": "sms", "options": {"totp": {"length": 3}}})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, user) = s
        .api(
            "POST",
            "/api/v2/users",
            Some(json!({"connection": "email", "email": "pl@example.com", "email_verified": true})),
        )
        .await;
    assert_eq!(status, 201, "{user}");
    assert!(user["user_id"].as_str().unwrap().starts_with("email|"), "{user}");
    assert_eq!(user["identities"][0]["provider"], "email");
    let (status, body) = s
        .api(
            "POST",
            "/api/v2/users",
            Some(json!({"connection": "email", "email": "pw@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    s.stop().await;
}

/// The hosted login page's "Email me a code": offered where the application has a
/// passwordless email connection, the same answer for any address, the code signing the
/// user in and finishing the authorization, once.
async fn the_hosted_login_page_emails_a_code(b: Backend) {
    let s = Server::start(b).await;
    let app = embedded_app(&s, json!({})).await;
    let mut browser = s.browser();
    // No passwordless connection yet: not offered.
    let login = browser.get(&authorize_path(&app, &[("state", "st-e")])).await.location.unwrap();
    assert!(!browser.get(&login).await.body.contains("/u/login/email"));
    passwordless_connection(&s, "email", &[&app], Some(json!({"disable_signup": true}))).await;
    let login = browser.get(&authorize_path(&app, &[("state", "st-e")])).await.location.unwrap();
    let page = browser.get(&login).await;
    assert!(page.body.contains("Email me a code"), "{}", page.body);
    let tx = query_param(&login, "state").unwrap();
    let email_page = browser.get(&format!("/u/login/email?state={tx}")).await;
    assert_eq!(email_page.status, 200, "{}", email_page.body);
    assert!(email_page.body.contains(r#"autocomplete="email""#), "{}", email_page.body);
    let csrf = hidden(&email_page.body, "csrf_token");

    // A forged form is refused.
    let forged = browser.post_form("/u/login/email", &[("state", &tx), ("email", EMAIL)]).await;
    assert_eq!(forged.status, 403);
    // Sign-ups are off: an unknown address and a known one get the same page, and only
    // the known one a code.
    let (status, user) = s
        .api("POST", "/api/v2/users", Some(json!({"connection": "email", "email": EMAIL, "email_verified": true})))
        .await;
    assert_eq!(status, 201, "{user}");
    let stranger = "stranger@example.com";
    let unknown =
        browser.post_form("/u/login/email", &[("state", &tx), ("csrf_token", &csrf), ("email", stranger)]).await;
    let known = browser.post_form("/u/login/email", &[("state", &tx), ("csrf_token", &csrf), ("email", EMAIL)]).await;
    assert_eq!((unknown.status, known.status), (200, 200));
    assert_eq!(
        unknown.body.replace(stranger, "X"),
        known.body.replace(EMAIL, "X"),
        "the same page whether or not the address has an account"
    );
    assert!(known.body.contains(r#"autocomplete="one-time-code""#), "{}", known.body);
    let code = emailed_code(&s, EMAIL, 1).await;
    // The unknown address was answered first, so anything for it would be out by now.
    assert!(s.outbox().iter().all(|m| !m.contains(stranger)), "no code for an unknown address");

    // A wrong code is said on the form; the right one finishes the authorization.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let submit = |code: &str| {
        [("state", tx.clone()), ("csrf_token", csrf.clone()), ("email", EMAIL.to_string()), ("code", code.to_string())]
    };
    let form = submit(wrong);
    let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let a = browser.post_form("/u/login/email/code", &fields).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body.contains(r#"role="alert""#) && a.body.contains(r#"aria-invalid="true""#), "{}", a.body);
    let form = submit(&code);
    let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let a = browser.post_form("/u/login/email/code", &fields).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let q = redirect_query(a.location.as_deref().unwrap());
    assert_eq!(q.get("state").map(String::as_str), Some("st-e"));
    let (status, tokens) = s
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", &app),
            ("code", &q["code"]),
            ("redirect_uri", crate::kit::CALLBACK),
            ("code_verifier", VERIFIER),
        ])
        .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(jwt_claims(tokens["id_token"].as_str().unwrap())["sub"], user["user_id"]);
    // One submission per transaction.
    let again = browser.post_form("/u/login/email/code", &fields).await;
    assert_eq!(again.status, 400);

    // `connection=email` opens this page straight away.
    let direct = browser.get(&authorize_path(&app, &[("connection", "email"), ("prompt", "login")])).await;
    assert!(direct.location.as_deref().unwrap_or("").starts_with("/u/login/email?state="), "{:?}", direct.location);
    s.stop().await;
}
