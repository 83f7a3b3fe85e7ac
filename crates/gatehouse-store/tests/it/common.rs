//! The stores every test runs against: a fresh SQLite file, and a fresh schema in
//! PostgreSQL when `GATEHOUSE_TEST_POSTGRES_URL` is set; and a user to put in them.
#![allow(dead_code)]

use gatehouse_core::connection::Connection;
use gatehouse_core::user::User;
use gatehouse_store::Store;
use rand::Rng;
use serde_json::{json, Map};

pub struct Db {
    pub store: Store,
    pub drop_schema: Option<(String, String)>,
    pub file: Option<std::path::PathBuf>,
}

pub async fn stores() -> Vec<Db> {
    let tag = format!("{}_{:08x}", std::process::id(), rand::thread_rng().gen::<u32>());
    let file = std::env::temp_dir().join(format!("gh_store_{tag}.db"));
    let mut dbs = vec![Db {
        store: Store::connect(&format!("sqlite://{}", file.display())).await.unwrap(),
        drop_schema: None,
        file: Some(file),
    }];
    match std::env::var("GATEHOUSE_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => {
            let schema = format!("gh_store_{tag}");
            let store = Store::connect_in_schema(&url, Some(&schema)).await.unwrap();
            dbs.push(Db { store, drop_schema: Some((url, schema)), file: None });
        }
        _ => eprintln!("GATEHOUSE_TEST_POSTGRES_URL is not set; the PostgreSQL run is skipped"),
    }
    dbs
}

/// Another store over the same database: what another node (or process) sees.
pub async fn another_node(db: &Db) -> Store {
    match (&db.file, &db.drop_schema) {
        (Some(f), _) => Store::connect(&format!("sqlite://{}", f.display())).await.unwrap(),
        (None, Some((url, schema))) => Store::connect_in_schema(url, Some(schema)).await.unwrap(),
        (None, None) => unreachable!("every test database is a file or a schema"),
    }
}

pub async fn cleanup(db: Db) {
    db.store.close().await;
    if let Some((url, schema)) = db.drop_schema {
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE")).execute(&pool).await.unwrap();
    }
    if let Some(f) = db.file {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", f.display()));
        }
    }
}

pub fn user(c: &Connection, i: usize) -> User {
    let mut meta = Map::new();
    meta.insert("i".into(), json!(i));
    User {
        user_id: format!("auth0|bulk{i:06}"),
        connection_id: c.id.clone(),
        connection: c.name.clone(),
        provider: "auth0".into(),
        email: Some(format!("user{i}@example.com")),
        email_verified: i.is_multiple_of(2),
        username: None,
        phone_number: None,
        phone_verified: false,
        name: Some(format!("User {i}")),
        nickname: None,
        given_name: None,
        family_name: None,
        picture: None,
        password_hash: Some("$2b$10$abcdefghijklmnopqrstuuQ7HZJx.6c9mAW4fJ9P8WB7hKkF8ITeK".into()),
        user_metadata: meta,
        app_metadata: Map::new(),
        blocked: false,
        logins_count: 0,
        last_login: None,
        last_ip: None,
        last_password_reset: None,
        created_at: "2024-01-01T00:00:00.000Z".into(),
        updated_at: "2024-01-01T00:00:00.000Z".into(),
    }
}
