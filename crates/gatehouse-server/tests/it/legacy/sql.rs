//! `sql` legacy stores on MariaDB and PostgreSQL: automatic migration of users hashed
//! with bcrypt, phpass, md5-crypt, Django's pbkdf2 and plain hex md5 (through a
//! `custom_password_hash` template), concurrency, outages, delegated mode and the bulk
//! import of the remaining users.

use super::support::{connection, login, logs_in, progress, refused, stored, vector, LegacyDb};
use crate::kit::{hidden, link};
use crate::kit::{Backend, Server};
use serde_json::{json, Value};

/// Users with self-describing hashes: (vector, email, username).
const HASHED: &[(&str, &str, &str)] = &[
    ("bcrypt-1", "bcrypt@legacy.test", "bcrypt_user"),
    ("phpass-wordpress-55", "phpass@legacy.test", "phpass_user"),
    ("md5-crypt-52", "md5crypt@legacy.test", "md5crypt_user"),
    ("django-pbkdf2-sha256-57", "pbkdf2@legacy.test", "pbkdf2_user"),
];

fn is_mysql(db: &LegacyDb) -> bool {
    db.url.starts_with("mysql")
}

fn id_expr(db: &LegacyDb) -> &'static str {
    if is_mysql(db) {
        "CONCAT('legacy|', id)"
    } else {
        "'legacy|' || id"
    }
}

/// The `sql` store of the hashed users (rows without a salt marker).
fn sql_store(db: &LegacyDb) -> Value {
    let id = id_expr(db);
    let cols =
        format!("{id} AS user_id, mail AS email, verified AS email_verified, nick AS username, full_name AS name");
    json!({"kind": "sql", "url": db.url, "timeout_ms": 5000, "queries": {
        "login": format!("SELECT {cols}, pw AS password_hash FROM members WHERE (mail = :email OR nick = :username) AND salt IS NULL"),
        "get_user": format!("SELECT {cols} FROM members WHERE (mail = :email OR nick = :username) AND salt IS NULL"),
        "list": format!("SELECT {cols}, pw AS password_hash FROM members WHERE salt IS NULL ORDER BY id LIMIT :limit OFFSET :offset"),
    }})
}

/// The plain hex md5 users (salt column `md5`), described by a template.
fn md5_store(db: &LegacyDb) -> Value {
    let id = id_expr(db);
    json!({"kind": "sql", "url": db.url, "queries": {
        "login": format!("SELECT {id} AS user_id, mail AS email, pw AS hex_md5 FROM members WHERE mail = :email AND salt = 'md5'"),
        "get_user": format!("SELECT {id} AS user_id, mail AS email FROM members WHERE mail = :email AND salt = 'md5'"),
    }, "custom_password_hash": {"algorithm": "md5", "hash": {"value": "{{hex_md5}}", "encoding": "hex"}}})
}

async fn seed(db: &LegacyDb) {
    db.members_table().await;
    for (id, email, nick) in HASHED {
        db.member(email, nick, vector(id).hash.as_str().unwrap(), None).await;
    }
    let md5 = vector("md5-3");
    db.member("md5@legacy.test", "md5_user", md5.hash["hash"]["value"].as_str().unwrap(), Some("md5")).await;
}

async fn first_login_migrates(backend: Backend, db: Option<LegacyDb>) {
    let Some(db) = db else { return };
    seed(&db).await;
    let srv = Server::start(backend).await;
    let app = srv.password_client().await;
    let con = connection(&srv, &app, "legacy-sql", true, sql_store(&db)).await;
    let md5_con = connection(&srv, &app, "legacy-md5", true, md5_store(&db)).await;

    for (i, (id, email, nick)) in HASHED.iter().enumerate() {
        let v = vector(id);
        refused(&srv, &app, "legacy-sql", email, &v.wrong).await;
        assert!(stored(&srv, &con, email).await.is_none(), "{id}: a wrong password migrates nobody");
        // Either login works against the legacy store: the email, or the username.
        let name = if i % 2 == 0 { *email } else { *nick };
        logs_in(&srv, &app, "legacy-sql", name, &v.password).await;
        let user = stored(&srv, &con, email).await.unwrap_or_else(|| panic!("{id} was not migrated"));
        assert!(user.user_id.starts_with("auth0|legacy|"), "{}", user.user_id);
        assert!(user.password_hash.as_deref().unwrap().starts_with("$argon2id$"), "{id}: a fresh argon2id hash");
        assert_eq!(user.name.as_deref(), Some(format!("Member {nick}").as_str()));
        assert!(user.email_verified, "{id}");
        assert_eq!(user.logins_count, 1);
    }
    refused(&srv, &app, "legacy-sql", "nobody@legacy.test", "whatever").await;
    let md5 = vector("md5-3");
    refused(&srv, &app, "legacy-md5", "md5@legacy.test", &md5.wrong).await;
    logs_in(&srv, &app, "legacy-md5", "md5@legacy.test", &md5.password).await;

    let p = progress(&srv, &con).await;
    assert_eq!((p["migrated"].clone(), p["migrated_on_login"].clone()), (json!(4), json!(4)), "{p}");
    assert!(p["last_migrated_at"].is_string(), "{p}");
    assert_eq!(p["legacy_store"], json!("sql"));
    assert_eq!(progress(&srv, &md5_con).await["migrated"], json!(1));

    // The legacy database is gone: migrated users never needed it again.
    db.drop_database().await;
    for (id, email, _) in HASHED {
        let v = vector(id);
        logs_in(&srv, &app, "legacy-sql", email, &v.password).await;
        refused(&srv, &app, "legacy-sql", email, &v.wrong).await;
    }
    logs_in(&srv, &app, "legacy-md5", "md5@legacy.test", &md5.password).await;
    // Only users Gatehouse does not hold still need it.
    let (s, body) = login(&srv, &app, "legacy-sql", "nobody@legacy.test", "whatever").await;
    assert_eq!(s, 503, "{body}");
    srv.stop().await;
}

async fn mariadb_first_login_migrates(backend: Backend) {
    first_login_migrates(backend, LegacyDb::mariadb().await).await;
}

async fn postgres_legacy_first_login_migrates(backend: Backend) {
    first_login_migrates(backend, LegacyDb::postgres().await).await;
}

async fn concurrent_first_logins_make_one_user(backend: Backend) {
    let Some(db) = LegacyDb::mariadb().await else { return };
    seed(&db).await;
    let srv = Server::start(backend).await;
    let app = srv.password_client().await;
    let con = connection(&srv, &app, "legacy-sql", true, sql_store(&db)).await;
    let v = vector("bcrypt-1");
    // Six first logins at once, each on its own task and connection.
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let (http, base) = (reqwest::Client::new(), srv.base.clone());
            let form = [
                ("grant_type".to_string(), "http://auth0.com/oauth/grant-type/password-realm".to_string()),
                ("client_id".into(), app.client_id.clone()),
                ("client_secret".into(), app.secret.clone()),
                ("realm".into(), "legacy-sql".into()),
                ("username".into(), "bcrypt@legacy.test".into()),
                ("password".into(), v.password.clone()),
            ];
            tokio::spawn(async move {
                let r = http.post(format!("{base}/oauth/token")).form(&form).send().await.unwrap();
                (r.status().as_u16(), r.text().await.unwrap())
            })
        })
        .collect();
    for t in tasks {
        let (s, body) = t.await.unwrap();
        assert_eq!(s, 200, "{body}");
    }
    let (s, users) = srv.api("GET", "/api/v2/users?q=email:%22bcrypt@legacy.test%22", None).await;
    assert_eq!(s, 200);
    assert_eq!(users.as_array().map(Vec::len), Some(1), "{users}");
    assert_eq!(progress(&srv, &con).await["migrated"], json!(1));
    db.drop_database().await;
    srv.stop().await;
}

async fn legacy_down_is_503_and_nothing_created(backend: Backend) {
    let srv = Server::start(backend).await;
    let app = srv.password_client().await;
    // Nothing listens on port 1.
    let store = json!({"kind": "sql", "url": "mysql://root@127.0.0.1:1/legacy", "timeout_ms": 1000, "queries": {
        "login": "SELECT id AS user_id, mail AS email, pw AS password_hash FROM members WHERE mail = :email",
        "get_user": "SELECT id AS user_id, mail AS email FROM members WHERE mail = :email"}});
    let con = connection(&srv, &app, "legacy-down", true, store).await;
    let (s, body) = login(&srv, &app, "legacy-down", "ada@legacy.test", "some password").await;
    assert_eq!(s, 503, "{body}");
    assert_eq!(body["error"], json!("temporarily_unavailable"), "{body}");
    assert_eq!(srv.store.count_users_in_connection(&con).await.unwrap(), 0);
    // The outage is in the audit log, and Gatehouse itself stays ready.
    let (s, logs) = srv.api("GET", "/api/v2/logs?q=type:f", None).await;
    assert_eq!(s, 200, "{logs}");
    assert!(
        logs.as_array().unwrap().iter().any(|e| e["description"] == json!("legacy identity store unavailable")
            && e["connection"] == json!("legacy-down")),
        "{logs}"
    );
    let ready = srv.http.get(format!("{}/readyz", srv.base)).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    // Management API creates in import mode ask the legacy store too: a clear 503.
    let body = json!({"connection": "legacy-down", "email": "new@legacy.test", "password": "Passw0rd!x"});
    let (s, err) = srv.api("POST", "/api/v2/users", Some(body)).await;
    assert_eq!(s, 503, "{err}");
    assert_eq!(err["errorCode"], json!("temporarily_unavailable"), "{err}");
    srv.stop().await;
}

async fn secrets_are_redacted(backend: Backend) {
    let srv = Server::start(backend).await;
    let app = srv.password_client().await;
    let store = json!({"kind": "sql", "url": "mysql://app:hunter2-secret@127.0.0.1:1/legacy", "queries": {
        "login": "SELECT id AS user_id, mail AS email, pw AS password_hash FROM members WHERE mail = :email",
        "get_user": "SELECT id AS user_id, mail AS email FROM members WHERE mail = :email"}});
    let body = json!({"name": "legacy-secret", "strategy": "auth0", "enabled_clients": [app.client_id],
        "options": {"enabledDatabaseCustomization": true, "import_mode": true, "legacy_store": store}});
    let (s, created) = srv.api("POST", "/api/v2/connections", Some(body)).await;
    assert_eq!(s, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let (_, one) = srv.api("GET", &format!("/api/v2/connections/{id}"), None).await;
    let (_, all) = srv.api("GET", "/api/v2/connections", None).await;
    for shown in [&created, &one, &all] {
        let text = shown.to_string();
        assert!(!text.contains("hunter2"), "{text}");
    }
    assert!(one["options"]["legacy_store"]["url"].as_str().unwrap().contains(gatehouse_legacy::MASK), "{one}");
    // Sending the shown options back keeps the stored password.
    let mut options = one["options"].clone();
    options["legacy_store"]["timeout_ms"] = json!(2000);
    let (s, patched) = srv.api("PATCH", &format!("/api/v2/connections/{id}"), Some(json!({"options": options}))).await;
    assert_eq!(s, 200, "{patched}");
    assert!(!patched.to_string().contains("hunter2"));
    let kept = srv.store.connection(&id).await.unwrap().unwrap();
    assert_eq!(kept.options["legacy_store"]["url"], json!("mysql://app:hunter2-secret@127.0.0.1:1/legacy"));
    assert_eq!(kept.options["legacy_store"]["timeout_ms"], json!(2000));
    // A mask with no stored secret behind it, and a bad option, are refused by name.
    let http = json!({"enabledDatabaseCustomization": true, "legacy_store": {"kind": "http",
        "login_url": "http://127.0.0.1:1/login", "get_user_url": "http://127.0.0.1:1/get_user",
        "secret": gatehouse_legacy::MASK}});
    let (s, err) = srv.api("PATCH", &format!("/api/v2/connections/{id}"), Some(json!({"options": http}))).await;
    assert_eq!(s, 400, "{err}");
    assert!(err["message"].as_str().unwrap().contains("options.legacy_store.secret"), "{err}");
    let bad = json!({"enabledDatabaseCustomization": true, "legacy_store": {"kind": "sql", "url": "mysql://x/y",
        "queries": {"login": "SELECT 1 WHERE a = :pasword", "get_user": "SELECT 1"}}});
    let (s, err) = srv.api("PATCH", &format!("/api/v2/connections/{id}"), Some(json!({"options": bad}))).await;
    assert_eq!(s, 400, "{err}");
    assert_eq!(
        err["message"],
        json!("Payload validation error: 'unknown parameter :pasword; this query takes :email, :username' on property options.legacy_store.queries.login.")
    );
    srv.stop().await;
}

async fn migrate_remaining_skips_migrated(backend: Backend) {
    let Some(db) = LegacyDb::mariadb().await else { return };
    seed(&db).await;
    let srv = Server::start(backend).await;
    let app = srv.password_client().await;
    let con = connection(&srv, &app, "legacy-sql", true, sql_store(&db)).await;
    let bcrypt = vector("bcrypt-1");
    logs_in(&srv, &app, "legacy-sql", "bcrypt@legacy.test", &bcrypt.password).await;
    let migrated = stored(&srv, &con, "bcrypt@legacy.test").await.unwrap();

    let summary = run_job(&srv, &con).await;
    assert_eq!(summary, json!({"total": 4, "inserted": 3, "skipped": 1, "failed": 0}));
    // The user migrated on login is untouched; the others carry their legacy hashes.
    assert_eq!(stored(&srv, &con, "bcrypt@legacy.test").await.unwrap(), migrated);
    let phpass = stored(&srv, &con, "phpass@legacy.test").await.unwrap();
    assert_eq!(Some(json!(phpass.password_hash)), Some(vector("phpass-wordpress-55").hash));
    assert!(phpass.user_id.starts_with("auth0|legacy|"));
    let p = progress(&srv, &con).await;
    assert_eq!((p["migrated_on_login"].clone(), p["migrated_in_bulk"].clone()), (json!(1), json!(3)), "{p}");
    // Idempotent: a second run finds everyone here.
    assert_eq!(run_job(&srv, &con).await, json!({"total": 4, "inserted": 0, "skipped": 4, "failed": 0}));

    // The legacy database can go: everyone logs in with their old password.
    db.drop_database().await;
    for (id, email, _) in HASHED {
        logs_in(&srv, &app, "legacy-sql", email, &vector(id).password).await;
    }
    srv.stop().await;
}

/// The console's connection page: a test lookup in the legacy store, the migration so
/// far, and "migrate remaining" starting the job whose page follows it.
async fn the_console_looks_a_user_up_and_migrates_the_rest(backend: Backend) {
    use crate::console::{csrf, sign_in, start, ADMIN_EMAIL, ADMIN_PASSWORD};
    let Some(db) = LegacyDb::mariadb().await else { return };
    seed(&db).await;
    let srv = start(backend).await;
    let app = srv.password_client().await;
    let con = connection(&srv, &app, "legacy-sql", true, sql_store(&db)).await;
    logs_in(&srv, &app, "legacy-sql", "bcrypt@legacy.test", &vector("bcrypt-1").password).await;
    let mut b = sign_in(&srv, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let page = b.get(&format!("/admin/connections/{con}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("1 of 1 users here (1 at login, 0 in bulk, 0 imported)"), "{}", page.body);
    let token = csrf(&page.body);
    let a = b
        .post_form(
            &format!("/admin/connections/{con}/test-lookup"),
            &[("csrf", &token), ("login", "phpass@legacy.test")],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("Found: user id legacy|") && a.body.contains("phpass@legacy.test"), "{}", a.body);
    let a = b
        .post_form(
            &format!("/admin/connections/{con}/test-lookup"),
            &[("csrf", &token), ("login", "nobody@legacy.test")],
        )
        .await;
    assert!(a.body.contains("has no user"), "{}", a.body);
    let a = b.post_form(&format!("/admin/connections/{con}/migrate-remaining"), &[("csrf", &token)]).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let job_page = a.location.unwrap();
    let id = job_page.strip_prefix("/admin/jobs/").unwrap().to_string();
    for _ in 0..600 {
        let job = srv.store.job(&id).await.unwrap().unwrap();
        if job.status.as_str() == "completed" {
            break;
        }
        assert_ne!(job.status.as_str(), "failed", "{job:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let page = b.get(&job_page).await;
    assert!(page.body.contains("completed"), "{}", page.body);
    let page = b.get(&format!("/admin/connections/{con}")).await;
    assert!(page.body.contains("4 of 4 users here (1 at login, 3 in bulk, 0 imported)"), "{}", page.body);
    srv.stop().await;
}

/// Runs a `users-migrate-remaining` job to its end; its summary.
async fn run_job(srv: &Server, con: &str) -> Value {
    let (s, job) = srv.api("POST", "/api/v2/jobs/users-migrate-remaining", Some(json!({"connection_id": con}))).await;
    assert_eq!(s, 201, "{job}");
    assert_eq!(job["type"], json!("users_migrate_remaining"));
    let path = format!("/api/v2/jobs/{}", job["id"].as_str().unwrap());
    for _ in 0..600 {
        let (_, job) = srv.api("GET", &path, None).await;
        match job["status"].as_str() {
            Some("completed") => return job["summary"].clone(),
            Some("failed") => panic!("{job}"),
            _ => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
    panic!("the job did not finish");
}

async fn delegated_mode_round_trips(backend: Backend) {
    let Some(db) = LegacyDb::mariadb().await else { return };
    seed(&db).await;
    let srv = Server::start(backend).await;
    let app = srv.password_client().await;
    let mut store = sql_store(&db);
    let q = store["queries"].as_object_mut().unwrap();
    q.insert(
        "create".into(),
        json!("INSERT INTO members (mail, nick, pw, verified) VALUES (:email, :username, :password_hash, 0)"),
    );
    q.insert("change_password".into(), json!("UPDATE members SET pw = :password_hash WHERE mail = :email"));
    q.insert("verify".into(), json!("UPDATE members SET verified = 1 WHERE mail = :email"));
    q.insert("delete".into(), json!("DELETE FROM members WHERE CONCAT('legacy|', id) = :user_id"));
    let con = connection(&srv, &app, "legacy-delegated", false, store).await;
    let pw_of = |email: &str| format!("SELECT pw FROM members WHERE mail = '{email}'");

    // Sign-up through the Management API: the legacy store creates the user.
    let body = json!({"connection": "legacy-delegated", "email": "new@legacy.test", "password": "first Passw0rd"});
    let (s, user) = srv.api("POST", "/api/v2/users", Some(body)).await;
    assert_eq!(s, 201, "{user}");
    let user_id = user["user_id"].as_str().unwrap().to_string();
    assert!(user_id.starts_with("auth0|legacy|"), "{user}");
    assert!(db.scalar(&pw_of("new@legacy.test")).await.unwrap().starts_with("$argon2id$"));
    assert_eq!(srv.store.user(&user_id).await.unwrap().unwrap().password_hash, None, "no hash is kept here");
    logs_in(&srv, &app, "legacy-delegated", "new@legacy.test", "first Passw0rd").await;

    // Password change goes to the legacy store.
    let (s, body) =
        srv.api("PATCH", &format!("/api/v2/users/{user_id}"), Some(json!({"password": "second Passw0rd"}))).await;
    assert_eq!(s, 200, "{body}");
    refused(&srv, &app, "legacy-delegated", "new@legacy.test", "first Passw0rd").await;
    logs_in(&srv, &app, "legacy-delegated", "new@legacy.test", "second Passw0rd").await;
    assert_eq!(srv.store.user(&user_id).await.unwrap().unwrap().password_hash, None);
    // So does verification.
    let (s, body) = srv.api("PATCH", &format!("/api/v2/users/{user_id}"), Some(json!({"email_verified": true}))).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        db.scalar("SELECT CAST(verified AS CHAR) FROM members WHERE mail = 'new@legacy.test'").await.as_deref(),
        Some("1")
    );

    // Every login asks the legacy store, and the copy follows its profile.
    let v = vector("bcrypt-1");
    logs_in(&srv, &app, "legacy-delegated", "bcrypt@legacy.test", &v.password).await;
    db.run("UPDATE members SET full_name = 'Renamed In Legacy' WHERE mail = 'bcrypt@legacy.test'").await;
    logs_in(&srv, &app, "legacy-delegated", "bcrypt@legacy.test", &v.password).await;
    let copy = stored(&srv, &con, "bcrypt@legacy.test").await.unwrap();
    assert_eq!((copy.name.as_deref(), copy.logins_count, copy.password_hash), (Some("Renamed In Legacy"), 2, None));
    assert_eq!(progress(&srv, &con).await["migrated"], json!(0), "delegated users are not migrated");

    // Delete removes the user from the legacy store too.
    let (s, _) = srv.api("DELETE", &format!("/api/v2/users/{user_id}"), None).await;
    assert_eq!(s, 204);
    assert_eq!(db.scalar(&pw_of("new@legacy.test")).await, None);
    refused(&srv, &app, "legacy-delegated", "new@legacy.test", "second Passw0rd").await;
    db.drop_database().await;
    srv.stop().await;
}

/// Completes a reset through the hosted page, from the ticket link to the new password.
async fn reset_through_page(srv: &Server, url: &str, password: &str) {
    let mut browser = srv.browser();
    let form = browser.get(url).await;
    assert_eq!(form.status, 200, "{}", form.body);
    let csrf = hidden(&form.body, "csrf_token");
    let ticket = hidden(&form.body, "ticket");
    let done = browser
        .post_form(
            "/u/reset-password",
            &[("csrf_token", &csrf), ("ticket", &ticket), ("password", password), ("password_confirm", password)],
        )
        .await;
    assert!(done.status == 200 || done.status == 303, "{} {}", done.status, done.body);
}

/// A user the legacy store still holds asks for a password reset: they are migrated
/// without a password, their legacy password keeps working until the reset is done, and
/// the new password is then theirs alone.
async fn reset_of_a_user_not_yet_migrated(backend: Backend) {
    let Some(db) = LegacyDb::mariadb().await else { return };
    seed(&db).await;
    let srv = Server::start(backend).await;
    let app = srv.password_client().await;
    let con = connection(&srv, &app, "legacy-reset", true, sql_store(&db)).await;

    // Through Auth0's ticket API (email + connection_id).
    let body = json!({"email": "bcrypt@legacy.test", "connection_id": con});
    let (s, t) = srv.api("POST", "/api/v2/tickets/password-change", Some(body)).await;
    assert_eq!(s, 201, "{t}");
    let moved = stored(&srv, &con, "bcrypt@legacy.test").await.expect("migrated for the reset");
    assert_eq!(moved.password_hash, None);
    assert_eq!(progress(&srv, &con).await["migrated_on_login"], json!(1));
    let legacy_password = vector("bcrypt-1").password;
    logs_in(&srv, &app, "legacy-reset", "bcrypt@legacy.test", &legacy_password).await;
    let after_login = stored(&srv, &con, "bcrypt@legacy.test").await.unwrap();
    assert!(after_login.password_hash.as_deref().is_some_and(|h| h.starts_with("$argon2id$")), "{after_login:?}");
    assert_eq!(after_login.logins_count, 1);
    reset_through_page(&srv, t["ticket"].as_str().unwrap(), "Brand new pass 42!").await;
    logs_in(&srv, &app, "legacy-reset", "bcrypt@legacy.test", "Brand new pass 42!").await;
    refused(&srv, &app, "legacy-reset", "bcrypt@legacy.test", &legacy_password).await;

    // Through `/dbconnections/change_password` and the emailed link; a wrong password
    // for a user moved in this way is refused by the legacy store.
    let (s, _) = srv
        .call(
            "POST",
            "/dbconnections/change_password",
            Some(json!({"client_id": app.client_id, "connection": "legacy-reset", "email": "phpass@legacy.test"})),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let mail = srv.emails_to("phpass@legacy.test", 1).await;
    let url = link(&mail[0], "/u/reset-password?ticket=");
    refused(&srv, &app, "legacy-reset", "phpass@legacy.test", "not the password").await;
    assert_eq!(stored(&srv, &con, "phpass@legacy.test").await.unwrap().password_hash, None);
    reset_through_page(&srv, &url, "Another new pass 43!").await;
    logs_in(&srv, &app, "legacy-reset", "phpass@legacy.test", "Another new pass 43!").await;
    refused(&srv, &app, "legacy-reset", "phpass@legacy.test", &vector("phpass-wordpress-55").password).await;

    // Unknown to both stores: the same answer, and nobody is created.
    let (s, _) = srv
        .call(
            "POST",
            "/dbconnections/change_password",
            Some(json!({"client_id": app.client_id, "connection": "legacy-reset", "email": "ghost@legacy.test"})),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = srv
        .api(
            "POST",
            "/api/v2/tickets/password-change",
            Some(json!({"email": "ghost@legacy.test", "connection_id": con})),
        )
        .await;
    assert_eq!(s, 404);
    assert!(stored(&srv, &con, "ghost@legacy.test").await.is_none());
    db.drop_database().await;
    srv.stop().await;
}

/// Delegated mode: a reset through the hosted page changes the legacy store's password
/// (nothing is kept here), even for a user Gatehouse had never seen.
async fn delegated_reset_changes_the_legacy_password(backend: Backend) {
    let Some(db) = LegacyDb::mariadb().await else { return };
    seed(&db).await;
    let srv = Server::start(backend).await;
    let app = srv.password_client().await;
    let mut store = sql_store(&db);
    store["queries"]["change_password"] = json!("UPDATE members SET pw = :password_hash WHERE mail = :email");
    let con = connection(&srv, &app, "legacy-delegated-reset", false, store).await;
    let body = json!({"email": "md5crypt@legacy.test", "connection_id": con});
    let (s, t) = srv.api("POST", "/api/v2/tickets/password-change", Some(body)).await;
    assert_eq!(s, 201, "{t}");
    reset_through_page(&srv, t["ticket"].as_str().unwrap(), "Delegated new pass 44!").await;
    let pw = db.scalar("SELECT pw FROM members WHERE mail = 'md5crypt@legacy.test'").await.unwrap();
    assert!(pw.starts_with("$argon2id$"), "{pw}");
    logs_in(&srv, &app, "legacy-delegated-reset", "md5crypt@legacy.test", "Delegated new pass 44!").await;
    refused(&srv, &app, "legacy-delegated-reset", "md5crypt@legacy.test", &vector("md5-crypt-52").password).await;
    assert_eq!(stored(&srv, &con, "md5crypt@legacy.test").await.unwrap().password_hash, None, "nothing kept here");
    db.drop_database().await;
    srv.stop().await;
}

/// The migration endpoint counts every way in: a bulk import (a job), a lazy login from
/// the legacy store and a sign-up, each once, adding up to the connection's users.
async fn migration_counts_every_way_in(backend: Backend) {
    let Some(db) = LegacyDb::postgres().await else { return };
    seed(&db).await;
    let srv = Server::start(backend).await;
    let app = srv.password_client().await;
    let con = connection(&srv, &app, "legacy-counted", true, sql_store(&db)).await;
    let before = progress(&srv, &con).await;
    assert_eq!((before["users"].clone(), before["migrated"].clone()), (json!(0), json!(0)), "{before}");

    let file = serde_json::to_vec(&json!([{"email": "imported1@example.com"}, {"email": "imported2@example.com"}]));
    let (s, job) = srv.import_users(file.unwrap(), &[("connection_id", con.as_str())]).await;
    assert_eq!(s, 202, "{job}");
    let job_path = format!("/api/v2/jobs/{}", job["id"].as_str().unwrap());
    for _ in 0..600 {
        let (_, j) = srv.api("GET", &job_path, None).await;
        if j["status"] == "completed" {
            break;
        }
        assert_ne!(j["status"], "failed", "{j}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    logs_in(&srv, &app, "legacy-counted", "bcrypt@legacy.test", &vector("bcrypt-1").password).await;
    let body = json!({"client_id": app.client_id, "connection": "legacy-counted",
        "email": "newcomer@example.com", "password": "A fresh start 2026!"});
    let (s, signed) = srv.call("POST", "/dbconnections/signup", Some(body), None).await;
    assert_eq!(s, 200, "{signed}");

    let p = progress(&srv, &con).await;
    for (field, n) in [
        ("users", 4),
        ("migrated", 3),
        ("imported", 2),
        ("migrated_on_login", 1),
        ("migrated_in_bulk", 0),
        ("signed_up", 1),
        ("created_by_api", 0),
        ("other", 0),
    ] {
        assert_eq!(p[field], json!(n), "{field}: {p}");
    }
    assert!(p["last_migrated_at"].is_string(), "{p}");
    db.drop_database().await;
    srv.stop().await;
}

crate::on_both_backends!(
    migration_counts_every_way_in,
    reset_of_a_user_not_yet_migrated,
    delegated_reset_changes_the_legacy_password,
    mariadb_first_login_migrates,
    postgres_legacy_first_login_migrates,
    concurrent_first_logins_make_one_user,
    legacy_down_is_503_and_nothing_created,
    secrets_are_redacted,
    migrate_remaining_skips_migrated,
    the_console_looks_a_user_up_and_migrates_the_rest,
    delegated_mode_round_trips,
);
