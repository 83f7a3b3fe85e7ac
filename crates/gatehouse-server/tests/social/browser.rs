//! A browser (a cookie jar that does not follow redirects), the application's side of
//! the code flow, and the world every test starts from.

use crate::kit::{Backend, Server};
use crate::op::{Op, RP_CLIENT_ID, RP_SECRET};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

pub const CALLBACK: &str = "http://app.test/callback";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const PASSWORD: &str = "Correct-Horse-Battery-9";

pub struct Answer {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

pub struct Browser {
    http: reqwest::Client,
    base: String,
    pub cookies: HashMap<String, String>,
}

impl Browser {
    pub fn new(base: &str) -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { http, base: base.trim_end_matches('/').to_string(), cookies: HashMap::new() }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}/{}", self.base, path.trim_start_matches('/'))
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn finish(&mut self, r: reqwest::Response) -> Answer {
        for v in r.headers().get_all("set-cookie") {
            let s = v.to_str().unwrap();
            let (pair, attrs) = s.split_once(';').unwrap_or((s, ""));
            let (k, val) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), val.to_string());
            }
        }
        let status = r.status().as_u16();
        let location = r.headers().get("location").map(|v| v.to_str().unwrap().to_string());
        Answer { status, location, body: r.text().await.unwrap() }
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        let r = self.http.get(self.url(path)).header("cookie", self.cookie_header()).send().await.unwrap();
        self.finish(r).await
    }

    pub async fn post_form(&mut self, path: &str, form: &[(&str, &str)]) -> Answer {
        let r = self.http.post(self.url(path)).header("cookie", self.cookie_header()).form(form).send().await.unwrap();
        self.finish(r).await
    }
}

pub fn query_param(url: &str, key: &str) -> Option<String> {
    let u = url::Url::parse(url).or_else(|_| url::Url::parse(&format!("http://x{url}"))).ok()?;
    u.query_pairs().find(|(k, _)| k == key).map(|(_, v)| v.to_string())
}

/// The value of a hidden form field.
pub fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_string())
}

pub fn authorize_path(client_id: &str, connection: Option<&str>) -> String {
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()));
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("client_id", client_id)
        .append_pair("redirect_uri", CALLBACK)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid profile email")
        .append_pair("state", "st-123")
        .append_pair("nonce", "app-nonce")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    if let Some(c) = connection {
        q.append_pair("connection", c);
    }
    format!("authorize?{}", q.finish())
}

/// Gatehouse, the upstream provider, an SPA client with the OIDC connection `corp` and
/// the default database connection enabled.
pub struct World {
    pub gh: Server,
    pub op: Op,
    pub client_id: String,
}

impl World {
    pub async fn start(backend: Backend) -> Self {
        let gh = Server::start(backend).await;
        let op = Op::start().await;
        let (s, client) = gh
            .api(
                "POST",
                "/api/v2/clients",
                Some(json!({"name": "Social app", "app_type": "spa", "token_endpoint_auth_method": "none",
                    "grant_types": ["authorization_code"], "callbacks": [CALLBACK]})),
            )
            .await;
        assert_eq!(s, 201, "{client}");
        let client_id = client["client_id"].as_str().unwrap().to_string();
        let (s, c) = gh
            .api(
                "POST",
                "/api/v2/connections",
                Some(json!({"name": "corp", "strategy": "oidc", "enabled_clients": [client_id],
                    "options": {"client_id": RP_CLIENT_ID, "client_secret": RP_SECRET,
                        "discovery_url": op.discovery_url(), "scope": "openid profile email"}})),
            )
            .await;
        assert_eq!(s, 201, "{c}");
        let (_, list) = gh.api("GET", "/api/v2/connections?name=Username-Password-Authentication", None).await;
        let db = &list[0];
        let (s, body) = gh
            .api(
                "PATCH",
                &format!("/api/v2/connections/{}", db["id"].as_str().unwrap()),
                Some(json!({"enabled_clients": [client_id]})),
            )
            .await;
        assert_eq!(s, 200, "{body}");
        Self { gh, op, client_id }
    }

    pub fn browser(&self) -> Browser {
        Browser::new(&self.gh.base)
    }

    /// `/authorize?connection=corp` → the provider (the user consents as `sub` with
    /// `claims`) → the callback: Gatehouse's answer to the callback.
    pub async fn sign_in(&self, b: &mut Browser, sub: &str, claims: Value) -> Answer {
        let a = b.get(&authorize_path(&self.client_id, Some("corp"))).await;
        assert_eq!(a.status, 302, "{}", a.body);
        let upstream = a.location.unwrap();
        assert!(upstream.starts_with(&self.op.base), "{upstream}");
        let callback = self.op.approve(&upstream, sub, claims);
        b.get(&callback).await
    }

    /// The application redeems the code of a successful answer: the ID token's claims.
    pub async fn redeem(&self, a: &Answer) -> Value {
        assert_eq!(a.status, 303, "{}", a.body);
        let loc = a.location.clone().unwrap();
        assert!(loc.starts_with(CALLBACK), "{loc}");
        assert_eq!(query_param(&loc, "state").as_deref(), Some("st-123"));
        let code = query_param(&loc, "code").unwrap();
        let r = self
            .gh
            .http
            .post(format!("{}/oauth/token", self.gh.base))
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", self.client_id.as_str()),
                ("code", code.as_str()),
                ("redirect_uri", CALLBACK),
                ("code_verifier", VERIFIER),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        let payload = body["id_token"].as_str().unwrap().split('.').nth(1).unwrap().to_string();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    }

    pub async fn users(&self) -> Vec<Value> {
        let (s, users) = self.gh.api("GET", "/api/v2/users", None).await;
        assert_eq!(s, 200, "{users}");
        users.as_array().unwrap().clone()
    }

    /// The descriptions of the audit events of `kind`.
    pub async fn events(&self, kind: &str) -> Vec<String> {
        let (s, logs) = self.gh.api("GET", "/api/v2/logs", None).await;
        assert_eq!(s, 200, "{logs}");
        logs.as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == kind)
            .map(|e| e["description"].as_str().unwrap_or("").to_string())
            .collect()
    }
}
