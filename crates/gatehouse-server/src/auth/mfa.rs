//! Auth0's MFA API for a password login answered `mfa_required`: `GET
//! /mfa/authenticators` (the user's factors, the `mfa_token` as bearer token), `POST
//! /mfa/associate` (enrol an authenticator app while the user has no factor) and `POST
//! /mfa/challenge` (ask for an OTP, or email a code for `mfa-oob`). The grants that finish
//! the login are in `token`. The rules are `gatehouse_services::mfa::challenge`'s.

use super::token::{authenticate, let_client_origin_read, no_store, params, params_with_lists};
use crate::error::OAuthError;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use gatehouse_core::mfa::FactorKind;
use gatehouse_services::grants::mfa_pending;
use gatehouse_services::mfa::challenge::{self, Authenticator, Pending};
use gatehouse_services::Services;
use serde_json::{json, Value};
use std::collections::HashMap;

/// An address shown half hidden, as Auth0 names an email authenticator.
fn masked(email: &str) -> String {
    let (local, domain) = email.split_once('@').unwrap_or((email, ""));
    let keep = |s: &str, n: usize| s.chars().take(n).collect::<String>();
    let (host, tld) = domain.rsplit_once('.').unwrap_or((domain, ""));
    format!("{}***@{}***.{tld}", keep(local, 2), keep(host, 1))
}

/// Auth0's shape of an authenticator.
fn authenticator_json(a: &Authenticator) -> Value {
    match a.kind {
        FactorKind::Totp => json!({"id": a.id, "authenticator_type": "otp", "active": true}),
        FactorKind::RecoveryCode => json!({"id": a.id, "authenticator_type": "recovery-code", "active": true}),
        FactorKind::Email => json!({"id": a.id, "authenticator_type": "oob", "oob_channel": "email",
            "name": a.email.as_deref().map(masked), "active": true}),
        FactorKind::Phone => json!({"id": a.id, "authenticator_type": "oob", "oob_channel": "sms", "active": false}),
        // Listed, but the MFA API has no WebAuthn ceremony (nor has Auth0's): hosted pages only.
        // A passkey is a first factor and never listed here (no Guardian factor allows it).
        FactorKind::WebauthnRoaming | FactorKind::WebauthnPlatform | FactorKind::Passkey => {
            json!({"id": a.id, "authenticator_type": a.kind.as_str(), "active": false})
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let h = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = h.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string())
}

fn invalid_token() -> OAuthError {
    OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_token", "The mfa_token is missing, malformed or expired.")
}

/// The waiting login of the bearer `mfa_token`, whatever client it is for (the list
/// reveals nothing the token's holder may not see).
async fn by_bearer(state: &Services, headers: &HeaderMap) -> Result<Pending, OAuthError> {
    let token = bearer(headers).ok_or_else(invalid_token)?;
    challenge::pending(state, &token, None).await?.ok_or_else(invalid_token)
}

/// `GET /mfa/authenticators`.
pub async fn authenticators(State(state): State<Services>, headers: HeaderMap) -> Response {
    let result = async {
        let pending = by_bearer(&state, &headers).await?;
        let list = challenge::user_authenticators(&state, &pending.user).await?;
        Ok::<_, OAuthError>(Value::Array(list.iter().map(authenticator_json).collect()))
    }
    .await;
    match result {
        Ok(v) => no_store((StatusCode::OK, Json(v)).into_response()),
        Err(e) => e.into_response(),
    }
}

/// The request's client (authenticated as at the token endpoint) and its waiting login;
/// the `mfa_token` comes from the bearer header (associate) or the body (challenge).
async fn client_and_pending(
    state: &Services,
    headers: &HeaderMap,
    p: &HashMap<String, String>,
    token: Option<String>,
) -> Result<Pending, OAuthError> {
    let client = authenticate(state, headers, p).await?;
    Ok(mfa_pending(state, &client, token.as_deref()).await?)
}

/// `POST /mfa/associate` with `authenticator_types: ["otp"]`: a new authenticator app for
/// a user who has no factor yet (the first `mfa-otp` grant confirms it).
pub async fn associate(State(state): State<Services>, headers: HeaderMap, body: Body) -> Response {
    let p = match params_with_lists(&headers, body).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let result = async {
        let pending = client_and_pending(&state, &headers, &p, bearer(&headers)).await?;
        let types = p.get("authenticator_types").map(String::as_str).unwrap_or("");
        if !types.contains("otp") {
            return Err(OAuthError::invalid_request(
                "authenticator_types must be [\"otp\"]: authenticator apps are the factor users enroll here.",
            ));
        }
        let has_one = challenge::user_authenticators(&state, &pending.user).await?;
        if !has_one.is_empty() {
            return Err(OAuthError::access_denied("User is already enrolled."));
        }
        let e = challenge::totp_enrolment(&state, &pending.user, true).await?;
        let mut body = json!({"authenticator_type": "otp", "secret": e.secret.expose(), "barcode_uri": e.uri});
        if let Some(code) = e.recovery_code {
            body["recovery_codes"] = json!([code]);
        }
        Ok(body)
    }
    .await;
    let mut response = match result {
        Ok(v) => no_store((StatusCode::OK, Json(v)).into_response()),
        Err(e) => e.into_response(),
    };
    let_client_origin_read(&state, &headers, &p, &mut response).await;
    response
}

/// `POST /mfa/challenge` with `challenge_type` `otp` or `oob` (email), optionally an
/// `authenticator_id`.
pub async fn challenge(State(state): State<Services>, headers: HeaderMap, body: Body) -> Response {
    let p = match params(&headers, body).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let result = async {
        let pending = client_and_pending(&state, &headers, &p, p.get("mfa_token").cloned()).await?;
        let list = challenge::user_authenticators(&state, &pending.user).await?;
        let wanted = p.get("authenticator_id");
        let types: Vec<&str> =
            p.get("challenge_type").map(|t| t.split(' ').collect()).unwrap_or_else(|| vec!["otp", "oob"]);
        let pick = |kind: FactorKind| list.iter().find(|a| a.kind == kind && wanted.is_none_or(|w| w == &a.id));
        if types.contains(&"otp") && pick(FactorKind::Totp).is_some() {
            return Ok(json!({"challenge_type": "otp"}));
        }
        if types.contains(&"oob") {
            if let Some(a) = pick(FactorKind::Email) {
                let oob_code = challenge::send_email_code(&state, &pending, a, true).await?.unwrap_or_default();
                return Ok(json!({"challenge_type": "oob", "oob_code": oob_code, "binding_method": "prompt"}));
            }
        }
        Err(OAuthError::new(StatusCode::BAD_REQUEST, "unsupported_challenge_type", "User is not enrolled."))
    }
    .await;
    let mut response = match result {
        Ok(v) => no_store((StatusCode::OK, Json(v)).into_response()),
        Err(e) => e.into_response(),
    };
    let_client_origin_read(&state, &headers, &p, &mut response).await;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_masked() {
        assert_eq!(masked("john.doe@example.com"), "jo***@e***.com");
        assert_eq!(masked("a@b.co"), "a***@b***.co");
    }
}
