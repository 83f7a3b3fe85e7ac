//! First login of a legacy user (automatic migration) against a local MariaDB: how much
//! latency Gatehouse adds beyond the two hashes (the legacy hash verify and the new
//! argon2id hash). The target (docs/benchmarks.md): ≤ 5 ms.
//!
//! ```sh
//! cargo run --release -p gatehouse-services --example legacy_first_login [USERS]
//! ```
//! `GATEHOUSE_TEST_MYSQL_URL` (default `mysql://root@127.0.0.1:3306/test`) names the server;
//! a database is created for the run and dropped after it. For each user, in turn: the two
//! hashes alone on Gatehouse's hashing pool, then a real first login
//! (`password_login`: legacy query, verify, argon2id, user + marker insert, audit event).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use gatehouse_core::clock::{Clock, SystemClock};
use gatehouse_core::connection::Connection;
use gatehouse_hash::{Argon2Config, Hasher, Limits};
use gatehouse_services::state::ServerConfig;
use gatehouse_store::Store;
use serde_json::json;
use sqlx::Executor;
use std::sync::Arc;
use std::time::Instant;

/// bcrypt cost 4 of "staple🙂ok1739" (crates/gatehouse-hash/tests/fixtures, vector bcrypt-1).
const LEGACY_HASH: &str = "$2b$04$OcIuM6Q44qqWo0nu/4hl.upUbNfgfPFaE1o1dqPIqul.Z.zEaksZG";
const PASSWORD: &str = "staple🙂ok1739";

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn p90(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[(v.len() * 9 / 10).min(v.len() - 1)]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let users: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(200);
    let admin_url =
        std::env::var("GATEHOUSE_TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into());
    let db = format!("gh_bench_legacy_{}", std::process::id());
    let admin = sqlx::MySqlPool::connect(&admin_url).await.unwrap();
    admin.execute(format!("CREATE DATABASE `{db}`").as_str()).await.unwrap();
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&format!("/{db}"));
    let legacy = sqlx::MySqlPool::connect(url.as_str()).await.unwrap();
    legacy
        .execute("CREATE TABLE members (id INT AUTO_INCREMENT PRIMARY KEY, mail VARCHAR(200) UNIQUE, pw VARCHAR(200))")
        .await
        .unwrap();
    for i in 0..users {
        sqlx::query("INSERT INTO members (mail, pw) VALUES (?, ?)")
            .bind(format!("user{i}@legacy.test"))
            .bind(LEGACY_HASH)
            .execute(&legacy)
            .await
            .unwrap();
    }
    legacy.close().await;

    let dir = std::env::temp_dir().join(format!("gh_bench_legacy_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = Store::connect(&format!("sqlite://{}", dir.join("gatehouse.db").display())).await.unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let hasher = Hasher::new(Argon2Config::default(), Limits::default());
    let mut config = ServerConfig::new("http://127.0.0.1:1/");
    config.data_dir = dir.join("data");
    let (state, _) =
        gatehouse_services::prepare(store.clone(), config, hasher, clock, Some(("bench", "bench-secret-0123456789")))
            .await
            .unwrap();
    let mut c = Connection::new_database("con_bench00000000000".into(), "legacy-bench".into(), state.now());
    c.options.insert("enabledDatabaseCustomization".into(), json!(true));
    c.options.insert("import_mode".into(), json!(true));
    c.options.insert(
        "legacy_store".into(),
        json!({"kind": "sql", "url": url.as_str(), "queries": {
            "login": "SELECT CONCAT('legacy|', id) AS user_id, mail AS email, pw AS password_hash FROM members WHERE mail = :email",
            "get_user": "SELECT CONCAT('legacy|', id) AS user_id, mail AS email FROM members WHERE mail = :email"}}),
    );
    store.insert_connection(&c).await.unwrap();

    // Warm up: the legacy pool's first connection, the hashing pool's threads.
    let mut hashes = Vec::with_capacity(users);
    let mut logins = Vec::with_capacity(users);
    let parsed = state.hashing.hasher().parse_password_hash(LEGACY_HASH).unwrap();
    for i in 0..users {
        let t = Instant::now();
        assert!(state.hashing.verify(Some(parsed.clone()), PASSWORD.into()).await.unwrap());
        state.hashing.hash(PASSWORD.into()).await.unwrap();
        hashes.push(t.elapsed().as_secs_f64() * 1000.0);

        let t = Instant::now();
        let user =
            gatehouse_services::login::password_login(&state, &c, &format!("user{i}@legacy.test"), PASSWORD, None)
                .await
                .unwrap();
        logins.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(user.password_hash.unwrap().starts_with("$argon2id$"));
    }
    // The first round pays for connecting; leave it out.
    let (hashes, logins) = (&mut hashes[1..], &mut logins[1..]);
    let added: Vec<f64> = logins.iter().zip(hashes.iter()).map(|(l, h)| l - h).collect();
    let mut added = added;
    println!(
        "legacy first login, {} users (MariaDB legacy store, SQLite Gatehouse store, argon2id m=19456,t=2,p=1):",
        users - 1
    );
    println!("  two hashes alone    median {:7.2} ms  p90 {:7.2} ms", median(hashes), p90(hashes));
    println!("  first login         median {:7.2} ms  p90 {:7.2} ms", median(logins), p90(logins));
    println!(
        "  added by Gatehouse  median {:7.2} ms  p90 {:7.2} ms (target ≤ 5 ms)",
        median(&mut added),
        p90(&mut added)
    );
    assert_eq!(state.store.arrivals(&c.id).await.unwrap().on_login as usize, users);

    store.close().await;
    admin.execute(format!("DROP DATABASE `{db}`").as_str()).await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
