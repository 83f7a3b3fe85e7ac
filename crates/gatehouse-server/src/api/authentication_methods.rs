//! `/api/v2/users/{id}/authentication-methods`: a user's second factors and passkeys (imported or
//! enrolled) listed in Auth0's shape, never with their secrets, and removed one by one or
//! all at once.

use crate::authz::{DeleteAuthenticationMethods, ReadAuthenticationMethods, Scoped};
use crate::error::ApiError;
use crate::extract::QueryParams;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use gatehouse_core::error::Error;
use gatehouse_services::Services;
use serde_json::Value;

fn method_not_found() -> ApiError {
    ApiError::NotFound { code: "inexistent_authentication_method", message: "Authentication method not found".into() }
}

pub async fn list(
    _: Scoped<ReadAuthenticationMethods>,
    State(state): State<Services>,
    Path(id): Path<String>,
    q: QueryParams,
) -> Result<Json<Value>, ApiError> {
    q.allow(&["page", "per_page", "include_totals"])?;
    let (page, per_page, offset) = super::paging(&q, 50)?;
    let include_totals = q.bool("include_totals")?.unwrap_or(false);
    let user = state.store.user(&id).await?.ok_or_else(Error::user_not_found)?;
    let factors = state.store.mfa_factors(&user.user_id).await?;
    let total = factors.len() as u64;
    let shown: Vec<Value> = factors
        .iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(per_page).unwrap_or(0))
        .map(|f| f.to_auth0_json())
        .collect();
    Ok(Json(super::page("authenticators", shown, page, per_page, total, include_totals)))
}

pub async fn delete_one(
    _: Scoped<DeleteAuthenticationMethods>,
    State(state): State<Services>,
    Path((id, method_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let user = state.store.user(&id).await?.ok_or_else(Error::user_not_found)?;
    if !state.store.delete_mfa_factor(&user.user_id, &method_id).await? {
        return Err(method_not_found());
    }
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete_all(
    _: Scoped<DeleteAuthenticationMethods>,
    State(state): State<Services>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let user = state.store.user(&id).await?.ok_or_else(Error::user_not_found)?;
    state.store.delete_mfa_factors(&user.user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
