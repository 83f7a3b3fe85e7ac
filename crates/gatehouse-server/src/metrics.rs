//! Metrics' HTTP edge: every request timed into `gatehouse_services::metrics`, its
//! hashing time told in `Server-Timing` where configured, and `/metrics` served.

use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use gatehouse_services::state::Services;
use std::time::Instant;

/// Times every request (and its hashes, where Server-Timing is on).
pub async fn track(State(state): State<Services>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let started = Instant::now();
    let response = if state.config.server_timing {
        let (mut response, hashing) = gatehouse_services::metrics::timing_hashes(next.run(req)).await;
        if !hashing.is_zero() {
            let value = format!("hash;dur={:.3}", hashing.as_secs_f64() * 1000.0);
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().append("server-timing", value);
            }
        }
        response
    } else {
        next.run(req).await
    };
    state.metrics.observe_request(&path, response.status().as_u16(), started.elapsed().as_secs_f64());
    response
}

pub async fn endpoint(State(state): State<Services>) -> Response {
    ([(CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render()).into_response()
}
