use super::{page, paging};
use crate::authz::{CreateUsers, DeleteUsers, ReadUsers, Scoped, UpdateUsers};
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use gatehouse_core::identity::{profile_with_identities, Identity};
use gatehouse_core::ids::new_user_local_id;
use gatehouse_core::user::{new_user, select_fields, user_patch, User, USER_FIELDS};
use gatehouse_core::validate::Email;
use gatehouse_core::Error;
use gatehouse_services::session_end::{end_sessions_of_user, sign_out_everywhere, Initiator};
use gatehouse_services::signup::{check_new_password, send_verification_email, PasswordError, Setter};
use gatehouse_services::Services;
use gatehouse_store::UserQuery;
use serde_json::Value;

fn password_error(e: PasswordError) -> ApiError {
    match e {
        PasswordError::Rejected(r) => Error::WeakPassword(r).into(),
        PasswordError::Internal(m) => ApiError::Internal(m),
        PasswordError::Legacy(e) => e.into(),
    }
}

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
    let connection_name = match body.get("connection") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(_) => {
            return Err(ApiError::body("Payload validation error: 'Expected type string' on property connection."))
        }
        None => return Err(ApiError::body("Payload validation error: 'Missing required property: connection'.")),
    };
    let connection = state
        .store
        .connection_by_name(&connection_name)
        .await?
        .ok_or_else(|| ApiError::body("Connection does not exist."))?;
    let created = new_user(&body, &connection, new_user_local_id(), &state.now())?;
    if let Some(legacy) = gatehouse_services::legacy::store_for(&state, &connection)? {
        let login = created.user.email.clone().or(created.user.username.clone()).unwrap_or_default();
        if legacy.import_mode() {
            // A user still waiting in the legacy store must not get a duplicate here.
            if legacy.get_user(&login).await?.is_some() {
                return Err(Error::user_exists().into());
            }
        } else {
            // Delegated: the legacy store creates the user; Gatehouse copies the profile.
            let password = created
                .password
                .as_deref()
                .ok_or_else(|| ApiError::body("Payload validation error: 'Missing required property: password'."))?;
            let user = gatehouse_services::legacy::delegated_create(
                &state,
                &connection,
                &legacy,
                &login,
                created.user.username.as_deref(),
                password,
            )
            .await?;
            return Ok((StatusCode::CREATED, Json(user.to_auth0_json())));
        }
    }
    let mut user = created.user;
    if let Some(password) = created.password {
        check_new_password(&state, &connection, &password, &user, false, Setter::Admin)
            .await
            .map_err(password_error)?;
        user.password_hash = Some(state.hashing.hash(password).await.map_err(ApiError::internal)?);
    }
    state.store.insert_arrived_user(&user, gatehouse_store::Arrival::Api, &user.created_at).await?;
    if let Some(hash) = &user.password_hash {
        state.store.record_password(&user.user_id, hash, &user.created_at).await?;
    }
    // Auth0 emails a new unverified user unless `verify_email` is false.
    let verify = body.get("verify_email").and_then(Value::as_bool).unwrap_or(!user.email_verified);
    if verify && !user.email_verified {
        send_verification_email(&state, &user, None, true).await?;
    }
    Ok((StatusCode::CREATED, Json(user.to_auth0_json())))
}

pub async fn update(
    scoped: Scoped<UpdateUsers>,
    State(state): State<Services>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    let existing = state.store.user(&id).await?.ok_or_else(Error::user_not_found)?;
    let connection = state.store.connection(&existing.connection_id).await?.ok_or_else(Error::connection_not_found)?;
    let patch = user_patch(&body, &connection)?;
    // `update:users_app_metadata` alone may change app_metadata and nothing else.
    if !scoped.also_has("update:users") {
        let only_app_metadata = body.as_object().is_some_and(|m| m.keys().all(|k| k == "app_metadata"));
        if !only_app_metadata {
            return Err(ApiError::InsufficientScope("update:users".into()));
        }
    }
    let mut patch = patch;
    let delegated = gatehouse_services::legacy::store_for(&state, &connection)?.filter(|l| !l.import_mode());
    if let Some(p) = &patch.password {
        check_new_password(&state, &connection, p, &existing, true, Setter::Admin).await.map_err(password_error)?;
    }
    let password_changed = patch.password.is_some();
    let new_hash = match (patch.password.take(), &delegated) {
        // Delegated: the password lives in the legacy store only.
        (Some(p), Some(legacy)) => {
            if !gatehouse_services::legacy::delegated_change_password(&state, legacy, &existing, &p).await? {
                return Err(Error::user_not_found().into());
            }
            None
        }
        (Some(p), None) => Some(state.hashing.hash(p).await.map_err(ApiError::internal)?),
        (None, _) => None,
    };
    if let (Some(legacy), Some(Value::Bool(true))) = (&delegated, body.get("email_verified")) {
        if let Some(email) = &existing.email {
            legacy.verify(email).await?;
        }
    }
    let recorded = new_hash.clone();
    let now = state.now();
    let updated = state
        .store
        .modify_user(&id, |user| {
            patch.apply(user, &now);
            if let Some(hash) = new_hash {
                user.password_hash = Some(hash);
                user.last_password_reset = Some(now.clone());
            }
            Ok::<_, ApiError>(())
        })
        .await
        .map_err(|e| match e {
            gatehouse_store::StoreError::NotFound => Error::user_not_found().into(),
            other => ApiError::from(other),
        })??;
    if let Some(hash) = recorded {
        state.store.record_password(&updated.user_id, &hash, &updated.updated_at).await?;
    }
    if password_changed {
        sign_out_everywhere(&state, &updated.user_id, Initiator::PasswordChanged).await?;
        // A new password lifts brute-force blocks, as in Auth0.
        let identifiers = gatehouse_services::attack::login_identifiers(&updated);
        gatehouse_services::attack::release_blocks(&state, &identifiers, Some(&updated.user_id), Some(&connection))
            .await?;
    }
    let linked = state.store.linked_identities(&id).await?;
    Ok(Json(profile_with_identities(&updated, &linked)))
}

pub async fn delete(
    _: Scoped<DeleteUsers>,
    State(state): State<Services>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    // Delegated: the legacy store deletes the user first (by its own id).
    if let Some(user) = state.store.user(&id).await? {
        if let Some(connection) = state.store.connection(&user.connection_id).await? {
            if let Some(legacy) =
                gatehouse_services::legacy::store_for(&state, &connection)?.filter(|l| !l.import_mode())
            {
                legacy.delete(user.local_id()).await?;
            }
        }
    }
    // Its sessions end first, so that their applications hear of it.
    end_sessions_of_user(&state, &id, Initiator::AccountDeleted).await?;
    // Auth0 answers 204 whether or not the user existed.
    state.store.delete_user(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
