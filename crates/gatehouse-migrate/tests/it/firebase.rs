use super::*;
use gatehouse_migrate::FirebaseHashConfig;

fn config() -> FirebaseHashConfig {
    let v: serde_json::Value = serde_json::from_reader(fixture("firebase-hash-config.json")).unwrap();
    FirebaseHashConfig::from_json(&v).unwrap()
}

#[test]
fn firebase_scrypt_users() {
    let opts = ReadOptions { firebase: Some(config()), ..ReadOptions::default() };
    let (ok, bad) = import(Format::Firebase, "firebase.json", opts, &db());
    assert_eq!(ok.len(), 2);
    let olga = by_email(&ok, "olga@example.com");
    assert_eq!(olga.user.user_id, "auth0|Xk2qPz8mRhT1aB3cD4eF5gH6iJ7k");
    assert_eq!(olga.user.name.as_deref(), Some("Olga Orr"));
    assert_eq!(olga.user.picture.as_deref(), Some("https://lh3.example.com/o.jpg"));
    assert_eq!(olga.user.app_metadata.get("role").and_then(|v| v.as_str()), Some("editor"));
    assert!(olga.user.email_verified && !olga.user.blocked);
    let quinn = by_email(&ok, "quinn@example.com");
    assert!(quinn.user.blocked);
    assert_eq!(quinn.user.password_hash, None, "a Google-only user has no password");
    assert_eq!(check_passwords(&ok), 1);
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].index, 1);
    assert_eq!(codes(&bad[0]), vec![("app_metadata", "FORMAT")]);
    assert_eq!(bad[0].user["custom_password_hash"]["firebase"]["signer_key"], "*****");
}

#[test]
fn without_hash_parameters_password_users_are_refused() {
    let (ok, bad) = import(Format::Firebase, "firebase.json", ReadOptions::default(), &db());
    assert_eq!(ok.iter().map(|u| u.index).collect::<Vec<_>>(), vec![2]);
    assert_eq!(codes(&bad[0]), vec![("custom_password_hash", "NOT_PASSED")]);
}
