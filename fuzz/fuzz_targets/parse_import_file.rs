//! Any bytes, through every import format's reader, the syntax pre-pass and the
//! validator: nothing may panic, readers must stop after a file error, and the
//! pre-pass must agree with the reader about whether the file is well formed.
#![no_main]

use gatehouse_core::connection::Connection;
use gatehouse_hash::Hasher;
use gatehouse_migrate::{check_file, records, validate, DuplicateTracker, FirebaseHashConfig, Format, ReadOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut conn = Connection::new_database("con_0123456789abcdef".into(), "db".into(), String::new());
    // The first byte picks the connection flavour, so username rules are covered too.
    if data.first().is_some_and(|b| b & 1 == 1) {
        conn.options.insert("requires_username".into(), serde_json::Value::Bool(true));
    }
    let hasher = Hasher::default();
    for format in Format::ALL {
        let opts = ReadOptions {
            keep_usernames: conn.requires_username(),
            max_record_bytes: 64 * 1024,
            firebase: Some(FirebaseHashConfig {
                signer_key: "c2lnbmVy".into(),
                salt_separator: "Bw==".into(),
                rounds: 1,
                mem_cost: 1,
            }),
            ..ReadOptions::default()
        };
        let pre = check_file(format, data, &opts);
        let mut dups = DuplicateTracker::new();
        let mut n = 0u64;
        let mut failed = false;
        for r in records(format, data, opts) {
            match r {
                Ok(r) => {
                    assert_eq!(r.index, n);
                    n += 1;
                    if let Ok(u) = validate(&r, &conn, &hasher, "2026-01-01T00:00:00.000Z") {
                        assert!(u.user.user_id.starts_with("auth0|"));
                        let _ = dups.check(&r, &u);
                    }
                }
                Err(_) => {
                    assert!(!failed, "a reader must stop after a file error");
                    failed = true;
                }
            }
        }
        // The pre-pass accepts exactly the files the reader reads to the end.
        match pre {
            Ok(count) => assert!(!failed && count == n, "{format}: pre-pass {count}, reader {n}, failed {failed}"),
            Err(_) => assert!(failed, "{format}: pre-pass refused a file the reader accepted"),
        }
    }
});
