//! Auth0's password-hash export, the NDJSON file its support gives on request: one user a
//! line, `{"_id":{"$oid":"…"},"email","email_verified","passwordHash":"$2b$10$…",
//! "connection","alt_id",…}`. The user's id is `alt_id` when present (a custom id), else
//! the `$oid`; the user it belongs to is `auth0|<id>`.
//!
//! It carries no profile, so it is read next to a users export and joined by id:
//! [`HashExport::read`] indexes it (only what a join needs, secrets never in errors),
//! [`HashExport::join`] puts a user's hash in its record (read-only, so validator threads
//! share one index), and [`HashExport::unjoined`] reports, with the lines that could not
//! be read, every hash no user took — nothing is dropped silently.

use crate::error::{FieldError, FileError, RecordError};
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};
use std::io::BufRead;

/// A hash of the export, waiting for its user.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    /// 0-based position among the export's lines that hold a record.
    index: u64,
    /// 1-based line.
    line: u64,
    email: Option<String>,
    connection: Option<String>,
    hash: String,
}

/// An Auth0 password-hash export, indexed by user id (without `auth0|`).
#[derive(Debug, Default)]
pub struct HashExport {
    by_id: HashMap<String, Entry>,
    /// Lines that are not a usable hash record, reported by [`HashExport::unjoined`].
    refused: Vec<RecordError>,
    /// Records read, usable or not.
    pub records: u64,
}

/// What a record of the export shows in a report: its id, email, connection and line,
/// never the hash.
fn shown(id: Option<&str>, email: Option<&str>, connection: Option<&str>, line: u64) -> Value {
    let mut m = Map::new();
    m.insert("_id".into(), json!(id));
    m.insert("email".into(), json!(email));
    m.insert("connection".into(), json!(connection));
    m.insert("line".into(), json!(line));
    m.insert("passwordHash".into(), json!(crate::error::MASK));
    Value::Object(m)
}

/// The user id of a hash record: `alt_id`, else `_id.$oid` (or a plain string `_id`).
fn record_id(m: &Map<String, Value>) -> Option<String> {
    fn nonempty(v: Option<&Value>) -> Option<&str> {
        v.and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
    }
    nonempty(m.get("alt_id"))
        .or_else(|| nonempty(m.get("_id").and_then(|i| i.get("$oid"))))
        .or_else(|| nonempty(m.get("_id")))
        .map(|s| s.strip_prefix("auth0|").unwrap_or(s).to_string())
}

impl HashExport {
    /// Reads the export. `connection`, when given, is the only connection whose hashes
    /// are kept (an export of several databases names each record's); the others are
    /// reported. A line longer than `max_record_bytes` is a file error, like an
    /// unreadable input; anything else wrong with a line is that record's error.
    pub fn read<R: BufRead>(
        mut input: R,
        connection: Option<&str>,
        max_record_bytes: usize,
    ) -> Result<Self, FileError> {
        let mut out = Self::default();
        let mut buf = Vec::new();
        let (mut line, mut offset) = (0u64, 0u64);
        loop {
            buf.clear();
            let n = std::io::Read::take(&mut input, max_record_bytes as u64 + 1)
                .read_until(b'\n', &mut buf)
                .map_err(|e| FileError { line: line + 1, column: 1, offset, message: e.to_string() })?;
            if n == 0 {
                return Ok(out);
            }
            line += 1;
            if n > max_record_bytes && !buf.ends_with(b"\n") {
                return Err(FileError {
                    line,
                    column: 1,
                    offset,
                    message: format!("a record is longer than {max_record_bytes} bytes"),
                });
            }
            offset += n as u64;
            let text = String::from_utf8_lossy(&buf);
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            let index = out.records;
            out.records += 1;
            out.add(index, line, text, connection);
        }
    }

    fn refuse(&mut self, index: u64, record: Value, path: &str, message: String) {
        let code = if path.is_empty() { "INVALID_FORMAT" } else { "INVALID_FIELD" };
        self.refused.push(RecordError { index, user: record, errors: vec![FieldError::new(code, path, message)] });
    }

    fn add(&mut self, index: u64, line: u64, text: &str, only: Option<&str>) {
        let m = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(m)) => m,
            Ok(_) => {
                return self.refuse(index, shown(None, None, None, line), "", "the line is not a JSON object".into())
            }
            Err(e) => {
                return self.refuse(index, shown(None, None, None, line), "", format!("the line is not JSON: {e}"))
            }
        };
        let email = m
            .get("email")
            .and_then(Value::as_str)
            .or_else(|| {
                let ids = m.get("identifiers").and_then(Value::as_array)?;
                ids.iter().find(|i| i.get("type").and_then(Value::as_str) == Some("email"))?.get("value")?.as_str()
            })
            .map(str::to_string);
        let connection = m.get("connection").and_then(Value::as_str).map(str::to_string);
        let id = record_id(&m);
        let record = shown(id.as_deref(), email.as_deref(), connection.as_deref(), line);
        let Some(id) = id else {
            return self.refuse(index, record, "_id", "the record has neither alt_id nor _id.$oid".into());
        };
        let hash = match m.get("passwordHash") {
            Some(Value::String(h)) if !h.trim().is_empty() => h.trim().to_string(),
            Some(Value::String(_)) | None | Some(Value::Null) => {
                return self.refuse(index, record, "passwordHash", "the record has no password hash".into())
            }
            Some(_) => return self.refuse(index, record, "passwordHash", "Expected type string".into()),
        };
        if let (Some(only), Some(c)) = (only, &connection) {
            if c != only {
                return self.refuse(
                    index,
                    record,
                    "connection",
                    format!("the hash belongs to connection {c}, not {only}; it was not imported"),
                );
            }
        }
        if let Some(first) = self.by_id.get(&id) {
            let message = format!("the id appears twice in the hash export (first on line {})", first.line);
            return self.refuse(index, record, "_id", message);
        }
        self.by_id.insert(id, Entry { index, line, email, connection, hash });
    }

    /// How many usable hashes the export holds.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The hash of user `user_id` (with or without `auth0|`).
    pub fn hash_for(&self, user_id: &str) -> Option<&str> {
        let id = user_id.strip_prefix("auth0|").unwrap_or(user_id);
        self.by_id.get(id).map(|e| e.hash.as_str())
    }

    /// Puts the export's hash for `user` (an Auth0-schema import record, `user_id`
    /// with or without `auth0|`) in its `password_hash`; the id it joined on, if it
    /// did. A record that brings its own hash keeps it (and the export's is reported
    /// as not joined).
    pub fn join(&self, user: &mut Value) -> Option<String> {
        let Value::Object(m) = user else { return None };
        if m.contains_key("password_hash") || m.contains_key("custom_password_hash") {
            return None;
        }
        let id = m.get("user_id").and_then(Value::as_str)?;
        let id = id.strip_prefix("auth0|").unwrap_or(id).to_string();
        let hash = self.by_id.get(&id)?.hash.clone();
        m.insert("password_hash".into(), Value::String(hash));
        Some(id)
    }

    /// Every record that gave no user its hash: the lines that could not be used, and the
    /// hashes whose id is not in `joined` (the ids [`HashExport::join`] returned), in the
    /// export's order. `index_base` is added to each record's index, so the report can
    /// follow the users' errors without sharing their indexes.
    pub fn unjoined(&self, joined: &HashSet<String>, index_base: u64) -> Vec<RecordError> {
        let mut out = self.refused.clone();
        for (id, e) in &self.by_id {
            if joined.contains(id) {
                continue;
            }
            out.push(RecordError {
                index: e.index,
                user: shown(Some(id), e.email.as_deref(), e.connection.as_deref(), e.line),
                errors: vec![FieldError::new(
                    "NOT_JOINED",
                    "_id",
                    format!(
                        "no user with the id auth0|{id} in the users export took this hash (absent, or it has a \
                         hash of its own); the hash was not imported"
                    ),
                )],
            });
        }
        out.sort_by_key(|r| r.index);
        for r in &mut out {
            r.index += index_base;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPORT: &str = r#"{"_id":{"$oid":"5dea9f9c82dd7c0e76e4ec93"},"email_verified":false,"email":"a@example.com","passwordHash":"$2b$10$abc","password_set_date":{"$date":"2019-12-06T18:36:12.412Z"},"tenant":"t","connection":"Username-Password-Authentication","_tmp_is_unique":true}
{"_id":{"$oid":"5dea9f9c82dd7c0e76e4ec94"},"alt_id":"euclid","identifiers":[{"type":"email","value":"b@example.com","verified":true}],"passwordHash":"$2b$10$def","connection":"Username-Password-Authentication"}

not json
{"_id":{"$oid":"5dea9f9c82dd7c0e76e4ec95"},"email":"c@example.com","passwordHash":"$2b$10$ghi","connection":"other-db"}
{"_id":{"$oid":"5dea9f9c82dd7c0e76e4ec96"},"email":"d@example.com","connection":"Username-Password-Authentication"}
{"_id":{"$oid":"5dea9f9c82dd7c0e76e4ec93"},"email":"a2@example.com","passwordHash":"$2b$10$jkl","connection":"Username-Password-Authentication"}
{"_id":{"$oid":"5dea9f9c82dd7c0e76e4ec97"},"email":"e@example.com","passwordHash":"$2b$10$mno","connection":"Username-Password-Authentication"}
"#;

    #[test]
    fn joins_by_id_and_reports_the_rest() {
        let x = HashExport::read(EXPORT.as_bytes(), Some("Username-Password-Authentication"), 1 << 20).unwrap();
        assert_eq!(x.records, 7);
        assert_eq!(x.len(), 3);
        let mut joined = HashSet::new();
        let mut a = json!({"user_id": "auth0|5dea9f9c82dd7c0e76e4ec93", "email": "a@example.com"});
        joined.extend(x.join(&mut a));
        assert_eq!(a["password_hash"], json!("$2b$10$abc"));
        let mut euclid = json!({"user_id": "euclid"});
        joined.extend(x.join(&mut euclid));
        assert_eq!(euclid["password_hash"], json!("$2b$10$def"), "alt_id is the user's id");
        let mut own = json!({"user_id": "5dea9f9c82dd7c0e76e4ec97", "password_hash": "$2b$10$own"});
        assert_eq!(x.join(&mut own), None);
        assert_eq!(own["password_hash"], json!("$2b$10$own"));
        assert_eq!(x.join(&mut json!({"email": "no-id@example.com"})), None);

        let report = x.unjoined(&joined, 100);
        let why: Vec<(u64, &str, &str)> =
            report.iter().map(|r| (r.index, r.errors[0].code, r.errors[0].path.as_str())).collect();
        assert_eq!(
            why,
            vec![
                (102, "INVALID_FORMAT", ""),
                (103, "INVALID_FIELD", "connection"),
                (104, "INVALID_FIELD", "passwordHash"),
                (105, "INVALID_FIELD", "_id"),
                (106, "NOT_JOINED", "_id"),
            ]
        );
        assert!(report.iter().all(|r| !r.user.to_string().contains("$2b$")), "no hash in a report");
        assert_eq!(report[4].user["email"], json!("e@example.com"));
        assert_eq!(report[1].user["line"], json!(5));
    }

    #[test]
    fn an_overlong_line_is_a_file_error() {
        let line = format!("{{\"_id\":\"{}\"}}\n", "x".repeat(100));
        let e = HashExport::read(line.as_bytes(), None, 50).err();
        assert_eq!(e.map(|e| e.line), Some(1));
    }
}
