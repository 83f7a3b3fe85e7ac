//! The rate limits' HTTP edge: each Authentication API request is counted per client IP,
//! each Management API request per access token, and answered with `X-RateLimit-*`
//! headers (Auth0's 429 body and `Retry-After` when over; a 503 with `Retry-After` when
//! Redis cannot count and the limiter fails closed). The counting itself is
//! `gatehouse_services::ratelimit`.

use crate::error::ApiError;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use gatehouse_services::ratelimit::{Decision, Quota};
use gatehouse_services::state::Services;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;

fn add_headers(response: &mut Response, d: &Decision) {
    let h = response.headers_mut();
    for (name, value) in [
        ("x-ratelimit-limit", d.limit as i64),
        ("x-ratelimit-remaining", d.remaining as i64),
        ("x-ratelimit-reset", d.reset),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
            h.insert(name, v);
        }
    }
}

async fn limited(state: &Services, bucket: &str, key: &str, quota: Quota, req: Request, next: Next) -> Response {
    let decision = match state.rate_limiter.hit(bucket, key, quota, state.clock.now().unix_timestamp()).await {
        Ok(d) => d,
        // Redis could not count the request and the limiter fails closed.
        Err(unavailable) => return ApiError::from(unavailable).into_response(),
    };
    let mut response = if decision.allowed { next.run(req).await } else { ApiError::TooManyRequests.into_response() };
    add_headers(&mut response, &decision);
    if !decision.allowed {
        let wait = (decision.reset - state.clock.now().unix_timestamp()).max(1);
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            response.headers_mut().insert("retry-after", v);
        }
    }
    response
}

/// Per access token on the Management API. Requests without a token are counted per IP.
pub async fn management(State(state): State<Services>, req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(|t| hex::encode(&Sha256::digest(t.as_bytes())[..16]));
    let key = match token {
        Some(t) => t,
        None => client_ip(&req),
    };
    let quota = state.config.rate_limits.management_per_token;
    limited(&state, "mgmt", &key, quota, req, next).await
}

/// Per client IP on the Authentication API.
pub async fn authentication(State(state): State<Services>, req: Request, next: Next) -> Response {
    let ip = client_ip(&req);
    let quota = state.config.rate_limits.authentication_per_ip;
    limited(&state, "auth", &ip, quota, req, next).await
}

/// The peer address. Deployments behind a proxy put the proxy's address here; trusting
/// `X-Forwarded-For` would let any client pick its own bucket.
fn client_ip(req: &Request) -> String {
    req.extensions().get::<ConnectInfo<SocketAddr>>().map_or_else(|| "unknown".to_string(), |c| c.0.ip().to_string())
}
