//! Claims from an upstream provider (ID token or user-info response): normalizing them
//! into a profile and a new user must never panic, whatever the provider sends.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

fuzz_target!(|data: &[u8]| {
    let Ok(Value::Object(claims)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let options = json!({
        "client_id": "fuzz", "client_secret": "fuzz-secret",
        "issuer": "https://op.example.com", "authorization_endpoint": "https://op.example.com/authorize",
        "token_endpoint": "https://op.example.com/token", "jwks_uri": "https://op.example.com/jwks",
    });
    let Value::Object(options) = options else { return };
    for strategy in ["oidc", "github", "google-oauth2", "facebook"] {
        if let Ok(upstream) = gatehouse_core::social::Upstream::resolve(strategy, &options) {
            if let Ok(profile) = gatehouse_core::social::normalize_profile(&upstream, &claims) {
                let _ = gatehouse_core::social::profile_data(&profile);
            }
        }
    }
    let _ = gatehouse_core::identity::link_request(&Value::Object(claims));
});
