//! Gatehouse's network edge: routing, extractors and pages for the Management API
//! (`/api/v2`), the Authentication API (`/oauth/token`, `/authorize`, discovery, logout),
//! the hosted pages (`/u/…`) and sign-in through social and OpenID Connect providers.
//!
//! This is the only crate that knows HTTP, and it knows no rules: the flows are
//! `gatehouse-services`; here each surface maps their typed errors to its answers in one
//! place (`error.rs` for the JSON APIs and OAuth, `pages` for HTML).

mod api;
mod auth;
pub mod authz;
pub mod cors;
pub mod error;
mod extract;
mod metrics;
mod openapi;
mod pages;
mod request_limits;
mod social;
mod uri_limit;
mod wellknown;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use gatehouse_services::Services;
use std::future::Future;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

/// The whole HTTP application, for `serve` and for in-process tests.
pub fn app(state: Services) -> Router {
    let management = api::router()
        .layer(axum::middleware::from_fn_with_state(state.clone(), api::audit::management_writes))
        .layer(axum::middleware::from_fn_with_state(state.clone(), request_limits::management));
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
        .layer(axum::middleware::from_fn_with_state(state.clone(), request_limits::authentication));
    Router::new()
        .nest("/api/v2", management)
        .merge(authentication)
        .route("/.well-known/jwks.json", get(wellknown::jwks).options(cors::preflight))
        .route("/.well-known/openid-configuration", get(wellknown::openid_configuration).options(cors::preflight))
        .route("/", get(pages::home::show))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::endpoint))
        // Bodies are read (and bounded) by our own extractors, which answer in our shape.
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn(uri_limit::limit))
        .layer(TraceLayer::new_for_http())
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .with_state(state)
}

/// `/readyz`: 200 when this node can serve, with a body naming each dependency's state.
/// A Redis outage while the rate limits fail open is `degraded` but still 200 (the node
/// serves, uncounted: taking every node out of the load balancer would turn a counter
/// outage into a full one); failing closed it is 503, as is a store that does not answer.
async fn readyz(axum::extract::State(state): axum::extract::State<Services>) -> axum::response::Response {
    use axum::response::IntoResponse;
    use gatehouse_services::ratelimit::{CounterHealth, FailureMode};
    let database = state.store.ping().await.is_ok();
    let mut dependencies = serde_json::Map::new();
    dependencies.insert("database".into(), (if database { "ok" } else { "unavailable" }).into());
    let mut body = serde_json::Map::new();
    let (serving, degraded) = match state.rate_limiter.health() {
        CounterHealth::Memory => (database, false),
        CounterHealth::Up => {
            dependencies.insert("redis".into(), "ok".into());
            (database, false)
        }
        CounterHealth::Down(mode) => {
            dependencies.insert("redis".into(), "unavailable".into());
            body.insert("rate_limits".into(), format!("failing {}", mode.as_str()).into());
            (database && mode == FailureMode::Open, true)
        }
    };
    let (code, word) = match (serving, degraded) {
        (true, false) => (axum::http::StatusCode::OK, "ok"),
        (true, true) => (axum::http::StatusCode::OK, "degraded"),
        (false, _) => (axum::http::StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
    };
    body.insert("status".into(), word.into());
    body.insert("dependencies".into(), dependencies.into());
    (code, axum::Json(body)).into_response()
}

/// Serves until `shutdown` resolves, then finishes in-flight requests and stores their
/// audit events. Alongside the
/// HTTP server run the job worker and the signing-key refresh; they stop with it (a job
/// cut short is resumed by the next node or start).
pub async fn serve(
    listener: TcpListener,
    state: Services,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let worker = tokio::spawn(gatehouse_services::jobs::worker(state.clone()));
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
