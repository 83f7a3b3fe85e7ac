//! Second factors at login: the Guardian settings in Auth0's shapes, the MFA API of the
//! password grants (`mfa_required`, `/mfa/*`, the MFA grants) and the hosted challenge
//! and enrolment pages. TOTP codes are computed by pyotp, an implementation Gatehouse did
//! not write, at the time of the server's clock; WebAuthn answers by the tests' own
//! software authenticator.

mod api;
mod pages;
mod settings;
pub(crate) mod webauthn;

use crate::login::fixture::{self, LoginServer, LEGACY_HASH, LEGACY_PASSWORD, WEB};
use gatehouse_core::clock::Clock;
use serde_json::{json, Value};

/// A 160-bit secret (pyotp refuses shorter ones), as an import file would carry it.
pub const SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
pub const MFA_OTP: &str = "http://auth0.com/oauth/grant-type/mfa-otp";
pub const MFA_OOB: &str = "http://auth0.com/oauth/grant-type/mfa-oob";
pub const MFA_RECOVERY: &str = "http://auth0.com/oauth/grant-type/mfa-recovery-code";

/// The TOTP code of `secret` at `unix` seconds, by pyotp when the test venv has it
/// (`GATEHOUSE_TEST_AIOSMTPD` names its interpreter); without it, outside CI, by
/// Gatehouse's own implementation, said aloud.
pub fn otp(secret: &str, unix: i64) -> String {
    let python = std::env::var("GATEHOUSE_TEST_AIOSMTPD").ok();
    if let Some(python) = python {
        let out = std::process::Command::new(&python)
            .args(["-c", &format!("import pyotp; print(pyotp.TOTP('{secret}').at({unix}))")])
            .output();
        if let Some(out) = out.ok().filter(|o| o.status.success()) {
            return String::from_utf8(out.stdout).unwrap().trim().to_string();
        }
    }
    assert!(std::env::var("CI").as_deref() != Ok("true"), "pyotp is required in CI (scripts/test installs it)");
    eprintln!("pyotp unavailable (GATEHOUSE_TEST_AIOSMTPD unset or without pyotp): codes from Gatehouse's own TOTP");
    gatehouse_services::mfa::totp::code_at(secret, unix).unwrap()
}

/// The code of `secret` now on the server's clock.
pub fn otp_now(s: &LoginServer, secret: &str) -> String {
    otp(secret, s.clock.now().unix_timestamp())
}

/// Enables `factors` and sets the policy (`true`: every login).
pub async fn configure(s: &crate::kit::Server, factors: &[&str], every_login: bool) {
    for f in factors {
        let (status, body) =
            s.api("PUT", &format!("/api/v2/guardian/factors/{f}"), Some(json!({"enabled": true}))).await;
        assert_eq!((status, body.clone()), (200, json!({"enabled": true})), "{f}");
    }
    let policy = if every_login { json!(["all-applications"]) } else { json!([]) };
    let (status, body) = s.api("PUT", "/api/v2/guardian/policies", Some(policy.clone())).await;
    assert_eq!((status, body), (200, policy));
}

/// Imports one user of the default connection (bcrypt password [`LEGACY_PASSWORD`]) with
/// `factors`: their user id.
pub async fn import_user(s: &LoginServer, email: &str, factors: Value) -> String {
    let con = s.default_connection().await["id"].as_str().unwrap().to_string();
    let users = json!([{"email": email, "email_verified": true, "password_hash": LEGACY_HASH, "mfa_factors": factors}]);
    let fields = [("connection_id", con.as_str()), ("upsert", "false")];
    let (status, job) = s.import_users(serde_json::to_vec(&users).unwrap(), &fields).await;
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().unwrap();
    for _ in 0..600 {
        let (_, job) = s.api("GET", &format!("/api/v2/jobs/{id}"), None).await;
        if job["status"] == "completed" {
            assert_eq!(job["summary"]["inserted"], json!(1), "{job}");
            let (_, users) = s.api("GET", &format!("/api/v2/users-by-email?email={email}"), None).await;
            return users[0]["user_id"].as_str().unwrap().to_string();
        }
        assert_ne!(job["status"], "failed", "{job}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("import did not finish");
}

/// The fixture's confidential client, allowed the MFA grants too.
pub async fn allow_mfa_grants(s: &LoginServer) {
    let grants = json!([
        "authorization_code",
        "refresh_token",
        "password",
        "http://auth0.com/oauth/grant-type/password-realm",
        MFA_OTP,
        MFA_OOB,
        MFA_RECOVERY
    ]);
    let (status, body) = s.api("PATCH", &format!("/api/v2/clients/{WEB}"), Some(json!({"grant_types": grants}))).await;
    assert_eq!(status, 200, "{body}");
}

/// A password grant for `email` (password [`LEGACY_PASSWORD`]) that must answer
/// `mfa_required`: its `mfa_token`.
pub async fn mfa_token(s: &LoginServer, email: &str) -> String {
    let (status, body) = fixture::password_grant(s, email, LEGACY_PASSWORD, &[("scope", "openid email")]).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "mfa_required", "{body}");
    assert_eq!(body["error_description"], "Multifactor authentication required", "{body}");
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["error", "error_description", "mfa_token"], "Auth0's exact body: {body}");
    body["mfa_token"].as_str().unwrap().to_string()
}

/// An MFA grant of the fixture's confidential client.
pub async fn mfa_grant(s: &LoginServer, grant: &str, token: &str, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut form =
        vec![("grant_type", grant), ("client_id", WEB), ("client_secret", fixture::WEB_SECRET), ("mfa_token", token)];
    form.extend_from_slice(extra);
    s.token(&form).await
}

pub async fn start(b: crate::kit::Backend) -> LoginServer {
    let s = fixture::start(b).await;
    allow_mfa_grants(&s).await;
    s
}
