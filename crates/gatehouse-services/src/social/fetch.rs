//! HTTP to upstream providers: discovery documents and JWKS (cached; a JWKS is fetched
//! again when a token names a key it lacks, at most once per `MISS_REFETCH_INTERVAL`),
//! the authorization-code exchange, and user APIs. Every request has a timeout and every
//! answer a size limit; redirects are not followed.

use super::SocialError;
use gatehouse_core::social::{Protocol, Upstream};
use jsonwebtoken::jwk::Jwk;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

const TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Discovery documents and key sets are kept this long.
const CACHE_TTL: Duration = Duration::from_secs(3600);
/// A key set is fetched again for an unknown `kid` at most this often.
pub const MISS_REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// Largest answer read from a provider.
const MAX_ANSWER: usize = 512 * 1024;
/// Cached documents per cache, so configuration churn cannot grow memory without bound.
const MAX_CACHED: usize = 256;

/// An upstream's endpoints, after discovery.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoints {
    pub issuer: Option<String>,
    pub authorization: String,
    pub token: String,
    pub jwks_uri: Option<String>,
    pub userinfo: Option<String>,
    /// The token endpoint wants `client_secret_basic` (it does not list `client_secret_post`).
    pub basic_auth: bool,
}

struct JwksEntry {
    keys: Arc<Vec<Jwk>>,
    fetched: Instant,
    last_miss_refetch: Option<Instant>,
}

/// The provider client and its caches; one per server, shared by every request.
pub struct Upstreams {
    http: reqwest::Client,
    discovery: Mutex<HashMap<String, (Value, Instant)>>,
    jwks: Mutex<HashMap<String, JwksEntry>>,
}

impl std::fmt::Debug for Upstreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstreams").finish_non_exhaustive()
    }
}

impl Default for Upstreams {
    fn default() -> Self {
        Self::new()
    }
}

/// What the token endpoint gave back.
#[derive(Debug)]
pub struct Tokens {
    pub access_token: Option<String>,
    pub id_token: Option<String>,
}

fn unreachable_err(what: &str, e: impl std::fmt::Display) -> SocialError {
    SocialError::Unreachable(format!("{what}: {e}"))
}

impl Upstreams {
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Gatehouse/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Self { http, discovery: Mutex::new(HashMap::new()), jwks: Mutex::new(HashMap::new()) }
    }

    /// Reads a JSON answer, refusing error statuses and anything over `MAX_ANSWER`.
    async fn read_json(&self, what: &str, r: reqwest::Response) -> Result<Value, SocialError> {
        let status = r.status();
        let mut r = r;
        if r.content_length().is_some_and(|n| n > MAX_ANSWER as u64) {
            return Err(unreachable_err(what, "answer too large"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = r.chunk().await.map_err(|e| unreachable_err(what, e))? {
            if body.len() + chunk.len() > MAX_ANSWER {
                return Err(unreachable_err(what, "answer too large"));
            }
            body.extend_from_slice(&chunk);
        }
        let value: Value = serde_json::from_slice(&body)
            .map_err(|_| unreachable_err(what, format!("status {status}, the answer is not JSON")))?;
        if !status.is_success() {
            let error = value.get("error").and_then(Value::as_str).unwrap_or("unknown");
            return Err(unreachable_err(what, format!("status {status}, error {error}")));
        }
        Ok(value)
    }

    async fn get_json(&self, what: &str, url: &str, bearer: Option<&str>) -> Result<Value, SocialError> {
        let mut req = self.http.get(url).header("accept", "application/json");
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.map_err(|e| unreachable_err(what, e))?;
        self.read_json(what, r).await
    }

    async fn discovery_document(&self, url: &str) -> Result<Value, SocialError> {
        if let Ok(cache) = self.discovery.lock() {
            if let Some((doc, at)) = cache.get(url) {
                if at.elapsed() < CACHE_TTL {
                    return Ok(doc.clone());
                }
            }
        }
        let doc = self.get_json("discovery document", url, None).await?;
        if !doc.is_object() {
            return Err(unreachable_err("discovery document", "not a JSON object"));
        }
        if let Ok(mut cache) = self.discovery.lock() {
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
            cache.insert(url.to_string(), (doc.clone(), Instant::now()));
        }
        Ok(doc)
    }

    /// The upstream's endpoints: configured ones win, the rest come from discovery. The
    /// discovered issuer must be the one the discovery URL belongs to.
    pub async fn endpoints(&self, u: &Upstream) -> Result<Endpoints, SocialError> {
        let doc = match (&u.discovery_url, u.needs_discovery()) {
            (Some(url), true) => Some(self.discovery_document(url).await?),
            _ => None,
        };
        let found = |k: &str| {
            let v = doc.as_ref().and_then(|d| d.get(k)).and_then(Value::as_str).map(str::to_string);
            v.filter(|url| k == "issuer" || gatehouse_core::social::check_endpoint_url(url).is_ok())
        };
        let issuer = u.issuer.clone().or_else(|| found("issuer"));
        if let (Some(d), Some(iss)) = (&u.discovery_url, &issuer) {
            if !gatehouse_core::social::discovery_matches(d, iss) {
                return Err(unreachable_err("discovery document", "its issuer does not match the discovery URL"));
            }
        }
        let missing = |k: &str| unreachable_err("discovery document", format!("no usable {k}"));
        let basic_auth = doc
            .as_ref()
            .and_then(|d| d.get("token_endpoint_auth_methods_supported"))
            .and_then(Value::as_array)
            .is_some_and(|m| {
                !m.iter().any(|v| v == "client_secret_post") && m.iter().any(|v| v == "client_secret_basic")
            });
        let e = Endpoints {
            authorization: u
                .authorization_endpoint
                .clone()
                .or_else(|| found("authorization_endpoint"))
                .ok_or_else(|| missing("authorization_endpoint"))?,
            token: u
                .token_endpoint
                .clone()
                .or_else(|| found("token_endpoint"))
                .ok_or_else(|| missing("token_endpoint"))?,
            jwks_uri: u.jwks_uri.clone().or_else(|| found("jwks_uri")),
            userinfo: u.userinfo_endpoint.clone().or_else(|| found("userinfo_endpoint")),
            issuer,
            basic_auth,
        };
        if u.protocol == Protocol::Oidc && (e.issuer.is_none() || e.jwks_uri.is_none()) {
            return Err(missing("issuer or jwks_uri"));
        }
        Ok(e)
    }

    async fn fetch_jwks(&self, uri: &str) -> Result<Arc<Vec<Jwk>>, SocialError> {
        let doc = self.get_json("JWKS", uri, None).await?;
        let keys = doc.get("keys").and_then(Value::as_array).ok_or_else(|| unreachable_err("JWKS", "no keys"))?;
        // A key this library cannot read is skipped, not fatal: the others still verify.
        let keys: Vec<Jwk> = keys.iter().filter_map(|k| serde_json::from_value(k.clone()).ok()).collect();
        Ok(Arc::new(keys))
    }

    /// The key set at `uri`: cached, fetched again when stale or — at most once per
    /// `MISS_REFETCH_INTERVAL` — when `kid` is not in it (the provider rotated keys).
    pub async fn keys(&self, uri: &str, kid: Option<&str>) -> Result<Arc<Vec<Jwk>>, SocialError> {
        let has = |keys: &[Jwk]| kid.is_none_or(|k| keys.iter().any(|j| j.common.key_id.as_deref() == Some(k)));
        let cached =
            self.jwks.lock().ok().and_then(|c| {
                c.get(uri).map(|e| (e.keys.clone(), e.fetched.elapsed() < CACHE_TTL, e.last_miss_refetch))
            });
        let refetch_on_miss = match &cached {
            None => true,
            Some((_, false, _)) => true,
            Some((keys, true, _)) if has(keys.as_slice()) => return Ok(keys.clone()),
            Some((_, true, last)) => last.is_none_or(|t| t.elapsed() >= MISS_REFETCH_INTERVAL),
        };
        if !refetch_on_miss {
            return Ok(cached.map(|c| c.0).unwrap_or_default());
        }
        let was_miss = cached.as_ref().is_some_and(|(_, fresh, _)| *fresh);
        let keys = self.fetch_jwks(uri).await?;
        if let Ok(mut cache) = self.jwks.lock() {
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
            let previous = cache.get(uri).and_then(|e| e.last_miss_refetch);
            let now = Instant::now();
            cache.insert(
                uri.to_string(),
                JwksEntry {
                    keys: keys.clone(),
                    fetched: now,
                    last_miss_refetch: if was_miss { Some(now) } else { previous },
                },
            );
        }
        Ok(keys)
    }

    /// Exchanges the authorization code (with the PKCE verifier) at the token endpoint.
    pub async fn exchange_code(
        &self,
        e: &Endpoints,
        client_id: &str,
        client_secret: &str,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
    ) -> Result<Tokens, SocialError> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ];
        let mut req = self.http.post(&e.token).header("accept", "application/json");
        if e.basic_auth {
            req = req.basic_auth(form_encode(client_id), Some(form_encode(client_secret)));
        } else {
            form.push(("client_id", client_id));
            form.push(("client_secret", client_secret));
        }
        let r = req.form(&form).send().await.map_err(|e| unreachable_err("token endpoint", e))?;
        let v = self.read_json("token endpoint", r).await?;
        // GitHub answers 200 with an error body.
        if let Some(error) = v.get("error").and_then(Value::as_str) {
            return Err(SocialError::Upstream(sanitize_code(error)));
        }
        let s = |k: &str| v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
        Ok(Tokens { access_token: s("access_token"), id_token: s("id_token") })
    }

    /// A provider's user API (`/userinfo`, GitHub's `/user`, Facebook's `/me`).
    pub async fn user_info(&self, url: &str, access_token: &str) -> Result<Map<String, Value>, SocialError> {
        match self.get_json("user info", url, Some(access_token)).await? {
            Value::Object(m) => Ok(m),
            _ => Err(unreachable_err("user info", "not a JSON object")),
        }
    }

    /// GitHub's `/user/emails`: the primary verified address, else any verified one.
    pub async fn github_verified_email(&self, url: &str, access_token: &str) -> Result<Option<String>, SocialError> {
        let v = self.get_json("GitHub emails", url, Some(access_token)).await?;
        let list = v.as_array().cloned().unwrap_or_default();
        let verified = |e: &&Value| e.get("verified").and_then(Value::as_bool) == Some(true);
        let email = |e: &Value| e.get("email").and_then(Value::as_str).map(str::to_string);
        let primary = list.iter().filter(verified).find(|e| e.get("primary").and_then(Value::as_bool) == Some(true));
        Ok(primary.or_else(|| list.iter().find(verified)).and_then(email))
    }
}

/// RFC 6749 §2.3.1: client credentials are form-encoded before Basic authentication.
fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// An OAuth error code from a provider, reduced to what is safe to show and log.
pub fn sanitize_code(raw: &str) -> String {
    raw.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.').take(64).collect()
}
