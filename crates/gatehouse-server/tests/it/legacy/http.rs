//! `http` legacy stores: the customer's service is an axum app in the test. It checks
//! the bearer token or the HMAC signature of every call and counts the calls.

use super::support::{connection, login, logs_in, progress, refused, stored};
use crate::kit::{Backend, Server};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub const SECRET: &str = "legacy-shared-secret-0123456789";

#[derive(Default)]
pub struct Service {
    pub hmac: bool,
    pub delay: Duration,
    pub calls: AtomicUsize,
    pub refused_auth: AtomicUsize,
}

/// Ada and Grace, with their passwords.
fn directory(login: &str) -> Option<(&'static str, Value)> {
    match login {
        "ada@legacy.test" | "ada" => Some((
            "ada's old password",
            json!({"user_id": "svc-1", "email": "ada@legacy.test", "email_verified": true,
                "name": "Ada Lovelace", "given_name": "Ada", "family_name": "Lovelace"}),
        )),
        "grace@legacy.test" => {
            Some(("grace's old password", json!({"user_id": "svc-2", "email": "grace@legacy.test"})))
        }
        _ => None,
    }
}

fn authorized(svc: &Service, headers: &HeaderMap, body: &[u8]) -> bool {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    if svc.hmac {
        let Ok(ts) = header(gatehouse_legacy::TIMESTAMP_HEADER).parse::<i64>() else { return false };
        header(gatehouse_legacy::SIGNATURE_HEADER) == gatehouse_legacy::hmac_signature(SECRET, ts, body)
    } else {
        header("authorization") == format!("Bearer {SECRET}")
    }
}

async fn handle(svc: &Service, headers: &HeaderMap, body: &Bytes, endpoint: &str) -> (StatusCode, Json<Value>) {
    svc.calls.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(svc.delay).await;
    if !authorized(svc, headers, body) {
        svc.refused_auth.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "bad credentials"})));
    }
    let req: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let login = req["login"].as_str().unwrap_or("");
    match (endpoint, directory(login)) {
        ("login", Some((password, profile))) if req["password"] == json!(password) => (StatusCode::OK, Json(profile)),
        ("get_user", Some((_, profile))) => (StatusCode::OK, Json(profile)),
        _ => (StatusCode::NOT_FOUND, Json(json!({}))),
    }
}

/// Starts the service; its base URL. It stops with the returned sender.
pub async fn start(svc: Arc<Service>) -> (String, tokio::sync::oneshot::Sender<()>) {
    let router =
        Router::new()
            .route(
                "/login",
                post(|State(s): State<Arc<Service>>, h: HeaderMap, b: Bytes| async move {
                    handle(&s, &h, &b, "login").await
                }),
            )
            .route(
                "/get_user",
                post(|State(s): State<Arc<Service>>, h: HeaderMap, b: Bytes| async move {
                    handle(&s, &h, &b, "get_user").await
                }),
            )
            .with_state(svc);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
            .unwrap();
    });
    (base, tx)
}

pub fn http_store(base: &str, hmac: bool, timeout_ms: u64) -> Value {
    json!({"kind": "http", "login_url": format!("{base}/login"), "get_user_url": format!("{base}/get_user"),
        "secret": SECRET, "auth": if hmac { "hmac" } else { "bearer" }, "timeout_ms": timeout_ms})
}

async fn first_login_migrates(backend: Backend, hmac: bool) {
    let svc = Arc::new(Service { hmac, ..Service::default() });
    let (base, stop) = start(svc.clone()).await;
    let srv = Server::start(backend).await;
    let app = srv.password_client().await;
    let con = connection(&srv, &app, "legacy-http", true, http_store(&base, hmac, 3000)).await;

    refused(&srv, &app, "legacy-http", "ada@legacy.test", "wrong").await;
    refused(&srv, &app, "legacy-http", "nobody@legacy.test", "ada's old password").await;
    logs_in(&srv, &app, "legacy-http", "ada@legacy.test", "ada's old password").await;
    let ada = stored(&srv, &con, "ada@legacy.test").await.unwrap();
    assert_eq!(ada.user_id, "auth0|svc-1");
    assert_eq!((ada.given_name.as_deref(), ada.family_name.as_deref()), (Some("Ada"), Some("Lovelace")));
    assert!(ada.password_hash.as_deref().unwrap().starts_with("$argon2id$"));
    let calls = svc.calls.load(Ordering::SeqCst);
    assert_eq!(calls, 3);
    assert_eq!(svc.refused_auth.load(Ordering::SeqCst), 0, "every call was authenticated");

    // From now on the service is not asked about Ada; it may even be gone.
    logs_in(&srv, &app, "legacy-http", "ada@legacy.test", "ada's old password").await;
    assert_eq!(svc.calls.load(Ordering::SeqCst), calls);
    let _ = stop.send(());
    tokio::time::sleep(Duration::from_millis(50)).await;
    logs_in(&srv, &app, "legacy-http", "ada@legacy.test", "ada's old password").await;
    refused(&srv, &app, "legacy-http", "ada@legacy.test", "wrong").await;
    let (s, body) = login(&srv, &app, "legacy-http", "grace@legacy.test", "grace's old password").await;
    assert_eq!(s, 503, "{body}");
    assert!(stored(&srv, &con, "grace@legacy.test").await.is_none());
    assert_eq!(progress(&srv, &con).await["migrated_on_login"], json!(1));
    srv.stop().await;
}

async fn bearer_service_first_login_migrates(backend: Backend) {
    first_login_migrates(backend, false).await;
}

async fn hmac_service_first_login_migrates(backend: Backend) {
    first_login_migrates(backend, true).await;
}

async fn slow_service_is_503(backend: Backend) {
    let svc = Arc::new(Service { delay: Duration::from_secs(3), ..Service::default() });
    let (base, _stop) = start(svc).await;
    let srv = Server::start(backend).await;
    let app = srv.password_client().await;
    let con = connection(&srv, &app, "legacy-slow", true, http_store(&base, false, 200)).await;
    let (s, body) = login(&srv, &app, "legacy-slow", "ada@legacy.test", "ada's old password").await;
    assert_eq!((s, &body["error"]), (503, &json!("temporarily_unavailable")), "{body}");
    assert_eq!(srv.store.count_users_in_connection(&con).await.unwrap(), 0);
    srv.stop().await;
}

crate::on_both_backends!(bearer_service_first_login_migrates, hmac_service_first_login_migrates, slow_service_is_503);
