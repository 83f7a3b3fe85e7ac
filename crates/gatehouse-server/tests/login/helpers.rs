use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use gatehouse_core::client::Client;
use gatehouse_core::clock::{iso8601, Clock, ManualClock, SystemClock};
use gatehouse_core::connection::DEFAULT_DATABASE_CONNECTION;
use gatehouse_core::user::User;
use gatehouse_hash::{Argon2Config, Hasher, Limits};
use gatehouse_server::bootstrap::ensure_default_connection;
use gatehouse_server::hashing::hash_client_secret;
use gatehouse_server::state::ServerConfig;
use gatehouse_server::{build_state, serve, State};
use gatehouse_store::Store;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;

pub const CALLBACK: &str = "http://app.test/callback";
pub const LOGOUT_URL: &str = "http://app.test/logged-out";
pub const SPA: &str = "spa-client-000000000000000000001";
pub const WEB: &str = "web-client-000000000000000000001";
pub const WEB_SECRET: &str = "web-secret-web-secret-web-secret-web-secret";
pub const PASSWORD: &str = "correct horse battery staple";
pub const LEGACY_PASSWORD: &str = "staple🙂ok1739";
pub const LEGACY_HASH: &str = "$2b$04$OcIuM6Q44qqWo0nu/4hl.upUbNfgfPFaE1o1dqPIqul.Z.zEaksZG";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub struct TestServer {
    pub base: String,
    pub state: State,
    pub clock: ManualClock,
    pub http: reqwest::Client,
    _shutdown: tokio::sync::oneshot::Sender<()>,
    /// The store's database and the server's data directory (its outbox).
    dir: std::path::PathBuf,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // A write still on its way finds no directory to recreate the database in.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn client(id: &str, public: bool, grants: &[&str], now: &str) -> Client {
    Client {
        client_id: id.into(),
        name: format!("Test app {id}"),
        description: None,
        app_type: Some(if public { "spa" } else { "regular_web" }.into()),
        is_first_party: true,
        grant_types: grants.iter().map(|g| g.to_string()).collect(),
        callbacks: vec![CALLBACK.into()],
        allowed_logout_urls: vec![LOGOUT_URL.into()],
        web_origins: Vec::new(),
        allowed_origins: Vec::new(),
        token_endpoint_auth_method: if public { "none" } else { "client_secret_post" }.into(),
        client_secret_hash: (!public).then(|| hash_client_secret(WEB_SECRET)),
        client_metadata: Map::new(),
        oidc_logout: None,
        created_at: now.into(),
        updated_at: now.into(),
    }
}

pub fn user(local: &str, email: &str, hash: Option<String>, connection_id: &str, now: &str) -> User {
    User {
        user_id: format!("auth0|{local}"),
        connection_id: connection_id.into(),
        connection: DEFAULT_DATABASE_CONNECTION.into(),
        provider: "auth0".into(),
        email: Some(email.into()),
        email_verified: true,
        username: None,
        phone_number: None,
        phone_verified: false,
        name: Some(format!("Name of {local}")),
        nickname: Some(local.into()),
        given_name: None,
        family_name: None,
        picture: Some("https://img.test/p.png".into()),
        password_hash: hash,
        user_metadata: Map::new(),
        app_metadata: Map::new(),
        blocked: false,
        logins_count: 0,
        last_login: None,
        last_ip: None,
        last_password_reset: None,
        created_at: now.into(),
        updated_at: now.into(),
    }
}

/// A server with a public SPA client, a confidential web client, and users `alice`
/// (argon2id), `bob` (blocked) and `legacy` (bcrypt).
pub async fn start() -> TestServer {
    start_with(|_| {}).await
}

/// Like [`start`], with the configuration adjusted by `configure`.
pub async fn start_with(configure: impl FnOnce(&mut ServerConfig)) -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    let clock = ManualClock::at_unix(SystemClock.now().unix_timestamp());
    // A file, as in production: reads on held connections, hot writes on the writer thread.
    let port = base.trim_end_matches('/').rsplit(':').next().unwrap().to_string();
    let dir = std::env::temp_dir().join(format!("gh_login_{}_{port}", std::process::id()));
    let store = Store::connect(&format!("sqlite://{}", dir.join("gatehouse.db").display())).await.unwrap();
    let now = iso8601(clock.now());
    ensure_default_connection(&store, &now).await.unwrap();
    let hasher = Hasher::new(Argon2Config { memory_kib: 1024, iterations: 1, parallelism: 1 }, Limits::default());
    let mut config = ServerConfig::new(&base);
    // Emails (brute-force notices) go to an outbox that must not land in the source tree.
    config.data_dir = dir.clone();
    configure(&mut config);
    let state = build_state(store.clone(), config, hasher.clone(), Arc::new(clock.clone())).await.unwrap();
    let all = ["authorization_code", "refresh_token", "password", "http://auth0.com/oauth/grant-type/password-realm"];
    store.insert_client(&client(SPA, true, &all[..2], &now)).await.unwrap();
    store.insert_client(&client(WEB, false, &all, &now)).await.unwrap();
    let mut conn = store.connection_by_name(DEFAULT_DATABASE_CONNECTION).await.unwrap().unwrap();
    conn.enabled_clients = vec![SPA.into(), WEB.into()];
    store.update_connection(&conn).await.unwrap();
    let argon = hasher.hash(PASSWORD).unwrap().to_stored();
    store.insert_user(&user("alice", "alice@example.com", Some(argon.clone()), &conn.id, &now)).await.unwrap();
    let mut bob = user("bob", "bob@example.com", Some(argon), &conn.id, &now);
    bob.blocked = true;
    store.insert_user(&bob).await.unwrap();
    store.insert_user(&user("legacy", "legacy@example.com", Some(LEGACY_HASH.into()), &conn.id, &now)).await.unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let serve_state = state.clone();
    tokio::spawn(async move {
        serve(listener, serve_state, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    TestServer { base, state, clock, http, _shutdown: tx, dir }
}

/// A browser: a cookie jar over the test server's HTTP client.
#[derive(Default, Clone)]
pub struct Browser {
    pub cookies: HashMap<String, String>,
}

pub struct Answer {
    pub status: u16,
    pub location: Option<String>,
    pub set_cookies: Vec<String>,
    pub body: String,
}

impl Browser {
    fn absorb(&mut self, r: &reqwest::Response) -> Vec<String> {
        let mut raw = Vec::new();
        for v in r.headers().get_all("set-cookie") {
            let s = v.to_str().unwrap().to_string();
            let (pair, attrs) = s.split_once(';').unwrap_or((&s, ""));
            let (k, val) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), val.to_string());
            }
            raw.push(s);
        }
        raw
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn finish(&mut self, r: reqwest::Response) -> Answer {
        let set_cookies = self.absorb(&r);
        let status = r.status().as_u16();
        let location = r.headers().get("location").map(|v| v.to_str().unwrap().to_string());
        let body = r.text().await.unwrap();
        Answer { status, location, set_cookies, body }
    }

    pub async fn get(&mut self, srv: &TestServer, path: &str) -> Answer {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{}", srv.base, path.trim_start_matches('/'))
        };
        let r = srv.http.get(url).header("cookie", self.cookie_header()).send().await.unwrap();
        self.finish(r).await
    }

    pub async fn post_form(&mut self, srv: &TestServer, path: &str, form: &[(&str, &str)]) -> Answer {
        let url = format!("{}{}", srv.base, path.trim_start_matches('/'));
        let r = srv.http.post(url).header("cookie", self.cookie_header()).form(form).send().await.unwrap();
        self.finish(r).await
    }
}

pub fn authorize_path(client_id: &str, extra: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("client_id", client_id)
        .append_pair("redirect_uri", CALLBACK)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid profile email offline_access")
        .append_pair("state", "st-123")
        .append_pair("nonce", "n-456")
        .append_pair("code_challenge", CHALLENGE)
        .append_pair("code_challenge_method", "S256");
    for (k, v) in extra {
        q.append_pair(k, v);
    }
    format!("authorize?{}", q.finish())
}

pub fn query_param(url: &str, key: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    u.query_pairs().find(|(k, _)| k == key).map(|(_, v)| v.to_string())
}

/// The value of a hidden form field.
pub fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_string())
}

/// `/authorize` → login page → posted credentials: the answer of the POST.
pub async fn login(srv: &TestServer, b: &mut Browser, path: &str, username: &str, password: &str) -> Answer {
    let a = b.get(srv, path).await;
    assert_eq!(a.status, 302, "authorize: {}", a.body);
    let loc = a.location.unwrap();
    assert!(loc.starts_with("/u/login?state="), "{loc}");
    let page = b.get(srv, &loc).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let tx = hidden(&page.body, "state").unwrap();
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    b.post_form(
        srv,
        &format!("u/login?state={tx}"),
        &[("state", &tx), ("csrf_token", &csrf), ("username", username), ("password", password)],
    )
    .await
}

/// The code delivered to the callback by a successful login.
pub async fn login_code(srv: &TestServer, b: &mut Browser, client_id: &str) -> String {
    let a = login(srv, b, &authorize_path(client_id, &[]), "alice@example.com", PASSWORD).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let loc = a.location.unwrap();
    assert!(loc.starts_with(CALLBACK), "{loc}");
    assert_eq!(query_param(&loc, "state").as_deref(), Some("st-123"));
    query_param(&loc, "code").unwrap()
}

pub async fn token(srv: &TestServer, form: &[(&str, &str)]) -> (u16, Value) {
    let r = srv.http.post(format!("{}oauth/token", srv.base)).form(form).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

/// The password grant for the confidential web client, plus `extra` (scope, audience…).
pub async fn password_grant(srv: &TestServer, username: &str, password: &str, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "password"),
        ("client_id", WEB),
        ("client_secret", WEB_SECRET),
        ("username", username),
        ("password", password),
    ];
    form.extend_from_slice(extra);
    token(srv, &form).await
}

/// `GET /userinfo` with `access_token`: the status and the JSON body (`Null` if none).
pub async fn userinfo(srv: &TestServer, access_token: &str) -> (u16, Value) {
    let r = srv.http.get(format!("{}userinfo", srv.base)).bearer_auth(access_token).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

pub async fn redeem(srv: &TestServer, code: &str) -> (u16, Value) {
    token(
        srv,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", SPA),
            ("code", code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

/// A Management API token holding `scopes`, from a machine client made for it.
pub async fn management_token(srv: &TestServer, scopes: &[&str]) -> String {
    let now = iso8601(srv.clock.now());
    let id = format!("mgmt-{}", scopes.join("-").replace(':', "_"));
    let mut machine = client(&id, false, &["client_credentials"], &now);
    machine.app_type = Some("non_interactive".into());
    srv.state.store.insert_client(&machine).await.unwrap();
    let grant = gatehouse_core::client::ClientGrant {
        id: format!("cgr_{id}"),
        client_id: id.clone(),
        audience: srv.state.config.management_audience(),
        scope: scopes.iter().map(|s| s.to_string()).collect(),
    };
    srv.state.store.upsert_client_grant(&grant, &now).await.unwrap();
    let (status, body) = token(
        srv,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", WEB_SECRET),
            ("audience", &srv.state.config.management_audience()),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

/// A Management API call with `token`: the status and the JSON body (`Null` if none).
pub async fn management(srv: &TestServer, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut r = srv.http.request(method, format!("{}api/v2/{path}", srv.base)).bearer_auth(token);
    if let Some(body) = body {
        r = r.json(&body);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

pub async fn refresh(srv: &TestServer, rt: &str) -> (u16, Value) {
    token(srv, &[("grant_type", "refresh_token"), ("client_id", SPA), ("refresh_token", rt)]).await
}

pub fn jwt_claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

pub fn s256(v: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes()))
}

/// Applications' back-channel logout endpoints (`/bcl/{app}`): every logout token posted.
pub struct LogoutReceiver {
    pub base: String,
    received: Arc<std::sync::Mutex<Vec<(String, String)>>>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl LogoutReceiver {
    pub async fn start() -> Self {
        use axum::extract::{Form, Path};
        let received = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = received.clone();
        let app = axum::Router::new().route(
            "/bcl/{app}",
            axum::routing::post(move |Path(app): Path<String>, Form(form): Form<HashMap<String, String>>| {
                let sink = sink.clone();
                async move {
                    sink.lock().unwrap().push((app, form.get("logout_token").cloned().unwrap_or_default()));
                    axum::http::StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        Self { base, received, _shutdown: tx }
    }

    pub fn url(&self, app: &str) -> String {
        format!("{}/bcl/{app}", self.base)
    }

    /// The tokens `app` has received so far, once it has `count` (delivery runs in the
    /// background; a test that waits too long fails rather than hangs).
    pub async fn tokens(&self, app: &str, count: usize) -> Vec<String> {
        for _ in 0..200 {
            let got: Vec<String> =
                self.received.lock().unwrap().iter().filter(|(a, _)| a == app).map(|(_, t)| t.clone()).collect();
            if got.len() >= count {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("{app} got fewer than {count} logout tokens");
    }
}

/// A logout token's claims, its signature checked against the server's JWKS.
pub async fn verified_logout_token(srv: &TestServer, token: &str, audience: &str) -> Value {
    use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
    let header = decode_header(token).unwrap();
    let jwks: Value =
        srv.http.get(format!("{}.well-known/jwks.json", srv.base)).send().await.unwrap().json().await.unwrap();
    let key = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"].as_str() == header.kid.as_deref()).unwrap();
    let key = DecodingKey::from_rsa_components(key["n"].as_str().unwrap(), key["e"].as_str().unwrap()).unwrap();
    let mut v = Validation::new(Algorithm::RS256);
    v.set_audience(&[audience]);
    v.set_issuer(&[&srv.base]);
    decode::<Value>(token, &key, &v).unwrap().claims
}
