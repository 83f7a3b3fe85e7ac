//! Any string: `parse_password_hash` and `parse_stored` must return, never panic, and
//! whatever parses must round-trip through the stored form.
#![no_main]

use gatehouse_hash::Hasher;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let h = Hasher::default();
    if let Ok(ph) = h.parse_password_hash(s) {
        assert_eq!(ph.to_stored(), s);
        assert!(h.parse_stored(s).is_ok());
    }
    let _ = h.parse_stored(s);
});
