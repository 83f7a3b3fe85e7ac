//! What every handler can reach: the store, the signing keys, the hashing pool, the
//! clock and the runtime configuration. Passed explicitly; there are no globals.

use crate::hashing::HashPool;
use crate::keys::KeyRing;
use gatehouse_core::clock::Clock;
use gatehouse_store::Store;
use std::sync::Arc;

/// Runtime configuration, already validated.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Public base URL, always ending in `/` (Auth0's `iss` form).
    pub issuer: String,
    /// Lifetime of access tokens for the Management API.
    pub access_token_ttl_secs: i64,
}

impl ServerConfig {
    pub fn new(issuer: &str) -> Self {
        let issuer = if issuer.ends_with('/') { issuer.to_string() } else { format!("{issuer}/") };
        Self { issuer, access_token_ttl_secs: 86_400 }
    }

    /// The audience of Management API tokens: `<issuer>api/v2/`.
    pub fn management_audience(&self) -> String {
        format!("{}api/v2/", self.issuer)
    }
}

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<ServerConfig>,
    pub keys: KeyRing,
    pub hashing: HashPool,
    pub clock: Arc<dyn Clock>,
}

impl AppState {
    pub fn now(&self) -> String {
        gatehouse_core::clock::iso8601(self.clock.now())
    }
}
