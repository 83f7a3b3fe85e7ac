//! Custom database scripts in the form of Auth0's MySQL and PostgreSQL templates
//! (`tests/fixtures/custom-db`), run unchanged against the machine's MariaDB and
//! PostgreSQL: delegated mode (login, get_user, create, verify, change_password, delete
//! through the Authentication and Management APIs) and import mode (the first login
//! moves the user over; the legacy database is not asked again).

use crate::kit::{App, Backend, Server};
use crate::legacy::support::{login, LegacyDb};
use serde_json::{json, Map, Value};

const SCRIPTS: &[&str] = &["login", "get_user", "create", "verify", "change_password", "delete"];

fn scripts(dialect: &str) -> Value {
    let dir = format!("{}/tests/fixtures/custom-db/{dialect}", env!("CARGO_MANIFEST_DIR"));
    let mut m = Map::new();
    for name in SCRIPTS {
        m.insert((*name).into(), json!(std::fs::read_to_string(format!("{dir}/{name}.js")).unwrap()));
    }
    Value::Object(m)
}

/// The legacy database of the templates (`users`: id, nickname, email, password,
/// email_verified) and the connection `configuration` the scripts read.
async fn legacy(mysql: bool) -> Option<(LegacyDb, Value, &'static str)> {
    let db = if mysql { LegacyDb::mariadb().await? } else { LegacyDb::postgres().await? };
    if mysql {
        db.run(
            "CREATE TABLE users (id INT AUTO_INCREMENT PRIMARY KEY, nickname VARCHAR(100), \
             email VARCHAR(200) NOT NULL UNIQUE, password VARCHAR(100) NOT NULL, \
             email_verified TINYINT(1) NOT NULL DEFAULT 0)",
        )
        .await;
        let u = url::Url::parse(&db.url).unwrap();
        let configuration = json!({
            "MYSQL_HOST": u.host_str().unwrap(),
            "MYSQL_PORT": u.port().unwrap_or(3306).to_string(),
            "MYSQL_USER": u.username(),
            "MYSQL_PASSWORD": u.password().unwrap_or(""),
            "MYSQL_DATABASE": db.name,
        });
        Some((db, configuration, "mysql"))
    } else {
        db.run(
            "CREATE TABLE users (id SERIAL PRIMARY KEY, nickname TEXT, email TEXT NOT NULL UNIQUE, \
             password TEXT NOT NULL, email_verified BOOLEAN NOT NULL DEFAULT FALSE)",
        )
        .await;
        let configuration = json!({"DATABASE_URL": db.url});
        Some((db, configuration, "postgres"))
    }
}

async fn server(backend: Backend) -> Server {
    Server::start_with(backend, |c| c.scripts.allowed_hosts = vec!["127.0.0.1".into(), "localhost".into()]).await
}

async fn custom_connection(srv: &Server, name: &str, import_mode: bool, dialect: &str, configuration: Value) -> App {
    let app = srv.password_client().await;
    let body = json!({"name": name, "strategy": "auth0", "enabled_clients": [app.client_id],
        "options": {"enabledDatabaseCustomization": true, "import_mode": import_mode,
            "customScripts": scripts(dialect), "configuration": configuration}});
    let (s, c) = srv.api("POST", "/api/v2/connections", Some(body)).await;
    assert_eq!(s, 201, "{c}");
    // What the API shows of the configuration is masked; the scripts get the values.
    assert!(c["options"]["configuration"].as_object().unwrap().values().all(|v| v == "********"), "{c}");
    app
}

async fn delegated(backend: Backend, mysql: bool) {
    let Some((db, configuration, dialect)) = legacy(mysql).await else { return };
    let srv = server(backend).await;
    let app = custom_connection(&srv, "legacy-db", false, dialect, configuration).await;

    // create (then get_user): the user is made in the legacy database, with bcrypt.
    let (s, user) = srv
        .api(
            "POST",
            "/api/v2/users",
            Some(json!({"connection": "legacy-db", "email": "ada@example.com", "password": "Analytical-1843"})),
        )
        .await;
    assert_eq!(s, 201, "{user}");
    let as_text = |column: &str| if mysql { format!("CAST({column} AS CHAR)") } else { format!("{column}::text") };
    let id = db.scalar(&format!("SELECT {} FROM users WHERE email = 'ada@example.com'", as_text("id"))).await.unwrap();
    assert_eq!(user["user_id"], format!("auth0|{id}"));
    let hash = db.scalar("SELECT password FROM users WHERE email = 'ada@example.com'").await.unwrap();
    assert!(hash.starts_with("$2b$10$"), "{hash}");
    let stored = srv.store.user(&format!("auth0|{id}")).await.unwrap().unwrap();
    assert!(stored.password_hash.is_none(), "delegated: the password stays in the legacy database");

    // login: right and wrong passwords, an unknown user.
    let (s, body) = login(&srv, &app, "legacy-db", "ada@example.com", "Analytical-1843").await;
    assert_eq!(s, 200, "{body}");
    for (who, password) in [("ada@example.com", "wrong-1843"), ("nobody@example.com", "Analytical-1843")] {
        let (s, body) = login(&srv, &app, "legacy-db", who, password).await;
        assert_eq!(
            (s, body),
            (403, json!({"error": "invalid_grant", "error_description": "Wrong email or password."}))
        );
    }

    // verify and change_password through the Management API.
    let path = format!("/api/v2/users/auth0|{id}");
    let (s, body) = srv.api("PATCH", &path, Some(json!({"email_verified": true}))).await;
    assert_eq!(s, 200, "{body}");
    let verified = db.scalar(&format!("SELECT {} FROM users", as_text("email_verified"))).await.unwrap();
    assert!(verified == "1" || verified == "true", "{verified}");
    let (s, body) = srv.api("PATCH", &path, Some(json!({"password": "Difference-Engine-1822"}))).await;
    assert_eq!(s, 200, "{body}");
    assert_ne!(db.scalar("SELECT password FROM users").await.unwrap(), hash);
    let (s, _) = login(&srv, &app, "legacy-db", "ada@example.com", "Analytical-1843").await;
    assert_eq!(s, 403);
    let (s, body) = login(&srv, &app, "legacy-db", "ada@example.com", "Difference-Engine-1822").await;
    assert_eq!(s, 200, "{body}");

    // delete: gone from the legacy database too.
    let (s, body) = srv.api("DELETE", &path, None).await;
    assert!(s == 204 || s == 200, "{s} {body}");
    assert_eq!(db.scalar("SELECT email FROM users").await, None);
    let (s, _) = login(&srv, &app, "legacy-db", "ada@example.com", "Difference-Engine-1822").await;
    assert_eq!(s, 403);
    db.drop_database().await;
}

async fn import_mode_moves_the_user_over(backend: Backend, mysql: bool) {
    let Some((db, configuration, dialect)) = legacy(mysql).await else { return };
    let srv = server(backend).await;
    let app = custom_connection(&srv, "migrating-db", true, dialect, configuration).await;
    // A user of the old application, with its bcrypt hash.
    let hash = gatehouse_hash::bcrypt_with_setting("Grace-Hopper-1906", &gatehouse_hash::bcrypt_salt(6), 31).unwrap();
    db.run(&format!("INSERT INTO users (nickname, email, password) VALUES ('grace', 'grace@navy.example', '{hash}')"))
        .await;
    let (s, _) = login(&srv, &app, "migrating-db", "grace@navy.example", "wrong").await;
    assert_eq!(s, 403);
    let (s, body) = login(&srv, &app, "migrating-db", "grace@navy.example", "Grace-Hopper-1906").await;
    assert_eq!(s, 200, "{body}");
    let moved = srv.store.user("auth0|1").await.unwrap().expect("the user moved over");
    assert_eq!(moved.email.as_deref(), Some("grace@navy.example"));
    assert_eq!(moved.nickname.as_deref(), Some("grace"));
    assert!(moved.password_hash.is_some(), "import mode keeps the password");
    // The legacy database is not asked again.
    db.drop_database().await;
    let (s, body) = login(&srv, &app, "migrating-db", "grace@navy.example", "Grace-Hopper-1906").await;
    assert_eq!(s, 200, "{body}");
}

async fn mysql_templates_delegate(backend: Backend) {
    delegated(backend, true).await;
}

async fn postgres_templates_delegate(backend: Backend) {
    delegated(backend, false).await;
}

async fn mysql_templates_migrate(backend: Backend) {
    import_mode_moves_the_user_over(backend, true).await;
}

async fn postgres_templates_migrate(backend: Backend) {
    import_mode_moves_the_user_over(backend, false).await;
}

crate::on_both_backends!(
    mysql_templates_delegate,
    postgres_templates_delegate,
    mysql_templates_migrate,
    postgres_templates_migrate
);
