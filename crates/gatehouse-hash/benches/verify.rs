//! Verify time per family: `cargo bench -p gatehouse-hash --bench verify`.
//!
//! Plain `std::time` (no criterion). Each case is timed N times (N chosen so a case
//! takes about a second, at least 5 runs; `GATEHOUSE_BENCH_RUNS` overrides) and the
//! median is printed. Verify time does not depend on whether the password matches,
//! so cases whose digest bytes are synthetic are as good as real ones.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use gatehouse_hash::{Hasher, PasswordHash};
use serde_json::json;

struct Case {
    family: &'static str,
    params: &'static str,
    hash: PasswordHash,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let h = Hasher::default();
    let pw = "correct horse battery staple";
    let s = |x: &str| h.parse_password_hash(x).unwrap();
    let c = |x: serde_json::Value| h.parse_custom_password_hash(&x).unwrap();
    let salt22 = "OcIuM6Q44qqWo0nu/4hl.u";
    let hash31 = "pUbNfgfPFaE1o1dqPIqul.Z.zEaksZG";
    let b64_32 = "V7HXbZuLvr3Q8m9wCY72c8QRBrsIQ4/v6igBwUBnRes";
    let b64_64 = "l3xI/2tsSc+iSHnosY0cF99z5/3L60HwfqALrY4f+5rKWB6MdZXsh0Zv/CxfgkoMq5Rm10Bc6FI9nBM9N8rMhg";
    let cases = vec![
        Case { family: "argon2id (new hashes)", params: "m=19456,t=2,p=1", hash: h.hash(pw).unwrap() },
        Case { family: "argon2id", params: "m=65536,t=3,p=4", hash: s(&format!("$argon2id$v=19$m=65536,t=3,p=4$pgy/uG/hGomGr5B6pVDoJQ${b64_32}")) },
        Case { family: "bcrypt", params: "cost=10", hash: s(&format!("$2b$10${salt22}{hash31}")) },
        Case { family: "bcrypt", params: "cost=12", hash: s(&format!("$2b$12${salt22}{hash31}")) },
        Case { family: "django-bcrypt-sha256", params: "cost=12", hash: s(&format!("bcrypt_sha256$$2b$12${salt22}{hash31}")) },
        Case { family: "pbkdf2-sha512 (Auth0 default)", params: "i=100000,l=64", hash: s(&format!("$pbkdf2-sha512$i=100000,l=64$gU5CRheRMLWXfouGDfJFXA${b64_64}")) },
        Case { family: "django-pbkdf2-sha256", params: "i=1000000", hash: s(&format!("pbkdf2_sha256$1000000$LJJZaRcJ8sqK${b64_32}=")) },
        Case { family: "aspnet-identity-v3", params: "sha512, i=100000", hash: c(json!({"algorithm": "aspnet-identity", "hash": {"value": "AQAAAAIAAYagAAAAEM1DHj7cDncxh3Oos7LScHIFCoVUcySuNxYrdrWLI9v3sYj9MEHUp7EGqZ0ezoseRw==", "encoding": "base64"}})) },
        Case { family: "scrypt (Auth0 default)", params: "N=16384,r=8,p=1", hash: c(json!({"algorithm": "scrypt", "hash": {"value": b64_32, "encoding": "base64"}, "salt": {"value": "abc123"}, "keylen": 32})) },
        Case { family: "scrypt", params: "N=131072,r=8,p=1", hash: s(&format!("$scrypt$ln=17,r=8,p=1$c2FsdHNhbHQ${b64_32}")) },
        Case { family: "firebase-scrypt", params: "rounds=8,mem_cost=14", hash: c(json!({"algorithm": "firebase-scrypt", "hash": {"value": "08cd1QaI3fayxtEgnm/l94K5LCHfW4vtiVlHJZ6wCeE9Gb9ICEGZxDh7uFhJq7DrL1bP/BnPrIujmhFhE+CChA==", "encoding": "base64"}, "salt": {"value": "cbHrRWUTO7Rw7BXE", "encoding": "base64"}, "firebase": {"signer_key": "6uamb7ZCRdZ+CbJ18HMvwt7GBGrLQB/+yQw5xwG+K2r0BWJcbmJmxbmqPcm3KYV4wYnEpC/1/TQhpcG8y7jWug==", "salt_separator": "ESw=", "rounds": 8, "mem_cost": 14}})) },
        Case { family: "sha512-crypt", params: "rounds=5000", hash: s("$6$CupI3jvypSk5YhQz$w0hzZee5Zjx/gElge2jdnFDEIPH0/tKULFBv0NL49CaLKfdVXgBmag2v2OZYD8h92aS/LoXuLCQ76FY6WTCLS1") },
        Case { family: "sha256-crypt", params: "rounds=535000", hash: s("$5$rounds=535000$BOHO1tTBonPmvG/P$5nxdNA5lkG0mwr4f8p4Fa07EgtB1rAdnX6hs4BxtO.1") },
        Case { family: "md5-crypt", params: "1000 rounds", hash: s("$1$g2c0E.8e$VeWEcaGxHZmHgULEaALHU/") },
        Case { family: "phpass", params: "2^13", hash: s("$P$BofxOBuRuCbUtxyrDuZPRxL68/C8441") },
        Case { family: "drupal7", params: "2^15", hash: s("$S$DAbCdEf125m7KofQoKPawtKDzvP8sQyKPEKhzD.kbeYqus/i5.jw") },
        Case { family: "ldap-ssha", params: "sha1 + salt", hash: s("{SSHA}DQVXH1+BtBFy7ujLJIBgi4/Myv/GeG9t") },
        Case { family: "custom-sha256", params: "salted", hash: c(json!({"algorithm": "sha256", "salt": {"value": "MryGxtSBXHk=", "encoding": "base64", "position": "prefix"}, "hash": {"value": "4b724ebc8bf604c34f9501d644c881a36f9abad72b1a89616461b953fbb59647", "encoding": "hex"}})) },
        Case { family: "custom-hmac", params: "sha512", hash: c(json!({"algorithm": "hmac", "hash": {"value": "8824ea6c4cf9c945352670116224401d885187d568df6703c9843b757b115ec3c4f70c3db74632a25e853eb921d3fca5833797c16c1f7673697ed5c55b0a1856", "encoding": "hex", "digest": "sha512", "key": {"value": "xEXqegdmeaffI3tfIFVJ2Q==", "encoding": "base64"}}})) },
    ];
    let fixed_runs: Option<usize> = std::env::var("GATEHOUSE_BENCH_RUNS").ok().and_then(|v| v.parse().ok());

    println!("| family | parameters | runs | median verify ms |");
    println!("|---|---|---:|---:|");
    for case in &cases {
        let t0 = Instant::now();
        black_box(h.verify(&case.hash, black_box(pw)));
        let first = t0.elapsed();
        let runs = fixed_runs.unwrap_or_else(|| {
            let per = first.as_secs_f64().max(1e-6);
            ((1.0 / per) as usize).clamp(5, 1001) | 1
        });
        let times: Vec<Duration> = (0..runs)
            .map(|_| {
                let t = Instant::now();
                black_box(h.verify(&case.hash, black_box(pw)));
                t.elapsed()
            })
            .collect();
        println!("| {} | {} | {} | {:.4} |", case.family, case.params, runs, median(times).as_secs_f64() * 1e3);
    }
    let runs = fixed_runs.unwrap_or(11);
    let times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            h.dummy_verify(black_box(pw));
            t.elapsed()
        })
        .collect();
    println!("| dummy_verify (unknown user) | m=19456,t=2,p=1 | {runs} | {:.4} |", median(times).as_secs_f64() * 1e3);
}
