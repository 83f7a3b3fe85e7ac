//! `/api/v2/branding` and `/api/v2/tenants/settings`: Auth0's documents for how the hosted
//! pages look (colours, logo) and what the tenant is called, patched field by field; and
//! `/api/v2/branding/templates/universal-login`, Auth0's page template.

use crate::authz::{DeleteBranding, ReadBranding, ReadTenantSettings, Scoped, UpdateBranding, UpdateTenantSettings};
use crate::error::ApiError;
use crate::extract::JsonBody;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use gatehouse_core::validate::Body;
use gatehouse_services::branding::{change_settings, change_tenant, stored};
use gatehouse_services::page_template;
use gatehouse_services::Services;
use serde_json::Value;

pub async fn get_branding(_: Scoped<ReadBranding>, State(state): State<Services>) -> Result<Json<Value>, ApiError> {
    Ok(Json(stored(&state).await?.0.to_json()))
}

pub async fn patch_branding(
    _: Scoped<UpdateBranding>,
    State(state): State<Services>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(change_settings(&state, &body).await?.to_json()))
}

pub async fn get_tenant(_: Scoped<ReadTenantSettings>, State(state): State<Services>) -> Result<Json<Value>, ApiError> {
    Ok(Json(stored(&state).await?.1.to_json()))
}

pub async fn patch_tenant(
    _: Scoped<UpdateTenantSettings>,
    State(state): State<Services>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(change_tenant(&state, &body).await?.to_json()))
}

fn no_template() -> gatehouse_core::Error {
    gatehouse_core::Error::NotFound { code: "inexistent_template", message: "The template does not exist.".into() }
}

pub async fn get_template(_: Scoped<ReadBranding>, State(state): State<Services>) -> Result<Json<Value>, ApiError> {
    let template = page_template::stored(&state).await?.ok_or_else(no_template)?;
    Ok(Json(serde_json::json!({ "body": template })))
}

/// `PUT`: `{"template": "…"}`; 201 when it is the first, 204 when it replaces one.
pub async fn put_template(
    _: Scoped<UpdateBranding>,
    State(state): State<Services>,
    JsonBody(body): JsonBody,
) -> Result<StatusCode, ApiError> {
    let template = Body::new(&body, &["template"])?.required_string("template", 1, page_template::MAX_LENGTH)?;
    let created = page_template::set(&state, &template).await?;
    Ok(if created { StatusCode::CREATED } else { StatusCode::NO_CONTENT })
}

pub async fn delete_template(_: Scoped<DeleteBranding>, State(state): State<Services>) -> Result<StatusCode, ApiError> {
    if !page_template::delete(&state).await? {
        return Err(no_template().into());
    }
    Ok(StatusCode::NO_CONTENT)
}
