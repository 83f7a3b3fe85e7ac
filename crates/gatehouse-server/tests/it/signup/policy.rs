//! Connection password policies, enforced at sign-up, on Management API creates and
//! updates, with Auth0's error bodies.

use super::helpers::{set_options, signup};
use crate::kit::{auth0_error, Backend, Server, DB};
use serde_json::{json, Value};

async fn try_signup(s: &Server, client: &str, email: &str, password: &str) -> (u16, Value) {
    signup(s, json!({"client_id": client, "connection": DB, "email": email, "password": password})).await
}

/// Each level accepts and rejects Auth0's documented examples (password-strength docs:
/// none "a", low "123456"/"12345", fair "Hello123"/"hello123", good "hello12!"/"hello123",
/// excellent "Hello1234!"/"Helllo1234").
async fn levels_accept_and_reject_auth0_examples(b: Backend) {
    // The examples include common passwords; breached-password detection is tested apart.
    let s = Server::start_with(b, |c| c.breached_password_detection = false).await;
    let client = s.spa_client().await;
    let cases: &[(&str, &[&str], &[&str])] = &[
        ("none", &["a", "password"], &[""]),
        ("low", &["123456", "abcdef"], &["12345"]),
        ("fair", &["Hello123", "Abcdefg1"], &["hello123", "HELLO123", "Hello12", "Hellooooo"]),
        ("good", &["Hello123", "hello12!", "HELLO 12"], &["hello123", "Hello!", "HELLOabc"]),
        ("excellent", &["Hello1234!", "aaBBcc1234"], &["Helllo1234", "Hello123!", "hello12345"]),
    ];
    let mut n = 0;
    for (level, accepted, rejected) in cases {
        set_options(&s, json!({"passwordPolicy": level})).await;
        for pw in *accepted {
            n += 1;
            let (status, body) = try_signup(&s, &client, &format!("ok{n}@example.com"), pw).await;
            assert_eq!(status, 200, "{level} should accept {pw:?}: {body}");
        }
        for pw in *rejected {
            n += 1;
            let (status, body) = try_signup(&s, &client, &format!("no{n}@example.com"), pw).await;
            if pw.is_empty() {
                // An empty password is a missing parameter before it is a weak one.
                assert_eq!((status, body["code"].as_str()), (400, Some("invalid_body")), "{body}");
                continue;
            }
            assert_eq!(status, 400, "{level} should reject {pw:?}: {body}");
            assert_eq!(body["name"], "PasswordStrengthError", "{body}");
            assert_eq!(body["code"], "invalid_password");
            assert_eq!(body["description"]["verified"], false);
            assert!(s.store.users_by_email(&format!("no{n}@example.com")).await.unwrap().is_empty());
        }
    }
    s.stop().await;
}

/// The rejection lists every rule, met or not, in Auth0's shape; `min_length` overrides
/// the level's length.
async fn strength_error_lists_every_rule(b: Backend) {
    let s = Server::start(b).await;
    let client = s.spa_client().await;
    let (status, body) = try_signup(&s, &client, "weak@example.com", "short!").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body,
        json!({
            "name": "PasswordStrengthError",
            "message": "Password is too weak",
            "code": "invalid_password",
            "description": {"rules": [
                {"message": "At least %d characters in length", "format": [8], "code": "lengthAtLeast", "verified": false},
                {"message": "Contain at least %d of the following %d types of characters:", "format": [3, 4], "code": "containsAtLeast",
                 "items": [
                    {"message": "lower case letters (a-z)", "code": "lowerCase", "verified": true},
                    {"message": "upper case letters (A-Z)", "code": "upperCase", "verified": false},
                    {"message": "numbers (i.e. 0-9)", "code": "numbers", "verified": false},
                    {"message": "special characters (e.g. !@#$%^&*)", "code": "specialCharacters", "verified": true}],
                 "verified": false}],
              "verified": false},
            "policy": "* At least 8 characters in length\n* Contain at least 3 of the following 4 types of characters:\n * lower case letters (a-z)\n * upper case letters (A-Z)\n * numbers (i.e. 0-9)\n * special characters (e.g. !@#$%^&*)",
            "statusCode": 400,
        })
    );
    set_options(&s, json!({"passwordPolicy": "low", "password_complexity_options": {"min_length": 12}})).await;
    let (status, body) = try_signup(&s, &client, "len@example.com", "elevenchars").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["description"]["rules"][0]["format"], json!([12]));
    let (status, body) = try_signup(&s, &client, "len@example.com", "twelve chars").await;
    assert_eq!(status, 200, "{body}");
    s.stop().await;
}

/// The Management API holds administrators to the policy too (Auth0's 400
/// `PasswordStrengthError: Password is too weak`), on create and on update.
async fn management_api_enforces_the_policy(b: Backend) {
    let s = Server::start(b).await;
    let (status, body) = s
        .api("POST", "/api/v2/users", Some(json!({"connection": DB, "email": "w@example.com", "password": "weakpass"})))
        .await;
    assert_eq!(auth0_error(status, &body, "invalid_password"), "PasswordStrengthError: Password is too weak");
    let user =
        s.create_user(json!({"email": "w@example.com", "password": "Strong-enough-1", "email_verified": true})).await;
    let path = format!("/api/v2/users/{}", user["user_id"].as_str().unwrap());
    let (status, body) = s.api("PATCH", &path, Some(json!({"password": "weakpass"}))).await;
    assert_eq!(auth0_error(status, &body, "invalid_password"), "PasswordStrengthError: Password is too weak");
    // An unset policy is `good`, Auth0's default for new connections.
    set_options(&s, json!({"brute_force_protection": true})).await;
    let (status, _) = s.api("PATCH", &path, Some(json!({"password": "alllowercase"}))).await;
    assert_eq!(status, 400);
    set_options(&s, json!({"passwordPolicy": "none"})).await;
    let (status, body) = s.api("PATCH", &path, Some(json!({"password": "x"}))).await;
    assert_eq!(status, 200, "{body}");
    s.stop().await;
}

/// `password_history`: the last `size` passwords cannot come back.
async fn history_refuses_recent_passwords(b: Backend) {
    let s = Server::start(b).await;
    set_options(&s, json!({"passwordPolicy": "low", "password_history": {"enable": true, "size": 2}})).await;
    let user = s.create_user(json!({"email": "h@example.com", "password": "first-pass", "email_verified": true})).await;
    let path = format!("/api/v2/users/{}", user["user_id"].as_str().unwrap());
    let set = |pw: &'static str| {
        let s = &s;
        let path = path.clone();
        async move { s.api("PATCH", &path, Some(json!({"password": pw}))).await }
    };
    let (status, body) = set("first-pass").await;
    assert_eq!(
        auth0_error(status, &body, "invalid_password"),
        "PasswordHistoryError: Password has previously been used"
    );
    assert_eq!(set("second-pass").await.0, 200);
    assert_eq!(set("first-pass").await.0, 400, "still among the last 2");
    assert_eq!(set("third-pass").await.0, 200);
    let (status, body) = set("first-pass").await;
    assert_eq!(status, 200, "three passwords ago is allowed with size 2: {body}");
    s.stop().await;
}

/// `password_dictionary`: the bundled 10k list and the connection's own words,
/// case-insensitively; and breached-password detection at sign-up whatever the
/// dictionary setting.
async fn dictionary_and_breached_passwords(b: Backend) {
    let s = Server::start(b).await;
    let client = s.spa_client().await;
    set_options(
        &s,
        json!({"passwordPolicy": "low", "password_dictionary": {"enable": true, "dictionary": ["Gatehouse2024"]}}),
    )
    .await;
    for pw in ["gatehouse2024", "GATEHOUSE2024"] {
        let (status, body) = s
            .api("POST", "/api/v2/users", Some(json!({"connection": DB, "email": "d@example.com", "password": pw})))
            .await;
        assert_eq!(auth0_error(status, &body, "invalid_password"), "PasswordDictionaryError: Password is too common");
    }
    let (status, body) = s
        .api("POST", "/api/v2/users", Some(json!({"connection": DB, "email": "d@example.com", "password": "Sunshine"})))
        .await;
    assert_eq!(auth0_error(status, &body, "invalid_password"), "PasswordDictionaryError: Password is too common");
    // Sign-up: a breached password is refused even with the dictionary off.
    set_options(&s, json!({"passwordPolicy": "low"})).await;
    let (status, body) = try_signup(&s, &client, "leak@example.com", "qwerty123").await;
    assert_eq!((status, body["code"].as_str()), (400, Some("password_leaked")), "{body}");
    assert!(super::helpers::log_types(&s).await.contains(&"signup_pwd_leak".to_string()));
    // Auth0's settings document says so; it turns the sign-up stage off (the reset stage
    // stays), then the whole check.
    let path = "/api/v2/attack-protection/breached-password-detection";
    let (status, doc) = s.api("GET", path, None).await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["enabled"], true);
    assert_eq!(doc["stage"]["pre-user-registration"]["shields"], json!(["block"]));
    let off = json!({"stage": {"pre-user-registration": {"shields": []}}, "shields": ["admin_notification"]});
    let (status, doc) = s.api("PATCH", path, Some(off)).await;
    assert_eq!((status, &doc["stage"]["pre-change-password"]["shields"]), (200, &json!(["block"])), "{doc}");
    assert_eq!(doc["shields"], json!(["admin_notification"]));
    let (status, body) = try_signup(&s, &client, "leak@example.com", "qwerty123").await;
    assert_eq!(status, 200, "the sign-up stage no longer blocks: {body}");
    let (status, body) = s.api("PATCH", path, Some(json!({"method": "psychic"}))).await;
    assert_eq!(status, 400, "{body}");
    let (status, doc) = s.api("PATCH", path, Some(json!({"enabled": false}))).await;
    assert_eq!((status, &doc["enabled"]), (200, &json!(false)), "{doc}");
    s.stop().await;
}

/// `password_no_personal_info`: the name, username and email's local part.
async fn personal_info_is_refused(b: Backend) {
    let s = Server::start(b).await;
    let client = s.spa_client().await;
    set_options(&s, json!({"passwordPolicy": "low", "password_no_personal_info": {"enable": true}})).await;
    let (status, body) = signup(
        &s,
        json!({"client_id": client, "connection": DB, "email": "ada.lovelace@example.com", "password": "xx-ada.lovelace-xx"}),
    )
    .await;
    assert_eq!((status, body["name"].as_str()), (400, Some("PasswordNoUserInfoError")), "{body}");
    let (status, body) = signup(
        &s,
        json!({"client_id": client, "connection": DB, "email": "ada@example.com", "name": "Augusta Byron", "password": "byron-1815-z"}),
    )
    .await;
    assert_eq!((status, body["name"].as_str()), (400, Some("PasswordNoUserInfoError")), "{body}");
    let (status, body) = signup(
        &s,
        json!({"client_id": client, "connection": DB, "email": "ada@example.com", "name": "Augusta Byron", "password": "engine-1843-z"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    s.stop().await;
}

crate::on_both_backends!(
    levels_accept_and_reject_auth0_examples,
    strength_error_lists_every_rule,
    management_api_enforces_the_policy,
    history_refuses_recent_passwords,
    dictionary_and_breached_passwords,
    personal_info_is_refused,
);
