//! User search `q` and `sort`, the audit log's `q`, and a legacy store's named-parameter
//! SQL: parsing never panics, and compiled SQL only ever references placeholders it
//! binds (values never become SQL text).
#![no_main]

use gatehouse_store::search::{compile, compile_sort};
use gatehouse_store::{Dialect, LogQuery};
use libfuzzer_sys::fuzz_target;

/// Every `$N` in `sql`, as numbers.
fn placeholders(sql: &str) -> Vec<usize> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' {
            let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if digits > 0 {
                if let Ok(n) = sql[i + 1..i + 1 + digits].parse() {
                    out.push(n);
                }
            }
            i += digits;
        }
        i += 1;
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        if let Ok(c) = compile(text, dialect, 3) {
            for n in placeholders(&c.sql) {
                assert!(n >= 3 && n < 3 + c.params.len(), "${n} unbound in {}", c.sql);
            }
            // Values are bound, so no text of the query can end the statement or open a
            // comment.
            assert!(!c.sql.contains(';') && !c.sql.contains("--"), "{}", c.sql);
        }
    }
    if let Ok(order) = compile_sort(text) {
        assert!(order.chars().all(|c| c.is_ascii_alphanumeric() || " _,.".contains(c)), "{order}");
    }
    let _ = LogQuery::default().apply_q(text);
    let allowed = ["email", "username", "password_hash", "user_id", "limit", "offset", "after"];
    if let Ok((sql, names)) = gatehouse_legacy::rewrite_named_params(text, false, &allowed) {
        assert!(names.iter().all(|n| allowed.contains(&n.as_str())));
        let _ = sql;
    }
    if let Ok((_, names)) = gatehouse_legacy::rewrite_named_params(text, true, &allowed) {
        assert!(names.iter().all(|n| allowed.contains(&n.as_str())));
    }
});
