//! `/api/v2/users` and `/api/v2/users-by-email`: Auth0's shapes and rules.

use crate::kit::{auth0_error, Backend, Server};
use serde_json::{json, Value};

crate::on_both_backends!(
    create_returns_auth0_profile_and_hashes_password,
    duplicate_email_conflicts_per_connection,
    patch_merges_metadata_like_auth0,
    patch_rejects_exclusive_fields_and_writes_nothing,
    delete_then_get_is_inexistent_user,
    users_by_email_is_an_array_of_exact_matches,
    search_paging_sort_and_fields,
    usernames_follow_the_connection_rules,
);

fn is_auth0_timestamp(v: &Value) -> bool {
    let s = v.as_str().unwrap_or("");
    s.len() == 24 && s.ends_with('Z') && s.as_bytes()[10] == b'T' && s.as_bytes()[19] == b'.'
}

async fn create_returns_auth0_profile_and_hashes_password(b: Backend) {
    let s = Server::start(b).await;
    let u = s
        .create_user(json!({"email": "Jane.Doe@Example.COM", "password": "correct horse battery 9", "user_metadata": {"lang": "fr"}}))
        .await;
    let id = u["user_id"].as_str().unwrap();
    let local = id.strip_prefix("auth0|").unwrap();
    assert_eq!(local.len(), 24);
    assert!(local.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(u["email"], "jane.doe@example.com");
    assert_eq!(u["email_verified"], false);
    assert_eq!(u["name"], "jane.doe@example.com");
    assert_eq!(u["nickname"], "jane.doe");
    assert_eq!(
        u["identities"],
        json!([{"connection": "Username-Password-Authentication", "user_id": local, "provider": "auth0", "isSocial": false}])
    );
    assert_eq!(u["user_metadata"], json!({"lang": "fr"}));
    assert_eq!(u["app_metadata"], json!({}));
    assert_eq!(u["logins_count"], 0);
    assert_eq!(u["blocked"], false);
    assert!(is_auth0_timestamp(&u["created_at"]), "{u}");
    assert_eq!(u["created_at"], u["updated_at"]);
    let text = u.to_string();
    assert!(!text.contains("correct horse") && !text.contains("password"), "{text}");

    let stored = s.store.user(id).await.unwrap().unwrap();
    let hash = stored.password_hash.unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains("correct horse"));
    let hasher = crate::kit::test_hasher();
    let parsed = hasher.parse_stored(&hash).unwrap();
    assert!(hasher.verify(&parsed, "correct horse battery 9"));
    assert!(!hasher.verify(&parsed, "correct horse battery 9!"));

    let (status, got) = s.api("GET", &format!("/api/v2/users/{}", id.replace('|', "%7C")), None).await;
    assert_eq!(status, 200);
    assert_eq!(got, u);
    s.stop().await;
}

async fn duplicate_email_conflicts_per_connection(b: Backend) {
    let s = Server::start(b).await;
    s.create_user(json!({"email": "dup@example.com"})).await;
    let (status, body) = s
        .api(
            "POST",
            "/api/v2/users",
            Some(json!({"connection": "Username-Password-Authentication", "email": "DUP@example.com"})),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(auth0_error(409, &body, "auth0_idp_error"), "The user already exists.");
    // Another connection may hold the same email.
    let (st, _) = s.api("POST", "/api/v2/connections", Some(json!({"name": "other-db", "strategy": "auth0"}))).await;
    assert_eq!(st, 201);
    s.create_user(json!({"connection": "other-db", "email": "dup@example.com"})).await;
    let (_, list) = s.api("GET", "/api/v2/users-by-email?email=dup@example.com", None).await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    // A given user_id that exists conflicts too.
    s.create_user(json!({"email": "a@example.com", "user_id": "fixed-1"})).await;
    let (status, _) = s
        .api("POST", "/api/v2/users", Some(json!({"connection": "Username-Password-Authentication", "email": "b@example.com", "user_id": "fixed-1"})))
        .await;
    assert_eq!(status, 409);
    s.stop().await;
}

async fn patch_merges_metadata_like_auth0(b: Backend) {
    let s = Server::start(b).await;
    let u = s
        .create_user(json!({"email": "m@example.com", "email_verified": true, "user_metadata": {"a": 1, "b": {"x": 1}}, "app_metadata": {"plan": "free"}}))
        .await;
    let path = format!("/api/v2/users/{}", u["user_id"].as_str().unwrap());
    let (status, p) = s
        .api(
            "PATCH",
            &path,
            Some(
                json!({"user_metadata": {"b": {"y": 2}, "c": 3, "a": null}, "app_metadata": null, "given_name": "Mia"}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{p}");
    // First level merged, nested objects replaced, null removes a key or clears the object.
    assert_eq!(p["user_metadata"], json!({"b": {"y": 2}, "c": 3}));
    assert_eq!(p["app_metadata"], json!({}));
    assert_eq!(p["given_name"], "Mia");
    assert_eq!(p["email_verified"], true);
    assert_ne!(p["updated_at"], Value::Null);
    // A changed email is unverified unless the same patch verifies it.
    let (_, p) = s.api("PATCH", &path, Some(json!({"email": "new@example.com"}))).await;
    assert_eq!(p["email"], "new@example.com");
    assert_eq!(p["email_verified"], false);
    let (_, p) = s.api("PATCH", &path, Some(json!({"email": "newer@example.com", "email_verified": true}))).await;
    assert_eq!(p["email_verified"], true);
    // null unsets a supported attribute.
    let (_, p) = s.api("PATCH", &path, Some(json!({"given_name": null}))).await;
    assert!(p.get("given_name").is_none(), "{p}");
    // A new password replaces the hash and records the reset.
    let before = s.store.user(u["user_id"].as_str().unwrap()).await.unwrap().unwrap();
    let (status, p) = s.api("PATCH", &path, Some(json!({"password": "a new secret 42"}))).await;
    assert_eq!(status, 200, "{p}");
    let after = s.store.user(u["user_id"].as_str().unwrap()).await.unwrap().unwrap();
    assert_ne!(before.password_hash, after.password_hash);
    assert!(after.last_password_reset.is_some());
    s.stop().await;
}

async fn patch_rejects_exclusive_fields_and_writes_nothing(b: Backend) {
    let s = Server::start(b).await;
    let u = s.create_user(json!({"email": "x@example.com"})).await;
    let path = format!("/api/v2/users/{}", u["user_id"].as_str().unwrap());
    let (status, body) = s.api("PATCH", &path, Some(json!({"password": "p4ssword", "email": "y@example.com"}))).await;
    assert_eq!(status, 400);
    assert_eq!(auth0_error(400, &body, "invalid_body"), "Cannot update password and email simultaneously");
    let (status, body) = s.api("PATCH", &path, Some(json!({"name": "ok", "user_metadata": {"bad.key": 1}}))).await;
    assert_eq!(status, 400, "{body}");
    let (_, now) = s.api("GET", &path, None).await;
    assert_eq!(now, u, "a rejected patch changes nothing");
    let (status, body) = s.api("PATCH", "/api/v2/users/auth0%7Cnobody", Some(json!({"name": "n"}))).await;
    assert_eq!(status, 404);
    assert_eq!(auth0_error(404, &body, "inexistent_user"), "The user does not exist.");
    s.stop().await;
}

async fn delete_then_get_is_inexistent_user(b: Backend) {
    let s = Server::start(b).await;
    let u = s.create_user(json!({"email": "gone@example.com"})).await;
    let path = format!("/api/v2/users/{}", u["user_id"].as_str().unwrap());
    let (status, _) = s.api("DELETE", &path, None).await;
    assert_eq!(status, 204);
    let (status, body) = s.api("GET", &path, None).await;
    assert_eq!(status, 404);
    auth0_error(404, &body, "inexistent_user");
    // The email is free again.
    s.create_user(json!({"email": "gone@example.com"})).await;
    s.stop().await;
}

async fn users_by_email_is_an_array_of_exact_matches(b: Backend) {
    let s = Server::start(b).await;
    s.create_user(json!({"email": "alice@example.com"})).await;
    s.create_user(json!({"email": "alice2@example.com"})).await;
    let (status, list) = s.api("GET", "/api/v2/users-by-email?email=Alice@Example.com", None).await;
    assert_eq!(status, 200);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["email"], "alice@example.com");
    let (_, list) = s.api("GET", "/api/v2/users-by-email?email=nobody@example.com&fields=email", None).await;
    assert_eq!(list, json!([]));
    let (_, list) = s.api("GET", "/api/v2/users-by-email?email=alice@example.com&fields=email,user_id", None).await;
    let keys: Vec<&String> = list[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["email", "user_id"]);
    let (status, body) = s.api("GET", "/api/v2/users-by-email?email=not-an-email", None).await;
    assert_eq!(status, 400);
    assert!(auth0_error(400, &body, "invalid_query_string").contains("email"));
    s.stop().await;
}

async fn search_paging_sort_and_fields(b: Backend) {
    let s = Server::start(b).await;
    for i in 0..12 {
        s.create_user(json!({
            "email": format!("user{i:02}@{}", if i % 2 == 0 { "even.example" } else { "odd.example" }),
            "given_name": if i < 3 { "Ann" } else { "Bob" },
            "app_metadata": {"tier": i % 3, "roles": if i == 5 { json!(["admin", "ops"]) } else { json!(["user"]) }},
            "user_metadata": {"lang": if i == 7 { "de" } else { "en" }},
        }))
        .await;
    }
    let search = |q: &str| format!("/api/v2/users?q={}&search_engine=v3&per_page=100", urlencode(q));
    let ids = |v: &Value| -> Vec<String> {
        v.as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap().to_string()).collect()
    };

    let (status, r) = s.api("GET", &search(r#"email:"user03@odd.example""#), None).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(ids(&r), ["user03@odd.example"]);
    let (_, r) = s.api("GET", &format!("{}&sort=email:1", search("email:user1*")), None).await;
    assert_eq!(ids(&r), ["user10@even.example", "user11@odd.example"]);
    let (_, r) =
        s.api("GET", &format!("{}&sort=email:-1", search("given_name:ann AND NOT email:*even.example")), None).await;
    assert_eq!(ids(&r), ["user01@odd.example"]);
    let (_, r) = s.api("GET", &search("app_metadata.roles:admin"), None).await;
    assert_eq!(ids(&r), ["user05@odd.example"]);
    let (_, r) = s.api("GET", &search("user_metadata.lang:de OR email:\"user00@even.example\""), None).await;
    let mut got = ids(&r);
    got.sort();
    assert_eq!(got, ["user00@even.example", "user07@odd.example"]);
    let (_, r) = s.api("GET", &search("logins_count:[0 TO 5]"), None).await;
    assert_eq!(r.as_array().unwrap().len(), 12);

    // Paging with totals, Auth0's envelope.
    let (_, r) =
        s.api("GET", "/api/v2/users?per_page=5&page=2&include_totals=true&sort=email:1&fields=email", None).await;
    assert_eq!(r["start"], 2);
    assert_eq!(r["limit"], 5);
    assert_eq!(r["length"], 2);
    assert_eq!(r["total"], 12);
    assert_eq!(r["users"], json!([{"email": "user10@even.example"}, {"email": "user11@odd.example"}]));
    let (_, r) =
        s.api("GET", "/api/v2/users?per_page=1&sort=email:1&fields=email,identities&include_fields=false", None).await;
    let u = &r[0];
    assert!(u.get("email").is_none() && u.get("identities").is_none() && u.get("user_id").is_some(), "{u}");
    let (_, r) = s.api("GET", "/api/v2/users?connection=Username-Password-Authentication&per_page=100", None).await;
    assert_eq!(r.as_array().unwrap().len(), 12);

    // Bad queries are 400s that say what is wrong.
    let (status, body) = s.api("GET", &search("email:(unclosed"), None).await;
    assert_eq!(status, 400);
    assert!(auth0_error(400, &body, "invalid_query_string").contains("position"), "{body}");
    let (status, body) = s.api("GET", &search("user_metadata.lang:e*"), None).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = s.api("GET", "/api/v2/users?sort=user_metadata.lang:1", None).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = s.api("GET", "/api/v2/users?page=10&per_page=100", None).await;
    assert_eq!(status, 400);
    assert!(auth0_error(400, &body, "invalid_query_string").contains("first 1000"));
    let (status, _) = s.api("GET", "/api/v2/users?search_engine=v2", None).await;
    assert_eq!(status, 400);
    let (status, _) = s.api("GET", "/api/v2/users?per_page=101", None).await;
    assert_eq!(status, 400);
    // Injection attempts are just values.
    let (status, r) = s.api("GET", &search("email:\"x' OR '1'='1\""), None).await;
    assert_eq!(status, 200);
    assert_eq!(r, json!([]));
    s.stop().await;
}

async fn usernames_follow_the_connection_rules(b: Backend) {
    let s = Server::start(b).await;
    let (status, _) = s
        .api(
            "POST",
            "/api/v2/connections",
            Some(json!({"name": "with-usernames", "strategy": "auth0", "options": {"requires_username": true, "validation": {"username": {"min": 3, "max": 10}}}})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, body) = s
        .api(
            "POST",
            "/api/v2/users",
            Some(
                json!({"connection": "Username-Password-Authentication", "email": "u@example.com", "username": "jane"}),
            ),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        auth0_error(400, &body, "invalid_body"),
        "Cannot set username for connection without requires_username."
    );
    let (status, body) =
        s.api("POST", "/api/v2/users", Some(json!({"connection": "with-usernames", "email": "u@example.com"}))).await;
    assert_eq!(status, 400);
    assert!(auth0_error(400, &body, "invalid_body").contains("username"));
    let (status, body) = s
        .api(
            "POST",
            "/api/v2/users",
            Some(json!({"connection": "with-usernames", "email": "u@example.com", "username": "ab"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    s.create_user(json!({"connection": "with-usernames", "email": "u@example.com", "username": "Jane_1"})).await;
    let (status, body) = s
        .api(
            "POST",
            "/api/v2/users",
            Some(json!({"connection": "with-usernames", "email": "v@example.com", "username": "jane_1"})),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(auth0_error(400, &body, "auth0_idp_error"), "The username provided is in use already.");
    s.stop().await;
}

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
