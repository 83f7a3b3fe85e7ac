//! The profile a legacy store returns, read from fields named after Auth0's profile
//! (SQL result columns, HTTP JSON fields, mapped LDAP attributes).

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
        })
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
}
