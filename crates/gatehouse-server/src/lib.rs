//! Gatehouse's HTTP surfaces: the Management API (`/api/v2`), the Authentication API
//! (`/oauth/token`, discovery), and the machinery they share (authorization, error
//! responses, signing keys, the hashing pool).
//!
//! This is the only crate that knows HTTP. Rules live in `gatehouse-core`; storage in
//! `gatehouse-store`.

mod api;
mod auth;
pub mod authz;
pub mod bootstrap;
pub mod error;
pub mod export;
mod extract;
pub mod hashing;
pub mod import;
pub mod keys;
mod openapi;
pub mod state;
mod wellknown;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use gatehouse_core::clock::Clock;
use gatehouse_hash::Hasher;
use gatehouse_store::Store;
use hashing::HashPool;
use keys::KeyRing;
use state::{AppState, ServerConfig};
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

pub use state::AppState as State;

/// Why the server could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Keys(#[from] keys::KeyError),
    #[error("bootstrapping the store failed: {0}")]
    Store(#[from] gatehouse_store::StoreError),
}

/// Everything a start needs before it can answer requests: the default connection, the
/// admin client (given credentials, or new ones returned to be shown once) and the
/// application state. The binary and the test kit both start through here.
pub async fn prepare(
    store: Store,
    config: ServerConfig,
    hasher: Hasher,
    clock: Arc<dyn Clock>,
    admin: Option<(&str, &str)>,
) -> Result<(AppState, Option<bootstrap::NewAdminCredentials>), StartError> {
    let now = gatehouse_core::clock::iso8601(clock.now());
    bootstrap::ensure_default_connection(&store, &now).await?;
    let created = bootstrap::ensure_admin_client(&store, &config, admin, &now).await?;
    let state = build_state(store, config, hasher, clock).await?;
    Ok((state, created))
}

/// Builds the application state: loads (or creates) signing keys.
pub async fn build_state(
    store: Store,
    config: ServerConfig,
    hasher: Hasher,
    clock: Arc<dyn Clock>,
) -> Result<AppState, keys::KeyError> {
    let keys = KeyRing::load_or_create(&store, clock.clone()).await?;
    let hashing = HashPool::new(hasher, std::thread::available_parallelism().map_or(2, |n| n.get()));
    Ok(AppState { store, config: Arc::new(config), keys, hashing, clock })
}

/// The whole HTTP application, for `serve` and for in-process tests.
pub fn app(state: AppState) -> Router {
    Router::new()
        .nest("/api/v2", api::router())
        .route("/oauth/token", post(auth::token::token))
        .route("/.well-known/jwks.json", get(wellknown::jwks))
        .route("/.well-known/openid-configuration", get(wellknown::openid_configuration))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        // Bodies are read (and bounded) by our own extractors, which answer in our shape.
        .layer(DefaultBodyLimit::disable())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn readyz(axum::extract::State(state): axum::extract::State<AppState>) -> axum::http::StatusCode {
    match state.store.ping().await {
        Ok(()) => axum::http::StatusCode::OK,
        Err(_) => axum::http::StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Serves until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state).into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}
