//! Identities: Auth0's `identities[]`. A user's own row is its primary identity; accounts
//! linked to it are secondary identities, kept with the profile they had (`profileData`).
//! Linking and unlinking rules live here; the store moves the rows.

use crate::error::Error;
use crate::social::is_social_strategy;
use crate::user::User;
use serde_json::{json, Map, Value};

/// A secondary identity linked to a user.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// The strategy (`auth0`, `google-oauth2`, `oidc`, …).
    pub provider: String,
    /// Without the provider prefix (`123`, or `<connection>|<sub>` for OIDC).
    pub user_id: String,
    pub connection_id: String,
    pub connection: String,
    pub is_social: bool,
    pub profile_data: Map<String, Value>,
    pub created_at: String,
}

impl Identity {
    /// The Auth0 `user_id` the identity had as a user of its own.
    pub fn full_user_id(&self) -> String {
        format!("{}|{}", self.provider, self.user_id)
    }

    pub fn to_auth0_json(&self) -> Value {
        let mut v = json!({
            "connection": self.connection,
            "user_id": self.user_id,
            "provider": self.provider,
            "isSocial": self.is_social,
        });
        if !self.profile_data.is_empty() {
            v["profileData"] = Value::Object(self.profile_data.clone());
        }
        v
    }

    /// The identity a user becomes when it is linked to another one: its id and
    /// connection, and its profile as `profileData`.
    pub fn from_user(u: &User, now: &str) -> Self {
        let mut profile = Map::new();
        for (k, v) in [
            ("email", &u.email),
            ("username", &u.username),
            ("phone_number", &u.phone_number),
            ("name", &u.name),
            ("given_name", &u.given_name),
            ("family_name", &u.family_name),
            ("nickname", &u.nickname),
            ("picture", &u.picture),
        ] {
            if let Some(v) = v {
                profile.insert(k.into(), Value::String(v.clone()));
            }
        }
        if u.email.is_some() {
            profile.insert("email_verified".into(), Value::Bool(u.email_verified));
        }
        Self {
            provider: u.provider.clone(),
            user_id: u.local_id().to_string(),
            connection_id: u.connection_id.clone(),
            connection: u.connection.clone(),
            is_social: is_social_strategy(&u.provider),
            profile_data: profile,
            created_at: now.to_string(),
        }
    }

    /// The user an unlinked identity becomes again (Auth0 restores it as a user of its
    /// own, with the profile it was linked with and no password).
    pub fn to_user(&self, now: &str) -> User {
        let s = |k: &str| self.profile_data.get(k).and_then(Value::as_str).map(str::to_string);
        let mut u = User {
            user_id: self.full_user_id(),
            connection_id: self.connection_id.clone(),
            connection: self.connection.clone(),
            provider: self.provider.clone(),
            email: s("email"),
            email_verified: self.profile_data.get("email_verified").and_then(Value::as_bool).unwrap_or(false),
            username: s("username"),
            phone_number: s("phone_number"),
            phone_verified: false,
            name: s("name"),
            nickname: s("nickname"),
            given_name: s("given_name"),
            family_name: s("family_name"),
            picture: s("picture"),
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
        crate::user::default_display(&mut u);
        u
    }
}

/// The user's profile JSON with every identity: its own first, then the linked ones.
pub fn profile_with_identities(user: &User, linked: &[Identity]) -> Value {
    let mut v = user.to_auth0_json();
    if !linked.is_empty() {
        if let Some(Value::Array(ids)) = v.get_mut("identities") {
            ids.extend(linked.iter().map(Identity::to_auth0_json));
        }
    }
    v
}

/// `identities[]` alone (the answer of the link and unlink endpoints).
pub fn identities_json(user: &User, linked: &[Identity]) -> Value {
    profile_with_identities(user, linked).get("identities").cloned().unwrap_or_else(|| json!([]))
}

/// A validated `POST /api/v2/users/{id}/identities` body.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkRequest {
    /// The secondary user by `provider` and `user_id` (optionally pinned to a connection).
    Account { user_id: String, connection_id: Option<String> },
    /// An ID token of the secondary user (`link_with`), verified by the server.
    Token(String),
}

/// Validates the link body: `provider` + `user_id` (+ `connection_id`), or `link_with`.
pub fn link_request(body: &Value) -> Result<LinkRequest, Error> {
    let b = crate::validate::Body::new(body, &["provider", "user_id", "connection_id", "link_with"])?;
    if let crate::validate::Patch::Set(token) = b.string("link_with", 1, 16_384)? {
        if b.has("provider") || b.has("user_id") || b.has("connection_id") {
            return Err(Error::invalid_field("link_with", "give either link_with or provider and user_id, not both"));
        }
        return Ok(LinkRequest::Token(token));
    }
    let provider = match b.string("provider", 1, 64)? {
        crate::validate::Patch::Set(p) => p,
        _ => return Err(Error::missing_field("provider")),
    };
    // Auth0 accepts the id as a string or a number (GitHub and Facebook ids are numbers).
    let user_id = match b.raw("user_id") {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 255 => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return Err(Error::invalid_field("user_id", "Expected a string of 1 to 255 characters or a number")),
        None => return Err(Error::missing_field("user_id")),
    };
    let connection_id = match b.string("connection_id", 1, 64)? {
        crate::validate::Patch::Set(c) if crate::ids::is_connection_id(&c) => Some(c),
        crate::validate::Patch::Set(_) => {
            return Err(Error::invalid_field("connection_id", "String does not match pattern ^con_[A-Za-z0-9]{16}$"))
        }
        _ => None,
    };
    // Both forms of the secondary id are accepted: `123` with the provider, or `github|123`.
    let full = if user_id.starts_with(&format!("{provider}|")) { user_id } else { format!("{provider}|{user_id}") };
    Ok(LinkRequest::Account { user_id: full, connection_id })
}

/// Rules a link must satisfy before the store moves anything.
pub fn check_link(primary: &User, secondary: &User) -> Result<(), Error> {
    if primary.user_id == secondary.user_id {
        return Err(Error::Rejected {
            code: "invalid_body",
            message: "Main identity and the new one are the same.".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::Connection;

    #[test]
    fn link_bodies() {
        assert_eq!(
            link_request(&json!({"provider": "github", "user_id": 123})),
            Ok(LinkRequest::Account { user_id: "github|123".into(), connection_id: None })
        );
        assert_eq!(
            link_request(
                &json!({"provider": "auth0", "user_id": "auth0|abc", "connection_id": "con_0123456789abcdef"})
            ),
            Ok(LinkRequest::Account {
                user_id: "auth0|abc".into(),
                connection_id: Some("con_0123456789abcdef".into())
            })
        );
        assert_eq!(link_request(&json!({"link_with": "a.b.c"})), Ok(LinkRequest::Token("a.b.c".into())));
        let e = link_request(&json!({"user_id": "x"})).err().map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("Payload validation error: 'Missing required property: provider'."));
        assert!(link_request(&json!({"provider": "github", "user_id": "1", "connection_id": "nope"}))
            .is_err_and(|e| e.to_string().contains("connection_id")));
        assert!(link_request(&json!({"provider": "github", "user_id": "1", "extra": 1})).is_err());
    }

    #[test]
    fn identities_round_trip_through_link_and_unlink() {
        let c = Connection::new_database("con_0123456789abcdef".into(), "db".into(), "t".into());
        let mut u = crate::social::new_upstream_user(
            &Connection { strategy: "github".into(), ..c.clone() },
            &crate::social::UpstreamProfile {
                sub: "7".into(),
                email: Some("a@b.co".into()),
                email_verified: true,
                ..Default::default()
            },
            "t",
        );
        u.name = Some("Octo".into());
        let id = Identity::from_user(&u, "t2");
        assert_eq!((id.full_user_id().as_str(), id.is_social), ("github|7", true));
        let back = id.to_user("t3");
        assert_eq!(
            (back.user_id.as_str(), back.email.as_deref(), back.email_verified),
            ("github|7", Some("a@b.co"), true)
        );
        let primary = crate::social::new_upstream_user(
            &Connection { strategy: "auth0".into(), ..c },
            &crate::social::UpstreamProfile { sub: "p".into(), ..Default::default() },
            "t",
        );
        let ids = identities_json(&primary, &[id]);
        assert_eq!(ids[1]["provider"], "github");
        assert_eq!(ids[1]["profileData"]["name"], "Octo");
        assert_eq!(ids[0]["isSocial"], false);
    }
}
