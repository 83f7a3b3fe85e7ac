//! Brute-force protection and suspicious-IP throttling through the password grant: the
//! block, its scope (identifier + IP), what lifts it, and the throttle across accounts.

use super::fixture::*;
use crate::kit::Backend;
use serde_json::{json, Value};

/// A password grant as the confidential web client, for the end user at `ip`
/// (`auth0-forwarded-for`, which only a confidential client may send).
async fn attempt(srv: &LoginServer, username: &str, password: &str, ip: &str) -> (u16, Value) {
    let r = srv
        .http
        .post(format!("{}oauth/token", srv.issuer))
        .header("auth0-forwarded-for", ip)
        .form(&[
            ("grant_type", "password"),
            ("client_id", WEB),
            ("client_secret", WEB_SECRET),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn set(srv: &LoginServer, name: &str, body: Value) {
    srv.state.store.put_setting(name, &body, "2026-01-01T00:00:00.000Z").await.unwrap();
}

async fn log_types(srv: &LoginServer) -> Vec<String> {
    srv.state.audit.flush().await;
    let q = gatehouse_store::LogQuery { limit: 100, ..Default::default() };
    let (events, _) = srv.state.store.logs(&q).await.unwrap();
    events.iter().map(|e| e["type"].as_str().unwrap().to_string()).collect()
}

async fn consecutive_failures_block_the_identifier_from_that_ip(backend: Backend) {
    let srv = start(backend).await;
    set(&srv, gatehouse_services::attack::BRUTE_FORCE_SETTING, json!({"max_attempts": 3})).await;
    for i in 0..3 {
        let (status, body) = attempt(&srv, "alice@example.com", "wrong", "203.0.113.5").await;
        assert_eq!((status, body["error"].as_str()), (403, Some("invalid_grant")), "attempt {i}: {body}");
    }
    // Blocked now: even the right password is refused, without being checked.
    let (status, body) = attempt(&srv, "Alice@Example.com", PASSWORD, "203.0.113.5").await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"], "too_many_attempts");
    // The block is for that identifier from that IP only.
    assert_eq!(attempt(&srv, "alice@example.com", PASSWORD, "198.51.100.9").await.0, 200);
    assert_eq!(attempt(&srv, "legacy@example.com", LEGACY_PASSWORD, "203.0.113.5").await.0, 200);
    let types = log_types(&srv).await;
    assert!(types.iter().any(|t| t == "limit_wc"), "{types:?}");

    // An admin (or a password change) lifts it, and ublkdu is logged.
    let lifted = gatehouse_services::attack::release_blocks(&srv.state, &["alice@example.com".into()], None, None)
        .await
        .unwrap();
    assert_eq!(lifted, 1);
    assert_eq!(attempt(&srv, "alice@example.com", PASSWORD, "203.0.113.5").await.0, 200);
    assert!(log_types(&srv).await.iter().any(|t| t == "ublkdu"));
}

async fn a_success_resets_the_count_and_blocks_lapse_after_30_days(backend: Backend) {
    let srv = start(backend).await;
    set(&srv, gatehouse_services::attack::BRUTE_FORCE_SETTING, json!({"max_attempts": 2})).await;
    let ip = "203.0.113.7";
    assert_eq!(attempt(&srv, "alice@example.com", "wrong", ip).await.0, 403);
    assert_eq!(attempt(&srv, "alice@example.com", PASSWORD, ip).await.0, 200);
    assert_eq!(attempt(&srv, "alice@example.com", "wrong", ip).await.0, 403, "the count started afresh");
    assert_eq!(attempt(&srv, "alice@example.com", "wrong", ip).await.0, 403);
    assert_eq!(attempt(&srv, "alice@example.com", PASSWORD, ip).await.0, 429);
    srv.clock.advance_secs(29 * 24 * 3600);
    assert_eq!(attempt(&srv, "alice@example.com", PASSWORD, ip).await.0, 429, "still blocked after 29 days");
    srv.clock.advance_secs(2 * 24 * 3600);
    assert_eq!(attempt(&srv, "alice@example.com", PASSWORD, ip).await.0, 200, "lapsed after 30 days");
}

async fn unknown_identifiers_are_blocked_alike_and_allowlisted_ips_never(backend: Backend) {
    let srv = start(backend).await;
    set(&srv, gatehouse_services::attack::BRUTE_FORCE_SETTING, json!({"max_attempts": 2, "allowlist": ["10.0.0.0/8"]}))
        .await;
    // No enumeration: a made-up identifier behaves as a real one.
    for _ in 0..2 {
        assert_eq!(attempt(&srv, "nobody@example.com", "wrong", "203.0.113.8").await.0, 403);
    }
    assert_eq!(attempt(&srv, "nobody@example.com", "wrong", "203.0.113.8").await.0, 429);
    for _ in 0..5 {
        assert_eq!(attempt(&srv, "alice@example.com", "wrong", "10.1.2.3").await.0, 403);
    }
    assert_eq!(attempt(&srv, "alice@example.com", PASSWORD, "10.1.2.3").await.0, 200, "allow-listed");
}

async fn account_lockout_counts_across_ips(backend: Backend) {
    let srv = start(backend).await;
    set(
        &srv,
        gatehouse_services::attack::BRUTE_FORCE_SETTING,
        json!({"max_attempts": 2, "mode": "count_per_identifier"}),
    )
    .await;
    assert_eq!(attempt(&srv, "alice@example.com", "wrong", "203.0.113.1").await.0, 403);
    assert_eq!(attempt(&srv, "alice@example.com", "wrong", "203.0.113.2").await.0, 403);
    assert_eq!(attempt(&srv, "alice@example.com", PASSWORD, "198.51.100.3").await.0, 429);
}

async fn suspicious_ip_is_throttled_across_accounts(backend: Backend) {
    let srv = start(backend).await;
    set(
        &srv,
        gatehouse_services::attack::SUSPICIOUS_IP_SETTING,
        json!({"stage": {"pre-login": {"max_attempts": 3, "rate": 60000}}}),
    )
    .await;
    let ip = "203.0.113.66";
    for (i, user) in ["a@example.com", "b@example.com", "c@example.com"].iter().enumerate() {
        assert_eq!(attempt(&srv, user, "wrong", ip).await.0, 403, "attempt {i}");
    }
    let (status, body) = attempt(&srv, "alice@example.com", PASSWORD, ip).await;
    assert_eq!((status, body["error"].as_str()), (429, Some("too_many_attempts")), "{body}");
    assert_eq!(attempt(&srv, "alice@example.com", PASSWORD, "198.51.100.4").await.0, 200, "other IPs unaffected");
    srv.clock.advance_secs(60);
    assert_eq!(attempt(&srv, "alice@example.com", PASSWORD, ip).await.0, 200, "one attempt back after the rate");
    assert!(log_types(&srv).await.iter().any(|t| t == "limit_mu"));
}

crate::on_both_backends!(
    consecutive_failures_block_the_identifier_from_that_ip,
    a_success_resets_the_count_and_blocks_lapse_after_30_days,
    unknown_identifiers_are_blocked_alike_and_allowlisted_ips_never,
    account_lockout_counts_across_ips,
    suspicious_ip_is_throttled_across_accounts,
);
