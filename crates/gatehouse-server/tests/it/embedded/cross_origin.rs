//! `/co/authenticate` and `/authorize?login_ticket=…`: a ticket for the credentials, only
//! from the client's origins and only when the client allows it; redeemed once, and only
//! with its verifier.

use super::*;
use crate::kit::{authorize_path, jwt_claims, query_param, Backend, CALLBACK, VERIFIER};

crate::on_both_backends!(
    a_ticket_and_its_verifier_sign_the_user_in_once,
    refusals_are_auth0s,
    a_ticket_without_its_verifier_signs_nobody_in,
    lock_reads_the_clients_configuration,
    the_verify_page_takes_the_verifier_from_the_application,
);

async fn user(s: &Server) {
    s.create_user(json!({"email": EMAIL, "password": PASSWORD, "email_verified": true})).await;
}

async fn a_ticket_and_its_verifier_sign_the_user_in_once(b: Backend) {
    let s = Server::start(b).await;
    user(&s).await;
    let app = embedded_app(&s, json!({})).await;
    let r = co_authenticate(&s, Some(APP_ORIGIN), password_body(&app, PASSWORD)).await;
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert_eq!(h["access-control-allow-origin"], APP_ORIGIN);
    assert_eq!(h["access-control-allow-credentials"], "true");
    let cookie =
        h.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).find(|c| c.starts_with("gh_co="));
    let cookie = cookie.expect("the verifier cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Path=/authorize") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let body: Value = r.json().await.unwrap();
    let (ticket, verifier) = (body["login_ticket"].as_str().unwrap(), body["co_verifier"].as_str().unwrap());
    assert!(body["co_id"].is_string());
    assert!(cookie.starts_with(&format!("gh_co={verifier};")), "{cookie}");
    // The store keeps neither the ticket nor the verifier.
    let stored = s.store.live_ticket(&gatehouse_services::secrets::hash_secret(ticket), i64::MAX / 2).await;
    assert!(stored.unwrap().is_none(), "a ticket lives minutes, not forever");

    let mut browser = s.browser();
    browser.cookies.insert("gh_co".into(), verifier.into());
    let path = authorize_path(&app, &[("login_ticket", ticket), ("state", "st-1"), ("scope", "openid email")]);
    let a = browser.get(&path).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let q = redirect_query(a.location.as_deref().unwrap());
    assert_eq!(q.get("state").map(String::as_str), Some("st-1"));
    assert!(a.set_cookies.iter().any(|c| c.starts_with("gh_session=")), "a session starts");
    assert!(a.set_cookies.iter().any(|c| c.starts_with("gh_co=;")), "the verifier cookie is spent");
    let (status, tokens) = s
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", &app),
            ("code", &q["code"]),
            ("redirect_uri", CALLBACK),
            ("code_verifier", VERIFIER),
        ])
        .await;
    assert_eq!(status, 200, "{tokens}");
    let id = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["email"], EMAIL);

    // Used: the same ticket, verifier and all, is refused.
    browser.cookies.insert("gh_co".into(), verifier.into());
    let again = browser.get(&path).await;
    let q = redirect_query(again.location.as_deref().unwrap());
    assert_eq!(q.get("error").map(String::as_str), Some("access_denied"), "{q:?}");
    assert!(!q.contains_key("code"));
    s.stop().await;
}

async fn refusals_are_auth0s(b: Backend) {
    let s = Server::start(b).await;
    user(&s).await;
    let app = embedded_app(&s, json!({})).await;

    // An origin the client does not list: Auth0's plain-text 403, unreadable by the page.
    let r = co_authenticate(&s, Some("http://evil.test"), password_body(&app, PASSWORD)).await;
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("access-control-allow-origin").is_none());
    assert!(r.headers().get_all("set-cookie").iter().next().is_none());
    assert_eq!(r.text().await.unwrap(), "Origin http://evil.test is not allowed.");
    let r = co_authenticate(&s, None, password_body(&app, PASSWORD)).await;
    assert_eq!(r.status(), 403, "no Origin, no ticket");

    let check = |expected_status: u16, error: &'static str, description: &'static str| {
        move |(status, body): (u16, Value)| {
            assert_eq!(status, expected_status, "{body}");
            assert_eq!(body["error"], error, "{body}");
            assert_eq!(body["error_description"], description, "{body}");
        }
    };
    async fn send(s: &Server, body: Value) -> (u16, Value) {
        let r = co_authenticate(s, Some(APP_ORIGIN), body).await;
        assert_eq!(r.headers()["access-control-allow-origin"], APP_ORIGIN, "the page may read the refusal");
        (r.status().as_u16(), r.json().await.unwrap())
    }
    check(403, "access_denied", "Wrong email or password.")(send(&s, password_body(&app, "Wrong-Horse-1")).await);
    let mut body = password_body(&app, PASSWORD);
    body["credential_type"] = json!("http://example.com/magic");
    check(400, "unsupported_credential_type", "Unknown credential type parameter.")(send(&s, body).await);
    let mut body = password_body(&app, PASSWORD);
    body["realm"] = json!("nope");
    check(400, "invalid_request", "Unknown realm nope.")(send(&s, body).await);
    let mut body = password_body(&app, PASSWORD);
    body.as_object_mut().unwrap().remove("username");
    let (status, refused) = send(&s, body).await;
    assert_eq!((status, refused["error"].as_str()), (400, Some("invalid_request")), "{refused}");

    // The client has not turned cross-origin authentication on.
    let (status, c) =
        s.api("PATCH", &format!("/api/v2/clients/{app}"), Some(json!({"cross_origin_authentication": false}))).await;
    assert_eq!((status, c["cross_origin_authentication"].as_bool()), (200, Some(false)), "{c}");
    check(401, "unauthorized_client", "Cross origin login not allowed.")(send(&s, password_body(&app, PASSWORD)).await);

    // The preflight lets the page send its cookies.
    let r = s
        .http
        .request(reqwest::Method::OPTIONS, s.url("co/authenticate"))
        .header("origin", APP_ORIGIN)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["access-control-allow-credentials"], "true");

    // Brute-force protection counts these failures like any login's.
    s.api("PATCH", &format!("/api/v2/clients/{app}"), Some(json!({"cross_origin_authentication": true}))).await;
    for _ in 0..10 {
        send(&s, password_body(&app, "Wrong-Horse-1")).await;
    }
    let (status, blocked) = send(&s, password_body(&app, PASSWORD)).await;
    assert_eq!((status, blocked["error"].as_str()), (429, Some("too_many_attempts")), "{blocked}");
    s.stop().await;
}

async fn a_ticket_without_its_verifier_signs_nobody_in(b: Backend) {
    let s = Server::start(b).await;
    user(&s).await;
    let app = embedded_app(&s, json!({})).await;
    let ticket = |r: Value| r["login_ticket"].as_str().unwrap().to_string();
    let issued: Value =
        co_authenticate(&s, Some(APP_ORIGIN), password_body(&app, PASSWORD)).await.json().await.unwrap();
    let t = ticket(issued);

    // A browser with another verifier, or none: the hosted login page, never a code.
    let mut stranger = s.browser();
    stranger.cookies.insert("gh_co".into(), "x".repeat(43));
    let a = stranger.get(&authorize_path(&app, &[("login_ticket", &t)])).await;
    assert_eq!(a.status, 302, "{}", a.body);
    assert!(a.location.as_deref().unwrap().starts_with("/u/login?state="), "{:?}", a.location);
    assert!(!a.set_cookies.iter().any(|c| c.starts_with("gh_session=")));

    // With a verification page, the browser is sent to /co/verify instead.
    let (status, body) = s
        .api("PATCH", &format!("/api/v2/clients/{app}"), Some(json!({"cross_origin_loc": "http://app.test/co-verify"})))
        .await;
    assert_eq!((status, body["cross_origin_loc"].as_str()), (200, Some("http://app.test/co-verify")), "{body}");
    let a = s.browser().get(&authorize_path(&app, &[("login_ticket", &t)])).await;
    let location = a.location.unwrap();
    assert!(location.starts_with("/co/verify?state="), "{location}");
    assert!(query_param(&location, "state").is_some());

    // A ticket is its client's: another application cannot redeem it.
    let other = embedded_app(&s, json!({})).await;
    let mut browser = s.browser();
    let issued: Value =
        co_authenticate(&s, Some(APP_ORIGIN), password_body(&app, PASSWORD)).await.json().await.unwrap();
    browser.cookies.insert("gh_co".into(), issued["co_verifier"].as_str().unwrap().into());
    let a = browser.get(&authorize_path(&other, &[("login_ticket", &ticket(issued))])).await;
    let q = redirect_query(a.location.as_deref().unwrap());
    assert_eq!(q.get("error").map(String::as_str), Some("access_denied"), "{q:?}");
    let (status, _) = s
        .api("PATCH", &format!("/api/v2/clients/{app}"), Some(json!({"cross_origin_loc": "javascript:alert(1)"})))
        .await;
    assert_eq!(status, 400);
    s.stop().await;
}

async fn lock_reads_the_clients_configuration(b: Backend) {
    let s = Server::start(b).await;
    let app = embedded_app(&s, json!({})).await;
    passwordless_connection(&s, "email", &[&app], None).await;
    let r = s.http.get(s.url(&format!("client/{app}.js?t1700000000"))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/javascript"));
    let text = r.text().await.unwrap();
    let json = text.strip_prefix("Auth0.setClient(").and_then(|t| t.strip_suffix(");")).expect(&text);
    let config: Value = serde_json::from_str(json).unwrap();
    assert_eq!(config["id"], app);
    assert_eq!(config["authorize"], format!("{}authorize", s.issuer));
    let strategies = config["strategies"].as_array().unwrap();
    let database = strategies.iter().find(|st| st["name"] == "auth0").unwrap();
    assert_eq!(
        database["connections"][0],
        json!({"name": DB, "passwordPolicy": "good", "showSignup": true, "showForgot": true, "requires_username": false})
    );
    let email = strategies.iter().find(|st| st["name"] == "email").unwrap();
    assert_eq!(email["connections"], json!([{"name": "email"}]));

    // Sign-up turned off and a minimum length: Lock hides the tab and checks the length.
    let conn = s.default_connection().await;
    let options =
        json!({"passwordPolicy": "fair", "disable_signup": true, "password_complexity_options": {"min_length": 12}});
    let (status, body) = s
        .api(
            "PATCH",
            &format!("/api/v2/connections/{}", conn["id"].as_str().unwrap()),
            Some(json!({"options": options})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let text = s.http.get(s.url(&format!("client/{app}.js"))).send().await.unwrap().text().await.unwrap();
    assert!(text.contains(r#""showSignup":false"#) && text.contains(r#""min_length":12"#), "{text}");
    assert!(text.contains(r#""passwordPolicy":"fair""#), "{text}");

    let r = s.http.get(s.url("client/nobody.js")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    s.stop().await;
}

async fn the_verify_page_takes_the_verifier_from_the_application(b: Backend) {
    let s = Server::start(b).await;
    user(&s).await;
    let app = embedded_app(&s, json!({"cross_origin_loc": "http://app.test/co-verify"})).await;
    // A browser that withheld the cookie: /authorize sends it to /co/verify.
    async fn start(browser: &mut crate::kit::Browser, app: &str, ticket: &str) -> String {
        browser.get(&authorize_path(app, &[("login_ticket", ticket), ("state", "st-v")])).await.location.unwrap()
    }
    let issued: Value =
        co_authenticate(&s, Some(APP_ORIGIN), password_body(&app, PASSWORD)).await.json().await.unwrap();
    let mut browser = s.browser();
    let location = start(&mut browser, &app, issued["login_ticket"].as_str().unwrap()).await;
    assert!(location.starts_with("/co/verify?state="), "{location}");
    let page = browser.get(&location).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(r#"src="http://app.test/co-verify#origin=http%3A%2F%2F127.0.0.1"#), "{}", page.body);
    assert!(page.body.contains(&format!(r#"data-co-id="{}""#, issued["co_id"].as_str().unwrap())), "{}", page.body);
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-src http://app.test;") && csp.contains("script-src 'self'"), "{csp}");
    // Its form's answer redirects to the callback, which browsers hold to `form-action`.
    assert!(csp.contains("form-action 'self' http://app.test"), "{csp}");
    let tx = query_param(&location, "state").unwrap();
    let csrf = crate::kit::hidden(&page.body, "csrf_token");

    // No CSRF token: refused, and the transaction is still there.
    let a =
        browser.post_form("/co/verify", &[("state", &tx), ("verifier", issued["co_verifier"].as_str().unwrap())]).await;
    assert_eq!(a.status, 403);
    // The verifier the application kept: the user is in.
    let a = browser
        .post_form(
            "/co/verify",
            &[("state", &tx), ("csrf_token", &csrf), ("verifier", issued["co_verifier"].as_str().unwrap())],
        )
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
    let q = redirect_query(a.location.as_deref().unwrap());
    assert!(q.contains_key("code") && q["state"] == "st-v", "{q:?}");
    assert!(a.set_cookies.iter().any(|c| c.starts_with("gh_session=")));

    // A wrong verifier: Auth0's error back to the application, and the ticket stays unused
    // by that attempt's transaction (which is gone).
    let issued: Value =
        co_authenticate(&s, Some(APP_ORIGIN), password_body(&app, PASSWORD)).await.json().await.unwrap();
    let mut browser = s.browser();
    let location = start(&mut browser, &app, issued["login_ticket"].as_str().unwrap()).await;
    let page = browser.get(&location).await;
    let tx = query_param(&location, "state").unwrap();
    let csrf = crate::kit::hidden(&page.body, "csrf_token");
    let a =
        browser.post_form("/co/verify", &[("state", &tx), ("csrf_token", &csrf), ("verifier", &"v".repeat(43))]).await;
    let q = redirect_query(a.location.as_deref().unwrap());
    assert_eq!(q.get("error").map(String::as_str), Some("invalid_request"));
    assert_eq!(q.get("error_description").map(String::as_str), Some("No verifier returned from client."));
    let again = browser.post_form("/co/verify", &[("state", &tx), ("csrf_token", &csrf), ("verifier", "x")]).await;
    assert_eq!(again.status, 400, "one submission per transaction");
    let script = s.http.get(s.url("co/verify.js")).send().await.unwrap();
    assert!(script.text().await.unwrap().contains("co_verifier_request"));
    s.stop().await;
}
