//! The audit log: Management API writes and token requests are recorded with Auth0's
//! codes, searchable, never holding secrets, and streamed to an HTTP endpoint.

use crate::kit::{auth0_error, Backend, Server, ADMIN_ID, ADMIN_SECRET};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

crate::on_both_backends!(
    events_are_recorded_searchable_and_secret_free,
    events_of_concurrent_requests_are_all_stored_and_read_back_at_once,
    events_stream_to_an_http_endpoint_in_batches,
);

/// Events are stored in batches by one writer; none is lost or duplicated under
/// concurrency, and a read of the log right after the requests sees every one.
async fn events_of_concurrent_requests_are_all_stored_and_read_back_at_once(b: Backend) {
    let s = Server::start(b).await;
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..120 {
        let request = s.http.post(format!("{}/oauth/token", s.base)).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", ADMIN_ID),
            ("client_secret", ADMIN_SECRET),
            ("audience", &format!("{}api/v2/", s.issuer)),
        ]);
        requests.spawn(request.send());
    }
    while let Some(r) = requests.join_next().await {
        assert_eq!(r.unwrap().unwrap().status(), 200);
    }
    let (status, page) = s.api("GET", "/api/v2/logs?q=type:seccft&per_page=1&include_totals=true", None).await;
    assert_eq!(status, 200, "{page}");
    // The kit's own admin token is one more.
    assert_eq!(page["total"], 121, "{page}");
    let mut ids = std::collections::HashSet::new();
    for p in 0..3 {
        let (_, page) = s.api("GET", &format!("/api/v2/logs?q=type:seccft&per_page=50&page={p}"), None).await;
        for l in page.as_array().unwrap() {
            assert!(ids.insert(l["log_id"].as_str().unwrap().to_string()), "log ids are unique");
        }
    }
    assert_eq!(ids.len(), 121);
    s.stop().await;
}

async fn events_are_recorded_searchable_and_secret_free(b: Backend) {
    let s = Server::start(b).await;
    s.create_user(json!({"email": "logged@example.com", "password": "hunter2-very-secret"})).await;
    let (status, _) =
        s.api("POST", "/api/v2/users", Some(json!({"connection": "nope", "email": "x@example.com"}))).await;
    assert_eq!(status, 400);
    let r = s
        .http
        .post(format!("{}/oauth/token", s.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", ADMIN_ID),
            ("client_secret", "wrong-secret-value"),
            ("audience", &format!("{}api/v2/", s.issuer)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let (status, all) = s.api("GET", "/api/v2/logs?per_page=100&include_totals=true", None).await;
    assert_eq!(status, 200, "{all}");
    let logs = all["logs"].as_array().unwrap();
    let kinds: Vec<&str> = logs.iter().map(|l| l["type"].as_str().unwrap()).collect();
    for expected in ["seccft", "feccft", "sapi", "fapi"] {
        assert!(kinds.contains(&expected), "{expected} missing from {kinds:?}");
    }
    assert!(logs.windows(2).all(|w| w[0]["log_id"].as_str() >= w[1]["log_id"].as_str()), "newest first");
    let text = all.to_string();
    for secret in ["hunter2-very-secret", "wrong-secret-value", ADMIN_SECRET, &s.admin_token] {
        assert!(!text.contains(secret), "a secret reached the log");
    }
    let sapi = logs.iter().find(|l| l["type"] == "sapi").unwrap();
    assert_eq!(sapi["description"], "POST /api/v2/users");
    assert_eq!(sapi["client_id"], ADMIN_ID);
    assert_eq!(sapi["details"]["response"]["statusCode"], 201);

    let (_, only) = s.api("GET", "/api/v2/logs?q=type:feccft", None).await;
    let only = only.as_array().unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0]["client_id"], ADMIN_ID);
    let id = only[0]["log_id"].as_str().unwrap();
    let (status, one) = s.api("GET", &format!("/api/v2/logs/{id}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(one["type"], "feccft");
    let (_, ranged) = s.api("GET", "/api/v2/logs?q=type:sapi%20AND%20date:%5B2000-01-01%20TO%20*%5D", None).await;
    assert!(!ranged.as_array().unwrap().is_empty());
    let (_, none) = s.api("GET", "/api/v2/logs?q=date:%5B*%20TO%202000-01-01%5D", None).await;
    assert_eq!(none, json!([]));

    // Checkpoint paging walks every event once, oldest first.
    let mut seen = Vec::new();
    let mut from = String::new();
    loop {
        let (status, page) = s.api("GET", &format!("/api/v2/logs?take=2&from={from}"), None).await;
        assert_eq!(status, 200, "{page}");
        let page = page.as_array().unwrap().clone();
        if page.is_empty() {
            break;
        }
        from = page.last().unwrap()["log_id"].as_str().unwrap().to_string();
        seen.extend(page.into_iter().map(|l| l["log_id"].as_str().unwrap().to_string()));
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);
    assert!(seen.len() >= logs.len());

    let (status, body) = s.api("GET", "/api/v2/logs?q=password:x", None).await;
    assert_eq!(status, 400);
    assert!(auth0_error(400, &body, "invalid_query_string").contains("unknown field"));
    let (status, _) = s.api("GET", "/api/v2/logs/nope", None).await;
    assert_eq!(status, 404);
    let reader = s.token_with(&["read:users"]).await;
    assert_eq!(s.call("GET", "/api/v2/logs", None, Some(&reader)).await.0, 403);
    s.stop().await;
}

async fn events_stream_to_an_http_endpoint_in_batches(b: Backend) {
    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/ingest",
        axum::routing::post(move |headers: axum::http::HeaderMap, axum::Json(batch): axum::Json<Value>| {
            let sink = sink.clone();
            async move {
                assert_eq!(headers.get("authorization").and_then(|v| v.to_str().ok()), Some("Bearer stream-token"));
                sink.lock().unwrap().extend(batch.as_array().cloned().unwrap_or_default());
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/ingest", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let s = Server::start_with(b, |c| {
        c.log_stream = Some(gatehouse_services::audit::LogStreamConfig {
            url,
            token: Some(gatehouse_core::secret::Secret::new("stream-token")),
            batch_size: 50,
        });
    })
    .await;
    for i in 0..3 {
        s.create_user(json!({"email": format!("streamed{i}@example.com")})).await;
    }
    for _ in 0..200 {
        if received.lock().unwrap().iter().filter(|e| e["type"] == "sapi").count() >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let got = received.lock().unwrap().clone();
    assert!(got.iter().any(|e| e["type"] == "seccft"), "{got:?}");
    assert_eq!(got.iter().filter(|e| e["type"] == "sapi").count(), 3, "{got:?}");
    s.stop().await;
}
