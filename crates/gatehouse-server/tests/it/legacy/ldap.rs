//! `ldap` legacy stores against a real OpenLDAP `slapd` (`scripts/slapd-test`): users
//! with `{SSHA}` passwords, checked by binding as the user; RFC 4515 escaping of the
//! login; `migrate-remaining` reading `userPassword` with the paged search.

use super::support::{connection, login, logs_in, refused, stored};
use crate::kit::{Backend, Server};
use serde_json::{json, Value};

fn ldap_store() -> Option<Value> {
    let var = |v: &str| std::env::var(v).ok().filter(|s| !s.is_empty());
    let Some(url) = var("GATEHOUSE_TEST_LDAP_URL") else {
        eprintln!("GATEHOUSE_TEST_LDAP_URL is not set (scripts/slapd-test starts a server); the LDAP test is skipped");
        return None;
    };
    Some(json!({"kind": "ldap", "url": url,
        "bind_dn": var("GATEHOUSE_TEST_LDAP_BIND_DN")?, "bind_password": var("GATEHOUSE_TEST_LDAP_BIND_PASSWORD")?,
        "base_dn": var("GATEHOUSE_TEST_LDAP_BASE_DN")?, "user_filter": "(|(mail={login})(uid={login}))",
        "attributes": {"user_id": "uid", "email": "mail", "name": "cn", "given_name": "givenName",
            "family_name": "sn", "password_hash": "userPassword"}}))
}

async fn first_login_migrates(backend: Backend) {
    let Some(store) = ldap_store() else { return };
    let srv = Server::start(backend).await;
    let app = srv.password_client().await;
    let con = connection(&srv, &app, "legacy-ldap", true, store).await;
    refused(&srv, &app, "legacy-ldap", "ada@ldap.test", "not ada's password").await;
    refused(&srv, &app, "legacy-ldap", "nobody@ldap.test", "ada ldap password").await;
    logs_in(&srv, &app, "legacy-ldap", "ada@ldap.test", "ada ldap password").await;
    let ada = stored(&srv, &con, "ada@ldap.test").await.unwrap();
    assert_eq!(ada.user_id, "auth0|ada");
    assert_eq!((ada.name.as_deref(), ada.given_name.as_deref()), (Some("Ada Lovelace"), Some("Ada")));
    assert!(ada.password_hash.as_deref().unwrap().starts_with("$argon2id$"));
    // The username works too.
    logs_in(&srv, &app, "legacy-ldap", "bob", "bob ldap password").await;
    assert!(stored(&srv, &con, "bob@ldap.test").await.is_some());
    srv.stop().await;
}

async fn filter_injection_fails(backend: Backend) {
    let Some(mut store) = ldap_store() else { return };
    // A filter on the uid alone: unescaped, `carol*` or `*)(uid=carol` would find Carol
    // and bind as her with her password.
    store["user_filter"] = json!("(uid={login})");
    let srv = Server::start(backend).await;
    let app = srv.password_client().await;
    let con = connection(&srv, &app, "legacy-ldap", true, store).await;
    for attempt in ["carol*", "c*", "*", "*)(uid=carol", "carol)(|(uid=*", "carol\\2a"] {
        refused(&srv, &app, "legacy-ldap", attempt, "carol ldap password").await;
    }
    assert_eq!(srv.store.count_users_in_connection(&con).await.unwrap(), 0);
    logs_in(&srv, &app, "legacy-ldap", "carol", "carol ldap password").await;
    srv.stop().await;
}

async fn migrate_remaining_reads_the_directory(backend: Backend) {
    let Some(store) = ldap_store() else { return };
    let srv = Server::start(backend).await;
    let app = srv.password_client().await;
    let con = connection(&srv, &app, "legacy-ldap", true, store).await;
    logs_in(&srv, &app, "legacy-ldap", "ada@ldap.test", "ada ldap password").await;
    let (s, job) = srv.api("POST", "/api/v2/jobs/users-migrate-remaining", Some(json!({"connection_id": con}))).await;
    assert_eq!(s, 201, "{job}");
    let path = format!("/api/v2/jobs/{}", job["id"].as_str().unwrap());
    let mut summary = Value::Null;
    for _ in 0..600 {
        let (_, job) = srv.api("GET", &path, None).await;
        if job["status"] == json!("completed") {
            summary = job["summary"].clone();
            break;
        }
        assert_ne!(job["status"], json!("failed"), "{job}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(summary, json!({"total": 3, "inserted": 2, "skipped": 1, "failed": 0}));
    // Carol never logged in: she came with her {SSHA} hash, which Gatehouse verifies.
    let carol = stored(&srv, &con, "carol@ldap.test").await.unwrap();
    assert!(carol.password_hash.as_deref().unwrap().starts_with("{SSHA}"), "{:?}", carol.password_hash);
    // Point the connection at a dead directory: Carol logs in without it.
    let (_, c) = srv.api("GET", &format!("/api/v2/connections/{con}"), None).await;
    let mut options = c["options"].clone();
    options["legacy_store"]["url"] = json!("ldap://127.0.0.1:1");
    let (s, body) = srv.api("PATCH", &format!("/api/v2/connections/{con}"), Some(json!({"options": options}))).await;
    assert_eq!(s, 200, "{body}");
    logs_in(&srv, &app, "legacy-ldap", "carol@ldap.test", "carol ldap password").await;
    let (s, _) = login(&srv, &app, "legacy-ldap", "dave@ldap.test", "whatever").await;
    assert_eq!(s, 503);
    srv.stop().await;
}

crate::on_both_backends!(first_login_migrates, filter_injection_fails, migrate_remaining_reads_the_directory);
