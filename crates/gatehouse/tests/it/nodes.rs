//! Two real `gatehouse serve` processes behind one issuer, sharing one PostgreSQL and one
//! Redis and no disk, as a scaled-out deployment runs: they start at once on an empty
//! database, and what one node learns (signing keys, users, brute-force counts and blocks,
//! refresh-token families, rate-limit budgets, suspicious-IP throttles, an import job and
//! its upload) holds on the other, also after one is killed.
//!
//! Needs `GATEHOUSE_TEST_POSTGRES_URL` and `GATEHOUSE_TEST_REDIS_URL` (set by
//! `scripts/test`); skipped with a message otherwise.

use serde_json::{json, Value};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const ISSUER: &str = "http://gatehouse.nodes.test/";
const ADMIN_ID: &str = "nodes-admin-client";
const ADMIN_SECRET: &str = "nodes-admin-secret-0123456789abcdef";
const PASSWORD: &str = "Correct horse battery 9!";
const EMAIL: &str = "alice@example.com";

struct Node {
    base: String,
    child: Child,
    log: PathBuf,
}

impl Node {
    fn spawn(name: &str, db_url: &str, redis_url: &str, prefix: &str, dir: &std::path::Path) -> Node {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .arg("serve")
            .current_dir(dir)
            .env_clear()
            .env("GATEHOUSE_DATABASE_URL", db_url)
            .env("GATEHOUSE_LISTEN", format!("127.0.0.1:{port}"))
            .env("GATEHOUSE_ISSUER", ISSUER)
            .env("GATEHOUSE_ADMIN_CLIENT_ID", ADMIN_ID)
            .env("GATEHOUSE_ADMIN_CLIENT_SECRET", ADMIN_SECRET)
            .env("GATEHOUSE_DATA_DIR", dir.join(format!("data-{name}")))
            .env("GATEHOUSE_RATE_LIMITS__REDIS_URL", redis_url)
            .env("GATEHOUSE_RATE_LIMITS__REDIS_PREFIX", prefix)
            // Exact budgets below: no request decided without Redis on a loaded machine.
            .env("GATEHOUSE_RATE_LIMITS__REDIS_TIMEOUT_MS", "2000")
            // Which node starts a job is read from its log.
            .env("GATEHOUSE_LOG", "warn,gatehouse_services::jobs=info")
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .unwrap();
        Node { base: format!("http://127.0.0.1:{port}/"), child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn wait_ready(&mut self, http: &reqwest::Client) {
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("node exited with {status} before it was ready:\n{}", self.log());
            }
            if let Ok(r) = http.get(format!("{}readyz", self.base)).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("node not ready after 30 s:\n{}", self.log());
    }

    /// SIGTERM, and a graceful exit 0.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "graceful shutdown exits 0, got {status}:\n{}", self.log());
    }
}

/// A failed assertion must not leave the process behind.
impl Drop for Node {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Form POST to `/oauth/token`; `(status, body, x-ratelimit-remaining)`.
async fn token(
    http: &reqwest::Client,
    node: &Node,
    form: &[(&str, &str)],
    ip: Option<&str>,
) -> (u16, Value, Option<u64>) {
    let mut req = http.post(format!("{}oauth/token", node.base)).form(form);
    if let Some(ip) = ip {
        req = req.header("auth0-forwarded-for", ip);
    }
    let r = req.send().await.unwrap();
    let remaining = r.headers().get("x-ratelimit-remaining").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    (r.status().as_u16(), r.json().await.unwrap(), remaining)
}

async fn api(
    http: &reqwest::Client,
    node: &Node,
    bearer: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!("{}api/v2{path}", node.base);
    let mut req = http.request(method.parse().unwrap(), url).bearer_auth(bearer);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
}

struct App {
    id: String,
    secret: String,
}

impl App {
    fn password_grant<'a>(&'a self, username: &'a str, password: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![
            ("grant_type", "http://auth0.com/oauth/grant-type/password-realm"),
            ("realm", "Username-Password-Authentication"),
            ("client_id", &self.id),
            ("client_secret", &self.secret),
            ("username", username),
            ("password", password),
            ("scope", "openid offline_access"),
        ]
    }
}

/// A node keeps configuration it read for up to `CONFIG_TTL`: a settings change made on
/// one node holds on the other once that has passed (attempts made before it would be
/// counted under the old settings).
async fn other_node_sees_configuration() {
    tokio::time::sleep(gatehouse_store::CONFIG_TTL + Duration::from_millis(100)).await;
}

#[tokio::test]
async fn two_processes_share_one_store_and_one_redis() {
    let (Ok(pg), Ok(redis)) = (std::env::var("GATEHOUSE_TEST_POSTGRES_URL"), std::env::var("GATEHOUSE_TEST_REDIS_URL"))
    else {
        eprintln!("GATEHOUSE_TEST_POSTGRES_URL and GATEHOUSE_TEST_REDIS_URL are needed; the two-node test is skipped");
        return;
    };
    let (db_name, db_url) = crate::fresh_database(&pg, "gh_nodes").await;
    let dir = std::env::temp_dir().join(format!("gh-nodes-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let prefix = format!("gh_nodes_{:016x}", rand::random::<u64>());
    let http = reqwest::Client::new();

    // Both start at once on the empty database: migrations and bootstrap must not race.
    let mut a = Node::spawn("a", &db_url, &redis, &prefix, &dir);
    let mut b = Node::spawn("b", &db_url, &redis, &prefix, &dir);
    a.wait_ready(&http).await;
    b.wait_ready(&http).await;

    // One signing key set: a Management API token from A is good on B.
    let (status, body, _) = token(
        &http,
        &a,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", ADMIN_ID),
            ("client_secret", ADMIN_SECRET),
            ("audience", &format!("{ISSUER}api/v2/")),
        ],
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let admin = body["access_token"].as_str().unwrap().to_string();
    let (status, connections) = api(&http, &b, &admin, "GET", "/connections", None).await;
    assert_eq!(status, 200, "{connections}");
    let names: Vec<&str> = connections.as_array().unwrap().iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["Username-Password-Authentication"], "bootstrapped once");

    let (status, client) = api(
        &http,
        &a,
        &admin,
        "POST",
        "/clients",
        Some(json!({
            "name": "backend",
            "app_type": "regular_web",
            "token_endpoint_auth_method": "client_secret_post",
            "grant_types": ["http://auth0.com/oauth/grant-type/password-realm", "refresh_token"],
        })),
    )
    .await;
    assert_eq!(status, 201, "{client}");
    let app = App {
        id: client["client_id"].as_str().unwrap().into(),
        secret: client["client_secret"].as_str().unwrap().into(),
    };
    let connection_id = connections[0]["id"].as_str().unwrap();
    let (status, body) = api(
        &http,
        &b,
        &admin,
        "PATCH",
        &format!("/connections/{connection_id}"),
        Some(json!({"enabled_clients": [app.id]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, user) = api(
        &http,
        &b,
        &admin,
        "POST",
        "/users",
        Some(json!({"connection": "Username-Password-Authentication", "email": EMAIL, "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 201, "{user}");
    let (status, _) =
        api(&http, &a, &admin, "PATCH", "/attack-protection/brute-force-protection", Some(json!({"max_attempts": 3})))
            .await;
    assert_eq!(status, 200);
    other_node_sees_configuration().await;

    // Brute force spread over both nodes is counted once: A, B, A → blocked on both.
    let ip = "203.0.113.77";
    for (i, node) in [&a, &b, &a].into_iter().enumerate() {
        let (status, body, _) = token(&http, node, &app.password_grant(EMAIL, "wrong password"), Some(ip)).await;
        assert_eq!((status, body["error"].as_str()), (403, Some("invalid_grant")), "failure {i}: {body}");
    }
    for node in [&b, &a] {
        let (status, body, _) = token(&http, node, &app.password_grant(EMAIL, PASSWORD), Some(ip)).await;
        assert_eq!((status, body["error"].as_str()), (429, Some("too_many_attempts")), "{body}");
    }
    let (status, blocks) = api(&http, &b, &admin, "GET", &format!("/user-blocks?identifier={EMAIL}"), None).await;
    assert_eq!(status, 200, "{blocks}");
    assert_eq!(blocks["blocked_for"][0]["ip"], ip, "{blocks}");
    // Lifted on A, so B lets the user in.
    let (status, _) = api(&http, &a, &admin, "DELETE", &format!("/user-blocks?identifier={EMAIL}"), None).await;
    assert_eq!(status, 204);
    let (status, first, _) = token(&http, &b, &app.password_grant(EMAIL, PASSWORD), Some(ip)).await;
    assert_eq!(status, 200, "{first}");
    // A NUL in the login (PostgreSQL stores none) is an unknown user, not an error.
    let (status, body, _) = token(&http, &a, &app.password_grant("alice\u{0}@example.com", PASSWORD), None).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("invalid_grant")), "{body}");

    // Refresh-token families live in the store: rotated on A, the old token replayed on B
    // revokes the family everywhere.
    let refresh = |t: &str| {
        vec![
            ("grant_type".to_string(), "refresh_token".to_string()),
            ("client_id".to_string(), app.id.clone()),
            ("client_secret".to_string(), app.secret.clone()),
            ("refresh_token".to_string(), t.to_string()),
        ]
    };
    let old = first["refresh_token"].as_str().unwrap().to_string();
    let rotate = |node: &Node, t: &str| {
        let form = refresh(t);
        let req = http.post(format!("{}oauth/token", node.base)).form(&form);
        async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, second) = rotate(&a, &old).await;
    assert_eq!(status, 200, "{second}");
    let newer = second["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(newer, old);
    let (status, body) = rotate(&b, &old).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("invalid_grant")), "reuse: {body}");
    let (status, body) = rotate(&a, &newer).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("invalid_grant")), "family revoked: {body}");

    // One rate-limit budget per client IP in Redis: each request on either node takes
    // one from the same count.
    let cc = [
        ("grant_type", "client_credentials"),
        ("client_id", ADMIN_ID),
        ("client_secret", ADMIN_SECRET),
        ("audience", "http://gatehouse.nodes.test/api/v2/"),
    ];
    let (_, _, r1) = token(&http, &a, &cc, None).await;
    let (_, _, r2) = token(&http, &b, &cc, None).await;
    let (_, _, r3) = token(&http, &a, &cc, None).await;
    let (r1, r2, r3) = (r1.expect("rate-limit headers"), r2.unwrap(), r3.unwrap());
    assert_eq!((r2, r3), (r1 - 1, r1 - 2), "one shared budget");

    // Suspicious-IP throttling counts failures across accounts and nodes.
    let (status, _) = api(
        &http,
        &b,
        &admin,
        "PATCH",
        "/attack-protection/suspicious-ip-throttling",
        Some(json!({"stage": {"pre-login": {"max_attempts": 3, "rate": 600000}}})),
    )
    .await;
    assert_eq!(status, 200);
    other_node_sees_configuration().await;
    let noisy = "198.51.100.99";
    for (i, (node, who)) in
        [(&a, "x@example.com"), (&b, "y@example.com"), (&a, "z@example.com")].into_iter().enumerate()
    {
        let (status, body, _) = token(&http, node, &app.password_grant(who, "nope"), Some(noisy)).await;
        assert_eq!(status, 403, "failure {i}: {body}");
    }
    let (status, body, _) = token(&http, &b, &app.password_grant(EMAIL, PASSWORD), Some(noisy)).await;
    assert_eq!((status, body["error"].as_str()), (429, Some("too_many_attempts")), "{body}");
    let (status, _, _) = token(&http, &a, &app.password_grant(EMAIL, PASSWORD), Some("198.51.100.100")).await;
    assert_eq!(status, 200, "other addresses are not throttled");

    let survivor = import_outlives_its_node(&http, &admin, [a, b], &pg, &db_url, &db_name, connection_id).await;
    survivor.stop();
    crate::drop_database(&pg, &db_name).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// An import job on a node killed (SIGKILL) mid-job is taken over by the other node, which
/// shares no disk with it (the upload reaches it through the database), and every user
/// arrives once. The users table is locked so that the job is certain to be mid-write
/// when its node dies; the dead node's open transaction never commits. Returns the node
/// left alive.
async fn import_outlives_its_node(
    http: &reqwest::Client,
    admin: &str,
    nodes: [Node; 2],
    pg: &str,
    db_url: &str,
    db_name: &str,
    connection_id: &str,
) -> Node {
    use sqlx::Connection;
    let mut locker = sqlx::PgConnection::connect(db_url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut locker).await.unwrap();
    sqlx::query("LOCK TABLE users IN ACCESS EXCLUSIVE MODE").execute(&mut locker).await.unwrap();
    let n = 3_000;
    let users: Vec<Value> = (0..n).map(|i| json!({"email": format!("moved{i}@example.com")})).collect();
    let form = reqwest::multipart::Form::new()
        .text("connection_id", connection_id.to_string())
        .text("send_completion_email", "false")
        .part("users", reqwest::multipart::Part::bytes(serde_json::to_vec(&users).unwrap()).file_name("users.json"));
    let r = http.post(format!("{}api/v2/jobs/users-imports", nodes[0].base)).bearer_auth(admin).multipart(form).send();
    let r = r.await;
    let r = r.unwrap();
    assert_eq!(r.status(), 202);
    let job: Value = r.json().await.unwrap();
    let id = job["id"].as_str().unwrap().to_string();

    // A node claimed the job (the one that took the upload, almost always: its worker is
    // woken by it) and now waits on the lock.
    let mut watcher = sqlx::PgConnection::connect(pg).await.unwrap();
    let mut waiting = 0i64;
    for _ in 0..600 {
        waiting =
            sqlx::query_scalar("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'")
                .bind(db_name)
                .fetch_one(&mut watcher)
                .await
                .unwrap();
        if waiting > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(waiting > 0, "the import never waited on the lock");
    let claimed = "SELECT claimed_by FROM jobs WHERE id = $1";
    let first: Option<String> = sqlx::query_scalar(claimed).bind(&id).fetch_one(&mut locker).await.unwrap();
    let started = |node: &Node| node.log().lines().any(|l| l.contains("job started") && l.contains(&id));
    let [a, b] = nodes;
    let (mut runner, b) = if started(&a) { (a, b) } else { (b, a) };
    assert!(started(&runner), "one node started the job");
    runner.child.kill().unwrap();
    runner.child.wait().unwrap();
    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();

    // The other takes the job over once the dead node's heartbeat is stale, and finishes it.
    let mut done = Value::Null;
    for _ in 0..600 {
        let (status, job) = api(http, &b, admin, "GET", &format!("/jobs/{id}"), None).await;
        assert_eq!(status, 200, "{job}");
        if job["status"] == "completed" || job["status"] == "failed" {
            done = job;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(done["status"], "completed", "{done}\n{}", b.log());
    assert_eq!(done["summary"], json!({"total": n, "inserted": n, "updated": 0, "failed": 0}), "{done}");
    let last: Option<String> = sqlx::query_scalar(claimed).bind(&id).fetch_one(&mut locker).await.unwrap();
    assert_ne!(first, last, "the node that finished is not the one that started");
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE email LIKE 'moved%'")
        .fetch_one(&mut locker)
        .await
        .unwrap();
    assert_eq!(total, n, "every user once");
    locker.close().await.unwrap();
    watcher.close().await.unwrap();
    b
}
