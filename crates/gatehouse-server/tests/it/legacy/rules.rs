//! The rules other flows call without HTTP: `legacy_user_exists` for sign-up and
//! password reset.

use super::http::{http_store, start, Service};
use crate::kit::{Backend, Server};
use gatehouse_core::connection::Connection;
use gatehouse_services::legacy::{legacy_user, legacy_user_exists};
use serde_json::json;
use std::sync::Arc;

async fn legacy_user_exists_asks_get_user(backend: Backend) {
    let svc = Arc::new(Service::default());
    let (base, stop) = start(svc).await;
    let srv = Server::start(backend).await;
    let (state, store) = (&srv.state, &srv.store);
    let mut c = Connection::new_database("con_rules00000000000".into(), "legacy-rules".into(), state.now());
    c.options.insert("enabledDatabaseCustomization".into(), json!(true));
    c.options.insert("import_mode".into(), json!(true));
    c.options.insert("legacy_store".into(), http_store(&base, false, 2000));
    store.insert_connection(&c).await.unwrap();

    assert!(legacy_user_exists(state, &c, "ada@legacy.test").await.unwrap());
    // Logins are normalized as Gatehouse normalizes emails.
    assert!(legacy_user_exists(state, &c, "  Ada@Legacy.Test ").await.unwrap());
    assert!(!legacy_user_exists(state, &c, "nobody@legacy.test").await.unwrap());
    let ada = legacy_user(state, &c, "ada@legacy.test").await.unwrap().unwrap();
    assert_eq!(ada.user_id, "svc-1");

    // A connection without a legacy store has no legacy users.
    let plain = Connection::new_database("con_plain0000000000".into(), "plain".into(), state.now());
    assert!(!legacy_user_exists(state, &plain, "ada@legacy.test").await.unwrap());

    // A store that is down is an error, never a "no".
    let _ = stop.send(());
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let down = legacy_user_exists(state, &c, "ada@legacy.test").await;
    assert!(matches!(down, Err(gatehouse_legacy::LegacyError::Unavailable(_))), "{down:?}");
    srv.stop().await;
}

crate::on_both_backends!(legacy_user_exists_asks_get_user);
