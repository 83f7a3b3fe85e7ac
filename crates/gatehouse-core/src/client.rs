//! Applications (OAuth clients) and the grants that let them call an API.

use crate::error::Error;
use crate::validate::{Body, Patch};
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
];

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
    pub created_at: String,
    pub updated_at: String,
}

impl Client {
    pub fn to_auth0_json(&self) -> Value {
        let mut v = json!({
            "client_id": self.client_id,
            "name": self.name,
            "app_type": self.app_type,
            "is_first_party": self.is_first_party,
            "global": false,
            "grant_types": self.grant_types,
            "callbacks": self.callbacks,
            "allowed_logout_urls": self.allowed_logout_urls,
            "web_origins": self.web_origins,
            "allowed_origins": self.allowed_origins,
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "client_metadata": self.client_metadata,
        });
        if let (Some(d), Value::Object(m)) = (&self.description, &mut v) {
            m.insert("description".into(), json!(d));
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
];

fn invalid(field: &str, reason: &str) -> Error {
    Error::body(format!("Payload validation error: '{reason}' on property {field}."))
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
        grant_types: vec![
            "authorization_code".into(),
            "implicit".into(),
            "refresh_token".into(),
            "client_credentials".into(),
        ],
        callbacks: Vec::new(),
        allowed_logout_urls: Vec::new(),
        web_origins: Vec::new(),
        allowed_origins: Vec::new(),
        token_endpoint_auth_method: "client_secret_post".into(),
        client_secret_hash: None,
        client_metadata: Map::new(),
        created_at: now.to_string(),
        updated_at: now.to_string(),
    };
    apply(&b, &mut c)?;
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
}
