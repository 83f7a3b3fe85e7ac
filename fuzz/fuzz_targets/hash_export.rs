//! Any bytes as Auth0's password-hash export, then joined into a record: nothing may
//! panic, every record read is either indexed or reported (never lost), and a report
//! never carries a hash.
#![no_main]

use gatehouse_migrate::HashExport;
use libfuzzer_sys::fuzz_target;
use std::collections::HashSet;

fuzz_target!(|data: &[u8]| {
    let Ok(export) = HashExport::read(data, None, 4096) else { return };
    let report = export.unjoined(&HashSet::new(), 0);
    assert_eq!(report.len() as u64, export.records, "every record is indexed or refused, and unjoined is reported");
    for r in &report {
        assert!(r.user.get("passwordHash").is_none_or(|h| h == "*****"), "{}", r.user);
    }
    let mut user = serde_json::json!({"user_id": "auth0|x"});
    if let Some(id) = export.join(&mut user) {
        assert_eq!(export.hash_for(&id), user["password_hash"].as_str());
    }
});
