//! How the hosted pages look, set at run time through Auth0's Management API: the
//! branding document, the tenant's name (pages and emails), and Auth0's page template
//! around every hosted page (the login still works inside it).

use super::fixture::{login_code, start, SPA};
use crate::kit::Backend;
use serde_json::json;

const TEMPLATE: &str = "<!DOCTYPE html>{% assign resolved_dir = dir | default: \"auto\" %}<html lang=\"{{locale}}\" \
    dir=\"{{resolved_dir}}\"><head>{%- auth0:head -%}</head><body class=\"acme-shell\" data-app=\"{{ application.name }}\">\
    <div id=\"acme-banner\">{{ tenant.friendly_name }}</div>{%- auth0:widget -%}</body></html>";

async fn branding_and_the_tenants_name_are_set_through_the_api(backend: Backend) {
    let srv = start(backend).await;
    let (s, body) = srv.api("GET", "/api/v2/branding", None).await;
    assert_eq!((s, body), (200, json!({})));
    let (s, body) = srv.api("PATCH", "/api/v2/branding", Some(json!({"colors": {"primary": "red;}"}}))).await;
    assert_eq!(s, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("colors.primary"), "{body}");
    let (s, body) = srv.api("PATCH", "/api/v2/branding", Some(json!({"logo_url": "javascript:alert(1)"}))).await;
    assert_eq!(s, 400, "{body}");
    let (s, body) = srv.api("PATCH", "/api/v2/branding", Some(json!({"colours": {}}))).await;
    assert_eq!(s, 400, "{body}");
    let patch = json!({"colors": {"primary": "#0b7285"}, "logo_url": "https://acme.test/logo.svg"});
    let (s, body) = srv.api("PATCH", "/api/v2/branding", Some(patch.clone())).await;
    assert_eq!((s, body), (200, patch));
    let (s, tenant) = srv.api("PATCH", "/api/v2/tenants/settings", Some(json!({"friendly_name": "Acme"}))).await;
    assert_eq!((s, tenant), (200, json!({"friendly_name": "Acme"})));
    // Every hosted page follows, on the next request.
    let mut b = srv.browser();
    let a = b.get(&super::fixture::authorize_path(SPA, &[])).await;
    let page = b.get(&a.location.unwrap()).await;
    assert!(page.body.contains("--primary: #0b7285"), "{}", page.body);
    assert!(page.body.contains(r#"<img src="https://acme.test/logo.svg" alt="Acme">"#), "{}", page.body);
    assert!(page.body.contains("Log in to Acme"), "{}", page.body);
    // Emails too.
    let user =
        srv.create_user(json!({"email": "new@example.com", "password": "New-pass-1234", "verify_email": false})).await;
    let (s, _) = srv.api("POST", "/api/v2/jobs/verification-email", Some(json!({"user_id": user["user_id"]}))).await;
    assert_eq!(s, 201);
    let mail = srv.emails_to("new@example.com", 1).await;
    assert!(mail[0].contains("Subject: Verify your email address for Acme"), "{}", mail[0]);
    // Scopes are Auth0's.
    let reader = srv.token_with(&["read:branding"]).await;
    let (s, _) = srv.call("GET", "/api/v2/branding", None, Some(&reader)).await;
    assert_eq!(s, 200);
    let (s, _) = srv.call("PATCH", "/api/v2/branding", Some(json!({})), Some(&reader)).await;
    assert_eq!(s, 403);
    let (s, _) = srv.call("GET", "/api/v2/tenants/settings", None, Some(&reader)).await;
    assert_eq!(s, 403);
    // null unsets: the configuration's colour is back.
    let (s, body) = srv.api("PATCH", "/api/v2/branding", Some(json!({"colors": null, "logo_url": null}))).await;
    assert_eq!((s, body), (200, json!({})));
    let a = b.get(&super::fixture::authorize_path(SPA, &[])).await;
    let page = b.get(&a.location.unwrap()).await;
    assert!(page.body.contains("--primary: #3b5bdb") && !page.body.contains("acme.test"), "{}", page.body);
}

async fn auth0s_page_template_wraps_every_hosted_page(backend: Backend) {
    let srv = start(backend).await;
    let path = "/api/v2/branding/templates/universal-login";
    let (s, body) = srv.api("GET", path, None).await;
    assert_eq!(s, 404, "{body}");
    let (s, body) = srv.api("PUT", path, Some(json!({"template": "<html><body>no tags</body></html>"}))).await;
    assert_eq!(s, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("auth0:widget"), "{body}");
    let (s, body) =
        srv.api("PUT", path, Some(json!({"template": "{%- auth0:head -%}{{ nope.x }}{%- auth0:widget -%}"}))).await;
    assert_eq!(s, 400, "a name Gatehouse does not provide is refused when stored: {body}");
    let (s, _) = srv.api("PUT", path, Some(json!({"template": TEMPLATE}))).await;
    assert_eq!(s, 201);
    let (s, _) = srv.api("PUT", path, Some(json!({"template": TEMPLATE}))).await;
    assert_eq!(s, 204, "a second PUT replaces");
    let (s, body) = srv.api("GET", path, None).await;
    assert_eq!((s, body), (200, json!({"body": TEMPLATE})));
    srv.api("PATCH", "/api/v2/tenants/settings", Some(json!({"friendly_name": "Acme <Shop>"}))).await;
    // The login page inside the template: the page's head and card where the tags were,
    // values escaped, and the login still works through it.
    let mut b = srv.browser();
    let a = b.get(&super::fixture::authorize_path(SPA, &[])).await;
    let page = b.get(&a.location.unwrap()).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.starts_with("<!DOCTYPE html><html lang=\"en\" dir=\"ltr\"><head>"), "{}", page.body);
    assert!(page.body.contains(r#"<div id="acme-banner">Acme &lt;Shop&gt;</div><main>"#), "{}", page.body);
    assert!(page.body.contains("<title>Log in · Acme &lt;Shop&gt;</title>"), "{}", page.body);
    assert!(page.body.contains(r#"name="csrf_token""#));
    let code = login_code(&mut srv.browser(), SPA).await;
    assert!(!code.is_empty());
    let (s, _) = srv.api("DELETE", path, None).await;
    assert_eq!(s, 204);
    let (s, _) = srv.api("DELETE", path, None).await;
    assert_eq!(s, 404);
    let a = b.get(&super::fixture::authorize_path(SPA, &[])).await;
    let page = b.get(&a.location.unwrap()).await;
    assert!(
        !page.body.contains("acme-banner") && page.body.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"),
        "{}",
        page.body
    );
}

crate::on_both_backends!(
    branding_and_the_tenants_name_are_set_through_the_api,
    auth0s_page_template_wraps_every_hosted_page
);
