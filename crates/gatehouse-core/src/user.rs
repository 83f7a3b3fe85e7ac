//! Users: the stored record, Auth0's profile JSON, and the rules for creating and
//! patching one through the Management API.

use crate::connection::Connection;
use crate::error::Error;
use crate::validate::{check_phone_number, check_picture_url, validate_metadata, Body, Email, Patch, Username};
use serde_json::{json, Map, Value};

/// A user as stored. `password_hash` is the canonical string of `gatehouse-hash`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct User {
    pub user_id: String,
    pub connection_id: String,
    pub connection: String,
    pub provider: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub username: Option<String>,
    pub phone_number: Option<String>,
    pub phone_verified: bool,
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub picture: Option<String>,
    pub password_hash: Option<String>,
    pub user_metadata: Map<String, Value>,
    pub app_metadata: Map<String, Value>,
    pub blocked: bool,
    pub logins_count: i64,
    pub last_login: Option<String>,
    pub last_ip: Option<String>,
    pub last_password_reset: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// Fields a caller may select with `fields=` on user endpoints.
pub const USER_FIELDS: &[&str] = &[
    "user_id",
    "email",
    "email_verified",
    "username",
    "phone_number",
    "phone_verified",
    "created_at",
    "updated_at",
    "identities",
    "app_metadata",
    "user_metadata",
    "picture",
    "name",
    "nickname",
    "given_name",
    "family_name",
    "last_ip",
    "last_login",
    "logins_count",
    "blocked",
    "last_password_reset",
];

impl User {
    /// The id without its `provider|` prefix, as it appears in `identities[].user_id`.
    pub fn local_id(&self) -> &str {
        self.user_id.split_once('|').map(|(_, id)| id).unwrap_or(&self.user_id)
    }

    /// Auth0's user profile JSON. Absent optional fields are left out, like Auth0 does.
    pub fn to_auth0_json(&self) -> Value {
        let mut m = Map::new();
        let mut put = |k: &str, v: Option<&String>| {
            if let Some(v) = v {
                m.insert(k.to_string(), Value::String(v.clone()));
            }
        };
        put("email", self.email.as_ref());
        put("username", self.username.as_ref());
        put("phone_number", self.phone_number.as_ref());
        put("name", self.name.as_ref());
        put("nickname", self.nickname.as_ref());
        put("given_name", self.given_name.as_ref());
        put("family_name", self.family_name.as_ref());
        put("picture", self.picture.as_ref());
        put("last_ip", self.last_ip.as_ref());
        put("last_login", self.last_login.as_ref());
        put("last_password_reset", self.last_password_reset.as_ref());
        m.insert("email_verified".into(), Value::Bool(self.email_verified));
        if self.phone_number.is_some() {
            m.insert("phone_verified".into(), Value::Bool(self.phone_verified));
        }
        m.insert("user_id".into(), Value::String(self.user_id.clone()));
        m.insert("created_at".into(), Value::String(self.created_at.clone()));
        m.insert("updated_at".into(), Value::String(self.updated_at.clone()));
        m.insert(
            "identities".into(),
            json!([{
                "connection": self.connection,
                "user_id": self.local_id(),
                "provider": self.provider,
                "isSocial": crate::social::is_social_strategy(&self.provider),
            }]),
        );
        m.insert("user_metadata".into(), Value::Object(self.user_metadata.clone()));
        m.insert("app_metadata".into(), Value::Object(self.app_metadata.clone()));
        m.insert("logins_count".into(), Value::from(self.logins_count));
        m.insert("blocked".into(), Value::Bool(self.blocked));
        Value::Object(m)
    }
}

/// Keeps only the requested fields (or drops them, with `include_fields=false`).
pub fn select_fields(profile: Value, fields: Option<&[String]>, include: bool) -> Value {
    let (Some(fields), Value::Object(m)) = (fields, &profile) else { return profile };
    let kept = m
        .iter()
        .filter(|(k, _)| fields.iter().any(|f| f == *k) == include)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Value::Object(kept)
}

/// Auth0 defaults for a new user's display fields: `name` is the email, `nickname` its
/// local part (or both the username when there is no email). Shared with bulk import.
pub fn default_display(user: &mut User) {
    if let Some(email) = &user.email {
        if user.name.is_none() {
            user.name = Some(email.clone());
        }
        if user.nickname.is_none() {
            user.nickname = email.split('@').next().map(str::to_string);
        }
    } else if let Some(username) = &user.username {
        user.name.get_or_insert_with(|| username.clone());
        user.nickname.get_or_insert_with(|| username.clone());
    }
}

/// A validated `POST /api/v2/users` body. The plaintext password is handed to the
/// caller to hash; it never enters a [`User`].
#[derive(Debug)]
pub struct NewUser {
    pub user: User,
    pub password: Option<String>,
}

const CREATE_FIELDS: &[&str] = &[
    "connection",
    "email",
    "phone_number",
    "user_metadata",
    "app_metadata",
    "blocked",
    "email_verified",
    "verify_email",
    "phone_verified",
    "given_name",
    "family_name",
    "name",
    "nickname",
    "picture",
    "user_id",
    "password",
    "username",
];

/// Validates a create body against the connection it names. `local_id` is used unless
/// the body supplies `user_id`; `now` is the creation timestamp.
pub fn new_user(body: &Value, connection: &Connection, local_id: String, now: &str) -> Result<NewUser, Error> {
    let b = Body::new(body, CREATE_FIELDS)?;
    if connection.is_passwordless() {
        return new_passwordless_user(&b, connection, local_id, now);
    }
    if connection.strategy != "auth0" {
        return Err(Error::body(
            "Connection does not support user creation through the API. It must either be a database or passwordless connection.",
        ));
    }
    let requires_username = connection.requires_username();
    let (umin, umax) = connection.username_bounds();
    let email = match b.string("email", 1, 254)? {
        Patch::Set(e) => Some(Email::parse(&e).map_err(|r| invalid("email", &r))?.into_string()),
        _ => None,
    };
    let username = match b.string("username", 1, 128)? {
        Patch::Set(_) if !requires_username => {
            return Err(Error::body("Cannot set username for connection without requires_username."))
        }
        Patch::Set(u) => Some(Username::parse(&u, umin, umax).map_err(|r| invalid("username", &r))?.into_string()),
        _ if requires_username => return Err(Error::missing_field("username")),
        _ => None,
    };
    if email.is_none() {
        return Err(Error::missing_field("email"));
    }
    let password = match b.string("password", 1, 1024)? {
        Patch::Set(p) => Some(p),
        _ => None,
    };
    let user_id_local = match b.string("user_id", 1, 255)? {
        Patch::Set(id) => {
            if id.contains('|') {
                return Err(invalid("user_id", "the user_id may not contain '|'; it is prefixed with the provider"));
            }
            id
        }
        _ => local_id,
    };
    let user_metadata = metadata(&b, "user_metadata")?;
    let app_metadata = metadata(&b, "app_metadata")?;
    let email_verified = matches!(b.boolean("email_verified")?, Patch::Set(true));
    b.boolean("verify_email")?;
    let phone_number = phone(&b)?;
    let picture = picture(&b)?;
    let mut user = User {
        user_id: format!("auth0|{user_id_local}"),
        connection_id: connection.id.clone(),
        connection: connection.name.clone(),
        provider: "auth0".into(),
        email,
        email_verified,
        username,
        phone_verified: matches!(b.boolean("phone_verified")?, Patch::Set(true)),
        phone_number,
        name: set(b.string("name", 1, 300)?),
        nickname: set(b.string("nickname", 1, 300)?),
        given_name: set(b.string("given_name", 1, 150)?),
        family_name: set(b.string("family_name", 1, 150)?),
        picture,
        password_hash: None,
        user_metadata,
        app_metadata,
        blocked: matches!(b.boolean("blocked")?, Patch::Set(true)),
        logins_count: 0,
        last_login: None,
        last_ip: None,
        last_password_reset: None,
        created_at: now.to_string(),
        updated_at: now.to_string(),
    };
    default_display(&mut user);
    Ok(NewUser { user, password })
}

/// A user of a passwordless connection from a create body: `email` (strategy `email`)
/// or `phone_number` (`sms`) required, no password or username; ids `email|…`/`sms|…`.
fn new_passwordless_user(b: &Body, connection: &Connection, local_id: String, now: &str) -> Result<NewUser, Error> {
    if b.has("password") || b.has("username") {
        return Err(Error::body("Passwordless connections do not accept a password or a username."));
    }
    let email = match b.string("email", 1, 254)? {
        Patch::Set(e) => Some(Email::parse(&e).map_err(|r| invalid("email", &r))?.into_string()),
        _ => None,
    };
    let phone_number = phone(b)?;
    let identifier = match connection.strategy.as_str() {
        "sms" => phone_number.clone().ok_or_else(|| Error::missing_field("phone_number"))?,
        _ => email.clone().ok_or_else(|| Error::missing_field("email"))?,
    };
    let mut user = passwordless_user(connection, &identifier, local_id, now);
    user.email = email;
    user.phone_number = phone_number;
    user.email_verified = matches!(b.boolean("email_verified")?, Patch::Set(true));
    user.phone_verified = matches!(b.boolean("phone_verified")?, Patch::Set(true));
    b.boolean("verify_email")?;
    user.user_metadata = metadata(b, "user_metadata")?;
    user.app_metadata = metadata(b, "app_metadata")?;
    user.blocked = matches!(b.boolean("blocked")?, Patch::Set(true));
    user.name = set(b.string("name", 1, 300)?);
    user.nickname = set(b.string("nickname", 1, 300)?);
    user.given_name = set(b.string("given_name", 1, 150)?);
    user.family_name = set(b.string("family_name", 1, 150)?);
    user.picture = picture(b)?;
    if let Patch::Set(id) = b.string("user_id", 1, 255)? {
        if id.contains('|') {
            return Err(invalid("user_id", "the user_id may not contain '|'; it is prefixed with the provider"));
        }
        user.user_id = format!("{}|{id}", connection.strategy);
    }
    default_display(&mut user);
    Ok(NewUser { user, password: None })
}

/// A new user of passwordless `connection` who proved `identifier` (an email address
/// for strategy `email`, a phone number for `sms`): Auth0's `email|…`/`sms|…` ids, the
/// identifier verified.
pub fn passwordless_user(connection: &Connection, identifier: &str, local_id: String, now: &str) -> User {
    let sms = connection.strategy == "sms";
    let mut user = User {
        user_id: format!("{}|{local_id}", connection.strategy),
        connection_id: connection.id.clone(),
        connection: connection.name.clone(),
        provider: connection.strategy.clone(),
        email: (!sms).then(|| identifier.to_string()),
        email_verified: !sms,
        username: None,
        phone_number: sms.then(|| identifier.to_string()),
        phone_verified: sms,
        name: None,
        nickname: None,
        given_name: None,
        family_name: None,
        picture: None,
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
    default_display(&mut user);
    user
}

const SIGNUP_FIELDS: &[&str] = &[
    "client_id",
    "connection",
    "email",
    "password",
    "username",
    "phone_number",
    "given_name",
    "family_name",
    "name",
    "nickname",
    "picture",
    "user_metadata",
];

/// Validates a `POST /dbconnections/signup` body (Auth0's fields) into a new user of
/// `connection`. `user_metadata` is limited as Auth0 limits it at sign-up: at most 10
/// properties, names of at most 100 characters, string values of at most 500.
pub fn signup_user(body: &Value, connection: &Connection, local_id: String, now: &str) -> Result<NewUser, Error> {
    let b = Body::new(body, SIGNUP_FIELDS)?;
    b.required_string("password", 1, 1024)?;
    checked_signup(&b, body, connection, local_id, now)
}

/// A user signing up with a passkey instead of a password: the fields of [`signup_user`]
/// but no `password`, under the local id chosen before the passkey ceremony (the
/// credential's user handle is derived from the user id).
pub fn passkey_signup_user(body: &Value, connection: &Connection, local_id: String, now: &str) -> Result<User, Error> {
    let b = Body::new(body, SIGNUP_FIELDS)?;
    if b.has("password") {
        return Err(Error::body("Payload validation error: a passkey sign-up takes no password."));
    }
    Ok(checked_signup(&b, body, connection, local_id, now)?.user)
}

fn checked_signup(
    b: &Body,
    body: &Value,
    connection: &Connection,
    local_id: String,
    now: &str,
) -> Result<NewUser, Error> {
    b.string("client_id", 1, 128)?;
    if let Patch::Set(m) = b.json_object("user_metadata")? {
        let bad = m.len() > 10
            || m.iter().any(|(k, v)| k.chars().count() > 100 || v.as_str().is_none_or(|s| s.chars().count() > 500));
        if bad {
            return Err(invalid(
                "user_metadata",
                "at most 10 properties, named in at most 100 characters, with string values of at most 500 characters",
            ));
        }
    }
    let mut fields = body.as_object().cloned().unwrap_or_default();
    fields.remove("client_id");
    fields.insert("connection".into(), Value::String(connection.name.clone()));
    new_user(&Value::Object(fields), connection, local_id, now)
}

fn set<T>(p: Patch<T>) -> Option<T> {
    match p {
        Patch::Set(v) => Some(v),
        _ => None,
    }
}

fn invalid(field: &str, reason: &str) -> Error {
    Error::invalid_field(field, reason)
}

fn metadata(b: &Body, field: &str) -> Result<Map<String, Value>, Error> {
    match b.json_object(field)? {
        Patch::Set(m) => {
            validate_metadata(field, &m)?;
            Ok(m)
        }
        _ => Ok(Map::new()),
    }
}

fn phone(b: &Body) -> Result<Option<String>, Error> {
    match b.string("phone_number", 2, 16)? {
        Patch::Set(p) => {
            check_phone_number(&p).map_err(|r| invalid("phone_number", &r))?;
            Ok(Some(p))
        }
        _ => Ok(None),
    }
}

fn picture(b: &Body) -> Result<Option<String>, Error> {
    match b.string("picture", 1, 2048)? {
        Patch::Set(p) => {
            check_picture_url(&p).map_err(|r| invalid("picture", &r))?;
            Ok(Some(p))
        }
        _ => Ok(None),
    }
}

/// A validated `PATCH /api/v2/users/{id}` body.
#[derive(Debug, Default)]
pub struct UserPatch {
    pub password: Option<String>,
    changes: Vec<Change>,
}

#[derive(Debug)]
enum Change {
    Email(String),
    EmailVerified(bool),
    Username(Option<String>),
    PhoneNumber(Option<String>),
    PhoneVerified(bool),
    Name(Patch<String>),
    Nickname(Patch<String>),
    GivenName(Patch<String>),
    FamilyName(Patch<String>),
    Picture(Patch<String>),
    Blocked(bool),
    UserMetadata(Option<Map<String, Value>>),
    AppMetadata(Option<Map<String, Value>>),
}

const PATCH_FIELDS: &[&str] = &[
    "app_metadata",
    "blocked",
    "email",
    "email_verified",
    "family_name",
    "given_name",
    "name",
    "nickname",
    "password",
    "phone_number",
    "phone_verified",
    "picture",
    "username",
    "user_metadata",
    "verify_email",
    "verify_phone_number",
    "connection",
    "client_id",
];

/// Validates a PATCH body. `connection` is the user's own connection (its rules bound
/// usernames).
pub fn user_patch(body: &Value, connection: &Connection) -> Result<UserPatch, Error> {
    let b = Body::new(body, PATCH_FIELDS)?;
    for (x, y) in [
        ("password", "email"),
        ("password", "email_verified"),
        ("username", "email"),
        ("username", "email_verified"),
        ("username", "password"),
    ] {
        if b.has(x) && b.has(y) {
            return Err(Error::body(format!("Cannot update {x} and {y} simultaneously")));
        }
    }
    b.string("connection", 1, 128)?;
    b.string("client_id", 1, 128)?;
    b.boolean("verify_email")?;
    b.boolean("verify_phone_number")?;
    let mut patch = UserPatch::default();
    let mut push = |c| patch.changes.push(c);
    match b.string("email", 1, 254)? {
        Patch::Set(e) => push(Change::Email(Email::parse(&e).map_err(|r| invalid("email", &r))?.into_string())),
        Patch::Null => return Err(invalid("email", "the email of a database user cannot be removed")),
        Patch::Absent => {}
    }
    if let Patch::Set(v) = b.boolean("email_verified")? {
        push(Change::EmailVerified(v));
    }
    match b.string("username", 1, 128)? {
        Patch::Set(u) => {
            if !connection.requires_username() {
                return Err(Error::body("Cannot set username for connection without requires_username."));
            }
            let (min, max) = connection.username_bounds();
            push(Change::Username(Some(
                Username::parse(&u, min, max).map_err(|r| invalid("username", &r))?.into_string(),
            )))
        }
        Patch::Null => push(Change::Username(None)),
        Patch::Absent => {}
    }
    if b.raw("phone_number").is_some() {
        push(Change::PhoneNumber(phone(&b)?));
    }
    if let Patch::Set(v) = b.boolean("phone_verified")? {
        push(Change::PhoneVerified(v));
    }
    push(Change::Name(b.string("name", 1, 300)?));
    push(Change::Nickname(b.string("nickname", 1, 300)?));
    push(Change::GivenName(b.string("given_name", 1, 150)?));
    push(Change::FamilyName(b.string("family_name", 1, 150)?));
    match b.raw("picture") {
        None => {}
        Some(Value::Null) => push(Change::Picture(Patch::Null)),
        Some(_) => push(Change::Picture(picture(&b)?.map_or(Patch::Absent, Patch::Set))),
    }
    if let Patch::Set(v) = b.boolean("blocked")? {
        push(Change::Blocked(v));
    }
    for (field, is_user) in [("user_metadata", true), ("app_metadata", false)] {
        let change = match b.json_object(field)? {
            Patch::Absent => continue,
            Patch::Null => None,
            Patch::Set(m) => {
                validate_metadata(field, &m)?;
                Some(m)
            }
        };
        push(if is_user { Change::UserMetadata(change) } else { Change::AppMetadata(change) });
    }
    patch.password = match b.string("password", 1, 1024)? {
        Patch::Set(p) => Some(p),
        Patch::Null => return Err(invalid("password", "the password cannot be removed")),
        Patch::Absent => None,
    };
    Ok(patch)
}

impl UserPatch {
    /// Applies the patch with Auth0's rules: metadata merges at the first level (a `null`
    /// value removes a key; `null` for the whole object clears it), other fields are
    /// replaced, and a changed email is unverified unless the patch verifies it.
    pub fn apply(self, user: &mut User, now: &str) {
        let verifies = self.changes.iter().any(|c| matches!(c, Change::EmailVerified(_)));
        for change in self.changes {
            match change {
                Change::Email(e) => {
                    if user.email.as_deref() != Some(e.as_str()) && !verifies {
                        user.email_verified = false;
                    }
                    user.email = Some(e);
                }
                Change::EmailVerified(v) => user.email_verified = v,
                Change::Username(u) => user.username = u,
                Change::PhoneNumber(p) => user.phone_number = p,
                Change::PhoneVerified(v) => user.phone_verified = v,
                Change::Name(p) => p.apply_to(&mut user.name),
                Change::Nickname(p) => p.apply_to(&mut user.nickname),
                Change::GivenName(p) => p.apply_to(&mut user.given_name),
                Change::FamilyName(p) => p.apply_to(&mut user.family_name),
                Change::Picture(p) => p.apply_to(&mut user.picture),
                Change::Blocked(v) => user.blocked = v,
                Change::UserMetadata(m) => merge_metadata(&mut user.user_metadata, m),
                Change::AppMetadata(m) => merge_metadata(&mut user.app_metadata, m),
            }
        }
        user.updated_at = now.to_string();
    }

    pub fn changes_email(&self) -> bool {
        self.changes.iter().any(|c| matches!(c, Change::Email(_)))
    }
}

/// Auth0's first-level metadata merge.
pub fn merge_metadata(stored: &mut Map<String, Value>, patch: Option<Map<String, Value>>) {
    let Some(patch) = patch else {
        stored.clear();
        return;
    };
    for (k, v) in patch {
        if v.is_null() {
            stored.remove(&k);
        } else {
            stored.insert(k, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn db() -> Connection {
        Connection::new_database("con_0123456789abcdef".into(), "Username-Password-Authentication".into(), "t".into())
    }

    fn create(body: Value) -> Result<NewUser, Error> {
        new_user(&body, &db(), "0123456789abcdef01234567".into(), "2024-01-01T00:00:00.000Z")
    }

    #[test]
    fn create_defaults_like_auth0() {
        let u = create(
            json!({"connection": "Username-Password-Authentication", "email": "Ann@Example.com", "password": "x"}),
        )
        .map(|n| n.user);
        let u = u.as_ref().ok();
        assert_eq!(u.map(|u| u.user_id.as_str()), Some("auth0|0123456789abcdef01234567"));
        assert_eq!(u.and_then(|u| u.email.as_deref()), Some("ann@example.com"));
        assert_eq!(u.and_then(|u| u.nickname.as_deref()), Some("ann"));
        assert_eq!(u.and_then(|u| u.name.as_deref()), Some("ann@example.com"));
    }

    #[test]
    fn create_errors_name_the_field() {
        let e = create(json!({"connection": "c", "email": "nope"})).err().map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("Payload validation error: 'the email address has no '@'' on property email."));
        let e = create(json!({"connection": "c", "email": "a@b.co", "username": "bob"})).err().map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("Cannot set username for connection without requires_username."));
        let e = create(json!({"connection": "c", "email": "a@b.co", "user_metadata": {"a.b": 1}})).err();
        assert!(e.is_some());
    }

    #[test]
    fn patch_merges_metadata_first_level() {
        let mut u = create(json!({"connection": "c", "email": "a@b.co", "email_verified": true,
            "user_metadata": {"a": 1, "b": {"x": 1}, "c": 3}}))
        .map(|n| n.user)
        .unwrap_or_else(|e| unreachable!("{e}"));
        let p = user_patch(&json!({"user_metadata": {"b": {"y": 2}, "c": null, "d": 4}}), &db());
        p.unwrap_or_else(|e| unreachable!("{e}")).apply(&mut u, "2024-01-02T00:00:00.000Z");
        assert_eq!(Value::Object(u.user_metadata.clone()), json!({"a": 1, "b": {"y": 2}, "d": 4}));
        assert_eq!(u.updated_at, "2024-01-02T00:00:00.000Z");
        let p = user_patch(&json!({"email": "new@b.co"}), &db()).unwrap_or_else(|e| unreachable!("{e}"));
        p.apply(&mut u, "2024-01-03T00:00:00.000Z");
        assert!(!u.email_verified, "a changed email is unverified");
    }

    #[test]
    fn patch_rejects_exclusive_pairs() {
        let e = user_patch(&json!({"password": "x", "email": "a@b.co"}), &db()).err().map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("Cannot update password and email simultaneously"));
    }
}
