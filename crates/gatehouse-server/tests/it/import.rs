//! The bulk import pipeline straight on the store, on both backends: good records in, bad
//! ones reported with field and reason, conflicts, upsert, dry run, resume.

use crate::kit::{test_hasher, Backend, Server};
use gatehouse_migrate::{Format, ReadOptions};
use gatehouse_services::import::{import_file, BatchReport, ImportError, ImportRequest, ImportSink, ImportSummary};
use serde_json::{json, Value};
use std::sync::Arc;

crate::on_both_backends!(
    imports_good_records_and_reports_bad_ones,
    upsert_updates_by_email_and_is_idempotent,
    resume_skips_what_was_done,
    single_load_reports_like_batches_and_keeps_uniqueness
);

#[derive(Default)]
struct Collect {
    reports: Vec<BatchReport>,
}

impl ImportSink for Collect {
    async fn batch(&mut self, report: BatchReport) -> Result<(), ImportError> {
        self.reports.push(report);
        Ok(())
    }
}

impl Collect {
    fn errors(&self) -> Vec<&gatehouse_migrate::RecordError> {
        self.reports.iter().flat_map(|r| r.errors.iter()).collect()
    }
}

fn write_file(users: &Value) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("gh_import_{}_{}.json", std::process::id(), rand::random::<u64>()));
    std::fs::write(&path, serde_json::to_vec(users).unwrap()).unwrap();
    path
}

async fn request(s: &Server, path: &std::path::Path, upsert: bool, dry_run: bool) -> ImportRequest {
    let connection = s.store.connection_by_name("Username-Password-Authentication").await.unwrap().unwrap();
    ImportRequest {
        path: path.to_path_buf(),
        format: Format::Auth0Json,
        read: ReadOptions::for_connection(&connection),
        connection,
        upsert,
        dry_run,
        resume_at: 0,
        id_seed: None,
        now: "2026-01-01T00:00:00.000Z".into(),
        single_load: false,
        hashes: None,
    }
}

fn bcrypt_of_secret() -> &'static str {
    // bcrypt (cost 4) of "secret", made by Python's bcrypt.
    "$2b$04$ui5LvmU27jL0oDA1i0uMmefxjjS1FuO.dBXJCcYtrzzbCbM.wsBEC"
}

async fn imports_good_records_and_reports_bad_ones(b: Backend) {
    let s = Server::start(b).await;
    s.create_user(json!({"email": "taken@example.com"})).await;
    let file = write_file(&json!([
        {"email": "ok1@example.com", "user_id": "u1", "password_hash": bcrypt_of_secret(), "user_metadata": {"a": 1}},
        {"email": "not-an-email", "bogus": true},
        {"email": "taken@example.com"},
        {"email": "ok2@example.com", "custom_password_hash": {"algorithm": "md5", "hash": {"value": "5ebe2294ecd0e0f08eab7690d2a6ee69", "encoding": "hex"}}},
        {"email": "OK1@example.com"},
        {"email": "bad-hash@example.com", "password_hash": "$2b$99$nope"},
    ]));
    let mut sink = Collect::default();
    let summary = import_file(&s.store, Arc::new(test_hasher()), request(&s, &file, false, false).await, &mut sink)
        .await
        .unwrap();
    assert_eq!(summary, ImportSummary { total: 6, inserted: 2, updated: 0, failed: 4 });
    let errors = sink.errors();
    let by_index = |i: u64| errors.iter().find(|e| e.index == i).unwrap();
    let codes = |i: u64| by_index(i).errors.iter().map(|e| (e.code, e.path.as_str())).collect::<Vec<_>>();
    assert!(codes(1).contains(&("FORMAT", "email")), "{:?}", codes(1));
    assert!(codes(1).iter().any(|(_, p)| *p == "bogus"), "{:?}", codes(1));
    assert_eq!(codes(2), [("CONFLICT_EMAIL", "email")]);
    assert_eq!(codes(4), [("DUPLICATED_USER", "email")]);
    assert!(codes(5).iter().any(|(_, p)| p.starts_with("password_hash")), "{:?}", codes(5));

    let u1 = s.store.user("auth0|u1").await.unwrap().unwrap();
    assert_eq!(u1.email.as_deref(), Some("ok1@example.com"));
    assert_eq!(u1.password_hash.as_deref(), Some(bcrypt_of_secret()));
    let hasher = test_hasher();
    assert!(hasher.verify(&hasher.parse_stored(u1.password_hash.as_deref().unwrap()).unwrap(), "secret"));
    let ok2 = s.store.users_by_email("ok2@example.com").await.unwrap().pop().unwrap();
    let h = hasher.parse_stored(ok2.password_hash.as_deref().unwrap()).unwrap();
    assert!(hasher.verify(&h, "secret") && !hasher.verify(&h, "Secret"));

    // A dry run validates the same way and writes nothing.
    let file2 = write_file(&json!([{"email": "dry@example.com"}, {"email": 5}]));
    let mut sink = Collect::default();
    let summary = import_file(&s.store, Arc::new(test_hasher()), request(&s, &file2, false, true).await, &mut sink)
        .await
        .unwrap();
    assert_eq!(summary, ImportSummary { total: 2, inserted: 1, updated: 0, failed: 1 });
    assert!(s.store.users_by_email("dry@example.com").await.unwrap().is_empty());

    // A malformed file is refused before anything is written.
    let broken = std::env::temp_dir().join(format!("gh_broken_{}.json", rand::random::<u64>()));
    std::fs::write(&broken, b"[{\"email\": \"first@example.com\"}, {\"email\": ").unwrap();
    let err = import_file(
        &s.store,
        Arc::new(test_hasher()),
        request(&s, &broken, false, false).await,
        &mut Collect::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ImportError::UnusableFile(ref m) if m.contains("line 1")), "{err}");
    assert!(s.store.users_by_email("first@example.com").await.unwrap().is_empty());
    for f in [file, file2, broken] {
        let _ = std::fs::remove_file(f);
    }
    s.stop().await;
}

async fn upsert_updates_by_email_and_is_idempotent(b: Backend) {
    let s = Server::start(b).await;
    let file = write_file(&json!([
        {"email": "up@example.com", "user_id": "up1", "given_name": "First", "user_metadata": {"a": 1, "b": 2}, "email_verified": true},
    ]));
    import_file(&s.store, Arc::new(test_hasher()), request(&s, &file, false, false).await, &mut Collect::default())
        .await
        .unwrap();
    let file2 = write_file(&json!([
        {"email": "up@example.com", "given_name": "Second", "user_metadata": {"c": 3}},
        {"email": "new@example.com"},
    ]));
    for round in 0..2 {
        let mut sink = Collect::default();
        let summary = import_file(&s.store, Arc::new(test_hasher()), request(&s, &file2, true, false).await, &mut sink)
            .await
            .unwrap();
        let expected = if round == 0 { (1, 1) } else { (0, 2) };
        assert_eq!(
            (summary.inserted, summary.updated, summary.failed),
            (expected.0, expected.1, 0),
            "round {round}: {:?}",
            sink.errors()
        );
        let u = s.store.user("auth0|up1").await.unwrap().unwrap();
        assert_eq!(u.given_name.as_deref(), Some("Second"));
        assert_eq!(Value::Object(u.user_metadata), json!({"c": 3}), "metadata is replaced, not merged");
        assert!(!u.email_verified, "email_verified resets when the file leaves it out");
    }
    let _ = std::fs::remove_file(file);
    let _ = std::fs::remove_file(file2);
    s.stop().await;
}

async fn resume_skips_what_was_done(b: Backend) {
    let s = Server::start(b).await;
    let users: Vec<Value> = (0..20).map(|i| json!({"email": format!("r{i}@example.com")})).collect();
    let file = write_file(&Value::Array(users));
    let mut req = request(&s, &file, false, false).await;
    req.id_seed = Some("job_resumeresume0001".into());
    // A first run that "crashed" after writing 12 users but before recording progress
    // past 8: the resumed run must neither duplicate nor report the 4 in between.
    let mut first = req.clone();
    let path12 = write_file(&Value::Array((0..12).map(|i| json!({"email": format!("r{i}@example.com")})).collect()));
    first.path = path12.clone();
    import_file(&s.store, Arc::new(test_hasher()), first, &mut Collect::default()).await.unwrap();
    req.resume_at = 8;
    let mut sink = Collect::default();
    let summary = import_file(&s.store, Arc::new(test_hasher()), req, &mut sink).await.unwrap();
    assert_eq!((summary.inserted, summary.failed), (12, 0), "{:?}", sink.errors());
    let (_, list) = s.api("GET", "/api/v2/users?include_totals=true&per_page=1", None).await;
    assert_eq!(list["total"], 20);
    let _ = std::fs::remove_file(file);
    let _ = std::fs::remove_file(path12);
    s.stop().await;
}

/// `single_load` (one transaction, indexes built last on an empty SQLite store; batches
/// elsewhere) reports exactly what the batched path reports, and leaves the unique
/// indexes enforcing: an imported email cannot be created again.
async fn single_load_reports_like_batches_and_keeps_uniqueness(b: Backend) {
    let s = Server::start(b).await;
    let mut users: Vec<Value> = (0..12_000).map(|i| json!({"email": format!("load{i}@example.com")})).collect();
    users[5] = json!({"email": "load3@example.com"});
    users[7] = json!({"email": "not-an-email"});
    users[11_000] = json!({"email": "load11001@example.com", "user_id": "given1"});
    users[11_500] = json!({"email": "other@example.com", "user_id": "given1"});
    let file = write_file(&Value::Array(users));
    let mut req = request(&s, &file, false, false).await;
    req.single_load = true;
    let mut sink = Collect::default();
    let summary = import_file(&s.store, Arc::new(test_hasher()), req, &mut sink).await.unwrap();
    assert_eq!(summary, ImportSummary { total: 12_000, inserted: 11_996, updated: 0, failed: 4 });
    let errors = sink.errors();
    let codes = |i: u64| {
        errors.iter().find(|e| e.index == i).map(|e| e.errors.iter().map(|f| (f.code, f.path.as_str())).collect())
    };
    assert_eq!(codes(5), Some(vec![("DUPLICATED_USER", "email")]));
    assert_eq!(codes(7).map(|c: Vec<_>| c[0]), Some(("FORMAT", "email")));
    assert_eq!(codes(11_001), Some(vec![("DUPLICATED_USER", "email")]));
    assert_eq!(codes(11_500), Some(vec![("DUPLICATED_USER", "user_id")]));
    assert!(sink.reports.len() >= 3, "progress after every batch");
    assert_eq!(
        s.store
            .count_users_in_connection(
                &s.store.connection_by_name("Username-Password-Authentication").await.unwrap().unwrap().id
            )
            .await
            .unwrap(),
        11_996
    );
    let (status, _) = s
        .api("POST", "/api/v2/users", Some(json!({"connection": "Username-Password-Authentication", "email": "load42@example.com", "password": "analytical engine 1843"})))
        .await;
    assert_eq!(status, 409, "the unique email index is back");

    // A store that has users takes the batched path: conflicts are reported per record.
    let file2 = write_file(&json!([{"email": "load1@example.com"}, {"email": "fresh@example.com"}]));
    let mut req = request(&s, &file2, false, false).await;
    req.single_load = true;
    let mut sink = Collect::default();
    let summary = import_file(&s.store, Arc::new(test_hasher()), req, &mut sink).await.unwrap();
    assert_eq!((summary.inserted, summary.failed), (1, 1));
    assert_eq!(sink.errors()[0].errors[0].code, "CONFLICT_EMAIL");
    let _ = std::fs::remove_file(file);
    let _ = std::fs::remove_file(file2);
    s.stop().await;
}
