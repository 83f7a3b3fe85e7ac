//! Malformed and out-of-bounds input is rejected at parse time with an error naming the
//! field and the reason.

use gatehouse_hash::{Argon2Config, HashError, Hasher, Limits};
use serde_json::{json, Value};

fn custom_err(v: Value) -> HashError {
    Hasher::default().parse_custom_password_hash(&v).expect_err("should be rejected")
}

fn hash_err(s: &str) -> HashError {
    Hasher::default().parse_password_hash(s).expect_err("should be rejected")
}

/// Table-driven: (input, expected field, substring of the reason).
#[test]
fn custom_object_errors_name_their_field() {
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!("md5"), "custom_password_hash", "must be an object"),
        (json!({"hash": {"value": "x"}}), "custom_password_hash.algorithm", "is required"),
        (json!({"algorithm": "md5"}), "custom_password_hash.hash", "is required"),
        (
            json!({"algorithm": "sha3", "hash": {"value": "ab", "encoding": "hex"}}),
            "custom_password_hash.algorithm",
            "unsupported algorithm",
        ),
        (
            json!({"algorithm": "md5", "hash": {"value": "ab", "encoding": "hex"}, "extra": 1}),
            "custom_password_hash.extra",
            "unknown field",
        ),
        (
            json!({"algorithm": "md5", "hash": {"value": "ab", "encoding": "hex", "x": 1}}),
            "custom_password_hash.hash.x",
            "unknown field",
        ),
        (
            json!({"algorithm": "md5", "hash": {"value": "zz", "encoding": "hex"}}),
            "custom_password_hash.hash.value",
            "invalid hex",
        ),
        (
            json!({"algorithm": "md5", "hash": {"value": "abcd", "encoding": "hex"}}),
            "custom_password_hash.hash.value",
            "16 bytes",
        ),
        (
            json!({"algorithm": "md5", "hash": {"value": "abcd", "encoding": "utf8"}}),
            "custom_password_hash.hash.encoding",
            "hex or base64",
        ),
        (
            json!({"algorithm": "md5", "hash": {"value": "abcd", "encoding": "rot13"}}),
            "custom_password_hash.hash.encoding",
            "unknown encoding",
        ),
        (
            json!({"algorithm": "md5", "hash": {"value": "0bf5d953f8247e5c2532a593f576c329", "encoding": "hex"}, "salt": {"value": "a", "position": "middle"}}),
            "custom_password_hash.salt.position",
            "prefix or suffix",
        ),
        (
            json!({"algorithm": "md5", "hash": {"value": "0bf5d953f8247e5c2532a593f576c329", "encoding": "hex"}, "salt": {"encoding": "hex"}}),
            "custom_password_hash.salt.value",
            "is required",
        ),
        (
            json!({"algorithm": "md5", "hash": {"value": "0bf5d953f8247e5c2532a593f576c329", "encoding": "hex"}, "password": {"encoding": "ebcdic"}}),
            "custom_password_hash.password.encoding",
            "unknown encoding",
        ),
        (
            json!({"algorithm": "argon2", "hash": {"value": "$argon2id$v=19$m=4096,t=2,p=2$pgy/uG/hGomGr5B6pVDoJQ$ghqjwarEvEmT/YR2OafG99BMP4J91DNciSVYLpXdH+8", "encoding": "utf8"}, "salt": {"value": "x"}}),
            "custom_password_hash.salt",
            "not allowed",
        ),
        (
            json!({"algorithm": "argon2", "hash": {"value": "$argon2id$v=19$m=1048576,t=2,p=2$pgy/uG/hGomGr5B6pVDoJQ$ghqjwarEvEmT/YR2OafG99BMP4J91DNciSVYLpXdH+8", "encoding": "utf8"}}),
            "custom_password_hash.hash.value",
            "argon2 memory",
        ),
        (
            json!({"algorithm": "bcrypt", "hash": {"value": "$2b$20$OcIuM6Q44qqWo0nu/4hl.upUbNfgfPFaE1o1dqPIqul.Z.zEaksZG", "encoding": "utf8"}}),
            "custom_password_hash.hash.value",
            "bcrypt cost 20 exceeds",
        ),
        (
            json!({"algorithm": "bcrypt", "hash": {"value": "$2x$10$OcIuM6Q44qqWo0nu/4hl.upUbNfgfPFaE1o1dqPIqul.Z.zEaksZG", "encoding": "utf8"}}),
            "custom_password_hash.hash.value",
            "not supported",
        ),
        (
            json!({"algorithm": "hmac", "hash": {"value": "ab", "encoding": "hex", "key": {"value": "k"}}}),
            "custom_password_hash.hash.digest",
            "is required",
        ),
        (
            json!({"algorithm": "hmac", "hash": {"value": "ab", "encoding": "hex", "digest": "sha3", "key": {"value": "k"}}}),
            "custom_password_hash.hash.digest",
            "unsupported digest",
        ),
        (
            json!({"algorithm": "hmac", "hash": {"value": "ab", "encoding": "hex", "digest": "md5"}}),
            "custom_password_hash.hash.key",
            "is required",
        ),
        (
            json!({"algorithm": "md5", "hash": {"value": "ab", "encoding": "hex", "digest": "md5"}}),
            "custom_password_hash.hash.digest",
            "only allowed with algorithm hmac",
        ),
        (
            json!({"algorithm": "ldap", "hash": {"value": "{CRYPT}abcdefghijklm", "encoding": "utf8"}}),
            "custom_password_hash.hash.value",
            "DES",
        ),
        (
            json!({"algorithm": "ldap", "hash": {"value": "{SHA}AAAA", "encoding": "utf8"}}),
            "custom_password_hash.hash.value",
            "20 bytes",
        ),
        (
            json!({"algorithm": "pbkdf2", "hash": {"value": "$pbkdf2-sha256$i=3000000,l=32$c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "encoding": "utf8"}}),
            "custom_password_hash.hash.value",
            "exceed the configured maximum",
        ),
        (
            json!({"algorithm": "pbkdf2", "hash": {"value": "$pbkdf2-mdc2$i=1000,l=16$c2FsdA$AAAAAAAAAAAAAAAAAAAAAA", "encoding": "utf8"}}),
            "custom_password_hash.hash.value",
            "not supported",
        ),
        (
            json!({"algorithm": "pbkdf2", "hash": {"value": "$pbkdf2-sha256$i=1000,l=16$c2FsdA$AAAA", "encoding": "utf8"}}),
            "custom_password_hash.hash.value",
            "does not match",
        ),
        (
            json!({"algorithm": "scrypt", "hash": {"value": "AAAA", "encoding": "base64"}, "cost": 1024}),
            "custom_password_hash.keylen",
            "is required",
        ),
        (
            json!({"algorithm": "scrypt", "hash": {"value": "AAAA", "encoding": "base64"}, "keylen": 3, "cost": 1000}),
            "custom_password_hash.cost",
            "power of two greater than 1",
        ),
        (
            json!({"algorithm": "scrypt", "hash": {"value": "AAAA", "encoding": "base64"}, "keylen": 3, "cost": 1}),
            "custom_password_hash.cost",
            "power of two greater than 1",
        ),
        (
            json!({"algorithm": "scrypt", "hash": {"value": "AAAA", "encoding": "base64"}, "keylen": 3, "cost": 1048576, "blockSize": 8}),
            "custom_password_hash.cost",
            "128·N·r·p",
        ),
        (
            json!({"algorithm": "scrypt", "hash": {"value": "AAAA", "encoding": "base64"}, "keylen": 3, "cost": 1024, "blockSize": 1000}),
            "custom_password_hash.blockSize",
            "between 1 and 32",
        ),
        (
            json!({"algorithm": "scrypt", "hash": {"value": "AAAA", "encoding": "base64"}, "keylen": 3, "cost": 1024, "parallelization": 0}),
            "custom_password_hash.parallelization",
            "between 1 and 16",
        ),
        (
            json!({"algorithm": "scrypt", "hash": {"value": "AAAA", "encoding": "base64"}, "keylen": 4, "cost": 1024}),
            "custom_password_hash.keylen",
            "does not match",
        ),
        (
            json!({"algorithm": "scrypt", "hash": {"value": "AAAA", "encoding": "base64"}, "keylen": "3"}),
            "custom_password_hash.keylen",
            "non-negative integer",
        ),
        (
            json!({"algorithm": "md5", "hash": {"value": "AAAA", "encoding": "base64"}, "cost": 1024}),
            "custom_password_hash.cost",
            "not allowed",
        ),
        (
            json!({"algorithm": "firebase-scrypt", "hash": {"value": "AAAA", "encoding": "base64"}, "salt": {"value": "AAAA", "encoding": "base64"}}),
            "custom_password_hash.firebase",
            "is required",
        ),
        (
            json!({"algorithm": "firebase-scrypt", "hash": {"value": "AAAA", "encoding": "base64"}, "salt": {"value": "AAAA", "encoding": "base64"}, "firebase": {"signer_key": "AAAA", "salt_separator": "Bw==", "rounds": 8, "mem_cost": 40}}),
            "custom_password_hash.firebase.mem_cost",
            "between 1 and 14",
        ),
        (
            json!({"algorithm": "aspnet-identity", "hash": {"value": "AgAAAA==", "encoding": "base64"}}),
            "custom_password_hash.hash.value",
            "format marker",
        ),
        (
            json!({"algorithm": "aspnet-identity", "hash": {"value": "AQAAAAEALcbAAAAAEM+yMhu1E6jjBzr8J2UQBbjbSdgOzmeUUUFJ6mgToz3hQeJZyUQTTCgMBfHpU+3NGg==", "encoding": "base64"}}),
            "custom_password_hash.hash.value",
            "exceed the configured maximum",
        ),
    ];
    for (input, field, reason) in cases {
        let e = custom_err(input.clone());
        assert_eq!(e.field(), field, "{input}: {e}");
        assert!(e.to_string().starts_with(&format!("{field}: ")), "{e}");
        assert!(e.reason().contains(reason), "{input}: {e} (expected {reason:?})");
    }
}

#[test]
fn scrypt_cost_message_matches_the_documented_wording() {
    let e = custom_err(
        json!({"algorithm": "scrypt", "hash": {"value": "AAAA", "encoding": "base64"}, "keylen": 3, "cost": 3}),
    );
    assert_eq!(e.to_string(), "custom_password_hash.cost: scrypt cost must be a power of two greater than 1");
}

#[test]
fn password_hash_errors() {
    let cases: &[(&str, &str)] = &[
        ("", "must not be empty"),
        ("5f4dcc3b5aa765d61d8327deb882cf99", "unrecognised hash format"),
        (" $2b$04$OcIuM6Q44qqWo0nu/4hl.upUbNfgfPFaE1o1dqPIqul.Z.zEaksZG", "whitespace"),
        ("$2b$04$OcIuM6Q44qqWo0nu/4hl.upUbNfgfPFaE1o1dqPIqul.Z.zEaks", "53 characters"),
        ("$2b$16$OcIuM6Q44qqWo0nu/4hl.upUbNfgfPFaE1o1dqPIqul.Z.zEaksZG", "exceeds the configured maximum of 15"),
        ("$2b$4$OcIuM6Q44qqWo0nu/4hl.upUbNfgfPFaE1o1dqPIqul.Z.zEaksZG", "two decimal digits"),
        ("$argon2id$v=19$m=4096,t=99,p=1$pgy/uG/hGomGr5B6pVDoJQ$ghqjwarEvEmT/YR2OafG99BMP4J91DNciSVYLpXdH+8", "iterations"),
        ("$argon2id$v=19$m=4096,t=2,p=64$pgy/uG/hGomGr5B6pVDoJQ$ghqjwarEvEmT/YR2OafG99BMP4J91DNciSVYLpXdH+8", "parallelism"),
        ("$argon2id$v=19$m=4096,t=2,p=1,keyid=abc$pgy/uG/hGomGr5B6pVDoJQ$ghqjwarEvEmT/YR2OafG99BMP4J91DNciSVYLpXdH+8", "not supported"),
        ("$argon2id$v=19$m=4096,t=2,p=1$c2FsdA$ghqjwarEvEmT/YR2OafG99BMP4J91DNciSVYLpXdH+8", "salt must be 8"),
        ("$argon2x$v=19$m=4096,t=2,p=1$pgy/uG/hGomGr5B6pVDoJQ$ghqjwarEvEmT", "variant"),
        ("$5$rounds=5000000$salt$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5", "sha-crypt rounds 5000000 exceed"),
        ("$6$salt$short", "86 characters"),
        ("$1$toolongsalt$YMyguxXMBpd2TEZ.vS/3q1", "at most 8"),
        ("$P$ZofxOBuRuCbUtxyrDuZPRxL68/C8441", "log2 rounds"),
        ("$P$4ofxOBuRuCbUtxyrDuZPRxL68/C8441", "between 7 and 30"),
        ("$S$DAbCdEf12short", "55 characters"),
        ("$scrypt$ln=30,r=8,p=1$c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "exceeds the configured maximum"),
        ("$scrypt$ln=10,r=8$c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "all required"),
        ("pbkdf2_sha256$99999999$salt$ty4jEagJsUw2CKd5cGLiSkJRzuzslWvezQaNroMrcL8=", "exceed the configured maximum"),
        ("pbkdf2_sha256$1000$salt$AAAA", "32 bytes"),
        ("{SSHA}AAAA", "followed by a salt"),
        ("{UNKNOWN}AAAA", "unsupported LDAP scheme"),
        ("{CRYPT}abcdefghijklm", "DES"),
        ("$bcrypt-sha256$v=3,t=2b,r=5$yMIXrg7D0sjX10tNdVmx7O$i85pLO0ZxmtlBFpbC8xSoYGffLEbuTS", "version must be 2"),
        ("$gh-custom$v=1$e30", "not an importable hash"),
        ("$pbkdf2-sha256$i=x,l=32$c2FsdA$AAAA", "decimal integer"),
    ];
    for (input, reason) in cases {
        let e = hash_err(input);
        assert_eq!(e.field(), "password_hash", "{input}");
        assert!(e.reason().contains(reason), "{input}: {e} (expected {reason:?})");
    }
}

#[test]
fn limits_are_configurable() {
    let strict =
        Limits { bcrypt_max_cost: 5, pbkdf2_max_iterations: 500, argon2_max_memory_kib: 1024, ..Limits::default() };
    let h = Hasher::new(Argon2Config::default(), strict);
    assert!(h.parse_password_hash("$2a$06$ckkJD21ie.c/EK2CN4nquujdLvLuDIO4m/0FSWyXLTGrqrbRsXrIK").is_err());
    assert!(h.parse_password_hash("$2b$04$OcIuM6Q44qqWo0nu/4hl.upUbNfgfPFaE1o1dqPIqul.Z.zEaksZG").is_ok());
    assert!(h.parse_password_hash("pbkdf2_sha1$1000$EVAmT1ICMdzd$LUC2cKrVVHteWPhuJvuWG2pstds=").is_err());
    // A hasher whose own argon2 configuration exceeds its limits cannot hash.
    let e = h.hash("pw").unwrap_err();
    assert_eq!(e.field(), "argon2");
}

#[test]
fn stored_form_errors() {
    let h = Hasher::default();
    assert_eq!(h.parse_stored("$gh-custom$v=1$!!!").unwrap_err().field(), "stored");
    assert_eq!(h.parse_stored("$gh-custom$v=1$bm90IGpzb24").unwrap_err().field(), "stored");
    assert_eq!(h.parse_stored("$gh-custom$v=9$e30").unwrap_err().field(), "stored");
    // Valid JSON but an invalid object: the custom field is named.
    assert_eq!(h.parse_stored("$gh-custom$v=1$e30").unwrap_err().field(), "custom_password_hash.algorithm");
}

#[test]
fn unrepresentable_passwords_do_not_match() {
    let h = Hasher::default();
    let latin1 = h
        .parse_custom_password_hash(&json!({"algorithm": "md5", "hash": {"value": "0bf5d953f8247e5c2532a593f576c329", "encoding": "hex"}, "password": {"encoding": "latin1"}}))
        .unwrap();
    assert!(!h.verify(&latin1, "密码"));
    let long = "x".repeat(h.limits().max_password_bytes + 1);
    let p = h.parse_password_hash("$2b$04$OcIuM6Q44qqWo0nu/4hl.upUbNfgfPFaE1o1dqPIqul.Z.zEaksZG").unwrap();
    assert!(!h.verify(&p, &long));
    assert!(h.hash(&long).is_err());
}

#[test]
fn needs_rehash_for_weaker_argon2id() {
    let h = Hasher::default();
    let fresh = h.hash("pw").unwrap();
    assert_eq!(fresh.family(), "argon2id");
    assert!(fresh.to_stored().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    assert!(!h.needs_rehash(&fresh));
    assert!(h.verify(&fresh, "pw"));
    let stronger = Hasher::new(Argon2Config { memory_kib: 32768, iterations: 2, parallelism: 1 }, Limits::default());
    assert!(stronger.needs_rehash(&fresh));
    // argon2i is a different variant: always rehash.
    let argon2i = h
        .parse_password_hash(
            "$argon2i$v=19$m=4096,t=2,p=1$v4j8K1lTr6TOQfbZNXh4HA$HUAoZ5i2k/er8SIBKBbDwDDINTZbAl3CmmP72oS2Dkc",
        )
        .unwrap();
    assert!(h.needs_rehash(&argon2i));
    assert!(h.verify(&argon2i, "staplehorse7646"));
}
