//! Property tests: hash → verify round trips, parse(encode(x)) == x for stored and
//! exported forms, and robustness of every parser against arbitrary input (the stable
//! counterpart of the `fuzz/` targets).

use base64::Engine as _;
use gatehouse_hash::{Argon2Config, Hasher, Limits};
use proptest::prelude::*;
use serde_json::{json, Value};
use sha2::Digest as _;

fn fast() -> Hasher {
    Hasher::new(Argon2Config { memory_kib: 64, iterations: 1, parallelism: 1 }, Limits::default())
}

const PREFIXES: &[&str] = &[
    "$2a$",
    "$2b$04$",
    "$2y$",
    "$2x$",
    "$argon2id$v=19$m=64,t=1,p=1$",
    "$argon2i$",
    "$argon2d$",
    "$pbkdf2-sha256$",
    "$pbkdf2-sha256$i=1000,l=32$",
    "$pbkdf2$",
    "$scrypt$ln=4,r=8,p=1$",
    "$1$",
    "$5$",
    "$5$rounds=1000$",
    "$6$",
    "$P$",
    "$H$",
    "$S$",
    "pbkdf2_sha256$",
    "pbkdf2_sha1$",
    "bcrypt_sha256$",
    "argon2$",
    "$bcrypt-sha256$",
    "$bcrypt-sha256$v=2,t=2b,r=4$",
    "{SHA}",
    "{SSHA}",
    "{MD5}",
    "{SMD5}",
    "{SSHA256}",
    "{SSHA512}",
    "{PBKDF2-SHA256}",
    "{CRYPT}",
    "{CRYPT}$1$",
    "$gh-custom$v=1$",
    "{",
    "$",
];

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(vec![
            "argon2",
            "bcrypt",
            "hmac",
            "ldap",
            "md4",
            "md5",
            "sha1",
            "sha256",
            "sha512",
            "pbkdf2",
            "scrypt",
            "firebase-scrypt",
            "aspnet-identity",
            "utf8",
            "hex",
            "base64",
            "prefix",
            "suffix",
            "utf16le",
            "latin1",
            "AAAA",
            "Bw==",
            "$2b$04$",
            "{SSHA}AAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ])
        .prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        let keys = prop::sample::select(vec![
            "algorithm",
            "hash",
            "value",
            "encoding",
            "digest",
            "key",
            "salt",
            "position",
            "password",
            "keylen",
            "cost",
            "blockSize",
            "parallelization",
            "firebase",
            "signer_key",
            "salt_separator",
            "rounds",
            "mem_cost",
            "other",
        ]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((keys, inner), 0..6)
                .prop_map(|kv| { Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()) }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn new_hash_round_trips(pw in "\\PC{0,40}", other in "\\PC{0,40}") {
        let h = fast();
        let ph = h.hash(&pw).unwrap();
        prop_assert!(h.verify(&ph, &pw));
        prop_assert_eq!(h.verify(&ph, &other), pw == other);
        let back = h.parse_stored(&ph.to_stored()).unwrap();
        prop_assert_eq!(&back, &ph);
        prop_assert!(h.verify(&back, &pw));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn custom_sha256_verifies_and_round_trips(
        pw in "\\PC{0,30}",
        salt in prop::collection::vec(any::<u8>(), 0..24),
        salt_enc in prop::sample::select(vec!["hex", "base64"]),
        hash_enc in prop::sample::select(vec!["hex", "base64"]),
        suffix in any::<bool>(),
    ) {
        let h = fast();
        let mut msg = Vec::new();
        if !suffix { msg.extend_from_slice(&salt); }
        msg.extend_from_slice(pw.as_bytes());
        if suffix { msg.extend_from_slice(&salt); }
        let digest = sha2::Sha256::digest(&msg);
        let value = if hash_enc == "hex" { hex::encode(digest) } else { base64::engine::general_purpose::STANDARD.encode(digest) };
        let salt_value = if salt_enc == "hex" { hex::encode(&salt) } else { base64::engine::general_purpose::STANDARD.encode(&salt) };
        let obj = json!({
            "algorithm": "sha256",
            "hash": {"value": value, "encoding": hash_enc},
            "salt": {"value": salt_value, "encoding": salt_enc, "position": if suffix { "suffix" } else { "prefix" }},
        });
        let ph = h.parse_custom_password_hash(&obj).unwrap();
        prop_assert!(h.verify(&ph, &pw));
        let wrong = format!("{pw}!");
        prop_assert!(!h.verify(&ph, &wrong));
        let stored = ph.to_stored();
        let back = h.parse_stored(&stored).unwrap();
        prop_assert_eq!(&back, &ph);
        prop_assert_eq!(back.to_stored(), stored);
        prop_assert_eq!(back.to_auth0_export(), json!({"custom_password_hash": obj}));
    }

    #[test]
    fn bcrypt_strings_parse_to_themselves(salt in prop::array::uniform16(any::<u8>()), hash in prop::collection::vec(any::<u8>(), 23), v in prop::sample::select(vec!["2a", "2b", "2y"]), cost in 4u32..=15) {
        let bc = base64::engine::GeneralPurpose::new(&base64::alphabet::BCRYPT, base64::engine::general_purpose::NO_PAD);
        let s = format!("${v}${cost:02}${}{}", bc.encode(salt), bc.encode(&hash));
        let h = fast();
        let ph = h.parse_password_hash(&s).unwrap();
        prop_assert_eq!(ph.to_stored(), s.clone());
        prop_assert_eq!(h.parse_stored(&s).unwrap(), ph.clone());
        prop_assert_eq!(ph.to_auth0_export(), json!({"password_hash": s}));
    }

    #[test]
    fn parsers_never_panic_on_strings(prefix in prop::sample::select(PREFIXES.to_vec()), rest in "\\PC{0,120}") {
        let h = fast();
        let s = format!("{prefix}{rest}");
        let _ = h.parse_password_hash(&s);
        let _ = h.parse_stored(&s);
        let _ = h.parse_password_hash(&rest);
    }

    #[test]
    fn parsers_never_panic_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let h = fast();
        let s = String::from_utf8_lossy(&bytes);
        let _ = h.parse_password_hash(&s);
        let _ = h.parse_stored(&s);
        if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
            let _ = h.parse_custom_password_hash(&v);
        }
    }

    #[test]
    fn custom_parser_never_panics(v in arb_json()) {
        let h = fast();
        if let Ok(ph) = h.parse_custom_password_hash(&v) {
            // Whatever parses must round-trip.
            let back = h.parse_stored(&ph.to_stored()).unwrap();
            prop_assert_eq!(back, ph);
        }
        let _ = h.parse_custom_password_hash(&json!({"algorithm": "md5", "hash": v}));
    }
}
