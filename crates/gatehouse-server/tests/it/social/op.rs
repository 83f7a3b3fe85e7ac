//! The upstream: a small OpenID provider (discovery, JWKS, token and userinfo
//! endpoints; RS256 keys it can rotate) whose ID tokens a test can spoil on purpose,
//! and a GitHub-shaped OAuth 2.0 API (`/login/oauth/access_token`, `/user`,
//! `/user/emails`). "The user consents" is [`Op::approve`]: it issues a code for the
//! authorization request Gatehouse redirected to.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use gatehouse_core::clock::{Clock, SystemClock};
use gatehouse_services::keys::generate_rs256;
use gatehouse_store::SigningKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const RP_CLIENT_ID: &str = "gatehouse-rp";
pub const RP_SECRET: &str = "rp-secret-rp-secret-rp-secret";

/// How the next ID tokens are spoiled.
#[derive(Debug, Clone, PartialEq)]
pub enum Tweak {
    None,
    Issuer(&'static str),
    Audience(Value),
    Nonce(&'static str),
    /// `exp` this many seconds in the past.
    ExpiredFor(i64),
    AlgNone,
    BadSignature,
    /// HS256 with the public key as the HMAC secret (the classic confusion attack).
    Hs256WithPublicKey,
    UnknownKid,
}

struct Grant {
    sub: String,
    nonce: String,
    challenge: String,
    redirect_uri: String,
    claims: Value,
}

struct Inner {
    issuer: String,
    keys: Vec<SigningKey>,
    codes: HashMap<String, Grant>,
    tokens: HashMap<String, Value>,
    tweak: Tweak,
    jwks_hits: usize,
    next: u64,
}

#[derive(Clone)]
pub struct Op {
    pub base: String,
    inner: Arc<Mutex<Inner>>,
}

fn now() -> i64 {
    SystemClock.now().unix_timestamp()
}

impl Op {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let key = tokio::task::spawn_blocking(|| generate_rs256(&SystemClock).unwrap()).await.unwrap();
        let inner = Arc::new(Mutex::new(Inner {
            issuer: base.clone(),
            keys: vec![key],
            codes: HashMap::new(),
            tokens: HashMap::new(),
            tweak: Tweak::None,
            jwks_hits: 0,
            next: 0,
        }));
        let op = Op { base, inner };
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/token", post(token))
            .route("/userinfo", get(userinfo))
            .route("/login/oauth/access_token", post(github_token))
            .route("/user", get(github_user))
            .route("/user/emails", get(github_emails))
            .with_state(op.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        op
    }

    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.base)
    }

    pub fn set_tweak(&self, t: Tweak) {
        self.inner.lock().unwrap().tweak = t;
    }

    pub fn jwks_hits(&self) -> usize {
        self.inner.lock().unwrap().jwks_hits
    }

    /// A new signing key; the old one leaves the JWKS.
    pub async fn rotate(&self) {
        let key = tokio::task::spawn_blocking(|| generate_rs256(&SystemClock).unwrap()).await.unwrap();
        self.inner.lock().unwrap().keys = vec![key];
    }

    /// The user consents to the authorization request at `authorize_url`: returns the
    /// callback URL with a fresh code (and the request's state).
    pub fn approve(&self, authorize_url: &str, sub: &str, claims: Value) -> String {
        let u = url::Url::parse(authorize_url).unwrap();
        let q: HashMap<String, String> = u.query_pairs().into_owned().collect();
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], RP_CLIENT_ID);
        assert_eq!(q["code_challenge_method"], "S256");
        let mut inner = self.inner.lock().unwrap();
        inner.next += 1;
        let code = format!("code-{}", inner.next);
        inner.codes.insert(
            code.clone(),
            Grant {
                sub: sub.to_string(),
                nonce: q.get("nonce").cloned().unwrap_or_default(),
                challenge: q["code_challenge"].clone(),
                redirect_uri: q["redirect_uri"].clone(),
                claims,
            },
        );
        let mut cb = url::Url::parse(&q["redirect_uri"]).unwrap();
        cb.query_pairs_mut().append_pair("code", &code).append_pair("state", &q["state"]);
        cb.to_string()
    }

    fn id_token(&self, g: &Grant) -> String {
        let inner = self.inner.lock().unwrap();
        let key = &inner.keys[0];
        let t = now();
        let mut claims = json!({"iss": inner.issuer, "aud": RP_CLIENT_ID, "sub": g.sub, "nonce": g.nonce,
            "iat": t, "exp": t + 300});
        for (k, v) in g.claims.as_object().unwrap() {
            claims[k] = v.clone();
        }
        let mut kid = key.kid.clone();
        match &inner.tweak {
            Tweak::Issuer(i) => claims["iss"] = json!(i),
            Tweak::Audience(a) => claims["aud"] = a.clone(),
            Tweak::Nonce(n) => claims["nonce"] = json!(n),
            Tweak::ExpiredFor(s) => {
                claims["exp"] = json!(t - s);
                claims["iat"] = json!(t - s - 300);
            }
            Tweak::UnknownKid => kid = "rotated-away".into(),
            _ => {}
        }
        let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        match &inner.tweak {
            Tweak::AlgNone => format!("{}.{}.", b64(&json!({"alg": "none", "kid": kid})), b64(&claims)),
            Tweak::Hs256WithPublicKey => {
                let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
                h.kid = Some(kid);
                let secret = key.public_jwk.to_string();
                jsonwebtoken::encode(&h, &claims, &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes())).unwrap()
            }
            tweak => {
                let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
                h.kid = Some(kid);
                let enc = jsonwebtoken::EncodingKey::from_rsa_pem(key.private_pem.as_bytes()).unwrap();
                let jwt = jsonwebtoken::encode(&h, &claims, &enc).unwrap();
                if *tweak == Tweak::BadSignature {
                    // Another valid signature — over different claims.
                    let other = jsonwebtoken::encode(&h, &json!({"sub": "someone-else"}), &enc).unwrap();
                    let (signed, _) = jwt.rsplit_once('.').unwrap();
                    format!("{signed}.{}", other.rsplit('.').next().unwrap())
                } else {
                    jwt
                }
            }
        }
    }
}

async fn discovery(State(op): State<Op>) -> Json<Value> {
    let b = &op.base;
    Json(json!({
        "issuer": b,
        "authorization_endpoint": format!("{b}/authorize"),
        "token_endpoint": format!("{b}/token"),
        "jwks_uri": format!("{b}/jwks"),
        "userinfo_endpoint": format!("{b}/userinfo"),
        "response_types_supported": ["code"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
    }))
}

async fn jwks(State(op): State<Op>) -> Json<Value> {
    let mut inner = op.inner.lock().unwrap();
    inner.jwks_hits += 1;
    Json(json!({"keys": inner.keys.iter().map(|k| k.public_jwk.clone()).collect::<Vec<_>>()}))
}

fn oauth_error(error: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": error}))).into_response()
}

async fn token(State(op): State<Op>, Form(f): Form<HashMap<String, String>>) -> Response {
    if f.get("client_id").map(String::as_str) != Some(RP_CLIENT_ID)
        || f.get("client_secret").map(String::as_str) != Some(RP_SECRET)
    {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_client"}))).into_response();
    }
    let grant = op.inner.lock().unwrap().codes.remove(f.get("code").map(String::as_str).unwrap_or(""));
    let Some(grant) = grant else { return oauth_error("invalid_grant") };
    let verifier = f.get("code_verifier").cloned().unwrap_or_default();
    if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != grant.challenge
        || f.get("redirect_uri") != Some(&grant.redirect_uri)
    {
        return oauth_error("invalid_grant");
    }
    let id_token = op.id_token(&grant);
    let access_token = format!("at-{}", grant.sub);
    let mut info = grant.claims.clone();
    info["sub"] = json!(grant.sub);
    op.inner.lock().unwrap().tokens.insert(access_token.clone(), info);
    Json(json!({"access_token": access_token, "token_type": "Bearer", "id_token": id_token, "expires_in": 300}))
        .into_response()
}

fn bearer(h: &HeaderMap) -> String {
    h.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("").into()
}

async fn userinfo(State(op): State<Op>, h: HeaderMap) -> Response {
    match op.inner.lock().unwrap().tokens.get(&bearer(&h)) {
        Some(info) => {
            let mut info = info.clone();
            info["locale"] = json!("en");
            Json(info).into_response()
        }
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

async fn github_token(State(op): State<Op>, Form(f): Form<HashMap<String, String>>) -> Response {
    if f.get("client_secret").map(String::as_str) != Some(RP_SECRET) {
        // GitHub answers errors with 200.
        return Json(json!({"error": "incorrect_client_credentials"})).into_response();
    }
    let grant = op.inner.lock().unwrap().codes.remove(f.get("code").map(String::as_str).unwrap_or(""));
    match grant {
        Some(g) => {
            let token = format!("gho_{}", g.sub);
            op.inner.lock().unwrap().tokens.insert(token.clone(), g.claims);
            Json(json!({"access_token": token, "token_type": "bearer", "scope": "read:user,user:email"}))
                .into_response()
        }
        None => Json(json!({"error": "bad_verification_code"})).into_response(),
    }
}

async fn github_user(State(op): State<Op>, h: HeaderMap) -> Response {
    let token = bearer(&h);
    match (token.strip_prefix("gho_"), op.inner.lock().unwrap().tokens.get(&token)) {
        (Some(id), Some(_)) => {
            Json(json!({"id": id.parse::<u64>().unwrap(), "login": "octocat", "name": "The Octocat",
            "email": "public@example.com", "avatar_url": format!("https://avatars.example/u/{id}")}))
            .into_response()
        }
        _ => StatusCode::UNAUTHORIZED.into_response(),
    }
}

async fn github_emails(State(op): State<Op>, h: HeaderMap) -> Response {
    match op.inner.lock().unwrap().tokens.get(&bearer(&h)) {
        Some(claims) => Json(claims.get("emails").cloned().unwrap_or(json!([]))).into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}
