//! The admin console over real HTTP: signing in through the hosted login, who gets in,
//! CSRF and read-only refusals, and each user task changing what the Management API then
//! shows. The browser-level checks (keyboard, axe-core, screenshots) are in `tests/e2e`.

use crate::kit::{hidden, Backend, Browser, Server};
use crate::on_both_backends;
use gatehouse_services::console;
use serde_json::{json, Value};

pub(crate) const ADMIN_EMAIL: &str = "admin@console.test";
pub(crate) const ADMIN_PASSWORD: &str = "console admin passphrase 1";

pub(crate) async fn start(backend: Backend) -> Server {
    let srv = Server::start(backend).await;
    console::ensure_first_administrator(&srv.state, ADMIN_EMAIL, ADMIN_PASSWORD).await.unwrap();
    srv
}

/// Signs in at `/admin` through the hosted login; returns the last answer (a 303 to
/// `/admin` when the console let the user in).
async fn sign_in_answer(srv: &Server, b: &mut Browser, email: &str, password: &str) -> crate::kit::Answer {
    let a = b.get("/admin").await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(a.location.as_deref(), Some("/admin/login"));
    let a = b.get("/admin/login").await;
    assert_eq!(a.status, 303, "{}", a.body);
    let authorize = a.location.unwrap();
    assert!(authorize.starts_with(&format!("{}authorize?", srv.issuer)), "{authorize}");
    assert!(authorize.contains("prompt=login") && authorize.contains("code_challenge_method=S256"), "{authorize}");
    let a = b.get(&authorize).await;
    assert_eq!(a.status, 302, "{}", a.body);
    let page = b.get(&a.location.unwrap()).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let tx = hidden(&page.body, "state");
    let csrf = hidden(&page.body, "csrf_token");
    let a = b
        .post_form(
            &format!("u/login?state={tx}"),
            &[("state", &tx), ("csrf_token", &csrf), ("username", email), ("password", password)],
        )
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
    let callback = a.location.unwrap();
    assert!(callback.starts_with(&format!("{}admin/callback?", srv.issuer)), "{callback}");
    b.get(&callback).await
}

pub(crate) async fn sign_in(srv: &Server, email: &str, password: &str) -> Browser {
    let mut b = srv.browser();
    let a = sign_in_answer(srv, &mut b, email, password).await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(a.location.as_deref(), Some("/admin"));
    b
}

/// The CSRF token a console page carries.
pub(crate) fn csrf(html: &str) -> String {
    hidden(html, "csrf")
}

/// HTML as a browser reads it (the template engine escapes `/` too).
fn unescape(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

async fn user_page(b: &mut Browser, user_id: &str) -> String {
    let a = b.get(&format!("/admin/users/{}", urlencode(user_id))).await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.body
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn api_user(srv: &Server, user_id: &str) -> (u16, Value) {
    srv.api("GET", &format!("/api/v2/users/{}", urlencode(user_id)), None).await
}

async fn an_administrator_signs_in_through_the_hosted_login(backend: Backend) {
    let srv = start(backend).await;
    srv.create_user(json!({"email": "jane@example.com", "password": "jane's passphrase 12"})).await;
    // The console needs no place in a connection's list of applications, which an
    // operator (or Auth0's Deploy CLI) replaces whole.
    let connection = srv.default_connection().await;
    assert_eq!(connection["enabled_clients"], json!([]));
    let path = format!("/api/v2/connections/{}", connection["id"].as_str().unwrap());
    let (s, body) = srv.api("PATCH", &path, Some(json!({"enabled_clients": []}))).await;
    assert_eq!(s, 200, "{body}");
    let mut b = srv.browser();
    let a = sign_in_answer(&srv, &mut b, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let session_cookie = a.set_cookies.iter().find(|c| c.starts_with("gh_console=")).unwrap();
    assert!(session_cookie.contains("Path=/admin") && session_cookie.contains("HttpOnly"), "{session_cookie}");
    let home = b.get("/admin").await;
    assert_eq!(home.status, 200, "{}", home.body);
    let csp = home.headers.get("content-security-policy").unwrap().to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    assert!(home.body.contains(ADMIN_EMAIL), "the page names who is signed in");
    assert!(home.body.contains("<svg"), "charts are drawn on the server");
    // Two users: the administrator and Jane; both show on the home page's connection row.
    assert!(home.body.contains(r#"<span class="figure">2</span> users"#), "{}", home.body);
    let users = b.get("/admin/users").await;
    assert_eq!(users.status, 200, "{}", users.body);
    assert!(users.body.contains("jane@example.com"));
    // The sign-in itself is in the log as the hosted login's success.
    srv.state.audit.flush().await;
    let (_, logs) = srv.api("GET", "/api/v2/logs?q=type:s", None).await;
    assert!(logs.as_array().unwrap().iter().any(|l| l["user_name"] == ADMIN_EMAIL), "{logs}");
    srv.stop().await;
}

async fn a_user_without_a_console_role_gets_no_session(backend: Backend) {
    let srv = start(backend).await;
    srv.create_user(json!({"email": "jane@example.com", "password": "jane's passphrase 12"})).await;
    let mut b = srv.browser();
    let a = sign_in_answer(&srv, &mut b, "jane@example.com", "jane's passphrase 12").await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(a.body.contains("No console access"), "{}", a.body);
    assert!(!a.set_cookies.iter().any(|c| c.starts_with("gh_console=")), "{:?}", a.set_cookies);
    let again = b.get("/admin").await;
    assert_eq!(again.status, 303);
    srv.stop().await;
}

async fn a_viewer_sees_but_cannot_change(backend: Backend) {
    let srv = start(backend).await;
    let viewer = srv.create_user(json!({"email": "viewer@example.com", "password": "viewer passphrase 12"})).await;
    let target = srv.create_user(json!({"email": "target@example.com", "password": "target passphrase 12"})).await;
    let role = srv.store.role_by_name(console::VIEWER_ROLE).await.unwrap().unwrap();
    let path = format!("/api/v2/users/{}/roles", urlencode(viewer["user_id"].as_str().unwrap()));
    let (s, body) = srv.api("POST", &path, Some(json!({"roles": [role.id]}))).await;
    assert_eq!(s, 204, "{body}");
    let mut b = sign_in(&srv, "viewer@example.com", "viewer passphrase 12").await;
    let target_id = target["user_id"].as_str().unwrap();
    let page = user_page(&mut b, target_id).await;
    assert!(page.contains("(viewer)"));
    assert!(!page.contains("/block\""), "no change is offered to a viewer");
    let token = csrf(&page);
    let a = b.post_form(&format!("/admin/users/{}/block", urlencode(target_id)), &[("csrf", token.as_str())]).await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(a.body.contains("Read-only"), "{}", a.body);
    let (_, user) = api_user(&srv, target_id).await;
    assert_eq!(user["blocked"], json!(false));
    srv.stop().await;
}

async fn changes_need_the_sessions_csrf_token_and_are_audited(backend: Backend) {
    let srv = start(backend).await;
    let target = srv.create_user(json!({"email": "target@example.com", "password": "target passphrase 12"})).await;
    let target_id = target["user_id"].as_str().unwrap();
    let mut b = sign_in(&srv, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let block = format!("/admin/users/{}/block", urlencode(target_id));
    for forged in [&[][..], &[("csrf", "x".repeat(43))][..]] {
        let form: Vec<(&str, &str)> = forged.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let a = b.post_form(&block, &form).await;
        assert_eq!(a.status, 403, "{}", a.body);
    }
    // Another administrator's token does not fit this session either.
    let mut other = sign_in(&srv, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let other_token = csrf(&user_page(&mut other, target_id).await);
    let a = b.post_form(&block, &[("csrf", &other_token)]).await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert_eq!(api_user(&srv, target_id).await.1["blocked"], json!(false));

    let token = csrf(&user_page(&mut b, target_id).await);
    let a = b.post_form(&block, &[("csrf", token.as_str())]).await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(api_user(&srv, target_id).await.1["blocked"], json!(true));
    let page = b.get(a.location.as_deref().unwrap()).await;
    assert!(page.body.contains("The user is blocked"), "{}", page.body);
    srv.state.audit.flush().await;
    let (_, logs) = srv.api("GET", "/api/v2/logs?q=type:sapi", None).await;
    let event = logs
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["description"].as_str().is_some_and(|d| d.ends_with("/block")))
        .unwrap_or_else(|| panic!("{logs}"));
    assert_eq!(event["user_name"], json!(ADMIN_EMAIL));
    assert_eq!(event["details"]["request"]["channel"], json!("console"));
    let (_, failed) = srv.api("GET", "/api/v2/logs?q=type:fapi", None).await;
    assert!(failed.as_array().unwrap().len() >= 3, "refused forms are audited too: {failed}");
    srv.stop().await;
}

async fn deleting_asks_for_the_administrators_password(backend: Backend) {
    let srv = start(backend).await;
    let target = srv.create_user(json!({"email": "target@example.com", "password": "target passphrase 12"})).await;
    let target_id = target["user_id"].as_str().unwrap();
    let mut b = sign_in(&srv, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let confirm = b.get(&format!("/admin/users/{}/delete", urlencode(target_id))).await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    let token = csrf(&confirm.body);
    let delete = format!("/admin/users/{}/delete", urlencode(target_id));
    let a = b.post_form(&delete, &[("csrf", token.as_str()), ("password", "not my password")]).await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(a.body.contains("not your password"), "{}", a.body);
    assert_eq!(api_user(&srv, target_id).await.0, 200, "nothing was deleted");
    let a = b.post_form(&delete, &[("csrf", token.as_str()), ("password", ADMIN_PASSWORD)]).await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(a.location.as_deref(), Some("/admin/users?done=deleted"));
    assert_eq!(api_user(&srv, target_id).await.0, 404);
    srv.stop().await;
}

async fn search_speaks_auth0s_syntax_and_explains_a_bad_query(backend: Backend) {
    let srv = start(backend).await;
    for name in ["ana", "bob", "cid"] {
        let email = format!("{name}@example.com");
        srv.create_user(json!({"email": email, "password": "some passphrase 123", "name": format!("{name} Tester")}))
            .await;
    }
    let mut b = sign_in(&srv, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let a = b.get("/admin/users?q=email%3A%22bob%40example.com%22").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("bob@example.com") && !a.body.contains("ana@example.com"), "{}", a.body);
    let a = b.get("/admin/users?q=name%3Aci*").await;
    assert!(a.body.contains("cid@example.com") && !a.body.contains("bob@example.com"), "{}", a.body);
    let a = b.get("/admin/users?q=email%3A%28").await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body.contains(r#"class="error""#), "{}", a.body);
    srv.stop().await;
}

async fn metadata_is_edited_as_json_with_the_apis_validation(backend: Backend) {
    let srv = start(backend).await;
    let target = srv
        .create_user(json!({
            "email": "target@example.com", "password": "target passphrase 12",
            "user_metadata": {"theme": "dark", "plan": {"tier": "gold", "seats": 3}},
        }))
        .await;
    let target_id = target["user_id"].as_str().unwrap();
    let mut b = sign_in(&srv, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let token = csrf(&user_page(&mut b, target_id).await);
    let save = format!("/admin/users/{}/metadata", urlencode(target_id));
    let a =
        b.post_form(&save, &[("csrf", token.as_str()), ("user_metadata", "{not json"), ("app_metadata", "{}")]).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body.contains("user_metadata is not valid JSON"), "{}", a.body);
    assert!(a.body.contains("{not json"), "the text sent is kept for correcting");
    let a = b.post_form(&save, &[("csrf", token.as_str()), ("user_metadata", "[1]"), ("app_metadata", "{}")]).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(api_user(&srv, target_id).await.1["user_metadata"]["theme"], json!("dark"));
    // The document shown replaces the old one: what it lacks is gone.
    let a = b
        .post_form(
            &save,
            &[
                ("csrf", token.as_str()),
                ("user_metadata", r#"{"plan": {"tier": "silver"}}"#),
                ("app_metadata", r#"{"id": 7}"#),
            ],
        )
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
    let (_, user) = api_user(&srv, target_id).await;
    assert_eq!(user["user_metadata"], json!({"plan": {"tier": "silver"}}));
    assert_eq!(user["app_metadata"], json!({"id": 7}));
    srv.stop().await;
}

async fn console_access_ends_with_the_role_a_block_or_a_new_password(backend: Backend) {
    let srv = start(backend).await;
    let admin = srv.store.users_by_email(ADMIN_EMAIL).await.unwrap().remove(0);
    let roles_path = format!("/api/v2/users/{}/roles", urlencode(&admin.user_id));
    let role = srv.store.role_by_name(console::ADMINISTRATOR_ROLE).await.unwrap().unwrap();

    let mut b = sign_in(&srv, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let (s, _) = srv.api("DELETE", &roles_path, Some(json!({"roles": [role.id]}))).await;
    assert_eq!(s, 204);
    assert_eq!(b.get("/admin").await.status, 303, "the role is read at every request");
    let (s, _) = srv.api("POST", &roles_path, Some(json!({"roles": [role.id]}))).await;
    assert_eq!(s, 204);
    assert_eq!(b.get("/admin").await.status, 303, "the session it had is gone for good");

    let mut b = sign_in(&srv, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let path = format!("/api/v2/users/{}", urlencode(&admin.user_id));
    let (s, body) = srv.api("PATCH", &path, Some(json!({"password": "a brand new passphrase 9"}))).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(b.get("/admin").await.status, 303, "a new password ends console sessions");

    let mut b = sign_in(&srv, ADMIN_EMAIL, "a brand new passphrase 9").await;
    let (s, body) = srv.api("PATCH", &path, Some(json!({"blocked": true}))).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(b.get("/admin").await.status, 303, "a blocked administrator is out");
    let (s, body) = srv.api("PATCH", &path, Some(json!({"blocked": false}))).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(b.get("/admin").await.status, 303, "and unblocking does not bring the session back");

    let mut b = sign_in(&srv, ADMIN_EMAIL, "a brand new passphrase 9").await;
    let page = b.get("/admin").await;
    let token = csrf(&page.body);
    let a = b.post_form("/admin/logout", &[("csrf", token.as_str())]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(!b.cookies.contains_key("gh_console"));
    assert_eq!(b.get("/admin").await.status, 303);
    srv.stop().await;
}

async fn an_administrator_creates_users_under_the_connections_policy(backend: Backend) {
    let srv = start(backend).await;
    let mut b = sign_in(&srv, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let form = b.get("/admin/users/new").await;
    assert_eq!(form.status, 200, "{}", form.body);
    let token = csrf(&form.body);
    let weak =
        [("csrf", token.as_str()), ("connection", crate::kit::DB), ("email", "new@example.com"), ("password", "x")];
    let a = b.post_form("/admin/users", &weak).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body.contains("new@example.com"), "the form keeps what was typed");
    assert!(srv.store.users_by_email("new@example.com").await.unwrap().is_empty());
    let strong = [
        ("csrf", token.as_str()),
        ("connection", crate::kit::DB),
        ("email", "new@example.com"),
        ("password", "a long enough passphrase 7"),
        ("email_verified", "true"),
    ];
    let a = b.post_form("/admin/users", &strong).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let created = srv.store.users_by_email("new@example.com").await.unwrap().remove(0);
    assert!(created.email_verified);
    assert_eq!(a.location.unwrap(), format!("/admin/users/{}?done=created", urlencode(&created.user_id)));
    // A password-change link for the new user, shown once.
    let token = csrf(&user_page(&mut b, &created.user_id).await);
    let a = b
        .post_form(
            &format!("/admin/users/{}/password-ticket", urlencode(&created.user_id)),
            &[("csrf", token.as_str())],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(unescape(&a.body).contains(&format!("{}u/reset-password?ticket=", srv.issuer)), "{}", a.body);
    srv.stop().await;
}

async fn a_policy_changed_in_the_console_refuses_weak_passwords_at_sign_up(backend: Backend) {
    let srv = start(backend).await;
    let client = srv.spa_client().await;
    let connection = srv.default_connection().await;
    let id = connection["id"].as_str().unwrap();
    let mut b = sign_in(&srv, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let page = b.get(&format!("/admin/connections/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let token = csrf(&page.body);
    // The real checker, before anything changes: a 13-character password passes.
    let a = b
        .post_form(
            &format!("/admin/connections/{id}/try-password"),
            &[("csrf", token.as_str()), ("password", "Twelve-chars1")],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("Accepted."), "{}", a.body);
    let settings = [
        ("csrf", token.as_str()),
        ("level", "good"),
        ("min_length", "16"),
        ("history", "true"),
        ("history_size", "3"),
        ("brute_force_protection", "true"),
    ];
    let a = b.post_form(&format!("/admin/connections/{id}"), &settings).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let (_, saved) = srv.api("GET", &format!("/api/v2/connections/{id}"), None).await;
    assert_eq!(saved["options"]["passwordPolicy"], json!("good"));
    assert_eq!(saved["options"]["password_complexity_options"]["min_length"], json!(16));
    assert_eq!(saved["options"]["password_history"], json!({"enable": true, "size": 3}));
    let a = b
        .post_form(
            &format!("/admin/connections/{id}/try-password"),
            &[("csrf", token.as_str()), ("password", "Twelve-chars1")],
        )
        .await;
    assert!(a.body.contains("Refused") && a.body.contains("✗ At least 16 characters"), "{}", a.body);
    let signup = json!({"client_id": client, "connection": crate::kit::DB, "email": "weak@example.com", "password": "Twelve-chars1"});
    let (s, body) = srv.call("POST", "/dbconnections/signup", Some(signup), None).await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(body["name"], json!("PasswordStrengthError"), "{body}");
    // Without a legacy store, the lookup says so.
    let a = b
        .post_form(
            &format!("/admin/connections/{id}/test-lookup"),
            &[("csrf", token.as_str()), ("login", "x@example.com")],
        )
        .await;
    assert!(a.body.contains("no legacy store"), "{}", a.body);
    srv.stop().await;
}

async fn the_log_filters_by_type_user_and_day(backend: Backend) {
    let srv = start(backend).await;
    let jane = srv.create_user(json!({"email": "jane@example.com", "password": "jane's passphrase 12"})).await;
    let jane_id = jane["user_id"].as_str().unwrap();
    let mut b = sign_in(&srv, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let token = csrf(&user_page(&mut b, jane_id).await);
    let a = b.post_form(&format!("/admin/users/{}/sign-out", urlencode(jane_id)), &[("csrf", token.as_str())]).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let all = b.get("/admin/logs").await;
    assert_eq!(all.status, 200, "{}", all.body);
    assert!(all.body.contains("<code>s</code>") && all.body.contains("<code>sapi</code>"), "{}", all.body);
    let only = b.get("/admin/logs?type=sapi").await;
    assert!(only.body.contains("sign-out") && !only.body.contains("<code>s</code>"), "{}", only.body);
    let today = srv.state.now()[..10].to_string();
    let a = b.get(&format!("/admin/logs?type=sapi&from={today}&to={today}")).await;
    assert!(a.body.contains("sign-out"), "{}", a.body);
    let a = b.get("/admin/logs?type=sapi&to=2001-01-01").await;
    assert!(a.body.contains("No events match"), "{}", a.body);
    let admin = srv.store.users_by_email(ADMIN_EMAIL).await.unwrap().remove(0);
    let a = b.get(&format!("/admin/logs?user_id={}", urlencode(&admin.user_id))).await;
    assert!(a.body.contains("<code>s</code>"), "the administrator's own sign-in: {}", a.body);
    let a = b.get("/admin/logs?from=yesterday").await;
    assert_eq!(a.status, 400, "{}", a.body);
    srv.stop().await;
}

async fn applications_are_made_edited_and_their_secret_rotated(backend: Backend) {
    let srv = start(backend).await;
    let connection = srv.default_connection().await;
    let connection_id = connection["id"].as_str().unwrap();
    let mut b = sign_in(&srv, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let form = b.get("/admin/applications/new").await;
    assert_eq!(form.status, 200, "{}", form.body);
    let token = csrf(&form.body);
    let bad = [("csrf", token.as_str()), ("name", "Shop"), ("app_type", "regular_web"), ("callbacks", "not a url")];
    let a = b.post_form("/admin/applications", &bad).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body.contains("not a url"), "the form keeps what was typed");
    let good = [
        ("csrf", token.as_str()),
        ("name", "Shop"),
        ("app_type", "regular_web"),
        ("callbacks", "https://shop.test/callback\nhttps://shop.test/other"),
        ("allowed_logout_urls", "https://shop.test/"),
        ("grant_type", "authorization_code"),
        ("grant_type", "refresh_token"),
        ("connection", connection_id),
    ];
    let a = b.post_form("/admin/applications", &good).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let page = unescape(&a.body);
    let secret = page
        .split(r#"aria-label="Client secret""#)
        .next()
        .unwrap()
        .rsplit("value=\"")
        .next()
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let (_, apps) = srv.api("GET", "/api/v2/clients", None).await;
    let shop = apps.as_array().unwrap().iter().find(|c| c["name"] == "Shop").unwrap().clone();
    let id = shop["client_id"].as_str().unwrap();
    assert_eq!(shop["callbacks"], json!(["https://shop.test/callback", "https://shop.test/other"]));
    assert_eq!(shop["grant_types"], json!(["authorization_code", "refresh_token"]));
    let (_, c) = srv.api("GET", &format!("/api/v2/connections/{connection_id}"), None).await;
    assert!(c["enabled_clients"].as_array().unwrap().contains(&json!(id)), "{c}");
    let token_for = |secret: String| {
        let id = id.to_string();
        let srv = &srv;
        async move {
            let audience = srv.state.config.management_audience();
            srv.token(&[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("audience", &audience),
            ])
            .await
        }
    };
    // The secret shown works (the client is not granted the API: its refusal is about that).
    let (_, body) = token_for(secret.clone()).await;
    assert_ne!(body["error"], json!("invalid_client"), "{body}");

    // Unticking the connection takes the application off it; the edit is saved.
    let edit = [
        ("csrf", token.as_str()),
        ("name", "Shop 2"),
        ("app_type", "regular_web"),
        ("callbacks", "https://shop.test/callback"),
        ("grant_type", "authorization_code"),
    ];
    let a = b.post_form(&format!("/admin/applications/{id}"), &edit).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let (_, shop) = srv.api("GET", &format!("/api/v2/clients/{id}"), None).await;
    assert_eq!((shop["name"].as_str(), shop["callbacks"].as_array().map(Vec::len)), (Some("Shop 2"), Some(1)));
    let (_, c) = srv.api("GET", &format!("/api/v2/connections/{connection_id}"), None).await;
    assert!(!c["enabled_clients"].as_array().unwrap().contains(&json!(id)), "{c}");

    let a = b.post_form(&format!("/admin/applications/{id}/rotate-secret"), &[("csrf", token.as_str())]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (_, body) = token_for(secret).await;
    assert_eq!(body["error"], json!("invalid_client"), "the old secret stops working: {body}");
    // The console's own client is not edited here.
    let a = b.post_form(&format!("/admin/applications/{}", console::CONSOLE_CLIENT_ID), &edit).await;
    assert_eq!(a.status, 404, "{}", a.body);
    srv.stop().await;
}

async fn protection_settings_and_a_users_login_blocks(backend: Backend) {
    let srv = start(backend).await;
    let app = srv.password_client().await;
    let connection = srv.default_connection().await;
    let path = format!("/api/v2/connections/{}", connection["id"].as_str().unwrap());
    let (s, body) = srv.api("PATCH", &path, Some(json!({"enabled_clients": [app.client_id]}))).await;
    assert_eq!(s, 200, "{body}");
    let jane = srv.create_user(json!({"email": "jane@example.com", "password": "jane's passphrase 12"})).await;
    let jane_id = jane["user_id"].as_str().unwrap();
    let mut b = sign_in(&srv, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let page = b.get("/admin/protection").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let token = csrf(&page.body);
    let bad = [("csrf", token.as_str()), ("enabled", "true"), ("block", "true"), ("max_attempts", "0")];
    let a = b.post_form("/admin/protection/brute-force", &bad).await;
    assert_eq!(a.status, 400, "{}", a.body);
    let settings =
        [("csrf", token.as_str()), ("enabled", "true"), ("block", "true"), ("per_ip", "true"), ("max_attempts", "2")];
    let a = b.post_form("/admin/protection/brute-force", &settings).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let (_, bf) = srv.api("GET", "/api/v2/attack-protection/brute-force-protection", None).await;
    assert_eq!((bf["max_attempts"].as_u64(), bf["shields"].clone()), (Some(2), json!(["block"])));
    for _ in 0..2 {
        let (s, body) = srv
            .token(&[
                ("grant_type", "password"),
                ("username", "jane@example.com"),
                ("password", "wrong"),
                ("client_id", &app.client_id),
                ("client_secret", &app.secret),
            ])
            .await;
        assert_eq!((s, body["error"].as_str()), (403, Some("invalid_grant")), "{body}");
    }
    let page = user_page(&mut b, jane_id).await;
    assert!(page.contains("Login blocks") && page.contains("jane@example.com"), "{page}");
    let a =
        b.post_form(&format!("/admin/users/{}/unblock-logins", urlencode(jane_id)), &[("csrf", token.as_str())]).await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert!(!user_page(&mut b, jane_id).await.contains("Login blocks"));
    let suspicious = [
        ("csrf", token.as_str()),
        ("enabled", "true"),
        ("block", "true"),
        ("login_attempts", "5"),
        ("login_rate", "60000"),
        ("signup_attempts", "7"),
        ("signup_rate", "60000"),
        ("allowlist", "10.0.0.0/8"),
    ];
    let a = b.post_form("/admin/protection/suspicious-ip", &suspicious).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let (_, si) = srv.api("GET", "/api/v2/attack-protection/suspicious-ip-throttling", None).await;
    assert_eq!(si["stage"]["pre-user-registration"]["max_attempts"], json!(7));
    assert_eq!(si["allowlist"], json!(["10.0.0.0/8"]));
    srv.stop().await;
}

async fn branding_is_previewed_then_saved_and_the_hosted_pages_follow(backend: Backend) {
    let srv = start(backend).await;
    let mut b = sign_in(&srv, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let page = b.get("/admin/branding").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let csp = page.headers.get("content-security-policy").unwrap().to_str().unwrap();
    assert!(csp.contains("frame-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(page.body.contains(r#"<iframe name="preview" src="/admin/branding/preview""#), "{}", page.body);
    assert!(page.body.contains(" sandbox>"), "the preview runs nothing");
    let token = csrf(&page.body);
    let draft = [
        ("csrf", token.as_str()),
        ("name", "Acme <Login>"),
        ("logo_url", "https://acme.test/logo.png"),
        ("primary_color", "#ff6600"),
        ("page_background", "#101010"),
    ];
    // The preview shows the draft and changes nothing (not even the audit log).
    let preview = b.post_form("/admin/branding/preview", &draft).await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert!(
        preview.body.contains("--primary: #ff6600") && preview.body.contains("Acme &lt;Login&gt;"),
        "{}",
        preview.body
    );
    assert!(preview.body.contains(r#"<img src="https://acme.test/logo.png""#), "{}", preview.body);
    let framing = preview.headers.get("content-security-policy").unwrap().to_str().unwrap();
    assert!(framing.contains("frame-ancestors 'self'") && framing.contains("form-action 'none'"), "{framing}");
    let home = srv.browser().get("/").await;
    assert!(!home.body.contains("#ff6600"), "nothing saved yet");
    // A bad colour is refused with the field named, and nothing is saved.
    let mut bad = draft;
    bad[3] = ("primary_color", "red;}");
    let a = b.post_form("/admin/branding", &bad).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body.contains("colors.primary"), "{}", a.body);
    let (_, tenant) = srv.api("GET", "/api/v2/tenants/settings", None).await;
    assert_eq!(tenant, json!({}), "a refused form writes neither document");
    // Saved: the API reads it back in Auth0's shape and every hosted page shows it.
    let a = b.post_form("/admin/branding", &draft).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let (_, branding) = srv.api("GET", "/api/v2/branding", None).await;
    assert_eq!(
        branding,
        json!({"colors": {"primary": "#ff6600", "page_background": "#101010"}, "logo_url": "https://acme.test/logo.png"})
    );
    let (_, tenant) = srv.api("GET", "/api/v2/tenants/settings", None).await;
    assert_eq!(tenant["friendly_name"], "Acme <Login>");
    let home = srv.browser().get("/").await;
    assert!(
        home.body.contains("--primary: #ff6600") && home.body.contains("--page-background: #101010"),
        "{}",
        home.body
    );
    assert!(home.body.contains("<title>Acme &lt;Login&gt; · Acme &lt;Login&gt;</title>"), "{}", home.body);
    // Emptied fields fall back to the configuration.
    let cleared =
        [("csrf", token.as_str()), ("name", ""), ("logo_url", ""), ("primary_color", ""), ("page_background", "")];
    assert_eq!(b.post_form("/admin/branding", &cleared).await.status, 303);
    let home = srv.browser().get("/").await;
    assert!(home.body.contains("--primary: #3b5bdb") && !home.body.contains("acme.test"), "{}", home.body);
    srv.state.audit.flush().await;
    let (_, logs) = srv.api("GET", "/api/v2/logs?q=type:sapi", None).await;
    let described: Vec<&str> = logs.as_array().unwrap().iter().filter_map(|l| l["description"].as_str()).collect();
    assert!(described.contains(&"Console: POST /admin/branding"), "{described:?}");
    assert!(!described.iter().any(|d| d.contains("preview")), "{described:?}");
    srv.stop().await;
}

async fn apis_roles_and_permissions_are_managed(backend: Backend) {
    let srv = start(backend).await;
    let jane = srv.create_user(json!({"email": "jane@example.com", "password": "jane's passphrase 12"})).await;
    let jane_id = jane["user_id"].as_str().unwrap();
    let mut b = sign_in(&srv, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let page = b.get("/admin/apis").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("(system)"), "the Management API is listed");
    let token = csrf(&page.body);
    // A refused API keeps what was typed and says why.
    let bad = [
        ("csrf", token.as_str()),
        ("name", "Orders"),
        ("identifier", "https://orders.test/"),
        ("scopes", "read orders\nread again"),
    ];
    let a = b.post_form("/admin/apis", &bad).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body.contains("listed twice") && a.body.contains("Orders"), "{}", a.body);
    let good = [
        ("csrf", token.as_str()),
        ("name", "Orders"),
        ("identifier", "https://orders.test/"),
        ("scopes", "read:orders Read your orders\nwrite:orders"),
    ];
    let a = b.post_form("/admin/apis", &good).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let api_page = a.location.unwrap();
    let api_id = api_page.strip_prefix("/admin/apis/").unwrap().split('?').next().unwrap().to_string();
    let (_, api) = srv.api("GET", &format!("/api/v2/resource-servers/{api_id}"), None).await;
    assert_eq!(
        api["scopes"],
        json!([{"value": "read:orders", "description": "Read your orders"}, {"value": "write:orders", "description": ""}])
    );
    // Settings: RBAC on, permissions in the token.
    let settings = [
        ("csrf", token.as_str()),
        ("name", "Orders API"),
        ("token_lifetime", "600"),
        ("token_dialect", "access_token_authz"),
        ("enforce_policies", "true"),
        ("scopes", "read:orders Read your orders\nwrite:orders Change your orders"),
    ];
    let a = b.post_form(&format!("/admin/apis/{api_id}"), &settings).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let (_, api) = srv.api("GET", &format!("/api/v2/resource-servers/{api_id}"), None).await;
    assert_eq!((api["name"].as_str(), api["token_lifetime"].as_i64()), (Some("Orders API"), Some(600)));
    assert_eq!(
        (api["enforce_policies"].as_bool(), api["token_dialect"].as_str()),
        (Some(true), Some("access_token_authz"))
    );
    // A role with a permission, given to Jane on her page.
    let a = b
        .post_form(
            "/admin/roles",
            &[("csrf", token.as_str()), ("role_name", "Clerk"), ("role_description", "Handles orders")],
        )
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
    let role_page = a.location.unwrap();
    let role_id = role_page.strip_prefix("/admin/roles/").unwrap().split('?').next().unwrap().to_string();
    let page = b.get(&role_page).await;
    assert!(
        page.body.contains(r#"<option value="write:orders https:&#x2f;&#x2f;orders.test&#x2f;">"#)
            || unescape(&page.body).contains(r#"<option value="write:orders https://orders.test/">"#),
        "{}",
        page.body
    );
    let add = [
        ("csrf", token.as_str()),
        ("permission", "read:orders https://orders.test/"),
        ("permission", "write:orders https://orders.test/"),
    ];
    assert_eq!(b.post_form(&format!("/admin/roles/{role_id}/permissions"), &add).await.status, 303);
    let unknown = [("csrf", token.as_str()), ("permission", "delete:orders https://orders.test/")];
    let a = b.post_form(&format!("/admin/roles/{role_id}/permissions"), &unknown).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body.contains("not a scope"), "{}", a.body);
    let remove = [("csrf", token.as_str()), ("permission", "write:orders https://orders.test/")];
    assert_eq!(b.post_form(&format!("/admin/roles/{role_id}/permissions/remove"), &remove).await.status, 303);
    let (_, held) = srv.api("GET", &format!("/api/v2/roles/{role_id}/permissions"), None).await;
    let names: Vec<&str> = held.as_array().unwrap().iter().filter_map(|p| p["permission_name"].as_str()).collect();
    assert_eq!(names, ["read:orders"]);
    let (s, body) = srv
        .api("POST", &format!("/api/v2/users/{}/roles", urlencode(jane_id)), Some(json!({"roles": [role_id]})))
        .await;
    assert_eq!(s, 204, "{body}");
    let page = b.get(&format!("/admin/roles/{role_id}")).await;
    assert!(page.body.contains("jane@example.com"), "members are listed: {}", page.body);
    // Deleting needs the box ticked.
    let a = b.post_form(&format!("/admin/roles/{role_id}/delete"), &[("csrf", token.as_str())]).await;
    assert_eq!(a.status, 400, "{}", a.body);
    let a =
        b.post_form(&format!("/admin/roles/{role_id}/delete"), &[("csrf", token.as_str()), ("confirm", "yes")]).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let (s, _) = srv.api("GET", &format!("/api/v2/roles/{role_id}"), None).await;
    assert_eq!(s, 404);
    let a = b.post_form(&format!("/admin/apis/{api_id}/delete"), &[("csrf", token.as_str()), ("confirm", "yes")]).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let (s, _) = srv.api("GET", &format!("/api/v2/resource-servers/{api_id}"), None).await;
    assert_eq!(s, 404);
    srv.stop().await;
}

/// An action written, deployed and bound in the console changes real tokens; its secret's
/// value is never shown and survives a save that leaves it empty; a trigger's list is
/// edited by the buttons' whole-order posts.
async fn actions_are_written_deployed_and_bound(backend: Backend) {
    let srv = start(backend).await;
    let (s, _) = srv
        .api(
            "POST",
            "/api/v2/resource-servers",
            Some(json!({"name": "Billing", "identifier": "https://billing.example.com/", "scopes": [{"value": "read:invoices"}]})),
        )
        .await;
    assert_eq!(s, 201);
    let (s, worker) =
        srv.api("POST", "/api/v2/clients", Some(json!({"name": "Worker", "app_type": "non_interactive"}))).await;
    assert_eq!(s, 201, "{worker}");
    let (worker_id, worker_secret) = (worker["client_id"].as_str().unwrap(), worker["client_secret"].as_str().unwrap());
    let grant = json!({"client_id": worker_id, "audience": "https://billing.example.com/", "scope": ["read:invoices"]});
    assert_eq!(srv.api("POST", "/api/v2/client-grants", Some(grant)).await.0, 201);
    let tier = || async {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", worker_id),
            ("client_secret", worker_secret),
            ("audience", "https://billing.example.com/"),
        ];
        let (s, body) = srv.token(&form).await;
        assert_eq!(s, 200, "{body}");
        crate::kit::jwt_claims(body["access_token"].as_str().unwrap())["https://billing.example.com/tier"].clone()
    };

    let mut b = sign_in(&srv, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let page = b.get("/admin/actions").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("No action yet."), "{}", page.body);
    let token = csrf(&page.body);
    let a = b
        .post_form("/admin/actions", &[("csrf", token.as_str()), ("name", ""), ("trigger", "credentials-exchange")])
        .await;
    assert_eq!(a.status, 400, "a nameless action is refused on the page: {}", a.body);
    let a = b
        .post_form("/admin/actions", &[("csrf", token.as_str()), ("name", "Tier"), ("trigger", "credentials-exchange")])
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
    let page_url = a.location.unwrap();
    let id = page_url.strip_prefix("/admin/actions/").unwrap().split('?').next().unwrap().to_string();
    let page = b.get(&page_url).await;
    assert!(page.body.contains("onExecuteCredentialsExchange"), "the trigger's handler to start from: {}", page.body);

    let code = "exports.onExecuteCredentialsExchange = async (event, api) => {\n  api.accessToken.setCustomClaim('https://billing.example.com/tier', event.secrets.TIER);\n};\n";
    let save = |secret_fields: Vec<(&'static str, &'static str)>| {
        let mut form = vec![
            ("csrf", token.clone()),
            ("name", "Tier".to_string()),
            ("trigger", "credentials-exchange".to_string()),
            ("code", code.to_string()),
            ("dependencies", String::new()),
        ];
        form.extend(secret_fields.into_iter().map(|(k, v)| (k, v.to_string())));
        form
    };
    let form = save(vec![("new_secret_name", "TIER"), ("new_secret_value", "gold-7f3a")]);
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let a = b.post_form(&format!("/admin/actions/{id}"), &pairs).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let page = b.get(&format!("/admin/actions/{id}")).await;
    assert!(page.body.contains("TIER") && !page.body.contains("gold-7f3a"), "a secret's value is never shown");
    assert!(page.body.contains("not yet"), "{}", page.body);

    // Only deployed actions can be bound: a forged add says why.
    let bind = |order: &str, add: Option<&str>| {
        let mut form = vec![("csrf", token.clone()), ("order", order.to_string())];
        form.extend(add.map(|a| ("add", a.to_string())));
        form
    };
    let form = bind("", Some(&id));
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let a = b.post_form("/admin/actions/bindings/credentials-exchange", &pairs).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body.contains("has not been deployed"), "{}", a.body);
    let a = b.post_form(&format!("/admin/actions/{id}/deploy"), &[("csrf", token.as_str())]).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let page = b.get("/admin/actions").await;
    assert!(page.body.contains("version 1"), "{}", page.body);
    assert!(page.body.contains("Add to credentials-exchange"), "a deployed action is offered: {}", page.body);
    let a = b.post_form("/admin/actions/bindings/credentials-exchange", &pairs).await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(tier().await, "gold-7f3a", "the bound action runs on a real token");

    // Saved again with the secret's field left empty: the value stays.
    let form = save(vec![("secret", "TIER"), ("secret_value_TIER", "")]);
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(b.post_form(&format!("/admin/actions/{id}"), &pairs).await.status, 303);
    assert_eq!(tier().await, "gold-7f3a");
    // Bound, it cannot be deleted; removed from the trigger, it no longer runs.
    let a = b.post_form(&format!("/admin/actions/{id}/delete"), &[("csrf", token.as_str()), ("confirm", "yes")]).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body.contains("bound to credentials-exchange"), "{}", a.body);
    let form = bind("", None);
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(b.post_form("/admin/actions/bindings/credentials-exchange", &pairs).await.status, 303);
    assert_eq!(tier().await, Value::Null);
    let a = b.post_form(&format!("/admin/actions/{id}/delete"), &[("csrf", token.as_str()), ("confirm", "yes")]).await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(srv.api("GET", &format!("/api/v2/actions/actions/{id}"), None).await.0, 404);
    srv.stop().await;
}

on_both_backends!(
    actions_are_written_deployed_and_bound,
    branding_is_previewed_then_saved_and_the_hosted_pages_follow,
    apis_roles_and_permissions_are_managed,
    protection_settings_and_a_users_login_blocks,
    applications_are_made_edited_and_their_secret_rotated,
    the_log_filters_by_type_user_and_day,
    a_policy_changed_in_the_console_refuses_weak_passwords_at_sign_up,
    an_administrator_signs_in_through_the_hosted_login,
    a_user_without_a_console_role_gets_no_session,
    a_viewer_sees_but_cannot_change,
    changes_need_the_sessions_csrf_token_and_are_audited,
    deleting_asks_for_the_administrators_password,
    search_speaks_auth0s_syntax_and_explains_a_bad_query,
    metadata_is_edited_as_json_with_the_apis_validation,
    console_access_ends_with_the_role_a_block_or_a_new_password,
    an_administrator_creates_users_under_the_connections_policy,
    a_csv_import_is_mapped_previewed_started_and_its_errors_shown,
    an_export_picks_fields_and_hashes_need_the_administrators_password,
);

/// Waits for job `id` to finish; its final row.
async fn finished_job(srv: &Server, id: &str) -> gatehouse_core::job::Job {
    for _ in 0..400 {
        let job = srv.store.job(id).await.unwrap().unwrap();
        if matches!(job.status.as_str(), "completed" | "failed") {
            return job;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("job {id} did not finish");
}

async fn a_csv_import_is_mapped_previewed_started_and_its_errors_shown(backend: Backend) {
    let srv = start(backend).await;
    let connection = srv.default_connection().await;
    let connection_id = connection["id"].as_str().unwrap();
    let mut b = sign_in(&srv, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let form = b.get("/admin/import").await;
    assert_eq!(form.status, 200, "{}", form.body);
    let token = csrf(&form.body);
    let csv = "Mail,Full Name,Plan\nann@example.com,Ann A,gold\nnot-an-email,Bad B,free\ncy@example.com,Cy C,free\n";
    let fields = [("csrf", token.as_str()), ("connection_id", connection_id), ("format", "csv")];

    // A forged form stores nothing.
    let jobs_dir = srv.data_dir.join("jobs");
    let a = b.post_multipart("/admin/import", &[("csrf", "forged"), ("format", "csv")], ("users", csv.into())).await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(std::fs::read_dir(&jobs_dir).map(|d| d.count()).unwrap_or(0) == 0, "no upload is kept");

    let a = b.post_multipart("/admin/import", &fields, ("users", csv.into())).await;
    assert_eq!(a.status, 400, "unknown columns need a mapping: {}", a.body);
    let page = unescape(&a.body);
    assert!(page.contains("give a column mapping"), "{page}");
    assert!(page.contains(r#"name="title_0" value="Mail""#), "{page}");
    let upload = page.split("/admin/import/").nth(1).unwrap().split('"').next().unwrap().to_string();
    let action = format!("/admin/import/{upload}");
    let mapping = [
        ("csrf", token.as_str()),
        ("connection_id", connection_id),
        ("format", "csv"),
        ("title_0", "Mail"),
        ("column_0", "email"),
        ("title_1", "Full Name"),
        ("column_1", "name"),
        ("title_2", "Plan"),
        ("column_2", "user_metadata.plan"),
    ];
    let a = b.post_form(&action, &[&mapping[..], &[("action", "preview")]].concat()).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("ann@example.com") && a.body.contains("Bad B"), "{}", a.body);
    assert!(a.body.contains(r#"class="problem""#), "the bad email is flagged before the import: {}", a.body);
    assert!(srv.store.users_by_email("ann@example.com").await.unwrap().is_empty(), "a preview writes nothing");

    let a = b.post_form(&action, &[&mapping[..], &[("action", "start")]].concat()).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let job_page = a.location.unwrap();
    let job_id = job_page.strip_prefix("/admin/jobs/").unwrap().to_string();
    let job = finished_job(&srv, &job_id).await;
    assert_eq!(job.status.as_str(), "completed", "{job:?}");
    let ann = srv.store.users_by_email("ann@example.com").await.unwrap().remove(0);
    assert_eq!(ann.name.as_deref(), Some("Ann A"));
    assert_eq!(ann.user_metadata.get("plan"), Some(&json!("gold")));
    let page = b.get(&job_page).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Records that were not imported"), "{}", page.body);
    assert!(page.body.contains("not-an-email"), "the failed record is named: {}", page.body);
    let errors = b.get(&format!("{job_page}/errors.json")).await;
    assert_eq!(errors.status, 200);
    let errors: Value = serde_json::from_str(&errors.body).unwrap();
    assert_eq!(errors.as_array().unwrap().len(), 1, "{errors}");
    assert_eq!(errors[0]["index"], json!(1));
    let progress = b.get(&format!("{job_page}/progress")).await;
    let progress: Value = serde_json::from_str(&progress.body).unwrap();
    assert_eq!(progress["status"], json!("completed"));
    assert_eq!(progress["summary"]["inserted"], json!(2));
    // The upload became the job's: starting it twice is not possible.
    let again = b.post_form(&action, &[&mapping[..], &[("action", "start")]].concat()).await;
    assert_eq!(again.status, 404, "{}", again.body);
    srv.stop().await;
}

async fn an_export_picks_fields_and_hashes_need_the_administrators_password(backend: Backend) {
    let srv = start(backend).await;
    srv.create_user(json!({"email": "jane@example.com", "password": "jane's passphrase 12"})).await;
    let mut b = sign_in(&srv, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let form = b.get("/admin/export").await;
    assert_eq!(form.status, 200, "{}", form.body);
    let token = csrf(&form.body);
    let refused = [("csrf", token.as_str()), ("format", "json"), ("password_hashes", "true"), ("password", "wrong")];
    let a = b.post_form("/admin/export", &refused).await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(srv.store.recent_jobs(10).await.unwrap().is_empty(), "no export job was made");

    let fields = [("csrf", token.as_str()), ("format", "json"), ("field", "email"), ("field", "name")];
    let a = b.post_form("/admin/export", &fields).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let job_page = a.location.unwrap();
    let job = finished_job(&srv, job_page.strip_prefix("/admin/jobs/").unwrap()).await;
    assert_eq!(job.status.as_str(), "completed", "{job:?}");
    assert_eq!(job.params["fields"], json!([{"name": "email"}, {"name": "name"}]));
    let page = unescape(&b.get(&job_page).await.body);
    assert!(page.contains("/download?expires="), "{page}");

    let hashes =
        [("csrf", token.as_str()), ("format", "json"), ("password_hashes", "true"), ("password", ADMIN_PASSWORD)];
    let a = b.post_form("/admin/export", &hashes).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let job = finished_job(&srv, a.location.unwrap().strip_prefix("/admin/jobs/").unwrap()).await;
    assert_eq!(job.params["include_password_hashes"], json!(true));
    srv.stop().await;
}
