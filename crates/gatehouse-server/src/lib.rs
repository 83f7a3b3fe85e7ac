//! Gatehouse's HTTP surfaces: the Management API (`/api/v2`), the Authentication API
//! (`/oauth/token`, discovery), sign-in through social and OpenID Connect providers, and
//! the machinery they share (authorization, error responses, signing keys, the hashing
//! pool).
//!
//! This is the only crate that knows HTTP. Rules live in `gatehouse-core`; storage in
//! `gatehouse-store`.

mod api;
pub mod attack;
pub mod audit;
mod auth;
pub mod authz;
pub mod bootstrap;
pub mod cors;
pub mod error;
pub mod export;
mod extract;
pub mod hashing;
pub mod import;
pub mod jobs;
pub mod keys;
pub mod legacy;
pub mod mail;
pub mod metrics;
mod openapi;
mod pages;
pub mod ratelimit;
pub mod signup;
mod social;
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

pub use auth::login::{password_login, LoginError};
pub use auth::purge_expired;
pub use state::AppState as State;

/// Why the server could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Keys(#[from] keys::KeyError),
    #[error("bootstrapping the store failed: {0}")]
    Store(#[from] gatehouse_store::StoreError),
    #[error("cannot reach the rate limit store: {0}")]
    RateLimits(#[from] redis::RedisError),
    #[error("mail configuration: {0}")]
    Mail(#[from] mail::MailError),
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
) -> Result<AppState, StartError> {
    let keys = KeyRing::load_or_create(&store, clock.clone()).await?;
    let metrics = metrics::Metrics::default();
    let threads = match config.hashing_threads {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let hashing = HashPool::new(hasher, threads, metrics.clone());
    let now = gatehouse_core::clock::iso8601(clock.now());
    let link_key = store.server_secret(jobs::LINK_KEY_NAME, &jobs::new_link_key(), &now).await?;
    let rate_limiter = ratelimit::RateLimiter::from_config(&config.rate_limits).await?;
    let mailer = mail::Mailer::new(&config.mail, &config.data_dir)?;
    Ok(AppState {
        audit: audit::AuditWriter::start(store.clone()),
        store,
        log_stream: audit::LogStream::start(config.log_stream.clone()),
        config: Arc::new(config),
        keys,
        hashing,
        clock,
        link_key: Arc::new(gatehouse_core::secret::Secret::new(link_key)),
        node_id: Arc::from(gatehouse_core::ids::new_node_id()),
        job_created: Arc::new(tokio::sync::Notify::new()),
        rate_limiter,
        mailer,
        legacy: legacy::Registry::default(),
        upstreams: Arc::new(social::Upstreams::new()),
        metrics,
    })
}

/// The whole HTTP application, for `serve` and for in-process tests.
pub fn app(state: AppState) -> Router {
    let management = api::router()
        .layer(axum::middleware::from_fn_with_state(state.clone(), audit::management_writes))
        .layer(axum::middleware::from_fn_with_state(state.clone(), ratelimit::management));
    let authentication = Router::new()
        .route("/oauth/token", post(auth::token::token).options(cors::preflight))
        .route("/oauth/revoke", post(auth::revoke::revoke).options(cors::preflight))
        .route("/authorize", get(auth::authorize::authorize))
        .route("/u/login", get(pages::login::show).post(pages::login::submit))
        .route("/u/signup", get(pages::signup::show).post(pages::signup::submit))
        .route("/u/reset-password", get(pages::reset::show).post(pages::reset::submit))
        .route("/u/email-verification", get(pages::verify::show))
        .route("/u/unblock", get(pages::unblock::show))
        .route("/u/password-rules.js", get(pages::password_rules_script))
        .route("/dbconnections/signup", post(auth::dbconnections::signup))
        .route("/dbconnections/change_password", post(auth::dbconnections::change_password))
        .route("/u/login/social", post(pages::social::start))
        .route("/u/link", get(pages::social::show_link).post(pages::social::submit_link))
        .route("/login/callback", get(social::flow::callback).post(social::flow::callback))
        .route("/userinfo", get(auth::userinfo::userinfo).post(auth::userinfo::userinfo).options(cors::preflight))
        .route("/v2/logout", get(auth::logout::v2_logout))
        .route("/oidc/logout", get(auth::logout::oidc_logout).post(auth::logout::oidc_logout_post))
        .layer(axum::middleware::from_fn_with_state(state.clone(), ratelimit::authentication));
    Router::new()
        .nest("/api/v2", management)
        .merge(authentication)
        .route("/.well-known/jwks.json", get(wellknown::jwks).options(cors::preflight))
        .route("/.well-known/openid-configuration", get(wellknown::openid_configuration).options(cors::preflight))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::endpoint))
        // Bodies are read (and bounded) by our own extractors, which answer in our shape.
        .layer(DefaultBodyLimit::disable())
        .layer(TraceLayer::new_for_http())
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .with_state(state)
}

async fn readyz(axum::extract::State(state): axum::extract::State<AppState>) -> axum::http::StatusCode {
    match state.store.ping().await {
        Ok(()) => axum::http::StatusCode::OK,
        Err(_) => axum::http::StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Serves until `shutdown` resolves, then finishes in-flight requests and stores their
/// audit events. Alongside the
/// HTTP server run the job worker and the signing-key refresh; they stop with it (a job
/// cut short is resumed by the next node or start).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let worker = tokio::spawn(jobs::worker(state.clone()));
    let refresher = tokio::spawn(state.keys.clone().refresh_loop(
        state.store.clone(),
        state.clock.clone(),
        std::time::Duration::from_secs(60),
    ));
    let audit = state.audit.clone();
    let served = axum::serve(listener, app(state).into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await;
    worker.abort();
    refresher.abort();
    // The events of the last requests are stored before the process exits.
    audit.flush().await;
    served
}
