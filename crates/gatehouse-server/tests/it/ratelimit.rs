//! Rate limits: headers on every answer, Auth0's 429 past the limit, and one budget
//! shared by two nodes through Redis.

use crate::kit::{auth0_error, Backend, Server, ADMIN_ID, ADMIN_SECRET};
use gatehouse_services::ratelimit::Quota;
use serde_json::Value;

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

crate::on_both_backends!(
    authentication_api_is_limited_per_ip_with_headers,
    management_api_is_limited_per_token,
    two_nodes_share_one_budget_through_redis,
);
