//! Every Management API write becomes an audit event (`sapi`, or `fapi` when it failed).

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::USER_AGENT;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use gatehouse_core::log_event::codes;
use gatehouse_services::state::Services;
use serde_json::json;
use std::net::SocketAddr;

/// Records every Management API write (`sapi`, or `fapi` when it failed) with the
/// method, path, status and the token's client. Reads are not logged.
pub async fn management_writes(State(state): State<Services>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    if method == Method::GET || method == Method::HEAD || method == Method::OPTIONS {
        return next.run(req).await;
    }
    let path = req.uri().path().to_string();
    let ip = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
    let user_agent = req.headers().get(USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string);
    let client_id = crate::authz::token_client_id(&state, req.headers());
    let response = next.run(req).await;
    let status = response.status();
    let kind = if status.is_success() { codes::SUCCESS_API_OPERATION } else { codes::FAILED_API_OPERATION };
    let mut e = state.audit.event(kind);
    e.description = Some(format!("{method} /api/v2{path}"));
    e.ip = ip;
    e.user_agent = user_agent;
    e.client_id = client_id;
    e.details.insert("request".into(), json!({"method": method.as_str(), "path": format!("/api/v2{path}")}));
    e.details.insert("response".into(), json!({"statusCode": status.as_u16()}));
    state.audit.record(e).await;
    response
}
