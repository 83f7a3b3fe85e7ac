//! Imported MFA factors are kept: an import job stores a record's `mfa_factors` with the
//! user (a bad factor fails its record, reported with index, field and reason; the good
//! records go in), the Management API lists them in Auth0's shape without their secrets
//! and removes them, and an export carries them only when asked to.

use crate::kit::{test_hasher, Backend, Server};
use gatehouse_migrate::{ExportFormat, Format, ReadOptions};
use gatehouse_services::export::{export_users, ExportRequest};
use gatehouse_services::import::{import_file, BatchReport, ImportError, ImportRequest, ImportSink};
use gatehouse_services::mfa::{import_mfa_secrets, verify_totp, MfaImportError, MfaImportSummary, TotpCheck};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

crate::on_both_backends!(
    an_import_job_keeps_factors_and_reports_bad_ones_per_record,
    authentication_methods_are_listed_without_secrets_and_removed,
    an_export_carries_factors_only_when_asked,
    an_upsert_adds_new_factors_and_keeps_existing_ones,
    a_single_load_import_stores_factors_after_its_users,
    the_mfa_secrets_file_gives_existing_users_their_factors,
    an_imported_totp_secret_checks_codes_once_each
);

const TOTP: &str = "JBSWY3DPEHPK3PXP";

async fn connection_id(s: &Server) -> String {
    s.default_connection().await["id"].as_str().unwrap().to_string()
}

/// Polls the job until it is finished (bounded; not a timing assertion).
async fn finished(s: &Server, id: &str) -> Value {
    for _ in 0..600 {
        let (status, job) = s.api("GET", &format!("/api/v2/jobs/{id}"), None).await;
        assert_eq!(status, 200, "{job}");
        if job["status"] == "completed" || job["status"] == "failed" {
            return job;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("job {id} did not finish");
}

async fn import(s: &Server, users: Value, upsert: bool) -> Value {
    let con = connection_id(s).await;
    let upsert = if upsert { "true" } else { "false" };
    let fields = [("connection_id", con.as_str()), ("upsert", upsert)];
    let (status, job) = s.import_users(serde_json::to_vec(&users).unwrap(), &fields).await;
    assert_eq!(status, 202, "{job}");
    finished(s, job["id"].as_str().unwrap()).await
}

async fn user_id(s: &Server, email: &str) -> String {
    let (status, users) = s.api("GET", &format!("/api/v2/users-by-email?email={email}"), None).await;
    assert_eq!(status, 200, "{users}");
    users[0]["user_id"].as_str().unwrap().to_string()
}

async fn methods(s: &Server, id: &str) -> Vec<Value> {
    let (status, list) = s.api("GET", &format!("/api/v2/users/{id}/authentication-methods"), None).await;
    assert_eq!(status, 200, "{list}");
    list.as_array().unwrap().clone()
}

async fn an_import_job_keeps_factors_and_reports_bad_ones_per_record(b: Backend) {
    let s = Server::start(b).await;
    let done = import(
        &s,
        json!([
            {"email": "all@example.com", "mfa_factors": [
                {"totp": {"secret": TOTP}}, {"phone": {"value": "+12125550001"}}, {"email": {"value": "mfa@example.com"}}]},
            {"email": "lower@example.com", "mfa_factors": [{"totp": {"secret": "jbswy3dp"}}]},
            {"email": "cut@example.com", "mfa_factors": [{"phone": {"value": "+12125550002"}}, {"totp": {"secret": "JBSWY3"}}]},
            {"email": "phone@example.com", "mfa_factors": [{"phone": {"value": "12125550003"}}]},
            {"email": "none@example.com"},
        ]),
        false,
    )
    .await;
    assert_eq!(done["summary"], json!({"total": 5, "inserted": 2, "updated": 0, "failed": 3}), "{done}");
    let (status, errors) = s.api("GET", &format!("/api/v2/jobs/{}/errors", done["id"].as_str().unwrap()), None).await;
    assert_eq!(status, 200, "{errors}");
    let found: Vec<(u64, String, String)> =
        errors
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|e| {
                let index = e["index"].as_u64().unwrap();
                e["errors"].as_array().unwrap().iter().map(move |f| {
                    (index, f["path"].as_str().unwrap().to_string(), f["code"].as_str().unwrap().to_string())
                })
            })
            .collect();
    assert_eq!(
        found,
        vec![
            (1, "mfa_factors[0].totp.secret".into(), "PATTERN".into()),
            (2, "mfa_factors[1].totp.secret".into(), "PATTERN".into()),
            (3, "mfa_factors[0].phone.value".into(), "PATTERN".into()),
        ],
        "{errors}"
    );
    // The report masks the secret it quotes.
    assert!(!errors.to_string().contains("jbswy3dp"), "{errors}");
    let all = user_id(&s, "all@example.com").await;
    let kinds: Vec<Value> = methods(&s, &all).await.iter().map(|m| m["type"].clone()).collect();
    assert_eq!(kinds, vec![json!("totp"), json!("phone"), json!("email")]);
    let factors = s.store.mfa_factors(&all).await.unwrap();
    assert_eq!(factors[0].secret.as_ref().map(|s| s.expose()), Some(TOTP));
    assert!(methods(&s, &user_id(&s, "none@example.com").await).await.is_empty());
    s.stop().await;
}

async fn authentication_methods_are_listed_without_secrets_and_removed(b: Backend) {
    let s = Server::start(b).await;
    import(
        &s,
        json!([{"email": "m@example.com", "mfa_factors": [
            {"totp": {"secret": TOTP}}, {"phone": {"value": "+12125550001"}}, {"email": {"value": "mfa@example.com"}}]}]),
        false,
    )
    .await;
    let id = user_id(&s, "m@example.com").await;
    let list = methods(&s, &id).await;
    assert!(!Value::from(list.clone()).to_string().contains(TOTP), "never the secret: {list:?}");
    assert!(list[0]["id"].as_str().unwrap().starts_with("totp|dev_"));
    assert_eq!(list[0]["confirmed"], json!(true));
    assert_eq!(list[1]["phone_number"], json!("+12125550001"));
    assert_eq!(list[2]["email"], json!("mfa@example.com"));
    let (status, paged) =
        s.api("GET", &format!("/api/v2/users/{id}/authentication-methods?include_totals=true&per_page=2"), None).await;
    assert_eq!(status, 200, "{paged}");
    assert_eq!((paged["total"].clone(), paged["authenticators"].as_array().unwrap().len()), (json!(3), 2));
    // Scopes: reading needs read:authentication_methods, removing delete:authentication_methods.
    let reader = s.token_with(&["read:users"]).await;
    let path = format!("/api/v2/users/{id}/authentication-methods");
    assert_eq!(s.call("GET", &path, None, Some(&reader)).await.0, 403);
    assert_eq!(s.call("DELETE", &path, None, Some(&reader)).await.0, 403);
    // One removed, then an unknown one, then the rest.
    let one = list[1]["id"].as_str().unwrap();
    let (status, _) = s.api("DELETE", &format!("{path}/{one}"), None).await;
    assert_eq!(status, 204);
    let (status, body) = s.api("DELETE", &format!("{path}/{one}"), None).await;
    assert_eq!((status, body["errorCode"].clone()), (404, json!("inexistent_authentication_method")), "{body}");
    assert_eq!(methods(&s, &id).await.len(), 2);
    let (status, _) = s.api("DELETE", &path, None).await;
    assert_eq!(status, 204);
    assert!(methods(&s, &id).await.is_empty());
    let (status, body) = s.api("GET", "/api/v2/users/auth0|nobody/authentication-methods", None).await;
    assert_eq!((status, body["errorCode"].clone()), (404, json!("inexistent_user")), "{body}");
    // Deleting the user deletes its factors.
    import(&s, json!([{"email": "gone@example.com", "mfa_factors": [{"totp": {"secret": TOTP}}]}]), false).await;
    let gone = user_id(&s, "gone@example.com").await;
    assert_eq!(s.api("DELETE", &format!("/api/v2/users/{gone}"), None).await.0, 204);
    assert!(s.store.mfa_factors(&gone).await.unwrap().is_empty());
    s.stop().await;
}

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn export(s: &Server, format: ExportFormat, include_mfa_factors: bool) -> String {
    let out = Buffer::default();
    let req = ExportRequest {
        connection_id: Some(connection_id(s).await),
        format,
        fields: None,
        include_password_hashes: include_mfa_factors,
        include_mfa_factors,
        limit: None,
    };
    export_users(&s.store, Arc::new(test_hasher()), req, out.clone()).await.unwrap();
    let bytes = out.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

async fn an_export_carries_factors_only_when_asked(b: Backend) {
    let s = Server::start(b.clone()).await;
    let factors = json!([{"totp": {"secret": TOTP}}, {"phone": {"value": "+12125550001"}}]);
    // Enough users for several export pages' worth of user ids around the one with factors.
    let mut users: Vec<Value> = (0..30).map(|i| json!({"email": format!("u{i}@example.com")})).collect();
    users.push(json!({"email": "f@example.com", "mfa_factors": factors}));
    import(&s, Value::from(users), false).await;
    for format in [ExportFormat::Ndjson, ExportFormat::JsonArray, ExportFormat::Csv] {
        let without = export(&s, format, false).await;
        assert!(!without.contains(TOTP) && !without.contains("mfa_factors"), "{format:?}: {without}");
    }
    let ndjson = export(&s, ExportFormat::Ndjson, true).await;
    let lines: Vec<Value> = ndjson.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 31);
    let with: Vec<&Value> = lines.iter().filter(|l| l.get("mfa_factors").is_some()).collect();
    assert_eq!(with.len(), 1, "{ndjson}");
    assert_eq!(with[0]["email"], json!("f@example.com"));
    assert_eq!(with[0]["mfa_factors"], factors);
    // The export re-imports: a JSON array export is an Auth0 import file, factors included.
    let array = export(&s, ExportFormat::JsonArray, true).await;
    let csv = export(&s, ExportFormat::Csv, true).await;
    assert!(csv.lines().next().unwrap().ends_with("mfa_factors\""), "{csv}");
    assert!(csv.contains(TOTP));
    let other = Server::start(b).await;
    let done = import(&other, serde_json::from_str(&array).unwrap(), false).await;
    assert_eq!(done["summary"]["inserted"], json!(31), "{done}");
    let id = user_id(&other, "f@example.com").await;
    let back: Vec<Value> =
        other.store.mfa_factors(&id).await.unwrap().iter().filter_map(|f| f.to_import_item()).collect();
    assert_eq!(Value::from(back), factors);
    other.stop().await;
    s.stop().await;
}

async fn an_upsert_adds_new_factors_and_keeps_existing_ones(b: Backend) {
    let s = Server::start(b).await;
    import(&s, json!([{"email": "up@example.com", "mfa_factors": [{"totp": {"secret": TOTP}}]}]), false).await;
    let done = import(
        &s,
        json!([{"email": "up@example.com", "given_name": "Up", "mfa_factors": [
            {"totp": {"secret": TOTP}}, {"email": {"value": "second@example.com"}}]}]),
        true,
    )
    .await;
    assert_eq!(done["summary"]["updated"], json!(1), "{done}");
    let id = user_id(&s, "up@example.com").await;
    let kinds: Vec<Value> = methods(&s, &id).await.iter().map(|m| m["type"].clone()).collect();
    assert_eq!(kinds, vec![json!("totp"), json!("email")], "the same TOTP secret is kept once");
    s.stop().await;
}

struct Ignore;

impl ImportSink for Ignore {
    async fn batch(&mut self, _: BatchReport) -> Result<(), ImportError> {
        Ok(())
    }
}

fn temp_file(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("gh_factors_{}_{}_{name}", std::process::id(), rand::random::<u64>()));
    std::fs::write(&path, bytes).unwrap();
    path
}

/// `gatehouse import` into a store without users writes the whole file as one load, which
/// holds the store's write lock: the factors are written once it is committed.
async fn a_single_load_import_stores_factors_after_its_users(b: Backend) {
    let s = Server::start(b).await;
    let mut users: Vec<Value> = (0..6_000).map(|i| json!({"email": format!("l{i}@example.com")})).collect();
    users[10] = json!({"email": "l10@example.com", "mfa_factors": [{"totp": {"secret": TOTP}}]});
    users[5_500] = json!({"email": "l5500@example.com", "mfa_factors": [{"email": {"value": "x@example.com"}}]});
    let file = temp_file("load.json", &serde_json::to_vec(&users).unwrap());
    let connection = s.store.connection_by_name("Username-Password-Authentication").await.unwrap().unwrap();
    let req = ImportRequest {
        path: file.clone(),
        format: Format::Auth0Json,
        read: ReadOptions::for_connection(&connection),
        connection,
        upsert: false,
        dry_run: false,
        resume_at: 0,
        id_seed: None,
        now: "2026-01-01T00:00:00.000Z".into(),
        single_load: true,
        hashes: None,
    };
    let summary = import_file(&s.store, Arc::new(test_hasher()), req, &mut Ignore).await.unwrap();
    assert_eq!(summary.inserted, 6_000);
    for (email, kind) in [("l10@example.com", "totp"), ("l5500@example.com", "email")] {
        let kinds: Vec<Value> =
            methods(&s, &user_id(&s, email).await).await.iter().map(|m| m["type"].clone()).collect();
        assert_eq!(kinds, vec![json!(kind)], "{email}");
    }
    std::fs::remove_file(file).unwrap();
    s.stop().await;
}

async fn the_mfa_secrets_file_gives_existing_users_their_factors(b: Backend) {
    let s = Server::start(b).await;
    import(
        &s,
        json!([{"email": "a@example.com", "user_id": "5f1a"}, {"email": "b@example.com"},
               {"email": "c@example.com", "mfa_factors": [{"phone": {"value": "+12125550009"}}]}]),
        false,
    )
    .await;
    let lines = [
        json!({"_id": {"$oid": "5f1a"}, "tenant": "t", "connection": "Username-Password-Authentication",
               "mfa_factors": [{"totp": {"secret": TOTP}}]}),
        json!({"email": "b@example.com", "mfa_factors": [{"email": {"value": "b2@example.com"}}]}),
        json!({"email": "c@example.com", "mfa_factors": [{"phone": {"value": "+12125550009"}}, {"totp": {"secret": TOTP}}]}),
        json!({"user_id": "auth0|nobody", "mfa_factors": [{"totp": {"secret": TOTP}}]}),
        json!({"email": "a@example.com", "mfa_factors": [{"totp": {"secret": "short1"}}]}),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let file = temp_file("mfa.ndjson", text.as_bytes());
    let connection = s.store.connection_by_name("Username-Password-Authentication").await.unwrap().unwrap();
    // After the import job's clock, so the factors list in the order they came.
    let now = "2099-01-01T00:00:00.000Z";
    let mut errors = Vec::new();
    let summary = import_mfa_secrets(&s.store, &connection, &file, now, &mut errors).await.unwrap();
    assert_eq!(summary, MfaImportSummary { total: 5, updated: 3, factors: 3, failed: 2 });
    let reported: Vec<(u64, &str, &str)> =
        errors.iter().map(|e| (e.index, e.errors[0].path.as_str(), e.errors[0].code)).collect();
    assert_eq!(reported, vec![(3, "user_id", "USER_NOT_FOUND"), (4, "mfa_factors[0].totp.secret", "PATTERN")]);
    assert!(!serde_json::to_string(&errors).unwrap().contains(TOTP), "secrets are masked in reports");
    let kinds = |v: Vec<Value>| v.iter().map(|m| m["type"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!(kinds(methods(&s, "auth0|5f1a").await), ["totp"]);
    assert_eq!(kinds(methods(&s, &user_id(&s, "b@example.com").await).await), ["email"]);
    assert_eq!(kinds(methods(&s, &user_id(&s, "c@example.com").await).await), ["phone", "totp"], "no duplicate phone");
    // The same file again stores nothing twice.
    let mut again = Vec::new();
    let second = import_mfa_secrets(&s.store, &connection, &file, now, &mut again).await.unwrap();
    assert_eq!((second.factors, second.failed), (0, 2));
    // A file that stops being JSON: the lines before it are in, and the error says where.
    let broken = temp_file(
        "broken.ndjson",
        b"{\"email\":\"b@example.com\",\"mfa_factors\":[{\"phone\":{\"value\":\"+15550001\"}}]}\n{oops\n",
    );
    let later = "2099-01-02T00:00:00.000Z";
    let failure = import_mfa_secrets(&s.store, &connection, &broken, later, &mut Vec::new()).await;
    assert!(matches!(&failure, Err(MfaImportError::UnusableFile(m)) if m.contains("line 2")), "{failure:?}");
    assert_eq!(kinds(methods(&s, &user_id(&s, "b@example.com").await).await), ["email", "phone"]);
    for f in [file, broken] {
        std::fs::remove_file(f).unwrap();
    }
    s.stop().await;
}

/// An imported TOTP secret checks codes as RFC 6238 defines them: the secret is RFC 4226's
/// test seed ("12345678901234567890", Base32 below), whose codes RFC 4226 Appendix D lists
/// (step 0: 755224, 1: 287082, 2: 359152, 3: 969429). One step of drift either way is
/// accepted; a step once used, or an older one, never again.
async fn an_imported_totp_secret_checks_codes_once_each(b: Backend) {
    let s = Server::start(b).await;
    let seed = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    import(
        &s,
        json!([{"email": "otp@example.com", "mfa_factors": [{"totp": {"secret": seed}}]},
                      {"email": "plain@example.com"}]),
        false,
    )
    .await;
    let id = user_id(&s, "otp@example.com").await;
    let check = |code: &'static str, now: i64| {
        let (store, id) = (s.store.clone(), id.clone());
        async move { verify_totp(&store, &id, code, now, "2026-01-01T00:00:00.000Z").await.unwrap() }
    };
    // At T = 59 s the step is 1.
    assert_eq!(check("000000", 59).await, TotpCheck::Wrong);
    assert_eq!(check("28708a", 59).await, TotpCheck::Wrong);
    assert_eq!(check("2870820", 59).await, TotpCheck::Wrong);
    assert_eq!(check("359152", 59).await, TotpCheck::Accepted, "one step ahead");
    assert_eq!(check("287082", 59).await, TotpCheck::Replayed, "older than a step used");
    assert_eq!(check("359152", 59).await, TotpCheck::Replayed);
    assert_eq!(check("969429", 95).await, TotpCheck::Accepted, "step 3");
    assert_eq!(check("969429", 95).await, TotpCheck::Replayed);
    assert_eq!(check("755224", 3_600).await, TotpCheck::Wrong, "far outside the window");
    let plain = user_id(&s, "plain@example.com").await;
    assert_eq!(
        verify_totp(&s.store, &plain, "287082", 59, "2026-01-01T00:00:00.000Z").await.unwrap(),
        TotpCheck::NoFactor
    );
    let method = &methods(&s, &id).await[0];
    assert_eq!(method["last_auth_at"], json!("2026-01-01T00:00:00.000Z"));
    s.stop().await;
}
