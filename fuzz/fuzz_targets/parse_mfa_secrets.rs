//! Any bytes through the reader of Auth0's MFA-secrets file (NDJSON): nothing may panic,
//! lines are numbered in order, the reader stops after a file error, a valid line names a
//! user and carries 1 to 10 factors, and a failed line's report never shows a TOTP secret
//! it was given.
#![no_main]

use gatehouse_migrate::{FactorsOwner, MfaSecretsReader, MASK};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut next = 0u64;
    let mut failed = false;
    for item in MfaSecretsReader::new(data, 4096) {
        assert!(!failed, "the reader must stop after a file error");
        match item {
            Ok(Ok(record)) => {
                assert_eq!(record.index, next);
                next += 1;
                assert!((1..=10).contains(&record.factors.len()));
                match &record.owner {
                    FactorsOwner::UserId(id) => assert!(id.starts_with("auth0|") && id.len() > 6),
                    FactorsOwner::Email(e) => assert!(e.contains('@')),
                }
            }
            Ok(Err(e)) => {
                assert_eq!(e.index, next);
                next += 1;
                assert!(!e.errors.is_empty());
                if let Some(factors) = e.user.get("mfa_factors").and_then(|f| f.as_array()) {
                    for f in factors {
                        if let Some(secret) = f.get("totp").and_then(|t| t.get("secret")) {
                            assert!(secret.is_null() || secret == MASK, "an unmasked secret: {secret}");
                        }
                    }
                }
            }
            Err(_) => failed = true,
        }
    }
});
