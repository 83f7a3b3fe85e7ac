//! Gatehouse's network edge: routing, extractors and pages for the Management API
//! (`/api/v2`), the Authentication API (`/oauth/token`, `/authorize`, discovery, logout,
//! the embedded login of Lock and auth0.js: `/co/*`, `/client/*.js`, `/passwordless/*`),
//! the hosted pages (`/u/…`), sign-in through social and OpenID Connect providers, and
//! the admin console (`/admin`).
//!
//! This is the only crate that knows HTTP, and it knows no rules: the flows are
//! `gatehouse-services`; here each surface maps their typed errors to its answers in one
//! place (`error.rs` for the JSON APIs and OAuth, `pages` for HTML).

mod admin;
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
pub mod tls;
mod upload;
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
        .route("/mfa/authenticators", get(auth::mfa::authenticators).options(cors::preflight))
        .route("/mfa/associate", post(auth::mfa::associate).options(cors::preflight))
        .route("/mfa/challenge", post(auth::mfa::challenge).options(cors::preflight))
        .route("/authorize", get(auth::authorize::authorize))
        .route("/u/login", get(pages::login::show).post(pages::login::submit))
        .route("/u/signup", get(pages::signup::show).post(pages::signup::submit))
        .route("/u/signup/passkey", post(pages::passkeys::signup))
        .route("/u/login/passkey", post(pages::passkeys::login))
        .route("/u/login/passkey-enrol", post(pages::passkeys::enrol))
        .route("/u/mfa", get(pages::mfa::show).post(pages::mfa::submit))
        .route("/u/mfa/continue", post(pages::mfa::continue_login))
        .route("/u/reset-password", get(pages::reset::show).post(pages::reset::submit))
        .route("/u/email-verification", get(pages::verify::show))
        .route("/u/unblock", get(pages::unblock::show))
        .route("/u/password-rules.js", get(pages::password_rules_script))
        .route("/u/webauthn.js", get(pages::webauthn_script))
        .route("/dbconnections/signup", post(auth::dbconnections::signup).options(cors::preflight))
        .route("/dbconnections/change_password", post(auth::dbconnections::change_password).options(cors::preflight))
        .route("/co/authenticate", post(auth::embedded::co_authenticate).options(cors::preflight_with_credentials))
        .route("/client/{file}", get(auth::embedded::client_configuration))
        .route("/co/verify", get(pages::co_verify::show).post(pages::co_verify::submit))
        .route("/co/verify.js", get(pages::co_verify::script))
        .route("/passwordless/start", post(auth::embedded::passwordless_start).options(cors::preflight))
        .route("/passwordless/verify_redirect", get(auth::embedded::verify_redirect))
        .route("/u/login/email", get(pages::passwordless::show).post(pages::passwordless::send))
        .route("/u/login/email/code", post(pages::passwordless::verify))
        .route("/u/login/social", post(pages::social::start))
        .route("/u/link", get(pages::social::show_link).post(pages::social::submit_link))
        .route("/login/callback", get(social::flow::callback).post(social::flow::callback))
        .route("/userinfo", get(auth::userinfo::userinfo).post(auth::userinfo::userinfo).options(cors::preflight))
        .route("/v2/logout", get(auth::logout::v2_logout))
        .route("/oidc/logout", get(auth::logout::oidc_logout).post(auth::logout::oidc_logout_post))
        .layer(axum::middleware::from_fn_with_state(state.clone(), request_limits::authentication));
    Router::new()
        .nest("/api/v2", management)
        .nest("/admin", admin::router(state.clone()))
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
        .layer(axum::middleware::from_fn(error::retry_after_on_unavailable))
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
    let service = app(state.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>();
    with_background_work(state, axum::serve(listener, service).with_graceful_shutdown(shutdown)).await
}

/// [`serve`] over HTTPS with `tls` (see [`tls::server_config`]), on the same listener.
/// Each connection's handlers see its peer address as plain HTTP's do.
pub async fn serve_tls(
    listener: TcpListener,
    tls: tls::TlsConfig,
    state: Services,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::extract::ConnectInfo;
    use tower::Layer;
    let router = app(state.clone());
    let per_connection = tower::service_fn(move |incoming: axum::serve::IncomingStream<'_, tls::TlsListener>| {
        let service = axum::Extension(ConnectInfo(*incoming.remote_addr())).layer(router.clone());
        std::future::ready(Ok::<_, std::convert::Infallible>(service))
    });
    let listener = tls::TlsListener::new(listener, tls)?;
    with_background_work(state, axum::serve(listener, per_connection).with_graceful_shutdown(shutdown)).await
}

/// Runs the job worker and the signing-key refresh while `served` runs, then stores the
/// audit events of the last requests.
async fn with_background_work(
    state: Services,
    served: impl std::future::IntoFuture<Output = std::io::Result<()>>,
) -> std::io::Result<()> {
    let worker = tokio::spawn(gatehouse_services::jobs::worker(state.clone()));
    let refresher = tokio::spawn(state.keys.clone().refresh_loop(
        state.store.clone(),
        state.clock.clone(),
        std::time::Duration::from_secs(60),
    ));
    let served = served.await;
    worker.abort();
    refresher.abort();
    // The events of the last requests are stored before the process exits.
    state.audit.flush().await;
    served
}
