//! A whole Gatehouse per test: fresh store, port 0, the bootstrap admin client, and
//! typed helpers for the Management API.

use gatehouse_core::clock::{Clock, SystemClock};
use gatehouse_hash::{Argon2Config, Hasher, Limits};
use gatehouse_server::state::ServerConfig;
use gatehouse_store::Store;
use rand::Rng;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::sync::oneshot;

pub const ADMIN_ID: &str = "it-admin";
pub const ADMIN_SECRET: &str = "it-admin-secret-0123456789";

#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    /// PostgreSQL when the test environment provides one.
    pub fn postgres() -> Option<Self> {
        match std::env::var("GATEHOUSE_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => Some(Backend::Postgres(url)),
            _ => {
                eprintln!("GATEHOUSE_TEST_POSTGRES_URL is not set; the PostgreSQL run is skipped");
                None
            }
        }
    }
}

/// Runs each named test function once per backend.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::kit::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if let Some(b) = $crate::kit::Backend::postgres() { super::$name(b).await }
            })*
        }
    };
}

pub struct Server {
    pub base: String,
    pub issuer: String,
    pub http: reqwest::Client,
    pub store: Store,
    pub admin_token: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    cleanup: Cleanup,
    pub data_dir: std::path::PathBuf,
}

enum Cleanup {
    File(std::path::PathBuf),
    Schema { url: String, schema: String },
    Done,
}

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}_{:016x}", std::process::id(), rand::thread_rng().gen::<u64>())
}

/// Cheap argon2 parameters: the tests check behaviour, not hash cost.
pub fn test_hasher() -> Hasher {
    Hasher::new(Argon2Config { memory_kib: 256, iterations: 1, parallelism: 1 }, Limits::default())
}

impl Server {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, |_| {}).await
    }

    /// Starts with `configure` applied to the server's configuration.
    pub async fn start_with(backend: Backend, configure: impl FnOnce(&mut ServerConfig)) -> Self {
        Self::start_with_clock(backend, Arc::new(SystemClock), configure).await
    }

    /// Like [`Server::start_with`], on a clock the test controls.
    pub async fn start_with_clock(
        backend: Backend,
        clock: Arc<dyn Clock>,
        configure: impl FnOnce(&mut ServerConfig),
    ) -> Self {
        let (store, cleanup) = match backend {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("{}.db", unique("gh_it")));
                let store = Store::connect(&format!("sqlite://{}", path.display())).await.unwrap();
                (store, Cleanup::File(path))
            }
            Backend::Postgres(url) => {
                let schema = unique("gh_it");
                let store = Store::connect_in_schema(&url, Some(&schema)).await.unwrap();
                (store, Cleanup::Schema { url, schema })
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let issuer = format!("http://{addr}/");
        let data_dir = std::env::temp_dir().join(unique("gh_it_data"));
        let mut config = ServerConfig::new(&issuer);
        config.data_dir = data_dir.clone();
        configure(&mut config);
        let (state, created) =
            gatehouse_server::prepare(store.clone(), config, test_hasher(), clock, Some((ADMIN_ID, ADMIN_SECRET)))
                .await
                .unwrap();
        assert!(created.is_none(), "given credentials are never echoed back");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(gatehouse_server::serve(listener, state, async {
            let _ = rx.await;
        }));
        let http = reqwest::Client::new();
        let mut server = Server {
            base: format!("http://{addr}"),
            issuer,
            http,
            store,
            admin_token: String::new(),
            shutdown: Some(tx),
            task: Some(task),
            cleanup,
            data_dir,
        };
        server.admin_token = server.client_credentials(ADMIN_ID, ADMIN_SECRET, None).await;
        server
    }

    /// A Management API token for `client_id`, asserting success.
    pub async fn client_credentials(&self, client_id: &str, secret: &str, scope: Option<&str>) -> String {
        let mut form = vec![
            ("grant_type", "client_credentials".to_string()),
            ("client_id", client_id.to_string()),
            ("client_secret", secret.to_string()),
            ("audience", format!("{}api/v2/", self.issuer)),
        ];
        if let Some(s) = scope {
            form.push(("scope", s.to_string()));
        }
        let r = self.http.post(format!("{}/oauth/token", self.base)).form(&form).send().await.unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_string()
    }

    /// A token carrying exactly `scopes`, from a fresh client granted them.
    pub async fn token_with(&self, scopes: &[&str]) -> String {
        let (s, client) =
            self.api("POST", "/api/v2/clients", Some(json!({"name": "scoped", "app_type": "non_interactive"}))).await;
        assert_eq!(s, 201, "{client}");
        let id = client["client_id"].as_str().unwrap();
        let grant = json!({"client_id": id, "audience": format!("{}api/v2/", self.issuer), "scope": scopes});
        let (s, body) = self.api("POST", "/api/v2/client-grants", Some(grant)).await;
        assert_eq!(s, 201, "{body}");
        self.client_credentials(id, client["client_secret"].as_str().unwrap(), None).await
    }

    /// Calls the Management API with the admin token.
    pub async fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call(method, path, body, Some(&self.admin_token)).await
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>, token: Option<&str>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        let value =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, value)
    }

    /// Sends raw bytes with a content type, for malformed-input tests. Uses a connection
    /// of its own: a server that refuses a body early closes the connection, which must not
    /// be reused by the next request.
    pub async fn raw(&self, method: &str, path: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let once = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
        let r = once
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.admin_token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let value = r.json().await.unwrap_or(Value::Null);
        (status, value)
    }

    /// Creates a user in the default connection, asserting success.
    pub async fn create_user(&self, body: Value) -> Value {
        let mut body = body;
        body.as_object_mut().unwrap().entry("connection").or_insert(json!("Username-Password-Authentication"));
        let (s, user) = self.api("POST", "/api/v2/users", Some(body)).await;
        assert_eq!(s, 201, "{user}");
        user
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
        self.store.close().await;
        self.cleanup.run();
    }
}

impl Cleanup {
    /// Removes the test's database. Runs on its own thread and runtime, so it also works
    /// from `Drop` while a failed test unwinds.
    fn run(&mut self) {
        let job = std::mem::replace(self, Cleanup::Done);
        let handle = std::thread::spawn(move || match job {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Schema { url, schema } => {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    let pool = sqlx::PgPool::connect(&url).await.unwrap();
                    sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).execute(&pool).await.unwrap();
                    pool.close().await;
                });
            }
            Cleanup::Done => {}
        });
        let _ = handle.join();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.cleanup.run();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// Asserts Auth0's error body shape and returns its message.
pub fn auth0_error(status: u16, body: &Value, error_code: &str) -> String {
    assert_eq!(body["statusCode"], json!(status), "{body}");
    assert!(body["error"].is_string(), "{body}");
    assert_eq!(body["errorCode"], json!(error_code), "{body}");
    body["message"].as_str().unwrap().to_string()
}
