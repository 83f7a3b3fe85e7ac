//! Passkeys as a first factor of a database connection, by full ceremonies with the
//! tests' software authenticator (`kit::authenticator`): the connection options in
//! Auth0's shapes and their refusals; a sign-up with a passkey (a user without a
//! password, one passkey, nothing left behind by a failed ceremony); a sign-in that finds
//! the user by the credential alone and ends with the passkey's `amr`, without the second
//! factor the tenant's policy asks of password logins; and the refusals: a replayed
//! answer, an unknown credential, a blocked user, a removed passkey, a cloned counter.

use crate::kit::authenticator::SoftAuthenticator;
use crate::kit::Backend;
use crate::login::fixture::{
    self, authorize_path, hidden, id_token_claims, login, Answer, Browser, LoginServer, LEGACY_PASSWORD, PASSWORD, SPA,
};
use crate::mfa::webauthn::ceremony;
use serde_json::{json, Value};

crate::on_both_backends!(
    passkey_options_are_validated_stored_and_returned,
    a_passkey_signs_up_then_signs_in_and_bad_answers_are_refused,
    a_password_login_offers_a_passkey_once
);

const PASSKEY_AMR: [&str; 3] = ["hwk", "user", "mfa"];

async fn start(b: Backend) -> LoginServer {
    fixture::start_with(b, |c| c.issuer = c.issuer.replace("127.0.0.1", "localhost")).await
}

/// The default connection's options with `extra` merged in: the PATCH's status and body.
async fn set_options(s: &LoginServer, extra: Value) -> (u16, Value) {
    let con = s.default_connection().await;
    let mut options = con["options"].clone();
    for (k, v) in extra.as_object().unwrap() {
        options[k] = v.clone();
    }
    let path = format!("/api/v2/connections/{}", con["id"].as_str().unwrap());
    s.api("PATCH", &path, Some(json!({"options": options}))).await
}

async fn enable_passkeys(s: &LoginServer, extra: Value) {
    let mut options = json!({"authentication_methods": {"password": {"enabled": true}, "passkey": {"enabled": true}}});
    for (k, v) in extra.as_object().unwrap() {
        options[k] = v.clone();
    }
    let (status, body) = set_options(s, options).await;
    assert_eq!(status, 200, "{body}");
}

/// A fresh login transaction: the login page's URL and body.
async fn login_page(b: &mut Browser) -> (String, String) {
    let a = b.get(&authorize_path(SPA, &[("prompt", "login")])).await;
    assert_eq!(a.status, 302, "{}", a.body);
    let loc = a.location.unwrap();
    let page = b.get(&loc).await;
    assert_eq!(page.status, 200, "{}", page.body);
    (loc, page.body)
}

/// Posts a ceremony's answer with the page's form fields.
async fn send(b: &mut Browser, path: &str, page: &str, answer: &Value) -> Answer {
    let (state, csrf, answer) = (hidden(page, "state"), hidden(page, "csrf_token"), answer.to_string());
    b.post_form(path, &[("state", &state), ("csrf_token", &csrf), ("response", &answer)]).await
}

/// The sign-up page's passkey step for `email`: the ceremony page.
async fn signup_step(b: &mut Browser, email: &str) -> Answer {
    let (loc, _) = login_page(b).await;
    let signup = b.get(&loc.replace("/u/login", "/u/signup")).await;
    assert_eq!(signup.status, 200, "{}", signup.body);
    assert!(signup.body.contains(r#"name="method" value="passkey""#), "{}", signup.body);
    let (state, csrf) = (hidden(&signup.body, "state"), hidden(&signup.body, "csrf_token"));
    let form = [("state", state.as_str()), ("csrf_token", csrf.as_str()), ("email", email), ("method", "passkey")];
    b.post_form("/u/signup", &form).await
}

fn refused(a: &Answer, says: &str) {
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body.contains(says), "{}", a.body);
}

async fn passkey_options_are_validated_stored_and_returned(b: Backend) {
    let s = fixture::start(b).await;
    // Off by default: no passkey on the login page, no option in the connection.
    let con = s.default_connection().await;
    assert!(con["options"].get("authentication_methods").is_none(), "{con}");
    let mut browser = s.browser();
    let (_, page) = login_page(&mut browser).await;
    assert!(!page.contains("data-webauthn") && page.contains(r#"autocomplete="username""#), "{page}");
    for (options, property) in [
        (
            json!({"authentication_methods": {"passkey": {"enabled": "yes"}}}),
            "options.authentication_methods.passkey.enabled",
        ),
        (json!({"authentication_methods": {"password": {"enabled": false}}}), "options.authentication_methods"),
        (json!({"authentication_methods": {"sms": {"enabled": true}}}), "options.authentication_methods.sms"),
        (json!({"passkey_options": {"challenge_ui": "modal"}}), "options.passkey_options.challenge_ui"),
        (
            json!({"passkey_options": {"progressive_enrollment_enabled": "no"}}),
            "options.passkey_options.progressive_enrollment_enabled",
        ),
    ] {
        let (status, body) = set_options(&s, options.clone()).await;
        assert_eq!(status, 400, "{options}: {body}");
        assert!(body["message"].as_str().unwrap().contains(property), "{options}: {body}");
    }
    let options = json!({
        "authentication_methods": {"password": {"enabled": true}, "passkey": {"enabled": true}},
        "passkey_options": {"challenge_ui": "button", "progressive_enrollment_enabled": false, "local_enrollment_enabled": true}
    });
    let (status, body) = set_options(&s, options.clone()).await;
    assert_eq!(status, 200, "{body}");
    let con = s.default_connection().await;
    assert_eq!(con["options"]["authentication_methods"], options["authentication_methods"], "{con}");
    assert_eq!(con["options"]["passkey_options"], options["passkey_options"], "{con}");
    // Under an IP address there is no relying party: the page offers no passkey.
    let (_, page) = login_page(&mut browser).await;
    assert!(!page.contains("data-webauthn"), "{page}");
}

async fn a_passkey_signs_up_then_signs_in_and_bad_answers_are_refused(b: Backend) {
    let s = start(b).await;
    enable_passkeys(&s, json!({"passkey_options": {"challenge_ui": "both"}})).await;
    // The tenant asks every password login for a second factor; a passkey is two.
    crate::mfa::configure(&s, &["otp"], true).await;
    let issuer = s.state.config.issuer.clone();

    // Sign-up: the fields, then the ceremony. A ceremony that fails leaves no user.
    let mut browser = s.browser();
    let step = signup_step(&mut browser, "new@example.com").await;
    assert_eq!(step.status, 200, "{}", step.body);
    let (action, options) = ceremony(&step.body);
    assert_eq!(action, "create");
    let selection = &options["publicKey"]["authenticatorSelection"];
    assert_eq!((&selection["residentKey"], &selection["userVerification"]), (&json!("required"), &json!("required")));
    let mut key = SoftAuthenticator::new(&issuer);
    key.user_verified = false;
    let failed = send(&mut browser, "/u/signup/passkey", &step.body, &key.create(&options)).await;
    refused(&failed, "was not accepted");
    let (_, users) = s.api("GET", "/api/v2/users-by-email?email=new@example.com", None).await;
    assert_eq!(users, json!([]), "a failed ceremony leaves no user");
    // The spent ceremony cannot be answered again, even rightly.
    key.user_verified = true;
    refused(&send(&mut browser, "/u/signup/passkey", &step.body, &key.create(&options)).await, "took too long");
    // An existing address is refused before any ceremony.
    let taken = signup_step(&mut browser, "alice@example.com").await;
    refused(&taken, "cannot be used to sign up");
    assert!(!taken.body.contains(r#"data-webauthn="create""#), "{}", taken.body);

    let step = signup_step(&mut browser, "new@example.com").await;
    let done = send(&mut browser, "/u/signup/passkey", &step.body, &key.create(&ceremony(&step.body).1)).await;
    let claims = id_token_claims(&s, &done).await;
    assert_eq!(claims["amr"], json!(PASSKEY_AMR), "{claims}");
    let user_id = claims["sub"].as_str().unwrap().to_string();
    let user = s.store.user(&user_id).await.unwrap().unwrap();
    assert!(user.password_hash.is_none(), "a passkey user has no password");
    let (_, methods) = s.api("GET", &format!("/api/v2/users/{user_id}/authentication-methods"), None).await;
    assert_eq!(methods.as_array().map(Vec::len), Some(1), "{methods}");
    assert_eq!((methods[0]["type"].as_str(), methods[0]["name"].as_str()), (Some("passkey"), Some("Passkey")));
    assert!(methods[0]["id"].as_str().unwrap().starts_with("passkey|dev_"), "{methods}");

    // Sign-in: the page offers the button and the autofill; no name is typed.
    let mut browser = s.browser();
    let (_, page) = login_page(&mut browser).await;
    assert!(page.contains(r#"autocomplete="username webauthn""#) && page.contains("data-webauthn-autofill"), "{page}");
    assert!(page.contains("Sign in with a passkey") && page.contains("needs JavaScript"), "{page}");
    let (action, options) = ceremony(&page);
    assert_eq!(action, "get");
    assert!(options["publicKey"]["allowCredentials"].as_array().is_none_or(Vec::is_empty), "{options}");
    assert_eq!(options["publicKey"]["userVerification"], "required", "{options}");
    let answer = key.get(&options);
    let done = send(&mut browser, "/u/login/passkey", &page, &answer).await;
    let claims = id_token_claims(&s, &done).await;
    assert_eq!((claims["sub"].as_str(), &claims["amr"]), (Some(user_id.as_str()), &json!(PASSKEY_AMR)));

    // The same answer in another login: its challenge is not this one's.
    let mut other = s.browser();
    let (_, page) = login_page(&mut other).await;
    refused(&send(&mut other, "/u/login/passkey", &page, &answer).await, "was not accepted");
    // A credential this server never registered, with the user's handle.
    let (_, page) = login_page(&mut other).await;
    let mut stranger = SoftAuthenticator::new(&issuer);
    stranger.user_handle = key.user_handle.clone();
    refused(&send(&mut other, "/u/login/passkey", &page, &stranger.get(&ceremony(&page).1)).await, "was not accepted");
    // A counter gone backwards: a cloned authenticator.
    let (_, page) = login_page(&mut other).await;
    let ahead = key.counter;
    key.counter = 1;
    refused(&send(&mut other, "/u/login/passkey", &page, &key.get(&ceremony(&page).1)).await, "was not accepted");
    key.counter = ahead;
    // A blocked user: told so only after the passkey verified.
    let path = format!("/api/v2/users/{user_id}");
    assert_eq!(s.api("PATCH", &path, Some(json!({"blocked": true}))).await.0, 200);
    let (_, page) = login_page(&mut other).await;
    refused(&send(&mut other, "/u/login/passkey", &page, &key.get(&ceremony(&page).1)).await, "blocked");
    assert_eq!(s.api("PATCH", &path, Some(json!({"blocked": false}))).await.0, 200);
    // A password login of another user still asks for the second factor.
    let a = login(&mut other, &authorize_path(SPA, &[("prompt", "login")]), "alice@example.com", PASSWORD).await;
    assert!(a.location.as_deref().is_some_and(|l| l.starts_with("/u/mfa?")), "{:?}", a.location);

    // A passkey-only connection: no password form, and no password accepted.
    let methods_only =
        json!({"authentication_methods": {"password": {"enabled": false}, "passkey": {"enabled": true}}});
    assert_eq!(set_options(&s, methods_only).await.0, 200);
    let (loc, page) = login_page(&mut other).await;
    assert!(!page.contains(r#"name="password""#) && page.contains("Sign in with a passkey"), "{page}");
    let signup = other.get(&loc.replace("/u/login", "/u/signup")).await;
    assert!(!signup.body.contains(r#"name="password""#), "{}", signup.body);
    let (state, csrf) = (hidden(&page, "state"), hidden(&page, "csrf_token"));
    let form =
        [("state", state.as_str()), ("csrf_token", &csrf), ("username", "alice@example.com"), ("password", PASSWORD)];
    refused(&other.post_form("/u/login", &form).await, "Wrong email or password");
    let (status, body) = fixture::password_grant(&s, "alice@example.com", PASSWORD, &[]).await;
    assert_eq!((status, &body["error"]), (403, &json!("invalid_grant")), "{body}");
    enable_passkeys(&s, json!({})).await;

    // Removed by an administrator: the passkey signs nobody in.
    let method = methods[0]["id"].as_str().unwrap();
    assert_eq!(s.api("DELETE", &format!("{path}/authentication-methods/{method}"), None).await.0, 204);
    let (_, page) = login_page(&mut other).await;
    refused(&send(&mut other, "/u/login/passkey", &page, &key.get(&ceremony(&page).1)).await, "was not accepted");
    // Deleting the user removes what is left of their factors.
    assert_eq!(s.api("DELETE", &path, None).await.0, 204);
    assert!(s.store.mfa_factors(&user_id).await.unwrap().is_empty());
}

async fn a_password_login_offers_a_passkey_once(b: Backend) {
    let s = start(b).await;
    enable_passkeys(&s, json!({})).await;
    let path = authorize_path(SPA, &[("prompt", "login")]);
    // Alice accepts the offer: the login goes on, and her passkey signs her in later.
    let mut browser = s.browser();
    let offer = login(&mut browser, &path, "alice@example.com", PASSWORD).await;
    assert_eq!(offer.status, 200, "{}", offer.body);
    assert!(offer.body.contains("Not now"), "{}", offer.body);
    let (action, options) = ceremony(&offer.body);
    assert_eq!(action, "create");
    let mut key = SoftAuthenticator::new(&s.state.config.issuer);
    let done = send(&mut browser, "/u/login/passkey-enrol", &offer.body, &key.create(&options)).await;
    let claims = id_token_claims(&s, &done).await;
    let (_, methods) =
        s.api("GET", &format!("/api/v2/users/{}/authentication-methods", claims["sub"].as_str().unwrap()), None).await;
    assert_eq!(methods[0]["type"], "passkey", "{methods}");
    let (_, page) = login_page(&mut browser).await;
    let claims =
        id_token_claims(&s, &send(&mut browser, "/u/login/passkey", &page, &key.get(&ceremony(&page).1)).await).await;
    assert_eq!(claims["amr"], json!(PASSKEY_AMR));
    // Another user says "not now": the login goes on, and the offer is not made again.
    let offer = login(&mut browser, &path, "legacy@example.com", LEGACY_PASSWORD).await;
    assert_eq!(offer.status, 200, "{}", offer.body);
    let (state, csrf) = (hidden(&offer.body, "state"), hidden(&offer.body, "csrf_token"));
    let skipped =
        browser.post_form("/u/login/passkey-enrol", &[("state", &state), ("csrf_token", &csrf), ("skip", "1")]).await;
    id_token_claims(&s, &skipped).await;
    let again = login(&mut browser, &path, "legacy@example.com", LEGACY_PASSWORD).await;
    id_token_claims(&s, &again).await;
    // Never before a second factor: a password alone adds no way in that skips it.
    crate::mfa::configure(&s, &["otp"], true).await;
    let carol = json!({"connection": "Username-Password-Authentication", "email": "carol@example.com",
        "password": "Carol-Passkey-Offer-7", "email_verified": true});
    let (status, body) = s.api("POST", "/api/v2/users", Some(carol)).await;
    assert_eq!(status, 201, "{body}");
    let a = login(&mut browser, &path, "carol@example.com", "Carol-Passkey-Offer-7").await;
    assert!(a.location.as_deref().is_some_and(|l| l.starts_with("/u/mfa?")), "{} {}", a.status, a.body);
}
