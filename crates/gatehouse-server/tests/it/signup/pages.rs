//! The hosted sign-up, reset and verification pages: reachable, accessible, CSRF-bound,
//! and continuing the authorization after a sign-up.

use super::helpers::{authorize_path, set_options};
use crate::kit::{hidden, link, query_param, Backend, Server, CALLBACK};
use serde_json::json;

async fn signup_page_continues_the_authorization(b: Backend) {
    let s = Server::start(b).await;
    let client = s.spa_client().await;
    let mut browser = s.browser();
    let a = browser.get(&authorize_path(&client, &[("screen_hint", "signup")])).await;
    assert_eq!(a.status, 302, "{}", a.body);
    let page_url = a.location.unwrap();
    assert!(page_url.starts_with("/u/signup?state="), "{page_url}");
    let page = browser.get(&page_url).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("default-src 'none'"), "{csp}");
    for needle in [
        r#"<label for="email">"#,
        r#"<label for="password">"#,
        r#"autocomplete="new-password""#,
        r#"id="password-rules""#,
        r#"data-code="lengthAtLeast""#,
        r#"<script src="/u/password-rules.js""#,
        "/u/login?state=",
    ] {
        assert!(page.body.contains(needle), "{needle} missing: {}", page.body);
    }
    let tx = hidden(&page.body, "state");
    let csrf = hidden(&page.body, "csrf_token");
    // Missing fields and a weak password are explained on the form.
    let empty = browser.post_form(&format!("/u/signup?state={tx}"), &[("state", &tx), ("csrf_token", &csrf)]).await;
    assert_eq!(empty.status, 400);
    assert!(
        empty.body.contains("Enter your email address.") && empty.body.contains("Choose a password."),
        "{}",
        empty.body
    );
    let weak = browser
        .post_form(
            &format!("/u/signup?state={tx}"),
            &[("state", &tx), ("csrf_token", &csrf), ("email", "new@example.com"), ("password", "weak")],
        )
        .await;
    assert_eq!(weak.status, 400);
    assert!(weak.body.contains("Password is too weak: it does not meet the rules marked ✗ below."), "{}", weak.body);
    // Which rules failed, marked on the list (and said in words for screen readers).
    for marked in [
        r#"data-code="lengthAtLeast" class="unmet""#,
        r#"data-code="lowerCase" class="met""#,
        r#"data-code="upperCase" class="unmet""#,
        "(not met)",
    ] {
        assert!(weak.body.contains(marked), "{marked}: {}", weak.body);
    }
    assert!(!weak.body.contains("It must have"), "no rules restated in a sentence");
    assert!(weak.body.contains(r#"value="new@example.com""#), "the email is kept");
    let bad_email = browser
        .post_form(
            &format!("/u/signup?state={tx}"),
            &[("state", &tx), ("csrf_token", &csrf), ("email", "nope"), ("password", "Strong-pass-1")],
        )
        .await;
    assert_eq!(bad_email.status, 400);
    assert!(bad_email.body.contains(r#"id="email-error""#), "{}", bad_email.body);
    let forged = browser
        .post_form(
            &format!("/u/signup?state={tx}"),
            &[("state", &tx), ("csrf_token", "forged"), ("email", "new@example.com"), ("password", "Strong-pass-1")],
        )
        .await;
    assert_eq!(forged.status, 403);
    let done = browser
        .post_form(
            &format!("/u/signup?state={tx}"),
            &[("state", &tx), ("csrf_token", &csrf), ("email", "new@example.com"), ("password", "Strong-pass-1")],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let to = done.location.unwrap();
    assert!(to.starts_with(CALLBACK) && query_param(&to, "code").is_some(), "{to}");
    assert_eq!(query_param(&to, "state").as_deref(), Some("st-1"));
    let users = s.store.users_by_email("new@example.com").await.unwrap();
    assert_eq!(users.len(), 1);
    assert!(!users[0].email_verified);
    // The verification email's link verifies the address.
    let mail = s.emails_to("new@example.com", 1).await;
    let verified = browser.get(&link(&mail[0], "/u/email-verification?ticket=")).await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    assert!(s.store.users_by_email("new@example.com").await.unwrap()[0].email_verified);
    s.stop().await;
}

async fn login_page_links_and_disabled_signup(b: Backend) {
    let s = Server::start(b).await;
    let client = s.spa_client().await;
    let mut browser = s.browser();
    let a = browser.get(&authorize_path(&client, &[])).await;
    let login = browser.get(a.location.as_deref().unwrap()).await;
    let tx = hidden(&login.body, "state");
    assert!(login.body.contains(&format!("/u/signup?state={tx}")), "{}", login.body);
    assert!(login.body.contains(&format!("/u/reset-password?state={tx}")), "{}", login.body);
    set_options(&s, json!({"disable_signup": true})).await;
    let page = browser.get(&format!("/u/signup?state={tx}")).await;
    assert_eq!(page.status, 403, "{}", page.body);
    // Without the browser cookie, or with a made-up transaction, the page has expired.
    assert_eq!(s.browser().get(&format!("/u/signup?state={tx}")).await.status, 400);
    assert_eq!(browser.get("/u/signup?state=made-up").await.status, 400);
    let script = browser.get("/u/password-rules.js").await;
    assert_eq!(script.status, 200);
    assert!(script.headers["content-type"].to_str().unwrap().starts_with("text/javascript"));
    s.stop().await;
}

async fn reset_request_page_end_to_end(b: Backend) {
    let s = Server::start(b).await;
    let user =
        s.create_user(json!({"email": "r@example.com", "password": "Old-pass-123", "verify_email": false})).await;
    let mut browser = s.browser();
    let form = browser.get("/u/reset-password").await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains(r#"<label for="email">"#));
    let csrf = hidden(&form.body, "csrf_token");
    let bad = browser.post_form("/u/reset-password", &[("csrf_token", &csrf), ("email", "not an email")]).await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("Enter a valid email address."));
    let forged = browser.post_form("/u/reset-password", &[("csrf_token", "x"), ("email", "r@example.com")]).await;
    assert_eq!(forged.status, 403);
    let mut bodies = Vec::new();
    for email in ["r@example.com", "nobody@example.com"] {
        let sent = browser.post_form("/u/reset-password", &[("csrf_token", &csrf), ("email", email)]).await;
        assert_eq!(sent.status, 200);
        bodies.push(sent.body);
    }
    assert_eq!(bodies[0], bodies[1], "the same page for a known and an unknown address");
    let mail = s.emails_to("r@example.com", 1).await;
    let url = link(&mail[0], "/u/reset-password?ticket=");
    // Someone signed in with the old password: a session and a refresh token.
    let id = user["user_id"].as_str().unwrap();
    let far = i64::MAX / 2;
    let session = gatehouse_store::LoginSession {
        id_hash: "old-session".into(),
        sid: "old-sid".into(),
        user_id: id.into(),
        auth_time: 1,
        created_at: 1,
        expires_at: far,
        method: Some("pwd".into()),
        initial: Default::default(),
        last: Default::default(),
        last_interacted_at: None,
    };
    s.store.insert_login_session(&session, "some-app").await.unwrap();
    let token = gatehouse_store::RefreshToken {
        token_hash: "old-token".into(),
        family_id: "old-family".into(),
        client_id: "some-app".into(),
        user_id: id.into(),
        scope: "openid offline_access".into(),
        audience: None,
        sid: Some("old-sid".into()),
        auth_time: 1,
        created_at: 1,
        expires_at: far,
        rotated_at: None,
        revoked_at: None,
    };
    s.store.insert_refresh_token(&token, None).await.unwrap();
    let mut other = s.browser();
    let page = other.get(&url).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = hidden(&page.body, "csrf_token");
    let ticket = hidden(&page.body, "ticket");
    let done = other
        .post_form(
            "/u/reset-password",
            &[
                ("csrf_token", &csrf),
                ("ticket", &ticket),
                ("password", "New-pass-456"),
                ("password_confirm", "New-pass-456"),
            ],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Your password has been changed"));
    assert!(super::helpers::password_is(&s, id, "New-pass-456").await);
    // … and whoever held the old password is signed out of everything.
    assert!(s.store.session_details("old-sid", 0).await.unwrap().is_none());
    let everything = gatehouse_store::GrantFilter::all_of(id);
    assert!(s.store.refresh_grants(&everything, 0, None, 10).await.unwrap().is_empty());
    assert!(s.store.user(id).await.unwrap().unwrap().email_verified, "an emailed link proves the mailbox");
    assert!(super::helpers::log_types(&s).await.contains(&"scp".to_string()));
    s.stop().await;
}

crate::on_both_backends!(
    signup_page_continues_the_authorization,
    login_page_links_and_disabled_signup,
    reset_request_page_end_to_end
);
