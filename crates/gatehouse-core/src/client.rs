//! Applications (OAuth clients) and the grants that let them call an API.

use crate::error::Error;
use crate::validate::{Body, Patch};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

pub const APP_TYPES: &[&str] = &["native", "spa", "regular_web", "non_interactive"];
pub const AUTH_METHODS: &[&str] = &["none", "client_secret_post", "client_secret_basic"];
pub const GRANT_TYPES: &[&str] = &[
    "authorization_code",
    "implicit",
    "refresh_token",
    "client_credentials",
    "password",
    "http://auth0.com/oauth/grant-type/password-realm",
    "http://auth0.com/oauth/grant-type/mfa-otp",
    "http://auth0.com/oauth/grant-type/mfa-oob",
    "http://auth0.com/oauth/grant-type/mfa-recovery-code",
    "http://auth0.com/oauth/grant-type/passwordless/otp",
];

/// The ways a session can end that Auth0 names; an application with a back-channel
/// logout URL hears of those its initiators select.
pub const LOGOUT_INITIATORS: &[&str] = &[
    "rp-logout",
    "idp-logout",
    "password-changed",
    "session-expired",
    "session-revoked",
    "account-deleted",
    "email-identifier-changed",
];

/// OpenID Connect Back-Channel Logout settings, Auth0's `oidc_logout`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OidcLogout {
    /// Where logout tokens are posted; Auth0 allows one.
    pub backchannel_logout_urls: Vec<String>,
    #[serde(default)]
    pub backchannel_logout_initiators: LogoutInitiators,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogoutInitiators {
    /// `all` (every initiator, those to come included) or `custom` (the selected ones).
    pub mode: String,
    #[serde(default)]
    pub selected_initiators: Vec<String>,
}

impl Default for LogoutInitiators {
    fn default() -> Self {
        Self { mode: "custom".into(), selected_initiators: Vec::new() }
    }
}

impl OidcLogout {
    /// The URL to post a logout token to for a session ended by `initiator`, if the
    /// application listens for that. Logouts (`rp-logout`, `idp-logout`) always count,
    /// as in Auth0.
    pub fn url_for(&self, initiator: &str) -> Option<&str> {
        let url = self.backchannel_logout_urls.first()?;
        let i = &self.backchannel_logout_initiators;
        let wanted = i.mode == "all"
            || matches!(initiator, "rp-logout" | "idp-logout")
            || i.selected_initiators.iter().any(|s| s == initiator);
        wanted.then_some(url.as_str())
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    pub description: Option<String>,
    pub app_type: Option<String>,
    pub is_first_party: bool,
    pub grant_types: Vec<String>,
    pub callbacks: Vec<String>,
    pub allowed_logout_urls: Vec<String>,
    pub web_origins: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub token_endpoint_auth_method: String,
    /// The canonical `gatehouse-hash` string of the secret; the secret itself is shown
    /// once, at creation or rotation.
    pub client_secret_hash: Option<String>,
    pub client_metadata: Map<String, Value>,
    pub oidc_logout: Option<OidcLogout>,
    /// Auth0's "Allow Cross-Origin Authentication": pages of the client's allowed
    /// origins may log users in with credentials sent to `/co/authenticate` (Lock,
    /// auth0.js embedded login). Off unless turned on.
    pub cross_origin_authentication: bool,
    /// The client's page that hands the `co_verifier` back when the browser would not
    /// send Gatehouse's cookie with `/authorize` (Auth0's `cross_origin_loc`).
    pub cross_origin_loc: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// Gatehouse's own client, the admin console's: Auth0's `global` client, which tools
/// that carry a tenant's applications leave out.
pub const CONSOLE_CLIENT_ID: &str = "gatehouse-console";

impl Client {
    pub fn is_global(&self) -> bool {
        self.client_id == CONSOLE_CLIENT_ID
    }

    pub fn to_auth0_json(&self) -> Value {
        let mut v = json!({
            "client_id": self.client_id,
            "name": self.name,
            "app_type": self.app_type,
            "is_first_party": self.is_first_party,
            "global": self.is_global(),
            "grant_types": self.grant_types,
            "callbacks": self.callbacks,
            "allowed_logout_urls": self.allowed_logout_urls,
            "web_origins": self.web_origins,
            "allowed_origins": self.allowed_origins,
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "client_metadata": self.client_metadata,
            "cross_origin_authentication": self.cross_origin_authentication,
        });
        if let (Some(loc), Value::Object(m)) = (&self.cross_origin_loc, &mut v) {
            m.insert("cross_origin_loc".into(), json!(loc));
        }
        if let (Some(d), Value::Object(m)) = (&self.description, &mut v) {
            m.insert("description".into(), json!(d));
        }
        if let (Some(o), Value::Object(m)) = (&self.oidc_logout, &mut v) {
            m.insert("oidc_logout".into(), json!(o));
        }
        v
    }

    pub fn is_confidential(&self) -> bool {
        self.token_endpoint_auth_method != "none"
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClientGrant {
    pub id: String,
    pub client_id: String,
    pub audience: String,
    pub scope: Vec<String>,
}

impl ClientGrant {
    pub fn to_auth0_json(&self) -> Value {
        json!({"id": self.id, "client_id": self.client_id, "audience": self.audience, "scope": self.scope})
    }
}

const FIELDS: &[&str] = &[
    "name",
    "description",
    "app_type",
    "is_first_party",
    "grant_types",
    "callbacks",
    "allowed_logout_urls",
    "web_origins",
    "allowed_origins",
    "token_endpoint_auth_method",
    "client_metadata",
    "oidc_logout",
    "cross_origin_authentication",
    "cross_origin_loc",
];

fn invalid(field: &str, reason: &str) -> Error {
    Error::invalid_field(field, reason)
}

/// Fields only `POST /api/v2/clients` takes: `enabled_connections` (a Gatehouse
/// extension) names the connections the new application is enabled on.
const CREATE_FIELDS: &[&str] = &[
    "name",
    "description",
    "app_type",
    "is_first_party",
    "grant_types",
    "callbacks",
    "allowed_logout_urls",
    "web_origins",
    "allowed_origins",
    "token_endpoint_auth_method",
    "client_metadata",
    "oidc_logout",
    "cross_origin_authentication",
    "cross_origin_loc",
    "enabled_connections",
];

/// The most connections one new client is enabled on at creation.
pub const MAX_ENABLED_CONNECTIONS: usize = 50;

/// The grant types a new client gets when its body names none: only those that work for
/// its kind. `implicit` is never offered (`/authorize` answers only `response_type=code`);
/// a public client (SPA, native, or `none` authentication) cannot keep a secret, so it
/// gets no `client_credentials`.
pub fn default_grant_types(c: &Client) -> Vec<String> {
    let mut grants = vec!["authorization_code".to_string(), "refresh_token".to_string()];
    if c.is_confidential() && !matches!(c.app_type.as_deref(), Some("spa" | "native")) {
        grants.push("client_credentials".to_string());
    }
    grants
}

/// A validated `POST /api/v2/clients` body: the client and the names of the connections
/// to enable it on (`enabled_connections`, deduplicated, in order).
pub fn new_client_with_connections(body: &Value, client_id: String, now: &str) -> Result<(Client, Vec<String>), Error> {
    let b = Body::new(body, CREATE_FIELDS)?;
    let mut connections: Vec<String> = Vec::new();
    if let Patch::Set(names) = b.string_array("enabled_connections", MAX_ENABLED_CONNECTIONS)? {
        for (i, n) in names.into_iter().enumerate() {
            if n.is_empty() {
                return Err(invalid(&format!("enabled_connections[{i}]"), "must be a connection name"));
            }
            if !connections.contains(&n) {
                connections.push(n);
            }
        }
    }
    let client = new_client(&without(body, "enabled_connections"), client_id, now)?;
    Ok((client, connections))
}

fn without(body: &Value, key: &str) -> Value {
    let mut b = body.clone();
    if let Value::Object(m) = &mut b {
        m.remove(key);
    }
    b
}

/// Validates a `POST /api/v2/clients` body.
pub fn new_client(body: &Value, client_id: String, now: &str) -> Result<Client, Error> {
    let b = Body::new(body, FIELDS)?;
    let name = b.required_string("name", 1, 128)?;
    let mut c = Client {
        client_id,
        name,
        description: None,
        app_type: None,
        is_first_party: true,
        grant_types: Vec::new(),
        callbacks: Vec::new(),
        allowed_logout_urls: Vec::new(),
        web_origins: Vec::new(),
        allowed_origins: Vec::new(),
        token_endpoint_auth_method: "client_secret_post".into(),
        client_secret_hash: None,
        client_metadata: Map::new(),
        oidc_logout: None,
        cross_origin_authentication: false,
        cross_origin_loc: None,
        created_at: now.to_string(),
        updated_at: now.to_string(),
    };
    apply(&b, &mut c)?;
    if b.raw("grant_types").is_none() {
        c.grant_types = default_grant_types(&c);
    }
    Ok(c)
}

/// Applies a `PATCH /api/v2/clients/{id}` body.
pub fn patch_client(body: &Value, c: &mut Client, now: &str) -> Result<(), Error> {
    let b = Body::new(body, FIELDS)?;
    if let Patch::Set(name) = b.string("name", 1, 128)? {
        c.name = name;
    }
    apply(&b, c)?;
    c.updated_at = now.to_string();
    Ok(())
}

fn one_of(field: &str, v: &str, allowed: &[&str]) -> Result<(), Error> {
    if allowed.contains(&v) {
        Ok(())
    } else {
        Err(invalid(field, &format!("must be one of {}", allowed.join(", "))))
    }
}

/// Callback and logout URLs are matched exactly later, so they must be absolute URLs
/// without fragments now.
fn urls(b: &Body, field: &str) -> Result<Option<Vec<String>>, Error> {
    let Patch::Set(list) = b.string_array(field, 100)? else { return Ok(None) };
    for (i, u) in list.iter().enumerate() {
        let (scheme, rest) = u.split_once("://").unwrap_or(("", ""));
        let ok = !scheme.is_empty()
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            && !rest.is_empty()
            && !u.contains('#')
            && !u.chars().any(char::is_whitespace);
        if !ok {
            return Err(invalid(&format!("{field}[{i}]"), "must be an absolute URL without a fragment"));
        }
    }
    Ok(Some(list))
}

/// `oidc_logout` over what the client had: one http(s) URL at most, known initiators.
fn oidc_logout(b: &Body, mut o: OidcLogout) -> Result<OidcLogout, Error> {
    if let Some(list) = urls(b, "backchannel_logout_urls")? {
        if list.len() > 1 {
            return Err(invalid("oidc_logout.backchannel_logout_urls", "at most one URL"));
        }
        if let Some(u) = list.iter().find(|u| !(u.starts_with("https://") || u.starts_with("http://"))) {
            return Err(invalid("oidc_logout.backchannel_logout_urls", &format!("{u} is not an http(s) URL")));
        }
        o.backchannel_logout_urls = list;
    }
    if let Some(i) = b.object("backchannel_logout_initiators", &["mode", "selected_initiators"])? {
        let field = "oidc_logout.backchannel_logout_initiators";
        let mode = i.required_string("mode", 1, 16)?;
        one_of(&format!("{field}.mode"), &mode, &["custom", "all"])?;
        let selected = match i.string_array("selected_initiators", LOGOUT_INITIATORS.len())? {
            Patch::Set(list) => list,
            Patch::Absent | Patch::Null => Vec::new(),
        };
        for (n, s) in selected.iter().enumerate() {
            one_of(&format!("{field}.selected_initiators[{n}]"), s, LOGOUT_INITIATORS)?;
        }
        o.backchannel_logout_initiators = LogoutInitiators { mode, selected_initiators: selected };
    }
    Ok(o)
}

fn apply(b: &Body, c: &mut Client) -> Result<(), Error> {
    b.string("description", 0, 140)?.apply_to(&mut c.description);
    match b.string("app_type", 1, 32)? {
        Patch::Set(t) => {
            one_of("app_type", &t, APP_TYPES)?;
            c.app_type = Some(t);
        }
        Patch::Null => c.app_type = None,
        Patch::Absent => {}
    }
    if let Patch::Set(v) = b.boolean("is_first_party")? {
        c.is_first_party = v;
    }
    if let Patch::Set(grants) = b.string_array("grant_types", 10)? {
        for (i, g) in grants.iter().enumerate() {
            one_of(&format!("grant_types[{i}]"), g, GRANT_TYPES)?;
        }
        c.grant_types = grants;
    }
    if let Some(v) = urls(b, "callbacks")? {
        c.callbacks = v;
    }
    if let Some(v) = urls(b, "allowed_logout_urls")? {
        c.allowed_logout_urls = v;
    }
    if let Some(v) = urls(b, "web_origins")? {
        c.web_origins = v;
    }
    if let Some(v) = urls(b, "allowed_origins")? {
        c.allowed_origins = v;
    }
    if let Patch::Set(m) = b.string("token_endpoint_auth_method", 1, 32)? {
        one_of("token_endpoint_auth_method", &m, AUTH_METHODS)?;
        c.token_endpoint_auth_method = m;
    }
    if let Patch::Set(m) = b.json_object("client_metadata")? {
        if m.len() > 10 || m.values().any(|v| v.as_str().is_none_or(|s| s.len() > 255)) {
            return Err(invalid("client_metadata", "at most 10 keys with string values of at most 255 characters"));
        }
        c.client_metadata = m;
    }
    if b.raw("oidc_logout").is_some_and(Value::is_null) {
        c.oidc_logout = None;
    } else if let Some(o) = b.object("oidc_logout", &["backchannel_logout_urls", "backchannel_logout_initiators"])? {
        c.oidc_logout = Some(oidc_logout(&o, c.oidc_logout.take().unwrap_or_default())?);
    }
    if let Patch::Set(v) = b.boolean("cross_origin_authentication")? {
        c.cross_origin_authentication = v;
    }
    match b.string("cross_origin_loc", 1, 2048)? {
        Patch::Set(loc) => {
            if !(loc.starts_with("https://") || loc.starts_with("http://")) || loc.contains('#') {
                return Err(invalid("cross_origin_loc", "must be an http(s) URL without a fragment"));
            }
            c.cross_origin_loc = Some(loc);
        }
        Patch::Null => c.cross_origin_loc = None,
        Patch::Absent => {}
    }
    let public_app = matches!(c.app_type.as_deref(), Some("spa" | "native"));
    if public_app && !b.has("token_endpoint_auth_method") {
        c.token_endpoint_auth_method = "none".into();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_urls_and_enums() {
        let ok = new_client(
            &json!({"name": "app", "callbacks": ["https://app.example/cb"], "app_type": "spa"}),
            "id".into(),
            "t",
        );
        let ok = ok.unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(ok.token_endpoint_auth_method, "none");
        let e = new_client(&json!({"name": "app", "callbacks": ["/relative"]}), "id".into(), "t");
        assert_eq!(
            e.err().map(|e| e.to_string()).as_deref(),
            Some("Payload validation error: 'must be an absolute URL without a fragment' on property callbacks[0].")
        );
        assert!(new_client(&json!({"name": "app", "app_type": "tv"}), "id".into(), "t").is_err());
    }

    #[test]
    fn back_channel_logout_hears_the_initiators_it_selects() {
        let body = json!({"name": "app", "oidc_logout": {"backchannel_logout_urls": ["https://app.example/bcl"]}});
        let c = new_client(&body, "id".into(), "t").unwrap_or_else(|e| unreachable!("{e}"));
        let o = c.oidc_logout.clone().unwrap_or_default();
        assert_eq!(o.url_for("rp-logout"), Some("https://app.example/bcl"));
        assert_eq!(o.url_for("session-revoked"), None, "custom with nothing selected: logouts only");
        let mut c = c;
        let patch = json!({"oidc_logout": {"backchannel_logout_initiators": {"mode": "custom", "selected_initiators": ["session-revoked"]}}});
        patch_client(&patch, &mut c, "t2").unwrap_or_else(|e| unreachable!("{e}"));
        let o = c.oidc_logout.clone().unwrap_or_default();
        assert_eq!(o.url_for("session-revoked"), Some("https://app.example/bcl"), "the URL is kept");
        assert_eq!(o.url_for("account-deleted"), None);
        assert_eq!(c.to_auth0_json()["oidc_logout"]["backchannel_logout_initiators"]["mode"], "custom");
        patch_client(&json!({"oidc_logout": null}), &mut c, "t3").unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(c.oidc_logout, None);
        for bad in [
            json!({"backchannel_logout_urls": ["https://a.example/1", "https://a.example/2"]}),
            json!({"backchannel_logout_urls": ["ftp://a.example/"]}),
            json!({"backchannel_logout_initiators": {"mode": "some"}}),
            json!({"backchannel_logout_initiators": {"mode": "custom", "selected_initiators": ["coffee-spilled"]}}),
            json!({"frontchannel": true}),
        ] {
            let body = json!({"name": "app", "oidc_logout": bad});
            assert!(new_client(&body, "id".into(), "t").is_err(), "{body}");
        }
    }
}
