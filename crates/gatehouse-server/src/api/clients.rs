use super::{page, paging};
use crate::authz::{CreateClients, DeleteClients, ReadClients, Scoped, UpdateClientKeys, UpdateClients};
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use gatehouse_core::client::{Client, CONSOLE_CLIENT_ID};
use gatehouse_core::user::select_fields;
use gatehouse_core::Error;
use gatehouse_services::clients;
use gatehouse_services::Services;
use serde_json::{json, Value};

const FIELDS: &[&str] = &[
    "client_id",
    "name",
    "description",
    "app_type",
    "is_first_party",
    "global",
    "grant_types",
    "callbacks",
    "allowed_logout_urls",
    "web_origins",
    "allowed_origins",
    "token_endpoint_auth_method",
    "client_metadata",
];

/// The client JSON with its freshly issued secret: the only time the secret is shown,
/// since only its hash is stored.
fn with_secret(c: &Client, secret: Option<&str>) -> Value {
    let mut v = c.to_auth0_json();
    if let (Some(secret), Value::Object(m)) = (secret, &mut v) {
        m.insert("client_secret".into(), json!(secret));
    }
    v
}

pub async fn list(
    _: Scoped<ReadClients>,
    State(state): State<Services>,
    q: QueryParams,
) -> Result<Json<Value>, ApiError> {
    q.allow(&[
        "per_page",
        "page",
        "include_totals",
        "fields",
        "include_fields",
        "is_global",
        "is_first_party",
        "app_type",
    ])?;
    let (fields, include) = q.fields(FIELDS)?;
    let (page_no, per_page, offset) = paging(&q, 50)?;
    // Gatehouse's own client (the console's) is Auth0's global client: `is_global=false`
    // leaves it out, as tools listing a tenant's applications ask.
    let except = match q.bool("is_global")? {
        Some(false) => Some(CONSOLE_CLIENT_ID),
        _ => None,
    };
    let (mut list, mut total) = state.store.clients(except, offset, per_page).await?;
    if q.bool("is_global")? == Some(true) {
        list.retain(Client::is_global);
        total = list.len() as u64;
    }
    let items = list.iter().map(|c| select_fields(c.to_auth0_json(), fields.as_deref(), include)).collect();
    Ok(Json(page("clients", items, page_no, per_page, total, q.bool("include_totals")?.unwrap_or(false))))
}

pub async fn get_one(
    _: Scoped<ReadClients>,
    State(state): State<Services>,
    Path(id): Path<String>,
    q: QueryParams,
) -> Result<Json<Value>, ApiError> {
    q.allow(&["fields", "include_fields"])?;
    let (fields, include) = q.fields(FIELDS)?;
    let c = state.store.client(&id).await?.ok_or_else(Error::client_not_found)?;
    Ok(Json(select_fields(c.to_auth0_json(), fields.as_deref(), include)))
}

/// `POST /api/v2/clients`. Beside Auth0's fields it takes `enabled_connections`, the
/// names of connections to enable the new application on (added to each one's
/// `enabled_clients`), answered back as given; every name must exist, or nothing is made.
pub async fn create(
    _: Scoped<CreateClients>,
    State(state): State<Services>,
    JsonBody(body): JsonBody,
) -> Result<impl IntoResponse, ApiError> {
    let (c, secret, names) = clients::create_client(&state, &body).await?;
    let mut shown = with_secret(&c, secret.as_deref());
    if let (false, Value::Object(m)) = (names.is_empty(), &mut shown) {
        m.insert("enabled_connections".into(), json!(names));
    }
    Ok((StatusCode::CREATED, Json(shown)))
}

pub async fn update(
    _: Scoped<UpdateClients>,
    State(state): State<Services>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    let (c, secret) = clients::update_client(&state, &id, &body).await?;
    Ok(Json(with_secret(&c, secret.as_deref())))
}

pub async fn rotate_secret(
    _: Scoped<UpdateClientKeys>,
    State(state): State<Services>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (c, secret) = clients::rotate_secret(&state, &id).await?;
    Ok(Json(with_secret(&c, Some(&secret))))
}

pub async fn delete(
    _: Scoped<DeleteClients>,
    State(state): State<Services>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state.store.delete_client(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Error::client_not_found().into())
    }
}
