//! Management API tickets and verification jobs; tickets are single use and expire
//! (on an injected clock).

use super::helpers::log_types;
use crate::kit::{auth0_error, link, query_param, Backend, Server, DB};
use gatehouse_core::clock::{Clock, ManualClock, SystemClock};
use serde_json::json;
use std::sync::Arc;

async fn start_on_manual_clock(b: Backend) -> (Server, ManualClock) {
    let clock = ManualClock::at_unix(SystemClock.now().unix_timestamp());
    let s = Server::start_with_clock(b, Arc::new(clock.clone()), |_| {}).await;
    (s, clock)
}

async fn verification_ticket_is_single_use_and_expires(b: Backend) {
    let (s, clock) = start_on_manual_clock(b).await;
    let user =
        s.create_user(json!({"email": "v@example.com", "password": "Verify-me-123", "verify_email": false})).await;
    let user_id = user["user_id"].as_str().unwrap();
    let (status, t) = s
        .api(
            "POST",
            "/api/v2/tickets/email-verification",
            Some(json!({"user_id": user_id, "result_url": "http://app.test/verified", "ttl_sec": 3600, "includeEmailInRedirect": true})),
        )
        .await;
    assert_eq!(status, 201, "{t}");
    let url = t["ticket"].as_str().unwrap().to_string();
    let ticket = query_param(&url, "ticket").unwrap();
    // Only the hash is stored.
    let hash = s.store.live_ticket(&ticket, clock.now().unix_timestamp()).await.unwrap();
    assert!(hash.is_none(), "the store must not find the ticket by its plaintext");
    let mut browser = s.browser();
    let a = browser.get(&url).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let to = a.location.unwrap();
    assert!(to.starts_with("http://app.test/verified?"), "{to}");
    assert_eq!(query_param(&to, "success").as_deref(), Some("true"));
    assert_eq!(query_param(&to, "email").as_deref(), Some("v@example.com"));
    assert!(s.store.user(user_id).await.unwrap().unwrap().email_verified);
    // A second use is refused.
    let again = browser.get(&url).await;
    assert_eq!(again.status, 400, "{}", again.body);
    assert!(again.body.contains("expired or has already been used"), "{}", again.body);
    // An unused ticket past its lifetime is refused too.
    let (_, t) =
        s.api("POST", "/api/v2/tickets/email-verification", Some(json!({"user_id": user_id, "ttl_sec": 60}))).await;
    clock.advance_secs(61);
    let late = browser.get(t["ticket"].as_str().unwrap()).await;
    assert_eq!(late.status, 400, "{}", late.body);
    assert!(log_types(&s).await.contains(&"sv".to_string()));
    s.stop().await;
}

async fn password_change_ticket_by_email_and_connection(b: Backend) {
    let (s, clock) = start_on_manual_clock(b).await;
    let user = s.create_user(json!({"email": "p@example.com", "password": "Before-123x", "verify_email": false})).await;
    let user_id = user["user_id"].as_str().unwrap();
    let conn = s.default_connection().await;
    let (status, t) = s
        .api(
            "POST",
            "/api/v2/tickets/password-change",
            Some(json!({"email": "p@example.com", "connection_id": conn["id"], "result_url": "http://app.test/done", "mark_email_as_verified": true})),
        )
        .await;
    assert_eq!(status, 201, "{t}");
    let url = t["ticket"].as_str().unwrap();
    let mut browser = s.browser();
    let form = browser.get(url).await;
    assert_eq!(form.status, 200, "{}", form.body);
    let csrf = crate::kit::hidden(&form.body, "csrf_token");
    let ticket = crate::kit::hidden(&form.body, "ticket");
    // A weak password and a mismatch are explained on the form; the ticket survives.
    let weak = browser
        .post_form(
            "/u/reset-password",
            &[("csrf_token", &csrf), ("ticket", &ticket), ("password", "weak"), ("password_confirm", "weak")],
        )
        .await;
    assert_eq!(weak.status, 400);
    assert!(
        weak.body.contains("Password is too weak") && weak.body.contains(r#"aria-invalid="true""#),
        "{}",
        weak.body
    );
    let mismatch = browser
        .post_form(
            "/u/reset-password",
            &[
                ("csrf_token", &csrf),
                ("ticket", &ticket),
                ("password", "After-456y"),
                ("password_confirm", "After-456z"),
            ],
        )
        .await;
    assert_eq!(mismatch.status, 400);
    assert!(mismatch.body.contains("do not match"));
    let forged = browser
        .post_form(
            "/u/reset-password",
            &[
                ("csrf_token", "forged"),
                ("ticket", &ticket),
                ("password", "After-456y"),
                ("password_confirm", "After-456y"),
            ],
        )
        .await;
    assert_eq!(forged.status, 403);
    let done = browser
        .post_form(
            "/u/reset-password",
            &[
                ("csrf_token", &csrf),
                ("ticket", &ticket),
                ("password", "After-456y"),
                ("password_confirm", "After-456y"),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(done.location.unwrap().starts_with("http://app.test/done?success=true"));
    assert!(super::helpers::password_is(&s, user_id, "After-456y").await);
    let stored = s.store.user(user_id).await.unwrap().unwrap();
    assert!(stored.email_verified && stored.last_password_reset.is_some());
    let replay = browser
        .post_form(
            "/u/reset-password",
            &[
                ("csrf_token", &csrf),
                ("ticket", &ticket),
                ("password", "Again-789z"),
                ("password_confirm", "Again-789z"),
            ],
        )
        .await;
    assert_eq!(replay.status, 400);
    assert!(super::helpers::password_is(&s, user_id, "After-456y").await);
    // Expiry.
    let (_, t) =
        s.api("POST", "/api/v2/tickets/password-change", Some(json!({"user_id": user_id, "ttl_sec": 120}))).await;
    clock.advance_secs(121);
    assert_eq!(browser.get(t["ticket"].as_str().unwrap()).await.status, 400);
    s.stop().await;
}

async fn ticket_requests_are_checked(b: Backend) {
    let s = Server::start(b).await;
    let user = s.create_user(json!({"email": "c@example.com", "password": "Checked-123", "verify_email": false})).await;
    let id = user["user_id"].as_str().unwrap();
    for (path, body, code) in [
        ("/api/v2/tickets/email-verification", json!({}), "invalid_body"),
        ("/api/v2/tickets/email-verification", json!({"user_id": "auth0|nobody"}), "inexistent_user"),
        ("/api/v2/tickets/email-verification", json!({"user_id": id, "ttl_sec": -1}), "invalid_body"),
        ("/api/v2/tickets/email-verification", json!({"user_id": id, "result_url": "javascript:x"}), "invalid_body"),
        ("/api/v2/tickets/password-change", json!({"email": "c@example.com"}), "invalid_body"),
        (
            "/api/v2/tickets/password-change",
            json!({"email": "c@example.com", "connection_id": "con_bad"}),
            "invalid_body",
        ),
        ("/api/v2/tickets/password-change", json!({"user_id": id, "bogus": 1}), "invalid_body"),
        ("/api/v2/jobs/verification-email", json!({"user_id": 7}), "invalid_body"),
    ] {
        let (status, r) = s.api("POST", path, Some(body.clone())).await;
        let expected = if code == "inexistent_user" { 404 } else { 400 };
        auth0_error(expected, &r, code);
        assert_eq!(status, expected, "{path} {body} → {r}");
    }
    let token = s.token_with(&["read:users"]).await;
    let (status, r) =
        s.call("POST", "/api/v2/tickets/password-change", Some(json!({"user_id": id})), Some(&token)).await;
    assert_eq!(
        auth0_error(status, &r, "insufficient_scope"),
        "Insufficient scope, expected any of: create:user_tickets"
    );
    s.stop().await;
}

async fn verification_email_job_sends_a_link(b: Backend) {
    let s = Server::start(b).await;
    let user =
        s.create_user(json!({"email": "job@example.com", "password": "Job-pass-123", "verify_email": false})).await;
    let id = user["user_id"].as_str().unwrap();
    let (status, job) = s.api("POST", "/api/v2/jobs/verification-email", Some(json!({"user_id": id}))).await;
    assert_eq!(status, 201, "{job}");
    assert_eq!(job["type"], "verification_email");
    let mail = s.emails_to("job@example.com", 1).await;
    let url = link(&mail[0], "/u/email-verification?ticket=");
    let mut status_now = json!(null);
    for _ in 0..100 {
        let (_, j) = s.api("GET", &format!("/api/v2/jobs/{}", job["id"].as_str().unwrap()), None).await;
        status_now = j["status"].clone();
        if status_now == "completed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status_now, "completed");
    let page = s.browser().get(&url).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Your email was verified"));
    assert!(s.store.user(id).await.unwrap().unwrap().email_verified);
    let _ = DB;
    s.stop().await;
}

/// The periodic purge removes expired tickets, used or not.
async fn expired_tickets_are_purged(b: Backend) {
    let (s, clock) = start_on_manual_clock(b).await;
    let user =
        s.create_user(json!({"email": "e@example.com", "password": "Purge-me-123", "verify_email": false})).await;
    let id = user["user_id"].as_str().unwrap();
    let (_, t) = s.api("POST", "/api/v2/tickets/email-verification", Some(json!({"user_id": id, "ttl_sec": 10}))).await;
    let hash = gatehouse_services::tickets::hash_ticket(&query_param(t["ticket"].as_str().unwrap(), "ticket").unwrap());
    let now = clock.now().unix_timestamp();
    assert!(s.store.live_ticket(&hash, now).await.unwrap().is_some());
    assert_eq!(s.store.delete_expired_tickets(now).await.unwrap(), 0);
    assert_eq!(s.store.delete_expired_tickets(now + 11).await.unwrap(), 1);
    assert!(s.store.live_ticket(&hash, now).await.unwrap().is_none());
    s.stop().await;
}

crate::on_both_backends!(
    verification_ticket_is_single_use_and_expires,
    password_change_ticket_by_email_and_connection,
    ticket_requests_are_checked,
    verification_email_job_sends_a_link,
    expired_tickets_are_purged,
    import_completion_email,
    concurrent_uses_one_wins,
    a_new_password_ends_every_outstanding_password_link,
);

/// A password-change ticket from the Management API, as its link.
async fn password_ticket(s: &Server, user_id: &str) -> String {
    let (status, t) = s.api("POST", "/api/v2/tickets/password-change", Some(json!({"user_id": user_id}))).await;
    assert_eq!(status, 201, "{t}");
    t["ticket"].as_str().unwrap().to_string()
}

/// Opens a reset link and submits `password`: the final answer's status.
async fn reset_through(s: &Server, url: &str, password: &str) -> u16 {
    let mut browser = s.browser();
    let form = browser.get(url).await;
    if form.status != 200 {
        return form.status;
    }
    let (csrf, ticket) = (crate::kit::hidden(&form.body, "csrf_token"), crate::kit::hidden(&form.body, "ticket"));
    let done = browser
        .post_form(
            "/u/reset-password",
            &[("csrf_token", &csrf), ("ticket", &ticket), ("password", password), ("password_confirm", password)],
        )
        .await;
    done.status
}

/// However a password changes (another link, an admin, a legacy migration writing a
/// hash), every older reset link of the user dies with it; other tickets live on.
async fn a_new_password_ends_every_outstanding_password_link(b: Backend) {
    let s = Server::start(b).await;
    let client = s.spa_client().await;
    let email = "links@example.com";
    let user = s.create_user(json!({"email": email, "password": "First-pass-123", "verify_email": false})).await;
    let user_id = user["user_id"].as_str().unwrap();
    let oldest = password_ticket(&s, user_id).await;
    let r = s
        .http
        .post(format!("{}/dbconnections/change_password", s.base))
        .json(&json!({"client_id": client, "email": email, "connection": DB}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mail = s.emails_to(email, 1).await;
    let emailed = link(&mail[0], "/u/reset-password?ticket=");
    let newest = password_ticket(&s, user_id).await;
    let (_, v) = s.api("POST", "/api/v2/tickets/email-verification", Some(json!({"user_id": user_id}))).await;
    let verification = v["ticket"].as_str().unwrap().to_string();

    // The newest link sets the password; the older ones can no longer overwrite it.
    assert_eq!(reset_through(&s, &newest, "Newest-pass-456").await, 200);
    assert_eq!(reset_through(&s, &oldest, "Oldest-pass-789").await, 400, "the oldest link died");
    assert_eq!(reset_through(&s, &emailed, "Emailed-pass-789").await, 400, "the emailed link died");
    assert!(super::helpers::password_is(&s, user_id, "Newest-pass-456").await);

    // An admin's PATCH of the password ends them too; a PATCH of anything else does not.
    let pending = password_ticket(&s, user_id).await;
    let path = format!("/api/v2/users/{user_id}");
    let (status, body) = s.api("PATCH", &path, Some(json!({"name": "Links"}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(s.browser().get(&pending).await.status, 200, "a profile change keeps the link");
    let (status, body) = s.api("PATCH", &path, Some(json!({"password": "Admin-pass-321"}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(reset_through(&s, &pending, "Late-pass-654").await, 400, "the admin's change ended it");
    assert!(super::helpers::password_is(&s, user_id, "Admin-pass-321").await);

    // A hash replaced by any other path as well.
    let pending = password_ticket(&s, user_id).await;
    let hash = crate::kit::test_hasher().hash("Migrated-pass-1").unwrap().to_stored();
    s.store
        .modify_user::<(), _>(user_id, |u| {
            u.password_hash = Some(hash.clone());
            Ok(())
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.browser().get(&pending).await.status, 400, "a replaced hash ended it");
    // The email verification ticket is not about the password.
    let verified = s.browser().get(&verification).await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    assert!(s.store.user(user_id).await.unwrap().unwrap().email_verified);
    s.stop().await;
}

/// Of concurrent uses of one ticket, exactly one wins.
async fn concurrent_uses_one_wins(b: Backend) {
    let (s, clock) = start_on_manual_clock(b).await;
    let user =
        s.create_user(json!({"email": "race@example.com", "password": "Race-pass-123", "verify_email": false})).await;
    let (_, t) = s.api("POST", "/api/v2/tickets/email-verification", Some(json!({"user_id": user["user_id"]}))).await;
    let hash = gatehouse_services::tickets::hash_ticket(&query_param(t["ticket"].as_str().unwrap(), "ticket").unwrap());
    let now = clock.now().unix_timestamp();
    let uses = (0..8).map(|_| {
        let store = s.store.clone();
        let hash = hash.clone();
        tokio::spawn(async move { store.consume_ticket(&hash, now).await.unwrap().is_some() })
    });
    let mut won = 0;
    for u in uses.collect::<Vec<_>>() {
        won += usize::from(u.await.unwrap());
    }
    assert_eq!(won, 1);
    s.stop().await;
}

/// An import job's completion email goes to the configured administrators.
async fn import_completion_email(b: Backend) {
    let s = Server::start_with(b, |c| c.mail.admin_emails = vec!["ops@example.com".into()]).await;
    let conn = s.default_connection().await;
    let users = serde_json::to_vec(&json!([{"email": "imp1@example.com"}, {"email": "not-an-email"}])).unwrap();
    let (status, job) = s.import_users(users, &[("connection_id", conn["id"].as_str().unwrap())]).await;
    assert_eq!(status, 202, "{job}");
    let mail = s.emails_to("ops@example.com", 1).await;
    let text = crate::kit::decode_qp(&mail[0]);
    assert!(text.contains(job["id"].as_str().unwrap()), "{text}");
    assert!(text.contains("Inserted: 1") && text.contains("Failed: 1"), "{text}");
    assert!(text.contains("completed with failures"), "{text}");
    s.stop().await;
}
