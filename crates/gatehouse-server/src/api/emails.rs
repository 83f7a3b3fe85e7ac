//! `/api/v2/email-templates` and `/api/v2/emails/provider`: the tenant's email templates
//! and SMTP provider in Auth0's shapes (what Auth0's Deploy CLI reads and writes).

use crate::authz::{
    CreateEmailProvider, CreateEmailTemplates, DeleteEmailProvider, ReadEmailProvider, ReadEmailTemplates, Scoped,
    UpdateEmailProvider, UpdateEmailTemplates,
};
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use gatehouse_core::user::select_fields;
use gatehouse_services::email_settings as settings;
use gatehouse_services::Services;
use serde_json::Value;

pub async fn get_template(
    _: Scoped<ReadEmailTemplates>,
    State(state): State<Services>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(settings::get_template(&state, &name).await?.to_json()))
}

pub async fn create_template(
    _: Scoped<CreateEmailTemplates>,
    State(state): State<Services>,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    Ok((StatusCode::CREATED, Json(settings::create_template(&state, &body).await?.to_json())))
}

pub async fn put_template(
    _: Scoped<UpdateEmailTemplates>,
    State(state): State<Services>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(settings::put_template(&state, &name, &body).await?.to_json()))
}

pub async fn patch_template(
    _: Scoped<UpdateEmailTemplates>,
    State(state): State<Services>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(settings::patch_template(&state, &name, &body).await?.to_json()))
}

const PROVIDER_FIELDS: &[&str] = &["name", "enabled", "default_from_address", "credentials", "settings"];

pub async fn get_provider(
    _: Scoped<ReadEmailProvider>,
    State(state): State<Services>,
    q: QueryParams,
) -> Result<Json<Value>, ApiError> {
    q.allow(&["fields", "include_fields"])?;
    let (fields, include) = q.fields(PROVIDER_FIELDS)?;
    Ok(Json(select_fields(settings::get_provider(&state).await?.to_json(), fields.as_deref(), include)))
}

pub async fn create_provider(
    _: Scoped<CreateEmailProvider>,
    State(state): State<Services>,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    Ok((StatusCode::CREATED, Json(settings::create_provider(&state, &body).await?.to_json())))
}

pub async fn patch_provider(
    _: Scoped<UpdateEmailProvider>,
    State(state): State<Services>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(settings::patch_provider(&state, &body).await?.to_json()))
}

pub async fn delete_provider(
    _: Scoped<DeleteEmailProvider>,
    State(state): State<Services>,
) -> Result<StatusCode, ApiError> {
    settings::delete_provider(&state).await?;
    Ok(StatusCode::NO_CONTENT)
}
