//! Account linking: `POST /api/v2/users/{id}/identities` and
//! `DELETE /api/v2/users/{id}/identities/{provider}/{user_id}`, both answering with the
//! primary user's `identities[]` as Auth0 does.

use crate::authz::{LinkUsers, Scoped};
use crate::error::ApiError;
use crate::extract::JsonBody;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use gatehouse_core::identity::{check_link, identities_json, link_request, Identity, LinkRequest};
use gatehouse_core::Error;
use gatehouse_services::Services;
use gatehouse_store::StoreError;
use serde::Deserialize;
use serde_json::Value;

/// The claims of a `link_with` ID token that matter here.
#[derive(Deserialize)]
struct LinkWithClaims {
    sub: String,
}

pub async fn link(
    s: Scoped<LinkUsers>,
    State(state): State<Services>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let request = link_request(&body)?;
    let primary = state.store.user(&id).await?.ok_or_else(Error::user_not_found)?;
    let (secondary_id, connection_id) = match request {
        LinkRequest::Account { user_id, connection_id } => (user_id, connection_id),
        LinkRequest::Token(token) => {
            // An ID token Gatehouse issued to the calling application.
            let audience = s.claims.azp.clone().unwrap_or_default();
            let claims: LinkWithClaims =
                state.keys.verify(&token, &state.config.issuer, &audience).ok_or_else(|| {
                    ApiError::body(
                        "Payload validation error: 'link_with is not a valid ID token' on property link_with.",
                    )
                })?;
            (claims.sub, None)
        }
    };
    let secondary = state
        .store
        .user(&secondary_id)
        .await?
        .ok_or_else(|| ApiError::body("The user to link (the secondary account) does not exist."))?;
    if connection_id.as_ref().is_some_and(|c| c != &secondary.connection_id) {
        return Err(ApiError::body("The secondary account does not belong to connection_id."));
    }
    check_link(&primary, &secondary)?;
    let identity = Identity::from_user(&secondary, &state.now());
    state.store.link_identity(&primary.user_id, &identity, Some(&secondary.user_id)).await.map_err(|e| match e {
        StoreError::NotFound => Error::user_not_found().into(),
        StoreError::Conflict(_) => {
            ApiError::Conflict { code: "identity_conflict", message: "The identity is already linked.".into() }
        }
        other => ApiError::from(other),
    })?;
    let linked = state.store.linked_identities(&primary.user_id).await?;
    Ok((StatusCode::CREATED, Json(identities_json(&primary, &linked))))
}

pub async fn unlink(
    _: Scoped<LinkUsers>,
    State(state): State<Services>,
    Path((id, provider, user_id)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let primary = state.store.user(&id).await?.ok_or_else(Error::user_not_found)?;
    if primary.provider == provider && primary.local_id() == user_id {
        return Err(ApiError::body("Main identity cannot be removed."));
    }
    let now = state.now();
    state.store.unlink_identity(&id, &provider, &user_id, |i| i.to_user(&now)).await.map_err(|e| match e {
        StoreError::NotFound => {
            ApiError::NotFound { code: "inexistent_identity", message: "The user has no such linked identity.".into() }
        }
        // The identity's old user id was taken in the meantime.
        StoreError::Conflict(_) => {
            ApiError::Conflict { code: "auth0_idp_error", message: "The user already exists.".into() }
        }
        other => ApiError::from(other),
    })?;
    let linked = state.store.linked_identities(&id).await?;
    Ok(Json(identities_json(&primary, &linked)))
}
