//! The `http` legacy store: the customer's service checks passwords itself. Every call
//! is a `POST` of a JSON body, authenticated by a bearer token or an HMAC-SHA256
//! signature over the timestamp and the body (the README documents the protocol).

use crate::config::{HttpAuth, HttpConfig};
use crate::profile::Profile;
use crate::{LegacyError, ListedUser, Login, NewLegacyUser, Page};
use gatehouse_core::clock::Clock;
use gatehouse_core::secret::Secret;
use gatehouse_hash::Hasher;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub const TIMESTAMP_HEADER: &str = "x-gatehouse-timestamp";
pub const SIGNATURE_HEADER: &str = "x-gatehouse-signature";

#[derive(Debug)]
pub(crate) struct HttpStore {
    client: reqwest::Client,
    urls: BTreeMap<String, url::Url>,
    secret: Secret,
    auth: HttpAuth,
    clock: Arc<dyn Clock>,
}

/// `sha256=<hex>` of HMAC-SHA256(secret, "<timestamp>.<body>").
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes a key of any length; the error arm cannot happen.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else { return String::new() };
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The HTTP client a legacy store calls with: bounded by `timeout`, never following a
/// redirect (a store answers itself or not at all).
pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, crate::ConfigError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| crate::ConfigError { field: String::new(), reason: format!("cannot build an HTTP client: {e}") })
}

impl HttpStore {
    pub(crate) fn new(c: HttpConfig, timeout: Duration, clock: Arc<dyn Clock>) -> Result<Self, crate::ConfigError> {
        let client = client(timeout)?;
        Ok(Self { client, urls: c.urls, secret: Secret::new(c.secret), auth: c.auth, clock })
    }

    pub(crate) fn has_endpoint(&self, name: &str) -> bool {
        self.urls.contains_key(name)
    }

    async fn post(
        &self,
        endpoint: &'static str,
        option: &'static str,
        body: &Value,
    ) -> Result<(u16, Value), LegacyError> {
        let url = self.urls.get(endpoint).ok_or(LegacyError::Unsupported(endpoint, option))?;
        let bytes = serde_json::to_vec(body).map_err(|e| LegacyError::unavailable(endpoint, e))?;
        let mut req = self.client.post(url.clone()).header("content-type", "application/json");
        req = match self.auth {
            HttpAuth::Bearer => req.bearer_auth(self.secret.expose()),
            HttpAuth::Hmac => {
                let ts = self.clock.now().unix_timestamp();
                req.header(TIMESTAMP_HEADER, ts.to_string())
                    .header(SIGNATURE_HEADER, signature(self.secret.expose(), ts, &bytes))
            }
        };
        let what = format!("{endpoint} endpoint");
        let resp = req.body(bytes).send().await.map_err(|e| LegacyError::unavailable(&what, e))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| LegacyError::unavailable(&what, e))?;
        let value = if text.trim().is_empty() {
            Value::Null
        } else {
            match serde_json::from_str(&text) {
                Ok(v) => v,
                Err(_) if !(200..300).contains(&status) => Value::Null,
                Err(e) => return Err(LegacyError::unavailable(&format!("{what} answered non-JSON"), e)),
            }
        };
        Ok((status, value))
    }

    fn profile(endpoint: &str, v: &Value) -> Result<Profile, LegacyError> {
        let m =
            v.as_object().ok_or_else(|| LegacyError::Unavailable(format!("{endpoint} endpoint: not a JSON object")))?;
        Profile::from_fields(m).map_err(|e| LegacyError::Unavailable(format!("{endpoint} endpoint: {e}")))
    }

    fn unexpected(endpoint: &str, status: u16) -> LegacyError {
        LegacyError::Unavailable(format!("{endpoint} endpoint answered HTTP {status}"))
    }

    pub(crate) async fn login(&self, login: &str, password: &str) -> Result<Login, LegacyError> {
        match self.post("login", "login_url", &json!({"login": login, "password": password})).await? {
            (200, v) => Ok(Login::Verified(Self::profile("login", &v)?)),
            (401 | 403 | 404, _) => Ok(Login::Rejected),
            (s, _) => Err(Self::unexpected("login", s)),
        }
    }

    pub(crate) async fn get_user(&self, login: &str) -> Result<Option<Profile>, LegacyError> {
        match self.post("get_user", "get_user_url", &json!({"login": login})).await? {
            (200, v) => Ok(Some(Self::profile("get_user", &v)?)),
            (404, _) => Ok(None),
            (s, _) => Err(Self::unexpected("get_user", s)),
        }
    }

    pub(crate) async fn create(&self, u: &NewLegacyUser) -> Result<(), LegacyError> {
        let body = json!({"email": u.email, "username": u.username, "password": u.password});
        match self.post("create", "create_url", &body).await? {
            (200..=299, _) => Ok(()),
            (409, _) => Err(LegacyError::UserExists),
            (s, _) => Err(Self::unexpected("create", s)),
        }
    }

    pub(crate) async fn change_password(&self, email: &str, password: &str) -> Result<bool, LegacyError> {
        match self
            .post("change_password", "change_password_url", &json!({"email": email, "password": password}))
            .await?
        {
            (200..=299, _) => Ok(true),
            (404, _) => Ok(false),
            (s, _) => Err(Self::unexpected("change_password", s)),
        }
    }

    pub(crate) async fn verify(&self, email: &str) -> Result<(), LegacyError> {
        match self.post("verify", "verify_url", &json!({"email": email})).await? {
            (200..=299, _) => Ok(()),
            (s, _) => Err(Self::unexpected("verify", s)),
        }
    }

    pub(crate) async fn delete(&self, user_id: &str) -> Result<(), LegacyError> {
        match self.post("delete", "delete_url", &json!({"user_id": user_id})).await? {
            (200..=299 | 404, _) => Ok(()),
            (s, _) => Err(Self::unexpected("delete", s)),
        }
    }

    pub(crate) async fn list(&self, after: Option<&str>, limit: u32, hasher: &Hasher) -> Result<Page, LegacyError> {
        let (status, v) = self.post("list", "list_url", &json!({"after": after, "limit": limit})).await?;
        if status != 200 {
            return Err(Self::unexpected("list", status));
        }
        let items = v
            .get("users")
            .and_then(Value::as_array)
            .ok_or_else(|| LegacyError::Unavailable("list endpoint: no users array".into()))?;
        let mut users = Vec::with_capacity(items.len());
        for item in items {
            let profile = Self::profile("list", item)?;
            let hash = match (item.get("password_hash"), item.get("custom_password_hash")) {
                (_, Some(custom @ Value::Object(_))) => hasher.parse_custom_password_hash(custom).map(Some),
                (Some(Value::String(s)), _) => hasher.parse_password_hash(s).map(Some),
                _ => Ok(None),
            };
            let hash = hash.unwrap_or_else(|e| {
                tracing::warn!(legacy_user_id = %profile.user_id, error = %e, "a legacy password hash is unusable; imported without it");
                None
            });
            users.push(ListedUser { profile, hash });
        }
        let next = v.get("next").and_then(Value::as_str).filter(|n| !n.is_empty()).map(str::to_string);
        Ok(Page { users, next })
    }
}
