//! `POST /oauth/revoke` (RFC 7009, Auth0's Authentication API): a client gives up a
//! refresh token it holds, at sign-out say. The token's whole family goes with it, so
//! neither it nor what it was rotated into can be redeemed again; access tokens already
//! issued live out their (short) lifetime, as with Auth0.

use crate::auth::token::{authenticate, let_client_origin_read, no_store, params};
use crate::error::OAuthError;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_core::log_event::codes;
use gatehouse_services::secrets::hash_secret;
use gatehouse_services::Services;
use std::collections::HashMap;

pub async fn revoke(State(state): State<Services>, headers: HeaderMap, body: Body) -> Response {
    let p = match params(&headers, body).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let mut response = match handle(&state, &headers, &p).await {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(e) => e.into_response(),
    };
    let_client_origin_read(&state, &headers, &p, &mut response).await;
    response
}

async fn handle(state: &Services, headers: &HeaderMap, p: &HashMap<String, String>) -> Result<(), OAuthError> {
    let client = authenticate(state, headers, p).await?;
    let presented = p
        .get("token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| OAuthError::invalid_request("Missing required parameter: token"))?;
    // `token_type_hint` needs no reading: only refresh tokens can be revoked, and
    // anything else is, as RFC 7009 §2.2 has it for an invalid token, answered with 200.
    let Some(token) = state.store.refresh_token(&hash_secret(presented)).await? else {
        return Ok(());
    };
    // §2.1: a token is revoked only by the client it was issued to.
    if token.client_id != client.client_id {
        return Err(OAuthError::invalid_grant("The refresh token was issued to another client."));
    }
    let revoked = state.store.revoke_refresh_family(&token.family_id, state.clock.now().unix_timestamp()).await?;
    if revoked > 0 {
        let mut e = state.audit.event(codes::SUCCESS_REVOCATION);
        e.client_id = Some(client.client_id.clone());
        e.user_id = Some(token.user_id.clone());
        e.description = Some("Refresh token revoked".into());
        state.audit.record(e).await;
    }
    Ok(())
}
