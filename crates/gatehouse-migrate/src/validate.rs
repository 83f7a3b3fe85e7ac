//! Per-record validation against Auth0's bulk-import user schema (AUTH0-SPEC §1.2, §1.3),
//! producing a [`User`] ready to store.
//!
//! Every problem in a record is reported, not just the first, each with Auth0's error
//! code (the z-schema vocabulary Auth0 uses: `INVALID_TYPE`, `OBJECT_REQUIRED`,
//! `OBJECT_ADDITIONAL_PROPERTIES`, `FORMAT`, `PATTERN`, `MIN_LENGTH`, `MAX_LENGTH`,
//! `ENUM_MISMATCH`, `MAXIMUM`, `ARRAY_LENGTH_SHORT`, `ARRAY_LENGTH_LONG`,
//! `OBJECT_PROPERTIES_MAXIMUM`, `ANY_OF_MISSING`, `NOT_PASSED`) and a field path.
//!
//! Field rules come from `gatehouse-core` (email, username, phone, picture, metadata,
//! display defaults) and `gatehouse-hash` (both hash forms), so the Management API and
//! import accept exactly the same values.

use crate::error::{type_name, FieldError, RecordError};
use crate::map::IMPORT_FIELDS;
use crate::read::RawRecord;
use gatehouse_core::connection::Connection;
use gatehouse_core::ids;
use gatehouse_core::user::{default_display, User};
use gatehouse_core::validate::{
    check_phone_number, check_picture_url, path_of_nul, validate_metadata, Email, Username,
};
use gatehouse_hash::{HashError, Hasher};
use serde_json::{Map, Value};

/// `app_metadata` keys Auth0 refuses on import (AUTH0-SPEC §1.2).
pub const PROHIBITED_APP_METADATA_KEYS: &[&str] = &[
    "__tenant",
    "_id",
    "blocked",
    "clientID",
    "created_at",
    "email_verified",
    "email",
    "globalClientID",
    "global_client_id",
    "identities",
    "lastIP",
    "lastLogin",
    "loginsCount",
    "metadata",
    "multifactor_last_modified",
    "multifactor",
    "updated_at",
    "user_id",
];

/// Which upsertable attributes the file gave (AUTH0-SPEC §1.2 "upsertable"), so an
/// upsert changes only those (see [`crate::apply_upsert`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Provided {
    pub email_verified: bool,
    pub given_name: bool,
    pub family_name: bool,
    pub name: bool,
    pub nickname: bool,
    pub picture: bool,
    pub user_metadata: bool,
    pub app_metadata: bool,
    pub custom_password_hash: bool,
}

/// Where the imported user's password hash came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashSource {
    /// No hash: the user must reset their password before logging in.
    None,
    /// `password_hash`: set on first import only, never updated by an upsert.
    PasswordHash,
    /// `custom_password_hash`: replaceable by an upsert until the user logs in.
    Custom,
}

/// A valid record, ready to insert (or to upsert onto an existing user).
#[derive(Debug, Clone, PartialEq)]
pub struct ImportUser {
    /// The record's index in the file.
    pub index: u64,
    /// `user_id` is `auth0|<id>`, `password_hash` the canonical stored string of
    /// gatehouse-hash; `name`/`nickname` carry Auth0's defaults when absent.
    pub user: User,
    pub provided: Provided,
    /// The file gave `user_id` (otherwise a fresh one was generated).
    pub user_id_given: bool,
    pub hash_source: HashSource,
    /// Validated `mfa_factors` items, as given; the importer stores them with the user.
    pub mfa_factors: Vec<Value>,
}

/// Validates one record for `connection`. `now` becomes `created_at`/`updated_at`.
/// On failure, the error lists every problem found and the record with secrets masked.
pub fn validate(
    record: &RawRecord,
    connection: &Connection,
    hasher: &Hasher,
    now: &str,
) -> Result<ImportUser, RecordError> {
    check_record(record, connection, hasher, now, Metadata::Copy)
}

/// [`validate`], consuming the record: the metadata objects are moved into the user
/// rather than copied (they are most of a record's allocations).
pub fn validate_owned(
    mut record: RawRecord,
    connection: &Connection,
    hasher: &Hasher,
    now: &str,
) -> Result<ImportUser, RecordError> {
    let mut checked = check_record(&record, connection, hasher, now, Metadata::Leave)?;
    if let Value::Object(m) = &mut record.user {
        let mut take = |key: &str| match m.get_mut(key).map(Value::take) {
            Some(Value::Object(o)) => o,
            _ => Map::new(),
        };
        if checked.provided.user_metadata {
            checked.user.user_metadata = take("user_metadata");
        }
        if checked.provided.app_metadata {
            checked.user.app_metadata = take("app_metadata");
        }
    }
    Ok(checked)
}

/// Whether [`check_record`] copies valid metadata into the user or leaves it for the
/// caller to move.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Metadata {
    Copy,
    Leave,
}

fn check_record(
    record: &RawRecord,
    connection: &Connection,
    hasher: &Hasher,
    now: &str,
    metadata: Metadata,
) -> Result<ImportUser, RecordError> {
    let mut c = Check { errors: record.mapping_errors.clone() };
    let Value::Object(m) = &record.user else {
        c.push("INVALID_TYPE", "", format!("Expected type object but found type {}", type_name(&record.user)));
        return Err(RecordError::new(record.index, &record.user, c.errors));
    };
    for k in m.keys() {
        if !IMPORT_FIELDS.contains(&k.as_str()) {
            c.push("OBJECT_ADDITIONAL_PROPERTIES", k.clone(), format!("Additional properties not allowed: {k}"));
        }
    }
    if let Some(path) = path_of_nul(&record.user) {
        c.push("FORMAT", path, "NUL characters are not allowed");
    }

    let email = match m.get("email") {
        None => {
            c.push("OBJECT_REQUIRED", "email", "Missing required property: email");
            None
        }
        Some(_) => c.string(m, "email", 254).and_then(|e| match Email::parse(&e) {
            Ok(e) => Some(e.into_string()),
            Err(reason) => {
                c.push("FORMAT", "email", format!("Object didn't pass validation for format email: {reason}"));
                None
            }
        }),
    };
    let user_id = c.string(m, "user_id", 255);
    if user_id.as_deref().is_some_and(|id| id.contains('|')) {
        c.push(
            "PATTERN",
            "user_id",
            "String does not match pattern ^[^|]+$: the user_id may not contain '|'; it is prefixed with the provider",
        );
    }
    let username = match c.string(m, "username", 128) {
        Some(_) if !connection.requires_username() => {
            c.push("NOT_PASSED", "username", "Cannot set username for connection without requires_username.");
            None
        }
        Some(u) => {
            let (min, max) = connection.username_bounds();
            match Username::parse(&u, min, max) {
                Ok(u) => Some(u.into_string()),
                Err(reason) => {
                    c.push("FORMAT", "username", reason);
                    None
                }
            }
        }
        None if connection.requires_username() && !m.contains_key("username") => {
            c.push("OBJECT_REQUIRED", "username", "Missing required property: username");
            None
        }
        None => None,
    };
    let given_name = c.string(m, "given_name", 150);
    let family_name = c.string(m, "family_name", 150);
    let name = c.string(m, "name", 300);
    let nickname = c.string(m, "nickname", 300);
    let picture = c.string(m, "picture", 2048).filter(|p| match check_picture_url(p) {
        Ok(()) => true,
        Err(reason) => {
            c.push("FORMAT", "picture", format!("Object didn't pass validation for format uri: {reason}"));
            false
        }
    });
    let phone_number = c.string(m, "phone_number", 16).filter(|p| match check_phone_number(p) {
        Ok(()) => true,
        Err(reason) => {
            c.push("PATTERN", "phone_number", format!("String does not match pattern ^\\+[0-9]{{1,15}}$: {reason}"));
            false
        }
    });
    let email_verified = c.boolean(m, "email_verified");
    let phone_verified = c.boolean(m, "phone_verified");
    let blocked = c.boolean(m, "blocked");
    let user_metadata = c.metadata(m, "user_metadata");
    let app_metadata = c.metadata(m, "app_metadata");
    if let Some(app) = app_metadata {
        for k in app.keys().filter(|k| PROHIBITED_APP_METADATA_KEYS.contains(&k.as_str())) {
            c.push("NOT_PASSED", format!("app_metadata.{k}"), format!("app_metadata may not contain the key {k:?}"));
        }
    }

    let (password_hash, hash_source) = match (m.get("password_hash"), m.get("custom_password_hash")) {
        (Some(_), Some(_)) => {
            c.push(
                "NOT_PASSED",
                "custom_password_hash",
                "password_hash and custom_password_hash are mutually exclusive",
            );
            (None, HashSource::None)
        }
        (Some(_), None) => match c.string(m, "password_hash", usize::MAX) {
            Some(s) => match hasher.parse_password_hash(&s) {
                Ok(h) => (Some(h.to_stored()), HashSource::PasswordHash),
                Err(e) => {
                    c.errors.push(hash_error(&e));
                    (None, HashSource::None)
                }
            },
            None => (None, HashSource::None),
        },
        (None, Some(v @ Value::Object(_))) => match hasher.parse_custom_password_hash(v) {
            Ok(h) => (Some(h.to_stored()), HashSource::Custom),
            Err(e) => {
                c.errors.push(hash_error(&e));
                (None, HashSource::None)
            }
        },
        (None, Some(other)) => {
            c.push(
                "INVALID_TYPE",
                "custom_password_hash",
                format!("Expected type object but found type {}", type_name(other)),
            );
            (None, HashSource::None)
        }
        (None, None) => (None, HashSource::None),
    };
    let mfa_factors = c.mfa_factors(m);

    if !c.errors.is_empty() {
        return Err(RecordError::new(record.index, &record.user, c.errors));
    }
    let provided = Provided {
        email_verified: email_verified.is_some(),
        given_name: given_name.is_some(),
        family_name: family_name.is_some(),
        name: name.is_some(),
        nickname: nickname.is_some(),
        picture: picture.is_some(),
        user_metadata: user_metadata.is_some(),
        app_metadata: app_metadata.is_some(),
        custom_password_hash: hash_source == HashSource::Custom,
    };
    let user_id_given = user_id.is_some();
    let local_id = user_id.unwrap_or_else(ids::new_user_local_id);
    let mut user = User {
        user_id: format!("auth0|{local_id}"),
        connection_id: connection.id.clone(),
        connection: connection.name.clone(),
        provider: "auth0".into(),
        email,
        email_verified: email_verified.unwrap_or(false),
        username,
        phone_number,
        phone_verified: phone_verified.unwrap_or(false),
        name,
        nickname,
        given_name,
        family_name,
        picture,
        password_hash,
        user_metadata: copy_metadata(user_metadata, metadata),
        app_metadata: copy_metadata(app_metadata, metadata),
        blocked: blocked.unwrap_or(false),
        logins_count: 0,
        last_login: None,
        last_ip: None,
        last_password_reset: None,
        created_at: now.to_string(),
        updated_at: now.to_string(),
    };
    default_display(&mut user);
    Ok(ImportUser { index: record.index, user, provided, user_id_given, hash_source, mfa_factors })
}

fn copy_metadata(valid: Option<&Map<String, Value>>, how: Metadata) -> Map<String, Value> {
    match (valid, how) {
        (Some(m), Metadata::Copy) => m.clone(),
        _ => Map::new(),
    }
}

/// A gatehouse-hash error as an Auth0 field error. The hash crate names the field; its
/// error kind picks the closest schema code.
fn hash_error(e: &HashError) -> FieldError {
    let code = match e {
        HashError::Malformed { reason, .. } if reason == "is required" => "OBJECT_REQUIRED",
        HashError::Malformed { reason, .. } if reason == "unknown field" => "OBJECT_ADDITIONAL_PROPERTIES",
        HashError::Malformed { reason, .. } if reason.starts_with("must be a") => "INVALID_TYPE",
        HashError::Malformed { .. } | HashError::Internal { .. } => "FORMAT",
        HashError::Unsupported { .. } => "ENUM_MISMATCH",
        HashError::OutOfBounds { .. } => "MAXIMUM",
    };
    FieldError::new(code, e.field(), e.reason())
}

/// Checks the `mfa_factors` member of `record` as the bulk-import schema does: the valid
/// items (all of them, or none if one is bad), and every problem with its path.
pub(crate) fn check_mfa_factors(record: &Map<String, Value>) -> (Vec<Value>, Vec<FieldError>) {
    let mut c = Check { errors: Vec::new() };
    let items = c.mfa_factors(record);
    (items, c.errors)
}

/// A check of one MFA factor value; `Err` is the message.
type ValueCheck = fn(&str) -> Result<(), String>;

/// Collects errors while reading fields; each reader returns `None` on error.
struct Check {
    errors: Vec<FieldError>,
}

impl Check {
    fn push(&mut self, code: &'static str, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError::new(code, path, message));
    }

    fn wrong_type(&mut self, path: &str, expected: &str, found: &Value) {
        self.push("INVALID_TYPE", path, format!("Expected type {expected} but found type {}", type_name(found)));
    }

    fn string(&mut self, m: &Map<String, Value>, key: &str, max: usize) -> Option<String> {
        match m.get(key)? {
            Value::String(s) => {
                let n = s.chars().count();
                if n == 0 {
                    self.push("MIN_LENGTH", key, "String is too short (0 chars), minimum 1");
                    None
                } else if n > max {
                    self.push("MAX_LENGTH", key, format!("String is too long ({n} chars), maximum {max}"));
                    None
                } else {
                    Some(s.clone())
                }
            }
            other => {
                self.wrong_type(key, "string", other);
                None
            }
        }
    }

    fn boolean(&mut self, m: &Map<String, Value>, key: &str) -> Option<bool> {
        match m.get(key)? {
            Value::Bool(b) => Some(*b),
            other => {
                self.wrong_type(key, "boolean", other);
                None
            }
        }
    }

    fn metadata<'m>(&mut self, m: &'m Map<String, Value>, key: &str) -> Option<&'m Map<String, Value>> {
        match m.get(key)? {
            Value::Object(o) => match validate_metadata(key, o) {
                Ok(()) => Some(o),
                Err(e) => {
                    self.push("FORMAT", key, e.to_string());
                    None
                }
            },
            other => {
                self.wrong_type(key, "object", other);
                None
            }
        }
    }

    /// `mfa_factors`: 1 to 10 items, each exactly one of `totp`, `phone`, `email`.
    fn mfa_factors(&mut self, m: &Map<String, Value>) -> Vec<Value> {
        let items = match m.get("mfa_factors") {
            None => return Vec::new(),
            Some(Value::Array(a)) => a,
            Some(other) => {
                self.wrong_type("mfa_factors", "array", other);
                return Vec::new();
            }
        };
        if items.is_empty() {
            self.push("ARRAY_LENGTH_SHORT", "mfa_factors", "Array is too short (0), minimum 1");
        }
        if items.len() > 10 {
            self.push("ARRAY_LENGTH_LONG", "mfa_factors", format!("Array is too long ({}), maximum 10", items.len()));
        }
        let before = self.errors.len();
        for (i, item) in items.iter().enumerate() {
            let at = format!("mfa_factors[{i}]");
            let Value::Object(f) = item else {
                self.wrong_type(&at, "object", item);
                continue;
            };
            if f.len() > 1 {
                self.push(
                    "OBJECT_PROPERTIES_MAXIMUM",
                    at.clone(),
                    format!("Too many properties defined ({}), must not be more than 1", f.len()),
                );
            }
            if f.is_empty() {
                self.push(
                    "ANY_OF_MISSING",
                    at.clone(),
                    "Data does not match any schemas from 'anyOf' (totp, phone, email)",
                );
            }
            for (kind, body) in f {
                let (field, check): (&str, ValueCheck) = match kind.as_str() {
                    "totp" => ("secret", |s| {
                        let ok =
                            !s.is_empty() && s.bytes().all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b));
                        if !ok {
                            Err("String does not match pattern ^[A-Z2-7]+$".into())
                        } else if matches!(s.len() % 8, 1 | 3 | 6) {
                            // No byte string encodes to such a length: the secret was cut.
                            Err(format!("String is not un-padded Base32 (no secret has {} characters)", s.len()))
                        } else {
                            Ok(())
                        }
                    }),
                    "phone" => ("value", |s| {
                        check_phone_number(s).map_err(|_| "String does not match pattern ^\\+[0-9]{1,15}$".to_string())
                    }),
                    "email" => ("value", |s| {
                        Email::parse(s)
                            .map(|_| ())
                            .map_err(|r| format!("Object didn't pass validation for format email: {r}"))
                    }),
                    other => {
                        self.push(
                            "OBJECT_ADDITIONAL_PROPERTIES",
                            format!("{at}.{other}"),
                            format!("Additional properties not allowed: {other}"),
                        );
                        continue;
                    }
                };
                let here = format!("{at}.{kind}");
                let Value::Object(b) = body else {
                    self.wrong_type(&here, "object", body);
                    continue;
                };
                for k in b.keys().filter(|k| k.as_str() != field) {
                    self.push(
                        "OBJECT_ADDITIONAL_PROPERTIES",
                        format!("{here}.{k}"),
                        format!("Additional properties not allowed: {k}"),
                    );
                }
                match b.get(field) {
                    None => self.push(
                        "OBJECT_REQUIRED",
                        format!("{here}.{field}"),
                        format!("Missing required property: {field}"),
                    ),
                    Some(Value::String(s)) => {
                        if let Err(msg) = check(s) {
                            let code = if kind == "email" { "FORMAT" } else { "PATTERN" };
                            self.push(code, format!("{here}.{field}"), msg);
                        }
                    }
                    Some(other) => self.wrong_type(&format!("{here}.{field}"), "string", other),
                }
            }
        }
        if self.errors.len() > before {
            return Vec::new();
        }
        items.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn conn() -> Connection {
        Connection::new_database("con_0123456789abcdef".into(), "db".into(), "t".into())
    }

    fn run(v: Value) -> Result<ImportUser, RecordError> {
        let r = RawRecord { index: 7, line: 1, user: v, mapping_errors: Vec::new() };
        validate(&r, &conn(), &Hasher::default(), "2024-01-01T00:00:00.000Z")
    }

    fn codes(v: Value) -> Vec<(String, &'static str)> {
        match run(v) {
            Ok(_) => Vec::new(),
            Err(e) => e.errors.into_iter().map(|e| (e.path, e.code)).collect(),
        }
    }

    #[test]
    fn minimal_record_gets_auth0_defaults() {
        let u = run(json!({"email": "Ann@Example.com"})).map(|i| i.user);
        let u = u.unwrap();
        assert_eq!(u.email.as_deref(), Some("ann@example.com"));
        assert_eq!(u.name.as_deref(), Some("ann@example.com"));
        assert_eq!(u.nickname.as_deref(), Some("ann"));
        assert!(u.user_id.starts_with("auth0|") && u.user_id.len() == 30);
        assert!(!u.email_verified);
    }

    #[test]
    fn reports_every_error() {
        let got = codes(json!({
            "email_verified": "yes", "user_id": "a|b", "bogus": 1, "username": "bob",
            "phone_number": "12", "picture": "ftp://x", "app_metadata": {"blocked": true},
            "password_hash": "$2b$10$x", "custom_password_hash": {},
            "mfa_factors": [{"totp": {"secret": "abc"}}, {"phone": {"value": "+1"}, "email": {"value": "a@b.co"}}, {"sms": {}}]
        }));
        let want: Vec<(String, &str)> = vec![
            ("bogus".into(), "OBJECT_ADDITIONAL_PROPERTIES"),
            ("email".into(), "OBJECT_REQUIRED"),
            ("user_id".into(), "PATTERN"),
            ("username".into(), "NOT_PASSED"),
            ("picture".into(), "FORMAT"),
            ("phone_number".into(), "PATTERN"),
            ("email_verified".into(), "INVALID_TYPE"),
            ("app_metadata.blocked".into(), "NOT_PASSED"),
            ("custom_password_hash".into(), "NOT_PASSED"),
            ("mfa_factors[0].totp.secret".into(), "PATTERN"),
            ("mfa_factors[1]".into(), "OBJECT_PROPERTIES_MAXIMUM"),
            ("mfa_factors[2].sms".into(), "OBJECT_ADDITIONAL_PROPERTIES"),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn hash_errors_name_the_field() {
        let got = codes(
            json!({"email": "a@b.co", "custom_password_hash": {"algorithm": "md5", "hash": {"value": "zz", "encoding": "hex"}}}),
        );
        assert_eq!(got, vec![("custom_password_hash.hash.value".to_string(), "FORMAT")]);
        let got = codes(json!({"email": "a@b.co", "custom_password_hash": {"hash": {"value": "zz"}}}));
        assert_eq!(got, vec![("custom_password_hash.algorithm".to_string(), "OBJECT_REQUIRED")]);
        let got = codes(
            json!({"email": "a@b.co", "password_hash": "$2b$31$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234"}),
        );
        assert_eq!(got, vec![("password_hash".to_string(), "MAXIMUM")]);
    }

    #[test]
    fn errors_mask_secrets() {
        let e = run(
            json!({"email": "bad", "password_hash": "$2b$04$OcIuM6Q44qqWo0nu/4hl.upUbNfgfPFaE1o1dqPIqul.Z.zEaksZG"}),
        );
        let e = e.unwrap_err();
        assert_eq!(e.index, 7);
        assert_eq!(e.user["password_hash"], "*****");
        assert_eq!(e.user["email"], "bad");
    }
}
