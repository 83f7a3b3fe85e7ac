//! The store calls a password login makes, on both backends: the one-statement success
//! record, the failure-counter state, the paired settings read and the batched audit insert.

use gatehouse_core::connection::Connection;
use gatehouse_core::log_event::LogEvent;
use gatehouse_store::{FailureKey, FailureState, LogQuery, LoginRecord, StoreError, MAX_LOGS_PER_INSERT};
use serde_json::json;

use crate::common::{cleanup, stores, user};

const OLD_HASH: &str = "$2b$10$abcdefghijklmnopqrstuuQ7HZJx.6c9mAW4fJ9P8WB7hKkF8ITeK";

#[tokio::test]
async fn a_login_is_counted_in_one_statement_and_upgrades_only_the_hash_it_verified() {
    for db in stores().await {
        let s = &db.store;
        let c = Connection::new_database("con_loginloginlogin1".into(), "login-db".into(), "t".into());
        s.insert_connection(&c).await.unwrap();
        let u = user(&c, 1);
        s.insert_user(&u).await.unwrap();

        // What the login signs its tokens with, beside the write, is what the write stores.
        let predicted = |before: &gatehouse_core::user::User, record: &LoginRecord<'_>| {
            let mut user = before.clone();
            record.apply_to(&mut user);
            user
        };
        let first = LoginRecord { now: "2026-12-03T10:00:00.000Z", ip: Some("192.0.2.1"), upgrade: None };
        let after = s.record_login(&u.user_id, &first).await.unwrap().unwrap();
        assert_eq!(after, predicted(&u, &first));
        assert_eq!((after.logins_count, after.last_login.as_deref()), (1, Some("2026-12-03T10:00:00.000Z")));
        assert_eq!(
            (after.last_ip.as_deref(), after.updated_at.as_str()),
            (Some("192.0.2.1"), "2026-12-03T10:00:00.000Z")
        );
        assert_eq!(after.password_hash.as_deref(), Some(OLD_HASH));

        // No address: the last known one stays. The hash verified is still stored: replaced.
        let upgrade =
            LoginRecord { now: "2026-12-03T11:00:00.000Z", ip: None, upgrade: Some((OLD_HASH, "$argon2id$new")) };
        let before = after;
        let after = s.record_login(&u.user_id, &upgrade).await.unwrap().unwrap();
        assert_eq!(after, predicted(&before, &upgrade));
        assert_eq!((after.logins_count, after.last_ip.as_deref()), (2, Some("192.0.2.1")));
        assert_eq!(after.password_hash.as_deref(), Some("$argon2id$new"));

        // The password changed since this login verified the old hash: the change wins.
        let stale =
            LoginRecord { now: "2026-12-03T12:00:00.000Z", ip: None, upgrade: Some((OLD_HASH, "$argon2id$late")) };
        let before = after;
        let after = s.record_login(&u.user_id, &stale).await.unwrap().unwrap();
        assert_eq!(after, predicted(&before, &stale));
        assert_eq!((after.logins_count, after.password_hash.as_deref()), (3, Some("$argon2id$new")));
        assert_eq!(s.user(&u.user_id).await.unwrap().unwrap(), after, "what is returned is what is stored");

        assert!(s.record_login("auth0|nobody", &first).await.unwrap().is_none(), "{:?}", s.dialect());
        cleanup(db).await;
    }
}

#[tokio::test]
async fn failure_state_tells_a_block_from_a_counter_and_lets_blocks_lapse() {
    for db in stores().await {
        let s = &db.store;
        let key = FailureKey { connection_id: "con_x", identifier: "ann@example.com", ip: "192.0.2.9" };
        let state = |lapsed: &'static str| s.login_failure_state("con_x", "ann@example.com", "192.0.2.9", lapsed);
        assert_eq!(state("2026-01-01").await.unwrap(), FailureState::default());

        s.record_login_failure(key, None, "2026-12-01T00:00:00.000Z", "2026-11-01", 2).await.unwrap();
        assert_eq!(state("2026-11-01").await.unwrap(), FailureState { blocked: false, counted: true });
        // Another address's counter is not this one's.
        assert_eq!(
            s.login_failure_state("con_x", "ann@example.com", "192.0.2.10", "2026-11-01").await.unwrap(),
            FailureState::default()
        );

        let second = s.record_login_failure(key, None, "2026-12-02T00:00:00.000Z", "2026-11-01", 2).await.unwrap();
        assert!(second.newly_blocked);
        assert_eq!(state("2026-11-01").await.unwrap(), FailureState { blocked: true, counted: true });
        // Thirty days after the last failure the block no longer holds; the row is still there.
        assert_eq!(state("2026-12-03").await.unwrap(), FailureState { blocked: false, counted: true });
        cleanup(db).await;
    }
}

#[tokio::test]
async fn both_settings_come_back_in_the_order_asked_whichever_exist() {
    for db in stores().await {
        let s = &db.store;
        assert_eq!(s.setting_pair("a", "b").await.unwrap(), (None, None));
        s.put_setting("b", &json!({"b": 2}), "t").await.unwrap();
        assert_eq!(s.setting_pair("a", "b").await.unwrap(), (None, Some(json!({"b": 2}))));
        s.put_setting("a", &json!({"a": 1}), "t").await.unwrap();
        assert_eq!(s.setting_pair("b", "a").await.unwrap(), (Some(json!({"b": 2})), Some(json!({"a": 1}))));
        cleanup(db).await;
    }
}

fn event(id: usize) -> LogEvent {
    let mut e = LogEvent::new(format!("9000000000000000{id:06}"), "2026-12-03T10:00:00.000Z".into(), "s");
    e.user_id = Some(format!("auth0|{id}"));
    e.description = Some("tab\t'quote\" 🚪".into());
    e
}

#[tokio::test]
async fn a_batch_of_events_is_stored_whole_or_not_at_all() {
    for db in stores().await {
        let s = &db.store;
        let batch: Vec<LogEvent> = (0..MAX_LOGS_PER_INSERT).map(event).collect();
        s.insert_logs(&batch).await.unwrap();
        let (_, total) = s.logs(&LogQuery { limit: 1, ..Default::default() }).await.unwrap();
        assert_eq!(total, MAX_LOGS_PER_INSERT as u64);
        assert_eq!(s.log(&batch[7].log_id).await.unwrap().unwrap(), batch[7].to_auth0_json());

        // One event already stored: the statement fails and none of the new ones are kept.
        let mixed = vec![event(100_000), event(3), event(100_001)];
        assert!(s.insert_logs(&mixed).await.is_err(), "{:?}", s.dialect());
        assert!(s.log(&event(100_000).log_id).await.unwrap().is_none());

        let too_many: Vec<LogEvent> = (0..=MAX_LOGS_PER_INSERT).map(|i| event(200_000 + i)).collect();
        assert!(matches!(s.insert_logs(&too_many).await, Err(StoreError::InvalidQuery(_))));
        cleanup(db).await;
    }
}

/// The point reads run on held connections (SQLite files): each sees every write committed
/// before it through the pool, and many at once share the few connections.
#[tokio::test]
async fn point_reads_see_every_committed_write_and_run_concurrently() {
    for db in stores().await {
        let s = &db.store;
        let c = Connection::new_database("con_readreadreadread".into(), "read-db".into(), "t".into());
        s.insert_connection(&c).await.unwrap();
        let mut u = user(&c, 7);
        assert!(s.user(&u.user_id).await.unwrap().is_none());
        s.insert_user(&u).await.unwrap();
        assert_eq!(s.user(&u.user_id).await.unwrap().as_ref(), Some(&u));
        for i in 0..20 {
            u.logins_count = i;
            let record = LoginRecord { now: "2026-12-03T10:00:00.000Z", ip: None, upgrade: None };
            let stored = s.record_login(&u.user_id, &record).await.unwrap().unwrap();
            let login = u.email.clone().unwrap();
            assert_eq!(s.user_by_login(&c.id, &login).await.unwrap().unwrap().logins_count, stored.logins_count);
        }
        s.put_setting("x", &json!({"v": 1}), "t").await.unwrap();
        assert_eq!(s.setting_pair("x", "y").await.unwrap().0, Some(json!({"v": 1})));
        s.put_setting("x", &json!({"v": 2}), "t").await.unwrap();
        assert_eq!(s.setting_pair("x", "y").await.unwrap().0, Some(json!({"v": 2})));
        assert!(s.delete_user(&u.user_id).await.unwrap());
        assert!(s.user(&u.user_id).await.unwrap().is_none(), "a deletion is seen at once");

        let mut reads = tokio::task::JoinSet::new();
        for _ in 0..64 {
            let s = s.clone();
            let name = c.name.clone();
            reads.spawn(async move { s.connection_by_name(&name).await });
        }
        while let Some(r) = reads.join_next().await {
            assert_eq!(r.unwrap().unwrap().unwrap().id, c.id);
        }
        cleanup(db).await;
    }
}

/// A password login's own statements and the read by id (on an SQLite file, synchronous connections beside
/// sqlx's): the user found by login is the user as stored, every column decoded alike;
/// an email wins over another user's equal username; the success write returns the row.
#[tokio::test]
async fn the_logins_own_reads_and_write_agree_with_the_store() {
    for db in stores().await {
        let s = &db.store;
        let c = Connection::new_database("con_hothothothothot1".into(), "hot-db".into(), "t".into());
        s.insert_connection(&c).await.unwrap();
        let mut full = user(&c, 3);
        full.username = Some("carol".into());
        full.phone_number = Some("+15555550123".into());
        full.phone_verified = true;
        full.nickname = Some("Caz".into());
        full.given_name = Some("Carol".into());
        full.family_name = Some("Ng".into());
        full.picture = Some("https://example.com/c.png".into());
        full.app_metadata.insert("plan".into(), json!({"tier": "gold", "seats": [1, 2]}));
        full.blocked = true;
        full.logins_count = 41;
        full.last_login = Some("2026-12-01T00:00:00.000Z".into());
        full.last_ip = Some("192.0.2.1".into());
        full.last_password_reset = Some("2026-11-01T00:00:00.000Z".into());
        s.insert_user(&full).await.unwrap();
        // Another user whose username is the first one's email.
        let mut other = user(&c, 4);
        other.username = full.email.clone();
        s.insert_user(&other).await.unwrap();

        let email = full.email.clone().unwrap();
        assert_eq!(s.user_by_login(&c.id, &email).await.unwrap().as_ref(), Some(&full), "email first");
        assert_eq!(s.user_by_login(&c.id, "carol").await.unwrap().as_ref(), Some(&full), "by username");
        assert_eq!(s.user_by_login(&c.id, "nobody").await.unwrap(), None);
        assert_eq!(s.user_by_login("con_another", &email).await.unwrap(), None, "another connection's");
        assert_eq!(s.user(&full.user_id).await.unwrap().as_ref(), Some(&full), "by id");
        assert_eq!(s.user("auth0|nobody").await.unwrap(), None);

        let record = LoginRecord { now: "2026-12-04T10:00:00.000Z", ip: Some("192.0.2.7"), upgrade: None };
        let written = s.record_login(&full.user_id, &record).await.unwrap().unwrap();
        assert_eq!(Some(&written), s.user(&full.user_id).await.unwrap().as_ref());
        // Through sqlx (the pool), the same row.
        assert_eq!(s.users_by_email(&email).await.unwrap(), vec![written.clone()]);
        assert_eq!((written.logins_count, written.last_ip.as_deref()), (42, Some("192.0.2.7")));
        assert_eq!(s.record_login("auth0|gone", &record).await.unwrap(), None);
        cleanup(db).await;
    }
}

#[tokio::test]
async fn configuration_reads_see_this_nodes_writes_at_once_and_another_nodes_within_the_ttl() {
    for db in stores().await {
        let (here, there) = (&db.store, crate::common::another_node(&db).await);
        let (a, b) = ("brute-force-protection", "suspicious-ip-throttling");
        assert_eq!(here.setting_pair(a, b).await.unwrap(), (None, None));
        // This node's own write is seen at once (it forgets what it had read).
        here.put_setting(a, &json!({"enabled": false}), "t1").await.unwrap();
        assert_eq!(here.setting_pair(a, b).await.unwrap().0, Some(json!({"enabled": false})));
        // Another node's write: this one may answer from what it read for up to the TTL...
        there.put_setting(a, &json!({"enabled": true}), "t2").await.unwrap();
        let soon = here.setting_pair(a, b).await.unwrap().0;
        assert!(soon == Some(json!({"enabled": false})) || soon == Some(json!({"enabled": true})));
        // ...and never longer.
        tokio::time::sleep(gatehouse_store::CONFIG_TTL + std::time::Duration::from_millis(50)).await;
        assert_eq!(here.setting_pair(a, b).await.unwrap().0, Some(json!({"enabled": true})), "{:?}", here.dialect());
        there.close().await;
        cleanup(db).await;
    }
}
