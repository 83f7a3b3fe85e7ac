use super::*;
use serde_json::json;

#[test]
fn realm_export_pbkdf2_users() {
    let (ok, bad) = import(Format::Keycloak, "keycloak-realm.json", ReadOptions::default(), &db());
    assert_eq!(ok.len(), 4);
    let rita = by_email(&ok, "rita@example.com");
    assert_eq!(rita.user.user_id, "auth0|5b6f1c1e-0d5b-4b7a-9c1e-1a2b3c4d5e01");
    assert_eq!(rita.user.name.as_deref(), Some("Rita Reyes"));
    assert_eq!(rita.user.given_name.as_deref(), Some("Rita"));
    assert_eq!(rita.user.username, None, "usernames only for connections that require them");
    assert!(rita.user.email_verified && !rita.user.blocked);
    assert_eq!(serde_json::Value::Object(rita.user.user_metadata.clone()), json!({"locale": ["en"]}));
    assert_eq!(
        serde_json::Value::Object(rita.user.app_metadata.clone()),
        json!({"roles": ["admin", "default-roles-acme"], "groups": ["/staff"]})
    );
    assert!(by_email(&ok, "sam@example.com").user.blocked, "enabled: false");
    // pbkdf2-sha256, pbkdf2-sha512, pbkdf2 (sha1) after an OTP credential, argon2id
    assert_eq!(check_passwords(&ok), 4);
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].index, 3);
    assert_eq!(codes(&bad[0]), vec![("password_hash", "FORMAT")]);
    assert!(bad[0].errors[0].message.contains("\"sha-3\" is not supported"), "{}", bad[0].errors[0].message);
}

#[test]
fn usernames_when_the_connection_requires_them() {
    let conn = db_with_usernames();
    let (ok, bad) = import(Format::Keycloak, "keycloak-realm.json", ReadOptions::for_connection(&conn), &conn);
    assert_eq!((ok.len(), bad.len()), (4, 1));
    assert_eq!(by_email(&ok, "tom@example.com").user.username.as_deref(), Some("tom"));
}
