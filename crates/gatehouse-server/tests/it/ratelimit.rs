//! Rate limits: headers on every answer, Auth0's 429 past the limit, one budget shared by
//! two nodes through Redis, and a Redis of the test's own paused and killed under a
//! running server (failing open, then failing closed).

use crate::kit::{auth0_error, Backend, RedisProcess, Server, ADMIN_ID, ADMIN_SECRET};
use gatehouse_services::ratelimit::{FailureMode, Quota};
use serde_json::Value;
use std::time::Duration;

async fn token_request(s: &Server) -> reqwest::Response {
    s.http
        .post(format!("{}/oauth/token", s.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", ADMIN_ID),
            ("client_secret", ADMIN_SECRET),
            ("audience", &format!("{}api/v2/", s.issuer)),
        ])
        .send()
        .await
        .unwrap()
}

fn header(r: &reqwest::Response, name: &str) -> i64 {
    r.headers().get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or(-1)
}

async fn authentication_api_is_limited_per_ip_with_headers(backend: Backend) {
    // The kit itself spends one token request at start.
    let s = Server::start_with(backend, |c| {
        c.rate_limits.authentication_per_ip = Quota { limit: 4, window_secs: 3600 };
    })
    .await;
    let r = token_request(&s).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-ratelimit-limit"), 4);
    assert_eq!(header(&r, "x-ratelimit-remaining"), 2);
    assert!(header(&r, "x-ratelimit-reset") > 0);
    assert_eq!(token_request(&s).await.status(), 200);
    assert_eq!(token_request(&s).await.status(), 200);
    let r = token_request(&s).await;
    assert_eq!(r.status(), 429);
    assert_eq!(header(&r, "x-ratelimit-remaining"), 0);
    assert!(header(&r, "retry-after") >= 1);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        auth0_error(429, &body, "too_many_requests"),
        "Too many requests. Check the X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset headers."
    );
    // The Management API has its own budget.
    let (status, _) = s.api("GET", "/api/v2/users", None).await;
    assert_eq!(status, 200);
    s.stop().await;
}

async fn management_api_is_limited_per_token(backend: Backend) {
    let s = Server::start_with(backend, |c| {
        c.rate_limits.management_per_token = Quota { limit: 3, window_secs: 3600 };
    })
    .await;
    for _ in 0..3 {
        assert_eq!(s.api("GET", "/api/v2/users", None).await.0, 200);
    }
    let (status, body) = s.api("GET", "/api/v2/users", None).await;
    assert_eq!(status, 429, "{body}");
    // Another token has its own budget.
    let other = s.client_credentials(ADMIN_ID, ADMIN_SECRET, Some("read:clients")).await;
    assert_eq!(s.call("GET", "/api/v2/clients", None, Some(&other)).await.0, 200);
    s.stop().await;
}

async fn two_nodes_share_one_budget_through_redis(backend: Backend) {
    let Ok(url) = std::env::var("GATEHOUSE_TEST_REDIS_URL") else {
        eprintln!("GATEHOUSE_TEST_REDIS_URL is not set; the shared-budget test is skipped");
        return;
    };
    let prefix = format!("gh_it_rl_{}", rand::random::<u64>());
    let configure = |c: &mut gatehouse_services::state::ServerConfig| {
        c.rate_limits.authentication_per_ip = Quota { limit: 6, window_secs: 3600 };
        c.rate_limits.redis_url = Some(url.clone());
        c.rate_limits.redis_prefix = prefix.clone();
        // Exact counts below: no request may be decided without Redis on a loaded machine.
        c.rate_limits.redis_timeout = std::time::Duration::from_secs(2);
    };
    // Each node spends one request at start: 2 of 6 used.
    let a = Server::start_with(backend.clone(), configure).await;
    let b = Server::start_with(backend, configure).await;
    assert_eq!(token_request(&a).await.status(), 200);
    assert_eq!(token_request(&b).await.status(), 200);
    assert_eq!(token_request(&a).await.status(), 200);
    let r = token_request(&b).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-ratelimit-remaining"), 0, "the budget is shared");
    assert_eq!(token_request(&a).await.status(), 429);
    assert_eq!(token_request(&b).await.status(), 429);
    a.stop().await;
    b.stop().await;
}

/// A client that gives up after 10 s: a request held by a silent Redis (minutes, before)
/// fails the test instead of hanging it. Not a timing assertion: answers take milliseconds.
fn bounded_client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap()
}

async fn bounded_token_request(s: &Server) -> reqwest::Response {
    bounded_client()
        .post(format!("{}/oauth/token", s.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", ADMIN_ID),
            ("client_secret", ADMIN_SECRET),
            ("audience", &format!("{}api/v2/", s.issuer)),
        ])
        .send()
        .await
        .expect("a request while Redis is down is answered, not held")
}

async fn readyz(s: &Server) -> (u16, Value) {
    let r = bounded_client().get(format!("{}/readyz", s.base)).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// Polls `/readyz` (bounded) until its `status` is `want`.
async fn ready_becomes(s: &Server, want: &str) -> (u16, Value) {
    let mut last = (0, Value::Null);
    for _ in 0..200 {
        last = readyz(s).await;
        if last.1["status"] == want {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("/readyz never said {want}: {last:?}");
}

fn redis_config(url: String, mode: FailureMode) -> impl FnOnce(&mut gatehouse_services::state::ServerConfig) {
    move |c| {
        c.rate_limits.authentication_per_ip = Quota { limit: 1000, window_secs: 3600 };
        c.rate_limits.redis_url = Some(url);
        c.rate_limits.redis_prefix = format!("gh_it_fault_{}", rand::random::<u64>());
        // Generous for a loaded test machine; a paused Redis costs one timeout per outage.
        c.rate_limits.redis_timeout = Duration::from_millis(250);
        c.rate_limits.on_redis_failure = mode;
    }
}

async fn a_paused_or_killed_redis_holds_no_request_and_readyz_says_degraded(backend: Backend) {
    let Some(mut redis) = RedisProcess::start().await else { return };
    let s = Server::start_with(backend, redis_config(redis.url(), FailureMode::Open)).await;
    let (status, body) = readyz(&s).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok", "{body}");
    assert_eq!(body["dependencies"]["redis"], "ok", "{body}");
    let counted = bounded_token_request(&s).await;
    assert_eq!(counted.status(), 200);
    assert!(header(&counted, "x-ratelimit-remaining") < 1000, "counted in Redis");

    // Paused: connections are accepted, nothing answers. Requests go ahead uncounted.
    redis.pause();
    let r = bounded_token_request(&s).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-ratelimit-remaining"), 1000, "not counted");
    let r = bounded_client()
        .get(format!("{}/api/v2/users", s.base))
        .bearer_auth(&s.admin_token)
        .send()
        .await
        .expect("the Management API answers too");
    assert_eq!(r.status(), 200);
    let (status, body) = ready_becomes(&s, "degraded").await;
    assert_eq!(status, 200, "failing open, the node still serves: {body}");
    assert_eq!(body["dependencies"], serde_json::json!({"database": "ok", "redis": "unavailable"}));
    assert_eq!(body["rate_limits"], "failing open");
    let metrics = bounded_client().get(format!("{}/metrics", s.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("gatehouse_rate_limit_unavailable_total{outcome=\"allowed\"}"), "{metrics}");

    // Resumed: Redis counts again without a restart.
    redis.resume();
    ready_becomes(&s, "ok").await;
    let r = bounded_token_request(&s).await;
    assert!(header(&r, "x-ratelimit-remaining") < 1000, "counted again");

    // Killed: connections are refused. Then a fresh Redis on the same port is picked up.
    redis.kill();
    let r = bounded_token_request(&s).await;
    assert_eq!(r.status(), 200);
    ready_becomes(&s, "degraded").await;
    redis.restart().await;
    ready_becomes(&s, "ok").await;
    let r = bounded_token_request(&s).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-ratelimit-remaining"), 999, "a fresh Redis counts from zero");
    s.stop().await;
}

async fn failing_closed_a_dead_redis_is_a_503_with_retry_after(backend: Backend) {
    let Some(mut redis) = RedisProcess::start().await else { return };
    let s = Server::start_with(backend, redis_config(redis.url(), FailureMode::Closed)).await;
    assert_eq!(bounded_token_request(&s).await.status(), 200);
    redis.kill();
    let r = bounded_token_request(&s).await;
    assert_eq!(r.status(), 503);
    assert_eq!(header(&r, "retry-after"), 1);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        auth0_error(503, &body, "temporarily_unavailable"),
        "The service is temporarily unavailable. Try again later."
    );
    assert_eq!(body["error"], "Service Unavailable");
    let (status, body) = ready_becomes(&s, "unavailable").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["rate_limits"], "failing closed");
    let metrics = bounded_client().get(format!("{}/metrics", s.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("gatehouse_rate_limit_unavailable_total{outcome=\"refused\"}"), "{metrics}");
    redis.restart().await;
    ready_becomes(&s, "ok").await;
    assert_eq!(bounded_token_request(&s).await.status(), 200);
    s.stop().await;
}

crate::on_both_backends!(
    authentication_api_is_limited_per_ip_with_headers,
    management_api_is_limited_per_token,
    two_nodes_share_one_budget_through_redis,
    a_paused_or_killed_redis_holds_no_request_and_readyz_says_degraded,
    failing_closed_a_dead_redis_is_a_503_with_retry_after,
);
