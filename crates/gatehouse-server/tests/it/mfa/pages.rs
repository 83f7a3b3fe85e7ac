//! The hosted second step: the challenge after a right password (no session before the
//! factor passes), enrolment with a server-drawn QR code, recovery codes shown once and
//! replaced when used, "remember this browser" and what ends it, replays and forged or
//! foreign submissions refused, and `amr` in the ID token.

use super::{configure, import_user, otp, otp_now, start, SECRET};
use crate::kit::Backend;
use crate::login::fixture::{
    authorize_path, hidden, id_token_claims, login, Answer, Browser, CALLBACK, LEGACY_PASSWORD, PASSWORD, SPA,
};
use serde_json::json;

crate::on_both_backends!(
    an_imported_totp_user_passes_the_hosted_challenge,
    enrolment_then_recovery_code_on_the_hosted_pages,
    the_waiting_login_is_bound_single_use_and_guarded,
    the_console_asks_administrators_for_their_second_factor,
    an_emailed_code_on_the_hosted_page
);

/// `/authorize` with `prompt=login` (so a live session does not skip the page) and the
/// password: the answer of the password's POST.
async fn password_step(b: &mut Browser, email: &str, password: &str) -> Answer {
    login(b, &authorize_path(SPA, &[("prompt", "login")]), email, password).await
}

/// The challenge page the password step sent the browser to: its URL and body.
async fn challenge_page(b: &mut Browser, a: &Answer) -> (String, String) {
    assert_eq!(a.status, 303, "{}", a.body);
    let loc = a.location.clone().unwrap();
    assert!(loc.starts_with("/u/mfa?state="), "{loc}");
    assert!(!a.set_cookies.iter().any(|c| c.starts_with("gh_session=")), "no session before the second factor");
    let page = b.get(&loc).await;
    assert_eq!(page.status, 200, "{}", page.body);
    (loc, page.body)
}

async fn submit(b: &mut Browser, page: &str, factor: &str, code: &str, remember: bool) -> Answer {
    let state = hidden(page, "state");
    let csrf = hidden(page, "csrf_token");
    let mut form = vec![("state", state.as_str()), ("csrf_token", csrf.as_str()), ("factor", factor), ("code", code)];
    if remember {
        form.push(("remember", "1"));
    }
    b.post_form("/u/mfa", &form).await
}

async fn an_imported_totp_user_passes_the_hosted_challenge(b: Backend) {
    let s = start(b).await;
    let id = import_user(&s, "otp@example.com", json!([{"totp": {"secret": SECRET}}])).await;
    configure(&s, &["otp"], false).await;
    let mut browser = s.browser();
    let a = password_step(&mut browser, "otp@example.com", LEGACY_PASSWORD).await;
    let (_, page) = challenge_page(&mut browser, &a).await;
    assert!(page.contains("authenticator app") && page.contains(r#"autocomplete="one-time-code""#), "{page}");
    let wrong = submit(&mut browser, &page, "otp", "000000", false).await;
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    assert!(wrong.body.contains(r#"role="alert""#) && wrong.body.contains(r#"aria-invalid="true""#), "{}", wrong.body);
    let code = otp_now(&s, SECRET);
    let done = submit(&mut browser, &wrong.body, "otp", &code, true).await;
    let claims = id_token_claims(&s, &done).await;
    assert_eq!(claims["sub"], json!(id));
    assert_eq!(claims["amr"], json!(["pwd", "mfa"]), "{claims}");
    assert!(done.set_cookies.iter().any(|c| c.starts_with("gh_mfa_rb=") && c.contains("Max-Age=2592000")));
    // The session says how the user signed in.
    let (_, sessions) = s.api("GET", &format!("/api/v2/users/{id}/sessions"), None).await;
    let names: Vec<&str> = sessions["sessions"][0]["authentication"]["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pwd", "mfa"], "{sessions}");
    // The same code again, in another browser: a replay.
    let mut other = s.browser();
    let a = password_step(&mut other, "otp@example.com", LEGACY_PASSWORD).await;
    let (_, page) = challenge_page(&mut other, &a).await;
    let replay = submit(&mut other, &page, "otp", &code, false).await;
    assert_eq!(replay.status, 400);
    assert!(replay.body.contains("already used"), "{}", replay.body);
    // Remembered: the next login in the first browser needs the password alone (and its
    // ID token says so).
    let again = password_step(&mut browser, "otp@example.com", LEGACY_PASSWORD).await;
    assert!(id_token_claims(&s, &again).await.get("amr").is_none());
    // Until an administrator says otherwise …
    let path = format!("/api/v2/users/{id}/multifactor/actions/invalidate-remember-browser");
    assert_eq!(s.api("POST", &path, None).await.0, 204);
    let a = password_step(&mut browser, "otp@example.com", LEGACY_PASSWORD).await;
    let (_, page) = challenge_page(&mut browser, &a).await;
    s.clock.advance_secs(30);
    let done = submit(&mut browser, &page, "otp", &otp_now(&s, SECRET), true).await;
    id_token_claims(&s, &done).await;
    assert_eq!(
        password_step(&mut browser, "otp@example.com", LEGACY_PASSWORD)
            .await
            .location
            .as_deref()
            .map(|l| l.starts_with(CALLBACK)),
        Some(true)
    );
    // … or the password changes.
    let (status, body) =
        s.api("PATCH", &format!("/api/v2/users/{id}"), Some(json!({"password": "A new Pass 8812!"}))).await;
    assert_eq!(status, 200, "{body}");
    let a = password_step(&mut browser, "otp@example.com", "A new Pass 8812!").await;
    challenge_page(&mut browser, &a).await;
}

async fn enrolment_then_recovery_code_on_the_hosted_pages(b: Backend) {
    let s = start(b).await;
    configure(&s, &["otp", "recovery-code"], true).await;
    let mut browser = s.browser();
    let a = password_step(&mut browser, "alice@example.com", PASSWORD).await;
    let (_, page) = challenge_page(&mut browser, &a).await;
    // The QR code is drawn on the server, the secret also given as text.
    assert!(page.contains(r#"<svg role="img" aria-labelledby="qr-title""#), "{page}");
    let start = page.find(r#"<code id="secret">"#).unwrap() + r#"<code id="secret">"#.len();
    let secret: String = page[start..start + page[start..].find('<').unwrap()].replace(' ', "");
    assert_eq!(secret.len(), 32, "{secret}");
    assert!(!page.contains("Remember this browser"), "enrolment is not remembered");
    let shown = submit(&mut browser, &page, "enrol", &otp_now(&s, &secret), false).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    let start = shown.body.find(r#"<code id="recovery-code">"#).unwrap() + r#"<code id="recovery-code">"#.len();
    let recovery = shown.body[start..start + 24].to_string();
    let state = hidden(&shown.body, "state");
    let csrf = hidden(&shown.body, "csrf_token");
    let form = [("state", state.as_str()), ("csrf_token", csrf.as_str()), ("remember", "")];
    let done = browser.post_form("/u/mfa/continue", &form).await;
    assert_eq!(id_token_claims(&s, &done).await["amr"], json!(["pwd", "mfa"]));
    // Continuing twice does not log in twice.
    assert_eq!(browser.post_form("/u/mfa/continue", &form).await.status, 400);
    // Enrolled: a new browser is challenged (not enrolled again), and can use the
    // recovery code instead, which is then replaced by a new one shown once.
    let mut other = s.browser();
    let a = password_step(&mut other, "alice@example.com", PASSWORD).await;
    let (loc, page) = challenge_page(&mut other, &a).await;
    assert!(!page.contains("<svg"), "{page}");
    assert!(page.contains("factor=recovery-code"), "{page}");
    let page = other.get(&format!("{loc}&factor=recovery-code")).await.body;
    let shown = submit(&mut other, &page, "recovery-code", &recovery, false).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert!(shown.body.contains(r#"<code id="recovery-code">"#) && !shown.body.contains(&recovery));
    let state = hidden(&shown.body, "state");
    let csrf = hidden(&shown.body, "csrf_token");
    let done = other.post_form("/u/mfa/continue", &[("state", &state), ("csrf_token", &csrf)]).await;
    id_token_claims(&s, &done).await;
    // The used code is spent.
    let mut third = s.browser();
    let a = password_step(&mut third, "alice@example.com", PASSWORD).await;
    let (loc, _) = challenge_page(&mut third, &a).await;
    let page = third.get(&format!("{loc}&factor=recovery-code")).await.body;
    assert_eq!(submit(&mut third, &page, "recovery-code", &recovery, false).await.status, 400);
    let _ = otp(SECRET, 0);
}

async fn the_waiting_login_is_bound_single_use_and_guarded(b: Backend) {
    let s = start(b).await;
    import_user(&s, "g@example.com", json!([{"totp": {"secret": SECRET}}])).await;
    configure(&s, &["otp"], false).await;
    let mut browser = s.browser();
    let a = password_step(&mut browser, "g@example.com", LEGACY_PASSWORD).await;
    let (loc, page) = challenge_page(&mut browser, &a).await;
    // Another browser cannot use the handle; a forged form is refused before anything.
    let mut thief = s.browser();
    assert_eq!(thief.get(&loc).await.status, 400);
    let state = hidden(&page, "state");
    let forged = browser
        .post_form("/u/mfa", &[("state", &state), ("csrf_token", "forged"), ("factor", "otp"), ("code", "123456")])
        .await;
    assert_eq!(forged.status, 403);
    // Skipping the code is no way in.
    let csrf = hidden(&page, "csrf_token");
    assert_eq!(browser.post_form("/u/mfa/continue", &[("state", &state), ("csrf_token", &csrf)]).await.status, 400);
    // Wrong codes: the tenth locks the factor, the right code included.
    let mut last = String::new();
    for _ in 0..10 {
        let a = submit(&mut browser, &page, "otp", "123456", false).await;
        last = a.body;
        if a.status == 429 {
            break;
        }
        assert_eq!(a.status, 400);
    }
    assert!(last.contains("Too many failed codes"), "{last}");
    let locked = submit(&mut browser, &page, "otp", &otp_now(&s, SECRET), false).await;
    assert_eq!(locked.status, 429);
    // The wait expires after ten minutes.
    s.clock.advance_secs(16 * 60);
    assert_eq!(browser.get(&loc).await.status, 400);
}

/// The admin console signs in through the hosted login: under MFA for every login, an
/// administrator enrols (or passes) a second factor before the console lets them in.
async fn the_console_asks_administrators_for_their_second_factor(b: Backend) {
    let s = crate::kit::Server::start(b).await;
    let (email, password) = ("admin@console.test", "console admin passphrase 1");
    gatehouse_services::console::ensure_first_administrator(&s.state, email, password).await.unwrap();
    configure(&s, &["otp"], true).await;
    let mut browser = s.browser();
    assert_eq!(browser.get("/admin").await.location.as_deref(), Some("/admin/login"));
    let authorize = browser.get("/admin/login").await.location.unwrap();
    let login = browser.get(&authorize).await.location.unwrap();
    let page = browser.get(&login).await.body;
    let (tx, csrf) = (hidden(&page, "state"), hidden(&page, "csrf_token"));
    let form = [("state", tx.as_str()), ("csrf_token", csrf.as_str()), ("username", email), ("password", password)];
    let a = browser.post_form(&format!("u/login?state={tx}"), &form).await;
    let (_, page) = challenge_page(&mut browser, &a).await;
    // Not in yet.
    assert_eq!(browser.get("/admin").await.location.as_deref(), Some("/admin/login"));
    let start = page.find(r#"<code id="secret">"#).unwrap() + r#"<code id="secret">"#.len();
    let secret: String = page[start..start + page[start..].find('<').unwrap()].replace(' ', "");
    let now = s.state.clock.now().unix_timestamp();
    let a = submit(&mut browser, &page, "enrol", &otp(&secret, now), false).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let callback = a.location.unwrap();
    assert!(callback.starts_with(&format!("{}admin/callback?", s.issuer)), "{callback}");
    assert_eq!(browser.get(&callback).await.location.as_deref(), Some("/admin"));
    assert_eq!(browser.get("/admin").await.status, 200);
    s.stop().await;
}

/// With the email factor enabled, a user with an email factor gets a code by email on the
/// challenge page; a new code is sent at most every 30 seconds, and only the last works.
async fn an_emailed_code_on_the_hosted_page(b: Backend) {
    let s = start(b).await;
    import_user(&s, "mail@example.com", json!([{"email": {"value": "factor@example.com"}}])).await;
    configure(&s, &["email"], false).await;
    let mut browser = s.browser();
    let a = password_step(&mut browser, "mail@example.com", LEGACY_PASSWORD).await;
    let (loc, page) = challenge_page(&mut browser, &a).await;
    assert!(page.contains("We sent a code to factor@example.com."), "{page}");
    let code_in = |mail: &str| -> String {
        let text = crate::kit::decode_qp(mail);
        text.lines().map(str::trim).find(|l| l.len() == 6 && l.bytes().all(|c| c.is_ascii_digit())).unwrap().to_string()
    };
    let first = code_in(&s.emails_to("factor@example.com", 1).await[0]);
    // Reloading at once sends nothing new; later, a new code replaces the first.
    assert!(!browser.get(&loc).await.body.contains("We sent a code"));
    s.clock.advance_secs(31);
    let page = browser.get(&format!("{loc}&factor=email")).await.body;
    assert!(page.contains("We sent a code"), "{page}");
    let second = code_in(&s.emails_to("factor@example.com", 2).await[1]);
    if first != second {
        assert_eq!(submit(&mut browser, &page, "email", &first, false).await.status, 400, "an older code");
    }
    let done = submit(&mut browser, &page, "email", &second, false).await;
    assert_eq!(id_token_claims(&s, &done).await["amr"], json!(["pwd", "mfa"]));
}
