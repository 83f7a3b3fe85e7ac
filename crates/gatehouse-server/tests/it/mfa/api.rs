//! Auth0's MFA API for the password grants: `mfa_required` with an `mfa_token`,
//! `/mfa/authenticators`, `/mfa/associate`, `/mfa/challenge`, and the grants `mfa-otp`,
//! `mfa-oob` and `mfa-recovery-code`; codes single use, replays refused, too many wrong
//! codes locking the factor.

use super::{
    configure, import_user, mfa_grant, mfa_token, otp, otp_now, start, MFA_OOB, MFA_OTP, MFA_RECOVERY, SECRET,
};
use crate::kit::{decode_qp, jwt_claims, Backend};
use crate::login::fixture::{self, LEGACY_PASSWORD, PASSWORD, WEB, WEB_SECRET};
use serde_json::{json, Value};

crate::on_both_backends!(
    an_imported_totp_user_signs_in_with_a_code_once,
    a_user_without_a_factor_enrolls_through_associate,
    recovery_codes_are_spent_and_replaced,
    wrong_codes_lock_the_second_factor,
    emailed_codes_through_oob,
    no_second_factor_without_an_enabled_factor_or_policy
);

async fn bearer_get(s: &fixture::LoginServer, path: &str, token: &str) -> (u16, Value) {
    s.call("GET", path, None, Some(token)).await
}

async fn an_imported_totp_user_signs_in_with_a_code_once(b: Backend) {
    let s = start(b).await;
    let id = import_user(&s, "otp@example.com", json!([{"totp": {"secret": SECRET}}])).await;
    configure(&s, &["otp"], false).await;
    let token = mfa_token(&s, "otp@example.com").await;
    let (status, list) = bearer_get(&s, "/mfa/authenticators", &token).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["authenticator_type"], "otp");
    assert_eq!(list[0]["active"], true);
    assert!(list[0]["id"].as_str().unwrap().starts_with("totp|dev_"), "{list}");
    assert_eq!(bearer_get(&s, "/mfa/authenticators", "not-a-token").await.0, 401);
    let challenge = json!({"client_id": WEB, "client_secret": WEB_SECRET, "mfa_token": token, "challenge_type": "otp"});
    assert_eq!(s.call("POST", "/mfa/challenge", Some(challenge), None).await, (200, json!({"challenge_type": "otp"})));
    // A wrong code, then the right one (pyotp's), then the same code again for a new login.
    let (status, body) = mfa_grant(&s, MFA_OTP, &token, &[("otp", "000000")]).await;
    assert_eq!((status, body), (403, json!({"error": "invalid_grant", "error_description": "Invalid otp_code."})));
    let code = otp_now(&s, SECRET);
    let (status, tokens) = mfa_grant(&s, MFA_OTP, &token, &[("otp", &code)]).await;
    assert_eq!(status, 200, "{tokens}");
    let claims = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["sub"], json!(id));
    assert_eq!(claims["amr"], json!(["pwd", "mfa"]), "{claims}");
    // The mfa_token is spent, and so is the code's time step.
    let (status, body) = mfa_grant(&s, MFA_OTP, &token, &[("otp", &code)]).await;
    assert_eq!((status, body["error"].clone()), (403, json!("expired_token")), "{body}");
    let again = mfa_token(&s, "otp@example.com").await;
    let (status, body) = mfa_grant(&s, MFA_OTP, &again, &[("otp", &code)]).await;
    assert_eq!((status, body["error_description"].clone()), (403, json!("Invalid otp_code.")), "replay: {body}");
    // Another client cannot redeem this client's token; nor can a token be forged.
    let (status, body) = mfa_grant(&s, MFA_OTP, "x".repeat(43).as_str(), &[("otp", &code)]).await;
    assert_eq!((status, body["error"].clone()), (403, json!("expired_token")), "{body}");
    let (status, body) = mfa_grant(&s, MFA_OTP, "short", &[("otp", &code)]).await;
    assert_eq!((status, body["error_description"].clone()), (403, json!("Malformed mfa_token")), "{body}");
    // The next step's code works.
    s.clock.advance_secs(30);
    let (status, tokens) = mfa_grant(&s, MFA_OTP, &again, &[("otp", &otp_now(&s, SECRET))]).await;
    assert_eq!(status, 200, "{tokens}");
    // A user with no factor is not asked for one.
    let (status, body) = fixture::password_grant(&s, "alice@example.com", PASSWORD, &[]).await;
    assert_eq!(status, 200, "{body}");
}

async fn a_user_without_a_factor_enrolls_through_associate(b: Backend) {
    let s = start(b).await;
    configure(&s, &["otp", "recovery-code"], true).await;
    let (status, body) = fixture::password_grant(&s, "alice@example.com", PASSWORD, &[("scope", "openid")]).await;
    assert_eq!((status, body["error"].clone()), (403, json!("mfa_required")), "{body}");
    let token = body["mfa_token"].as_str().unwrap().to_string();
    assert_eq!(bearer_get(&s, "/mfa/authenticators", &token).await, (200, json!([])));
    let r = s
        .http
        .post(s.url("mfa/associate"))
        .bearer_auth(&token)
        .json(&json!({"client_id": WEB, "client_secret": WEB_SECRET, "authenticator_types": ["otp"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let enrol: Value = r.json().await.unwrap();
    assert_eq!(enrol["authenticator_type"], "otp");
    let secret = enrol["secret"].as_str().unwrap().to_string();
    assert!(enrol["barcode_uri"].as_str().unwrap().starts_with("otpauth://totp/"), "{enrol}");
    assert!(enrol["barcode_uri"].as_str().unwrap().contains(&format!("secret={secret}")));
    let recovery = enrol["recovery_codes"][0].as_str().unwrap().to_string();
    // Not yet a factor: the enrolment counts once its first code passes.
    let alice = "auth0|alice";
    assert!(s.store.mfa_factors(alice).await.unwrap().iter().all(|f| !f.confirmed));
    let (status, tokens) = mfa_grant(&s, MFA_OTP, &token, &[("otp", &otp_now(&s, &secret))]).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(jwt_claims(tokens["id_token"].as_str().unwrap())["amr"], json!(["pwd", "mfa"]));
    let (_, methods) = s.api("GET", &format!("/api/v2/users/{alice}/authentication-methods"), None).await;
    let kinds: Vec<(&str, bool)> = methods
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["type"].as_str().unwrap(), m["confirmed"].as_bool().unwrap()))
        .collect();
    assert_eq!(kinds.len(), 2, "{methods}");
    assert!(kinds.contains(&("totp", true)) && kinds.contains(&("recovery-code", true)), "{methods}");
    // Enrolled now: associate is refused, the recovery code announced works.
    let next = fixture::password_grant(&s, "alice@example.com", PASSWORD, &[]).await.1["mfa_token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = s
        .http
        .post(s.url("mfa/associate"))
        .bearer_auth(&next)
        .json(&json!({"client_id": WEB, "client_secret": WEB_SECRET, "authenticator_types": ["otp"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let (status, body) = mfa_grant(&s, MFA_RECOVERY, &next, &[("recovery_code", &recovery)]).await;
    assert_eq!(status, 200, "{body}");
}

async fn recovery_codes_are_spent_and_replaced(b: Backend) {
    let s = start(b).await;
    let id = import_user(&s, "rc@example.com", json!([{"totp": {"secret": SECRET}}])).await;
    configure(&s, &["otp", "recovery-code"], false).await;
    let (_, first) = s.api("POST", &format!("/api/v2/users/{id}/recovery-code-regeneration"), None).await;
    let first = first["recovery_code"].as_str().unwrap().to_string();
    let token = mfa_token(&s, "rc@example.com").await;
    let (status, body) = mfa_grant(&s, MFA_RECOVERY, &token, &[("recovery_code", "AAAAAAAAAAAAAAAAAAAAAAAA")]).await;
    assert_eq!((status, body["error_description"].clone()), (403, json!("Invalid recovery_code.")), "{body}");
    // Typed in lower case with spaces, as people do.
    let typed = format!("{} {}", first[..12].to_lowercase(), &first[12..]);
    let (status, tokens) = mfa_grant(&s, MFA_RECOVERY, &token, &[("recovery_code", &typed)]).await;
    assert_eq!(status, 200, "{tokens}");
    let second = tokens["recovery_code"].as_str().unwrap().to_string();
    assert_ne!(second, first);
    let token = mfa_token(&s, "rc@example.com").await;
    let (status, _) = mfa_grant(&s, MFA_RECOVERY, &token, &[("recovery_code", &first)]).await;
    assert_eq!(status, 403, "a spent code never works again");
    // Regenerated by an administrator: the user's code stops working.
    s.api("POST", &format!("/api/v2/users/{id}/recovery-code-regeneration"), None).await;
    let (status, _) = mfa_grant(&s, MFA_RECOVERY, &token, &[("recovery_code", &second)]).await;
    assert_eq!(status, 403);
}

async fn wrong_codes_lock_the_second_factor(b: Backend) {
    let s = start(b).await;
    let id = import_user(&s, "bf@example.com", json!([{"totp": {"secret": SECRET}}])).await;
    configure(&s, &["otp"], false).await;
    let token = mfa_token(&s, "bf@example.com").await;
    for i in 1..=9 {
        let (status, body) = mfa_grant(&s, MFA_OTP, &token, &[("otp", "123456")]).await;
        // (One in a million: 123456 is this step's code. Then this assertion tells.)
        assert_eq!((status, body["error"].clone()), (403, json!("invalid_grant")), "attempt {i}: {body}");
    }
    let (status, body) = mfa_grant(&s, MFA_OTP, &token, &[("otp", "123456")]).await;
    let locked = json!({"error": "too_many_attempts",
        "error_description": "Too many failed codes. Wait for some minutes before retrying."});
    assert_eq!((status, body), (429, locked.clone()));
    // Locked: the right code too, from any login of the user.
    let (status, body) = mfa_grant(&s, MFA_OTP, &token, &[("otp", &otp_now(&s, SECRET))]).await;
    assert_eq!((status, body), (429, locked));
    s.state.audit.flush().await;
    let (_, logs) = s.api("GET", &format!("/api/v2/users/{id}/logs"), None).await;
    let types: Vec<&str> = logs.as_array().unwrap().iter().filter_map(|l| l["type"].as_str()).collect();
    assert!(types.contains(&"gd_otp_rate_limit_exceed") && types.contains(&"gd_auth_failed"), "{types:?}");
    // A quarter of an hour later the factor works again.
    s.clock.advance_secs(16 * 60);
    let token = mfa_token(&s, "bf@example.com").await;
    let (status, body) = mfa_grant(&s, MFA_OTP, &token, &[("otp", &otp_now(&s, SECRET))]).await;
    assert_eq!(status, 200, "{body}");
}

async fn emailed_codes_through_oob(b: Backend) {
    let s = start(b).await;
    import_user(&s, "em@example.com", json!([{"email": {"value": "second@example.com"}}])).await;
    configure(&s, &["email"], false).await;
    let token = mfa_token(&s, "em@example.com").await;
    let (_, list) = s.call("GET", "/mfa/authenticators", None, Some(&token)).await;
    assert_eq!(list[0]["authenticator_type"], "oob");
    assert_eq!(list[0]["oob_channel"], "email");
    assert_eq!(list[0]["name"], "se***@e***.com");
    let ask = json!({"client_id": WEB, "client_secret": WEB_SECRET, "mfa_token": token, "challenge_type": "oob"});
    let (status, challenge) = s.call("POST", "/mfa/challenge", Some(ask), None).await;
    assert_eq!(status, 200, "{challenge}");
    assert_eq!(challenge["challenge_type"], "oob");
    assert_eq!(challenge["binding_method"], "prompt");
    let oob = challenge["oob_code"].as_str().unwrap();
    let mail = decode_qp(&s.emails_to("second@example.com", 1).await[0]);
    let code: String =
        mail.lines().map(str::trim).find(|l| l.len() == 6 && l.bytes().all(|c| c.is_ascii_digit())).unwrap().into();
    let (status, body) = mfa_grant(&s, MFA_OOB, &token, &[("oob_code", oob), ("binding_code", "000000")]).await;
    assert_eq!((status, body["error_description"].clone()), (403, json!("Invalid binding_code.")), "{body}");
    let (status, tokens) = mfa_grant(&s, MFA_OOB, &token, &[("oob_code", oob), ("binding_code", &code)]).await;
    assert_eq!(status, 200, "{tokens}");
}

async fn no_second_factor_without_an_enabled_factor_or_policy(b: Backend) {
    let s = start(b).await;
    import_user(&s, "off@example.com", json!([{"totp": {"secret": SECRET}}])).await;
    // The factor is kept but not enabled: the login is a password login, as in Auth0.
    let (status, body) = fixture::password_grant(&s, "off@example.com", LEGACY_PASSWORD, &[]).await;
    assert_eq!(status, 200, "{body}");
    // MFA required with no factor a user could enroll: refused, and said why.
    configure(&s, &[], true).await;
    let (status, body) = fixture::password_grant(&s, "alice@example.com", PASSWORD, &[]).await;
    assert_eq!((status, body["error"].clone()), (403, json!("access_denied")), "{body}");
    let _ = otp(SECRET, 0);
}
