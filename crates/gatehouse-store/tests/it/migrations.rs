//! Both migration folders yield the same tables with the same columns: a column added to
//! one backend and forgotten in the other fails here, not in production.

use crate::common::{cleanup, stores};
use gatehouse_store::Dialect;
use std::collections::BTreeMap;

/// Every table of the store (sqlx's bookkeeping aside) and its columns, sorted.
type Schema = BTreeMap<String, Vec<String>>;

fn sqlite_schema(file: &std::path::Path) -> Schema {
    let c = rusqlite::Connection::open(file).unwrap();
    let mut tables = c
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name <> '_sqlx_migrations'",
        )
        .unwrap();
    let names: Vec<String> = tables.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap();
    names
        .into_iter()
        .map(|table| {
            let mut columns: Vec<String> = c
                .prepare("SELECT name FROM pragma_table_info(?1)")
                .unwrap()
                .query_map([&table], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            columns.sort();
            (table, columns)
        })
        .collect()
}

async fn postgres_schema(url: &str, schema: &str) -> Schema {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = $1 AND table_name <> '_sqlx_migrations' ORDER BY table_name, column_name",
    )
    .bind(schema)
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    let mut tables = Schema::new();
    for (table, column) in rows {
        tables.entry(table).or_default().push(column);
    }
    tables
}

#[tokio::test]
async fn both_migration_folders_yield_the_same_tables_and_columns() {
    let dbs = stores().await;
    let mut schemas = Vec::new();
    for db in &dbs {
        schemas.push(match db.store.dialect() {
            Dialect::Sqlite => sqlite_schema(db.file.as_ref().unwrap()),
            Dialect::Postgres => {
                let (url, schema) = db.drop_schema.as_ref().unwrap();
                postgres_schema(url, schema).await
            }
        });
    }
    for db in dbs {
        cleanup(db).await;
    }
    assert!(schemas[0].contains_key("users") && schemas[0]["users"].contains(&"user_metadata".to_string()));
    if let [sqlite, postgres] = &schemas[..] {
        assert_eq!(sqlite, postgres, "the SQLite and PostgreSQL migrations disagree");
    }
}

/// A file the store migrated before it ran SQLite through rusqlite (sqlx's migrator) opens
/// without migrating again, and the other way round: both keep the same history.
#[tokio::test]
async fn the_sqlite_migration_history_is_sqlx_s() {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
    let dir = std::env::temp_dir();
    let tag = rand::random::<u64>();
    let (by_sqlx, by_store) = (dir.join(format!("gh_sqlx_{tag:016x}.db")), dir.join(format!("gh_own_{tag:016x}.db")));
    let sqlx_pool = |file: &std::path::Path| {
        SqlitePool::connect_with(SqliteConnectOptions::new().filename(file).create_if_missing(true))
    };

    let pool = sqlx_pool(&by_sqlx).await.unwrap();
    sqlx::migrate!("./migrations/sqlite").run(&pool).await.unwrap();
    pool.close().await;
    let store = gatehouse_store::Store::connect(&format!("sqlite://{}", by_sqlx.display())).await.unwrap();
    store.ping().await.unwrap();
    store.close().await;

    let store = gatehouse_store::Store::connect(&format!("sqlite://{}", by_store.display())).await.unwrap();
    store.close().await;
    let pool = sqlx_pool(&by_store).await.unwrap();
    sqlx::migrate!("./migrations/sqlite").run(&pool).await.unwrap();
    pool.close().await;

    assert_eq!(sqlite_schema(&by_sqlx), sqlite_schema(&by_store));
    for file in [by_sqlx, by_store] {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
        }
    }
}
