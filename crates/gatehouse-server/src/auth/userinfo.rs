//! `GET|POST /userinfo`: the standard claims of the access token's user.

use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use gatehouse_services::issue::{has_scope, profile_claims, AccessTokenClaims};
use gatehouse_services::keys::is_opaque_token;
use gatehouse_services::Services;
use serde_json::Value;

fn unauthorized(error: &str) -> Response {
    let mut r = (StatusCode::UNAUTHORIZED, "Unauthorized").into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("Bearer realm=\"gatehouse\", error=\"{error}\"")) {
        r.headers_mut().insert(WWW_AUTHENTICATE, v);
    }
    r
}

pub async fn userinfo(State(state): State<Services>, headers: HeaderMap) -> Response {
    let mut response = answer(&state, &headers).await;
    crate::cors::allow_any(&mut response);
    response
}

async fn answer(state: &Services, headers: &HeaderMap) -> Response {
    let token = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|h| {
        let (scheme, token) = h.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string())
    });
    let Some(token) = token else { return unauthorized("invalid_request") };
    let (issuer, audience) = (&state.config.issuer, state.config.userinfo_audience());
    let claims: Option<AccessTokenClaims> = if is_opaque_token(&token) {
        state.keys.open(&token, issuer, &audience, state.clock.now().unix_timestamp())
    } else {
        state.keys.verify(&token, issuer, &audience)
    };
    let Some(claims) = claims.filter(|c| has_scope(&c.scope, "openid")) else {
        return unauthorized("invalid_token");
    };
    let user = match state.store.user(&claims.sub).await {
        Ok(Some(u)) if !u.blocked => u,
        Ok(_) => return unauthorized("invalid_token"),
        Err(e) => {
            tracing::error!(error = %e, "userinfo lookup failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let mut body = profile_claims(&user, &claims.scope);
    body.insert("sub".into(), Value::String(user.user_id.clone()));
    let mut r = Json(Value::Object(body)).into_response();
    r.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
