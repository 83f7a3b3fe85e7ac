//! `/api/v2/roles` with their permissions and members, and a user's roles and
//! permissions (`/api/v2/users/{id}/roles`, `/api/v2/users/{id}/permissions`).

use super::{checkpoint, page, paging};
use crate::authz::{
    AssignUserRoles, CreateRoleMembers, CreateRoles, DeleteRoles, ReadRoleMembers, ReadRoles, ReadUserPermissions,
    ReadUserRoles, RemoveUserRoles, Scoped, UpdateRoles, UpdateUserPermissions,
};
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use gatehouse_core::authorization::Role;
use gatehouse_services::authorization as authz;
use gatehouse_services::Services;
use serde_json::{json, Value};

const PAGED: &[&str] = &["per_page", "page", "include_totals"];

/// A page of `items` (of `total`) under `key`, as the query asked for it.
fn paged(q: &QueryParams, key: &str, items: Vec<Value>, total: u64) -> Result<Json<Value>, ApiError> {
    let (page_no, per_page, _) = paging(q, 50)?;
    Ok(Json(page(key, items, page_no, per_page, total, q.bool("include_totals")?.unwrap_or(false))))
}

fn roles_json(roles: &[Role]) -> Vec<Value> {
    roles.iter().map(Role::to_auth0_json).collect()
}

pub async fn list(
    _: Scoped<ReadRoles>,
    State(state): State<Services>,
    q: QueryParams,
) -> Result<Json<Value>, ApiError> {
    q.allow(&["per_page", "page", "include_totals", "name_filter", "type"])?;
    let (_, per_page, offset) = paging(&q, 50)?;
    // Every role here is a tenant role: Gatehouse has no organizations.
    match q.str("type") {
        None | Some("tenant") => {}
        Some("organization") => return paged(&q, "roles", Vec::new(), 0),
        Some(other) => {
            return Err(ApiError::query(format!(
                "Query validation error: 'type' must be one of tenant, organization, not {other:?}."
            )))
        }
    }
    let (roles, total) = state.store.roles(q.str("name_filter").filter(|f| !f.is_empty()), offset, per_page).await?;
    paged(&q, "roles", roles_json(&roles), total)
}

pub async fn create(
    _: Scoped<CreateRoles>,
    State(state): State<Services>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(authz::create_role(&state, &body).await?.to_auth0_json()))
}

pub async fn get_one(
    _: Scoped<ReadRoles>,
    State(state): State<Services>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(authz::role(&state, &id).await?.to_auth0_json()))
}

pub async fn update(
    _: Scoped<UpdateRoles>,
    State(state): State<Services>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(authz::update_role(&state, &id, &body).await?.to_auth0_json()))
}

pub async fn delete(
    _: Scoped<DeleteRoles>,
    State(state): State<Services>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    authz::delete_role(&state, &id).await?;
    Ok(StatusCode::OK)
}

pub async fn permissions(
    _: Scoped<ReadRoles>,
    State(state): State<Services>,
    Path(id): Path<String>,
    q: QueryParams,
) -> Result<Json<Value>, ApiError> {
    q.allow(PAGED)?;
    let (_, per_page, offset) = paging(&q, 50)?;
    let (items, total) = authz::role_permissions(&state, &id, offset, per_page).await?;
    paged(&q, "permissions", items, total)
}

pub async fn add_permissions(
    _: Scoped<UpdateRoles>,
    State(state): State<Services>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<StatusCode, ApiError> {
    authz::add_role_permissions(&state, &id, &body).await?;
    Ok(StatusCode::CREATED)
}

pub async fn remove_permissions(
    _: Scoped<UpdateRoles>,
    State(state): State<Services>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<StatusCode, ApiError> {
    authz::remove_role_permissions(&state, &id, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A role's members: by page, or by checkpoint (`from`/`take`) as Auth0 pages them.
pub async fn members(
    _: Scoped<ReadRoleMembers>,
    State(state): State<Services>,
    Path(id): Path<String>,
    q: QueryParams,
) -> Result<Json<Value>, ApiError> {
    q.allow(&["per_page", "page", "include_totals", "from", "take"])?;
    if let Some((from, take)) = checkpoint(&q)? {
        let (users, _) = authz::role_members(&state, &id, from, 0, take + 1).await?;
        let more = users.len() > take as usize;
        let users: Vec<Value> = users.into_iter().take(take as usize).collect();
        let mut body = json!({"users": users});
        if let (true, Some(last)) = (more, users.last()) {
            body["next"] = last["user_id"].clone();
        }
        return Ok(Json(body));
    }
    let (_, per_page, offset) = paging(&q, 50)?;
    let (users, total) = authz::role_members(&state, &id, None, offset, per_page).await?;
    paged(&q, "users", users, total)
}

/// Gives the role to many users at once (`{"users": [...]}`).
pub async fn add_members(
    _: Scoped<CreateRoleMembers>,
    State(state): State<Services>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<StatusCode, ApiError> {
    authz::add_role_members(&state, &id, &body).await?;
    Ok(StatusCode::OK)
}

pub async fn user_roles(
    _: Scoped<ReadUserRoles>,
    State(state): State<Services>,
    Path(user_id): Path<String>,
    q: QueryParams,
) -> Result<Json<Value>, ApiError> {
    q.allow(PAGED)?;
    let (_, per_page, offset) = paging(&q, 50)?;
    let (roles, total) = authz::user_roles(&state, &user_id, offset, per_page).await?;
    paged(&q, "roles", roles_json(&roles), total)
}

pub async fn assign_user_roles(
    _: Scoped<AssignUserRoles>,
    State(state): State<Services>,
    Path(user_id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<StatusCode, ApiError> {
    authz::add_user_roles(&state, &user_id, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn remove_user_roles(
    _: Scoped<RemoveUserRoles>,
    State(state): State<Services>,
    Path(user_id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<StatusCode, ApiError> {
    authz::remove_user_roles(&state, &user_id, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Everything the user holds, directly and through roles, each with its `sources`.
pub async fn user_permissions(
    _: Scoped<ReadUserPermissions>,
    State(state): State<Services>,
    Path(user_id): Path<String>,
    q: QueryParams,
) -> Result<Json<Value>, ApiError> {
    q.allow(PAGED)?;
    let (_, per_page, offset) = paging(&q, 50)?;
    let (items, total) = authz::user_permissions(&state, &user_id, offset, per_page).await?;
    paged(&q, "permissions", items, total)
}

/// What the user holds for one API, however held (Auth0's effective permissions), by
/// checkpoint: `next` is the `from` of the following page.
pub async fn effective_permissions(
    _: Scoped<ReadUserPermissions>,
    State(state): State<Services>,
    Path(user_id): Path<String>,
    q: QueryParams,
) -> Result<Json<Value>, ApiError> {
    q.allow(&["resource_server_identifier", "from", "take"])?;
    let Some(api) = q.str("resource_server_identifier").filter(|a| !a.is_empty()) else {
        return Err(ApiError::query(
            "Query validation error: 'Missing required property: resource_server_identifier'.",
        ));
    };
    let take = q.u32_in("take", 1, 100)?.unwrap_or(50) as usize;
    let after = q.str("from").filter(|f| !f.is_empty());
    let (permissions, more) = authz::effective_permissions(&state, &user_id, api, after, take).await?;
    let mut body = json!({ "permissions": permissions });
    if let (true, Some(last)) = (more, permissions.last()) {
        body["next"] = last["permission_name"].clone();
    }
    Ok(Json(body))
}

pub async fn add_user_permissions(
    _: Scoped<UpdateUserPermissions>,
    State(state): State<Services>,
    Path(user_id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<StatusCode, ApiError> {
    authz::add_user_permissions(&state, &user_id, &body).await?;
    Ok(StatusCode::CREATED)
}

pub async fn remove_user_permissions(
    _: Scoped<UpdateUserPermissions>,
    State(state): State<Services>,
    Path(user_id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<StatusCode, ApiError> {
    authz::remove_user_permissions(&state, &user_id, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}
