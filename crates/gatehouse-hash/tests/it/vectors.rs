//! Every vector from independent implementations (passlib, bcrypt, argon2-cffi, hashlib,
//! pycryptodome, firebase-scrypt) must verify with `password`, fail with
//! `wrong_password`, and round-trip through the stored form and the Auth0 export.

use gatehouse_hash::{Hasher, PasswordHash};
use serde_json::Value;

const VECTORS: &str = include_str!("../fixtures/password-hashes.json");
/// Formats the shared file does not cover, made with Python's hashlib, OpenSSL and
/// glibc/libxcrypt `crypt(3)` (via Perl): Drupal 7, passlib scrypt/pbkdf2, more LDAP
/// schemes, sha-crypt `rounds=`, PHC pbkdf2 without parameters and with OpenSSL digest
/// aliases, HMAC-SHA384/224, latin1/ucs2 password encodings, Auth0's scrypt example.
const EXTRA: &str = include_str!("../fixtures/extra-hashes.json");

fn load(text: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(text).unwrap();
    v.as_array().unwrap().clone()
}

fn vectors() -> Vec<Value> {
    load(VECTORS)
}

/// Shared vectors plus the extra ones.
fn everything() -> Vec<Value> {
    let mut v = load(VECTORS);
    v.extend(load(EXTRA));
    v
}

fn parse(h: &Hasher, v: &Value) -> PasswordHash {
    let id = v["id"].as_str().unwrap();
    if let Some(s) = v.get("password_hash") {
        h.parse_password_hash(s.as_str().unwrap()).unwrap_or_else(|e| panic!("{id}: {e}"))
    } else {
        h.parse_custom_password_hash(&v["custom_password_hash"]).unwrap_or_else(|e| panic!("{id}: {e}"))
    }
}

#[test]
fn all_seventy_vectors_verify_and_reject_the_wrong_password() {
    let h = Hasher::default();
    let all = vectors();
    assert_eq!(all.len(), 70);
    let mut failures = Vec::new();
    for v in &everything() {
        let id = v["id"].as_str().unwrap();
        let ph = parse(&h, v);
        if !h.verify(&ph, v["password"].as_str().unwrap()) {
            failures.push(format!("{id} ({}): password did not verify", ph.family()));
        }
        if h.verify(&ph, v["wrong_password"].as_str().unwrap()) {
            failures.push(format!("{id} ({}): wrong password verified", ph.family()));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn all_vectors_round_trip_stored_form_and_export() {
    let h = Hasher::default();
    for v in everything() {
        let id = v["id"].as_str().unwrap();
        let ph = parse(&h, &v);
        let stored = ph.to_stored();
        if let Some(s) = v.get("password_hash") {
            assert_eq!(stored, s.as_str().unwrap(), "{id}: self-describing hashes store as themselves");
            assert_eq!(ph.to_auth0_export(), serde_json::json!({ "password_hash": s }), "{id}");
        } else {
            assert!(stored.starts_with("$gh-custom$v=1$"), "{id}");
            let export = ph.to_auth0_export();
            assert_eq!(export["custom_password_hash"], v["custom_password_hash"], "{id}");
            // Exactly as imported, including key order.
            assert_eq!(export["custom_password_hash"].to_string(), v["custom_password_hash"].to_string(), "{id}");
        }
        let back = h.parse_stored(&stored).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(back, ph, "{id}");
        assert_eq!(back.to_stored(), stored, "{id}");
        assert_eq!(back.family(), ph.family(), "{id}");
        assert!(h.verify(&back, v["password"].as_str().unwrap()), "{id}");
        // The export re-imports to the same hash.
        let export = back.to_auth0_export();
        let again = if let Some(s) = export.get("password_hash") {
            h.parse_password_hash(s.as_str().unwrap()).unwrap()
        } else {
            h.parse_custom_password_hash(&export["custom_password_hash"]).unwrap()
        };
        assert_eq!(again, ph, "{id}");
    }
}

#[test]
fn families_are_named() {
    let h = Hasher::default();
    for v in vectors() {
        let ph = parse(&h, &v);
        let expected = v["family"].as_str().unwrap();
        let got = ph.family();
        // Custom objects get a `custom-` prefix; passlib/LDAP names are spelled out.
        let ok = got == expected
            || got == format!("custom-{expected}")
            || (expected.starts_with("phpass") && got == "phpass")
            || (expected == "bcrypt-sha256-passlib" && got == "passlib-bcrypt-sha256");
        assert!(ok, "{}: family {got} vs vector family {expected}", v["id"]);
    }
}

#[test]
fn only_fresh_argon2id_needs_no_rehash() {
    let h = Hasher::default();
    for v in everything() {
        let ph = parse(&h, &v);
        assert!(h.needs_rehash(&ph), "{}: legacy or weaker hashes need a rehash", v["id"]);
    }
}
