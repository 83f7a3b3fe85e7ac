use super::{page, paging};
use crate::authz::{CreateUsers, DeleteUsers, ReadUsers, Scoped, UpdateUsers};
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use gatehouse_core::identity::{profile_with_identities, Identity};
use gatehouse_core::user::{select_fields, User, USER_FIELDS};
use gatehouse_core::validate::Email;
use gatehouse_core::Error;
use gatehouse_services::users;
use gatehouse_services::Services;
use gatehouse_store::UserQuery;
use serde_json::Value;

/// Auth0 lets a search page through the first 1000 results only.
const SEARCH_WINDOW: u32 = 1000;

fn render(user: &User, linked: &[Identity], q: &QueryParams) -> Result<Value, ApiError> {
    let (fields, include) = q.fields(USER_FIELDS)?;
    Ok(select_fields(profile_with_identities(user, linked), fields.as_deref(), include))
}

/// Each user's profile with its linked identities (one query for the whole page).
async fn render_all(state: &Services, users: &[User], q: &QueryParams) -> Result<Vec<Value>, ApiError> {
    let ids: Vec<&str> = users.iter().map(|u| u.user_id.as_str()).collect();
    let linked = state.store.linked_identities_of(&ids).await?;
    users.iter().map(|u| render(u, linked.get(&u.user_id).map_or(&[][..], Vec::as_slice), q)).collect()
}

pub async fn list(
    _: Scoped<ReadUsers>,
    State(state): State<Services>,
    q: QueryParams,
) -> Result<Json<Value>, ApiError> {
    q.allow(&[
        "page",
        "per_page",
        "include_totals",
        "sort",
        "connection",
        "fields",
        "include_fields",
        "q",
        "search_engine",
        "primary_order",
    ])?;
    if let Some(engine) = q.str("search_engine") {
        if engine != "v3" {
            return Err(ApiError::query(format!("You are not allowed to use search_engine={engine}.")));
        }
    }
    let (page_no, per_page, offset) = paging(&q, 50)?;
    if offset.saturating_add(per_page) > SEARCH_WINDOW {
        return Err(ApiError::query(
            "You can only page through the first 1000 records. See https://auth0.com/docs/users/search/v3/view-search-results-by-page#limitation",
        ));
    }
    let query = UserQuery {
        q: q.str("q").map(str::to_string),
        connection: q.str("connection").map(str::to_string),
        sort: q.str("sort").map(str::to_string),
        offset,
        limit: per_page,
    };
    let (users, total) = state.store.search_users(&query).await?;
    let items = render_all(&state, &users, &q).await?;
    let include_totals = q.bool("include_totals")?.unwrap_or(false);
    Ok(Json(page("users", items, page_no, per_page, total.min(u64::from(SEARCH_WINDOW)), include_totals)))
}

pub async fn get_one(
    _: Scoped<ReadUsers>,
    State(state): State<Services>,
    Path(id): Path<String>,
    q: QueryParams,
) -> Result<Json<Value>, ApiError> {
    q.allow(&["fields", "include_fields"])?;
    let user = state.store.user(&id).await?.ok_or_else(Error::user_not_found)?;
    let linked = state.store.linked_identities(&id).await?;
    Ok(Json(render(&user, &linked, &q)?))
}

pub async fn by_email(
    _: Scoped<ReadUsers>,
    State(state): State<Services>,
    q: QueryParams,
) -> Result<Json<Value>, ApiError> {
    q.allow(&["email", "fields", "include_fields"])?;
    let raw =
        q.str("email").ok_or_else(|| ApiError::query("Query validation error: 'Missing required property: email'."))?;
    let email =
        Email::parse(raw).map_err(|r| ApiError::query(format!("Query validation error: '{r}' on property email.")))?;
    let users = state.store.users_by_email(email.as_str()).await?;
    let items = render_all(&state, &users, &q).await?;
    Ok(Json(Value::Array(items)))
}

pub async fn create(
    _: Scoped<CreateUsers>,
    State(state): State<Services>,
    JsonBody(body): JsonBody,
) -> Result<impl IntoResponse, ApiError> {
    let user = users::create_user(&state, &body).await?;
    Ok((StatusCode::CREATED, Json(user.to_auth0_json())))
}

pub async fn update(
    scoped: Scoped<UpdateUsers>,
    State(state): State<Services>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    // `update:users_app_metadata` alone may change app_metadata and nothing else.
    if !scoped.also_has("update:users") {
        let only_app_metadata = body.as_object().is_some_and(|m| m.keys().all(|k| k == "app_metadata"));
        if !only_app_metadata {
            return Err(ApiError::InsufficientScope("update:users".into()));
        }
    }
    let updated = users::update_user(&state, &id, &body).await?;
    let linked = state.store.linked_identities(&id).await?;
    Ok(Json(profile_with_identities(&updated, &linked)))
}

pub async fn delete(
    _: Scoped<DeleteUsers>,
    State(state): State<Services>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    // Auth0 answers 204 whether or not the user existed.
    users::delete_user(&state, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
