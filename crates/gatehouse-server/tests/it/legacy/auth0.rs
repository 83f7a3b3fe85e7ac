//! `auth0` legacy stores against a real server of Auth0's dialect nobody mocked: a second
//! Gatehouse plays the old tenant (password-realm grant, `auth0-forwarded-for`,
//! `users-by-email`, client credentials for its Management API, brute-force protection).

use super::support::{connection, login, logs_in, refused, stored};
use crate::kit::{App, Backend, Server, DB};
use gatehouse_services::login::{password_login, LoginError};
use serde_json::{json, Value};

const ADA: &str = "ada@old-tenant.test";
const ADA_PASSWORD: &str = "Ada's password at the old tenant 1";
const GRACE: &str = "grace@old-tenant.test";
const GRACE_PASSWORD: &str = "Grace's password at the old tenant 2";

/// The old tenant: Ada and Grace in its database connection, and one confidential
/// client allowed the password-realm grant there and the Management API.
pub struct OldTenant {
    pub srv: Server,
    pub client: App,
    pub ada: Value,
    pub grace: Value,
}

impl OldTenant {
    pub async fn start(backend: Backend) -> Self {
        let srv = Server::start(backend).await;
        let client = srv.password_client().await;
        let grants = json!({"grant_types": ["password", gatehouse_legacy::PASSWORD_REALM, "client_credentials"]});
        let (s, body) = srv.api("PATCH", &format!("/api/v2/clients/{}", client.client_id), Some(grants)).await;
        assert_eq!(s, 200, "{body}");
        let conn = srv.default_connection().await;
        let mut enabled: Vec<Value> = conn["enabled_clients"].as_array().unwrap().clone();
        enabled.push(json!(client.client_id));
        let path = format!("/api/v2/connections/{}", conn["id"].as_str().unwrap());
        let (s, body) = srv.api("PATCH", &path, Some(json!({"enabled_clients": enabled}))).await;
        assert_eq!(s, 200, "{body}");
        let grant = json!({"client_id": client.client_id, "audience": srv.state.config.management_audience(),
            "scope": ["read:users", "read:connections", "create:users", "update:users", "delete:users"]});
        let (s, body) = srv.api("POST", "/api/v2/client-grants", Some(grant)).await;
        assert_eq!(s, 201, "{body}");
        let ada = srv
            .create_user(json!({"email": ADA, "password": ADA_PASSWORD, "email_verified": true,
                "given_name": "Ada", "family_name": "Lovelace",
                "user_metadata": {"theme": "dark", "newsletter": {"weekly": true}},
                "app_metadata": {"plan": "enterprise", "seats": 12}}))
            .await;
        let grace = srv.create_user(json!({"email": GRACE, "password": GRACE_PASSWORD})).await;
        Self { srv, client, ada, grace }
    }

    /// The `legacy_store` that points at this tenant.
    pub fn store(&self) -> Value {
        json!({"kind": "auth0", "domain": self.srv.base, "client_id": self.client.client_id,
            "client_secret": self.client.secret, "connection": DB, "timeout_ms": 5000})
    }
}

async fn first_login_migrates_from_the_old_tenant(backend: Backend) {
    let old = OldTenant::start(backend.clone()).await;
    let srv = Server::start(backend).await;
    let app = srv.password_client().await;
    let con = connection(&srv, &app, "from-auth0", true, old.store()).await;

    // Secrets are masked like every other kind's.
    let (s, shown) = srv.api("GET", &format!("/api/v2/connections/{con}"), None).await;
    assert_eq!(s, 200, "{shown}");
    assert_eq!(shown["options"]["legacy_store"]["client_secret"], json!("********"));
    assert_eq!(shown["options"]["legacy_store"]["client_id"], json!(old.client.client_id));

    refused(&srv, &app, "from-auth0", ADA, "not Ada's password").await;
    refused(&srv, &app, "from-auth0", "nobody@old-tenant.test", ADA_PASSWORD).await;
    assert!(stored(&srv, &con, ADA).await.is_none(), "a refused login migrates nobody");

    // The end user's address reaches the old tenant: its brute-force protection blocks
    // Ada from that address only, and Gatehouse says so instead of failing.
    let brute_force = "/api/v2/attack-protection/brute-force-protection";
    assert_eq!(old.srv.api("PATCH", brute_force, Some(json!({"max_attempts": 3}))).await.0, 200);
    let connection = srv.store.connection(&con).await.unwrap().unwrap();
    let far = Some("203.0.113.7");
    for _ in 0..3 {
        let r = password_login(&srv.state, &connection, ADA, "still not it", far).await;
        assert!(matches!(r, Err(LoginError::WrongCredentials)), "{r:?}");
    }
    let (s, blocks) = old.srv.api("GET", &format!("/api/v2/user-blocks?identifier={ADA}"), None).await;
    assert_eq!(s, 200, "{blocks}");
    assert!(
        blocks["blocked_for"].as_array().unwrap().iter().any(|b| b["ip"] == json!("203.0.113.7")),
        "the old tenant counted the user's address: {blocks}"
    );
    let r = password_login(&srv.state, &connection, ADA, ADA_PASSWORD, far).await;
    assert!(matches!(r, Err(LoginError::TooManyAttempts)), "{r:?}");
    assert!(stored(&srv, &con, ADA).await.is_none());

    // From another address, the right password moves Ada over, as she was there.
    logs_in(&srv, &app, "from-auth0", ADA, ADA_PASSWORD).await;
    let ada = stored(&srv, &con, ADA).await.unwrap();
    assert_eq!(json!(ada.user_id), old.ada["user_id"]);
    assert_eq!(json!(ada.created_at), old.ada["created_at"]);
    assert_eq!(Value::Object(ada.user_metadata.clone()), old.ada["user_metadata"]);
    assert_eq!(Value::Object(ada.app_metadata.clone()), old.ada["app_metadata"]);
    assert!(ada.email_verified);
    assert_eq!(ada.given_name.as_deref(), Some("Ada"));
    assert!(ada.password_hash.as_deref().unwrap().starts_with("$argon2id$"));
    let (s, shown) = srv.api("GET", &format!("/api/v2/users/{}", ada.user_id), None).await;
    assert_eq!(s, 200, "{shown}");
    assert_eq!(shown["identities"][0]["connection"], json!("from-auth0"));
    assert_eq!(shown["identities"][0]["user_id"], old.ada["identities"][0]["user_id"]);

    // Ada's next logins never reach the old tenant: it may even be gone.
    old.srv.stop().await;
    logs_in(&srv, &app, "from-auth0", ADA, ADA_PASSWORD).await;
    refused(&srv, &app, "from-auth0", ADA, "not Ada's password").await;
    let (s, body) = login(&srv, &app, "from-auth0", GRACE, GRACE_PASSWORD).await;
    assert_eq!((s, &body["error"]), (503, &json!("temporarily_unavailable")), "{body}");
    assert!(stored(&srv, &con, GRACE).await.is_none());
    srv.stop().await;
}

async fn delegated_to_the_old_tenant(backend: Backend) {
    let old = OldTenant::start(backend.clone()).await;
    let srv = Server::start(backend).await;
    let app = srv.password_client().await;
    let con = connection(&srv, &app, "still-auth0", false, old.store()).await;
    logs_in(&srv, &app, "still-auth0", GRACE, GRACE_PASSWORD).await;
    let grace = stored(&srv, &con, GRACE).await.unwrap();
    assert_eq!(json!(grace.user_id), old.grace["user_id"]);
    assert_eq!(grace.password_hash, None, "the old tenant stays the source of truth");
    refused(&srv, &app, "still-auth0", GRACE, "wrong").await;
    old.srv.stop().await;
    srv.stop().await;
}

/// The old tenant's password-hash export, as its support would send it: one line per
/// user with its stored hash under `_id.$oid`, plus a hash of a user who is not there and
/// a line without a hash.
async fn hash_export(old: &OldTenant, users: &[&Value]) -> Vec<u8> {
    let mut out = String::new();
    for u in users {
        let id = u["user_id"].as_str().unwrap();
        let stored = old.srv.store.user(id).await.unwrap().unwrap();
        let line = json!({"_id": {"$oid": id.trim_start_matches("auth0|")}, "email": u["email"],
            "email_verified": false, "passwordHash": stored.password_hash, "tenant": "old",
            "connection": DB, "_tmp_is_unique": true});
        out.push_str(&format!("{line}\n"));
    }
    out.push_str(r#"{"_id":{"$oid":"0123456789abcdef01234567"},"email":"ghost@old-tenant.test","passwordHash":"$2b$10$abcdefghijklmnopqrstuu5Ipm7M3GQQXCEU0VWKmTxmk6xMY9O9e","connection":"Username-Password-Authentication"}"#);
    out.push('\n');
    out.push_str(r#"{"_id":{"$oid":"0123456789abcdef01234568"},"email":"nohash@old-tenant.test","connection":"Username-Password-Authentication"}"#);
    out.push('\n');
    out.into_bytes()
}

async fn migrate_remaining_takes_the_rest_with_the_hash_export(backend: Backend) {
    let old = OldTenant::start(backend.clone()).await;
    const LINUS: &str = "linus@old-tenant.test";
    let linus = old.srv.create_user(json!({"email": LINUS, "password": "Linus's password at the old tenant 3"})).await;
    let srv = Server::start(backend).await;
    let app = srv.password_client().await;
    let con = connection(&srv, &app, "from-auth0", true, old.store()).await;
    logs_in(&srv, &app, "from-auth0", ADA, ADA_PASSWORD).await;
    let ada = stored(&srv, &con, ADA).await.unwrap();

    // Ada and Grace are in the hash export; Linus is not.
    let export = hash_export(&old, &[&old.ada, &old.grace]).await;
    let hashes = gatehouse_migrate::HashExport::read(export.as_slice(), None, 1 << 20).unwrap();
    let connection = srv.store.connection(&con).await.unwrap().unwrap();
    let legacy = gatehouse_services::legacy::store_for(&srv.state, &connection).unwrap().unwrap();
    let errors = std::sync::Mutex::new(Vec::new());
    let summary = gatehouse_services::legacy::migrate_remaining(
        &srv.store,
        srv.state.hashing.hasher(),
        &connection,
        &legacy,
        Some(&hashes),
        &srv.state.now(),
        |_, page| {
            errors.lock().unwrap().extend(page);
            std::future::ready(Ok(()))
        },
    )
    .await
    .unwrap();
    let errors = errors.into_inner().unwrap();
    assert_eq!((summary.total, summary.inserted, summary.skipped, summary.failed), (3, 2, 1, 2), "{errors:?}");
    // The hash records no user took are reported, field and reason, the hash masked.
    let reported: Vec<(&str, &str, Value)> =
        errors.iter().map(|e| (e.errors[0].code, e.errors[0].path.as_str(), e.user["email"].clone())).collect();
    assert_eq!(
        reported,
        vec![
            ("NOT_JOINED", "_id", json!("ghost@old-tenant.test")),
            ("INVALID_FIELD", "passwordHash", json!("nohash@old-tenant.test"))
        ]
    );
    assert!(errors.iter().all(|e| !e.user.to_string().contains("$2b$")));

    // Ada, migrated on login, is untouched; Grace came with her old hash and keeps her
    // id, creation time and metadata; Linus came without a hash.
    assert_eq!(stored(&srv, &con, ADA).await.unwrap(), ada);
    let grace = stored(&srv, &con, GRACE).await.unwrap();
    assert_eq!(json!(grace.user_id), old.grace["user_id"]);
    assert_eq!(json!(grace.created_at), old.grace["created_at"]);
    let old_grace = old.srv.store.user(&grace.user_id).await.unwrap().unwrap();
    assert_eq!(grace.password_hash, old_grace.password_hash);
    let new_linus = stored(&srv, &con, LINUS).await.unwrap();
    assert_eq!((json!(new_linus.user_id), new_linus.password_hash), (linus["user_id"].clone(), None));
    let p = super::support::progress(&srv, &con).await;
    assert_eq!((p["migrated_on_login"].clone(), p["migrated_in_bulk"].clone()), (json!(1), json!(2)), "{p}");

    // Linus's old password still works, through the old tenant, and becomes his here.
    logs_in(&srv, &app, "from-auth0", LINUS, "Linus's password at the old tenant 3").await;
    assert!(stored(&srv, &con, LINUS).await.unwrap().password_hash.is_some());
    // Without the old tenant, everyone logs in.
    old.srv.stop().await;
    logs_in(&srv, &app, "from-auth0", GRACE, GRACE_PASSWORD).await;
    logs_in(&srv, &app, "from-auth0", LINUS, "Linus's password at the old tenant 3").await;
    refused(&srv, &app, "from-auth0", GRACE, "wrong").await;
    srv.stop().await;
}

/// The same through the job: `users-migrate-remaining` reads the tenant's users export.
async fn migrate_remaining_job_reads_the_users_export(backend: Backend) {
    let old = OldTenant::start(backend.clone()).await;
    let srv = Server::start(backend).await;
    let app = srv.password_client().await;
    let con = connection(&srv, &app, "from-auth0", true, old.store()).await;
    let (s, job) = srv.api("POST", "/api/v2/jobs/users-migrate-remaining", Some(json!({"connection_id": con}))).await;
    assert_eq!(s, 201, "{job}");
    let path = format!("/api/v2/jobs/{}", job["id"].as_str().unwrap());
    let mut summary = Value::Null;
    for _ in 0..600 {
        let (_, job) = srv.api("GET", &path, None).await;
        match job["status"].as_str() {
            Some("completed") => {
                summary = job["summary"].clone();
                break;
            }
            Some("failed") => panic!("{job}"),
            _ => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
    assert_eq!(summary, json!({"total": 2, "inserted": 2, "skipped": 0, "failed": 0}));
    let ada = stored(&srv, &con, ADA).await.unwrap();
    assert_eq!(json!(ada.user_id), old.ada["user_id"]);
    assert_eq!(Value::Object(ada.user_metadata.clone()), old.ada["user_metadata"]);
    // No hash: the old tenant still checks the password, once.
    logs_in(&srv, &app, "from-auth0", ADA, ADA_PASSWORD).await;
    old.srv.stop().await;
    logs_in(&srv, &app, "from-auth0", ADA, ADA_PASSWORD).await;
    srv.stop().await;
}

crate::on_both_backends!(
    first_login_migrates_from_the_old_tenant,
    delegated_to_the_old_tenant,
    migrate_remaining_takes_the_rest_with_the_hash_export,
    migrate_remaining_job_reads_the_users_export
);
