//! Social and OpenID Connect connections: the strategies (`oidc` and the presets
//! `google-oauth2`, `facebook`, `github`, `apple`, `windowslive`), their built-in
//! endpoints, scopes and profile mapping, the validation of their `options`, and Auth0's
//! user ids for the users they bring. Pure: fetching and verifying is the server's.

use crate::connection::Connection;
use crate::error::Error;
use crate::user::{default_display, User};
use crate::validate::{check_picture_url, Email};
use serde_json::{Map, Value};

/// Social strategies: Auth0 marks their identities `isSocial: true`.
pub const SOCIAL_STRATEGIES: &[&str] = &["google-oauth2", "facebook", "github", "apple", "windowslive"];
/// The generic OpenID Connect strategy (an enterprise connection in Auth0's terms).
pub const OIDC_STRATEGY: &str = "oidc";

/// Options that hold secrets: never returned by the API, kept on a PATCH that omits them.
pub const SECRET_OPTIONS: &[&str] = &["client_secret", "app_secret"];

pub fn is_social_strategy(strategy: &str) -> bool {
    SOCIAL_STRATEGIES.contains(&strategy)
}

/// Strategies whose users sign in at another provider.
pub fn is_upstream_strategy(strategy: &str) -> bool {
    strategy == OIDC_STRATEGY || is_social_strategy(strategy)
}

/// How the upstream proves who the user is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// An ID token, checked against the provider's JWKS.
    Oidc,
    /// OAuth 2.0 only: the profile comes from the provider's user API with the access token.
    OAuth2,
}

/// Built-in settings of a preset strategy.
struct Preset {
    protocol: Protocol,
    issuer: Option<&'static str>,
    authorization_endpoint: &'static str,
    token_endpoint: &'static str,
    jwks_uri: Option<&'static str>,
    userinfo_endpoint: Option<&'static str>,
    scope: &'static str,
    /// Facebook separates scopes with commas.
    scope_separator: &'static str,
    display_name: &'static str,
}

fn preset(strategy: &str) -> Option<Preset> {
    Some(match strategy {
        "google-oauth2" => Preset {
            protocol: Protocol::Oidc,
            issuer: Some("https://accounts.google.com"),
            authorization_endpoint: "https://accounts.google.com/o/oauth2/v2/auth",
            token_endpoint: "https://oauth2.googleapis.com/token",
            jwks_uri: Some("https://www.googleapis.com/oauth2/v3/certs"),
            userinfo_endpoint: None,
            scope: "openid email profile",
            scope_separator: " ",
            display_name: "Google",
        },
        "apple" => Preset {
            protocol: Protocol::Oidc,
            issuer: Some("https://appleid.apple.com"),
            authorization_endpoint: "https://appleid.apple.com/auth/authorize",
            token_endpoint: "https://appleid.apple.com/auth/token",
            jwks_uri: Some("https://appleid.apple.com/auth/keys"),
            userinfo_endpoint: None,
            scope: "openid email name",
            scope_separator: " ",
            display_name: "Apple",
        },
        // Personal Microsoft accounts through the Microsoft identity platform.
        "windowslive" => Preset {
            protocol: Protocol::Oidc,
            issuer: Some("https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"),
            authorization_endpoint: "https://login.microsoftonline.com/consumers/oauth2/v2.0/authorize",
            token_endpoint: "https://login.microsoftonline.com/consumers/oauth2/v2.0/token",
            jwks_uri: Some("https://login.microsoftonline.com/consumers/discovery/v2.0/keys"),
            userinfo_endpoint: None,
            scope: "openid email profile",
            scope_separator: " ",
            display_name: "Microsoft",
        },
        "facebook" => Preset {
            protocol: Protocol::OAuth2,
            issuer: None,
            authorization_endpoint: "https://www.facebook.com/v19.0/dialog/oauth",
            token_endpoint: "https://graph.facebook.com/v19.0/oauth/access_token",
            jwks_uri: None,
            userinfo_endpoint: Some(
                "https://graph.facebook.com/v19.0/me?fields=id,name,first_name,last_name,email,picture.type(large)",
            ),
            scope: "email,public_profile",
            scope_separator: ",",
            display_name: "Facebook",
        },
        "github" => Preset {
            protocol: Protocol::OAuth2,
            issuer: None,
            authorization_endpoint: "https://github.com/login/oauth/authorize",
            token_endpoint: "https://github.com/login/oauth/access_token",
            jwks_uri: None,
            userinfo_endpoint: Some("https://api.github.com/user"),
            scope: "read:user user:email",
            scope_separator: " ",
            display_name: "GitHub",
        },
        _ => return None,
    })
}

/// The name a login button shows for a connection.
pub fn button_label(c: &Connection) -> String {
    if let Some(d) = &c.display_name {
        return d.clone();
    }
    preset(&c.strategy).map_or_else(|| c.name.clone(), |p| p.display_name.to_string())
}

/// Apple's client secret is a JWT the server signs with the developer's key.
#[derive(Clone, PartialEq)]
pub struct AppleSigningKey {
    pub team_id: String,
    pub key_id: String,
    /// The `.p8` PKCS#8 PEM.
    pub private_key_pem: String,
}

impl std::fmt::Debug for AppleSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppleSigningKey").field("team_id", &self.team_id).field("key_id", &self.key_id).finish()
    }
}

/// A connection's upstream settings, resolved from its strategy and `options`.
/// Endpoints left `None` come from the discovery document at sign-in time.
#[derive(Clone, PartialEq)]
pub struct Upstream {
    pub strategy: String,
    pub protocol: Protocol,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub apple_key: Option<AppleSigningKey>,
    /// Ready to send (space- or, for Facebook, comma-separated).
    pub scope: String,
    pub discovery_url: Option<String>,
    pub issuer: Option<String>,
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub jwks_uri: Option<String>,
    pub userinfo_endpoint: Option<String>,
    /// Profile field → upstream claim (`options.attribute_map.attributes`).
    pub attribute_map: Vec<(String, String)>,
    /// Whether a returning user's profile is refreshed from the upstream
    /// (`options.set_user_root_attributes`, default `on_each_login`).
    pub update_profile_on_login: bool,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("strategy", &self.strategy)
            .field("client_id", &self.client_id)
            .field("issuer", &self.issuer)
            .field("discovery_url", &self.discovery_url)
            .finish_non_exhaustive()
    }
}

/// Options Gatehouse reads for upstream strategies; others are kept as given.
const PROFILE_FIELDS: &[&str] =
    &["email", "email_verified", "name", "given_name", "family_name", "nickname", "picture"];

fn bad(field: &str, reason: &str) -> Error {
    Error::invalid_field(format!("options.{field}"), reason)
}

fn opt_string(o: &Map<String, Value>, key: &str, max: usize) -> Result<Option<String>, Error> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= max => Ok(Some(s.clone())),
        Some(Value::String(_)) => Err(bad(key, &format!("String is too long (maximum {max} characters)"))),
        Some(_) => Err(bad(key, "Expected type string")),
    }
}

/// An absolute `https:` URL, or `http:` on a loopback host (development and tests).
pub fn check_endpoint_url(url: &str) -> Result<(), String> {
    let (scheme, rest) = url.split_once("://").ok_or("must be an absolute URL")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    if authority.contains('@') {
        return Err("must not contain credentials".into());
    }
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    if host.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must be an absolute URL with a host".into());
    }
    match scheme {
        "https" => Ok(()),
        "http" if matches!(host, "localhost" | "127.0.0.1" | "::1") => Ok(()),
        "http" => Err("must use https (http only for localhost)".into()),
        _ => Err("must be an https URL".into()),
    }
}

fn endpoint(o: &Map<String, Value>, key: &str) -> Result<Option<String>, Error> {
    let v = opt_string(o, key, 2048)?;
    if let Some(u) = &v {
        check_endpoint_url(u).map_err(|r| bad(key, &r))?;
    }
    Ok(v)
}

/// `scope` (Auth0's field; a string or an array) or `scopes`, joined with the
/// provider's separator; `openid` is always requested from OpenID Connect providers.
fn scope(o: &Map<String, Value>, protocol: Protocol, default: &str, separator: &str) -> Result<String, Error> {
    let mut parts: Vec<String> = Vec::new();
    for key in ["scope", "scopes"] {
        match o.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => {
                parts.extend(s.split([' ', ',']).filter(|p| !p.is_empty()).map(str::to_string));
            }
            Some(Value::Array(a)) => {
                for v in a {
                    let s = v.as_str().ok_or_else(|| bad(key, "Expected an array of strings"))?;
                    parts.extend(s.split([' ', ',']).filter(|p| !p.is_empty()).map(str::to_string));
                }
            }
            Some(_) => return Err(bad(key, "Expected type string or array")),
        }
    }
    if parts.iter().any(|p| p.len() > 256 || !p.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')) {
        return Err(bad("scope", "scopes are printable ASCII words"));
    }
    if parts.len() > 50 {
        return Err(bad("scope", "at most 50 scopes"));
    }
    if parts.is_empty() {
        parts = default.split(separator).map(str::to_string).collect();
    }
    if protocol == Protocol::Oidc && !parts.iter().any(|p| p == "openid") {
        parts.insert(0, "openid".into());
    }
    let mut unique: Vec<String> = Vec::with_capacity(parts.len());
    for p in parts {
        if !unique.contains(&p) {
            unique.push(p);
        }
    }
    Ok(unique.join(separator))
}

/// `options.attribute_map.attributes`: `{"<profile field>": "<claim>"}`, the claim as a
/// bare name or Auth0's `${context.tokenset.id_token.<claim>}` / `${context.userinfo.<claim>}`.
fn attribute_map(o: &Map<String, Value>) -> Result<Vec<(String, String)>, Error> {
    let Some(map) = o.get("attribute_map") else { return Ok(Vec::new()) };
    let map = map.as_object().ok_or_else(|| bad("attribute_map", "Expected type object"))?;
    if let Some(mode) = map.get("mapping_mode") {
        if !mode.as_str().is_some_and(|m| ["use_map", "bind_all", "basic_profile"].contains(&m)) {
            return Err(bad("attribute_map.mapping_mode", "must be one of use_map, bind_all, basic_profile"));
        }
    }
    let Some(attributes) = map.get("attributes") else { return Ok(Vec::new()) };
    let attributes = attributes.as_object().ok_or_else(|| bad("attribute_map.attributes", "Expected type object"))?;
    let mut out = Vec::new();
    for (field, claim) in attributes {
        if !PROFILE_FIELDS.contains(&field.as_str()) {
            return Err(bad(
                &format!("attribute_map.attributes.{field}"),
                &format!("unknown profile field; mappable: {}", PROFILE_FIELDS.join(", ")),
            ));
        }
        let raw =
            claim.as_str().ok_or_else(|| bad(&format!("attribute_map.attributes.{field}"), "Expected type string"))?;
        let name = raw
            .strip_prefix("${")
            .and_then(|r| r.strip_suffix('}'))
            .map(|inner| {
                inner
                    .strip_prefix("context.tokenset.id_token.")
                    .or_else(|| inner.strip_prefix("context.userinfo."))
                    .unwrap_or("")
            })
            .unwrap_or(raw);
        let valid = !name.is_empty() && name.len() <= 128 && name.bytes().all(|b| b.is_ascii_graphic());
        if !valid {
            return Err(bad(
                &format!("attribute_map.attributes.{field}"),
                "must be a claim name or ${context.tokenset.id_token.<claim>}",
            ));
        }
        out.push((field.clone(), name.to_string()));
    }
    Ok(out)
}

impl Upstream {
    /// Resolves (and so validates) the upstream settings of a social or OIDC connection.
    /// Errors name the option.
    pub fn from_connection(c: &Connection) -> Result<Self, Error> {
        Self::resolve(&c.strategy, &c.options)
    }

    pub fn resolve(strategy: &str, o: &Map<String, Value>) -> Result<Self, Error> {
        let p = preset(strategy);
        if p.is_none() && strategy != OIDC_STRATEGY {
            return Err(Error::body(format!("strategy {strategy:?} has no upstream provider")));
        }
        let protocol = p.as_ref().map_or(Protocol::Oidc, |p| p.protocol);
        let client_id =
            opt_string(o, "client_id", 512)?.ok_or_else(|| bad("client_id", "Missing required property"))?;
        let client_secret = opt_string(o, "client_secret", 4096)?;
        let apple_key = if strategy == "apple" {
            let team = opt_string(o, "team_id", 64)?;
            let kid = opt_string(o, "kid", 64)?;
            let pem = opt_string(o, "app_secret", 8192)?;
            match (team, kid, pem) {
                (Some(team_id), Some(key_id), Some(private_key_pem)) => {
                    if !private_key_pem.contains("-----BEGIN PRIVATE KEY-----") {
                        return Err(bad("app_secret", "must be the .p8 key (PKCS#8 PEM)"));
                    }
                    Some(AppleSigningKey { team_id, key_id, private_key_pem })
                }
                (None, None, None) => None,
                _ => return Err(bad("app_secret", "team_id, kid and app_secret go together")),
            }
        } else {
            None
        };
        if client_secret.is_none() && apple_key.is_none() {
            let what = if strategy == "apple" { "app_secret" } else { "client_secret" };
            return Err(bad(what, "Missing required property"));
        }
        if let Some(t) = o.get("type") {
            if t.as_str() != Some("back_channel") {
                return Err(bad("type", "only back_channel (the authorization code flow) is supported"));
            }
        }
        let update_profile_on_login = match o.get("set_user_root_attributes") {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) if s == "on_each_login" => true,
            Some(Value::String(s)) if s == "on_first_login" || s == "never_on_login" => false,
            Some(_) => {
                return Err(bad(
                    "set_user_root_attributes",
                    "must be one of on_each_login, on_first_login, never_on_login",
                ))
            }
        };
        let (default_scope, separator) =
            p.as_ref().map_or(("openid profile email", " "), |p| (p.scope, p.scope_separator));
        let u = Self {
            strategy: strategy.to_string(),
            protocol,
            client_id,
            client_secret,
            apple_key,
            scope: scope(o, protocol, default_scope, separator)?,
            discovery_url: endpoint(o, "discovery_url")?,
            issuer: opt_string(o, "issuer", 2048)?.or_else(|| p.as_ref().and_then(|p| p.issuer.map(str::to_string))),
            authorization_endpoint: endpoint(o, "authorization_endpoint")?
                .or_else(|| p.as_ref().map(|p| p.authorization_endpoint.to_string())),
            token_endpoint: endpoint(o, "token_endpoint")?.or_else(|| p.as_ref().map(|p| p.token_endpoint.to_string())),
            jwks_uri: endpoint(o, "jwks_uri")?.or_else(|| p.as_ref().and_then(|p| p.jwks_uri.map(str::to_string))),
            userinfo_endpoint: endpoint(o, "userinfo_endpoint")?
                .or_else(|| p.as_ref().and_then(|p| p.userinfo_endpoint.map(str::to_string))),
            attribute_map: attribute_map(o)?,
            update_profile_on_login,
        };
        if let Some(iss) = &u.issuer {
            check_endpoint_url(iss).map_err(|r| bad("issuer", &r))?;
        }
        if strategy == OIDC_STRATEGY && u.discovery_url.is_none() {
            for (field, v) in [
                ("issuer", &u.issuer),
                ("authorization_endpoint", &u.authorization_endpoint),
                ("token_endpoint", &u.token_endpoint),
                ("jwks_uri", &u.jwks_uri),
            ] {
                if v.is_none() {
                    return Err(bad(field, "Missing required property (or give discovery_url)"));
                }
            }
        }
        if let (Some(d), Some(iss)) = (&u.discovery_url, &u.issuer) {
            if !discovery_matches(d, iss) {
                return Err(bad("discovery_url", "must be <issuer>/.well-known/openid-configuration"));
            }
        }
        Ok(u)
    }

    /// The OIDC discovery URL to read missing endpoints from, if any are missing.
    pub fn needs_discovery(&self) -> bool {
        self.discovery_url.is_some()
            && (self.issuer.is_none()
                || self.authorization_endpoint.is_none()
                || self.token_endpoint.is_none()
                || (self.protocol == Protocol::Oidc && self.jwks_uri.is_none()))
    }
}

/// OpenID Connect Discovery §4: the document lives at the issuer's well-known path.
pub fn discovery_matches(discovery_url: &str, issuer: &str) -> bool {
    discovery_url == format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'))
}

/// Validates the `options` of a social or OIDC connection.
pub fn validate_upstream_options(strategy: &str, o: &Map<String, Value>) -> Result<(), Error> {
    Upstream::resolve(strategy, o).map(|_| ())
}

/// Auth0's ids for an upstream user: the `user_id` (`google-oauth2|123`, or for OIDC
/// connections `oidc|<connection>|<sub>`) and the identity's `user_id` (without the
/// provider prefix).
pub fn upstream_user_id(c: &Connection, sub: &str) -> (String, String) {
    let local = if c.strategy == OIDC_STRATEGY { format!("{}|{sub}", c.name) } else { sub.to_string() };
    (format!("{}|{local}", c.strategy), local)
}

/// The profile an upstream vouched for, normalized to Auth0's root attributes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UpstreamProfile {
    pub sub: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub nickname: Option<String>,
    pub picture: Option<String>,
}

fn claim_str(claims: &Map<String, Value>, key: &str) -> Option<String> {
    match claims.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

fn bounded(v: Option<String>, max: usize) -> Option<String> {
    v.filter(|s| s.chars().count() <= max && !s.chars().any(char::is_control))
}

/// `true`, or Apple's `"true"`.
fn claim_true(claims: &Map<String, Value>, key: &str) -> bool {
    match claims.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    }
}

/// Maps upstream claims (ID token, user info, or a provider's user API answer) to the
/// normalized profile. The subject is `sub` (`id` for GitHub and Facebook). An email
/// is only verified when the provider says so: Facebook and Microsoft never do; for
/// GitHub the server sets `email`/`email_verified` from `/user/emails`.
pub fn normalize_profile(u: &Upstream, claims: &Map<String, Value>) -> Result<UpstreamProfile, String> {
    let mapped = |field: &str, default: &str| {
        let claim = u.attribute_map.iter().find(|(f, _)| f == field).map_or(default, |(_, c)| c.as_str());
        claim_str(claims, claim)
    };
    let sub_claim = if u.protocol == Protocol::OAuth2 { "id" } else { "sub" };
    let sub = claim_str(claims, sub_claim).ok_or_else(|| format!("the provider sent no {sub_claim:?}"))?;
    if sub.len() > 255 || sub.chars().any(char::is_control) {
        return Err("the provider's user id is malformed".into());
    }
    let email = mapped("email", "email").and_then(|e| Email::parse(&e).ok()).map(Email::into_string);
    let verified_claim =
        u.attribute_map.iter().find(|(f, _)| f == "email_verified").map_or("email_verified", |(_, c)| c.as_str());
    let email_verified = email.is_some()
        && match u.strategy.as_str() {
            "facebook" | "windowslive" => false,
            _ => claim_true(claims, verified_claim),
        };
    let picture = match u.strategy.as_str() {
        "facebook" => {
            claims.get("picture").and_then(|p| p.pointer("/data/url")).and_then(Value::as_str).map(str::to_string)
        }
        "github" => mapped("picture", "avatar_url"),
        _ => mapped("picture", "picture"),
    };
    let (given, family, nickname) = match u.strategy.as_str() {
        "facebook" => (mapped("given_name", "first_name"), mapped("family_name", "last_name"), None),
        "github" => (None, None, mapped("nickname", "login")),
        _ => (mapped("given_name", "given_name"), mapped("family_name", "family_name"), mapped("nickname", "nickname")),
    };
    let name = mapped("name", "name").or_else(|| nickname.clone());
    Ok(UpstreamProfile {
        sub,
        email,
        email_verified,
        name: bounded(name, 300),
        given_name: bounded(given, 150),
        family_name: bounded(family, 150),
        nickname: bounded(nickname, 300),
        picture: bounded(picture, 2048).filter(|p| check_picture_url(p).is_ok()),
    })
}

/// A new user of an upstream connection.
pub fn new_upstream_user(c: &Connection, p: &UpstreamProfile, now: &str) -> User {
    let (user_id, _) = upstream_user_id(c, &p.sub);
    let mut user = User {
        user_id,
        connection_id: c.id.clone(),
        connection: c.name.clone(),
        provider: c.strategy.clone(),
        email: p.email.clone(),
        email_verified: p.email_verified,
        username: None,
        phone_number: None,
        phone_verified: false,
        name: p.name.clone(),
        nickname: p.nickname.clone(),
        given_name: p.given_name.clone(),
        family_name: p.family_name.clone(),
        picture: p.picture.clone(),
        password_hash: None,
        user_metadata: Map::new(),
        app_metadata: Map::new(),
        blocked: false,
        logins_count: 0,
        last_login: None,
        last_ip: None,
        last_password_reset: None,
        created_at: now.to_string(),
        updated_at: now.to_string(),
    };
    if user.nickname.is_none() && user.email.is_none() {
        user.nickname = Some(p.sub.clone());
    }
    default_display(&mut user);
    user
}

/// Refreshes a returning user's root attributes from the upstream profile
/// (`set_user_root_attributes: on_each_login`). Only what the upstream sent changes.
pub fn refresh_profile(user: &mut User, p: &UpstreamProfile) {
    if p.email.is_some() {
        if user.email != p.email {
            user.email_verified = p.email_verified;
        } else {
            user.email_verified = user.email_verified || p.email_verified;
        }
        user.email = p.email.clone();
    }
    for (slot, v) in [
        (&mut user.name, &p.name),
        (&mut user.given_name, &p.given_name),
        (&mut user.family_name, &p.family_name),
        (&mut user.nickname, &p.nickname),
        (&mut user.picture, &p.picture),
    ] {
        if v.is_some() {
            slot.clone_from(v);
        }
    }
}

/// The profile kept in a linked identity's `profileData`.
pub fn profile_data(p: &UpstreamProfile) -> Map<String, Value> {
    let mut m = Map::new();
    for (k, v) in [
        ("email", &p.email),
        ("name", &p.name),
        ("given_name", &p.given_name),
        ("family_name", &p.family_name),
        ("nickname", &p.nickname),
        ("picture", &p.picture),
    ] {
        if let Some(v) = v {
            m.insert(k.into(), Value::String(v.clone()));
        }
    }
    if p.email.is_some() {
        m.insert("email_verified".into(), Value::Bool(p.email_verified));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn err(strategy: &str, o: Value) -> String {
        Upstream::resolve(strategy, &obj(o)).err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn presets_fill_endpoints_and_scopes() {
        let g = Upstream::resolve("google-oauth2", &obj(json!({"client_id": "a", "client_secret": "b"})));
        let g = g.unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(g.issuer.as_deref(), Some("https://accounts.google.com"));
        assert_eq!(g.scope, "openid email profile");
        let f =
            Upstream::resolve("facebook", &obj(json!({"client_id": "a", "client_secret": "b", "scope": ["email"]})));
        let f = f.unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!((f.protocol, f.scope.as_str()), (Protocol::OAuth2, "email"));
        let gh = Upstream::resolve("github", &obj(json!({"client_id": "a", "client_secret": "b"})));
        assert_eq!(gh.map(|u| u.userinfo_endpoint).ok().flatten().as_deref(), Some("https://api.github.com/user"));
    }

    #[test]
    fn option_errors_name_the_field() {
        assert_eq!(
            err("google-oauth2", json!({"client_secret": "b"})),
            "Payload validation error: 'Missing required property' on property options.client_id."
        );
        assert!(err("github", json!({"client_id": "a"})).contains("options.client_secret"));
        assert!(err("oidc", json!({"client_id": "a", "client_secret": "b"})).contains("options.issuer"));
        assert!(err("oidc", json!({"client_id": "a", "client_secret": "b", "discovery_url": "http://idp.example.com/.well-known/openid-configuration"}))
            .contains("options.discovery_url"));
        assert!(err("oidc", json!({"client_id": "a", "client_secret": "b", "discovery_url": "https://idp.example.com/.well-known/openid-configuration", "issuer": "https://other.example.com"}))
            .contains("options.discovery_url"));
        assert!(err("oidc", json!({"client_id": "a", "client_secret": "b", "discovery_url": "https://x.example/.well-known/openid-configuration", "scope": 3}))
            .contains("options.scope"));
        assert!(err("oidc", json!({"client_id": "a", "client_secret": "b", "discovery_url": "https://x.example/.well-known/openid-configuration", "attribute_map": {"attributes": {"password": "p"}}}))
            .contains("options.attribute_map.attributes.password"));
        assert!(err("apple", json!({"client_id": "a", "team_id": "T"})).contains("options.app_secret"));
        let ok = Upstream::resolve(
            "oidc",
            &obj(
                json!({"client_id": "a", "client_secret": "b", "discovery_url": "http://127.0.0.1:9/.well-known/openid-configuration", "scope": "profile"}),
            ),
        );
        let ok = ok.unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(ok.scope, "openid profile");
        assert!(ok.needs_discovery());
    }

    #[test]
    fn endpoint_urls() {
        assert!(check_endpoint_url("https://idp.example.com/auth").is_ok());
        assert!(check_endpoint_url("http://127.0.0.1:4000/auth").is_ok());
        assert!(check_endpoint_url("http://[::1]:4000/auth").is_ok());
        assert!(check_endpoint_url("http://idp.example.com/auth").is_err());
        assert!(check_endpoint_url("https://user:pw@idp.example.com/").is_err());
        assert!(check_endpoint_url("javascript:alert(1)").is_err());
        assert!(check_endpoint_url("https:///nohost").is_err());
    }

    #[test]
    fn profiles_are_normalized() {
        let google = Upstream::resolve("google-oauth2", &obj(json!({"client_id": "a", "client_secret": "b"})))
            .unwrap_or_else(|e| unreachable!("{e}"));
        let p = normalize_profile(
            &google,
            &obj(json!({"sub": "1093", "email": "Ann@Example.com", "email_verified": true, "name": "Ann",
                "given_name": "Ann", "picture": "https://img/p.png"})),
        )
        .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(p.email.as_deref(), Some("ann@example.com"));
        assert!(p.email_verified);
        let unverified =
            normalize_profile(&google, &obj(json!({"sub": "1", "email": "a@b.co", "email_verified": "false"})));
        assert_eq!(unverified.map(|p| p.email_verified), Ok(false));
        let fb = Upstream::resolve("facebook", &obj(json!({"client_id": "a", "client_secret": "b"})))
            .unwrap_or_else(|e| unreachable!("{e}"));
        let p = normalize_profile(
            &fb,
            &obj(json!({"id": "42", "email": "a@b.co", "first_name": "A",
            "picture": {"data": {"url": "https://fb/p.jpg"}}})),
        )
        .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!((p.sub.as_str(), p.email_verified, p.picture.as_deref()), ("42", false, Some("https://fb/p.jpg")));
        let gh = Upstream::resolve("github", &obj(json!({"client_id": "a", "client_secret": "b"})))
            .unwrap_or_else(|e| unreachable!("{e}"));
        let p = normalize_profile(&gh, &obj(json!({"id": 7, "login": "octo", "avatar_url": "javascript:x"})))
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(
            (p.sub.as_str(), p.nickname.as_deref(), p.name.as_deref(), p.picture),
            ("7", Some("octo"), Some("octo"), None)
        );
        assert!(normalize_profile(&google, &obj(json!({"email": "a@b.co"}))).is_err());
    }

    #[test]
    fn attribute_map_renames_claims() {
        let u = Upstream::resolve(
            "oidc",
            &obj(json!({"client_id": "a", "client_secret": "b", "discovery_url": "https://x.example/.well-known/openid-configuration",
                "attribute_map": {"mapping_mode": "use_map", "attributes": {"email": "${context.tokenset.id_token.mail}", "name": "display"}}})),
        )
        .unwrap_or_else(|e| unreachable!("{e}"));
        let p =
            normalize_profile(&u, &obj(json!({"sub": "s", "mail": "m@x.co", "display": "D", "email_verified": true})))
                .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!((p.email.as_deref(), p.name.as_deref(), p.email_verified), (Some("m@x.co"), Some("D"), true));
    }

    #[test]
    fn user_ids_like_auth0() {
        let mut c = Connection::new_database("con_x".into(), "corp-idp".into(), "t".into());
        c.strategy = "oidc".into();
        assert_eq!(upstream_user_id(&c, "abc"), ("oidc|corp-idp|abc".to_string(), "corp-idp|abc".to_string()));
        c.strategy = "google-oauth2".into();
        assert_eq!(upstream_user_id(&c, "123"), ("google-oauth2|123".to_string(), "123".to_string()));
    }
}
