//! Minting tokens for a user: the access token (a JWT for the API, in its dialect; opaque
//! when it only serves `/userinfo`), the ID token (claims by scope) and, with
//! `offline_access` where the API allows it, a refresh token.

use crate::keys::KeyError;
use crate::secrets::{hash_secret, random_token};
use crate::Services;
use gatehouse_core::authorization::ResourceServer;
use gatehouse_core::client::Client;
use gatehouse_core::user::User;
use gatehouse_store::{RefreshToken, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Claims (OIDC standard) that `profile` and `email` release.
pub const SUPPORTED_CLAIMS: &[&str] = &[
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "sid",
    "azp",
    "name",
    "nickname",
    "given_name",
    "family_name",
    "picture",
    "updated_at",
    "email",
    "email_verified",
    "amr",
];

/// Why tokens could not be issued: nothing the client did, so every surface answers it
/// as an internal error.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("signing failed: {0}")]
    Signing(#[from] KeyError),
    #[error("storing the refresh token failed: {0}")]
    Store(#[from] StoreError),
}

pub fn has_scope(scope: &str, wanted: &str) -> bool {
    scope.split(' ').any(|s| s == wanted)
}

/// The claims of an access token Gatehouse signs, for a user or a client, in any of an
/// API's dialects: Auth0's (`azp`, `gty`) or RFC 9068's (`client_id`, `jti`,
/// `auth_time`), with `permissions` where the dialect adds them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    /// A string, or `[api, <issuer>userinfo]` when an API token also serves `/userinfo`.
    pub aud: Value,
    pub iat: i64,
    pub exp: i64,
    #[serde(default)]
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gty: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<String>>,
    /// Custom claims Actions set (`api.accessToken.setCustomClaim`).
    #[serde(flatten)]
    pub custom: Map<String, Value>,
}

impl AccessTokenClaims {
    /// Whether the token carries any of `wanted`.
    pub fn has_any(&self, wanted: &[&str]) -> bool {
        self.scope.split(' ').any(|s| wanted.contains(&s))
    }

    /// Puts the client in the claims `api`'s dialect names it by (`azp`, or RFC 9068's
    /// `client_id` with a `jti`), and `gty` where Auth0's dialect has it.
    pub fn in_dialect_of(mut self, api: Option<&ResourceServer>, client_id: &str, gty: Option<&str>) -> Self {
        if api.is_some_and(|a| a.token_dialect.is_rfc9068()) {
            self.client_id = Some(client_id.to_string());
            self.jti = Some(random_token());
        } else {
            self.azp = Some(client_id.to_string());
            self.gty = gty.map(str::to_string);
            self.auth_time = None;
        }
        self
    }
}

/// Signs an access token for `api`: as RFC 9068 asks (`typ: at+jwt`) in its dialects.
pub fn sign_access_token(
    state: &Services,
    api: &ResourceServer,
    claims: &AccessTokenClaims,
) -> Result<String, KeyError> {
    if api.token_dialect.is_rfc9068() {
        state.keys.sign_typed(claims, crate::keys::AT_JWT)
    } else {
        state.keys.sign(claims)
    }
}

/// What happens to refresh tokens in this response.
pub enum Refresh {
    /// Mint one (if `offline_access` was granted and the client may refresh) in this family.
    Mint { family_id: String },
    /// Return this one, already stored by the rotation.
    Rotated(String),
}

/// Everything a token response is issued for.
#[derive(Clone)]
pub struct Grant<'a> {
    pub client: &'a Client,
    pub user: &'a User,
    /// Space-separated, as granted ([`gatehouse_core::authorization::user_token_scope`]).
    pub scope: String,
    /// The API the access token is for; none when it only serves `/userinfo`.
    pub api: Option<&'a ResourceServer>,
    /// The `permissions` claim, where the API's dialect has one.
    pub permissions: Option<Vec<String>>,
    pub nonce: Option<String>,
    pub auth_time: i64,
    pub sid: Option<String>,
    /// Auth0's `gty` claim for grants other than the authorization code.
    pub gty: Option<&'static str>,
    /// How the user authenticated (OIDC `amr`: `pwd`, `federated`, `mfa`), when known.
    /// Only an ID token issued after a second factor carries it, as Auth0's do.
    pub amr: Option<Vec<String>>,
    /// The custom claims post-login Actions set.
    pub claims: crate::actions::LoginClaims,
}

/// The OIDC claims the scopes release about `user`.
pub fn profile_claims(user: &User, scope: &str) -> Map<String, Value> {
    let mut m = Map::new();
    fn put(m: &mut Map<String, Value>, k: &str, v: &Option<String>) {
        if let Some(v) = v {
            m.insert(k.into(), Value::String(v.clone()));
        }
    }
    if has_scope(scope, "profile") {
        put(&mut m, "nickname", &user.nickname);
        put(&mut m, "name", &user.name);
        put(&mut m, "given_name", &user.given_name);
        put(&mut m, "family_name", &user.family_name);
        put(&mut m, "picture", &user.picture);
        m.insert("updated_at".into(), Value::String(user.updated_at.clone()));
    }
    if has_scope(scope, "email") {
        put(&mut m, "email", &user.email);
        m.insert("email_verified".into(), Value::Bool(user.email_verified));
    }
    m
}

/// A stored refresh token for `grant` in `family_id`, and the secret to hand out.
pub fn new_refresh_token(state: &Services, grant: &Grant<'_>, family_id: &str) -> (String, RefreshToken) {
    let now = state.clock.now().unix_timestamp();
    let secret = random_token();
    let row = RefreshToken {
        token_hash: hash_secret(&secret),
        family_id: family_id.to_string(),
        client_id: grant.client.client_id.clone(),
        user_id: grant.user.user_id.clone(),
        scope: grant.scope.clone(),
        audience: grant.api.map(|a| a.identifier.clone()),
        sid: grant.sid.clone(),
        auth_time: grant.auth_time,
        created_at: now,
        expires_at: now + state.config.refresh_token_ttl_secs.min(state.config.refresh_token_family_ttl_secs),
        rotated_at: None,
        revoked_at: None,
    };
    (secret, row)
}

/// Whether a refresh token goes with this grant (whose scope has `offline_access` only
/// where the API allows it).
pub fn wants_refresh(grant: &Grant<'_>) -> bool {
    has_scope(&grant.scope, "offline_access") && grant.client.grant_types.iter().any(|g| g == "refresh_token")
}

/// A token response whose tokens are signed but not yet handed out: a new refresh token
/// is stored only by [`Signed::hand_out`]. Dropped instead, it leaves no trace, which lets
/// a login sign while its password is still being verified.
pub struct Signed {
    body: Map<String, Value>,
    refresh: Option<RefreshToken>,
}

impl Signed {
    /// Stores the new refresh token, if there is one, and gives the response.
    pub async fn hand_out(self, state: &Services) -> Result<Value, IssueError> {
        if let Some(row) = &self.refresh {
            let family_expires_at = row.created_at + state.config.refresh_token_family_ttl_secs;
            state.store.insert_refresh_token(row, Some(family_expires_at)).await?;
        }
        Ok(Value::Object(self.body))
    }
}

/// Signs the tokens and builds the token response.
pub async fn issue(state: &Services, grant: &Grant<'_>, refresh: Refresh) -> Result<Value, IssueError> {
    sign(state, grant, refresh)?.hand_out(state).await
}

/// The tokens of `grant`, signed: CPU work only, nothing is written.
pub fn sign(state: &Services, grant: &Grant<'_>, refresh: Refresh) -> Result<Signed, IssueError> {
    let cfg = &state.config;
    let now = state.clock.now().unix_timestamp();
    let userinfo = cfg.userinfo_audience();
    let openid = has_scope(&grant.scope, "openid");
    let aud = match grant.api {
        Some(api) if api.identifier != userinfo && openid => json!([api.identifier, userinfo]),
        Some(api) => json!(api.identifier),
        None => json!(userinfo),
    };
    let lifetime = grant.api.map_or(cfg.access_token_ttl_secs, |a| a.token_lifetime);
    let access = AccessTokenClaims {
        iss: cfg.issuer.clone(),
        sub: grant.user.user_id.clone(),
        aud,
        iat: now,
        exp: now + lifetime,
        scope: grant.scope.clone(),
        sid: grant.sid.clone(),
        auth_time: Some(grant.auth_time),
        permissions: grant.permissions.clone(),
        custom: grant.claims.access_token.clone(),
        ..Default::default()
    }
    .in_dialect_of(grant.api, &grant.client.client_id, grant.gty);
    // Without an API there is nobody to read the token but `/userinfo`: Auth0 makes it
    // opaque then, and so does Gatehouse (which also spares a signature).
    let access_token = match grant.api {
        Some(api) => sign_access_token(state, api, &access),
        None => state.keys.seal(&access),
    }?;
    let mut body = Map::new();
    body.insert("access_token".into(), json!(access_token));
    if openid {
        let mut claims = profile_claims(grant.user, &grant.scope);
        claims.insert("iss".into(), json!(cfg.issuer));
        claims.insert("sub".into(), json!(grant.user.user_id));
        claims.insert("aud".into(), json!(grant.client.client_id));
        claims.insert("iat".into(), json!(now));
        claims.insert("exp".into(), json!(now + cfg.id_token_ttl_secs));
        claims.insert("auth_time".into(), json!(grant.auth_time));
        if let Some(sid) = &grant.sid {
            claims.insert("sid".into(), json!(sid));
        }
        if let Some(nonce) = &grant.nonce {
            claims.insert("nonce".into(), json!(nonce));
        }
        if let Some(amr) = grant.amr.as_ref().filter(|a| a.iter().any(|m| m == "mfa")) {
            claims.insert("amr".into(), json!(amr));
        }
        // An action's claim never replaces one the token is made of.
        for (k, v) in &grant.claims.id_token {
            claims.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let id_token = state.keys.sign(&Value::Object(claims))?;
        body.insert("id_token".into(), json!(id_token));
    }
    let mut stored = None;
    match refresh {
        Refresh::Rotated(secret) => {
            body.insert("refresh_token".into(), json!(secret));
        }
        Refresh::Mint { family_id } if wants_refresh(grant) => {
            let (secret, row) = new_refresh_token(state, grant, &family_id);
            stored = Some(row);
            body.insert("refresh_token".into(), json!(secret));
        }
        Refresh::Mint { .. } => {}
    }
    body.insert("scope".into(), json!(grant.scope));
    body.insert("expires_in".into(), json!(lifetime));
    body.insert("token_type".into(), json!("Bearer"));
    Ok(Signed { body, refresh: stored })
}
