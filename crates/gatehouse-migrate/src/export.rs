//! Export writers in Auth0's export shape (AUTH0-SPEC §2, §8): NDJSON (what Auth0's
//! export job produces), CSV with Auth0's CSV-injection escaping, and a JSON array
//! (Gatehouse's addition: with password hashes it is directly an Auth0 import file).
//!
//! Users are written one at a time; memory does not grow with their number.

use crate::map::IMPORT_FIELDS;
use gatehouse_core::user::User;
use gatehouse_hash::{HashError, Hasher};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::io::Write;

/// One user as an export writes them: the profile and, for the [`ROLES_FIELD`], the
/// names of the user's roles (none unless the caller read them).
pub trait ExportRecord {
    fn user(&self) -> &User;
    fn role_names(&self) -> &[String] {
        &[]
    }
    /// The user's MFA factors as import items (`{"totp": {"secret": …}}`, …).
    fn mfa_factors(&self) -> &[Value] {
        &[]
    }
}

impl ExportRecord for User {
    fn user(&self) -> &User {
        self
    }
}

impl<T: ExportRecord + ?Sized> ExportRecord for &T {
    fn user(&self) -> &User {
        (**self).user()
    }
    fn role_names(&self) -> &[String] {
        (**self).role_names()
    }
    fn mfa_factors(&self) -> &[Value] {
        (**self).mfa_factors()
    }
}

/// A user with the names of their roles.
#[derive(Debug, Clone)]
pub struct UserWithRoles {
    pub user: User,
    pub roles: Vec<String>,
    /// Import items, read only for an export that includes them.
    pub mfa_factors: Vec<Value>,
}

impl ExportRecord for UserWithRoles {
    fn user(&self) -> &User {
        &self.user
    }
    fn role_names(&self) -> &[String] {
        &self.roles
    }
    fn mfa_factors(&self) -> &[Value] {
        &self.mfa_factors
    }
}

/// The export field that lists a user's role names (Gatehouse's; Auth0 exports none).
pub const ROLES_FIELD: &str = "roles";

/// Whether an export of `fields` writes roles, which the caller must then read.
pub fn exports_roles(fields: Option<&[ExportField]>) -> bool {
    fields.is_some_and(|f| f.iter().any(|f| f.name == ROLES_FIELD))
}

/// The export file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One JSON object per line (Auth0's `json` export).
    Ndjson,
    /// Header row of field titles, one user per row.
    Csv,
    /// A JSON array of objects.
    JsonArray,
}

/// A requested field: a profile path (`email`, `identities[0].connection`,
/// `user_metadata.consent.given`) and the title/key to write it under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportField {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_as: Option<String>,
}

impl ExportField {
    pub fn new(name: &str) -> Self {
        Self { name: name.to_string(), export_as: None }
    }
    fn title(&self) -> &str {
        self.export_as.as_deref().unwrap_or(&self.name)
    }
}

/// Fields exported when none are requested (Auth0's server-side default list is not
/// documented; this is the profile, see `gatehouse_core::user::USER_FIELDS`).
pub const DEFAULT_FIELDS: &[&str] = &[
    "user_id",
    "email",
    "email_verified",
    "username",
    "phone_number",
    "phone_verified",
    "name",
    "nickname",
    "given_name",
    "family_name",
    "picture",
    "blocked",
    "user_metadata",
    "app_metadata",
    "identities",
    "created_at",
    "updated_at",
    "last_login",
    "last_ip",
    "logins_count",
];

/// Auth0 allows at most 30 CSV fields.
pub const MAX_CSV_FIELDS: usize = 30;

/// Timestamps Auth0 generates: exempt from the CSV `'` prefix.
const TIMESTAMP_FIELDS: &[&str] = &["created_at", "updated_at", "last_login", "last_password_reset"];

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("write error: {0}")]
    Io(#[from] std::io::Error),
    #[error("invalid export fields: {0}")]
    Fields(String),
    /// A stored hash that gatehouse-hash cannot read back: the store holds a bad row.
    #[error("user {user_id}: stored password hash is unreadable: {error}")]
    Hash { user_id: String, error: HashError },
}

/// What to write.
#[derive(Debug, Clone)]
pub struct ExportOptions<'a> {
    pub format: ExportFormat,
    /// `None`: [`DEFAULT_FIELDS`], or with hashes the Auth0 import fields.
    pub fields: Option<&'a [ExportField]>,
    /// Add each user's `password_hash` or `custom_password_hash` exactly as imported
    /// (gatehouse-hash's `to_auth0_export`), and write `user_id` without its `auth0|`
    /// prefix, so the file re-imports as is (no `auth0|auth0|…`).
    pub include_password_hashes: bool,
    /// Add each user's `mfa_factors` (TOTP secrets in plaintext) in the import schema's
    /// shape: a JSON member, or in CSV a column of JSON. Asked for explicitly, like hashes.
    pub include_mfa_factors: bool,
}

/// Writes `users` to `out`; returns how many were written.
///
/// With `include_password_hashes` and no `fields`, the fields are exactly Auth0's
/// import schema's, so a [`ExportFormat::JsonArray`] export is a valid `auth0` import file
/// and NDJSON/CSV exports re-import with [`crate::Format::Ndjson`] / [`crate::Format::Csv`].
pub fn write_export<U, I, W>(opts: &ExportOptions<'_>, hasher: &Hasher, users: I, out: W) -> Result<u64, ExportError>
where
    U: ExportRecord,
    I: IntoIterator<Item = U>,
    W: Write,
{
    let owned: Vec<ExportField>;
    let fields: &[ExportField] = match opts.fields {
        Some(f) => f,
        None => {
            let names = if opts.include_password_hashes { IMPORT_FIELDS } else { DEFAULT_FIELDS };
            owned = names
                .iter()
                .filter(|n| !matches!(**n, "password_hash" | "custom_password_hash" | "mfa_factors"))
                .map(|n| ExportField::new(n))
                .collect();
            &owned
        }
    };
    let paths = fields.iter().map(|f| parse_path(&f.name)).collect::<Result<Vec<_>, _>>()?;
    if fields.iter().any(|f| f.name.len() > 100 || f.export_as.as_ref().is_some_and(|e| e.len() > 100)) {
        return Err(ExportError::Fields("field names and export_as are at most 100 characters".into()));
    }
    let extra = usize::from(opts.include_password_hashes) * 2 + usize::from(opts.include_mfa_factors);
    if opts.format == ExportFormat::Csv && fields.len() + extra > MAX_CSV_FIELDS {
        return Err(ExportError::Fields(format!("a CSV export has at most {MAX_CSV_FIELDS} fields")));
    }
    // JSON output straight from the `User` when every field is a top-level profile key
    // (the default fields, and most requested lists): no profile `Value` is built, which
    // was most of an export's CPU time.
    let direct = opts.format != ExportFormat::Csv && direct_fields(fields) && !opts.include_mfa_factors;
    // A field whose path is one key that no other field's path starts with can be moved
    // out of the user's profile instead of copied (the profile is dropped right after).
    let movable: Vec<bool> = paths
        .iter()
        .enumerate()
        .map(|(i, p)| {
            matches!(p.as_slice(), [Step::Key(_)])
                && paths.iter().enumerate().all(|(j, q)| j == i || q.first() != p.first())
        })
        .collect();
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    if opts.format == ExportFormat::Csv {
        let mut titles: Vec<&str> = fields.iter().map(ExportField::title).collect();
        if opts.include_password_hashes {
            titles.extend(["password_hash", "custom_password_hash"]);
        }
        if opts.include_mfa_factors {
            titles.push("mfa_factors");
        }
        let row: Vec<String> = titles.iter().map(|t| csv_cell(&Value::String((*t).to_string()), false)).collect();
        writeln!(out, "{}", row.join(","))?;
    }
    if opts.format == ExportFormat::JsonArray {
        out.write_all(b"[")?;
    }
    let mut n = 0u64;
    let mut line = Vec::with_capacity(1024);
    let with_roles = exports_roles(Some(fields));
    for record in users {
        let user = record.user();
        if direct {
            let hash = match (&user.password_hash, opts.include_password_hashes) {
                (Some(stored), true) => Some(
                    hasher
                        .parse_stored(stored)
                        .map_err(|error| ExportError::Hash { user_id: user.user_id.clone(), error })?
                        .to_auth0_export(),
                ),
                _ => None,
            };
            line.clear();
            if opts.format == ExportFormat::JsonArray {
                line.extend_from_slice(if n > 0 { b",\n" } else { b"\n" });
            }
            write_direct(&mut line, fields, user, opts.include_password_hashes, hash.as_ref())?;
            if opts.format == ExportFormat::Ndjson {
                line.push(b'\n');
            }
            out.write_all(&line)?;
            n += 1;
            continue;
        }
        let mut profile = user.to_auth0_json();
        if let (true, Value::Object(m)) = (with_roles, &mut profile) {
            m.insert(ROLES_FIELD.into(), Value::from(record.role_names().to_vec()));
        }
        if opts.include_password_hashes {
            if let Value::Object(m) = &mut profile {
                m.insert("user_id".into(), Value::String(user.local_id().to_string()));
            }
        }
        let hash = match (&user.password_hash, opts.include_password_hashes) {
            (Some(stored), true) => Some(
                hasher
                    .parse_stored(stored)
                    .map_err(|error| ExportError::Hash { user_id: user.user_id.clone(), error })?
                    .to_auth0_export(),
            ),
            _ => None,
        };
        line.clear();
        match opts.format {
            ExportFormat::Ndjson | ExportFormat::JsonArray => {
                let mut obj = Map::with_capacity(fields.len() + 1);
                for ((f, p), &movable) in fields.iter().zip(&paths).zip(&movable) {
                    let v = match (movable, p.as_slice(), &mut profile) {
                        (true, [Step::Key(k)], Value::Object(m)) => m.get_mut(k.as_str()).map(Value::take),
                        _ => lookup(&profile, p).cloned(),
                    };
                    if let Some(v) = v.filter(|v| !v.is_null()) {
                        obj.insert(f.title().to_string(), v);
                    }
                }
                if let Some(Value::Object(h)) = hash {
                    obj.extend(h);
                }
                if opts.include_mfa_factors && !record.mfa_factors().is_empty() {
                    obj.insert("mfa_factors".into(), Value::from(record.mfa_factors().to_vec()));
                }
                if opts.format == ExportFormat::JsonArray && n > 0 {
                    line.push(b',');
                }
                if opts.format == ExportFormat::JsonArray {
                    line.push(b'\n');
                }
                serde_json::to_writer(&mut line, &obj).map_err(std::io::Error::from)?;
                if opts.format == ExportFormat::Ndjson {
                    line.push(b'\n');
                }
            }
            ExportFormat::Csv => {
                let mut cells: Vec<String> = fields
                    .iter()
                    .zip(&paths)
                    .map(|(f, p)| match lookup(&profile, p) {
                        Some(v) => csv_cell(v, TIMESTAMP_FIELDS.contains(&f.name.as_str())),
                        None => String::new(),
                    })
                    .collect();
                if opts.include_password_hashes {
                    let get = |k: &str| hash.as_ref().and_then(|h| h.get(k));
                    for k in ["password_hash", "custom_password_hash"] {
                        cells.push(get(k).map(|v| csv_cell(v, false)).unwrap_or_default());
                    }
                }
                if opts.include_mfa_factors {
                    let factors = record.mfa_factors();
                    let cell = Value::from(factors.to_vec());
                    cells.push(if factors.is_empty() { String::new() } else { csv_cell(&cell, false) });
                }
                line.extend_from_slice(cells.join(",").as_bytes());
                line.push(b'\n');
            }
        }
        out.write_all(&line)?;
        n += 1;
    }
    if opts.format == ExportFormat::JsonArray {
        out.write_all(if n > 0 { b"\n]\n" } else { b"]\n" })?;
    }
    out.flush()?;
    Ok(n)
}

/// Top-level keys of `User::to_auth0_json`, which [`write_direct`] writes with the same
/// values. The keys of a hash export (`password_hash`, `custom_password_hash`) are not
/// among them, so a hash never replaces a field.
const DIRECT_KEYS: &[&str] = &[
    "email",
    "username",
    "phone_number",
    "name",
    "nickname",
    "given_name",
    "family_name",
    "picture",
    "last_ip",
    "last_login",
    "last_password_reset",
    "email_verified",
    "phone_verified",
    "user_id",
    "created_at",
    "updated_at",
    "identities",
    "user_metadata",
    "app_metadata",
    "logins_count",
    "blocked",
];

/// Whether [`write_direct`] can write these fields: every one a [`DIRECT_KEYS`] key, and
/// no two under one title or under a hash's key (the general path's map would merge them).
fn direct_fields(fields: &[ExportField]) -> bool {
    let titles: std::collections::HashSet<&str> = fields.iter().map(ExportField::title).collect();
    titles.len() == fields.len()
        && !titles.contains("password_hash")
        && !titles.contains("custom_password_hash")
        && fields.iter().all(|f| DIRECT_KEYS.contains(&f.name.as_str()))
}

/// `identities[0]` of a user's profile, in `User::to_auth0_json`'s key order.
#[derive(Serialize)]
struct PrimaryIdentity<'a> {
    connection: &'a str,
    user_id: &'a str,
    provider: &'a str,
    #[serde(rename = "isSocial")]
    is_social: bool,
}

/// One user as the JSON object the general path writes (its profile's `fields`, then the
/// hash's keys), written straight from the `User`.
fn write_direct(
    line: &mut Vec<u8>,
    fields: &[ExportField],
    user: &User,
    local_user_id: bool,
    hash: Option<&Value>,
) -> Result<(), ExportError> {
    fn put<T: Serialize + ?Sized>(line: &mut Vec<u8>, first: &mut bool, key: &str, v: &T) -> std::io::Result<()> {
        line.push(if std::mem::take(first) { b'{' } else { b',' });
        serde_json::to_writer(&mut *line, key)?;
        line.push(b':');
        serde_json::to_writer(&mut *line, v).map_err(std::io::Error::from)
    }
    let mut first = true;
    for f in fields {
        let (line, first, key) = (&mut *line, &mut first, f.title());
        let s = match f.name.as_str() {
            "email" => Option::as_deref(&user.email),
            "username" => Option::as_deref(&user.username),
            "phone_number" => Option::as_deref(&user.phone_number),
            "name" => Option::as_deref(&user.name),
            "nickname" => Option::as_deref(&user.nickname),
            "given_name" => Option::as_deref(&user.given_name),
            "family_name" => Option::as_deref(&user.family_name),
            "picture" => Option::as_deref(&user.picture),
            "last_ip" => Option::as_deref(&user.last_ip),
            "last_login" => Option::as_deref(&user.last_login),
            "last_password_reset" => Option::as_deref(&user.last_password_reset),
            "user_id" if local_user_id => Some(user.local_id()),
            "user_id" => Some(user.user_id.as_str()),
            "created_at" => Some(user.created_at.as_str()),
            "updated_at" => Some(user.updated_at.as_str()),
            "email_verified" => {
                put(line, first, key, &user.email_verified)?;
                continue;
            }
            "phone_verified" => {
                if user.phone_number.is_some() {
                    put(line, first, key, &user.phone_verified)?;
                }
                continue;
            }
            "blocked" => {
                put(line, first, key, &user.blocked)?;
                continue;
            }
            "logins_count" => {
                put(line, first, key, &user.logins_count)?;
                continue;
            }
            "user_metadata" => {
                put(line, first, key, &user.user_metadata)?;
                continue;
            }
            "app_metadata" => {
                put(line, first, key, &user.app_metadata)?;
                continue;
            }
            "identities" => {
                let identity = PrimaryIdentity {
                    connection: &user.connection,
                    user_id: user.local_id(),
                    provider: &user.provider,
                    is_social: gatehouse_core::social::is_social_strategy(&user.provider),
                };
                put(line, first, key, &[identity])?;
                continue;
            }
            _ => None,
        };
        if let Some(s) = s {
            put(line, first, key, s)?;
        }
    }
    if let Some(Value::Object(h)) = hash {
        for (k, v) in h {
            put(line, &mut first, k, v)?;
        }
    }
    if first {
        line.push(b'{');
    }
    line.push(b'}');
    Ok(())
}

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// `identities[0].connection` → [Key identities, Index 0, Key connection].
fn parse_path(name: &str) -> Result<Vec<Step>, ExportError> {
    let bad = || {
        ExportError::Fields(format!("{name:?} is not a field path like user_metadata.a or identities[0].connection"))
    };
    let mut steps = Vec::new();
    for part in name.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if key.is_empty() {
            return Err(bad());
        }
        steps.push(Step::Key(key.to_string()));
        while !rest.is_empty() {
            let close = rest.find(']').ok_or_else(bad)?;
            let idx = rest.get(1..close).and_then(|s| s.parse().ok()).ok_or_else(bad)?;
            steps.push(Step::Index(idx));
            rest = &rest[close + 1..];
            if !rest.is_empty() && !rest.starts_with('[') {
                return Err(bad());
            }
        }
    }
    Ok(steps)
}

fn lookup<'v>(v: &'v Value, path: &[Step]) -> Option<&'v Value> {
    path.iter()
        .try_fold(v, |cur, step| match step {
            Step::Key(k) => cur.get(k.as_str()),
            Step::Index(i) => cur.get(*i),
        })
        .filter(|v| !v.is_null())
}

/// One CSV cell with Auth0's CSV-injection escaping: strings get a leading `'`, `"` is
/// doubled and the cell is quoted; timestamps Auth0 generates are exempt from the `'`;
/// numbers and booleans are written bare; objects and arrays as escaped JSON strings.
fn csv_cell(v: &Value, timestamp: bool) -> String {
    let quote = |s: &str, prefix: &str| format!("\"{prefix}{}\"", s.replace('"', "\"\""));
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if timestamp => quote(s, ""),
        Value::String(s) => quote(s, "'"),
        other => quote(&other.to_string(), "'"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths() {
        let v = json!({"identities": [{"connection": "db"}], "user_metadata": {"consent": {"given": true}}});
        let p = parse_path("identities[0].connection").unwrap();
        assert_eq!(lookup(&v, &p), Some(&json!("db")));
        let p = parse_path("user_metadata.consent.given").unwrap();
        assert_eq!(lookup(&v, &p), Some(&json!(true)));
        assert!(parse_path("a..b").is_err());
        assert!(parse_path("a[x]").is_err());
    }

    #[test]
    fn csv_escaping() {
        assert_eq!(csv_cell(&json!("=cmd|\"x\""), false), "\"'=cmd|\"\"x\"\"\"");
        assert_eq!(csv_cell(&json!("2024-01-01T00:00:00.000Z"), true), "\"2024-01-01T00:00:00.000Z\"");
        assert_eq!(csv_cell(&json!(3), false), "3");
        assert_eq!(csv_cell(&json!({"a": 1}), false), "\"'{\"\"a\"\":1}\"");
    }
}
