//! `/api/v2/guardian/*` and a user's MFA actions, in Auth0's shapes and scopes.

use super::{import_user, start, SECRET};
use crate::kit::{auth0_error, Backend};
use serde_json::{json, Value};

crate::on_both_backends!(factors_and_policies_in_auth0_shapes, recovery_codes_and_remembered_browsers_per_user);

async fn factors_and_policies_in_auth0_shapes(b: Backend) {
    let s = start(b).await;
    let (status, list) = s.api("GET", "/api/v2/guardian/factors", None).await;
    assert_eq!(status, 200, "{list}");
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["sms", "push-notification", "otp", "email", "duo", "webauthn-roaming", "webauthn-platform", "recovery-code"]
    );
    assert!(list.as_array().unwrap().iter().all(|f| f["enabled"] == false && f["trial_expired"] == false), "{list}");
    for f in ["otp", "recovery-code", "email"] {
        let (status, body) =
            s.api("PUT", &format!("/api/v2/guardian/factors/{f}"), Some(json!({"enabled": true}))).await;
        assert_eq!((status, body), (200, json!({"enabled": true})));
    }
    let (_, body) = s.api("PUT", "/api/v2/guardian/factors/email", Some(json!({"enabled": false}))).await;
    assert_eq!(body, json!({"enabled": false}));
    let (_, list) = s.api("GET", "/api/v2/guardian/factors", None).await;
    let enabled: Vec<&str> =
        list.as_array().unwrap().iter().filter(|f| f["enabled"] == true).map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(enabled, ["otp", "recovery-code"]);
    // A factor this server cannot deliver may be disabled, never enabled; unknown names
    // and bad bodies are refused in Auth0's error shape.
    let (status, body) = s.api("PUT", "/api/v2/guardian/factors/sms", Some(json!({"enabled": true}))).await;
    auth0_error(status, &body, "unsupported_factor");
    assert_eq!(s.api("PUT", "/api/v2/guardian/factors/sms", Some(json!({"enabled": false}))).await.0, 200);
    let (status, body) = s.api("PUT", "/api/v2/guardian/factors/carrier-pigeon", Some(json!({"enabled": true}))).await;
    auth0_error(status, &body, "invalid_uri");
    for bad in [json!({}), json!({"enabled": "yes"}), json!({"enabled": true, "x": 1})] {
        let (status, body) = s.api("PUT", "/api/v2/guardian/factors/otp", Some(bad)).await;
        auth0_error(status, &body, "invalid_body");
    }
    // Policies: [] or ["all-applications"].
    assert_eq!(s.api("GET", "/api/v2/guardian/policies", None).await, (200, json!([])));
    let (status, body) = s.api("PUT", "/api/v2/guardian/policies", Some(json!(["all-applications"]))).await;
    assert_eq!((status, body), (200, json!(["all-applications"])));
    assert_eq!(s.api("GET", "/api/v2/guardian/policies", None).await, (200, json!(["all-applications"])));
    for bad in [json!(["confidence-score"]), json!({"policy": 1}), json!([1])] {
        let (status, body) = s.api("PUT", "/api/v2/guardian/policies", Some(bad)).await;
        auth0_error(status, &body, "invalid_body");
    }
    // Scopes are Auth0's.
    let other = s.token_with(&["read:users", "update:users"]).await;
    for (method, path, body) in [
        ("GET", "/api/v2/guardian/factors", None),
        ("PUT", "/api/v2/guardian/factors/otp", Some(json!({"enabled": true}))),
        ("GET", "/api/v2/guardian/policies", None),
        ("PUT", "/api/v2/guardian/policies", Some(json!([]))),
    ] {
        let (status, body) = s.call(method, path, body, Some(&other)).await;
        auth0_error(status, &body, "insufficient_scope");
    }
    let reader = s.token_with(&["read:guardian_factors", "read:mfa_policies"]).await;
    assert_eq!(s.call("GET", "/api/v2/guardian/factors", None, Some(&reader)).await.0, 200);
    assert_eq!(s.call("GET", "/api/v2/guardian/policies", None, Some(&reader)).await.0, 200);
}

async fn recovery_codes_and_remembered_browsers_per_user(b: Backend) {
    let s = start(b).await;
    let id = import_user(&s, "r@example.com", json!([{"totp": {"secret": SECRET}}])).await;
    let path = format!("/api/v2/users/{id}/recovery-code-regeneration");
    let (status, first) = s.api("POST", &path, None).await;
    assert_eq!(status, 200, "{first}");
    let code = first["recovery_code"].as_str().unwrap();
    assert_eq!(code.len(), 24, "{first}");
    let (_, second) = s.api("POST", &path, None).await;
    assert_ne!(second["recovery_code"], first["recovery_code"]);
    // One recovery code at a time, listed without its value.
    let (_, methods) = s.api("GET", &format!("/api/v2/users/{id}/authentication-methods"), None).await;
    let mut kinds: Vec<&str> = methods.as_array().unwrap().iter().map(|m| m["type"].as_str().unwrap()).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["recovery-code", "totp"], "{methods}");
    assert!(
        !methods.to_string().contains(code) && !methods.to_string().contains(second["recovery_code"].as_str().unwrap())
    );
    // Exports never carry recovery codes.
    let stored = s.store.mfa_factors(&id).await.unwrap();
    assert!(stored
        .iter()
        .all(|f| f.kind != gatehouse_core::mfa::FactorKind::RecoveryCode || f.to_import_item().is_none()));
    let invalidate = format!("/api/v2/users/{id}/multifactor/actions/invalidate-remember-browser");
    assert_eq!(s.api("POST", &invalidate, None).await, (204, Value::Null));
    for p in [
        "/api/v2/users/auth0|nobody/multifactor/actions/invalidate-remember-browser",
        "/api/v2/users/auth0|nobody/recovery-code-regeneration",
    ] {
        let (status, body) = s.api("POST", p, None).await;
        auth0_error(status, &body, "inexistent_user");
    }
    let reader = s.token_with(&["read:users"]).await;
    assert_eq!(s.call("POST", &invalidate, None, Some(&reader)).await.0, 403);
    assert_eq!(s.call("POST", &path, None, Some(&reader)).await.0, 403);
}
