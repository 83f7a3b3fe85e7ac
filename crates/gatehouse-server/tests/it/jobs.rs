//! `/api/v2/jobs`: Auth0's import and export jobs over HTTP, with the real worker.

use crate::kit::{auth0_error, Backend, Server};
use serde_json::{json, Value};
use std::io::Read;

crate::on_both_backends!(
    import_job_reports_summary_and_errors,
    import_refuses_bad_requests_before_any_job,
    export_job_gives_a_signed_download,
    a_job_left_by_a_dead_node_is_taken_over,
    uploads_cut_short_are_swept_at_start,
    an_import_outlives_its_database_connections,
    import_job_joins_auth0_password_hash_export,
    nodes_without_a_shared_disk_run_and_serve_each_others_jobs,
);

/// Nodes that share no disk (`[jobs] files = "database"`, the default on PostgreSQL and
/// set here on SQLite too): an upload taken by one node is run by another, an export
/// written by one is downloaded from another, and stored copies no job owns are swept.
async fn nodes_without_a_shared_disk_run_and_serve_each_others_jobs(b: Backend) {
    use gatehouse_services::job_files::{self, JobFileStorage};
    use gatehouse_services::job_requests::{start_import, ImportJobRequest};
    let s = Server::start_with(b, |c| c.jobs.files = Some(JobFileStorage::Database)).await;
    let con = connection_id(&s).await;
    // The other node: the same store, a data directory of its own, no HTTP.
    let mut config = (*s.state.config).clone();
    config.data_dir = s.data_dir.join("other-node");
    let clock = std::sync::Arc::new(gatehouse_core::clock::SystemClock);
    let (other, _) =
        gatehouse_services::prepare(s.store.clone(), config, crate::kit::test_hasher(), clock, None).await.unwrap();

    // An upload taken by the other node is run by the server's own worker.
    let id = gatehouse_core::ids::new_job_id();
    let upload = job_files::upload_name(&id);
    let users: Vec<Value> = (0..40).map(|i| json!({"email": format!("far{i}@example.com")})).collect();
    let path = job_files::path(&other, &upload);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, serde_json::to_vec(&users).unwrap()).unwrap();
    let req = ImportJobRequest {
        connection_id: con.clone(),
        format: gatehouse_migrate::Format::Auth0Json,
        upsert: false,
        send_completion_email: false,
        external_id: None,
        csv_columns: None,
        hashes: false,
    };
    start_import(&other, id.clone(), &upload, req).await.unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    assert_eq!(s.store.job_file_size(&upload).await.unwrap(), Some(size as i64), "stored before the job exists");
    assert!(!job_files::path(&s.state, &upload).exists());
    gatehouse_services::jobs::run_once(&s.state).await.unwrap();
    let done = finished(&s, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["summary"]["inserted"], 40, "{done}");
    assert_eq!(s.store.job_file_size(&upload).await.unwrap(), None, "the stored upload goes with its import");
    assert!(!job_files::path(&s.state, &upload).exists(), "and the running node's copy");

    // An export written by the server is downloaded from the other node, and from the
    // server after its own copy is lost.
    let (_, job) = s.api("POST", "/api/v2/jobs/users-exports", Some(json!({"connection_id": con}))).await;
    let done = finished(&s, job["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed", "{done}");
    let file = s.store.job(job["id"].as_str().unwrap()).await.unwrap().unwrap().file.unwrap();
    let written = std::fs::read(job_files::path(&s.state, &file)).unwrap();
    let fetched = job_files::fetch(&other, &file).await.unwrap().expect("the export reaches the other node");
    assert_eq!(fetched, job_files::path(&other, &file));
    assert_eq!(std::fs::read(&fetched).unwrap(), written);
    std::fs::remove_file(job_files::path(&s.state, &file)).unwrap();
    let r = reqwest::get(done["location"].as_str().unwrap()).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().to_vec(), written);

    // A stored file cut short is never read, and with no job it is swept.
    let orphan = "job_0rphan0000000002.upload";
    s.store.begin_job_file(orphan, "2001-01-01T00:00:00.000Z").await.unwrap();
    s.store.put_job_file_chunk(orphan, 0, b"[{\"email\":".to_vec()).await.unwrap();
    assert_eq!(job_files::fetch(&s.state, orphan).await.unwrap(), None);
    let swept = gatehouse_services::jobs::sweep_orphan_files(&s.state, std::time::Duration::ZERO).await.unwrap();
    assert_eq!(swept, 1, "only the orphan");
    assert_eq!(s.store.job_files_stored_before("9999").await.unwrap(), vec![file], "the export stays");
    s.stop().await;
}

/// The connection of an import's write terminated mid-statement (as a failover or an
/// administrator does): the job runs again from its checkpoint and completes with every
/// user once. The users table is locked first, so the write is certain to be waiting
/// when it is terminated. (SQLite has no connections to terminate.)
async fn an_import_outlives_its_database_connections(b: Backend) {
    use sqlx::Connection;
    let Backend::Postgres(admin_url) = b.clone() else { return };
    let s = Server::start(b).await;
    let con = connection_id(&s).await;
    let database = s.data_dir.file_name().unwrap().to_str().unwrap().to_string();
    let mut locker = sqlx::PgConnection::connect(&crate::kit::with_database(&admin_url, &database)).await.unwrap();
    sqlx::query("BEGIN").execute(&mut locker).await.unwrap();
    sqlx::query("LOCK TABLE users IN ACCESS EXCLUSIVE MODE").execute(&mut locker).await.unwrap();
    let n: u64 = 12_000;
    let users: Vec<Value> =
        (0..n).map(|i| json!({"email": format!("u{i}@example.com"), "email_verified": true})).collect();
    let (status, job) = s.import_users(serde_json::to_vec(&users).unwrap(), &[("connection_id", &con)]).await;
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().unwrap();
    // The job's first write waits on the lock: terminate it there.
    let admin = sqlx::PgPool::connect(&admin_url).await.unwrap();
    let mut terminated = Vec::new();
    for _ in 0..600 {
        terminated = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
        )
        .bind(&database)
        .fetch_all(&admin)
        .await
        .unwrap();
        if terminated.contains(&true) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(terminated.contains(&true), "the import's write never waited on the lock");
    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    locker.close().await.unwrap();
    admin.close().await;
    let done = finished(&s, id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["summary"], json!({"total": n, "inserted": n, "updated": 0, "failed": 0}), "{done}");
    assert_eq!(s.store.count_users_in_connection(&con).await.unwrap(), n, "every user once");
    s.stop().await;
}

/// Writes `name` into the job directory, last modified `age_secs` ago.
fn job_dir_file(data_dir: &std::path::Path, name: &str, age_secs: i64) -> std::path::PathBuf {
    use gatehouse_core::clock::{Clock, SystemClock};
    let dir = data_dir.join("jobs");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let file = std::fs::File::create(&path).unwrap();
    std::io::Write::write_all(&mut &file, b"[{\"email\":\"a@example.com\",\"custom_password_hash\":").unwrap();
    let then = SystemClock.now() - time::Duration::seconds(age_secs);
    file.set_modified(std::time::SystemTime::from(then)).unwrap();
    path
}

/// A crash mid-upload leaves a file (hashes and all) with no job: the next start deletes
/// it once nothing has written to it for a while (an upload in progress on another node
/// sharing the directory is written to constantly). Files of jobs and others stay.
async fn uploads_cut_short_are_swept_at_start(b: Backend) {
    let files = std::sync::Mutex::new(Vec::new());
    let s = Server::start_with(b, |c| {
        let mut f = files.lock().unwrap();
        f.push(job_dir_file(&c.data_dir, "job_0rphan0000000001.upload", 3600));
        f.push(job_dir_file(&c.data_dir, "job_fresh00000000001.upload", 0));
        f.push(job_dir_file(&c.data_dir, "notes.txt", 3600));
    })
    .await;
    let files = files.into_inner().unwrap();
    let mut gone = false;
    for _ in 0..200 {
        gone = !files[0].exists();
        if gone {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(gone, "the abandoned upload is swept at start");
    assert!(files[1].exists(), "an upload written to just now may be in progress elsewhere");
    assert!(files[2].exists(), "files not named for a job are not ours");

    // A finished export's file belongs to its job; with no grace, only the orphan goes.
    let con = connection_id(&s).await;
    let (_, job) = s.api("POST", "/api/v2/jobs/users-exports", Some(json!({"connection_id": con}))).await;
    let id = job["id"].as_str().unwrap();
    assert_eq!(finished(&s, id).await["status"], "completed");
    let swept = gatehouse_services::jobs::sweep_orphan_files(&s.state, std::time::Duration::ZERO).await.unwrap();
    assert_eq!(swept, 1);
    assert!(!files[1].exists());
    assert!(files[2].exists());
    let export = std::fs::read_dir(s.data_dir.join("jobs")).unwrap().filter_map(Result::ok);
    assert!(export.map(|e| e.file_name().into_string().unwrap()).any(|n| n.starts_with(id)), "the export stays");
    s.stop().await;
}

async fn connection_id(s: &Server) -> String {
    let (_, list) = s.api("GET", "/api/v2/connections?name=Username-Password-Authentication", None).await;
    list[0]["id"].as_str().unwrap().to_string()
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

async fn import_job_reports_summary_and_errors(b: Backend) {
    let s = Server::start(b).await;
    let con = connection_id(&s).await;
    let users = json!([
        {"email": "j1@example.com", "user_id": "j1", "custom_password_hash": {"algorithm": "sha256", "hash": {"value": "XohImNooBHFR0OVvjcYpJ3NgPQ1qq73WKhHvch0VQtg=", "encoding": "base64"}}},
        {"email": "nope", "custom_password_hash": {"algorithm": "sha256", "hash": {"value": "topsecretvalue", "encoding": "hex"}}},
        {"email": "j2@example.com"},
    ]);
    let (status, job) = s
        .import_users(
            serde_json::to_vec(&users).unwrap(),
            &[("connection_id", &con), ("external_id", "batch-7"), ("send_completion_email", "false")],
        )
        .await;
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["type"], "users_import");
    assert_eq!(job["status"], "pending");
    assert_eq!(job["connection_id"], con);
    assert_eq!(job["external_id"], "batch-7");
    assert_eq!(job["upsert"], false);
    let id = job["id"].as_str().unwrap();
    assert!(id.starts_with("job_") && id.len() == 20);
    let done = finished(&s, id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["summary"], json!({"total": 3, "inserted": 2, "updated": 0, "failed": 1}));
    let (status, errors) = s.api("GET", &format!("/api/v2/jobs/{id}/errors"), None).await;
    assert_eq!(status, 200);
    let errors = errors.as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["user"]["email"], "nope");
    assert_eq!(errors[0]["user"]["custom_password_hash"]["hash"]["value"], "*****", "secrets are masked");
    assert!(
        errors[0]["errors"].as_array().unwrap().iter().any(|e| e["path"] == "email" && e["code"] == "FORMAT"),
        "{errors:?}"
    );
    let hasher = crate::kit::test_hasher();
    let u = s.store.user("auth0|j1").await.unwrap().unwrap();
    assert!(hasher.verify(&hasher.parse_stored(u.password_hash.as_deref().unwrap()).unwrap(), "password"));

    // A second job with no failures answers 204 on /errors; upsert updates.
    let (_, job) = s
        .import_users(
            serde_json::to_vec(&json!([{"email": "j2@example.com", "given_name": "Jo"}])).unwrap(),
            &[("connection_id", &con), ("upsert", "true")],
        )
        .await;
    let id2 = job["id"].as_str().unwrap();
    let done = finished(&s, id2).await;
    assert_eq!(done["summary"], json!({"total": 1, "inserted": 0, "updated": 1, "failed": 0}));
    assert_eq!(
        done["status_details"],
        "The completion email was not sent: no administrator address is configured (mail.admin_emails)."
    );
    let (status, _) = s.api("GET", &format!("/api/v2/jobs/{id2}/errors"), None).await;
    assert_eq!(status, 204);
    let (status, body) = s.api("GET", "/api/v2/jobs/job_0000000000000000", None).await;
    assert_eq!(status, 404);
    auth0_error(404, &body, "inexistent_job");
    s.stop().await;
}

async fn import_refuses_bad_requests_before_any_job(b: Backend) {
    let s = Server::start(b).await;
    let con = connection_id(&s).await;
    type Case<'a> = (Vec<u8>, Vec<(&'a str, String)>, &'a str);
    let cases: Vec<Case> = vec![
        (b"[]".to_vec(), vec![], "Must provide 'connection_id' as multipart part."),
        (Vec::new(), vec![("connection_id", con.clone())], "Users file must not be empty."),
        (
            b"[]".to_vec(),
            vec![("connection_id", "con_x".into())],
            "String does not match pattern ^con_[A-Za-z0-9]{16}$",
        ),
        (b"[]".to_vec(), vec![("connection_id", "con_0000000000000000".into())], "The connection does not exist."),
        (b"[{\"email\": \"a@example.com\"},\n {\"email\": ".to_vec(), vec![("connection_id", con.clone())], "line 2"),
        (b"{\"not\": \"an array\"}".to_vec(), vec![("connection_id", con.clone())], "The file is not valid"),
        (b"[]".to_vec(), vec![("connection_id", con.clone()), ("upsert", "maybe".into())], "upsert"),
        (b"[]".to_vec(), vec![("connection_id", con.clone()), ("colour", "red".into())], "colour"),
    ];
    for (file, fields, expected) in cases {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, body) = s.import_users(file, &fields).await;
        assert_eq!(status, 400, "{expected}: {body}");
        assert!(auth0_error(400, &body, "invalid_body").contains(expected), "{expected}: {body}");
    }
    let r = s
        .http
        .post(format!("{}/api/v2/jobs/users-imports", s.base))
        .bearer_auth(&s.admin_token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let reader = s.token_with(&["read:users"]).await;
    let r = s
        .http
        .post(format!("{}/api/v2/jobs/users-imports", s.base))
        .bearer_auth(&reader)
        .multipart(reqwest::multipart::Form::new())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let leftovers: Vec<_> = std::fs::read_dir(s.data_dir.join("jobs"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "refused uploads leave no file behind: {leftovers:?}");
    s.stop().await;
}

async fn export_job_gives_a_signed_download(b: Backend) {
    let s = Server::start(b).await;
    let con = connection_id(&s).await;
    for i in 0..5 {
        s.create_user(json!({"email": format!("e{i}@example.com"), "user_metadata": {"n": i}})).await;
    }
    let body = json!({"connection_id": con, "format": "json", "fields": [{"name": "email"}, {"name": "user_metadata.n", "export_as": "n"}]});
    let (status, job) = s.api("POST", "/api/v2/jobs/users-exports", Some(body)).await;
    assert!(status == 200 || status == 201, "{job}");
    assert_eq!(job["type"], "users_export");
    assert_eq!(job["connection"], "Username-Password-Authentication");
    assert_eq!(job["format"], "json");
    let done = finished(&s, job["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed", "{done}");
    let location = done["location"].as_str().unwrap();
    assert!(location.starts_with(&s.issuer), "{location}");
    let r = reqwest::get(location).await.unwrap();
    assert_eq!(r.status(), 200);
    let gz = r.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..]).read_to_string(&mut text).unwrap();
    let mut lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    lines.sort_by_key(|l| l["email"].as_str().unwrap().to_string());
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[3], json!({"email": "e3@example.com", "n": 3}));
    let tampered = location.replace("signature=", "signature=00");
    assert_eq!(reqwest::get(&tampered).await.unwrap().status(), 403);
    let expired = {
        let u = url::Url::parse(location).unwrap();
        let sig: String = u.query_pairs().find(|(k, _)| k == "signature").unwrap().1.into_owned();
        format!("{}?expires=1&signature={sig}", location.split('?').next().unwrap())
    };
    assert_eq!(reqwest::get(&expired).await.unwrap().status(), 403);
    let (status, body) = s.api("POST", "/api/v2/jobs/users-exports", Some(json!({"format": "xml"}))).await;
    assert_eq!(status, 400);
    assert!(auth0_error(400, &body, "invalid_body").contains("format"));
    s.stop().await;
}

async fn a_job_left_by_a_dead_node_is_taken_over(b: Backend) {
    let s = Server::start(b).await;
    let con = connection_id(&s).await;
    // Hold the worker off by claiming the job as a node that then "dies": its heartbeat
    // is from 2001, so the live worker takes the job over and finishes it.
    let users: Vec<Value> = (0..30).map(|i| json!({"email": format!("t{i}@example.com")})).collect();
    let (status, job) = s.import_users(serde_json::to_vec(&users).unwrap(), &[("connection_id", &con)]).await;
    assert_eq!(status, 202);
    let id = job["id"].as_str().unwrap();
    let _ = s.store.claim_job("node_dead", "2001-01-01T00:00:00.000Z", "2001-01-01T00:00:00.000Z").await.unwrap();
    let done = finished(&s, id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["summary"]["inserted"], 30);
    let (_, list) = s.api("GET", "/api/v2/users?include_totals=true&per_page=1", None).await;
    assert_eq!(list["total"], 30, "no user lost or doubled");
    s.stop().await;
}

/// Auth0's users export (NDJSON) and its password-hash export (the support ticket's
/// NDJSON) in one upload: each user takes the hash under its id, and the hash records no
/// user took are the job's errors, after the users'.
async fn import_job_joins_auth0_password_hash_export(b: Backend) {
    let s = Server::start(b).await;
    let con = connection_id(&s).await;
    let bcrypt = "$2b$04$OcIuM6Q44qqWo0nu/4hl.upUbNfgfPFaE1o1dqPIqul.Z.zEaksZG"; // "staple🙂ok1739"
    let users = [
        json!({"user_id": "auth0|5dea9f9c82dd7c0e76e4ec93", "email": "oid@example.com", "email_verified": true,
            "created_at": "2019-12-06T18:36:12.412Z", "identities": [{"connection": "Username-Password-Authentication",
            "provider": "auth0", "user_id": "5dea9f9c82dd7c0e76e4ec93", "isSocial": false}],
            "user_metadata": {"lang": "fr"}}),
        json!({"user_id": "auth0|euclid", "email": "alt@example.com"}),
        json!({"user_id": "auth0|nohash", "email": "nohash@example.com"}),
    ];
    let users: String = users.iter().map(|u| format!("{u}\n")).collect();
    let hashes = [
        json!({"_id": {"$oid": "5dea9f9c82dd7c0e76e4ec93"}, "email": "oid@example.com", "passwordHash": bcrypt,
            "password_set_date": {"$date": "2019-12-06T18:36:12.412Z"}, "tenant": "old",
            "connection": "Username-Password-Authentication", "_tmp_is_unique": true}),
        json!({"_id": {"$oid": "5dea9f9c82dd7c0e76e4ec94"}, "alt_id": "euclid",
            "identifiers": [{"type": "email", "value": "alt@example.com", "verified": false}],
            "passwordHash": bcrypt, "connection": "Username-Password-Authentication"}),
        json!({"_id": {"$oid": "5dea9f9c82dd7c0e76e4ec95"}, "email": "gone@example.com", "passwordHash": bcrypt,
            "connection": "Username-Password-Authentication"}),
    ];
    let hashes: String = hashes.iter().map(|h| format!("{h}\n")).collect();
    let form = reqwest::multipart::Form::new()
        .text("connection_id", con.clone())
        .text("format", "ndjson")
        .text("send_completion_email", "false")
        .part("users", reqwest::multipart::Part::bytes(users.into_bytes()).file_name("users.json"))
        .part("hashes", reqwest::multipart::Part::bytes(hashes.into_bytes()).file_name("hashes.json"));
    let r = s
        .http
        .post(s.url("api/v2/jobs/users-imports"))
        .bearer_auth(&s.admin_token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let job: Value = r.json().await.unwrap();
    let id = job["id"].as_str().unwrap();
    let done = finished(&s, id).await;
    assert_eq!(done["summary"], json!({"total": 3, "inserted": 3, "updated": 0, "failed": 1}), "{done}");
    let (status, errors) = s.api("GET", &format!("/api/v2/jobs/{id}/errors"), None).await;
    assert_eq!(status, 200, "{errors}");
    assert_eq!(errors.as_array().unwrap().len(), 1, "{errors}");
    assert_eq!(errors[0]["user"]["email"], "gone@example.com");
    assert_eq!(errors[0]["user"]["passwordHash"], "*****");
    assert_eq!(errors[0]["errors"][0]["path"], "_id");
    assert_eq!(errors[0]["errors"][0]["code"], "NOT_JOINED");

    let hasher = crate::kit::test_hasher();
    for id in ["auth0|5dea9f9c82dd7c0e76e4ec93", "auth0|euclid"] {
        let u = s.store.user(id).await.unwrap().unwrap();
        let hash = hasher.parse_stored(u.password_hash.as_deref().unwrap()).unwrap();
        assert!(hasher.verify(&hash, "staple🙂ok1739"), "{id} took its hash");
    }
    let oid = s.store.user("auth0|5dea9f9c82dd7c0e76e4ec93").await.unwrap().unwrap();
    assert_eq!(oid.user_metadata["lang"], json!("fr"));
    assert_eq!(s.store.user("auth0|nohash").await.unwrap().unwrap().password_hash, None);

    // A hashes part that is not a file of lines is refused before any job exists.
    let form = reqwest::multipart::Form::new()
        .text("connection_id", con)
        .part("users", reqwest::multipart::Part::bytes(b"[]".to_vec()).file_name("users.json"))
        .part("hashes", reqwest::multipart::Part::bytes(Vec::new()).file_name("hashes.json"));
    let r = s.http.post(s.url("api/v2/jobs/users-imports")).bearer_auth(&s.admin_token).multipart(form).send().await;
    let r = r.unwrap();
    assert_eq!(r.status(), 400);
    s.stop().await;
}
