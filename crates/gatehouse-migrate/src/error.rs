//! The two kinds of failure in an import file, kept apart on purpose:
//!
//! * [`FileError`]: the file itself cannot be read (bad JSON syntax, not an array, bad CSV
//!   header, an I/O error). It carries a position and stops the reader: nothing after it
//!   can be trusted to be a record boundary.
//! * [`RecordError`]: one record is invalid. It carries the record's index, the record
//!   with its secrets masked, and *every* problem found in it, each with an Auth0 error
//!   code and a field path. Other records are unaffected. It serialises to one element
//!   of `GET /api/v2/jobs/{id}/errors` (`{"user":…,"errors":[{code,message,path}]}`), plus
//!   Gatehouse's `index`.

use serde::Serialize;
use serde_json::Value;
use std::fmt;

/// A problem with the file as a whole, at a position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column} (byte {offset}): {message}")]
pub struct FileError {
    /// 1-based line.
    pub line: u64,
    /// 1-based column, in bytes.
    pub column: u64,
    /// 0-based byte offset from the start of the input.
    pub offset: u64,
    pub message: String,
}

/// One schema violation inside a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Auth0's error code: `INVALID_TYPE`, `FORMAT`, `OBJECT_REQUIRED`, `ENUM_MISMATCH`,
    /// `MAX_LENGTH`, `PATTERN`, `NOT_PASSED`, `DUPLICATED_USER`, …
    pub code: &'static str,
    pub message: String,
    /// Dotted field path in the Auth0 schema, e.g. `custom_password_hash.hash.value` or
    /// `mfa_factors[0].totp.secret`; empty for the record itself.
    pub path: String,
}

impl FieldError {
    pub fn new(code: &'static str, path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), path: path.into() }
    }
}

/// Why one record was not imported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordError {
    /// 0-based position of the record in the file.
    pub index: u64,
    /// The record as read (mapped to the Auth0 schema), secrets replaced by `"*****"`.
    pub user: Value,
    pub errors: Vec<FieldError>,
}

impl RecordError {
    /// Builds the error for `record` (masking its secrets).
    pub fn new(index: u64, record: &Value, errors: Vec<FieldError>) -> Self {
        Self { index, user: mask_secrets(record), errors }
    }
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "record {}:", self.index)?;
        for e in &self.errors {
            let at = if e.path.is_empty() { String::new() } else { format!(" on {}", e.path) };
            write!(f, " [{}{at}] {};", e.code, e.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for RecordError {}

/// What secrets look like in error reports (Auth0's mask).
pub const MASK: &str = "*****";

/// A copy of `record` with every secret value replaced by [`MASK`]: `password_hash`
/// (and Auth0's hash export's `passwordHash`),
/// the values under `custom_password_hash` (hash, key, salt, Firebase signer key),
/// TOTP secrets, and any field called `password`. Shapes are kept so the operator
/// can still see which fields were present.
pub fn mask_secrets(record: &Value) -> Value {
    let mut v = record.clone();
    if let Value::Object(m) = &mut v {
        mask_key(m, "password_hash");
        mask_key(m, "passwordHash");
        mask_key(m, "password");
        if let Some(Value::Object(c)) = m.get_mut("custom_password_hash") {
            for obj in ["hash", "salt"] {
                if let Some(Value::Object(o)) = c.get_mut(obj) {
                    mask_key(o, "value");
                    if let Some(Value::Object(k)) = o.get_mut("key") {
                        mask_key(k, "value");
                    }
                }
            }
            if let Some(Value::Object(fb)) = c.get_mut("firebase") {
                mask_key(fb, "signer_key");
            }
            // The legacy flat form carries the hash as a plain string.
            if c.get("hash").is_some_and(Value::is_string) {
                mask_key(c, "hash");
            }
        }
        if let Some(Value::Array(factors)) = m.get_mut("mfa_factors") {
            for f in factors {
                if let Some(Value::Object(t)) = f.get_mut("totp") {
                    mask_key(t, "secret");
                }
            }
        }
    }
    v
}

fn mask_key(m: &mut serde_json::Map<String, Value>, key: &str) {
    if let Some(slot) = m.get_mut(key) {
        if !slot.is_null() {
            *slot = Value::String(MASK.into());
        }
    }
}

pub(crate) use gatehouse_core::validate::type_name;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_every_secret() {
        let v = json!({
            "email": "a@b.co",
            "password_hash": "$2b$10$abc",
            "custom_password_hash": {"algorithm": "hmac", "hash": {"value": "v", "key": {"value": "k"}},
                "salt": {"value": "s"}, "firebase": {"signer_key": "sk", "rounds": 8}},
            "mfa_factors": [{"totp": {"secret": "ABC"}}, {"phone": {"value": "+1"}}]
        });
        let m = mask_secrets(&v);
        assert_eq!(
            m,
            json!({
                "email": "a@b.co",
                "password_hash": MASK,
                "custom_password_hash": {"algorithm": "hmac", "hash": {"value": MASK, "key": {"value": MASK}},
                    "salt": {"value": MASK}, "firebase": {"signer_key": MASK, "rounds": 8}},
                "mfa_factors": [{"totp": {"secret": MASK}}, {"phone": {"value": "+1"}}]
            })
        );
    }
}
