//! WebAuthn second factors on the hosted pages, by full ceremonies with the tests' own
//! software authenticator (`kit::authenticator`): a security key and a platform
//! authenticator enrolled at login and then passing the challenge, listed and removed
//! through Auth0's authentication-methods API; and every answer a verifier must refuse
//! refused: another origin, another relying party, a replayed challenge, a signature that
//! does not verify, a counter gone backwards, a platform authenticator that did not verify
//! its user. The issuer is `http://localhost:<port>/` (browsers take no IP address as a
//! relying-party id), while the tests connect to 127.0.0.1.

use super::configure;
use crate::kit::authenticator::{tampered_signature, SoftAuthenticator};
use crate::kit::{auth0_error, Backend};
use crate::login::fixture::{
    self, authorize_path, hidden, id_token_claims, login, Answer, Browser, LoginServer, PASSWORD, SPA,
};
use serde_json::{json, Value};

crate::on_both_backends!(
    a_security_key_enrols_then_passes_and_bad_answers_are_refused,
    a_platform_authenticator_must_verify_its_user,
    webauthn_needs_a_host_name_and_offers_the_other_ways
);

async fn start(b: Backend) -> LoginServer {
    fixture::start_with(b, |c| c.issuer = c.issuer.replace("127.0.0.1", "localhost")).await
}

/// The password step of a fresh login: the challenge page's URL.
async fn password_step(b: &mut Browser, email: &str) -> String {
    let a = login(b, &authorize_path(SPA, &[("prompt", "login")]), email, PASSWORD).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let loc = a.location.unwrap();
    assert!(loc.starts_with("/u/mfa?state="), "{loc}");
    loc
}

/// Text of an attribute, HTML-unescaped.
fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2f;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The page's ceremony: its action (`create`/`get`) and the options for the browser.
pub(crate) fn ceremony(page: &str) -> (String, Value) {
    let attr = |name: &str| {
        let marker = format!(r#"{name}=""#);
        let start = page.find(&marker).unwrap_or_else(|| panic!("no {name} in {page}")) + marker.len();
        unescape(&page[start..start + page[start..].find('"').unwrap()])
    };
    (attr("data-webauthn"), serde_json::from_str(&attr("data-webauthn-options")).unwrap())
}

async fn send(b: &mut Browser, page: &str, answer: &Value) -> Answer {
    let (state, csrf, factor) = (hidden(page, "state"), hidden(page, "csrf_token"), hidden(page, "factor"));
    let answer = answer.to_string();
    let form = [
        ("state", state.as_str()),
        ("csrf_token", csrf.as_str()),
        ("factor", factor.as_str()),
        ("response", answer.as_str()),
    ];
    b.post_form("/u/mfa", &form).await
}

async fn show(b: &mut Browser, loc: &str) -> String {
    let page = b.get(loc).await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.body
}

/// The page again, saying the answer was not accepted.
fn refused(a: &Answer) {
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body.contains("was not accepted"), "{}", a.body);
}

async fn user_id(s: &LoginServer, email: &str) -> String {
    let (_, users) = s.api("GET", &format!("/api/v2/users-by-email?email={email}"), None).await;
    users[0]["user_id"].as_str().unwrap().to_string()
}

async fn a_security_key_enrols_then_passes_and_bad_answers_are_refused(b: Backend) {
    let s = start(b).await;
    configure(&s, &["webauthn-roaming"], true).await;
    let issuer = s.state.config.issuer.clone();
    let mut browser = s.browser();
    let loc = password_step(&mut browser, "alice@example.com").await;
    let page = show(&mut browser, &loc).await;
    assert_eq!(hidden(&page, "factor"), "enrol-webauthn-roaming");
    assert!(
        page.contains(r#"<script src="/u/webauthn.js" defer></script>"#)
            && page.contains(r#"id="webauthn-needs-script""#),
        "{page}"
    );
    let (action, options) = ceremony(&page);
    assert_eq!(action, "create");
    assert_eq!(options["publicKey"]["rp"]["id"], "localhost", "{options}");
    // No UV-required credential protection with UV only preferred: Chromium refuses it.
    assert!(options["publicKey"]["extensions"].get("credentialProtectionPolicy").is_none(), "{options}");
    // Enrolment from another origin is refused; its challenge is spent (the page that
    // answers carries a new one), so the same challenge answered rightly is refused too.
    let mut key = SoftAuthenticator::new(&issuer);
    let good_origin = key.origin.clone();
    key.origin = good_origin.replace("localhost", "evil.localhost");
    refused(&send(&mut browser, &page, &key.create(&options)).await);
    key.origin = good_origin.clone();
    let stale = key.create(&options);
    refused(&send(&mut browser, &page, &stale).await);
    // A new page, a new challenge: the key enrols and the login ends.
    let page = show(&mut browser, &loc).await;
    let done = send(&mut browser, &page, &key.create(&ceremony(&page).1)).await;
    assert_eq!(id_token_claims(&s, &done).await["amr"], json!(["pwd", "mfa"]));
    // Listed in Auth0's shape.
    let id = user_id(&s, "alice@example.com").await;
    let (_, methods) = s.api("GET", &format!("/api/v2/users/{id}/authentication-methods"), None).await;
    let m = &methods[0];
    assert_eq!((m["type"].as_str(), m["name"].as_str()), (Some("webauthn-roaming"), Some("Security key")), "{methods}");
    assert!(m["id"].as_str().unwrap().starts_with("webauthn-roaming|dev_") && m["created_at"].is_string());
    assert_eq!(methods.as_array().unwrap().len(), 1, "{methods}");

    // The next login asks for the key.
    let mut browser = s.browser();
    let loc = password_step(&mut browser, "alice@example.com").await;
    let page = show(&mut browser, &loc).await;
    assert_eq!(hidden(&page, "factor"), "webauthn-roaming");
    let (action, options) = ceremony(&page);
    assert_eq!(action, "get");
    assert_eq!(options["publicKey"]["allowCredentials"].as_array().map(Vec::len), Some(1), "{options}");
    // A signature that does not verify.
    refused(&send(&mut browser, &page, &tampered_signature(&key.get(&options))).await);
    // Another relying party's assertion.
    let page = show(&mut browser, &loc).await;
    key.rp_id = "example.com".into();
    refused(&send(&mut browser, &page, &key.get(&ceremony(&page).1)).await);
    key.rp_id = "localhost".into();
    // Another origin's.
    let page = show(&mut browser, &loc).await;
    key.origin = "http://localhost:1".into();
    refused(&send(&mut browser, &page, &key.get(&ceremony(&page).1)).await);
    key.origin = good_origin.clone();
    // The right answer passes.
    let page = show(&mut browser, &loc).await;
    let answer = key.get(&ceremony(&page).1);
    let done = send(&mut browser, &page, &answer).await;
    assert_eq!(id_token_claims(&s, &done).await["amr"], json!(["pwd", "mfa"]));
    // Replayed into another login: its challenge is not this one's.
    let mut other = s.browser();
    let loc = password_step(&mut other, "alice@example.com").await;
    let page = show(&mut other, &loc).await;
    refused(&send(&mut other, &page, &answer).await);
    // A counter gone backwards: a cloned key.
    let page = show(&mut other, &loc).await;
    let ahead = key.counter;
    key.counter = 1;
    refused(&send(&mut other, &page, &key.get(&ceremony(&page).1)).await);
    key.counter = ahead;
    let page = show(&mut other, &loc).await;
    let done = send(&mut other, &page, &key.get(&ceremony(&page).1)).await;
    id_token_claims(&s, &done).await;

    // Removed by an administrator: the next login enrols again.
    let method = m["id"].as_str().unwrap();
    let path = format!("/api/v2/users/{id}/authentication-methods/{method}");
    assert_eq!(s.api("DELETE", &path, None).await.0, 204);
    let mut browser = s.browser();
    let loc = password_step(&mut browser, "alice@example.com").await;
    assert_eq!(hidden(&show(&mut browser, &loc).await, "factor"), "enrol-webauthn-roaming");
}

async fn a_platform_authenticator_must_verify_its_user(b: Backend) {
    let s = start(b).await;
    configure(&s, &["webauthn-platform", "recovery-code"], true).await;
    let mut browser = s.browser();
    let loc = password_step(&mut browser, "alice@example.com").await;
    let page = show(&mut browser, &loc).await;
    assert_eq!(hidden(&page, "factor"), "enrol-webauthn-platform");
    let (_, options) = ceremony(&page);
    assert_eq!(options["publicKey"]["authenticatorSelection"]["userVerification"], "required", "{options}");
    assert_eq!(options["publicKey"]["authenticatorSelection"]["authenticatorAttachment"], "platform", "{options}");
    let mut device = SoftAuthenticator::new(&s.state.config.issuer);
    device.user_verified = false;
    refused(&send(&mut browser, &page, &device.create(&options)).await);
    device.user_verified = true;
    let page = show(&mut browser, &loc).await;
    let shown = send(&mut browser, &page, &device.create(&ceremony(&page).1)).await;
    // The recovery code is shown once, then the login goes on.
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert!(shown.body.contains(r#"<code id="recovery-code">"#), "{}", shown.body);
    let (state, csrf) = (hidden(&shown.body, "state"), hidden(&shown.body, "csrf_token"));
    let done = browser.post_form("/u/mfa/continue", &[("state", state.as_str()), ("csrf_token", csrf.as_str())]).await;
    id_token_claims(&s, &done).await;
    let id = user_id(&s, "alice@example.com").await;
    let (_, methods) = s.api("GET", &format!("/api/v2/users/{id}/authentication-methods"), None).await;
    let types: Vec<&str> = methods.as_array().unwrap().iter().map(|m| m["type"].as_str().unwrap()).collect();
    assert!(types.contains(&"webauthn-platform") && types.contains(&"recovery-code"), "{methods}");

    // The challenge: the user must be verified too.
    let mut browser = s.browser();
    let loc = password_step(&mut browser, "alice@example.com").await;
    let page = show(&mut browser, &loc).await;
    assert_eq!(hidden(&page, "factor"), "webauthn-platform");
    assert!(page.contains("factor=recovery-code"), "the recovery code stays another way: {page}");
    device.user_verified = false;
    refused(&send(&mut browser, &page, &device.get(&ceremony(&page).1)).await);
    device.user_verified = true;
    let page = show(&mut browser, &loc).await;
    let answer = device.get(&ceremony(&page).1);
    let done = send(&mut browser, &page, &answer).await;
    assert_eq!(id_token_claims(&s, &done).await["amr"], json!(["pwd", "mfa"]));
    // The same answer again on the finished login's page: nothing left to pass.
    let again = send(&mut browser, &page, &answer).await;
    assert_eq!(again.status, 400, "{}", again.body);
}

async fn webauthn_needs_a_host_name_and_offers_the_other_ways(b: Backend) {
    // Under an IP address there is no relying party: the factor cannot be enabled.
    let ip = fixture::start(b.clone()).await;
    let (status, body) =
        ip.api("PUT", "/api/v2/guardian/factors/webauthn-roaming", Some(json!({"enabled": true}))).await;
    auth0_error(status, &body, "unsupported_factor");
    drop(ip);

    let s = start(b).await;
    configure(&s, &["otp", "webauthn-roaming", "webauthn-platform"], true).await;
    let mut browser = s.browser();
    let loc = password_step(&mut browser, "alice@example.com").await;
    // The app first (it needs no script), the others offered.
    let page = show(&mut browser, &loc).await;
    assert_eq!(hidden(&page, "factor"), "enrol");
    assert!(
        page.contains("factor=enrol-webauthn-roaming") && page.contains("factor=enrol-webauthn-platform"),
        "{page}"
    );
    let page = show(&mut browser, &format!("{loc}&factor=enrol-webauthn-roaming")).await;
    assert_eq!(hidden(&page, "factor"), "enrol-webauthn-roaming");
    assert!(page.contains("needs JavaScript") && page.contains("factor=enrol\""), "{page}");
    // The script is served from the same origin, as the pages' CSP requires.
    let script = browser.get("/u/webauthn.js").await;
    assert_eq!(script.status, 200);
    assert!(script.body.contains("navigator.credentials.create"));
    // A form posted without the browser's answer (no script) is answered, not failed.
    let (state, csrf) = (hidden(&page, "state"), hidden(&page, "csrf_token"));
    let form = [("state", state.as_str()), ("csrf_token", csrf.as_str()), ("factor", "enrol-webauthn-roaming")];
    let a = browser.post_form("/u/mfa", &form).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body.contains("Use the button above"), "{}", a.body);
}
