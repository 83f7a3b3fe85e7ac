//! Connection options from the Management API: social/OIDC upstream settings and legacy
//! store settings must be validated (or refused) without panicking, and redaction must
//! never leave a secret it was given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(Value::Object(options)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    for strategy in ["oidc", "google-oauth2", "github", "facebook", "apple", "windowslive", "auth0"] {
        let _ = gatehouse_core::social::validate_upstream_options(strategy, &options);
        let _ = gatehouse_core::social::Upstream::resolve(strategy, &options);
    }
    // Only options that validate are ever stored (and so ever returned).
    let valid = gatehouse_legacy::validate_options(&options).is_ok();
    let mut redacted = options.clone();
    gatehouse_legacy::redact_options(&mut redacted);
    for secret in ["bind_password", "secret"] {
        let before = options.get("legacy_store").and_then(|l| l.get(secret));
        let after = redacted.get("legacy_store").and_then(|l| l.get(secret));
        if let (true, Some(Value::String(b)), Some(a)) = (valid, before, after) {
            assert!(a.as_str() != Some(b.as_str()) || b == gatehouse_legacy::MASK, "{secret} survived redaction");
        }
    }
    if let Some(Value::String(sql)) = options.get("sql") {
        let _ = gatehouse_legacy::rewrite_named_params(sql, true, &["email", "username"]);
        let _ = gatehouse_legacy::rewrite_named_params(sql, false, &["email", "username"]);
    }
});
