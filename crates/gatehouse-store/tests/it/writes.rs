//! The store's multi-statement writes on both backends: the refresh grant (its rule in
//! Rust, its rotation single-use), a user changed by a step of the caller's inside the
//! write's transaction, and the temporary file behind `sqlite::memory:`.

use crate::common::{cleanup, stores, user};
use gatehouse_core::connection::Connection;
use gatehouse_core::user::User;
use gatehouse_store::{RefreshRedemption, RefreshRequest, RefreshToken, Store, StoreError, Successor};

/// `change` applied to user `id`, which must exist.
async fn change(s: &Store, id: &str, change: impl FnOnce(&mut User)) {
    let changed = s.modify_user(id, |u| {
        change(u);
        Ok::<_, ()>(())
    });
    changed.await.unwrap().unwrap();
}

fn token(hash: &str, user_id: &str) -> RefreshToken {
    RefreshToken {
        token_hash: hash.into(),
        family_id: format!("fam_{hash}"),
        client_id: "client_a".into(),
        user_id: user_id.into(),
        scope: "openid profile offline_access".into(),
        audience: None,
        sid: Some("sid1".into()),
        auth_time: 100,
        created_at: 100,
        expires_at: 10_000,
        rotated_at: None,
        revoked_at: None,
    }
}

#[tokio::test]
async fn a_refresh_grant_rotates_only_what_its_rule_grants_and_only_once() {
    for db in stores().await {
        let s = &db.store;
        let c = Connection::new_database("con_refreshrefresh01".into(), "refresh-db".into(), "t".into());
        s.insert_connection(&c).await.unwrap();
        let u = user(&c, 1);
        s.insert_user(&u).await.unwrap();
        s.insert_refresh_token(&token("rt1", &u.user_id), Some(5_000)).await.unwrap();
        let next = Successor { token_hash: "rt2", expires_at: 20_000 };
        let ask = |client_id, scopes| RefreshRequest { token_hash: "rt1", client_id, scopes };

        // Another client, or a scope the token never granted: refused, nothing written.
        for refused in [ask("client_b", &[][..]), ask("client_a", &["email"][..])] {
            assert_eq!(s.rotate_refresh_token_if_granted(&refused, &next, 200).await.unwrap(), None);
        }
        // A blocked user: refused.
        change(s, &u.user_id, |u| u.blocked = true).await;
        assert_eq!(s.rotate_refresh_token_if_granted(&ask("client_a", &[]), &next, 200).await.unwrap(), None);
        assert_eq!(s.refresh_token("rt1").await.unwrap().unwrap().rotated_at, None, "nothing written");
        change(s, &u.user_id, |u| u.blocked = false).await;

        // Granted: rotated, the successor inherits the grant and the family's deadline.
        let (rotated, who) =
            s.rotate_refresh_token_if_granted(&ask("client_a", &["openid"]), &next, 200).await.unwrap().unwrap();
        assert_eq!((rotated.rotated_at, who.user_id.as_str()), (Some(200), u.user_id.as_str()));
        let successor = s.refresh_token("rt2").await.unwrap().unwrap();
        assert_eq!((successor.family_id.as_str(), successor.expires_at), ("fam_rt1", 5_000));

        // Again: not granted a second time (single use), and the grant itself writes nothing …
        let again = Successor { token_hash: "rt3", expires_at: 20_000 };
        assert_eq!(s.rotate_refresh_token_if_granted(&ask("client_a", &[]), &again, 300).await.unwrap(), None);
        assert_eq!(s.refresh_token("rt2").await.unwrap().unwrap().revoked_at, None);
        // … the plain rotation tells a reuse and revokes the family.
        match s.rotate_refresh_token("rt1", &again, 300).await.unwrap() {
            RefreshRedemption::Reused(t) => assert_eq!(t.family_id, "fam_rt1"),
            other => panic!("{other:?}"),
        }
        assert_eq!(s.refresh_token("rt2").await.unwrap().unwrap().revoked_at, Some(300));
        assert!(s.refresh_token("rt3").await.unwrap().is_none());
        cleanup(db).await;
    }
}

#[tokio::test]
async fn a_user_change_is_written_whole_or_not_at_all_and_none_is_lost() {
    for db in stores().await {
        let s = &db.store;
        let c = Connection::new_database("con_modifymodify0001".into(), "modify-db".into(), "t".into());
        s.insert_connection(&c).await.unwrap();
        let u = user(&c, 1);
        s.insert_user(&u).await.unwrap();

        let refused = s.modify_user(&u.user_id, |u| {
            u.nickname = Some("never".into());
            Err("no")
        });
        assert_eq!(refused.await.unwrap(), Err("no"));
        assert_eq!(s.user(&u.user_id).await.unwrap().unwrap().nickname, None);
        let missing = s.modify_user("auth0|nobody", |_| Ok::<_, ()>(())).await;
        assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");

        // Concurrent changes, each a read-modify-write: none overwrites another.
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (s, id) = (s.clone(), u.user_id.clone());
                tokio::spawn(async move { change(&s, &id, |u| u.logins_count += 1).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(s.user(&u.user_id).await.unwrap().unwrap().logins_count, 8);
        cleanup(db).await;
    }
}

#[tokio::test]
async fn an_in_memory_url_is_a_temporary_file_that_goes_with_the_store() {
    let s = Store::connect("sqlite::memory:").await.unwrap();
    let c = Connection::new_database("con_memorymemory0001".into(), "memory-db".into(), "t".into());
    s.insert_connection(&c).await.unwrap();
    assert_eq!(s.connection_by_name("memory-db").await.unwrap().unwrap().id, c.id);
    let other = Store::connect("sqlite::memory:").await.unwrap();
    assert!(other.connection_by_name("memory-db").await.unwrap().is_none(), "each its own database");
}
