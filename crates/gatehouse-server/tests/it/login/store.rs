//! The store's sign-in state on both backends: single-use codes under concurrency,
//! refresh rotation with family revocation, sessions and transactions. PostgreSQL joins
//! when `GATEHOUSE_TEST_POSTGRES_URL` is set.

use super::fixture::user;
use crate::kit::{Backend, TestDb};
use gatehouse_core::clock::{iso8601, Clock, SystemClock};
use gatehouse_core::connection::DEFAULT_DATABASE_CONNECTION;
use gatehouse_services::bootstrap::ensure_default_connection;
use gatehouse_store::{
    AuthCode, CodeRedemption, Device, GrantFilter, LoginSession, LoginTransaction, RefreshGrant, RefreshRedemption,
    RefreshRequest, RefreshToken, SessionDetails, Store, Successor,
};

/// A migrated store on one backend, with the default connection and the user `u1`.
struct Db {
    store: Store,
    _database: TestDb,
}

async fn database(backend: Backend) -> Db {
    let database = TestDb::create(backend).await;
    let store = database.store().await;
    let now = iso8601(SystemClock.now());
    ensure_default_connection(&store, &now).await.unwrap();
    let conn = store.connection_by_name(DEFAULT_DATABASE_CONNECTION).await.unwrap().unwrap();
    store.insert_user(&user("u1", "u1@example.com", None, &conn.id, &now)).await.unwrap();
    Db { store, _database: database }
}

fn code(hash: &str) -> AuthCode {
    AuthCode {
        code_hash: hash.into(),
        family_id: "fam-code".into(),
        client_id: "c".into(),
        redirect_uri: "https://app/cb".into(),
        code_challenge: None,
        code_challenge_method: None,
        nonce: Some("n".into()),
        scope: "openid".into(),
        audience: None,
        user_id: "auth0|u1".into(),
        auth_time: 100,
        sid: Some("sid".into()),
        created_at: 100,
        expires_at: 160,
        used_at: None,
        amr: None,
        action_claims: None,
    }
}

fn session_at(t: i64) -> LoginSession {
    LoginSession {
        id_hash: String::new(),
        sid: String::new(),
        user_id: "auth0|u1".into(),
        auth_time: t,
        created_at: t,
        expires_at: t,
        method: None,
        initial: Device::default(),
        last: Device::default(),
        last_interacted_at: None,
    }
}

fn refresh(hash: &str, family: &str) -> RefreshToken {
    RefreshToken {
        token_hash: hash.into(),
        family_id: family.into(),
        client_id: "c".into(),
        user_id: "auth0|u1".into(),
        scope: "openid offline_access".into(),
        // Every column its own value, so a decoder reading one for another is caught.
        audience: Some("https://api.example/".into()),
        sid: Some(format!("sid-{family}")),
        auth_time: 90,
        created_at: 100,
        expires_at: 10_000,
        rotated_at: None,
        revoked_at: None,
    }
}

async fn one_concurrent_code_redemption_wins(backend: Backend) {
    let db = database(backend).await;
    db.store.insert_auth_code(&code("h1")).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = db.store.clone();
        tasks.push(tokio::spawn(async move { store.redeem_auth_code("h1", 120).await.unwrap() }));
    }
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            CodeRedemption::Redeemed(c) => {
                won += 1;
                assert_eq!(c.nonce.as_deref(), Some("n"));
            }
            CodeRedemption::Replayed(c) => assert_eq!(c.used_at, Some(120)),
            CodeRedemption::Unknown => panic!("the code exists"),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(db.store.redeem_auth_code("nope", 120).await.unwrap(), CodeRedemption::Unknown);
    db.store.close().await;
}

fn successor(token_hash: &str) -> Successor<'_> {
    Successor { token_hash, expires_at: 100_000 }
}

async fn refresh_rotation_and_reuse_revoke_the_family(backend: Backend) {
    let db = database(backend).await;
    let s = &db.store;
    s.insert_refresh_token(&refresh("r1", "fam"), None).await.unwrap();
    let out = s.rotate_refresh_token("r1", &successor("r2"), 200).await.unwrap();
    assert!(matches!(out, RefreshRedemption::Rotated(t) if t.token_hash == "r1"));
    // The successor inherits the grant; only its own hash and times are new.
    let r2 = s.refresh_token("r2").await.unwrap().unwrap();
    assert_eq!(
        r2,
        RefreshToken { token_hash: "r2".into(), created_at: 200, expires_at: 100_000, ..refresh("r1", "fam") }
    );
    assert_eq!(s.refresh_token("r1").await.unwrap().unwrap().rotated_at, Some(200));
    // The grant's one read (synchronous on SQLite files) agrees with the two plain ones.
    let (token, owner) = s.refresh_token_and_user("r2").await.unwrap().unwrap();
    assert_eq!(token, r2);
    assert_eq!(owner, s.user(&r2.user_id).await.unwrap());
    assert!(owner.is_some());
    assert!(s.refresh_token_and_user("zzz").await.unwrap().is_none());
    // r2 works once.
    let out = s.rotate_refresh_token("r2", &successor("r3"), 210).await.unwrap();
    assert!(matches!(out, RefreshRedemption::Rotated(_)));
    // Reusing r1: reuse detected, whole family revoked, r3 dead.
    let out = s.rotate_refresh_token("r1", &successor("never"), 220).await.unwrap();
    assert!(matches!(out, RefreshRedemption::Reused(_)));
    assert!(s.refresh_token("never").await.unwrap().is_none());
    let out = s.rotate_refresh_token("r3", &successor("r4"), 230).await.unwrap();
    assert_eq!(out, RefreshRedemption::Invalid);
    assert!(s.refresh_token("r3").await.unwrap().unwrap().revoked_at.is_some());
    // Expired and unknown tokens.
    s.insert_refresh_token(&refresh("old", "fam2"), None).await.unwrap();
    assert_eq!(s.rotate_refresh_token("old", &successor("x"), 20_000).await.unwrap(), RefreshRedemption::Invalid);
    assert_eq!(s.rotate_refresh_token("zzz", &successor("y"), 1).await.unwrap(), RefreshRedemption::Invalid);
    // A family revoked explicitly (code replay).
    s.insert_refresh_token(&refresh("c1", "fam-code"), None).await.unwrap();
    assert_eq!(s.revoke_refresh_family("fam-code", 300).await.unwrap(), 1);
    assert_eq!(s.rotate_refresh_token("c1", &successor("c2"), 301).await.unwrap(), RefreshRedemption::Invalid);
    db.store.close().await;
}

/// The refresh grant's one write rotates only when everything about the grant holds,
/// and otherwise writes nothing (no rotation, no successor, no revocation).
async fn a_rotation_if_granted_checks_client_user_scope_and_state_together(backend: Backend) {
    let db = database(backend).await;
    let s = &db.store;
    let conn = s.connection_by_name(DEFAULT_DATABASE_CONNECTION).await.unwrap().unwrap();
    let mut blocked = user("u2", "u2@example.com", None, &conn.id, &iso8601(SystemClock.now()));
    blocked.blocked = true;
    s.insert_user(&blocked).await.unwrap();
    s.insert_refresh_token(&refresh("g1", "fam-g"), None).await.unwrap();
    s.insert_refresh_token(&RefreshToken { user_id: "auth0|u2".into(), ..refresh("b1", "fam-b") }, None).await.unwrap();
    let ask = |token_hash: &'static str, client_id: &'static str, scopes: &'static [&'static str]| RefreshRequest {
        token_hash,
        client_id,
        scopes,
    };
    let untouched = |hash: &'static str| async move {
        let t = s.refresh_token(hash).await.unwrap().unwrap();
        (t.rotated_at, t.revoked_at)
    };
    for (refused, why) in [
        (ask("g1", "other-client", &[]), "another client"),
        (ask("g1", "c", &["openid", "email"]), "a scope never granted"),
        (ask("b1", "c", &[]), "a blocked user"),
        (ask("nope", "c", &[]), "an unknown token"),
    ] {
        let out = s.rotate_refresh_token_if_granted(&refused, &successor("never"), 200).await.unwrap();
        assert!(out.is_none(), "{why}: {:?}", s.dialect());
    }
    assert_eq!(untouched("g1").await, (None, None));
    assert_eq!(untouched("b1").await, (None, None));
    assert!(s.refresh_token("never").await.unwrap().is_none());

    // Narrowed to a scope it grants: rotated, the token and its user back.
    let (token, owner) =
        s.rotate_refresh_token_if_granted(&ask("g1", "c", &["openid"]), &successor("g2"), 200).await.unwrap().unwrap();
    assert_eq!(token, RefreshToken { rotated_at: Some(200), ..refresh("g1", "fam-g") });
    assert_eq!(Some(owner), s.user("auth0|u1").await.unwrap());
    assert_eq!(untouched("g1").await, (Some(200), None));
    assert_eq!(s.refresh_token("g2").await.unwrap().unwrap().family_id, "fam-g");
    // Presented again: refused here, without a revocation (the caller's second look,
    // rotate_refresh_token, finds the reuse).
    assert!(s.rotate_refresh_token_if_granted(&ask("g1", "c", &[]), &successor("g3"), 210).await.unwrap().is_none());
    assert_eq!(untouched("g2").await, (None, None));
    assert!(matches!(s.rotate_refresh_token("g1", &successor("g3"), 210).await.unwrap(), RefreshRedemption::Reused(_)));
    assert!(untouched("g2").await.1.is_some());
    // Expired.
    s.insert_refresh_token(&refresh("e1", "fam-e"), None).await.unwrap();
    assert!(s.rotate_refresh_token_if_granted(&ask("e1", "c", &[]), &successor("e2"), 10_000).await.unwrap().is_none());
    db.store.close().await;
}

async fn a_rotation_that_fails_midway_changes_nothing_and_the_writer_goes_on(backend: Backend) {
    let db = database(backend).await;
    let s = &db.store;
    s.insert_refresh_token(&refresh("live", "fam-a"), None).await.unwrap();
    s.insert_refresh_token(&refresh("taken", "fam-b"), None).await.unwrap();
    // The successor's hash collides: the insert fails after the transaction began.
    assert!(s.rotate_refresh_token("live", &successor("taken"), 150).await.is_err());
    assert_eq!(s.refresh_token("live").await.unwrap().unwrap().rotated_at, None, "{:?}", s.dialect());
    assert_eq!(s.refresh_token("taken").await.unwrap().unwrap().family_id, "fam-b");
    // A write that fails on a constraint (no such user) does not stop the next ones.
    let mut orphan = refresh("orphan", "fam-c");
    orphan.user_id = "auth0|nobody".into();
    assert!(s.insert_refresh_token(&orphan, None).await.is_err());
    let out = s.rotate_refresh_token("live", &successor("live-2"), 160).await.unwrap();
    assert!(matches!(out, RefreshRedemption::Rotated(_)));
    assert_eq!(s.refresh_token("live-2").await.unwrap().unwrap().family_id, "fam-a");
    db.store.close().await;
}

async fn one_concurrent_rotation_wins_and_stores_one_successor(backend: Backend) {
    let db = database(backend).await;
    let mut r = refresh("race", "fam-race");
    r.audience = Some("https://api.test/".into());
    r.sid = Some("sid-1".into());
    db.store.insert_refresh_token(&r, None).await.unwrap();
    let tries: Vec<_> = (0..8)
        .map(|i| {
            let store = db.store.clone();
            tokio::spawn(async move {
                let hash = format!("next-{i}");
                store.rotate_refresh_token("race", &successor(&hash), 150).await.map(|o| (hash, o))
            })
        })
        .collect();
    let mut rotated = Vec::new();
    for t in tries {
        let (hash, outcome) = t.await.unwrap().unwrap();
        match outcome {
            RefreshRedemption::Rotated(_) => rotated.push(hash),
            // The others presented a token already rotated: reuse, the family is revoked.
            RefreshRedemption::Reused(_) | RefreshRedemption::Invalid => {
                assert!(db.store.refresh_token(&hash).await.unwrap().is_none(), "a loser stored its successor")
            }
        }
    }
    assert_eq!(rotated.len(), 1, "{:?}", db.store.dialect());
    let winner = db.store.refresh_token(&rotated[0]).await.unwrap().unwrap();
    assert_eq!((winner.audience.as_deref(), winner.sid.as_deref()), (Some("https://api.test/"), Some("sid-1")));
    db.store.close().await;
}

async fn sessions_expire_and_transactions_finish_once(backend: Backend) {
    let db = database(backend).await;
    let s = &db.store;
    let session = LoginSession {
        id_hash: "sh".into(),
        sid: "sid1".into(),
        method: Some("pwd".into()),
        initial: Device { ip: Some("192.0.2.1".into()), user_agent: Some("first agent".into()) },
        last: Device { ip: Some("192.0.2.2".into()), user_agent: Some("last agent".into()) },
        last_interacted_at: Some(120),
        expires_at: 200,
        ..session_at(100)
    };
    s.insert_login_session(&session, "c").await.unwrap();
    assert_eq!(s.login_session("sh", 150).await.unwrap(), Some(session.clone()));
    assert_eq!(s.login_session("sh", 200).await.unwrap(), None);
    assert_eq!(s.login_session_by_sid("sid1").await.unwrap(), Some(session));
    assert!(s.delete_login_session("sh").await.unwrap());
    assert!(!s.delete_login_session("sh").await.unwrap());
    let t = LoginTransaction {
        id_hash: "th".into(),
        browser_hash: "bh".into(),
        params: "{}".into(),
        created_at: 100,
        expires_at: 200,
    };
    s.insert_login_transaction(&t).await.unwrap();
    assert_eq!(s.login_transaction("th", 150).await.unwrap(), Some(t));
    assert_eq!(s.login_transaction("th", 250).await.unwrap(), None);
    assert!(s.delete_login_transaction("th").await.unwrap());
    assert!(!s.delete_login_transaction("th").await.unwrap());
    assert_eq!(s.purge_auth_codes(1_000).await.unwrap(), 0);
    // Housekeeping removes only what has expired.
    s.insert_login_session(
        &LoginSession { id_hash: "live".into(), sid: "s-live".into(), expires_at: 5_000, ..session_at(100) },
        "c",
    )
    .await
    .unwrap();
    s.insert_login_session(
        &LoginSession { id_hash: "dead".into(), sid: "s-dead".into(), expires_at: 150, ..session_at(100) },
        "c",
    )
    .await
    .unwrap();
    s.insert_auth_code(&code("old-code")).await.unwrap();
    s.insert_refresh_token(&refresh("old-rt", "f"), None).await.unwrap();
    assert_eq!(s.purge_expired_login_state(1_000, 600).await.unwrap(), 2);
    assert!(s.login_session("live", 1_000).await.unwrap().is_some());
    assert_eq!(s.purge_expired_login_state(20_000, 600).await.unwrap(), 2);
    db.store.close().await;
}

async fn a_refresh_token_comes_with_its_user_in_one_read(backend: Backend) {
    let db = database(backend).await;
    let s = &db.store;
    let mut t = refresh("joined", "fam-j");
    t.created_at = 123;
    s.insert_refresh_token(&t, None).await.unwrap();
    let (token, user) = s.refresh_token_and_user("joined").await.unwrap().unwrap();
    // The token's own columns, never the user's of the same name (`created_at`).
    assert_eq!(token, t, "{:?}", s.dialect());
    let user = user.unwrap();
    assert_eq!((user.user_id.as_str(), user.email.as_deref()), ("auth0|u1", Some("u1@example.com")));
    assert_ne!(user.created_at, "123");
    assert!(s.refresh_token_and_user("nope").await.unwrap().is_none());
    // A deleted user takes its tokens along (foreign key), so no token is left without one.
    assert!(s.delete_user("auth0|u1").await.unwrap());
    assert!(s.refresh_token_and_user("joined").await.unwrap().is_none());
    db.store.close().await;
}

fn sids(sessions: Vec<SessionDetails>) -> Vec<String> {
    sessions.into_iter().map(|d| d.session.sid).collect()
}

fn families(grants: Vec<RefreshGrant>) -> Vec<String> {
    grants.into_iter().map(|g| g.family_id).collect()
}

async fn sessions_as_the_management_api_lists_and_ends_them(backend: Backend) {
    let db = database(backend).await;
    let s = &db.store;
    let device = |ip: &str| Device { ip: Some(ip.into()), user_agent: Some(format!("agent at {ip}")) };
    for sid in ["s-b", "s-a", "s-c"] {
        let session = LoginSession {
            id_hash: format!("h-{sid}"),
            sid: sid.into(),
            expires_at: 500,
            method: Some("pwd".into()),
            initial: device("192.0.2.1"),
            last: device("192.0.2.1"),
            last_interacted_at: Some(100),
            ..session_at(100)
        };
        s.insert_login_session(&session, "c").await.unwrap();
    }
    let expired = LoginSession { id_hash: "h-old".into(), sid: "s-old".into(), expires_at: 150, ..session_at(100) };
    s.insert_login_session(&expired, "c").await.unwrap();
    // Single sign-on into another application, twice: it is listed once.
    assert!(s.session_used("s-a", "web", &device("192.0.2.9"), 120).await.unwrap());
    assert!(s.session_used("s-a", "web", &device("192.0.2.9"), 130).await.unwrap());
    assert!(!s.session_used("s-gone", "web", &device("192.0.2.9"), 130).await.unwrap());
    let a = s.session_details("s-a", 200).await.unwrap().unwrap();
    assert_eq!(a.clients, ["c", "web"], "{:?}", s.dialect());
    assert_eq!((a.session.initial, a.session.last), (device("192.0.2.1"), device("192.0.2.9")));
    assert_eq!((a.session.method.as_deref(), a.session.last_interacted_at), (Some("pwd"), Some(130)));
    assert_eq!(s.session_details("s-b", 200).await.unwrap().unwrap().clients, ["c"]);
    assert!(s.session_details("s-old", 200).await.unwrap().is_none(), "expired");
    let expired = s.expired_sessions(200, 10).await.unwrap();
    assert_eq!((sids(expired.clone()), expired[0].clients.clone()), (vec!["s-old".to_string()], vec!["c".into()]));
    assert!(s.expired_sessions(149, 10).await.unwrap().is_empty());
    assert_eq!(sids(s.sessions_of_user("auth0|u1", 200, None, 2).await.unwrap()), ["s-a", "s-b"]);
    assert_eq!(sids(s.sessions_of_user("auth0|u1", 200, Some("s-b"), 2).await.unwrap()), ["s-c"]);
    assert!(s.delete_session("s-b").await.unwrap());
    assert!(!s.delete_session("s-b").await.unwrap());
    assert!(s.login_session("h-s-b", 200).await.unwrap().is_none(), "the cookie no longer finds it");
    assert_eq!(s.delete_sessions_of_user("auth0|u1").await.unwrap(), 3);
    assert!(s.sessions_of_user("auth0|u1", 100, None, 10).await.unwrap().is_empty());
    db.store.close().await;
}

async fn refresh_grants_are_listed_by_family_and_end_at_their_deadline(backend: Backend) {
    let db = database(backend).await;
    let s = &db.store;
    let token = |hash: &str, family: &str, client: &str, at: i64| RefreshToken {
        client_id: client.into(),
        created_at: at,
        expires_at: at + 1_000,
        ..refresh(hash, family)
    };
    s.insert_refresh_token(&token("f1-a", "fam-1", "c", 100), Some(400)).await.unwrap();
    s.insert_refresh_token(&token("f2-a", "fam-2", "web", 110), Some(5_000)).await.unwrap();
    s.insert_refresh_token(&token("f3-a", "fam-3", "c", 120), None).await.unwrap();
    s.revoke_refresh_family("fam-3", 130).await.unwrap();
    // A rotation asks for 1,150 but the family ends at 400.
    let rotated = s.rotate_refresh_token("f1-a", &Successor { token_hash: "f1-b", expires_at: 1_150 }, 150);
    assert!(matches!(rotated.await.unwrap(), RefreshRedemption::Rotated(_)));
    let all = GrantFilter::all_of("auth0|u1");
    let grants = s.refresh_grants(&all, 200, None, 10).await.unwrap();
    let first = RefreshGrant {
        family_id: "fam-1".into(),
        client_id: "c".into(),
        user_id: "auth0|u1".into(),
        scope: "openid offline_access".into(),
        audience: Some("https://api.example/".into()),
        sid: Some("sid-fam-1".into()),
        created_at: 100,
        last_exchanged_at: Some(150),
        idle_expires_at: 400,
        expires_at: Some(400),
    };
    assert_eq!(grants.first(), Some(&first), "{:?}", s.dialect());
    assert_eq!(s.refresh_grant("fam-1", 200).await.unwrap(), Some(first));
    let second = &grants[1];
    assert_eq!(
        (grants.len(), second.family_id.as_str(), second.last_exchanged_at, second.idle_expires_at),
        (2, "fam-2", None, 1_110)
    );
    // Revoked families are not listed; paging goes by family id.
    assert_eq!(families(s.refresh_grants(&all, 200, Some("fam-1"), 10).await.unwrap()), ["fam-2"]);
    assert_eq!(families(s.refresh_grants(&all, 200, None, 1).await.unwrap()), ["fam-1"]);
    let of_web = GrantFilter { client_id: Some("web"), ..all };
    assert_eq!(families(s.refresh_grants(&of_web, 200, None, 10).await.unwrap()), ["fam-2"]);
    let elsewhere = GrantFilter { audience: Some("https://other.example/"), ..of_web };
    assert!(s.refresh_grants(&elsewhere, 200, None, 10).await.unwrap().is_empty());
    // At its deadline the family is over, whatever its last rotation asked for.
    assert!(s.refresh_grant("fam-1", 400).await.unwrap().is_none());
    let late = s.rotate_refresh_token("f1-b", &Successor { token_hash: "f1-c", expires_at: 1_400 }, 400);
    assert!(matches!(late.await.unwrap(), RefreshRedemption::Invalid));
    // Revoking by client leaves the other client's grants alone.
    assert_eq!(s.revoke_refresh_grants(&elsewhere, 210).await.unwrap(), 0);
    assert_eq!(s.revoke_refresh_grants(&of_web, 210).await.unwrap(), 1);
    assert!(s.refresh_grant("fam-2", 220).await.unwrap().is_none());
    assert!(s.refresh_grant("fam-1", 220).await.unwrap().is_some());
    let rotated = s.rotate_refresh_token("f2-a", &Successor { token_hash: "f2-b", expires_at: 1_300 }, 230);
    assert!(matches!(rotated.await.unwrap(), RefreshRedemption::Invalid), "a revoked grant does not rotate");
    db.store.close().await;
}

crate::on_both_backends!(
    worker_threads = 4; one_concurrent_code_redemption_wins,
    refresh_rotation_and_reuse_revoke_the_family,
    a_rotation_if_granted_checks_client_user_scope_and_state_together,
    a_rotation_that_fails_midway_changes_nothing_and_the_writer_goes_on,
    one_concurrent_rotation_wins_and_stores_one_successor,
    sessions_expire_and_transactions_finish_once,
    a_refresh_token_comes_with_its_user_in_one_read,
    sessions_as_the_management_api_lists_and_ends_them,
    refresh_grants_are_listed_by_family_and_end_at_their_deadline,
);
