use super::*;
use gatehouse_migrate::{apply_upsert, DuplicateTracker, RawRecord};
use serde_json::json;

fn one(v: serde_json::Value) -> ImportUser {
    let r = RawRecord { index: 0, line: 1, user: v, mapping_errors: Vec::new() };
    validate(&r, &db(), &Hasher::default(), NOW).unwrap()
}

const MD5: &str = "5f4dcc3b5aa765d61d8327deb882cf99"; // md5("password")

#[test]
fn upsert_changes_only_upsertable_fields_present_in_the_file() {
    let mut existing = one(json!({"email": "a@example.com", "email_verified": true, "user_id": "a1",
        "given_name": "Ann", "family_name": "Old", "blocked": true,
        "user_metadata": {"a": 1, "b": 2}, "app_metadata": {"roles": ["x"]},
        "password_hash": "$2b$04$OcIuM6Q44qqWo0nu/4hl.upUbNfgfPFaE1o1dqPIqul.Z.zEaksZG"}))
    .user;
    let before = existing.clone();
    let incoming = one(json!({"email": "a@example.com", "user_id": "other", "family_name": "New",
        "user_metadata": {"c": 3}, "blocked": false,
        "password_hash": "$2b$04$fYvPEC1iLS7vE6RYBkTTr.4bv1nRtWqJ8gkLGlFU3m8tfVNf5pNZm"}));
    apply_upsert(&mut existing, &incoming, "2026-02-02T00:00:00.000Z").unwrap();
    assert_eq!(existing.family_name.as_deref(), Some("New"));
    assert_eq!(existing.given_name.as_deref(), Some("Ann"), "absent from the file: untouched");
    assert_eq!(serde_json::Value::Object(existing.user_metadata.clone()), json!({"c": 3}), "replaced, not merged");
    assert_eq!(existing.app_metadata, before.app_metadata);
    assert!(!existing.email_verified, "reset to false when the file does not give it");
    assert_eq!(existing.password_hash, before.password_hash, "password_hash is never updated");
    assert_eq!(existing.user_id, before.user_id);
    assert!(existing.blocked, "blocked is not upsertable");
    assert_eq!(existing.updated_at, "2026-02-02T00:00:00.000Z");
    assert_eq!(existing.name, before.name, "a defaulted name is not 'provided'");
}

#[test]
fn custom_hash_is_replaceable_until_first_login() {
    let custom = |v: &str| json!({"email": "a@example.com", "custom_password_hash": {"algorithm": "md5", "hash": {"value": v, "encoding": "hex"}}});
    let mut existing = one(custom(MD5)).user;
    let incoming = one(custom("0cc175b9c0f1b6a831c399e269772661"));
    apply_upsert(&mut existing, &incoming, NOW).unwrap();
    assert_eq!(existing.password_hash, incoming.user.password_hash);

    existing.logins_count = 1;
    let e = apply_upsert(&mut existing, &one(custom(MD5)), NOW).unwrap_err();
    assert_eq!(codes(&e), vec![("custom_password_hash", "CONFLICT")]);
    assert_eq!(existing.password_hash, incoming.user.password_hash, "nothing changed");

    let mut bcrypt_user = one(json!({"email": "a@example.com", "password_hash": "$2b$04$fYvPEC1iLS7vE6RYBkTTr.4bv1nRtWqJ8gkLGlFU3m8tfVNf5pNZm"})).user;
    let e = apply_upsert(&mut bcrypt_user, &one(custom(MD5)), NOW).unwrap_err();
    assert_eq!(
        e.errors[0].message,
        "A custom_password_hash was provided, but the user already has password hash defined."
    );
}

#[test]
fn duplicates_within_a_file() {
    let file = r#"[
        {"email": "a@example.com", "user_id": "1"},
        {"email": "b@example.com", "user_id": "2"},
        {"email": "A@Example.com", "user_id": "3"},
        {"email": "c@example.com", "user_id": "2"},
        {"email": "d@example.com"},
        {"email": "d@example.com"}
    ]"#;
    let mut t = DuplicateTracker::new();
    let mut errors = Vec::new();
    for r in records(Format::Auth0Json, file.as_bytes(), ReadOptions::default()) {
        let r = r.unwrap();
        let u = validate(&r, &db(), &Hasher::default(), NOW).unwrap();
        if let Err(e) = t.check(&r, &u) {
            errors.push((
                e.index,
                codes(&e).iter().map(|(p, c)| format!("{p}:{c}")).collect::<Vec<_>>(),
                e.errors[0].message.clone(),
            ));
        }
    }
    assert_eq!(errors.len(), 3);
    assert_eq!(errors[0].0, 2);
    assert_eq!(errors[0].1, vec!["email:DUPLICATED_USER"]);
    assert!(errors[0].2.contains("record 0"), "{}", errors[0].2);
    assert_eq!((errors[1].0, errors[1].1.clone()), (3, vec!["user_id:DUPLICATED_USER".to_string()]));
    assert_eq!(errors[2].0, 5);
    // 4 good records: emails a, b, d and ids 1, 2; the duplicates registered nothing.
    assert_eq!(t.len(), 5);
}

#[test]
fn email_verified_from_the_file_wins() {
    let mut existing = one(json!({"email": "a@example.com"})).user;
    apply_upsert(&mut existing, &one(json!({"email": "a@example.com", "email_verified": true})), NOW).unwrap();
    assert!(existing.email_verified);
    apply_upsert(&mut existing, &one(json!({"email": "a@example.com", "app_metadata": {}})), NOW).unwrap();
    assert!(!existing.email_verified);
    assert!(existing.app_metadata.is_empty());
}

#[test]
fn duplicates_are_per_connection() {
    let mut t = DuplicateTracker::new();
    let r = RawRecord { index: 0, line: 1, user: json!({"email": "a@example.com"}), mapping_errors: vec![] };
    let mut other = db();
    other.id = "con_fedcba9876543210".into();
    let a = validate(&r, &db(), &Hasher::default(), NOW).unwrap();
    let b = validate(&r, &other, &Hasher::default(), NOW).unwrap();
    assert!(t.check(&r, &a).is_ok());
    assert!(t.check(&r, &b).is_ok(), "same email, another connection");
    assert!(t.check(&r, &a).is_err());
}
