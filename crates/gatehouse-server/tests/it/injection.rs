//! SQL injection through every query input that reaches the store: `q` on users and
//! logs (terms, phrases, wildcards, ranges, metadata paths), `sort`, `fields`,
//! `connection`, `users-by-email`, path ids and paging checkpoints. Each hostile value is
//! an ordinary value: never a 5xx, never a match it should not make, and the data is intact.

use crate::kit::{Backend, Server};
use serde_json::{json, Value};

crate::on_both_backends!(hostile_values_are_only_values, wildcards_match_literally);

const PAYLOADS: &[&str] = &[
    "' OR '1'='1",
    "x' OR 1=1 --",
    "\" OR \"\"=\"",
    "'; DROP TABLE users; --",
    "1); DELETE FROM users; --",
    "') OR ('a'='a",
    "%' OR '%'='",
    "' UNION SELECT user_id, password_hash FROM users --",
    "$1",
    "?",
    "\\' OR 1=1 #",
    "x\u{0}y",
    "' || (SELECT password_hash FROM users LIMIT 1) || '",
    "users; --",
    "email) OR (1=1",
];

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The user list as the admin sees it, unaffected by what was sent before.
async fn all_emails(s: &Server) -> Vec<String> {
    let (status, list) = s.api("GET", "/api/v2/users?include_totals=true&sort=email:1", None).await;
    assert_eq!(status, 200, "{list}");
    list["users"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap().to_string()).collect()
}

fn ok_or_refused(status: u16, what: &str, body: &Value) {
    assert!(matches!(status, 200 | 400 | 404), "{what} → {status} {body}");
}

async fn hostile_values_are_only_values(b: Backend) {
    let s = Server::start(b).await;
    // A quote in stored data must round-trip and be found exactly (bound, not escaped away).
    s.create_user(
        json!({"email": "o'brien@example.com", "password": "Quote-me-1!x", "user_metadata": {"note": "it's"}}),
    )
    .await;
    s.create_user(json!({"email": "plain@example.com", "password": "Plain-user-1!x"})).await;
    let before = all_emails(&s).await;
    assert_eq!(before, ["o'brien@example.com", "plain@example.com"]);

    let (status, found) =
        s.api("GET", &format!("/api/v2/users?q={}", enc("email:\"o'brien@example.com\"")), None).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    let (_, found) = s.api("GET", &format!("/api/v2/users?q={}", enc("user_metadata.note:\"it's\"")), None).await;
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    let (_, found) = s.api("GET", &format!("/api/v2/users-by-email?email={}", enc("o'brien@example.com")), None).await;
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");

    for p in PAYLOADS {
        let quoted = format!("\"{}\"", p.replace('"', "\\\""));
        let queries = [
            format!("email:{quoted}"),
            format!("name:{quoted}"),
            format!("user_metadata.note:{quoted}"),
            format!("app_metadata.plan:{quoted}"),
            format!("email:{quoted} OR email:\"nobody@example.com\""),
            format!("created_at:[{quoted} TO *]"),
            format!("email:{}*", p.replace([' ', '"', ':', '(', ')', '[', ']'], "")),
            p.to_string(),
        ];
        for q in queries {
            let (status, body) = s.api("GET", &format!("/api/v2/users?q={}", enc(&q)), None).await;
            ok_or_refused(status, &format!("users q={q}"), &body);
            if status == 200 {
                // Nothing here matches a payload: a match would mean SQL saw it as SQL.
                assert_eq!(body, json!([]), "users q={q} matched");
            }
        }
        let other_inputs = [
            format!("/api/v2/users?sort={}", enc(p)),
            format!("/api/v2/users?sort={}:1", enc(p)),
            format!("/api/v2/users?fields={}&include_fields=true", enc(p)),
            format!("/api/v2/users?connection={}", enc(p)),
            format!("/api/v2/users-by-email?email={}", enc(p)),
            format!("/api/v2/users/{}", enc(p)),
            format!("/api/v2/users/{}/logs", enc(&format!("auth0|{p}"))),
            format!("/api/v2/logs?q={}", enc(&format!("type:\"{}\"", p.replace('"', "")))),
            format!("/api/v2/logs?q={}", enc(p)),
            format!("/api/v2/logs?from={}&take=10", enc(p)),
            format!("/api/v2/logs/{}", enc(p)),
            format!("/api/v2/connections?name={}", enc(p)),
            format!("/api/v2/connections?from={}&take=10", enc(p)),
            format!("/api/v2/user-blocks?identifier={}", enc(p)),
        ];
        for path in other_inputs {
            let (status, body) = s.api("GET", &path, None).await;
            ok_or_refused(status, &path, &body);
            // A filter by a hostile value matches nobody.
            let filters = ["/api/v2/users?connection", "/api/v2/users-by-email"];
            if status == 200 && filters.iter().any(|f| path.starts_with(f)) {
                assert_eq!(body, json!([]), "{path}");
            }
        }
    }
    // A NUL character (PostgreSQL cannot store one) is refused where it enters, by name.
    for (body, field) in [
        (
            json!({"connection": "Username-Password-Authentication", "email": "n@example.com", "name": "a\u{0}b"}),
            "name",
        ),
        (
            json!({"connection": "Username-Password-Authentication", "email": "n@example.com", "user_metadata": {"k": ["\u{0}"]}}),
            "user_metadata.k[0]",
        ),
    ] {
        let (status, resp) = s.api("POST", "/api/v2/users", Some(body)).await;
        assert_eq!(status, 400, "{resp}");
        assert!(resp["message"].as_str().unwrap().contains(&format!("on property {field}")), "{resp}");
    }
    let (status, resp) = s.api("GET", "/api/v2/users/auth0%7Cx%00y", None).await;
    assert!(matches!(status, 400 | 404), "{status} {resp}");

    // Nothing was changed or dropped by any of it.
    assert_eq!(all_emails(&s).await, before);
    let (status, logs) = s.api("GET", "/api/v2/logs?per_page=5", None).await;
    assert_eq!(status, 200, "{logs}");
    s.stop().await;
}

/// `*` is the only wildcard: SQL's `%` and `_` in a prefix search are literal characters.
async fn wildcards_match_literally(b: Backend) {
    let s = Server::start(b).await;
    for email in ["a_b@example.com", "axb@example.com", "a%c@example.com", "abc@example.com"] {
        s.create_user(json!({"email": email, "password": "Wildcard-1!xyz"})).await;
    }
    for (q, expected) in [
        ("email:a_b*", vec!["a_b@example.com"]),
        ("email:a%c*", vec!["a%c@example.com"]),
        ("email:a*", vec!["a%c@example.com", "a_b@example.com", "abc@example.com", "axb@example.com"]),
        ("email:\"a_b@example.com\"", vec!["a_b@example.com"]),
    ] {
        let (status, body) = s.api("GET", &format!("/api/v2/users?sort=email:1&q={}", enc(q)), None).await;
        assert_eq!(status, 200, "{q}: {body}");
        let got: Vec<&str> = body.as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap()).collect();
        assert_eq!(got, expected, "q={q}");
    }
    s.stop().await;
}
