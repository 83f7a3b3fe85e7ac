use super::*;
use serde_json::json;

#[test]
fn good_records_around_a_bad_one() {
    let (ok, bad) = import(Format::Auth0Json, "auth0.json", ReadOptions::default(), &db());
    assert_eq!(ok.len(), 7);
    assert_eq!(bad.len(), 1);
    let e = &bad[0];
    assert_eq!(e.index, 2);
    assert_eq!(
        codes(e),
        vec![("bogus", "OBJECT_ADDITIONAL_PROPERTIES"), ("email", "FORMAT"), ("password_hash", "FORMAT")]
    );
    assert_eq!(e.user["password_hash"], "*****", "secrets are masked in error reports");
    assert_eq!(ok.iter().map(|u| u.index).collect::<Vec<_>>(), vec![0, 1, 3, 4, 5, 6, 7]);
}

#[test]
fn every_hash_family_verifies() {
    let (ok, _) = import(Format::Auth0Json, "auth0.json", ReadOptions::default(), &db());
    // bcrypt, md5+salt, pbkdf2-sha512 PHC, argon2id, firebase-scrypt, sha256+salt
    assert_eq!(check_passwords(&ok), 6);
}

#[test]
fn fields_and_defaults() {
    let (ok, _) = import(Format::Auth0Json, "auth0.json", ReadOptions::default(), &db());
    let alice = by_email(&ok, "alice@example.com");
    assert_eq!(alice.user.user_id, "auth0|alice01");
    assert!(alice.user_id_given && alice.user.email_verified);
    assert_eq!(alice.user.name.as_deref(), Some("alice@example.com"), "Auth0 default name");
    assert_eq!(alice.user.nickname.as_deref(), Some("alice"));
    assert_eq!(alice.mfa_factors, vec![json!({"totp": {"secret": "JBSWY3DPEHPK3PXP"}})]);
    assert_eq!(alice.hash_source, gatehouse_migrate::HashSource::PasswordHash);
    assert!(alice.provided.user_metadata && alice.provided.given_name && !alice.provided.name);
    assert_eq!(alice.user.connection, "Username-Password-Authentication");
    let bob = by_email(&ok, "bob@example.com");
    assert_eq!(bob.hash_source, gatehouse_migrate::HashSource::Custom);
    assert!(bob.user.password_hash.as_deref().unwrap().starts_with("$gh-custom$"));
    let grace = by_email(&ok, "grace@example.com");
    assert!(grace.user.blocked);
    assert_eq!(grace.user.phone_number.as_deref(), Some("+12125550001"));
    assert_eq!(grace.user.password_hash, None);
    assert_eq!(grace.user.created_at, NOW);
}

#[test]
fn record_errors_serialise_like_auth0_job_errors() {
    let (_, bad) = import(Format::Auth0Json, "auth0.json", ReadOptions::default(), &db());
    let v = serde_json::to_value(&bad[0]).unwrap();
    assert_eq!(v["index"], 2);
    assert_eq!(v["user"]["email"], "not-an-email");
    assert_eq!(
        v["errors"][0],
        json!({"code": "OBJECT_ADDITIONAL_PROPERTIES", "message": "Additional properties not allowed: bogus", "path": "bogus"})
    );
}

#[test]
fn username_rules_follow_the_connection() {
    let file = r#"[{"email": "a@example.com", "username": "ann"}, {"email": "b@example.com"}]"#;
    let run = |conn: &Connection| {
        records(Format::Auth0Json, file.as_bytes(), ReadOptions::default())
            .map(|r| {
                validate(&r.unwrap(), conn, &Hasher::default(), NOW)
                    .map_err(|e| codes(&e).iter().map(|(p, c)| format!("{p}:{c}")).collect::<Vec<_>>())
            })
            .collect::<Vec<_>>()
    };
    let plain = run(&db());
    assert_eq!(plain[0].as_ref().err(), Some(&vec!["username:NOT_PASSED".to_string()]));
    assert!(plain[1].is_ok());
    let named = run(&db_with_usernames());
    assert_eq!(named[0].as_ref().map(|u| u.user.username.clone()).ok(), Some(Some("ann".to_string())));
    assert_eq!(named[1].as_ref().err(), Some(&vec!["username:OBJECT_REQUIRED".to_string()]));
}
