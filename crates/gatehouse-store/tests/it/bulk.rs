//! The bulk import path on both backends: per-user outcomes, exact round trips of every
//! column (COPY escaping included), and no partial rows.

use gatehouse_core::connection::Connection;
use gatehouse_core::user::User;
use gatehouse_store::{BulkOutcome, ConflictOn};
use serde_json::{json, Value};

use crate::common::{cleanup, stores, user};

#[tokio::test]
async fn bulk_insert_reports_each_conflict_and_writes_the_rest() {
    for db in stores().await {
        let s = &db.store;
        let mut c = Connection::new_database("con_bulkbulkbulkbulk".into(), "bulk-db".into(), "t".into());
        c.options.insert("requires_username".into(), Value::Bool(true));
        s.insert_connection(&c).await.unwrap();
        let first: Vec<User> = (0..1000).map(|i| user(&c, i)).collect();
        let outcomes = s.insert_users_bulk(first).await.unwrap();
        assert!(outcomes.iter().all(|o| *o == BulkOutcome::Inserted));

        let mut weird = user(&c, 5000);
        weird.name = Some("tab\there\nnewline \\backslash \\N not null 'quote\" émoji 🚪".into());
        weird.user_metadata = serde_json::from_value(json!({"nested": {"a": [1, "x\ty", null]}, "s": "\\\\"})).unwrap();
        weird.username = Some("weird_user".into());
        let mut same_email = user(&c, 5001);
        same_email.email = Some("user7@example.com".into());
        let same_id = user(&c, 3);
        let mut same_username = user(&c, 5002);
        same_username.username = Some("weird_user".into());
        let fine = user(&c, 5003);
        let outcomes =
            s.insert_users_bulk(vec![weird.clone(), same_email, same_id, same_username, fine.clone()]).await.unwrap();
        assert_eq!(
            outcomes,
            vec![
                BulkOutcome::Inserted,
                BulkOutcome::Conflict(ConflictOn::Email),
                BulkOutcome::Conflict(ConflictOn::Email),
                BulkOutcome::Conflict(ConflictOn::Username),
                BulkOutcome::Inserted,
            ],
            "{:?}",
            s.dialect()
        );
        assert_eq!(s.user(&weird.user_id).await.unwrap().unwrap(), weird, "every column round-trips exactly");
        assert_eq!(s.user(&fine.user_id).await.unwrap().unwrap(), fine);
        assert!(s.user("auth0|bulk005001").await.unwrap().is_none(), "a conflicting user leaves no row");
        assert_eq!(s.count_users_in_connection(&c.id).await.unwrap(), 1002);
        cleanup(db).await;
    }
}

/// The one-transaction load into an empty table: all or nothing, the indexes back in place
/// whether it commits or not, and only ever offered for an empty table.
#[tokio::test]
async fn users_load_is_all_or_nothing_and_keeps_the_indexes() {
    for db in stores().await {
        let s = &db.store;
        let mut c = Connection::new_database("con_loadloadloadload".into(), "load-db".into(), "t".into());
        c.options.insert("requires_username".into(), Value::Bool(true));
        s.insert_connection(&c).await.unwrap();
        let sqlite = s.dialect() == gatehouse_store::Dialect::Sqlite;

        // Dropped before commit: nothing written, and the unique indexes still hold.
        let mut load = s.begin_users_load().await.unwrap().expect("the table is empty");
        let (back, outcomes) = load.write((0..100).map(|i| user(&c, i)).collect()).await.unwrap();
        assert_eq!(back.len(), 100);
        assert!(outcomes.iter().all(|o| *o == BulkOutcome::Inserted));
        // Readers go on meanwhile, and see the table as it was before the load.
        assert_eq!(s.count_users_in_connection(&c.id).await.unwrap(), 0);
        drop(load);
        assert_eq!(s.count_users_in_connection(&c.id).await.unwrap(), 0, "rolled back");
        let mut twin = user(&c, 1);
        twin.user_id = "auth0|twin".into();
        let outcomes = s.insert_users_bulk(vec![user(&c, 1), twin.clone()]).await.unwrap();
        assert_eq!(outcomes, vec![BulkOutcome::Inserted, BulkOutcome::Conflict(ConflictOn::Email)]);
        s.delete_user(&user(&c, 1).user_id).await.unwrap();

        let mut load = s.begin_users_load().await.unwrap().expect("empty again");
        let (_, outcomes) = load.write(vec![user(&c, 1), twin]).await.unwrap();
        if sqlite {
            // A duplicate that got past the caller fails the index rebuild: nothing written.
            assert_eq!(outcomes, vec![BulkOutcome::Inserted; 2], "no unique index during the load");
            assert!(load.commit().await.is_err());
            assert_eq!(s.count_users_in_connection(&c.id).await.unwrap(), 0);
        } else {
            // The indexes stay: the batch falls back to the per-user way and reports it.
            assert_eq!(outcomes, vec![BulkOutcome::Inserted, BulkOutcome::Conflict(ConflictOn::Email)]);
            let (_, outcomes) = load.write(vec![user(&c, 2)]).await.unwrap();
            assert_eq!(outcomes, vec![BulkOutcome::Inserted], "the load goes on after a fallback");
            load.commit().await.unwrap();
            assert_eq!(s.count_users_in_connection(&c.id).await.unwrap(), 2);
            for i in [1, 2] {
                s.delete_user(&user(&c, i).user_id).await.unwrap();
            }
        }

        // Committed: every user, with a primary-key conflict reported per user.
        let mut load = s.begin_users_load().await.unwrap().expect("still empty");
        let (_, first) = load.write((0..500).map(|i| user(&c, i)).collect()).await.unwrap();
        let mut same_id = user(&c, 600);
        same_id.user_id = user(&c, 3).user_id;
        let (_, second) = load.write(vec![same_id, user(&c, 500)]).await.unwrap();
        load.commit().await.unwrap();
        assert!(first.iter().all(|o| *o == BulkOutcome::Inserted));
        assert_eq!(second, vec![BulkOutcome::Conflict(ConflictOn::Id), BulkOutcome::Inserted]);
        assert_eq!(s.count_users_in_connection(&c.id).await.unwrap(), 501);
        assert_eq!(s.user(&user(&c, 42).user_id).await.unwrap().unwrap(), user(&c, 42));
        let mut same_email = user(&c, 9000);
        same_email.email = Some("user7@example.com".into());
        let outcomes = s.insert_users_bulk(vec![same_email]).await.unwrap();
        assert_eq!(outcomes, vec![BulkOutcome::Conflict(ConflictOn::Email)], "indexes rebuilt");
        assert!(s.begin_users_load().await.unwrap().is_none(), "not offered for a table with users");
        cleanup(db).await;
    }
}
