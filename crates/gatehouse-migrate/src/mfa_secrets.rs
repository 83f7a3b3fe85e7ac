//! The MFA-secrets file: the export Auth0's support delivers beside the password-hash
//! export, as NDJSON, one user a line. Auth0 does not publish its exact shape; what is
//! common to its support exports is that a line names its user by the tenant's database id
//! (`_id`, a string or Mongo's `{"$oid": …}`, the `user_id` without `auth0|`) or by
//! `user_id` or `email`, and carries other members (`tenant`, `connection`, …) that an
//! importer ignores. Gatehouse reads each line's enrolments from `mfa_factors`, in the
//! bulk-import schema (`{"totp": {"secret"}}`, `{"phone": {"value"}}`, `{"email":
//! {"value"}}`) and validated by the same rules.
//!
//! A line that is not JSON ends the file ([`FileError`]: nothing after it can be trusted);
//! a line with a bad user key or a bad factor is a [`RecordError`] (index, field, reason,
//! secrets masked) and the other lines are unaffected.

use crate::error::{FieldError, FileError, RecordError};
use crate::validate::check_mfa_factors;
use serde_json::{Map, Value};
use std::io::BufRead;

/// Who a line is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FactorsOwner {
    /// `auth0|…`, from `user_id` or `_id`.
    UserId(String),
    /// By email, within the connection imported into.
    Email(String),
}

/// One valid line: its user and its factors (validated `mfa_factors` items).
#[derive(Debug, Clone, PartialEq)]
pub struct FactorsRecord {
    /// 0-based line index, blank lines not counted.
    pub index: u64,
    pub owner: FactorsOwner,
    pub factors: Vec<Value>,
}

/// Reads an MFA-secrets file: one result per non-blank line, in order, then `None`; a
/// [`FileError`] ends it. A line longer than `max_line_bytes` is a [`FileError`] too.
pub struct MfaSecretsReader<R> {
    input: R,
    line: u64,
    offset: u64,
    index: u64,
    max_line_bytes: usize,
    done: bool,
}

impl<R: BufRead> MfaSecretsReader<R> {
    pub fn new(input: R, max_line_bytes: usize) -> Self {
        Self { input, line: 0, offset: 0, index: 0, max_line_bytes, done: false }
    }

    fn file_error(&mut self, message: String) -> Option<Result<Result<FactorsRecord, RecordError>, FileError>> {
        self.done = true;
        Some(Err(FileError { line: self.line, column: 1, offset: self.offset, message }))
    }
}

impl<R: BufRead> Iterator for MfaSecretsReader<R> {
    type Item = Result<Result<FactorsRecord, RecordError>, FileError>;

    fn next(&mut self) -> Option<Self::Item> {
        use std::io::Read;
        while !self.done {
            let mut buf = Vec::new();
            let limit = u64::try_from(self.max_line_bytes).unwrap_or(u64::MAX).saturating_add(1);
            let read = match (&mut self.input).take(limit).read_until(b'\n', &mut buf) {
                Ok(n) => n,
                Err(e) => return self.file_error(format!("cannot read: {e}")),
            };
            if read == 0 {
                self.done = true;
                return None;
            }
            self.line += 1;
            let start = self.offset;
            self.offset += read as u64;
            if buf.len() > self.max_line_bytes && buf.last() != Some(&b'\n') {
                self.offset = start;
                return self.file_error(format!("a line is longer than {} bytes", self.max_line_bytes));
            }
            let text = buf.trim_ascii();
            if text.is_empty() {
                continue;
            }
            let value: Value = match serde_json::from_slice(text) {
                Ok(v) => v,
                Err(e) => {
                    self.offset = start;
                    return self.file_error(format!("not JSON: {e}"));
                }
            };
            let index = self.index;
            self.index += 1;
            return Some(Ok(factors_record(index, value)));
        }
        None
    }
}

/// The user a line names, or the problem with its key.
fn owner(m: &Map<String, Value>) -> Result<FactorsOwner, FieldError> {
    let local = |id: &str, path: &str| {
        let id = id.strip_prefix("auth0|").unwrap_or(id);
        if id.is_empty() || id.len() > 255 {
            return Err(FieldError::new("FORMAT", path, "must be a user id of 1 to 255 characters"));
        }
        Ok(FactorsOwner::UserId(format!("auth0|{id}")))
    };
    if let Some(v) = m.get("user_id") {
        return match v.as_str() {
            Some(id) => local(id, "user_id"),
            None => Err(FieldError::new("INVALID_TYPE", "user_id", "Expected type string")),
        };
    }
    if let Some(v) = m.get("_id") {
        return match v.as_str().or_else(|| v.get("$oid").and_then(Value::as_str)) {
            Some(id) => local(id, "_id"),
            None => Err(FieldError::new("INVALID_TYPE", "_id", "Expected a string or {\"$oid\": string}")),
        };
    }
    match m.get("email").map(|v| v.as_str()) {
        Some(Some(email)) if gatehouse_core::validate::Email::parse(email).is_ok() => {
            Ok(FactorsOwner::Email(email.to_owned()))
        }
        Some(_) => Err(FieldError::new("FORMAT", "email", "must be an email address")),
        None => Err(FieldError::new("OBJECT_REQUIRED", "user_id", "a line names its user by user_id, _id or email")),
    }
}

fn factors_record(index: u64, value: Value) -> Result<FactorsRecord, RecordError> {
    let Value::Object(m) = &value else {
        let e = FieldError::new("INVALID_TYPE", "", "Expected type object");
        return Err(RecordError::new(index, &value, vec![e]));
    };
    let owner = owner(m);
    let (factors, mut errors) = if m.contains_key("mfa_factors") {
        check_mfa_factors(m)
    } else {
        (Vec::new(), vec![FieldError::new("OBJECT_REQUIRED", "mfa_factors", "Missing required property: mfa_factors")])
    };
    match owner {
        Ok(owner) if errors.is_empty() => Ok(FactorsRecord { index, owner, factors }),
        Ok(_) => Err(RecordError::new(index, &value, errors)),
        Err(e) => {
            errors.insert(0, e);
            Err(RecordError::new(index, &value, errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(text: &str) -> Vec<Result<Result<FactorsRecord, RecordError>, FileError>> {
        MfaSecretsReader::new(text.as_bytes(), 1 << 16).collect()
    }

    #[test]
    fn lines_name_their_user_and_carry_validated_factors() {
        let text = concat!(
            r#"{"_id":{"$oid":"5f1a"},"tenant":"t","connection":"db","mfa_factors":[{"totp":{"secret":"JBSWY3DPEHPK3PXP"}}]}"#,
            "\n\n",
            r#"{"user_id":"auth0|abc","mfa_factors":[{"phone":{"value":"+12125550001"}},{"email":{"value":"a@example.com"}}]}"#,
            "\n",
            r#"{"email":"b@example.com","mfa_factors":[{"totp":{"secret":"lower"}}]}"#,
            "\n",
            r#"{"mfa_factors":[{"totp":{"secret":"JBSWY3DPEHPK3PXP"}}]}"#,
            "\n",
            r#"{"_id":"5f1b"}"#,
            "\n",
        );
        let got = read(text);
        assert_eq!(got.len(), 5);
        let ok = |i: usize| got[i].as_ref().unwrap().as_ref().unwrap();
        let bad = |i: usize| got[i].as_ref().unwrap().as_ref().unwrap_err();
        assert_eq!(ok(0).owner, FactorsOwner::UserId("auth0|5f1a".into()));
        assert_eq!(ok(0).factors, vec![json!({"totp": {"secret": "JBSWY3DPEHPK3PXP"}})]);
        assert_eq!(
            (ok(1).index, ok(1).owner.clone(), ok(1).factors.len()),
            (1, FactorsOwner::UserId("auth0|abc".into()), 2)
        );
        let e = bad(2);
        assert_eq!(
            (e.index, e.errors[0].path.as_str(), e.errors[0].code),
            (2, "mfa_factors[0].totp.secret", "PATTERN")
        );
        assert!(!e.user.to_string().contains("lower"), "the secret is masked in the report");
        assert_eq!(bad(3).errors[0].path, "user_id");
        assert_eq!(bad(4).errors[0].path, "mfa_factors");
    }

    #[test]
    fn a_line_that_is_not_json_or_too_long_ends_the_file() {
        let got = read("{\"user_id\":\"a\",\"mfa_factors\":[{\"email\":{\"value\":\"a@example.com\"}}]}\n{nope\n{}\n");
        assert_eq!(got.len(), 2);
        assert!(got[0].is_ok());
        assert_eq!(got[1].as_ref().unwrap_err().line, 2);
        let long = format!("{{\"user_id\":\"{}\"}}\n", "x".repeat(100));
        let got: Vec<_> = MfaSecretsReader::new(long.as_bytes(), 50).collect();
        assert_eq!(got.len(), 1);
        assert!(got[0].is_err());
    }
}
