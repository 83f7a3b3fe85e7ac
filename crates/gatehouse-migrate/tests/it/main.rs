//! Integration tests of gatehouse-migrate: one module per format, plus malformed files,
//! export round-trips, upsert, streaming and properties.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod alloc_meter;
mod auth0;
mod csv;
mod export;
mod firebase;
mod keycloak;
mod kratos;
mod malformed;
mod ndjson;
mod props;
mod streaming;
mod upsert;

use gatehouse_core::connection::Connection;
use gatehouse_hash::Hasher;
use gatehouse_migrate::{records, validate, Format, ImportUser, ReadOptions, RecordError};
use std::io::BufReader;

pub const NOW: &str = "2026-01-01T00:00:00.000Z";

/// The password of each fixture user, by email local part (see fixtures/generate.py).
pub const PASSWORDS: &[(&str, &str)] = &[
    ("alice", "alice-pw-1"),
    ("bob", "bob-pw-2"),
    ("carol", "carol-pw-3"),
    ("dave", "dave-pw-4"),
    ("erin", "quartzO'Brien1833"),
    ("frank", "frank-pw-6"),
    ("hank", "hank-pw-8"),
    ("ivy", "ivy-pw-9"),
    ("kim", "kim-pw-11"),
    ("mia", "mia-pw-13"),
    ("nia", "nia-pw-14"),
    ("olga", "quartzO'Brien1833"),
    ("rita", "rita-pw-18"),
    ("sam", "sam-pw-19"),
    ("tom", "tom-pw-20"),
    ("una", "una-pw-21"),
    ("vic", "vic-pw-22"),
    ("wes", "wes-pw-23"),
    ("xena", "xena-pw-24"),
];

pub fn db() -> Connection {
    Connection::new_database("con_0123456789abcdef".into(), "Username-Password-Authentication".into(), NOW.into())
}

pub fn db_with_usernames() -> Connection {
    let mut c = db();
    c.options.insert("requires_username".into(), serde_json::Value::Bool(true));
    c
}

pub fn fixture(name: &str) -> BufReader<std::fs::File> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    BufReader::new(std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
}

/// Reads and validates a whole fixture: the valid users and the per-record errors.
pub fn import(format: Format, file: &str, opts: ReadOptions, conn: &Connection) -> (Vec<ImportUser>, Vec<RecordError>) {
    let hasher = Hasher::default();
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for r in records(format, fixture(file), opts) {
        let r = r.unwrap_or_else(|e| panic!("{file}: {e}"));
        match validate(&r, conn, &hasher, NOW) {
            Ok(u) => ok.push(u),
            Err(e) => bad.push(e),
        }
    }
    (ok, bad)
}

/// Every user with a known password verifies with it and rejects a wrong one; returns
/// how many were checked.
pub fn check_passwords(users: &[ImportUser]) -> usize {
    let hasher = Hasher::default();
    let mut n = 0;
    for u in users {
        let local = u.user.email.as_deref().and_then(|e| e.split('@').next()).unwrap_or("");
        let Some((_, pw)) = PASSWORDS.iter().find(|(who, _)| *who == local) else { continue };
        let stored = u.user.password_hash.as_deref().unwrap_or_else(|| panic!("{local} has no hash"));
        let h = hasher.parse_stored(stored).unwrap_or_else(|e| panic!("{local}: {e}"));
        assert!(hasher.verify(&h, pw), "{local}: right password rejected ({})", h.family());
        assert!(!hasher.verify(&h, &format!("{pw}x")), "{local}: wrong password accepted");
        n += 1;
    }
    n
}

pub fn by_email<'a>(users: &'a [ImportUser], email: &str) -> &'a ImportUser {
    users.iter().find(|u| u.user.email.as_deref() == Some(email)).unwrap_or_else(|| panic!("no {email}"))
}

/// `(path, code)` of every error of a record.
pub fn codes(e: &RecordError) -> Vec<(&str, &str)> {
    e.errors.iter().map(|f| (f.path.as_str(), f.code)).collect()
}
