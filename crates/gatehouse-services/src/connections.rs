//! Changing a connection, as an administrator does it (the Management API's `PATCH` and
//! the admin console): Auth0's patch rules, legacy-store secrets sent back masked keeping
//! their stored values, the legacy store's options validated, and a database with users
//! keeping its `enabledDatabaseCustomization`.

use crate::Services;
use gatehouse_core::connection::{patch_connection, Connection};
use gatehouse_core::Error;
use gatehouse_store::StoreError;
use serde_json::Value;

/// Why a change to a connection was refused, or failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionChangeError {
    #[error(transparent)]
    Refused(#[from] Error),
    /// The legacy store's options are unusable.
    #[error(transparent)]
    Options(#[from] gatehouse_legacy::ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Applies Auth0's `PATCH /api/v2/connections/{id}` body to connection `id`.
pub async fn update_connection(state: &Services, id: &str, body: &Value) -> Result<Connection, ConnectionChangeError> {
    let mut c = state.store.connection(id).await?.ok_or_else(Error::connection_not_found)?;
    let customization_before = c.options.get("enabledDatabaseCustomization").cloned();
    let options_before = c.options.clone();
    patch_connection(body, &mut c, &state.now())?;
    // Secrets sent back masked keep their stored values.
    gatehouse_legacy::restore_masked(&mut c.options, &options_before)?;
    gatehouse_legacy::validate_options(&c.options)?;
    if c.options.get("enabledDatabaseCustomization") != customization_before.as_ref()
        && state.store.count_users_in_connection(&c.id).await? > 0
    {
        return Err(Error::body(
            "This database contains users. You cannot change \"options.enabledDatabaseCustomization\" setting.",
        )
        .into());
    }
    state.store.update_connection(&c).await?;
    Ok(c)
}

/// Auth0 takes at most this many changes in one `PATCH /connections/{id}/clients`.
const MAX_CLIENT_CHANGES: usize = 50;

/// Applies Auth0's `PATCH /api/v2/connections/{id}/clients` body, a list of
/// `{"client_id", "status"}`: `true` enables the application on the connection, `false`
/// disables it. Every entry is checked before any is applied, so a bad one changes nothing.
pub async fn change_enabled_clients(
    state: &Services,
    id: &str,
    body: &Value,
) -> Result<Connection, ConnectionChangeError> {
    let mut c = state.store.connection(id).await?.ok_or_else(Error::connection_not_found)?;
    let changes = body.as_array().ok_or_else(|| Error::body("The body must be a list of {client_id, status}."))?;
    if changes.len() > MAX_CLIENT_CHANGES {
        return Err(Error::body(format!("At most {MAX_CLIENT_CHANGES} changes fit in one request.")).into());
    }
    let mut parsed = Vec::with_capacity(changes.len());
    for (i, change) in changes.iter().enumerate() {
        let field = |name: &str| format!("[{i}].{name}");
        let client_id = change
            .get("client_id")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::invalid_field(field("client_id"), "must be a string"))?;
        let status = change
            .get("status")
            .and_then(Value::as_bool)
            .ok_or_else(|| Error::invalid_field(field("status"), "must be a boolean"))?;
        if let Some(other) = change.as_object().and_then(|o| o.keys().find(|k| *k != "client_id" && *k != "status")) {
            return Err(Error::invalid_field(field(other), "is not a known property").into());
        }
        if status && state.store.client(client_id).await?.is_none() {
            return Err(
                Error::invalid_field(field("client_id"), format!("no application has the id {client_id:?}")).into()
            );
        }
        parsed.push((client_id, status));
    }
    for (client_id, status) in parsed {
        c.enabled_clients.retain(|existing| existing != client_id);
        if status {
            c.enabled_clients.push(client_id.to_string());
        }
    }
    c.updated_at = state.now();
    state.store.update_connection(&c).await?;
    Ok(c)
}
