//! A newcomer's first hour: the page at `/`, applications whose default grants all work
//! and that can be enabled on connections when created, a connection not enabled shown
//! as a configuration error on a Gatehouse page (while the user's own errors still go
//! back to the application), and error and end pages that lead somewhere.

use crate::kit::{authorize_path, hidden, query_param, Backend, Server, CALLBACK, DB};
use serde_json::{json, Value};

crate::on_both_backends!(
    landing_page_says_what_this_is,
    new_clients_get_working_grants_and_connections,
    a_connection_not_enabled_is_shown_not_redirected,
    ends_of_reset_and_verification_lead_back
);

async fn landing_page_says_what_this_is(b: Backend) {
    let s = Server::start(b).await;
    let page = s.browser().get("/").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.headers["content-type"].to_str().unwrap().starts_with("text/html"));
    for needle in [
        "<html lang=\"en\">",
        "<h1>Gatehouse</h1>",
        "OpenID Connect",
        &format!(r#"href="{}.well-known/openid-configuration""#, s.issuer),
        &format!(r#"href="{}api/v2/openapi.json""#, s.issuer),
        "docs/",
        "admin",
    ] {
        assert!(page.body.contains(needle), "{needle}: {}", page.body);
    }
    // Nothing from elsewhere: no script, no stylesheet or font from another origin.
    assert!(!page.body.contains("<script") && !page.body.contains("<link"), "{}", page.body);
    s.stop().await;
}

async fn new_clients_get_working_grants_and_connections(b: Backend) {
    let s = Server::start(b).await;
    let create = |body: Value| async { s.api("POST", "/api/v2/clients", Some(body)).await };
    let (status, web) = create(json!({"name": "Web", "app_type": "regular_web"})).await;
    assert_eq!(status, 201, "{web}");
    assert_eq!(web["grant_types"], json!(["authorization_code", "refresh_token", "client_credentials"]));
    let (_, spa) = create(json!({"name": "SPA", "app_type": "spa", "token_endpoint_auth_method": "none"})).await;
    assert_eq!(spa["grant_types"], json!(["authorization_code", "refresh_token"]));
    let (_, chosen) = create(json!({"name": "Chosen", "grant_types": ["password"]})).await;
    assert_eq!(chosen["grant_types"], json!(["password"]), "what is asked for is kept");

    // Enabled on a connection at creation: the connection lists it, logins can start.
    let body = json!({"name": "App", "app_type": "regular_web", "callbacks": [CALLBACK],
        "enabled_connections": [DB, DB]});
    let (status, app) = create(body).await;
    assert_eq!(status, 201, "{app}");
    assert_eq!(app["enabled_connections"], json!([DB]));
    let id = app["client_id"].as_str().unwrap();
    let enabled = s.default_connection().await["enabled_clients"].clone();
    assert!(enabled.as_array().unwrap().contains(&json!(id)), "{enabled}");
    let start = s.browser().get(&authorize_path(id, &[("state", "s1")])).await;
    assert_eq!(start.status, 302, "{}", start.body);
    assert!(start.location.unwrap().starts_with("/u/login?state="));

    // An unknown connection makes nothing.
    let (status, body) = create(json!({"name": "Nope", "enabled_connections": ["no-such-connection"]})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("enabled_connections[0]"), "{body}");
    let (_, clients) = s.api("GET", "/api/v2/clients", None).await;
    assert!(!clients.as_array().unwrap().iter().any(|c| c["name"] == "Nope"), "{clients}");
    s.stop().await;
}

async fn a_connection_not_enabled_is_shown_not_redirected(b: Backend) {
    let s = Server::start(b).await;
    let body = json!({"name": "Lonely App", "app_type": "regular_web", "callbacks": [CALLBACK]});
    let (_, app) = s.api("POST", "/api/v2/clients", Some(body)).await;
    let id = app["client_id"].as_str().unwrap();
    let mut browser = s.browser();
    for extra in [vec![], vec![("connection", DB)]] {
        let page = browser.get(&authorize_path(id, &[&[("state", "s1")][..], &extra].concat())).await;
        assert_eq!(page.status, 400, "{}", page.body);
        assert!(page.location.is_none(), "shown here, not sent to the application");
        assert!(page.body.contains("Lonely App"), "{}", page.body);
        assert!(page.body.contains("enabled_clients"), "{}", page.body);
        assert!(page.body.contains("<code>connection_not_enabled</code>"), "{}", page.body);
        let tracking = page.body.split("Tracking id</dt><dd><code>").nth(1).map(|t| &t[..16]);
        assert!(tracking.is_some_and(|t| t.bytes().all(|c| c.is_ascii_hexdigit())), "{}", page.body);
    }
    // The user's own situation still goes back to the application, as OAuth says.
    let id = s.spa_client().await;
    let none = browser.get(&authorize_path(&id, &[("state", "s2"), ("prompt", "none")])).await;
    let to = none.location.unwrap_or_default();
    assert!(to.starts_with(CALLBACK), "{to}");
    assert_eq!(query_param(&to, "error").as_deref(), Some("login_required"));
    s.stop().await;
}

async fn ends_of_reset_and_verification_lead_back(b: Backend) {
    let s = Server::start(b).await;
    let id = s.spa_client().await;
    s.create_user(json!({"email": "r@example.com", "password": "Old-pass-123", "verify_email": false})).await;
    // "Check your email" after a reset asked for from a login leads back to that login.
    let mut browser = s.browser();
    let a = browser.get(&authorize_path(&id, &[("state", "s1")])).await;
    let login = browser.get(a.location.as_deref().unwrap()).await;
    let tx = hidden(&login.body, "state");
    let form = browser.get(&format!("/u/reset-password?state={tx}")).await;
    let csrf = hidden(&form.body, "csrf_token");
    let sent = browser
        .post_form("/u/reset-password", &[("csrf_token", &csrf), ("state", &tx), ("email", "r@example.com")])
        .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert!(sent.body.contains(&format!(r#"<a href="/u/login?state={tx}">Back to log in</a>"#)), "{}", sent.body);

    // A password changed by a ticket of the application, without a result_url: back to it.
    let user = s.store.users_by_email("r@example.com").await.unwrap().remove(0);
    let body = json!({"user_id": user.user_id, "client_id": id});
    let (status, t) = s.api("POST", "/api/v2/tickets/password-change", Some(body)).await;
    assert_eq!(status, 201, "{t}");
    let mut other = s.browser();
    let page = other.get(t["ticket"].as_str().unwrap()).await;
    let (csrf, ticket) = (hidden(&page.body, "csrf_token"), hidden(&page.body, "ticket"));
    let form = [("csrf_token", csrf.as_str()), ("ticket", ticket.as_str())];
    let changed = other
        .post_form(
            "/u/reset-password",
            &[&form[..], &[("password", "New-pass-456"), ("password_confirm", "New-pass-456")]].concat(),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    let origin = url::Url::parse(CALLBACK).unwrap().origin().ascii_serialization();
    assert!(changed.body.contains(&format!(r#"<a href="{origin}/">Back to Single-page app</a>"#)), "{}", changed.body);
    // A used link: an error page with a sentence, the code and a tracking id.
    let again = other.get(t["ticket"].as_str().unwrap()).await;
    assert_eq!(again.status, 400);
    assert!(again.body.contains("<code>invalid_ticket</code>") && again.body.contains("Tracking id"), "{}", again.body);
    s.stop().await;
}
