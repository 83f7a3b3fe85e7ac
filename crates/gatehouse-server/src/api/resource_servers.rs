//! `/api/v2/resource-servers`: the APIs Gatehouse issues access tokens for.

use super::{page, paging};
use crate::authz::{CreateResourceServers, DeleteResourceServers, ReadResourceServers, Scoped, UpdateResourceServers};
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use gatehouse_core::authorization::ResourceServer;
use gatehouse_services::authorization as authz;
use gatehouse_services::Services;
use serde_json::Value;

pub async fn list(
    _: Scoped<ReadResourceServers>,
    State(state): State<Services>,
    q: QueryParams,
) -> Result<Json<Value>, ApiError> {
    q.allow(&["per_page", "page", "include_totals"])?;
    let (page_no, per_page, offset) = paging(&q, 50)?;
    let (apis, total) = state.store.resource_servers(offset, per_page).await?;
    let items = apis.iter().map(ResourceServer::to_auth0_json).collect();
    let include_totals = q.bool("include_totals")?.unwrap_or(false);
    Ok(Json(page("resource_servers", items, page_no, per_page, total, include_totals)))
}

pub async fn create(
    _: Scoped<CreateResourceServers>,
    State(state): State<Services>,
    JsonBody(body): JsonBody,
) -> Result<impl IntoResponse, ApiError> {
    let api = authz::create_api(&state, &body).await?;
    Ok((StatusCode::CREATED, Json(api.to_auth0_json())))
}

/// `{id}` is the API's id or its identifier.
pub async fn get_one(
    _: Scoped<ReadResourceServers>,
    State(state): State<Services>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(authz::api(&state, &id).await?.to_auth0_json()))
}

pub async fn update(
    _: Scoped<UpdateResourceServers>,
    State(state): State<Services>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(authz::update_api(&state, &id, &body).await?.to_auth0_json()))
}

pub async fn delete(
    _: Scoped<DeleteResourceServers>,
    State(state): State<Services>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    authz::delete_api(&state, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
