//! The profile a legacy store returns, read from fields named after Auth0's profile
//! (SQL result columns, HTTP JSON fields, mapped LDAP attributes), or from a user of the
//! Auth0 Management API (an `auth0` store), which also carries its creation time,
//! metadata and linked identities.

use serde_json::{Map, Value};

/// A legacy user's profile. `user_id` is the store's own, stable id (Gatehouse stores the
/// user as `auth0|<user_id>`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub user_id: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub username: Option<String>,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub nickname: Option<String>,
    pub picture: Option<String>,
    /// When the legacy store created the user (`auth0` stores), Auth0's timestamp form.
    pub created_at: Option<String>,
    pub user_metadata: Map<String, Value>,
    pub app_metadata: Map<String, Value>,
    /// The identities after the first (accounts linked to the user), as Auth0 shows them.
    pub linked_identities: Vec<Value>,
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => matches!(s.trim().to_ascii_lowercase().as_str(), "1" | "true" | "t" | "yes" | "y"),
        _ => false,
    }
}

impl Profile {
    /// Reads a profile from named fields. A missing `user_id` is the store's mistake.
    pub(crate) fn from_fields(m: &Map<String, Value>) -> Result<Self, String> {
        let user_id = text(m.get("user_id")).ok_or("the result has no user_id")?;
        if user_id.len() > 255 {
            return Err("the user_id is longer than 255 characters".into());
        }
        Ok(Self {
            user_id,
            email: text(m.get("email")),
            email_verified: truthy(m.get("email_verified")),
            username: text(m.get("username")),
            name: text(m.get("name")),
            given_name: text(m.get("given_name")),
            family_name: text(m.get("family_name")),
            nickname: text(m.get("nickname")),
            picture: text(m.get("picture")),
            ..Self::default()
        })
    }

    /// Reads a user of Auth0's Management API (or a line of its users export): the
    /// `auth0|` prefix leaves `user_id`, `created_at` is kept in Auth0's form, metadata
    /// objects as they are.
    pub(crate) fn from_auth0_user(m: &Map<String, Value>) -> Result<Self, String> {
        let mut p = Self::from_fields(m)?;
        if let Some(local) = p.user_id.strip_prefix("auth0|") {
            p.user_id = local.to_string();
        }
        p.email_verified = m.get("email_verified").and_then(Value::as_bool).unwrap_or(false);
        p.created_at = m.get("created_at").and_then(Value::as_str).and_then(gatehouse_core::clock::parse_iso8601);
        let object = |k: &str| m.get(k).and_then(Value::as_object).cloned().unwrap_or_default();
        p.user_metadata = object("user_metadata");
        p.app_metadata = object("app_metadata");
        p.linked_identities = m
            .get("identities")
            .and_then(Value::as_array)
            .map(|ids| ids.iter().skip(1).cloned().collect())
            .unwrap_or_default();
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_loose_types() {
        let m = json!({"user_id": 42, "email": " a@b.co ", "email_verified": 1, "name": ""});
        let p = Profile::from_fields(m.as_object().unwrap()).unwrap();
        assert_eq!(p.user_id, "42");
        assert_eq!(p.email.as_deref(), Some("a@b.co"));
        assert!(p.email_verified);
        assert_eq!(p.name, None);
        assert!(Profile::from_fields(json!({"email": "a@b.co"}).as_object().unwrap()).is_err());
    }

    #[test]
    fn reads_an_auth0_user() {
        let m = json!({"user_id": "auth0|5dea9f9c", "email": "a@b.co", "email_verified": "true",
            "created_at": "2019-12-06T18:36:12.412Z", "user_metadata": {"plan": "pro"},
            "identities": [{"provider": "auth0", "connection": "db", "user_id": "5dea9f9c"},
                {"provider": "github", "user_id": "7"}]});
        let p = Profile::from_auth0_user(m.as_object().unwrap()).unwrap();
        assert_eq!(p.user_id, "5dea9f9c");
        assert!(!p.email_verified, "a string is not Auth0's boolean");
        assert_eq!(p.created_at.as_deref(), Some("2019-12-06T18:36:12.412Z"));
        assert_eq!(p.user_metadata["plan"], json!("pro"));
        assert_eq!(p.linked_identities, vec![json!({"provider": "github", "user_id": "7"})]);
    }
}
