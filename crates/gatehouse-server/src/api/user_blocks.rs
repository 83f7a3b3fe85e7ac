//! `/api/v2/user-blocks`: the brute-force blocks on a user (by id) or on an identifier,
//! listed and lifted in Auth0's shapes. Lifting logs `ublkdu`.

use crate::authz::{ReadUserBlocks, Scoped, UpdateUserBlocks};
use crate::error::ApiError;
use crate::extract::QueryParams;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use gatehouse_core::error::Error;
use gatehouse_core::validate::normalize_login;
use gatehouse_services::attack::{blocks_of_identifier, blocks_of_user, login_identifiers, release_blocks};
use gatehouse_services::Services;
use gatehouse_store::LoginBlock;
use serde_json::{json, Value};

async fn render(state: &Services, blocks: Vec<LoginBlock>) -> Result<Json<Value>, ApiError> {
    let mut out = Vec::with_capacity(blocks.len());
    for b in blocks {
        let connection = state.store.connection(&b.connection_id).await?.map(|c| c.name);
        let mut entry = json!({"identifier": b.identifier, "connection": connection});
        if !b.ip.is_empty() {
            entry["ip"] = json!(b.ip);
        }
        out.push(entry);
    }
    Ok(Json(json!({ "blocked_for": out })))
}

fn identifier_param(q: &QueryParams) -> Result<String, ApiError> {
    q.allow(&["identifier", "consider_brute_force_enablement"])?;
    q.bool("consider_brute_force_enablement")?;
    let raw = q
        .str("identifier")
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ApiError::query("Query validation error: 'Missing required property: identifier'."))?;
    Ok(normalize_login(raw))
}

pub async fn for_user(
    _: Scoped<ReadUserBlocks>,
    State(state): State<Services>,
    Path(id): Path<String>,
    q: QueryParams,
) -> Result<Json<Value>, ApiError> {
    q.allow(&["consider_brute_force_enablement"])?;
    let user = state.store.user(&id).await?.ok_or_else(Error::user_not_found)?;
    render(&state, blocks_of_user(&state, &user).await?).await
}

pub async fn for_identifier(
    _: Scoped<ReadUserBlocks>,
    State(state): State<Services>,
    q: QueryParams,
) -> Result<Json<Value>, ApiError> {
    let identifier = identifier_param(&q)?;
    render(&state, blocks_of_identifier(&state, &identifier).await?).await
}

pub async fn unblock_user(
    _: Scoped<UpdateUserBlocks>,
    State(state): State<Services>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let user = state.store.user(&id).await?.ok_or_else(Error::user_not_found)?;
    let connection = state.store.connection(&user.connection_id).await?;
    release_blocks(&state, &login_identifiers(&user), Some(&user.user_id), connection.as_ref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn unblock_identifier(
    _: Scoped<UpdateUserBlocks>,
    State(state): State<Services>,
    q: QueryParams,
) -> Result<StatusCode, ApiError> {
    let identifier = identifier_param(&q)?;
    release_blocks(&state, &[identifier], None, None).await?;
    Ok(StatusCode::NO_CONTENT)
}
