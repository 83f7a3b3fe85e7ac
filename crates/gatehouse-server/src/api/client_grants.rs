use super::{page, paging};
use crate::authz::{CreateClientGrants, DeleteClientGrants, ReadClientGrants, Scoped, UpdateClientGrants};
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use gatehouse_core::client::ClientGrant;
use gatehouse_core::ids::new_client_grant_id;
use gatehouse_core::validate::{Body, Patch};
use gatehouse_core::Error;
use gatehouse_services::authorization::check_client_grant;
use gatehouse_services::Services;
use serde_json::{json, Value};

fn not_found() -> ApiError {
    ApiError::NotFound { code: "inexistent_client_grant", message: "The client grant does not exist".into() }
}

/// Client grants are few (one per client and API), so a page is cut from all of them:
/// by `page`/`per_page`, or by checkpoint (`from` a grant id, `take`).
pub async fn list(
    _: Scoped<ReadClientGrants>,
    State(state): State<Services>,
    q: QueryParams,
) -> Result<Json<Value>, ApiError> {
    q.allow(&["client_id", "audience", "per_page", "page", "include_totals", "from", "take"])?;
    let grants = state.store.client_grants(q.str("client_id"), q.str("audience")).await?;
    let items: Vec<Value> = grants.iter().map(ClientGrant::to_auth0_json).collect();
    if q.str("from").is_some() || q.str("take").is_some() {
        let take = q.u32_in("take", 1, 100)?.unwrap_or(50) as usize;
        let start = match q.str("from").filter(|f| !f.is_empty()) {
            Some(from) => grants.iter().position(|g| g.id == from).map_or(grants.len(), |i| i + 1),
            None => 0,
        };
        let page: Vec<Value> = items.into_iter().skip(start).take(take).collect();
        let mut body = json!({ "client_grants": page });
        if start + take < grants.len() {
            body["next"] = json!(grants[start + take - 1].id);
        }
        return Ok(Json(body));
    }
    let (page_no, per_page, offset) = paging(&q, 50)?;
    let total = items.len() as u64;
    let page_items = items.into_iter().skip(offset as usize).take(per_page as usize).collect();
    Ok(Json(page("client_grants", page_items, page_no, per_page, total, q.bool("include_totals")?.unwrap_or(false))))
}

pub async fn create(
    _: Scoped<CreateClientGrants>,
    State(state): State<Services>,
    JsonBody(body): JsonBody,
) -> Result<impl IntoResponse, ApiError> {
    let b = Body::new(&body, &["client_id", "audience", "scope"])?;
    let client_id = b.required_string("client_id", 1, 128)?;
    let audience = b.required_string("audience", 1, 600)?;
    let Patch::Set(scope) = b.string_array("scope", 200)? else {
        return Err(ApiError::body("Payload validation error: 'Missing required property: scope'."));
    };
    check_client_grant(&state, &audience, &scope).await?;
    if state.store.client(&client_id).await?.is_none() {
        return Err(Error::client_not_found().into());
    }
    if state.store.client_grant(&client_id, &audience).await?.is_some() {
        return Err(ApiError::Conflict {
            code: "conflict",
            message: "A client grant for this client and audience already exists.".into(),
        });
    }
    let grant = ClientGrant { id: new_client_grant_id(), client_id, audience, scope };
    let grant = state.store.upsert_client_grant(&grant, &state.now()).await?;
    Ok((StatusCode::CREATED, Json(grant.to_auth0_json())))
}

pub async fn update(
    _: Scoped<UpdateClientGrants>,
    State(state): State<Services>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    let b = Body::new(&body, &["scope"])?;
    let mut grant = state.store.client_grant_by_id(&id).await?.ok_or_else(not_found)?;
    if let Patch::Set(scope) = b.string_array("scope", 200)? {
        check_client_grant(&state, &grant.audience, &scope).await?;
        grant.scope = scope;
    }
    let grant = state.store.upsert_client_grant(&grant, &state.now()).await?;
    Ok(Json(grant.to_auth0_json()))
}

pub async fn delete(
    _: Scoped<DeleteClientGrants>,
    State(state): State<Services>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state.store.delete_client_grant(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found())
    }
}
