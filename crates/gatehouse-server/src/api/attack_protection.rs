//! `/api/v2/attack-protection/{brute-force-protection,suspicious-ip-throttling}`: Auth0's
//! settings documents, read with their defaults and patched field by field.

use crate::authz::{ReadAttackProtection, Scoped, UpdateAttackProtection};
use crate::error::ApiError;
use crate::extract::JsonBody;
use axum::extract::State;
use axum::Json;
use gatehouse_services::attack::{
    brute_force_settings, suspicious_ip_settings, BRUTE_FORCE_SETTING, SUSPICIOUS_IP_SETTING,
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
    let next = brute_force_settings(&state).await?.patched(&body)?.to_json();
    state.store.put_setting(BRUTE_FORCE_SETTING, &next, &state.now()).await?;
    Ok(Json(next))
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
    let next = suspicious_ip_settings(&state).await?.patched(&body)?.to_json();
    state.store.put_setting(SUSPICIOUS_IP_SETTING, &next, &state.now()).await?;
    Ok(Json(next))
}
