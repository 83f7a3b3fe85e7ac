use super::*;
use serde_json::json;

#[test]
fn identities_with_phc_hashes() {
    let (ok, bad) = import(Format::Kratos, "kratos.json", ReadOptions::default(), &db());
    assert_eq!(ok.len(), 3);
    let vic = by_email(&ok, "vic@example.com");
    assert_eq!(vic.user.user_id, "auth0|1f0e7a8e-6c2d-4b0b-9d7e-000000000001");
    assert_eq!((vic.user.given_name.as_deref(), vic.user.family_name.as_deref()), (Some("Vic"), Some("Vance")));
    assert_eq!(vic.user.name.as_deref(), Some("Vic Vance"));
    assert!(vic.user.email_verified);
    assert_eq!(
        serde_json::Value::Object(vic.user.user_metadata.clone()),
        json!({"plan": "team", "traits": {"newsletter": true}})
    );
    assert_eq!(serde_json::Value::Object(vic.user.app_metadata.clone()), json!({"crm_id": 991}));
    let wes = by_email(&ok, "wes@example.com");
    assert!(wes.user.blocked && !wes.user.email_verified);
    // bcrypt, argon2id, pbkdf2-sha256 PHC
    assert_eq!(check_passwords(&ok), 3);
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].index, 3);
    assert_eq!(bad[0].errors.len(), 1);
    assert_eq!(bad[0].errors[0].path, "password_hash");
}

#[test]
fn usernames_when_asked() {
    let conn = db_with_usernames();
    let (ok, _) = import(Format::Kratos, "kratos.json", ReadOptions::for_connection(&conn), &conn);
    assert_eq!(by_email(&ok, "vic@example.com").user.username.as_deref(), Some("vic"));
}
