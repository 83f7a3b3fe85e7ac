//! `/api/v2/attack-protection/{brute-force-protection,suspicious-ip-throttling,
//! breached-password-detection}`: Auth0's
//! settings documents, read with their defaults and patched field by field.

use crate::authz::{ReadAttackProtection, Scoped, UpdateAttackProtection};
use crate::error::ApiError;
use crate::extract::JsonBody;
use axum::extract::State;
use axum::Json;
use gatehouse_services::attack::{
    breached_password_settings, brute_force_settings, change_breached_password, change_brute_force,
    change_suspicious_ip, suspicious_ip_settings,
};
use gatehouse_services::Services;
use serde_json::Value;

pub async fn get_brute_force(
    _: Scoped<ReadAttackProtection>,
    State(state): State<Services>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(brute_force_settings(&state).await?.to_json()))
}

pub async fn patch_brute_force(
    _: Scoped<UpdateAttackProtection>,
    State(state): State<Services>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(change_brute_force(&state, &body).await?.to_json()))
}

pub async fn get_suspicious_ip(
    _: Scoped<ReadAttackProtection>,
    State(state): State<Services>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(suspicious_ip_settings(&state).await?.to_json()))
}

pub async fn patch_suspicious_ip(
    _: Scoped<UpdateAttackProtection>,
    State(state): State<Services>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(change_suspicious_ip(&state, &body).await?.to_json()))
}

pub async fn get_breached_password(
    _: Scoped<ReadAttackProtection>,
    State(state): State<Services>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(breached_password_settings(&state).await?.to_json()))
}

pub async fn patch_breached_password(
    _: Scoped<UpdateAttackProtection>,
    State(state): State<Services>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(change_breached_password(&state, &body).await?.to_json()))
}

/// Bot detection and CAPTCHA: Gatehouse has neither, and says so as Auth0 does for a
/// tenant whose plan lacks them (403 `feature_not_enabled`), which tools skip.
fn not_available(feature: &str) -> ApiError {
    ApiError::FeatureNotEnabled(format!("{feature} is not available: Gatehouse does not have it."))
}

pub async fn get_bot_detection(_: Scoped<ReadAttackProtection>) -> ApiError {
    not_available("Bot detection")
}

pub async fn patch_bot_detection(_: Scoped<UpdateAttackProtection>) -> ApiError {
    not_available("Bot detection")
}

pub async fn get_captcha(_: Scoped<ReadAttackProtection>) -> ApiError {
    not_available("CAPTCHA")
}

pub async fn patch_captcha(_: Scoped<UpdateAttackProtection>) -> ApiError {
    not_available("CAPTCHA")
}
