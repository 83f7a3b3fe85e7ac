//! Helpers of the sign-up tests: an application client, connection options, the
//! outbox, and a small cookie-keeping browser for the hosted pages.

use crate::kit::Server;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

pub const CALLBACK: &str = "http://app.test/callback";
pub const DB: &str = "Username-Password-Authentication";

/// A public SPA client allowed on the default connection; returns its id.
pub async fn app_client(s: &Server) -> String {
    let (status, c) = s
        .api(
            "POST",
            "/api/v2/clients",
            Some(json!({
                "name": "Sign-up app",
                "app_type": "spa",
                "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code", "refresh_token"],
                "callbacks": [CALLBACK],
            })),
        )
        .await;
    assert_eq!(status, 201, "{c}");
    let id = c["client_id"].as_str().unwrap().to_string();
    let conn = default_connection(s).await;
    let mut enabled: Vec<Value> = conn["enabled_clients"].as_array().unwrap().clone();
    enabled.push(json!(id));
    let path = format!("/api/v2/connections/{}", conn["id"].as_str().unwrap());
    let (status, body) = s.api("PATCH", &path, Some(json!({"enabled_clients": enabled}))).await;
    assert_eq!(status, 200, "{body}");
    id
}

pub async fn default_connection(s: &Server) -> Value {
    let (status, list) = s.api("GET", &format!("/api/v2/connections?name={DB}"), None).await;
    assert_eq!(status, 200, "{list}");
    list[0].clone()
}

/// Replaces the default connection's options.
pub async fn set_options(s: &Server, options: Value) {
    let conn = default_connection(s).await;
    let path = format!("/api/v2/connections/{}", conn["id"].as_str().unwrap());
    let (status, body) = s.api("PATCH", &path, Some(json!({"options": options}))).await;
    assert_eq!(status, 200, "{body}");
}

/// `POST /dbconnections/signup` with a JSON body.
pub async fn signup(s: &Server, body: Value) -> (u16, Value) {
    s.call("POST", "/dbconnections/signup", Some(body), None).await
}

/// Signs `email` up with `password` to the default connection, asserting success.
pub async fn signed_up(s: &Server, client_id: &str, email: &str, password: &str) -> Value {
    let (status, body) =
        signup(s, json!({"client_id": client_id, "connection": DB, "email": email, "password": password})).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Every message in the outbox, oldest first.
pub fn outbox(s: &Server) -> Vec<String> {
    let dir = s.data_dir.join("outbox");
    let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
    let mut files: Vec<_> = entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .map(|e| (e.metadata().unwrap().modified().unwrap(), e.path()))
        .collect();
    files.sort();
    files.into_iter().map(|(_, p)| std::fs::read_to_string(p).unwrap()).collect()
}

/// The messages to `to`, waiting (up to a generous bound) until there are `n`.
pub async fn emails_to(s: &Server, to: &str, n: usize) -> Vec<String> {
    for _ in 0..200 {
        let found: Vec<String> = outbox(s).into_iter().filter(|m| m.contains(&format!("To: {to}"))).collect();
        if found.len() >= n {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no {n} email(s) to {to} in the outbox: {:?}", outbox(s));
}

/// An email's text with quoted-printable undone (soft line breaks joined, `=XX`
/// decoded), as a mail reader shows it.
pub fn decode_qp(email: &str) -> String {
    let joined = email.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The first link under `path` in an email.
pub fn link(email: &str, path: &str) -> String {
    let email = &decode_qp(email);
    let start = email.find("http://127.0.0.1:").unwrap_or_else(|| panic!("no link in {email}"));
    let url: String = email[start..].chars().take_while(|c| !c.is_whitespace()).collect();
    assert!(url.contains(path), "{url} is not a {path} link");
    url
}

pub fn query_param(url: &str, key: &str) -> Option<String> {
    url::Url::parse(url).ok()?.query_pairs().find(|(k, _)| k == key).map(|(_, v)| v.to_string())
}

/// A browser: cookies, no automatic redirects.
pub struct Browser {
    http: reqwest::Client,
    cookies: HashMap<String, String>,
}

pub struct Answer {
    pub status: u16,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Browser {
    pub fn new() -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { http, cookies: HashMap::new() }
    }

    async fn finish(&mut self, r: reqwest::Response) -> Answer {
        for v in r.headers().get_all("set-cookie") {
            let s = v.to_str().unwrap();
            let pair = s.split(';').next().unwrap();
            let (k, val) = pair.split_once('=').unwrap();
            if s.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), val.to_string());
            }
        }
        let status = r.status().as_u16();
        let location = r.headers().get("location").map(|v| v.to_str().unwrap().to_string());
        let headers = r.headers().clone();
        Answer { status, location, headers, body: r.text().await.unwrap() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn url(s: &Server, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}/{}", s.base, path.trim_start_matches('/'))
        }
    }

    pub async fn get(&mut self, s: &Server, path: &str) -> Answer {
        let r = self.http.get(Self::url(s, path)).header("cookie", self.cookie_header()).send().await.unwrap();
        self.finish(r).await
    }

    pub async fn post(&mut self, s: &Server, path: &str, form: &[(&str, &str)]) -> Answer {
        let r =
            self.http.post(Self::url(s, path)).header("cookie", self.cookie_header()).form(form).send().await.unwrap();
        self.finish(r).await
    }
}

/// The value of a hidden form field.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html.find(&marker).unwrap_or_else(|| panic!("no field {name} in {html}")) + marker.len();
    let end = html[start..].find('"').unwrap();
    html[start..start + end].to_string()
}

pub fn authorize_path(client_id: &str, extra: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("client_id", client_id)
        .append_pair("redirect_uri", CALLBACK)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid profile email")
        .append_pair("state", "st-1")
        .append_pair("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
        .append_pair("code_challenge_method", "S256");
    for (k, v) in extra {
        q.append_pair(k, v);
    }
    format!("/authorize?{}", q.finish())
}

/// Checks `password` against the user's stored hash.
pub async fn password_is(s: &Server, user_id: &str, password: &str) -> bool {
    let user = s.store.user(user_id).await.unwrap().unwrap();
    let hasher = crate::kit::test_hasher();
    let parsed = hasher.parse_stored(user.password_hash.as_deref().unwrap()).unwrap();
    hasher.verify(&parsed, password)
}

/// The audit log's event types, oldest first.
pub async fn log_types(s: &Server) -> Vec<String> {
    let (status, logs) = s.api("GET", "/api/v2/logs?per_page=100&sort=date:1", None).await;
    assert_eq!(status, 200, "{logs}");
    logs.as_array().unwrap().iter().map(|l| l["type"].as_str().unwrap().to_string()).collect()
}
