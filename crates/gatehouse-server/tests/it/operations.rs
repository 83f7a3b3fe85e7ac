//! Operations endpoints: `/metrics` counts what happened, and nothing identifying.

use crate::kit::{Backend, Server};
use serde_json::json;

async fn metrics_count_requests_and_events(b: Backend) {
    let s = Server::start(b).await;
    // Starting the server already fetched the admin token (client credentials).
    let (status, _) = s.api("GET", "/api/v2/users", None).await;
    assert_eq!(status, 200);
    let r = s.http.get(format!("{}/metrics", s.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = r.text().await.unwrap();
    assert!(text.contains("gatehouse_http_requests_total{group=\"oauth\",status=\"2xx\"} 1"), "{text}");
    assert!(text.contains("gatehouse_http_requests_total{group=\"management\",status=\"2xx\"} 1"), "{text}");
    assert!(text.contains("gatehouse_events_total{type=\"seccft\"} 1"), "{text}");
    assert!(text.contains("gatehouse_http_request_duration_seconds_count{group=\"management\"} 1"), "{text}");
    assert!(!text.contains(&s.admin_token) && !text.contains("client_id"), "no identifiers");
    s.stop().await;
}

/// Terminates the backends of `database` that wait on a lock running a statement that
/// starts with `statement` (no background task of the server's is hit), once one does;
/// how many.
async fn terminate_lock_waiters(admin: &sqlx::PgPool, database: &str, statement: &str) -> usize {
    for _ in 0..600 {
        let ended: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = $1 AND wait_event_type = 'Lock' AND query ILIKE $2",
        )
        .bind(database)
        .bind(format!("{statement}%"))
        .fetch_all(admin)
        .await
        .unwrap();
        if ended.contains(&true) {
            return ended.len();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no request waited on the lock");
}

/// A request whose database connection is terminated mid-statement (an administrator's
/// `pg_terminate_backend`, a failover): a read is read again on another connection and
/// answers 200; a write is not repeated, and answers 503 with `Retry-After`, never 500.
/// Locks hold each statement where it can be terminated. (SQLite has no connections.)
async fn a_terminated_database_connection_is_read_again_or_answered_503(b: Backend) {
    use sqlx::Connection;
    let Backend::Postgres(admin_url) = b.clone() else { return };
    let s = Server::start(b).await;
    let user = s.create_user(json!({"email": "kept@example.com", "password": "a long passphrase 1"})).await;
    let path = format!("/api/v2/users/{}", user["user_id"].as_str().unwrap().replace('|', "%7C"));
    let database = s.data_dir.file_name().unwrap().to_str().unwrap().to_string();
    let admin = sqlx::PgPool::connect(&admin_url).await.unwrap();
    let mut locker = sqlx::PgConnection::connect(&crate::kit::with_database(&admin_url, &database)).await.unwrap();

    // A read: waits on an exclusive lock, is terminated, reads again once the lock goes.
    sqlx::query("BEGIN").execute(&mut locker).await.unwrap();
    sqlx::query("LOCK TABLE users IN ACCESS EXCLUSIVE MODE").execute(&mut locker).await.unwrap();
    let read = tokio::spawn({
        let (http, url, token) = (s.http.clone(), s.url(&path), s.admin_token.clone());
        async move { http.get(url).bearer_auth(token).send().await.unwrap().status().as_u16() }
    });
    terminate_lock_waiters(&admin, &database, "SELECT").await;
    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    assert_eq!(read.await.unwrap(), 200, "the read was read again");

    // A write: its read goes through (SHARE lets readers in), its update waits and is
    // terminated; nothing is repeated, the client is told to try again.
    sqlx::query("BEGIN").execute(&mut locker).await.unwrap();
    sqlx::query("LOCK TABLE users IN SHARE MODE").execute(&mut locker).await.unwrap();
    let write = tokio::spawn({
        let (http, url, token) = (s.http.clone(), s.url(&path), s.admin_token.clone());
        async move {
            let r = http.patch(url).bearer_auth(token).json(&json!({"user_metadata": {"n": 1}})).send().await.unwrap();
            let retry_after = r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
            (r.status().as_u16(), retry_after, r.json::<serde_json::Value>().await.unwrap())
        }
    });
    terminate_lock_waiters(&admin, &database, "UPDATE users").await;
    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    let (status, retry_after, body) = write.await.unwrap();
    assert_eq!((status, retry_after.as_deref()), (503, Some("1")), "{body}");
    assert_eq!(body["errorCode"], "temporarily_unavailable", "{body}");
    let (status, again) = s.api("PATCH", &path, Some(json!({"user_metadata": {"n": 1}}))).await;
    assert_eq!((status, &again["user_metadata"]["n"]), (200, &json!(1)), "the retry succeeds");
    locker.close().await.unwrap();
    admin.close().await;
    s.stop().await;
}

crate::on_both_backends!(
    metrics_count_requests_and_events,
    a_terminated_database_connection_is_read_again_or_answered_503
);
