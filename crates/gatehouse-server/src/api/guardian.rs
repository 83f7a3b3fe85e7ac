//! Auth0's Guardian settings and a user's MFA actions: `/api/v2/guardian/factors` (list),
//! `/api/v2/guardian/factors/{name}` (enable or disable), `/api/v2/guardian/policies`,
//! `/api/v2/users/{id}/multifactor/actions/invalidate-remember-browser` and
//! `/api/v2/users/{id}/recovery-code-regeneration`.

use crate::authz::{
    ReadGuardianFactors, ReadMfaPolicies, Scoped, UpdateGuardianFactors, UpdateMfaPolicies, UpdateUsers,
};
use crate::error::ApiError;
use crate::extract::JsonBody;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use gatehouse_core::error::Error;
use gatehouse_services::mfa::challenge::{forget_browsers, regenerate_recovery_code};
use gatehouse_services::mfa::settings::{mfa_settings, set_factor, set_policy};
use gatehouse_services::Services;
use serde_json::{json, Value};

pub async fn list_factors(
    _: Scoped<ReadGuardianFactors>,
    State(state): State<Services>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(mfa_settings(&state).await?.0.to_auth0_json()))
}

pub async fn put_factor(
    _: Scoped<UpdateGuardianFactors>,
    State(state): State<Services>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({"enabled": set_factor(&state, &name, &body).await?})))
}

pub async fn get_policies(_: Scoped<ReadMfaPolicies>, State(state): State<Services>) -> Result<Json<Value>, ApiError> {
    Ok(Json(mfa_settings(&state).await?.1.to_auth0_json()))
}

pub async fn put_policies(
    _: Scoped<UpdateMfaPolicies>,
    State(state): State<Services>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(set_policy(&state, &body).await?.to_auth0_json()))
}

pub async fn invalidate_remember_browser(
    _: Scoped<UpdateUsers>,
    State(state): State<Services>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let user = state.store.user(&id).await?.ok_or_else(Error::user_not_found)?;
    forget_browsers(&state, &user.user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn regenerate_recovery(
    _: Scoped<UpdateUsers>,
    State(state): State<Services>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let user = state.store.user(&id).await?.ok_or_else(Error::user_not_found)?;
    Ok(Json(json!({"recovery_code": regenerate_recovery_code(&state, &user.user_id).await?})))
}
