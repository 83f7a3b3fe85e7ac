//! `/api/v2/connections`: Auth0's ids, options kept verbatim, scoped option visibility.

use crate::kit::{auth0_error, Backend, Server};
use serde_json::json;

crate::on_both_backends!(
    default_connection_and_crud,
    options_need_their_own_scope,
    checkpoint_paging_walks_every_connection
);

async fn default_connection_and_crud(b: Backend) {
    let s = Server::start(b).await;
    let (status, list) = s.api("GET", "/api/v2/connections?strategy=auth0", None).await;
    assert_eq!(status, 200);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["name"], "Username-Password-Authentication");
    assert_eq!(list[0]["strategy"], "auth0");

    let options = json!({"passwordPolicy": "good", "password_history": {"enable": true, "size": 5}, "brute_force_protection": true, "custom_thing": {"kept": true}});
    let (status, c) = s
        .api("POST", "/api/v2/connections", Some(json!({"name": "legacy-db", "strategy": "auth0", "options": options})))
        .await;
    assert_eq!(status, 201, "{c}");
    let id = c["id"].as_str().unwrap();
    assert!(id.starts_with("con_") && id.len() == 20 && id[4..].bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
    assert_eq!(c["options"], options);
    assert_eq!(c["realms"], json!(["legacy-db"]));

    let (status, body) =
        s.api("POST", "/api/v2/connections", Some(json!({"name": "legacy-db", "strategy": "auth0"}))).await;
    assert_eq!(status, 409);
    auth0_error(409, &body, "connection_conflict");
    let (status, body) =
        s.api("POST", "/api/v2/connections", Some(json!({"name": "bad name!", "strategy": "auth0"}))).await;
    assert_eq!(status, 400);
    assert!(auth0_error(400, &body, "invalid_body").contains("name"));

    // PATCH replaces options wholesale.
    let path = format!("/api/v2/connections/{id}");
    let (status, p) =
        s.api("PATCH", &path, Some(json!({"options": {"passwordPolicy": "low"}, "display_name": "Legacy"}))).await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["options"], json!({"passwordPolicy": "low"}));
    assert_eq!(p["display_name"], "Legacy");
    let (status, body) = s.api("PATCH", &path, Some(json!({"options": {"passwordPolicy": "superb"}}))).await;
    assert_eq!(status, 400);
    assert!(auth0_error(400, &body, "invalid_body").contains("options.passwordPolicy"));
    let (status, body) = s.api("PATCH", &path, Some(json!({"strategy": "google-oauth2"}))).await;
    assert_eq!(status, 400, "{body}");

    // Deleting a connection deletes its users.
    let u = s.create_user(json!({"connection": "legacy-db", "email": "l@example.com"})).await;
    let (status, _) = s.api("DELETE", &path, None).await;
    assert_eq!(status, 204);
    let (status, _) = s.api("GET", &format!("/api/v2/users/{}", u["user_id"].as_str().unwrap()), None).await;
    assert_eq!(status, 404);
    let (status, body) = s.api("GET", &path, None).await;
    assert_eq!(status, 404);
    auth0_error(404, &body, "inexistent_connection");
    s.stop().await;
}

async fn options_need_their_own_scope(b: Backend) {
    let s = Server::start(b).await;
    let (_, c) = s
        .api(
            "POST",
            "/api/v2/connections",
            Some(json!({"name": "secretive", "strategy": "auth0", "options": {"import_mode": true}})),
        )
        .await;
    let token = s.token_with(&["read:connections"]).await;
    let (status, got) =
        s.call("GET", &format!("/api/v2/connections/{}", c["id"].as_str().unwrap()), None, Some(&token)).await;
    assert_eq!(status, 200);
    assert!(got.get("options").is_none(), "{got}");
    let token = s.token_with(&["read:connections", "read:connections_options"]).await;
    let (_, got) =
        s.call("GET", &format!("/api/v2/connections/{}", c["id"].as_str().unwrap()), None, Some(&token)).await;
    assert_eq!(got["options"], json!({"import_mode": true}));
    s.stop().await;
}

async fn checkpoint_paging_walks_every_connection(b: Backend) {
    let s = Server::start(b).await;
    for i in 0..5 {
        let (st, _) =
            s.api("POST", "/api/v2/connections", Some(json!({"name": format!("db-{i}"), "strategy": "auth0"}))).await;
        assert_eq!(st, 201);
    }
    let mut names = Vec::new();
    let mut path = "/api/v2/connections?take=2".to_string();
    loop {
        let (status, page) = s.api("GET", &path, None).await;
        assert_eq!(status, 200, "{page}");
        names.extend(page["connections"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()));
        match page.get("next").and_then(|n| n.as_str()) {
            Some(next) => path = format!("/api/v2/connections?take=2&from={next}"),
            None => break,
        }
    }
    assert_eq!(names, ["Username-Password-Authentication", "db-0", "db-1", "db-2", "db-3", "db-4"]);
    let (status, body) = s.api("GET", "/api/v2/connections?from=%%%", None).await;
    assert_eq!(status, 400, "{body}");
    s.stop().await;
}
