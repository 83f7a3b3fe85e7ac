//! The sign-in world: a server on a clock the test moves, a public SPA client and a
//! confidential web client with fixed ids, and users `alice` (argon2id), `bob`
//! (blocked) and `legacy` (bcrypt); the code flow and token helpers on top of the kit.

use crate::kit::{authorize_path as kit_authorize_path, test_hasher, Backend, Server};
pub use crate::kit::{hidden, jwt_claims, query_param, s256, Answer, Browser, CALLBACK, CHALLENGE, VERIFIER};
use gatehouse_core::client::Client;
use gatehouse_core::clock::{iso8601, Clock, ManualClock, SystemClock};
use gatehouse_core::connection::DEFAULT_DATABASE_CONNECTION;
use gatehouse_core::user::User;
use gatehouse_services::hashing::hash_client_secret;
use gatehouse_services::state::ServerConfig;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub const LOGOUT_URL: &str = "http://app.test/logged-out";
pub const SPA: &str = "spa-client-000000000000000000001";
pub const WEB: &str = "web-client-000000000000000000001";
pub const WEB_SECRET: &str = "web-secret-web-secret-web-secret-web-secret";
pub const PASSWORD: &str = "correct horse battery staple";
pub const LEGACY_PASSWORD: &str = "staple🙂ok1739";
pub const LEGACY_HASH: &str = "$2b$04$OcIuM6Q44qqWo0nu/4hl.upUbNfgfPFaE1o1dqPIqul.Z.zEaksZG";

/// The kit's server, and the clock it runs on.
pub struct LoginServer {
    server: Server,
    pub clock: ManualClock,
}

impl std::ops::Deref for LoginServer {
    type Target = Server;

    fn deref(&self) -> &Server {
        &self.server
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
        cross_origin_authentication: false,
        cross_origin_loc: None,
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
pub async fn start(backend: Backend) -> LoginServer {
    start_with(backend, |_| {}).await
}

/// Like [`start`], with the configuration adjusted by `configure`.
pub async fn start_with(backend: Backend, configure: impl FnOnce(&mut ServerConfig)) -> LoginServer {
    let clock = ManualClock::at_unix(SystemClock.now().unix_timestamp());
    let server = Server::start_with_clock(backend, Arc::new(clock.clone()), configure).await;
    let store = &server.store;
    let now = iso8601(clock.now());
    let all = ["authorization_code", "refresh_token", "password", "http://auth0.com/oauth/grant-type/password-realm"];
    store.insert_client(&client(SPA, true, &all[..2], &now)).await.unwrap();
    store.insert_client(&client(WEB, false, &all, &now)).await.unwrap();
    let mut conn = store.connection_by_name(DEFAULT_DATABASE_CONNECTION).await.unwrap().unwrap();
    conn.enabled_clients = vec![SPA.into(), WEB.into()];
    store.update_connection(&conn).await.unwrap();
    let argon = test_hasher().hash(PASSWORD).unwrap().to_stored();
    store.insert_user(&user("alice", "alice@example.com", Some(argon.clone()), &conn.id, &now)).await.unwrap();
    let mut bob = user("bob", "bob@example.com", Some(argon), &conn.id, &now);
    bob.blocked = true;
    store.insert_user(&bob).await.unwrap();
    store.insert_user(&user("legacy", "legacy@example.com", Some(LEGACY_HASH.into()), &conn.id, &now)).await.unwrap();
    LoginServer { server, clock }
}

/// `authorize?…` of the sign-in tests: every scope, a state and a nonce, then `extra`.
pub fn authorize_path(client_id: &str, extra: &[(&str, &str)]) -> String {
    let fixed = [("scope", "openid profile email offline_access"), ("state", "st-123"), ("nonce", "n-456")];
    kit_authorize_path(client_id, &[&fixed[..], extra].concat())
}

/// `/authorize` → login page → posted credentials: the answer of the POST.
pub async fn login(b: &mut Browser, path: &str, username: &str, password: &str) -> Answer {
    let a = b.get(path).await;
    assert_eq!(a.status, 302, "authorize: {}", a.body);
    let loc = a.location.unwrap();
    assert!(loc.starts_with("/u/login?state="), "{loc}");
    let page = b.get(&loc).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let tx = hidden(&page.body, "state");
    let csrf = hidden(&page.body, "csrf_token");
    b.post_form(
        &format!("u/login?state={tx}"),
        &[("state", &tx), ("csrf_token", &csrf), ("username", username), ("password", password)],
    )
    .await
}

/// The code delivered to the callback by a successful login.
pub async fn login_code(b: &mut Browser, client_id: &str) -> String {
    let a = login(b, &authorize_path(client_id, &[]), "alice@example.com", PASSWORD).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let loc = a.location.unwrap();
    assert!(loc.starts_with(CALLBACK), "{loc}");
    assert_eq!(query_param(&loc, "state").as_deref(), Some("st-123"));
    query_param(&loc, "code").unwrap()
}

/// The password grant for the confidential web client, plus `extra` (scope, audience…).
pub async fn password_grant(srv: &Server, username: &str, password: &str, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "password"),
        ("client_id", WEB),
        ("client_secret", WEB_SECRET),
        ("username", username),
        ("password", password),
    ];
    form.extend_from_slice(extra);
    srv.token(&form).await
}

/// `GET /userinfo` with `access_token`: the status and the JSON body (`Null` if none).
pub async fn userinfo(srv: &Server, access_token: &str) -> (u16, Value) {
    let r = srv.http.get(srv.url("userinfo")).bearer_auth(access_token).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

pub async fn redeem(srv: &Server, code: &str) -> (u16, Value) {
    srv.token(&[
        ("grant_type", "authorization_code"),
        ("client_id", SPA),
        ("code", code),
        ("redirect_uri", CALLBACK),
        ("code_verifier", VERIFIER),
    ])
    .await
}

/// The ID token's claims for the code a finished login delivered (its 303 to the
/// callback), redeemed as the SPA.
pub async fn id_token_claims(srv: &Server, a: &Answer) -> Value {
    assert_eq!(a.status, 303, "{}", a.body);
    let loc = a.location.clone().unwrap();
    assert!(loc.starts_with(CALLBACK), "{loc}");
    let (status, tokens) = redeem(srv, &query_param(&loc, "code").unwrap()).await;
    assert_eq!(status, 200, "{tokens}");
    jwt_claims(tokens["id_token"].as_str().unwrap())
}

pub async fn refresh(srv: &Server, rt: &str) -> (u16, Value) {
    srv.token(&[("grant_type", "refresh_token"), ("client_id", SPA), ("refresh_token", rt)]).await
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
pub async fn verified_logout_token(srv: &Server, token: &str, audience: &str) -> Value {
    use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
    let header = decode_header(token).unwrap();
    let jwks: Value = srv.http.get(srv.url(".well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    let key = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"].as_str() == header.kid.as_deref()).unwrap();
    let key = DecodingKey::from_rsa_components(key["n"].as_str().unwrap(), key["e"].as_str().unwrap()).unwrap();
    let mut v = Validation::new(Algorithm::RS256);
    v.set_audience(&[audience]);
    v.set_issuer(&[&srv.issuer]);
    decode::<Value>(token, &key, &v).unwrap().claims
}
