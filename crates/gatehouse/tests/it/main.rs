//! The `gatehouse` binary's tests, one binary: the CLI against a fresh store, two
//! `gatehouse serve` processes sharing one PostgreSQL and one Redis, and HTTPS.

// Test helpers outside #[test] functions unwrap too: a failure there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cli;
mod nodes;
mod tls;

/// A new database named `{prefix}_{random}` on the PostgreSQL server of `base`: its name
/// and its URL.
async fn fresh_database(base: &str, prefix: &str) -> (String, String) {
    use sqlx::Connection;
    let name = format!("{prefix}_{:016x}", rand::random::<u64>());
    let mut admin = sqlx::PgConnection::connect(base).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE \"{name}\"")).execute(&mut admin).await.unwrap();
    admin.close().await.unwrap();
    let mut url = url::Url::parse(base).unwrap();
    url.set_path(&name);
    (name, url.to_string())
}

/// Drops the database `name`, ending the sessions still connected to it.
async fn drop_database(base: &str, name: &str) {
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(base).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(&mut admin).await.unwrap();
    admin.close().await.unwrap();
}
