//! Helpers: an application allowed the password grants, legacy connections, logins,
//! the shared password-hash vectors, and throwaway legacy databases.

use crate::kit::{create_postgres_database, drop_postgres_database, unique, with_database, App, Server};
use serde_json::{json, Value};
use sqlx::Executor;

/// Creates a database connection with a legacy store, enabled for `app`; its id.
pub async fn connection(srv: &Server, app: &App, name: &str, import_mode: bool, store: Value) -> String {
    let body = json!({"name": name, "strategy": "auth0", "enabled_clients": [app.client_id],
        "options": {"enabledDatabaseCustomization": true, "import_mode": import_mode, "legacy_store": store}});
    let (s, c) = srv.api("POST", "/api/v2/connections", Some(body)).await;
    assert_eq!(s, 201, "{c}");
    c["id"].as_str().unwrap().to_string()
}

/// A password-realm login: status and body.
pub async fn login(srv: &Server, app: &App, realm: &str, username: &str, password: &str) -> (u16, Value) {
    let form = [
        ("grant_type", "http://auth0.com/oauth/grant-type/password-realm"),
        ("client_id", app.client_id.as_str()),
        ("client_secret", app.secret.as_str()),
        ("realm", realm),
        ("username", username),
        ("password", password),
    ];
    srv.token(&form).await
}

/// Asserts a successful login.
pub async fn logs_in(srv: &Server, app: &App, realm: &str, username: &str, password: &str) {
    let (s, body) = login(srv, app, realm, username, password).await;
    assert_eq!(s, 200, "{username}: {body}");
    assert!(body["access_token"].is_string(), "{body}");
}

/// Asserts the answer of a wrong password, the same for unknown users.
pub async fn refused(srv: &Server, app: &App, realm: &str, username: &str, password: &str) {
    let (s, body) = login(srv, app, realm, username, password).await;
    assert_eq!((s, body), (403, json!({"error": "invalid_grant", "error_description": "Wrong email or password."})));
}

pub async fn progress(srv: &Server, connection_id: &str) -> Value {
    let (s, p) = srv.api("GET", &format!("/api/v2/connections/{connection_id}/migration"), None).await;
    assert_eq!(s, 200, "{p}");
    p
}

/// The stored user of a connection with this email.
pub async fn stored(srv: &Server, connection_id: &str, email: &str) -> Option<gatehouse_core::user::User> {
    srv.store.user_by_login(connection_id, email).await.unwrap()
}

/// A vector of `crates/gatehouse-hash/tests/fixtures/password-hashes.json` (made by
/// independent implementations).
pub struct Vector {
    pub password: String,
    pub wrong: String,
    pub hash: Value,
}

pub fn vector(id: &str) -> Vector {
    let all: Value =
        serde_json::from_str(include_str!("../../../../gatehouse-hash/tests/fixtures/password-hashes.json")).unwrap();
    let v = all.as_array().unwrap().iter().find(|v| v["id"] == id).unwrap_or_else(|| panic!("no vector {id}"));
    let hash = v.get("password_hash").cloned().unwrap_or_else(|| v["custom_password_hash"].clone());
    Vector {
        password: v["password"].as_str().unwrap().into(),
        wrong: v["wrong_password"].as_str().unwrap().into(),
        hash,
    }
}

/// A throwaway legacy database on MariaDB or PostgreSQL, dropped at the end.
pub struct LegacyDb {
    /// The URL Gatehouse is configured with.
    pub url: String,
    pub name: String,
    admin_url: String,
    mysql: bool,
}

fn env(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            eprintln!("{var} is not set; this legacy-store test is skipped");
            None
        }
    }
}

impl LegacyDb {
    /// A fresh MariaDB database (`GATEHOUSE_TEST_MYSQL_URL`, e.g. `mysql://root@127.0.0.1:3306/test`).
    pub async fn mariadb() -> Option<Self> {
        let admin_url = env("GATEHOUSE_TEST_MYSQL_URL")?;
        let name = unique("gh_legacy");
        let pool = sqlx::MySqlPool::connect(&admin_url).await.unwrap();
        pool.execute(format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4").as_str()).await.unwrap();
        pool.close().await;
        Some(Self { url: with_database(&admin_url, &name), name, admin_url, mysql: true })
    }

    /// A fresh PostgreSQL database (`GATEHOUSE_TEST_POSTGRES_URL`).
    pub async fn postgres() -> Option<Self> {
        let admin_url = env("GATEHOUSE_TEST_POSTGRES_URL")?;
        let name = unique("gh_legacy");
        create_postgres_database(&admin_url, &name).await;
        Some(Self { url: with_database(&admin_url, &name), name, admin_url, mysql: false })
    }

    /// Runs statements (separated by `;` at line ends) in the legacy database.
    pub async fn run(&self, script: &str) {
        for stmt in script.split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
            if self.mysql {
                let pool = sqlx::MySqlPool::connect(&self.url).await.unwrap();
                sqlx::query(stmt).execute(&pool).await.unwrap_or_else(|e| panic!("{stmt}: {e}"));
                pool.close().await;
            } else {
                let pool = sqlx::PgPool::connect(&self.url).await.unwrap();
                sqlx::query(stmt).execute(&pool).await.unwrap_or_else(|e| panic!("{stmt}: {e}"));
                pool.close().await;
            }
        }
    }

    /// Inserts a member row: (email, username, hash column value, salt).
    pub async fn member(&self, mail: &str, nick: &str, pw: &str, salt: Option<&str>) {
        let sql = if self.mysql {
            "INSERT INTO members (mail, nick, full_name, pw, salt, verified) VALUES (?, ?, ?, ?, ?, 1)"
        } else {
            "INSERT INTO members (mail, nick, full_name, pw, salt, verified) VALUES ($1, $2, $3, $4, $5, TRUE)"
        };
        let full = format!("Member {nick}");
        if self.mysql {
            let pool = sqlx::MySqlPool::connect(&self.url).await.unwrap();
            sqlx::query(sql).bind(mail).bind(nick).bind(&full).bind(pw).bind(salt).execute(&pool).await.unwrap();
            pool.close().await;
        } else {
            let pool = sqlx::PgPool::connect(&self.url).await.unwrap();
            sqlx::query(sql).bind(mail).bind(nick).bind(&full).bind(pw).bind(salt).execute(&pool).await.unwrap();
            pool.close().await;
        }
    }

    /// One value of the legacy database (as text).
    pub async fn scalar(&self, sql: &str) -> Option<String> {
        if self.mysql {
            let pool = sqlx::MySqlPool::connect(&self.url).await.unwrap();
            let v: Option<String> = sqlx::query_scalar(sql).fetch_optional(&pool).await.unwrap();
            pool.close().await;
            v
        } else {
            let pool = sqlx::PgPool::connect(&self.url).await.unwrap();
            let v: Option<String> = sqlx::query_scalar(sql).fetch_optional(&pool).await.unwrap();
            pool.close().await;
            v
        }
    }

    /// The schema every legacy test uses: a typical application's `members` table.
    pub async fn members_table(&self) {
        if self.mysql {
            self.run(
                "CREATE TABLE members (id INT AUTO_INCREMENT PRIMARY KEY, mail VARCHAR(200) NOT NULL UNIQUE, \
                 nick VARCHAR(100), full_name VARCHAR(200), pw VARCHAR(300), salt VARCHAR(100), \
                 verified TINYINT(1) NOT NULL DEFAULT 0)",
            )
            .await;
        } else {
            self.run(
                "CREATE TABLE members (id SERIAL PRIMARY KEY, mail TEXT NOT NULL UNIQUE, nick TEXT, full_name TEXT, \
                 pw TEXT, salt TEXT, verified BOOLEAN NOT NULL DEFAULT FALSE)",
            )
            .await;
        }
    }

    /// Drops the database: the legacy store is gone from now on.
    pub async fn drop_database(&self) {
        if self.mysql {
            let pool = sqlx::MySqlPool::connect(&self.admin_url).await.unwrap();
            pool.execute(format!("DROP DATABASE IF EXISTS `{}`", self.name).as_str()).await.unwrap();
            pool.close().await;
        } else {
            drop_postgres_database(&self.admin_url, &self.name).await;
        }
    }
}
