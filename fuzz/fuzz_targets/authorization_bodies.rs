//! Management API bodies for APIs, roles and permissions, and the rule for a token's
//! scopes: validated (or refused) without panicking; an accepted API keeps its
//! invariants, and a token never carries a scope that was not asked for, that the API
//! does not define, or (with RBAC) that the user does not hold.
#![no_main]

use gatehouse_core::authorization::{
    parse_id_list, parse_permissions, permissions_claim, user_token_scope, ResourceServer, Role, OIDC_SCOPES,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else { return };
    let _ = Role::from_create_body(&body, "rol_x".into(), "now");
    let _ = parse_permissions(&body);
    let _ = parse_id_list(&body, "users");
    let Ok(mut api) = ResourceServer::from_create_body(&body, "id".into(), "now") else { return };
    let check = |api: &ResourceServer| {
        assert!(api.token_lifetime_for_web <= api.token_lifetime);
        assert!(!api.token_dialect.carries_permissions() || api.enforce_policies);
    };
    check(&api);
    if let Some(patch) = body.get("patch") {
        if api.apply_patch(patch, "later").is_ok() {
            check(&api);
        }
    }
    let requested = body.get("requested").and_then(Value::as_str).unwrap_or("openid read write");
    let held: Vec<String> = api.scopes.iter().step_by(2).map(|s| s.value.clone()).collect();
    let asked: Vec<&str> = requested.split(' ').collect();
    for rbac in [None, Some(held.as_slice())] {
        let scope = user_token_scope(requested, Some(&api), rbac);
        for s in scope.split(' ').filter(|s| !s.is_empty()) {
            assert!(asked.contains(&s), "{s} was not asked for");
            assert!(OIDC_SCOPES.contains(&s) || api.defines(s), "{s} is not the API's");
            assert!(OIDC_SCOPES.contains(&s) || rbac.is_none_or(|h| h.iter().any(|p| p == s)), "{s} is not held");
        }
    }
    if let Some(claim) = permissions_claim(&api, &held) {
        assert!(claim.iter().all(|p| api.defines(p)));
    }
});
