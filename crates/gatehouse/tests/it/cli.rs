//! The real `gatehouse` binary against a fresh store: `import` of every fixture format,
//! exit codes 0/3/2, `--dry-run`, `--report`, upsert idempotence, and export → import
//! reproducing the users, hashes included. SQLite always; PostgreSQL too when
//! `GATEHOUSE_TEST_POSTGRES_URL` is set (a fresh database per test, dropped afterwards).

use gatehouse_core::user::User;
use gatehouse_hash::Hasher;
use gatehouse_store::Store;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CONNECTION: &str = "Username-Password-Authentication";

/// The password of each fixture user, by email local part (see
/// gatehouse-migrate/tests/fixtures/passwords.json).
fn passwords() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(fixture("passwords.json")).unwrap();
    let v: serde_json::Map<String, Value> = serde_json::from_str(&text).unwrap();
    v.into_iter().map(|(k, v)| (k, v.as_str().unwrap().to_string())).collect()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../gatehouse-migrate/tests/fixtures").join(name)
}

/// A fresh store and a scratch directory; the PostgreSQL database is dropped by
/// [`Env::finish`].
struct Env {
    dir: PathBuf,
    url: String,
    pg: Option<(String, String)>,
}

impl Env {
    async fn sqlite() -> Env {
        let dir = scratch();
        let url = format!("sqlite://{}", dir.join("gatehouse.db").display());
        Env { dir, url, pg: None }
    }

    async fn postgres(base: &str) -> Env {
        let (name, url) = crate::fresh_database(base, "gh_cli").await;
        Env { dir: scratch(), url, pg: Some((base.to_string(), name)) }
    }

    /// Every backend the environment offers.
    async fn all() -> Vec<Env> {
        let mut envs = vec![Env::sqlite().await];
        if let Ok(base) = std::env::var("GATEHOUSE_TEST_POSTGRES_URL") {
            envs.push(Env::postgres(&base).await);
        }
        envs
    }

    /// A second, empty store on the same backend.
    async fn sibling(&self) -> Env {
        match &self.pg {
            Some((base, _)) => Env::postgres(base).await,
            None => Env::sqlite().await,
        }
    }

    async fn finish(self) {
        if let Some((base, name)) = &self.pg {
            crate::drop_database(base, name).await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    fn backend(&self) -> &'static str {
        if self.pg.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
    }

    /// Runs `gatehouse ARGS` on this store; only the store URL comes from the environment.
    fn gh(&self, args: &[&str]) -> Output {
        let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(args)
            .current_dir(&self.dir)
            .env_clear()
            .env("GATEHOUSE_DATABASE_URL", &self.url)
            .env("GATEHOUSE_LOG", "warn")
            .output()
            .unwrap();
        out
    }

    fn import(&self, file: &Path, extra: &[&str]) -> Output {
        let file = file.to_str().unwrap();
        let mut args = vec!["import", file, "--connection", CONNECTION];
        args.extend_from_slice(extra);
        self.gh(&args)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    async fn users(&self) -> Vec<User> {
        let store = Store::connect(&self.url).await.unwrap();
        let users = store.users_after(None, None, 100_000).await.unwrap();
        store.close().await;
        users
    }
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gh_cli_{}_{:016x}", std::process::id(), rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[track_caller]
fn expect_code(out: &Output, expected: i32, what: &str) {
    assert_eq!(code(out), expected, "{what}: stderr:\n{}", stderr(out));
}

fn write_json(env: &Env, name: &str, v: &Value) -> PathBuf {
    let p = env.path(name);
    std::fs::write(&p, serde_json::to_vec(v).unwrap()).unwrap();
    p
}

/// bcrypt (cost 4) of "secret", made by Python's bcrypt.
const BCRYPT_SECRET: &str = "$2b$04$ui5LvmU27jL0oDA1i0uMmefxjjS1FuO.dBXJCcYtrzzbCbM.wsBEC";

fn good_users() -> Value {
    json!([
        {"email": "ada@example.com", "user_id": "ada", "password_hash": BCRYPT_SECRET, "name": "Ada", "user_metadata": {"plan": "pro"}},
        {"email": "bo@example.com", "user_id": "bo", "email_verified": true, "app_metadata": {"roles": ["admin"]}},
    ])
}

/// Every stored password of a known fixture user verifies with its password.
fn check_passwords(users: &[User]) -> usize {
    let hasher = Hasher::default();
    let passwords = passwords();
    let mut n = 0;
    for u in users {
        let local = u.email.as_deref().and_then(|e| e.split('@').next()).unwrap_or("");
        let Some((_, pw)) = passwords.iter().find(|(who, _)| who == local) else { continue };
        let Some(stored) = u.password_hash.as_deref() else { continue };
        let h = hasher.parse_stored(stored).unwrap();
        assert!(hasher.verify(&h, pw), "{local}: right password rejected ({})", h.family());
        assert!(!hasher.verify(&h, &format!("{pw}x")), "{local}: wrong password accepted");
        n += 1;
    }
    n
}

/// `(format, file, extra flags, inserted, failed)` for every fixture.
fn fixtures() -> Vec<(&'static str, &'static str, Vec<String>, u64, u64)> {
    let fb = fixture("firebase-hash-config.json").display().to_string();
    vec![
        ("auth0", "auth0.json", vec![], 7, 1),
        ("ndjson", "auth0-export.ndjson", vec![], 2, 1),
        ("csv", "users.csv", vec![], 2, 1),
        (
            "csv",
            "users-mapped.csv",
            vec![
                "--csv-map".into(),
                "E-mail Address=email,First=given_name,Last=family_name,Favourite Colour=user_metadata.colour,Hash=password_hash"
                    .into(),
            ],
            0,
            0,
        ),
        ("firebase", "firebase.json", vec!["--firebase-hash-config".into(), fb], 2, 1),
        ("keycloak", "keycloak-realm.json", vec![], 4, 1),
        ("kratos", "kratos.json", vec![], 3, 1),
    ]
}

fn summary_line(out: &Output) -> String {
    stderr(out).lines().find(|l| l.contains(" records, ")).unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn imports_every_fixture_format() {
    for env in Env::all().await {
        let mut checked = 0;
        for (format, file, extra, inserted, failed) in fixtures() {
            let fresh = env.sibling().await;
            let mut args = vec!["--format", format];
            args.extend(extra.iter().map(String::as_str));
            let out = fresh.import(&fixture(file), &args);
            let users = fresh.users().await;
            let what = format!("{} {file}", env.backend());
            if inserted == 0 && failed == 0 {
                // users-mapped.csv: just check it imports cleanly.
                expect_code(&out, 0, &what);
                assert!(!users.is_empty(), "{what}");
                assert!(users[0].user_metadata.get("colour").and_then(Value::as_str).is_some(), "{what}");
            } else {
                expect_code(&out, 3, &what);
                assert_eq!(users.len() as u64, inserted, "{what}");
                assert!(
                    summary_line(&out).contains(&format!("{inserted} inserted, 0 updated, {failed} failed")),
                    "{what}: {}",
                    stderr(&out)
                );
            }
            assert!(users.iter().all(|u| u.connection == CONNECTION), "{what}");
            checked += check_passwords(&users);
            fresh.finish().await;
        }
        assert!(checked >= 15, "{}: only {checked} passwords checked", env.backend());
        env.finish().await;
    }
}

/// A CLI import leaves a `sui` audit event, as a job does: the connection, the file and
/// the counts; a dry run leaves none.
#[tokio::test(flavor = "multi_thread")]
async fn import_leaves_an_audit_event() {
    for env in Env::all().await {
        let b = env.backend();
        let good = write_json(&env, "good.json", &good_users());
        expect_code(&env.import(&good, &["--dry-run"]), 0, b);
        expect_code(&env.import(&good, &[]), 0, b);
        let store = Store::connect(&env.url).await.unwrap();
        let q = gatehouse_store::LogQuery { kind: Some("sui".into()), limit: 10, ..Default::default() };
        let (events, total) = store.logs(&q).await.unwrap();
        store.close().await;
        assert_eq!(total, 1, "{b}: {events:?}");
        let e = &events[0];
        assert_eq!(e["connection"], json!(CONNECTION), "{b}: {e}");
        assert_eq!(e["details"]["origin"], json!({"cli": "gatehouse import", "file": "good.json"}), "{b}: {e}");
        assert_eq!(e["details"]["summary"], json!({"total": 2, "inserted": 2, "updated": 0, "failed": 0}), "{b}: {e}");
        env.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_codes_dry_run_and_unusable_input() {
    for env in Env::all().await {
        let b = env.backend();
        let good = write_json(&env, "good.json", &good_users());
        // Dry run: validated, nothing written.
        let out = env.import(&good, &["--dry-run"]);
        expect_code(&out, 0, b);
        assert!(stderr(&out).contains("nothing was written"), "{b}");
        assert_eq!(env.users().await.len(), 0, "{b}: dry run wrote");
        let out = env.import(&fixture("auth0.json"), &["--dry-run"]);
        expect_code(&out, 3, b);
        assert_eq!(env.users().await.len(), 0, "{b}: dry run wrote");

        // Unusable input: exit 2, nothing written.
        let malformed = env.path("malformed.json");
        std::fs::write(&malformed, b"[{\"email\":\"a@example.com\"}, {\"email\": \"b@example.com\"").unwrap();
        let not_json = env.path("not.json");
        std::fs::write(&not_json, b"email,name\na@example.com,A\n").unwrap();
        let missing = env.path("missing.json");
        let bad: Vec<(Vec<&str>, &str)> = vec![
            (vec!["import", malformed.to_str().unwrap(), "--connection", CONNECTION], "malformed"),
            (vec!["import", not_json.to_str().unwrap(), "--connection", CONNECTION], "not json"),
            (vec!["import", missing.to_str().unwrap(), "--connection", CONNECTION], "missing file"),
            (vec!["import", good.to_str().unwrap(), "--connection", "nope"], "unknown connection"),
            (vec!["import", good.to_str().unwrap(), "--connection", CONNECTION, "--format", "xml"], "bad format"),
            (vec!["import", good.to_str().unwrap(), "--connection", CONNECTION, "--csv-map", "a=email"], "csv map"),
            (
                vec!["import", good.to_str().unwrap(), "--connection", CONNECTION, "--firebase-rounds", "8"],
                "partial firebase flags",
            ),
        ];
        for (args, what) in bad {
            let out = env.gh(&args);
            expect_code(&out, 2, &format!("{b} {what}"));
        }
        assert_eq!(env.users().await.len(), 0, "{b}: unusable input wrote");

        // 0 when everything is in, 3 when some records failed (the good ones are in).
        expect_code(&env.import(&good, &[]), 0, b);
        assert_eq!(env.users().await.len(), 2, "{b}");
        let mixed = write_json(&env, "mixed.json", &json!([{"email": "cy@example.com"}, {"email": "nope"}]));
        expect_code(&env.import(&mixed, &[]), 3, b);
        assert_eq!(env.users().await.len(), 3, "{b}");
        env.finish().await;
    }
}

/// Auth0's users export and its password-hash export in one invocation: users take their
/// hash by id; a hash no user takes is a failed record in the report, its hash masked.
#[tokio::test(flavor = "multi_thread")]
async fn import_joins_auth0_password_hash_export() {
    for env in Env::all().await {
        let b = env.backend();
        let users = [
            json!({"user_id": "auth0|5dea9f9c82dd7c0e76e4ec93", "email": "ada@example.com",
                "created_at": "2019-12-06T18:36:12.412Z", "user_metadata": {"plan": "pro"}}),
            json!({"user_id": "auth0|euclid", "email": "bo@example.com"}),
        ];
        let users_file = env.path("users.ndjson");
        std::fs::write(&users_file, users.iter().map(|u| format!("{u}\n")).collect::<String>()).unwrap();
        let hashes = [
            json!({"_id": {"$oid": "5dea9f9c82dd7c0e76e4ec93"}, "email": "ada@example.com",
                "passwordHash": BCRYPT_SECRET, "connection": "Username-Password-Authentication"}),
            json!({"_id": {"$oid": "5dea9f9c82dd7c0e76e4ec94"}, "alt_id": "euclid", "passwordHash": BCRYPT_SECRET,
                "connection": "Username-Password-Authentication"}),
            json!({"_id": {"$oid": "5dea9f9c82dd7c0e76e4ec95"}, "email": "gone@example.com",
                "passwordHash": BCRYPT_SECRET, "connection": "Username-Password-Authentication"}),
        ];
        let hashes_file = env.path("hashes.json");
        std::fs::write(&hashes_file, hashes.iter().map(|h| format!("{h}\n")).collect::<String>()).unwrap();
        let report = env.path("report.json");
        let out =
            env.import(&users_file, &["--hashes", hashes_file.to_str().unwrap(), "--report", report.to_str().unwrap()]);
        expect_code(&out, 3, b);
        let r: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
        assert_eq!(r["summary"], json!({"total": 2, "inserted": 2, "updated": 0, "failed": 1}), "{b}");
        let errors = r["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "{b}: {errors:?}");
        assert_eq!(errors[0]["index"], json!(4), "{b}: after the users");
        assert_eq!(errors[0]["user"]["email"], json!("gone@example.com"));
        assert_eq!(errors[0]["user"]["passwordHash"], json!("*****"));
        assert_eq!(errors[0]["errors"][0]["path"], json!("_id"));
        let stored = env.users().await;
        let hasher = Hasher::default();
        for u in &stored {
            let h = hasher.parse_stored(u.password_hash.as_deref().unwrap()).unwrap();
            assert!(hasher.verify(&h, "secret"), "{b}: {} took its hash", u.user_id);
        }
        assert_eq!(stored.len(), 2, "{b}");
        // A hash export that cannot be read at all writes nothing.
        let other = env.sibling().await;
        let long = env.path("long.json");
        std::fs::write(&long, vec![b'x'; 2 << 20]).unwrap();
        let out = other.import(&users_file, &["--hashes", long.to_str().unwrap()]);
        expect_code(&out, 2, b);
        assert!(other.users().await.is_empty(), "{b}");
        other.finish().await;
        env.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn report_lists_every_failed_record() {
    for env in Env::all().await {
        let b = env.backend();
        // 30 bad records: more than the summary shows, all in the report.
        let mut users: Vec<Value> = (0..30).map(|i| json!({"email": format!("bad{i}"), "user_id": i})).collect();
        users.insert(5, json!({"email": "fine@example.com"}));
        let file = write_json(&env, "users.json", &Value::Array(users));
        let report = env.path("report.json");
        let out = env.import(&file, &["--report", report.to_str().unwrap()]);
        expect_code(&out, 3, b);
        let text = stderr(&out);
        assert!(text.contains("20 of 30 shown"), "{b}: {text}");
        assert!(text.contains("#0 email: FORMAT"), "{b}: {text}");
        let r: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
        assert_eq!(r["summary"], json!({"total": 31, "inserted": 1, "updated": 0, "failed": 30}), "{b}");
        let errors = r["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 30, "{b}");
        let indexes: Vec<u64> = errors.iter().map(|e| e["index"].as_u64().unwrap()).collect();
        assert_eq!(indexes, (0..31).filter(|i| *i != 5).collect::<Vec<_>>(), "{b}: in file order");
        let paths: Vec<&str> =
            errors[0]["errors"].as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect();
        assert!(paths.contains(&"email") && paths.contains(&"user_id"), "{b}: {paths:?}");
        assert!(errors[0]["errors"][0]["code"].is_string() && errors[0]["errors"][0]["message"].is_string());
        assert_eq!(errors[0]["user"]["email"], "bad0");
        env.finish().await;
    }
}

/// The fields an import decides; timestamps are the import's own.
fn comparable(u: &User) -> Value {
    json!([
        u.user_id,
        u.connection,
        u.email,
        u.email_verified,
        u.username,
        u.phone_number,
        u.phone_verified,
        u.name,
        u.nickname,
        u.given_name,
        u.family_name,
        u.picture,
        u.password_hash,
        u.user_metadata,
        u.app_metadata,
        u.blocked
    ])
}

#[tokio::test(flavor = "multi_thread")]
async fn upsert_is_idempotent() {
    for env in Env::all().await {
        let b = env.backend();
        let file = write_json(&env, "v1.json", &good_users());
        expect_code(&env.import(&file, &[]), 0, b);
        // Without --upsert, existing users are conflicts.
        let out = env.import(&file, &[]);
        expect_code(&out, 3, b);
        assert!(stderr(&out).contains("CONFLICT"), "{b}: {}", stderr(&out));
        let v2 = write_json(
            &env,
            "v2.json",
            &json!([
                {"email": "ada@example.com", "name": "Ada L.", "user_metadata": {"plan": "team"}},
                {"email": "bo@example.com", "email_verified": true, "given_name": "Bo"},
                {"email": "new@example.com"},
            ]),
        );
        let out = env.import(&v2, &["--upsert"]);
        expect_code(&out, 0, b);
        assert!(summary_line(&out).contains("1 inserted, 2 updated, 0 failed"), "{b}: {}", stderr(&out));
        let once: Vec<Value> = env.users().await.iter().map(comparable).collect();
        let out = env.import(&v2, &["--upsert"]);
        expect_code(&out, 0, b);
        assert!(summary_line(&out).contains("0 inserted, 3 updated, 0 failed"), "{b}: {}", stderr(&out));
        let twice: Vec<Value> = env.users().await.iter().map(comparable).collect();
        assert_eq!(once, twice, "{b}: a second upsert changed users");
        let ada = env.users().await.into_iter().find(|u| u.email.as_deref() == Some("ada@example.com")).unwrap();
        assert_eq!(ada.name.as_deref(), Some("Ada L."));
        assert_eq!(ada.password_hash.as_deref(), Some(BCRYPT_SECRET), "{b}: upsert without a hash keeps it");
        env.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn export_then_import_reproduces_users_and_hashes() {
    for env in Env::all().await {
        let b = env.backend();
        // Every fixture's users (all hash families) in one connection.
        for (format, file, extra, _, _) in fixtures() {
            let mut args = vec!["--format", format];
            args.extend(extra.iter().map(String::as_str));
            let out = env.import(&fixture(file), &args);
            assert!(matches!(code(&out), 0 | 3), "{b} {file}: {}", stderr(&out));
        }
        let original = env.users().await;
        assert!(original.len() >= 15, "{b}: {}", original.len());
        assert!(original.iter().filter(|u| u.password_hash.is_some()).count() >= 12, "{b}");

        // Without the flag, no hashes; with it, a warning and an owner-only file.
        let out = env.gh(&["export", "--connection", CONNECTION, "--format", "ndjson"]);
        expect_code(&out, 0, b);
        let stdout = String::from_utf8(out.stdout.clone()).unwrap();
        assert_eq!(stdout.lines().count(), original.len(), "{b}");
        assert!(!stdout.contains("password_hash") && !stdout.contains("$2b$"), "{b}: hashes exported by default");
        assert!(!stderr(&out).contains("warning"), "{b}");

        for (format, ext, import_format) in
            [("json", "json", "auth0"), ("ndjson", "ndjson", "ndjson"), ("csv", "csv", "csv")]
        {
            let file = env.path(&format!("export.{ext}"));
            let out = env.gh(&[
                "export",
                "--connection",
                CONNECTION,
                "--format",
                format,
                "--include-password-hashes",
                "--output",
                file.to_str().unwrap(),
            ]);
            expect_code(&out, 0, &format!("{b} {format}"));
            assert!(stderr(&out).contains("holds password hashes"), "{b}: {}", stderr(&out));
            assert!(stderr(&out).contains(&format!("exported {} users", original.len())), "{b}: {}", stderr(&out));
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{b} {format}: export with hashes is mode {mode:o}");
            }
            let copy = env.sibling().await;
            let out = copy.import(&file, &["--format", import_format]);
            expect_code(&out, 0, &format!("{b} re-import of {format}"));
            let copied = copy.users().await;
            let a: Vec<Value> = original.iter().map(comparable).collect();
            let c: Vec<Value> = copied.iter().map(comparable).collect();
            assert_eq!(a.len(), c.len(), "{b} {format}");
            for (x, y) in a.iter().zip(&c) {
                assert_eq!(x, y, "{b} {format}: a user changed on the way");
            }
            assert!(check_passwords(&copied) >= 12, "{b} {format}");
            copy.finish().await;
        }

        // gzip when the name ends in .gz.
        let gz = env.path("export.ndjson.gz");
        let out =
            env.gh(&["export", "--connection", CONNECTION, "--format", "ndjson", "--output", gz.to_str().unwrap()]);
        expect_code(&out, 0, b);
        let bytes = std::fs::read(&gz).unwrap();
        assert_eq!(&bytes[..2], &[0x1f, 0x8b], "{b}: not gzip");
        // Unknown connection: unusable input.
        expect_code(&env.gh(&["export", "--connection", "nope", "--format", "csv"]), 2, b);
        env.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_file_exits_2_and_writes_nothing() {
    for env in Env::all().await {
        let b = env.backend();
        // Good records first, broken syntax at the end: the pre-pass refuses the whole file.
        let mut text = serde_json::to_string(&good_users()).unwrap();
        text.pop();
        text.push_str(",{\"email\": \"late@example.com\" \"name\": 1}]");
        let file = env.path("broken.json");
        std::fs::write(&file, text).unwrap();
        let report = env.path("report.json");
        let out = env.import(&file, &["--report", report.to_str().unwrap()]);
        expect_code(&out, 2, b);
        assert!(stderr(&out).contains("line 1"), "{b}: {}", stderr(&out));
        assert!(stderr(&out).contains("nothing was written"), "{b}");
        assert_eq!(env.users().await.len(), 0, "{b}");
        assert!(!report.exists(), "{b}: a report for an unusable file");
        env.finish().await;
    }
}

/// `migrate-remaining` against a legacy SQLite database: users not in Gatehouse come in
/// with their legacy hashes, users already here are left alone, a bad profile fails alone.
#[tokio::test(flavor = "multi_thread")]
async fn migrate_remaining_imports_legacy_users_not_yet_migrated() {
    for env in Env::all().await {
        let legacy_url = format!("sqlite://{}", env.path("legacy.db").display());
        let legacy = sqlx::SqlitePool::connect(&format!("{legacy_url}?mode=rwc")).await.unwrap();
        sqlx::query("CREATE TABLE members (id INTEGER PRIMARY KEY, mail TEXT, full_name TEXT, pw TEXT)")
            .execute(&legacy)
            .await
            .unwrap();
        for (mail, name) in [
            ("one@legacy.test", "One"),
            ("two@legacy.test", "Two"),
            ("not-an-email", "Bad"),
            ("four@legacy.test", "Four"),
        ] {
            sqlx::query("INSERT INTO members (mail, full_name, pw) VALUES ($1, $2, $3)")
                .bind(mail)
                .bind(name)
                .bind(BCRYPT_SECRET)
                .execute(&legacy)
                .await
                .unwrap();
        }
        legacy.close().await;

        let store = Store::connect(&env.url).await.unwrap();
        let now = "2024-01-01T00:00:00.000Z";
        let mut c = gatehouse_core::connection::Connection::new_database(
            "con_legacycli000000".into(),
            "legacy-db".into(),
            now.into(),
        );
        let cols = "'legacy|' || id AS user_id, mail AS email, full_name AS name, pw AS password_hash";
        c.options.insert("enabledDatabaseCustomization".into(), json!(true));
        c.options.insert("import_mode".into(), json!(true));
        c.options.insert(
            "legacy_store".into(),
            json!({"kind": "sql", "url": legacy_url, "queries": {
                "login": format!("SELECT {cols} FROM members WHERE mail = :email"),
                "get_user": format!("SELECT {cols} FROM members WHERE mail = :email"),
                "list": format!("SELECT {cols} FROM members ORDER BY id LIMIT :limit OFFSET :offset")}}),
        );
        store.insert_connection(&c).await.unwrap();
        // "two" migrated on an earlier login: it has a new hash that must stay.
        let hasher = Hasher::new(Default::default(), Default::default());
        let two = User {
            user_id: "auth0|legacy|2".into(),
            connection_id: c.id.clone(),
            connection: c.name.clone(),
            provider: "auth0".into(),
            email: Some("two@legacy.test".into()),
            email_verified: false,
            username: None,
            phone_number: None,
            phone_verified: false,
            name: Some("Two, migrated".into()),
            nickname: Some("two".into()),
            given_name: None,
            family_name: None,
            picture: None,
            password_hash: Some(hasher.hash("new password").unwrap().to_stored()),
            user_metadata: Default::default(),
            app_metadata: Default::default(),
            blocked: false,
            logins_count: 1,
            last_login: Some(now.into()),
            last_ip: None,
            last_password_reset: None,
            created_at: now.into(),
            updated_at: now.into(),
        };
        store.insert_user(&two).await.unwrap();
        store.close().await;

        let out = env.gh(&["migrate-remaining", "--connection", "legacy-db"]);
        expect_code(&out, 3, "one legacy profile is invalid");
        assert!(
            stderr(&out).contains("4 legacy users, 2 imported, 1 already in Gatehouse, 1 failed"),
            "{}",
            stderr(&out)
        );
        let users = env.users().await;
        let by_email = |e: &str| users.iter().find(|u| u.email.as_deref() == Some(e)).cloned();
        let one = by_email("one@legacy.test").unwrap();
        assert_eq!((one.user_id.as_str(), one.password_hash.as_deref()), ("auth0|legacy|1", Some(BCRYPT_SECRET)));
        assert_eq!(one.name.as_deref(), Some("One"));
        assert_eq!(by_email("two@legacy.test").unwrap(), two, "{}: already migrated, untouched", env.backend());
        assert!(by_email("four@legacy.test").is_some());

        let again = env.gh(&["migrate-remaining", "--connection", "legacy-db"]);
        assert!(stderr(&again).contains("0 imported, 3 already in Gatehouse, 1 failed"), "{}", stderr(&again));
        expect_code(&env.gh(&["migrate-remaining", "--connection", "nope"]), 2, "unknown connection");
        expect_code(&env.gh(&["migrate-remaining", "--connection", CONNECTION]), 2, "no legacy store");
        env.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn roles_import_gives_roles_in_bulk_and_export_lists_them() {
    for env in Env::all().await {
        let b = env.backend();
        expect_code(&env.import(&write_json(&env, "users.json", &good_users()), &[]), 0, b);
        let lines = [
            r#"{"email": "ADA@example.com", "roles": ["Admin", "Viewer"]}"#,
            r#"{"user_id": "auth0|nobody", "roles": ["Admin"]}"#,
            r#"{"email": "bo@example.com" "roles": []}"#,
            r#"{"user_id": "auth0|bo", "roles": "Admin"}"#,
        ];
        let file = env.path("roles.ndjson");
        std::fs::write(&file, lines.join("\n")).unwrap();
        let out = env.gh(&["roles", "import", file.to_str().unwrap(), "--create-missing-roles"]);
        expect_code(&out, 3, b);
        let err = stderr(&out);
        assert!(err.contains("line 2: user auth0|nobody: user_id: no such user"), "{b}: {err}");
        assert!(err.contains("line 3: invalid JSON"), "{b}: {err}");
        assert!(err.contains("line 4: user auth0|bo: roles: expected an array"), "{b}: {err}");
        assert!(err.contains("gave 1 users 2 roles; 3 lines failed"), "{b}: {err}");

        // Without --create-missing-roles an unknown role fails its line, and only it.
        std::fs::write(&file, "{\"user_id\": \"auth0|bo\", \"roles\": [\"Ghost\"]}\n{\"user_id\": \"auth0|bo\", \"roles\": [\"Viewer\"]}\n").unwrap();
        let out = env.gh(&["roles", "import", file.to_str().unwrap()]);
        expect_code(&out, 3, b);
        assert!(stderr(&out).contains("line 1: user auth0|bo: role \"Ghost\" does not exist"), "{b}: {}", stderr(&out));

        let out = env.gh(&["export", "--connection", CONNECTION, "--fields", "email,roles"]);
        expect_code(&out, 0, b);
        let exported: Vec<Value> =
            String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(
            exported,
            [
                json!({"email": "ada@example.com", "roles": ["Admin", "Viewer"]}),
                json!({"email": "bo@example.com", "roles": ["Viewer"]}),
            ],
            "{b}"
        );
        expect_code(&env.gh(&["roles", "import", "/nonexistent/roles.ndjson"]), 2, b);
        env.finish().await;
    }
}
