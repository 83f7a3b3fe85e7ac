//! Creating and changing applications, as an administrator does it (the Management API
//! and the admin console): Auth0's client rules, a secret only for a confidential
//! client (shown once, stored hashed), and the connections a new application starts on.

use crate::hashing::hash_client_secret;
use crate::Services;
use gatehouse_core::client::{new_client_with_connections, patch_client, Client};
use gatehouse_core::ids::{new_client_id, new_client_secret};
use gatehouse_core::Error;
use gatehouse_store::StoreError;

/// Why a change to an application was refused, or failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientChangeError {
    #[error(transparent)]
    Refused(#[from] Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

type Result<T, E = ClientChangeError> = std::result::Result<T, E>;

/// A new application from Auth0's `POST /api/v2/clients` body, plus Gatehouse's
/// `enabled_connections` (names; every one must exist, or nothing is made). Returns the
/// client, its secret (confidential clients; shown this once) and the connection names.
pub async fn create_client(
    state: &Services,
    body: &serde_json::Value,
) -> Result<(Client, Option<String>, Vec<String>)> {
    let now = state.now();
    let (mut c, names) = new_client_with_connections(body, new_client_id(), &now)?;
    let mut connections = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let connection = state.store.connection_by_name(name).await?.ok_or_else(|| {
            Error::invalid_field(format!("enabled_connections[{i}]"), format!("there is no connection named {name:?}"))
        })?;
        connections.push(connection);
    }
    let secret = c.is_confidential().then(new_client_secret);
    c.client_secret_hash = secret.as_deref().map(hash_client_secret);
    state.store.insert_client(&c).await?;
    for mut connection in connections {
        connection.enabled_clients.push(c.client_id.clone());
        connection.updated_at = now.clone();
        state.store.update_connection(&connection).await?;
    }
    Ok((c, secret, names))
}

/// Applies Auth0's `PATCH /api/v2/clients/{id}` body. A client made confidential gets a
/// secret (returned, shown once); one made public loses its secret.
pub async fn update_client(state: &Services, id: &str, body: &serde_json::Value) -> Result<(Client, Option<String>)> {
    let mut c = state.store.client(id).await?.ok_or_else(Error::client_not_found)?;
    patch_client(body, &mut c, &state.now())?;
    let secret = match (c.is_confidential(), c.client_secret_hash.is_some()) {
        (true, false) => Some(new_client_secret()),
        _ => None,
    };
    if let Some(s) = &secret {
        c.client_secret_hash = Some(hash_client_secret(s));
    }
    if !c.is_confidential() {
        c.client_secret_hash = None;
    }
    state.store.update_client(&c).await?;
    Ok((c, secret))
}

/// A new secret for client `id` (the old one stops working at once); returned to be
/// shown this once.
pub async fn rotate_secret(state: &Services, id: &str) -> Result<(Client, String)> {
    let mut c = state.store.client(id).await?.ok_or_else(Error::client_not_found)?;
    let secret = new_client_secret();
    c.client_secret_hash = Some(hash_client_secret(&secret));
    c.updated_at = state.now();
    state.store.update_client(&c).await?;
    Ok((c, secret))
}
