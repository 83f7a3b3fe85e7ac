//! Discovery documents.

use crate::state::AppState;
use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

pub async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    ([(CACHE_CONTROL, "public, max-age=300")], Json(state.keys.jwks()))
}

/// The OpenID Provider metadata for what exists so far.
pub async fn openid_configuration(State(state): State<AppState>) -> impl IntoResponse {
    let iss = &state.config.issuer;
    Json(json!({
        "issuer": iss,
        "token_endpoint": format!("{iss}oauth/token"),
        "jwks_uri": format!("{iss}.well-known/jwks.json"),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
    }))
}
