//! Discovery documents.

use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::response::{IntoResponse, Response};
use axum::Json;
use gatehouse_core::authorization::OIDC_SCOPES;
use gatehouse_services::issue::SUPPORTED_CLAIMS;
use gatehouse_services::Services;
use serde_json::json;

pub async fn jwks(State(state): State<Services>) -> Response {
    let mut response = ([(CACHE_CONTROL, "public, max-age=300")], Json(state.keys.jwks())).into_response();
    crate::cors::allow_any(&mut response);
    response
}

/// The OpenID Provider metadata.
pub async fn openid_configuration(State(state): State<Services>) -> Response {
    let iss = &state.config.issuer;
    let mut response = Json(json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}authorize"),
        "token_endpoint": format!("{iss}oauth/token"),
        "userinfo_endpoint": format!("{iss}userinfo"),
        "revocation_endpoint": format!("{iss}oauth/revoke"),
        "jwks_uri": format!("{iss}.well-known/jwks.json"),
        "end_session_endpoint": format!("{iss}oidc/logout"),
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "scopes_supported": OIDC_SCOPES,
        "claims_supported": SUPPORTED_CLAIMS,
        "response_types_supported": ["code"],
        "response_modes_supported": crate::auth::response::SUPPORTED,
        "grant_types_supported": [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "password",
            "http://auth0.com/oauth/grant-type/password-realm",
            "http://auth0.com/oauth/grant-type/passwordless/otp",
        ],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "subject_types_supported": ["public"],
        "prompt_values_supported": ["none", "login"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    }))
    .into_response();
    crate::cors::allow_any(&mut response);
    response
}
