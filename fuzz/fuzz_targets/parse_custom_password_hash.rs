//! Any JSON: `parse_custom_password_hash` must return, never panic, and whatever parses
//! must round-trip through the stored form and the Auth0 export.
#![no_main]

use gatehouse_hash::Hasher;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let h = Hasher::default();
    if let Ok(ph) = h.parse_custom_password_hash(&v) {
        let back = h.parse_stored(&ph.to_stored());
        assert!(back.is_ok());
        assert_eq!(ph.to_auth0_export()["custom_password_hash"], v);
    }
});
