//! Reading untrusted JSON bodies field by field, with Auth0's error messages, and the
//! validated newtypes that carry the rules (an invalid [`Email`] cannot be constructed).

use crate::error::Error;
use serde_json::{Map, Value};

/// JSON type names as Auth0's validators (z-schema) report them.
/// The path (`a.b[2]`) of the first string or object key in `v` that holds a NUL
/// character. No identity data needs one, and PostgreSQL cannot store one in text or
/// JSON, so outside input carrying one is refused where it enters, naming the field.
pub fn path_of_nul(v: &Value) -> Option<String> {
    fn walk(v: &Value, path: &mut String) -> bool {
        match v {
            Value::String(s) => s.contains('\0'),
            Value::Array(items) => items.iter().enumerate().any(|(i, item)| {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let found = walk(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            Value::Object(m) => m.iter().any(|(k, item)| {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&k.replace('\0', "\\0"));
                let found = k.contains('\0') || walk(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            _ => false,
        }
    }
    let mut path = String::new();
    walk(v, &mut path).then_some(path)
}

pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn wrong_type(expected: &str, found: &Value, field: &str) -> Error {
    Error::invalid_field(field, format!("Expected type {expected} but found type {}", type_name(found)))
}

/// A field of a PATCH body: left out, explicitly `null` (unset), or given.
#[derive(Debug, Clone, PartialEq)]
pub enum Patch<T> {
    Absent,
    Null,
    Set(T),
}

impl<T> Patch<T> {
    pub fn is_absent(&self) -> bool {
        matches!(self, Patch::Absent)
    }
    /// Applies this patch to an optional stored value.
    pub fn apply_to(self, slot: &mut Option<T>) {
        match self {
            Patch::Absent => {}
            Patch::Null => *slot = None,
            Patch::Set(v) => *slot = Some(v),
        }
    }
}

/// A JSON object body whose keys have been checked against an allow-list.
pub struct Body<'a> {
    obj: &'a Map<String, Value>,
    prefix: String,
}

impl<'a> Body<'a> {
    /// Accepts `value` only if it is an object whose keys are all in `allowed`.
    pub fn new(value: &'a Value, allowed: &[&str]) -> Result<Self, Error> {
        Self::nested(value, allowed, "")
    }

    fn nested(value: &'a Value, allowed: &[&str], prefix: &str) -> Result<Self, Error> {
        let Value::Object(obj) = value else {
            let field = if prefix.is_empty() { "body" } else { prefix.trim_end_matches('.') };
            return Err(wrong_type("object", value, field));
        };
        let unknown: Vec<&str> = obj.keys().filter(|k| !allowed.contains(&k.as_str())).map(String::as_str).collect();
        if !unknown.is_empty() {
            let at = if prefix.is_empty() {
                String::new()
            } else {
                format!(" on property {}", prefix.trim_end_matches('.'))
            };
            return Err(Error::body(format!(
                "Payload validation error: 'Additional properties not allowed: {}'{at}.",
                unknown.join(",")
            )));
        }
        Ok(Self { obj, prefix: prefix.to_string() })
    }

    /// The object under `key`, itself checked against `allowed`.
    pub fn object(&self, key: &str, allowed: &[&str]) -> Result<Option<Body<'a>>, Error> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => Body::nested(v, allowed, &format!("{}{key}.", self.prefix)).map(Some),
        }
    }

    fn field(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    pub fn has(&self, key: &str) -> bool {
        self.obj.contains_key(key)
    }

    pub fn raw(&self, key: &str) -> Option<&'a Value> {
        self.obj.get(key)
    }

    pub fn string(&self, key: &str, min: usize, max: usize) -> Result<Patch<String>, Error> {
        match self.obj.get(key) {
            None => Ok(Patch::Absent),
            Some(Value::Null) => Ok(Patch::Null),
            Some(Value::String(s)) => {
                let n = s.chars().count();
                let field = self.field(key);
                if n < min {
                    return Err(Error::invalid_field(field, format!("String is too short ({n} chars), minimum {min}")));
                }
                if n > max {
                    return Err(Error::invalid_field(field, format!("String is too long ({n} chars), maximum {max}")));
                }
                Ok(Patch::Set(s.clone()))
            }
            Some(other) => Err(wrong_type("string", other, &self.field(key))),
        }
    }

    /// A string that must be present (not null).
    pub fn required_string(&self, key: &str, min: usize, max: usize) -> Result<String, Error> {
        match self.string(key, min, max)? {
            Patch::Set(s) => Ok(s),
            Patch::Absent => Err(Error::missing_field(self.field(key))),
            Patch::Null => Err(wrong_type("string", &Value::Null, &self.field(key))),
        }
    }

    pub fn boolean(&self, key: &str) -> Result<Patch<bool>, Error> {
        match self.obj.get(key) {
            None => Ok(Patch::Absent),
            Some(Value::Null) => Ok(Patch::Null),
            Some(Value::Bool(b)) => Ok(Patch::Set(*b)),
            Some(other) => Err(wrong_type("boolean", other, &self.field(key))),
        }
    }

    pub fn integer(&self, key: &str, min: i64, max: i64) -> Result<Patch<i64>, Error> {
        match self.obj.get(key) {
            None => Ok(Patch::Absent),
            Some(Value::Null) => Ok(Patch::Null),
            Some(v @ Value::Number(n)) => match n.as_i64() {
                Some(i) if (min..=max).contains(&i) => Ok(Patch::Set(i)),
                Some(i) => {
                    Err(Error::invalid_field(self.field(key), format!("Value {i} is outside the range {min}..{max}")))
                }
                None => Err(wrong_type("integer", v, &self.field(key))),
            },
            Some(other) => Err(wrong_type("integer", other, &self.field(key))),
        }
    }

    /// A JSON object kept as-is (metadata, options).
    pub fn json_object(&self, key: &str) -> Result<Patch<Map<String, Value>>, Error> {
        match self.obj.get(key) {
            None => Ok(Patch::Absent),
            Some(Value::Null) => Ok(Patch::Null),
            Some(Value::Object(m)) => Ok(Patch::Set(m.clone())),
            Some(other) => Err(wrong_type("object", other, &self.field(key))),
        }
    }

    pub fn string_array(&self, key: &str, max_len: usize) -> Result<Patch<Vec<String>>, Error> {
        match self.obj.get(key) {
            None => Ok(Patch::Absent),
            Some(Value::Null) => Ok(Patch::Null),
            Some(Value::Array(items)) => {
                if items.len() > max_len {
                    return Err(Error::invalid_field(
                        self.field(key),
                        format!("Array is too long ({}), maximum {max_len}", items.len()),
                    ));
                }
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| match v {
                        Value::String(s) => Ok(s.clone()),
                        other => Err(wrong_type("string", other, &format!("{}[{i}]", self.field(key)))),
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(Patch::Set)
            }
            Some(other) => Err(wrong_type("array", other, &self.field(key))),
        }
    }
}

/// An email address: syntactically valid, within Auth0's length limits, lowercased.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

/// A login (email or username) as users are looked up by it: emails are matched
/// case-insensitively after trimming, as they are stored.
pub fn normalize_login(raw: &str) -> String {
    // No user has a NUL in their login; such a login is nobody's (an unknown user).
    if raw.contains('\0') {
        return String::new();
    }
    match Email::parse(raw) {
        Ok(email) => email.into_string(),
        Err(_) => raw.trim().to_ascii_lowercase(),
    }
}

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        if s.len() > 254 {
            return Err("the email address is longer than 254 characters".into());
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err("the email address has no '@'".into());
        };
        if local.is_empty() || local.len() > 64 {
            return Err("the local part of the email address must be 1 to 64 characters".into());
        }
        if local.contains('@') || local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err("the local part of the email address is malformed".into());
        }
        let valid_local = |c: char| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c);
        if !local.chars().all(valid_local) {
            return Err("the local part of the email address contains an invalid character".into());
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let valid_label = |l: &&str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        };
        if labels.len() < 2 || !labels.iter().all(valid_label) {
            return Err("the domain of the email address is malformed".into());
        }
        Ok(Self(s.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_string(self) -> String {
        self.0
    }
    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map(|(l, _)| l).unwrap_or(&self.0)
    }
}

/// A username under Auth0's character rules, lowercased. Length bounds come from the
/// connection (`validation.username`), defaulting to 1–15.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str, min: usize, max: usize) -> Result<Self, String> {
        let n = raw.chars().count();
        if n < min || n > max {
            return Err(format!("the username must be {min} to {max} characters"));
        }
        if !raw.chars().all(|c| c.is_ascii_alphanumeric() || "@`^$!-#.+'~_".contains(c)) {
            return Err("the username may only contain letters, digits and @`^$!-#.+'~_".into());
        }
        if Email::parse(raw).is_ok() {
            return Err("the username cannot be an email address".into());
        }
        Ok(Self(raw.to_ascii_lowercase()))
    }
    pub fn into_string(self) -> String {
        self.0
    }
}

/// A phone number in E.164 form: `+` and digits (Auth0 allows at most 15 of them).
pub fn check_phone_number(p: &str) -> Result<(), String> {
    let digits = p.strip_prefix('+').unwrap_or("");
    if !digits.is_empty() && digits.len() <= 15 && digits.bytes().all(|c| c.is_ascii_digit()) {
        Ok(())
    } else {
        Err("the phone number must be in E.164 format, e.g. +12125550001".into())
    }
}

/// A profile picture: an absolute http(s) URL without whitespace.
pub fn check_picture_url(p: &str) -> Result<(), String> {
    let scheme_ok = p.starts_with("https://") || p.starts_with("http://");
    if !scheme_ok || p.chars().any(char::is_whitespace) {
        return Err("the picture must be an absolute http(s) URL".into());
    }
    Ok(())
}

/// A connection name: ≤128 characters, alphanumerics and `-`, starting and ending with
/// an alphanumeric.
pub fn validate_connection_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && name.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err("the name must be 1 to 128 letters, digits and '-', starting and ending with a letter or digit".into())
    }
}

/// Metadata keys may not contain `.` or `$` (Auth0's rule: they would break search paths).
pub fn validate_metadata(field: &str, m: &Map<String, Value>) -> Result<(), Error> {
    fn walk(path: &str, m: &Map<String, Value>, depth: usize) -> Result<(), Error> {
        if depth > 16 {
            return Err(Error::body(format!(
                "Payload validation error: '{path}' is nested too deeply (at most 16 levels)."
            )));
        }
        for (k, v) in m {
            if k.is_empty() || k.contains('.') || k.contains('$') {
                return Err(Error::invalid_field(
                    format!("{path}.{k}"),
                    "Metadata keys may not be empty or contain \".\" or \"$\"",
                ));
            }
            if let Value::Object(inner) = v {
                walk(&format!("{path}.{k}"), inner, depth + 1)?;
            }
        }
        Ok(())
    }
    walk(field, m, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nul_characters_are_found_with_their_path() {
        assert_eq!(path_of_nul(&json!({"a": "x", "b": [1, {"c": "y"}]})), None);
        assert_eq!(path_of_nul(&json!({"a": "x", "b": [1, {"c": "y\u{0}"}]})).as_deref(), Some("b[1].c"));
        assert_eq!(path_of_nul(&json!({"user_metadata": {"k\u{0}": 1}})).as_deref(), Some("user_metadata.k\\0"));
        assert_eq!(path_of_nul(&json!("\u{0}")).as_deref(), Some(""));
    }

    #[test]
    fn emails() {
        assert_eq!(Email::parse(" John.Doe@Example.COM ").map(Email::into_string), Ok("john.doe@example.com".into()));
        for bad in
            ["", "no-at", "@example.com", "a@b", "a..b@example.com", "a@-x.com", "a b@example.com", "a@exa mple.com"]
        {
            assert!(Email::parse(bad).is_err(), "{bad} should be rejected");
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert!(Email::parse(&long_local).is_err());
    }

    #[test]
    fn usernames() {
        assert!(Username::parse("john_doe", 1, 15).is_ok());
        assert!(Username::parse("john doe", 1, 15).is_err());
        assert!(Username::parse("a@b.com", 1, 15).is_err());
        assert!(Username::parse("abcdefghijklmnop", 1, 15).is_err());
    }

    #[test]
    fn body_rejects_unknown_and_wrong_types() {
        let v = json!({"email": 3, "bogus": true});
        let err = Body::new(&v, &["email"]).err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("Payload validation error: 'Additional properties not allowed: bogus'."));
        let v = json!({"email": 3});
        let b = Body::new(&v, &["email"]);
        let err = b.and_then(|b| b.string("email", 1, 10)).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("Payload validation error: 'Expected type string but found type integer' on property email.")
        );
    }

    #[test]
    fn metadata_keys() {
        let m = json!({"a": {"b.c": 1}});
        let Value::Object(m) = m else { unreachable!() };
        assert!(validate_metadata("user_metadata", &m).is_err());
    }
}
