//! `/api/v2/actions`: actions, their versions and deployment, the triggers and their
//! bindings, and executions, in Auth0's shapes (so the Deploy CLI carries them).

use super::paging;
use crate::authz::{CreateActions, DeleteActions, ReadActions, Scoped, UpdateActions};
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use gatehouse_services::actions as svc;
use gatehouse_services::Services;
use serde_json::{json, Value};

/// Auth0's paged list: `{key: [...], total, page, per_page}`.
fn paged(key: &str, items: Vec<Value>, total: u64, page: u32, per_page: u32) -> Json<Value> {
    Json(json!({key: items, "total": total, "page": page, "per_page": per_page}))
}

pub async fn list(
    _: Scoped<ReadActions>,
    State(state): State<Services>,
    q: QueryParams,
) -> Result<Json<Value>, ApiError> {
    q.allow(&["triggerId", "actionName", "deployed", "page", "per_page", "installed"])?;
    let (page, per_page, offset) = paging(&q, 50)?;
    let (items, total) = svc::list_actions(
        &state,
        q.str("triggerId").filter(|t| !t.is_empty()),
        q.str("actionName").filter(|t| !t.is_empty()),
        q.bool("deployed")?,
        offset,
        per_page,
    )
    .await?;
    Ok(paged("actions", items, total, page, per_page))
}

pub async fn create(
    _: Scoped<CreateActions>,
    State(state): State<Services>,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    Ok((StatusCode::CREATED, Json(svc::create_action(&state, &body).await?)))
}

pub async fn get_one(
    _: Scoped<ReadActions>,
    State(state): State<Services>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(svc::get_action(&state, &id).await?))
}

pub async fn update(
    _: Scoped<UpdateActions>,
    State(state): State<Services>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(svc::update_action(&state, &id, &body).await?))
}

pub async fn delete(
    _: Scoped<DeleteActions>,
    State(state): State<Services>,
    Path(id): Path<String>,
    q: QueryParams,
) -> Result<StatusCode, ApiError> {
    q.allow(&["force"])?;
    svc::delete_action(&state, &id, q.bool("force")?.unwrap_or(false)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn deploy(
    _: Scoped<CreateActions>,
    State(state): State<Services>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    Ok((StatusCode::ACCEPTED, Json(svc::deploy(&state, &id).await?)))
}

pub async fn versions(
    _: Scoped<ReadActions>,
    State(state): State<Services>,
    Path(id): Path<String>,
    q: QueryParams,
) -> Result<Json<Value>, ApiError> {
    q.allow(&["page", "per_page"])?;
    let (page, per_page, offset) = paging(&q, 50)?;
    let (items, total) = svc::versions(&state, &id, offset, per_page).await?;
    Ok(paged("versions", items, total, page, per_page))
}

pub async fn version(
    _: Scoped<ReadActions>,
    State(state): State<Services>,
    Path((action_id, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(svc::version(&state, &action_id, &id).await?))
}

pub async fn deploy_version(
    _: Scoped<CreateActions>,
    State(state): State<Services>,
    Path((action_id, id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    Ok((StatusCode::ACCEPTED, Json(svc::deploy_version(&state, &action_id, &id).await?)))
}

pub async fn triggers(_: Scoped<ReadActions>) -> Json<Value> {
    Json(svc::triggers_json())
}

pub async fn bindings(
    _: Scoped<ReadActions>,
    State(state): State<Services>,
    Path(trigger): Path<String>,
    q: QueryParams,
) -> Result<Json<Value>, ApiError> {
    q.allow(&["page", "per_page"])?;
    let (page, per_page, offset) = paging(&q, 50)?;
    let all = svc::bindings(&state, &trigger).await?;
    let total = all.len() as u64;
    let items = all.into_iter().skip(offset as usize).take(per_page as usize).collect();
    Ok(paged("bindings", items, total, page, per_page))
}

pub async fn update_bindings(
    _: Scoped<UpdateActions>,
    State(state): State<Services>,
    Path(trigger): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({"bindings": svc::update_bindings(&state, &trigger, &body).await?})))
}

pub async fn execution(
    _: Scoped<ReadActions>,
    State(state): State<Services>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(svc::execution(&state, &id).await?))
}
