//! `GET /api/v2/keys/signing` and `POST /api/v2/keys/signing/rotate`, in Auth0's shapes.
//! Gatehouse's keys are bare RSA keys, not certificates: `cert`/`pkcs7`/`fingerprint`
//! are absent, and each key carries its public `jwk` instead (an addition).

use crate::authz::{ReadSigningKeys, RotateSigningKeys, Scoped};
use crate::error::ApiError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use gatehouse_core::clock::iso8601;
use gatehouse_services::keys::RETIRED_KEY_GRACE_SECS;
use gatehouse_services::Services;
use serde_json::{json, Value};

pub async fn list(_: Scoped<ReadSigningKeys>, State(state): State<Services>) -> Result<Json<Value>, ApiError> {
    let cutoff = iso8601(state.clock.now() - time::Duration::seconds(RETIRED_KEY_GRACE_SECS));
    let keys = state.store.signing_keys(&cutoff).await?;
    // Newest first: the first retired key is the previous one.
    let previous = keys.iter().find(|k| !k.current).map(|k| k.kid.clone());
    let items = keys
        .iter()
        .map(|k| {
            let mut v = json!({
                "kid": k.kid,
                "current": k.current,
                "next": false,
                "previous": previous.as_deref() == Some(k.kid.as_str()),
                "current_since": k.created_at,
                "thumbprint": k.kid,
                "revoked": false,
                "jwk": k.public_jwk,
            });
            if let (Some(until), Value::Object(m)) = (&k.retired_at, &mut v) {
                m.insert("current_until".into(), json!(until));
            }
            v
        })
        .collect();
    Ok(Json(Value::Array(items)))
}

pub async fn rotate(
    _: Scoped<RotateSigningKeys>,
    State(state): State<Services>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let kid = state.keys.rotate(&state.store, state.clock.clone()).await.map_err(ApiError::internal)?;
    Ok((StatusCode::CREATED, Json(json!({"kid": kid}))))
}
