//! The shapes of Gatehouse's Auth0-compatible answers, as snapshots (`tests/it/snapshots/`,
//! reviewed with `cargo insta review`): a field added, renamed, retyped or dropped shows
//! up as a diff. Ids, secrets and times are redacted; everything else is exact. Both
//! backends must match the same snapshot.

use crate::kit::{Backend, Server, DB};
use serde_json::json;

/// Snapshots `value` as `name`, with redactions, its object keys sorted: PostgreSQL keeps
/// stored JSON (connection options, log details) in JSONB's key order, SQLite in the
/// written order, and both backends share one snapshot.
macro_rules! assert_shape {
    ($name:literal, $value:expr $(, { $($selector:literal => $replacement:literal),* $(,)? })?) => {
        insta::with_settings!({sort_maps => true}, {
            insta::assert_json_snapshot!($name, $value $(, { $($selector => $replacement),* })?);
        })
    };
}

/// A created user, as `POST /api/v2/users` answers.
async fn user(b: Backend) {
    let s = Server::start(b).await;
    let user = s
        .create_user(json!({"email": "shape@example.com", "password": "Shape-pass-123", "name": "Shape Tester",
            "user_metadata": {"plan": "free"}, "app_metadata": {"roles": ["reader"]}}))
        .await;
    assert_shape!("user", user, {
        ".user_id" => "[user_id]",
        ".identities[].user_id" => "[user_id]",
        ".created_at" => "[time]",
        ".updated_at" => "[time]",
    });
    s.stop().await;
}

/// A created confidential client, as `POST /api/v2/clients` answers (its secret shown once).
async fn client(b: Backend) {
    let s = Server::start(b).await;
    let body = json!({"name": "Shape app", "app_type": "regular_web", "callbacks": ["https://app.example/cb"],
        "grant_types": ["authorization_code", "refresh_token"]});
    let (status, client) = s.api("POST", "/api/v2/clients", Some(body)).await;
    assert_eq!(status, 201, "{client}");
    assert_shape!("client", client, {
        ".client_id" => "[client_id]",
        ".client_secret" => "[secret]",
        ".created_at" => "[time]",
        ".updated_at" => "[time]",
    });
    s.stop().await;
}

/// The default database connection, as `GET /api/v2/connections?name=…` lists it.
async fn connection(b: Backend) {
    let s = Server::start(b).await;
    let connection = s.default_connection().await;
    assert_eq!(connection["name"], DB);
    assert_shape!("connection", connection, {
        ".id" => "[connection_id]",
        ".created_at" => "[time]",
        ".updated_at" => "[time]",
    });
    s.stop().await;
}

/// Auth0's Management API error body.
async fn management_error(b: Backend) {
    let s = Server::start(b).await;
    let (status, body) = s.api("GET", "/api/v2/users/auth0%7Cnobody", None).await;
    assert_eq!(status, 404, "{body}");
    assert_shape!("management_error", body);
    s.stop().await;
}

/// The token endpoint's OAuth 2.0 error body.
async fn token_error(b: Backend) {
    let s = Server::start(b).await;
    let audience = s.state.config.management_audience();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", crate::kit::ADMIN_ID),
        ("client_secret", "not-the-secret"),
        ("audience", &audience),
    ];
    let (status, body) = s.token(&form).await;
    assert_eq!(status, 401, "{body}");
    assert_shape!("token_error", body);
    s.stop().await;
}

/// A created users-export job, as `POST /api/v2/jobs/users-exports` answers.
async fn job(b: Backend) {
    let s = Server::start(b).await;
    let connection_id = s.default_connection().await["id"].clone();
    let body = json!({"connection_id": connection_id, "format": "json", "fields": [{"name": "email"}]});
    let (status, job) = s.api("POST", "/api/v2/jobs/users-exports", Some(body)).await;
    assert!(status == 200 || status == 201, "{job}");
    assert_shape!("job", job, {
        ".id" => "[job_id]",
        ".connection_id" => "[connection_id]",
        ".created_at" => "[time]",
    });
    s.stop().await;
}

/// A log event: the kit's own client-credentials exchange at start (`seccft`).
async fn log_event(b: Backend) {
    let s = Server::start(b).await;
    let (status, page) = s.api("GET", "/api/v2/logs?q=type:seccft&per_page=1", None).await;
    assert_eq!(status, 200, "{page}");
    // The audience names the server's port, new each run.
    assert_eq!(page[0]["details"]["audience"], s.state.config.management_audience());
    assert_shape!("log_event", page[0], {
        ".log_id" => "[log_id]",
        "._id" => "[log_id]",
        ".date" => "[time]",
        ".details.audience" => "[issuer]api/v2/",
    });
    s.stop().await;
}

crate::on_both_backends!(user, client, connection, management_error, token_error, job, log_event);
