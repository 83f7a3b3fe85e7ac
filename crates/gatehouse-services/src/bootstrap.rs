//! What a new store needs before anyone can use it: the default database connection, the
//! Management API listed as the system API (and the APIs configuration names), and a
//! machine-to-machine client allowed to call the Management API.

use crate::hashing::{hash_client_secret, verify_client_secret};
use crate::state::ServerConfig;
use gatehouse_core::authorization::ResourceServer;
use gatehouse_core::client::{Client, ClientGrant};
use gatehouse_core::connection::{Connection, DEFAULT_DATABASE_CONNECTION};
use gatehouse_core::ids::{
    new_client_grant_id, new_client_id, new_client_secret, new_connection_id, new_resource_server_id,
};
use gatehouse_core::scope::MANAGEMENT_SCOPES;
use gatehouse_store::{ConflictOn, Store, StoreError};
use serde_json::{Map, Value};

/// Marks the client made by bootstrap, so later starts know one exists.
const BOOTSTRAP_MARK: &str = "gatehouse_bootstrap";

/// Credentials created by this start, to be shown once to the operator.
#[derive(Debug)]
pub struct NewAdminCredentials {
    pub client_id: String,
    pub client_secret: String,
}

/// Ensures the default connection exists.
pub async fn ensure_default_connection(store: &Store, now: &str) -> Result<(), StoreError> {
    if store.connection_by_name(DEFAULT_DATABASE_CONNECTION).await?.is_some() {
        return Ok(());
    }
    let c = Connection::new_database(new_connection_id(), DEFAULT_DATABASE_CONNECTION.into(), now.to_string());
    match store.insert_connection(&c).await {
        // Another node created it first.
        Err(StoreError::Conflict(ConflictOn::Name)) => Ok(()),
        other => other,
    }
}

/// Ensures the Management API is the system API (its identifier following the issuer)
/// and that every API configuration names (`api_audiences`) exists, with Auth0's
/// defaults when created here; one changed through the Management API since stays so.
pub async fn ensure_apis(store: &Store, config: &ServerConfig, now: &str) -> Result<(), StoreError> {
    let management = ResourceServer::management(
        new_resource_server_id(),
        config.management_audience(),
        config.access_token_ttl_secs,
        now,
    );
    store.ensure_system_resource_server(&management).await?;
    for identifier in &config.api_audiences {
        if store.resource_server_by_identifier(identifier).await?.is_some() {
            continue;
        }
        let api = ResourceServer::new(new_resource_server_id(), identifier.clone(), now);
        match store.insert_resource_server(&api).await {
            // Another node created it first.
            Err(StoreError::Conflict(_)) => {}
            other => other?,
        }
    }
    Ok(())
}

/// Ensures an admin client exists. With `given` credentials, that client exists with that
/// secret and every management scope. Without, the first start creates one and returns
/// its credentials; later starts return `None`.
pub async fn ensure_admin_client(
    store: &Store,
    config: &ServerConfig,
    given: Option<(&str, &str)>,
    now: &str,
) -> Result<Option<NewAdminCredentials>, StoreError> {
    let (client_id, secret, fresh) = match given {
        Some((id, secret)) => (id.to_string(), secret.to_string(), false),
        None => {
            let (existing, _) = store.clients(None, 0, 1000).await?;
            if let Some(admin) = existing.iter().find(|c| c.client_metadata.contains_key(BOOTSTRAP_MARK)) {
                // It keeps every management scope, those a newer version added too.
                store.upsert_client_grant(&admin_grant(&admin.client_id, config), now).await?;
                return Ok(None);
            }
            (new_client_id(), new_client_secret(), true)
        }
    };
    let mut existing = store.client(&client_id).await?;
    if existing.is_none() {
        let mut metadata = Map::new();
        metadata.insert(BOOTSTRAP_MARK.into(), Value::String("true".into()));
        let c = Client {
            client_id: client_id.clone(),
            name: "Gatehouse Management API (bootstrap)".into(),
            description: Some("Created at first start; holds every management scope.".into()),
            app_type: Some("non_interactive".into()),
            is_first_party: true,
            grant_types: vec!["client_credentials".into()],
            callbacks: Vec::new(),
            allowed_logout_urls: Vec::new(),
            web_origins: Vec::new(),
            allowed_origins: Vec::new(),
            token_endpoint_auth_method: "client_secret_post".into(),
            client_secret_hash: Some(hash_client_secret(&secret)),
            client_metadata: metadata,
            oidc_logout: None,
            cross_origin_authentication: false,
            cross_origin_loc: None,
            created_at: now.to_string(),
            updated_at: now.to_string(),
        };
        match store.insert_client(&c).await {
            Ok(()) => {}
            // Another node starting with the same credentials created it first: bring
            // that one in line below, as on any later start.
            Err(StoreError::Conflict(_)) => existing = store.client(&client_id).await?,
            Err(e) => return Err(e),
        }
    }
    if let Some(mut c) = existing {
        let secret_matches = c.client_secret_hash.as_deref().is_some_and(|h| verify_client_secret(h, &secret));
        if !secret_matches || !c.grant_types.iter().any(|g| g == "client_credentials") {
            c.client_secret_hash = Some(hash_client_secret(&secret));
            if !c.grant_types.iter().any(|g| g == "client_credentials") {
                c.grant_types.push("client_credentials".into());
            }
            c.updated_at = now.to_string();
            store.update_client(&c).await?;
        }
    }
    store.upsert_client_grant(&admin_grant(&client_id, config), now).await?;
    Ok(fresh.then_some(NewAdminCredentials { client_id, client_secret: secret }))
}

/// The admin client's grant: every management scope.
fn admin_grant(client_id: &str, config: &ServerConfig) -> ClientGrant {
    ClientGrant {
        id: new_client_grant_id(),
        client_id: client_id.to_string(),
        audience: config.management_audience(),
        scope: MANAGEMENT_SCOPES.iter().map(|s| s.to_string()).collect(),
    }
}
