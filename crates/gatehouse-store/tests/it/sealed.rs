//! Secrets sealed at rest, on both backends: a dump of the database (every row of every
//! table, read with SQL past the store) holds none of them; the store reads them back;
//! a key rotation re-seals them so the old key can go; a missing key is an error, never
//! ciphertext taken for a secret.

use crate::common::{another_node, cleanup, stores, user, Db};
use gatehouse_core::action::{Action, ActionSecret};
use gatehouse_core::connection::Connection;
use gatehouse_core::mfa::{FactorKind, MfaFactor};
use gatehouse_core::secret::Secret;
use gatehouse_store::{SecretKeys, SigningKey, Store, StoreError};
use serde_json::{json, Value};

const K1: &str = "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
const K2: &str = "k2:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";

const CLIENT_SECRET: &str = "upstream-client-secret-6f1d";
const BIND_PASSWORD: &str = "ldap-bind-password-91ac";
const DB_PASSWORD: &str = "legacy-db-password-e3b0";
const PEM: &str =
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC-test-key-material\n-----END PRIVATE KEY-----\n";
const SERVER_SECRET: &str = "export-link-key-a9c4d2e1";
const TOTP: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const ACTION_SECRET: &str = "action-api-key-5b7e0c";
const SCRIPT_SECRET: &str = "custom-db-password-c41f";

fn keys(entries: &[&str]) -> SecretKeys {
    SecretKeys::parse(entries).unwrap()
}

async fn reopen(db: &Db, entries: &[&str]) -> Store {
    another_node(db).await.with_secret_keys(keys(entries))
}

/// Every row of every Gatehouse table, as text, read with SQL past the store.
async fn dump(db: &Db) -> String {
    let mut out = String::new();
    if let Some(file) = &db.file {
        let c = rusqlite::Connection::open(file).unwrap();
        let tables: Vec<String> = {
            let mut q = c.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").unwrap();
            q.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
        };
        for t in tables {
            let mut q = c.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
            let n = q.column_count();
            let mut rows = q.query([]).unwrap();
            while let Some(row) = rows.next().unwrap() {
                for i in 0..n {
                    match row.get_ref(i).unwrap() {
                        rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                            out.push_str(&String::from_utf8_lossy(t));
                            out.push('\n');
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    if let Some((url, schema)) = &db.drop_schema {
        use sqlx::Row;
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let tables: Vec<String> =
            sqlx::query_scalar("SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1")
                .bind(schema)
                .fetch_all(&pool)
                .await
                .unwrap();
        for t in tables {
            let rows = sqlx::query(&format!("SELECT row_to_json(t)::text AS j FROM \"{schema}\".\"{t}\" t"))
                .fetch_all(&pool)
                .await
                .unwrap();
            for r in rows {
                out.push_str(&r.get::<String, _>("j"));
                out.push('\n');
            }
        }
        pool.close().await;
    }
    assert!(!out.is_empty());
    out
}

/// A custom database whose scripts read their password from `configuration`.
fn custom_database() -> Connection {
    let mut c = Connection::new_database("con_sealscripts0001".into(), "scripts".into(), "t".into());
    c.options.insert("enabledDatabaseCustomization".into(), json!(true));
    c.options.insert("configuration".into(), json!({"DB_PASSWORD": SCRIPT_SECRET}));
    c
}

fn action() -> Action {
    Action {
        id: "act_seal0001".into(),
        name: "sealed".into(),
        supported_triggers: vec![],
        code: "exports.onExecutePostLogin = async () => {};".into(),
        dependencies: vec![],
        runtime: "node18".into(),
        secrets: vec![ActionSecret {
            name: "API_KEY".into(),
            value: ACTION_SECRET.into(),
            updated_at: "2026-01-01T00:00:00.000Z".into(),
        }],
        created_at: "2026-01-01T00:00:00.000Z".into(),
        updated_at: "2026-01-01T00:00:00.000Z".into(),
    }
}

fn connections() -> (Connection, Connection) {
    let mut social = Connection::new_database("con_sealsocial00001".into(), "google".into(), "t".into());
    social.strategy = "google-oauth2".into();
    social.options = json!({"client_id": "cid", "client_secret": CLIENT_SECRET}).as_object().unwrap().clone();
    let mut legacy = Connection::new_database("con_seallegacy00001".into(), "legacy".into(), "t".into());
    legacy.options.insert(
        "legacy_store".into(),
        json!({"kind": "sql", "url": format!("postgres://app:{DB_PASSWORD}@db.internal/app"),
               "queries": {"login": "SELECT not_a_secret_path"}}),
    );
    (social, legacy)
}

async fn write_secrets(s: &Store) -> Connection {
    let (social, mut legacy) = connections();
    s.insert_connection(&social).await.unwrap();
    s.insert_connection(&legacy).await.unwrap();
    s.insert_connection(&custom_database()).await.unwrap();
    s.insert_action(&action()).await.unwrap();
    // An update seals too.
    legacy.options["legacy_store"]["bind_password"] = json!(BIND_PASSWORD);
    s.update_connection(&legacy).await.unwrap();
    let key = SigningKey {
        kid: "kid-1".into(),
        alg: "RS256".into(),
        private_pem: PEM.into(),
        public_jwk: json!({"kty": "RSA"}),
        current: true,
        created_at: "2026-01-01T00:00:00.000Z".into(),
        retired_at: None,
    };
    s.insert_first_signing_key(&key).await.unwrap();
    assert_eq!(s.server_secret("link", SERVER_SECRET, "2026-01-01T00:00:00.000Z").await.unwrap(), SERVER_SECRET);
    let u = user(&legacy, 1);
    s.insert_user(&u).await.unwrap();
    let factor = MfaFactor {
        id: "totp|dev_0001".into(),
        user_id: u.user_id.clone(),
        kind: FactorKind::Totp,
        secret: Some(Secret::new(TOTP)),
        value: None,
        confirmed: true,
        last_step: None,
        created_at: "2026-01-01T00:00:00.000Z".into(),
        position: 0,
        last_auth_at: None,
        credential_id: None,
    };
    assert_eq!(s.insert_mfa_factors(&[factor.clone(), factor]).await.unwrap(), 1, "an id is stored once");
    legacy
}

/// What the store reads back: every secret in plaintext.
async fn read_back(s: &Store) -> Result<(), StoreError> {
    let social = s.connection_by_name("google").await?.unwrap();
    assert_eq!(social.options["client_secret"], json!(CLIENT_SECRET));
    let (listed, _) = s.connections(None, Some("legacy"), None, 0, 10).await?;
    let legacy = &listed[0].options["legacy_store"];
    assert_eq!(legacy["bind_password"], json!(BIND_PASSWORD));
    assert_eq!(legacy["url"], json!(format!("postgres://app:{DB_PASSWORD}@db.internal/app")));
    assert_eq!(legacy["kind"], json!("sql"));
    let keys = s.signing_keys("2000-01-01T00:00:00.000Z").await?;
    assert_eq!(keys[0].private_pem, PEM);
    assert_eq!(s.server_secret("link", "other", "2026-01-02T00:00:00.000Z").await?, SERVER_SECRET);
    let factors = s.mfa_factors("auth0|bulk000001").await?;
    assert_eq!(factors.len(), 1);
    assert_eq!(factors[0].secret.as_ref().map(Secret::expose), Some(TOTP));
    let scripts = s.connection_by_name("scripts").await?.unwrap();
    assert_eq!(scripts.options["configuration"]["DB_PASSWORD"], json!(SCRIPT_SECRET));
    let action = s.action("act_seal0001").await?.unwrap();
    assert_eq!(action.secrets[0].value, ACTION_SECRET);
    Ok(())
}

fn assert_no_secret_in(dump: &str) {
    for secret in
        [CLIENT_SECRET, BIND_PASSWORD, DB_PASSWORD, "BEGIN PRIVATE KEY", "test-key-material", SERVER_SECRET, TOTP]
            .into_iter()
            .chain([ACTION_SECRET, SCRIPT_SECRET])
    {
        assert!(!dump.contains(secret), "the dump holds {secret:?}");
    }
    // What is not secret stays readable.
    for visible in ["not_a_secret_path", "\"cid\"", "\"sql\""] {
        assert!(dump.contains(visible), "{visible} should stay readable");
    }
}

#[tokio::test]
async fn a_database_dump_reveals_no_secret_and_the_store_reads_them_back() {
    for db in stores().await {
        let s = db.store.clone().with_secret_keys(keys(&[K1]));
        write_secrets(&s).await;
        read_back(&s).await.unwrap();
        let dumped = dump(&db).await;
        assert_no_secret_in(&dumped);
        // Sealed under k1, named in each value.
        let k1_header = base64_header("k1");
        assert!(dumped.matches(&k1_header).count() >= 6, "{dumped}");
        cleanup(db).await;
    }
}

fn base64_header(kid: &str) -> String {
    use base64::Engine;
    let header = json!({"alg": "dir", "enc": "A256GCM", "kid": kid}).to_string();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(header)
}

#[tokio::test]
async fn a_rotation_reseals_everything_so_the_old_key_can_go() {
    for db in stores().await {
        let old = db.store.clone().with_secret_keys(keys(&[K1]));
        write_secrets(&old).await;
        // Without k1, nothing sealed under it opens, and nothing is taken as plaintext.
        let without = reopen(&db, &[K2]).await;
        assert!(matches!(without.connection_by_name("google").await, Err(StoreError::Sealed(_))));
        assert!(matches!(without.signing_keys("2000-01-01T00:00:00.000Z").await, Err(StoreError::Sealed(_))));
        assert!(matches!(without.mfa_factors("auth0|bulk000001").await, Err(StoreError::Sealed(_))));
        assert!(matches!(without.action("act_seal0001").await, Err(StoreError::Sealed(_))));
        assert!(matches!(without.connection_by_name("scripts").await, Err(StoreError::Sealed(_))));
        // Step 1: the new key first, the old kept. Everything reads; new writes use k2.
        let both = reopen(&db, &[K2, K1]).await;
        read_back(&both).await.unwrap();
        assert_eq!(both.unsealed_secret_count().await.unwrap(), 7);
        // Step 2: the re-seal.
        let done = both.reseal_secrets().await.unwrap();
        assert_eq!(
            (done.connections, done.actions, done.signing_keys, done.server_secrets, done.mfa_factors),
            (3, 1, 1, 1, 1)
        );
        assert_eq!(both.unsealed_secret_count().await.unwrap(), 0);
        assert_eq!(both.reseal_secrets().await.unwrap(), Default::default(), "a second run has nothing to do");
        // Step 3: the old key removed.
        let new_only = reopen(&db, &[K2]).await;
        read_back(&new_only).await.unwrap();
        // And the old key alone opens nothing any more.
        let old_only = reopen(&db, &[K1]).await;
        assert!(matches!(old_only.action("act_seal0001").await, Err(StoreError::Sealed(_))));
        assert!(matches!(old_only.connection_by_name("scripts").await, Err(StoreError::Sealed(_))));
        assert!(matches!(old_only.connection_by_name("google").await, Err(StoreError::Sealed(_))));
        assert!(matches!(old_only.signing_keys("2000-01-01T00:00:00.000Z").await, Err(StoreError::Sealed(_))));
        assert!(matches!(old_only.mfa_factors("auth0|bulk000001").await, Err(StoreError::Sealed(_))));
        let dumped = dump(&db).await;
        assert_no_secret_in(&dumped);
        assert!(!dumped.contains(&base64_header("k1")), "nothing is left under k1");
        cleanup(db).await;
    }
}

#[tokio::test]
async fn plaintext_from_before_sealing_is_read_and_sealed_by_the_reseal() {
    for db in stores().await {
        // A store as an older Gatehouse left it: the secrets in plaintext.
        let (social, _) = connections();
        let raw = json!({"client_id": "cid", "client_secret": CLIENT_SECRET});
        db.store.insert_connection(&social).await.unwrap();
        let sql_update = "UPDATE connections SET options = $1 WHERE id = $2";
        match (&db.file, &db.drop_schema) {
            (Some(file), _) => {
                let c = rusqlite::Connection::open(file).unwrap();
                c.execute(&sql_update.replace("$1", "?1").replace("$2", "?2"), (raw.to_string(), &social.id)).unwrap();
            }
            (None, Some((url, schema))) => {
                let pool = sqlx::PgPool::connect(url).await.unwrap();
                let sql = format!("UPDATE \"{schema}\".connections SET options = $1::jsonb WHERE id = $2");
                sqlx::query(&sql).bind(raw.to_string()).bind(&social.id).execute(&pool).await.unwrap();
                pool.close().await;
            }
            _ => unreachable!(),
        }
        let s = reopen(&db, &[K1]).await;
        let read = s.connection_by_name("google").await.unwrap().unwrap();
        assert_eq!(read.options["client_secret"], Value::from(CLIENT_SECRET));
        assert!(s.unsealed_secret_count().await.unwrap() >= 1);
        assert_eq!(s.reseal_secrets().await.unwrap().connections, 1);
        assert!(!dump(&db).await.contains(CLIENT_SECRET));
        assert_eq!(
            s.connection_by_name("google").await.unwrap().unwrap().options["client_secret"],
            json!(CLIENT_SECRET)
        );
        cleanup(db).await;
    }
}
