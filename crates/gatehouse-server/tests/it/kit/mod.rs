//! The one test kit: a whole Gatehouse per test, started the production way
//! (`gatehouse_services::prepare`, then `serve` on port 0) on a fresh database of the chosen
//! backend, with typed helpers: the admin token, the Management and Authentication APIs,
//! application clients, a cookie-keeping browser, and the mail sinks.

pub mod authenticator;
mod browser;
mod database;
mod mail;
mod oidc;
mod redis;

pub use browser::{hidden, query_param, Answer, Browser};
pub use database::{create_postgres_database, drop_postgres_database, unique, with_database, Backend, TestDb};
pub use mail::{decode_qp, link, SmtpSink};
pub use oidc::{authorize_path, jwt_claims, s256, CALLBACK, CHALLENGE, VERIFIER};
pub use redis::RedisProcess;

use gatehouse_core::clock::{Clock, SystemClock};
use gatehouse_hash::{Argon2Config, Hasher, Limits};
use gatehouse_services::state::ServerConfig;
use gatehouse_services::Services;
use gatehouse_store::Store;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::sync::oneshot;

pub const ADMIN_ID: &str = "it-admin";
pub const ADMIN_SECRET: &str = "it-admin-secret-0123456789";
/// The database connection every deployment starts with.
pub const DB: &str = "Username-Password-Authentication";

/// Cheap argon2 parameters: the tests check behaviour, not hash cost.
pub fn test_hasher() -> Hasher {
    Hasher::new(Argon2Config { memory_kib: 256, iterations: 1, parallelism: 1 }, Limits::default())
}

pub struct Server {
    /// `http://127.0.0.1:port`, without a trailing slash.
    pub base: String,
    /// `base` with its trailing slash, as tokens and discovery name it.
    pub issuer: String,
    /// A client that does not follow redirects: tests look at them.
    pub http: reqwest::Client,
    pub store: Store,
    pub state: Services,
    pub admin_token: String,
    /// The server's data directory (its outbox, exports).
    pub data_dir: std::path::PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    /// Declared last: dropped (the database removed) after everything that uses it.
    _db: TestDb,
}

/// A confidential application: its id and secret.
pub struct App {
    pub client_id: String,
    pub secret: String,
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
        let db = TestDb::create(backend).await;
        let store = db.store().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let issuer = format!("http://{addr}/");
        let mut config = ServerConfig::new(&issuer);
        config.data_dir = db.dir.clone();
        configure(&mut config);
        let data_dir = config.data_dir.clone();
        let (state, created) =
            gatehouse_services::prepare(store.clone(), config, test_hasher(), clock, Some((ADMIN_ID, ADMIN_SECRET)))
                .await
                .unwrap();
        assert!(created.is_none(), "given credentials are never echoed back");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(gatehouse_server::serve(listener, state.clone(), async {
            let _ = rx.await;
        }));
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let mut server = Server {
            base: format!("http://{addr}"),
            issuer,
            http,
            store,
            state,
            admin_token: String::new(),
            data_dir,
            shutdown: Some(tx),
            task: Some(task),
            _db: db,
        };
        server.admin_token = server.client_credentials(ADMIN_ID, ADMIN_SECRET, None).await;
        server
    }

    /// An absolute URL for `path` (with or without its leading slash); URLs pass through.
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}/{}", self.base, path.trim_start_matches('/'))
        }
    }

    /// A browser of its own: a cookie jar, no automatic redirects.
    pub fn browser(&self) -> Browser {
        Browser::new(&self.base)
    }

    /// `POST /oauth/token` with `form`: the status and the JSON body.
    pub async fn token(&self, form: &[(&str, &str)]) -> (u16, Value) {
        let r = self.http.post(self.url("oauth/token")).form(form).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }

    /// A Management API token for `client_id`, asserting success.
    pub async fn client_credentials(&self, client_id: &str, secret: &str, scope: Option<&str>) -> String {
        let audience = self.state.config.management_audience();
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
            ("audience", &audience),
        ];
        form.extend(scope.map(|s| ("scope", s)));
        let (status, body) = self.token(&form).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_string()
    }

    /// A token carrying exactly `scopes`, from a fresh client granted them.
    pub async fn token_with(&self, scopes: &[&str]) -> String {
        let (s, client) =
            self.api("POST", "/api/v2/clients", Some(json!({"name": "scoped", "app_type": "non_interactive"}))).await;
        assert_eq!(s, 201, "{client}");
        let id = client["client_id"].as_str().unwrap();
        let grant = json!({"client_id": id, "audience": self.state.config.management_audience(), "scope": scopes});
        let (s, body) = self.api("POST", "/api/v2/client-grants", Some(grant)).await;
        assert_eq!(s, 201, "{body}");
        self.client_credentials(id, client["client_secret"].as_str().unwrap(), None).await
    }

    /// Calls the Management API with the admin token.
    pub async fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call(method, path, body, Some(&self.admin_token)).await
    }

    /// Any JSON call: the status and the body (`Null` if empty, a string if not JSON).
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>, token: Option<&str>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(method, self.url(path));
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
            .request(method, self.url(path))
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

    /// `POST /api/v2/jobs/users-imports`: `file` as the `users` part, plus `fields`.
    pub async fn import_users(&self, file: Vec<u8>, fields: &[(&str, &str)]) -> (u16, Value) {
        let users = reqwest::multipart::Part::bytes(file).file_name("users.json").mime_str("application/json").unwrap();
        let mut form = reqwest::multipart::Form::new().part("users", users);
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        let r = self
            .http
            .post(self.url("api/v2/jobs/users-imports"))
            .bearer_auth(&self.admin_token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Creates a user in the default connection, asserting success.
    pub async fn create_user(&self, body: Value) -> Value {
        let mut body = body;
        body.as_object_mut().unwrap().entry("connection").or_insert(json!(DB));
        let (s, user) = self.api("POST", "/api/v2/users", Some(body)).await;
        assert_eq!(s, 201, "{user}");
        user
    }

    /// The default database connection, as the Management API shows it.
    pub async fn default_connection(&self) -> Value {
        let (status, list) = self.api("GET", &format!("/api/v2/connections?name={DB}"), None).await;
        assert_eq!(status, 200, "{list}");
        list[0].clone()
    }

    /// A public single-page application allowed on the default connection, with the code
    /// flow and refresh tokens; its id.
    pub async fn spa_client(&self) -> String {
        let (status, c) = self
            .api(
                "POST",
                "/api/v2/clients",
                Some(json!({
                    "name": "Single-page app",
                    "app_type": "spa",
                    "token_endpoint_auth_method": "none",
                    "grant_types": ["authorization_code", "refresh_token"],
                    "callbacks": [CALLBACK],
                })),
            )
            .await;
        assert_eq!(status, 201, "{c}");
        let id = c["client_id"].as_str().unwrap().to_string();
        let conn = self.default_connection().await;
        let mut enabled: Vec<Value> = conn["enabled_clients"].as_array().unwrap().clone();
        enabled.push(json!(id));
        let path = format!("/api/v2/connections/{}", conn["id"].as_str().unwrap());
        let (status, body) = self.api("PATCH", &path, Some(json!({"enabled_clients": enabled}))).await;
        assert_eq!(status, 200, "{body}");
        id
    }

    /// A confidential web application allowed the password grants.
    pub async fn password_client(&self) -> App {
        let body = json!({"name": "Web app", "app_type": "regular_web",
            "grant_types": ["password", "http://auth0.com/oauth/grant-type/password-realm"]});
        let (s, c) = self.api("POST", "/api/v2/clients", Some(body)).await;
        assert_eq!(s, 201, "{c}");
        App { client_id: c["client_id"].as_str().unwrap().into(), secret: c["client_secret"].as_str().unwrap().into() }
    }

    /// Stops serving, waits for the server's end (its last audit events stored) and
    /// closes the store.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
        self.store.close().await;
    }
}

/// Asserts Auth0's error body shape and returns its message.
pub fn auth0_error(status: u16, body: &Value, error_code: &str) -> String {
    assert_eq!(body["statusCode"], json!(status), "{body}");
    assert!(body["error"].is_string(), "{body}");
    assert_eq!(body["errorCode"], json!(error_code), "{body}");
    body["message"].as_str().unwrap().to_string()
}
