//! Auth0's `custom_password_hash` object (bulk-import schema §1.3), validated strictly
//! (`additionalProperties: false` at every level), plus Gatehouse's extension
//! algorithms `firebase-scrypt` and `aspnet-identity`.

use serde_json::{Map, Value};

use crate::encoding::{PwEncoding, ValueEncoding};
use crate::families::digest::{ConcatSalt, Digest, HmacHash, SaltPosition, SaltedDigest};
use crate::families::firebase::FirebaseHash;
use crate::families::scrypt::{check_params, log2_pow2, ScryptHash};
use crate::families::{self, Scheme};
use crate::{HashError, Limits};

const ROOT: &str = "custom_password_hash";

/// A parsed custom object: scheme, family, and how to encode the password.
pub(crate) type ParsedCustom = (Scheme, &'static str, PwEncoding);

fn path(rel: &str) -> String {
    format!("{ROOT}.{rel}")
}

fn object<'a>(v: &'a Value, field: &str) -> Result<&'a Map<String, Value>, HashError> {
    v.as_object().ok_or_else(|| HashError::malformed(field, "must be an object"))
}

fn only_keys(m: &Map<String, Value>, allowed: &[&str], field: &str) -> Result<(), HashError> {
    for k in m.keys() {
        if !allowed.contains(&k.as_str()) {
            let f = if field.is_empty() { format!("{ROOT}.{k}") } else { format!("{field}.{k}") };
            return Err(HashError::malformed(f, "unknown field"));
        }
    }
    Ok(())
}

fn string<'a>(m: &'a Map<String, Value>, key: &str, rel: &str) -> Result<Option<&'a str>, HashError> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(HashError::malformed(path(rel), "must be a string")),
    }
}

fn required_string<'a>(m: &'a Map<String, Value>, key: &str, rel: &str) -> Result<&'a str, HashError> {
    string(m, key, rel)?.ok_or_else(|| HashError::malformed(path(rel), "is required"))
}

fn uint(m: &Map<String, Value>, key: &str, rel: &str) -> Result<Option<u64>, HashError> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(u) = n.as_u64() {
                return Ok(Some(u));
            }
            match n.as_f64() {
                Some(f) if f >= 0.0 && f.fract() == 0.0 && f < 9.0e15 => Ok(Some(f as u64)),
                _ => Err(HashError::malformed(path(rel), "must be a non-negative integer")),
            }
        }
        Some(_) => Err(HashError::malformed(path(rel), "must be a non-negative integer")),
    }
}

fn value_encoding(m: &Map<String, Value>, rel: &str) -> Result<ValueEncoding, HashError> {
    match string(m, "encoding", rel)? {
        None => Ok(ValueEncoding::Utf8),
        Some(e) => ValueEncoding::from_name(e).ok_or_else(|| {
            HashError::malformed(path(rel), format!("unknown encoding {e:?} (expected utf8, hex or base64)"))
        }),
    }
}

struct Salt {
    bytes: Vec<u8>,
    position: SaltPosition,
}

fn salt(top: &Map<String, Value>, limits: &Limits) -> Result<Option<Salt>, HashError> {
    let Some(v) = top.get("salt") else {
        return Ok(None);
    };
    let m = object(v, &path("salt"))?;
    only_keys(m, &["value", "encoding", "position"], &path("salt"))?;
    let value = required_string(m, "value", "salt.value")?;
    let enc = value_encoding(m, "salt.encoding")?;
    let bytes = enc.decode(value, &path("salt.value"))?;
    if bytes.len() > limits.max_salt_len {
        return Err(HashError::bounds(
            path("salt.value"),
            format!("salt is longer than {} bytes", limits.max_salt_len),
        ));
    }
    let position = match string(m, "position", "salt.position")? {
        None | Some("prefix") => SaltPosition::Prefix,
        Some("suffix") => SaltPosition::Suffix,
        Some(p) => {
            return Err(HashError::malformed(
                path("salt.position"),
                format!("unknown position {p:?} (expected prefix or suffix)"),
            ))
        }
    };
    Ok(Some(Salt { bytes, position }))
}

fn require_encoding(got: ValueEncoding, allowed: &[ValueEncoding], algorithm: &str) -> Result<(), HashError> {
    if allowed.contains(&got) {
        return Ok(());
    }
    let names: Vec<&str> = allowed
        .iter()
        .map(|e| match e {
            ValueEncoding::Utf8 => "utf8",
            ValueEncoding::Hex => "hex",
            ValueEncoding::Base64 => "base64",
        })
        .collect();
    Err(HashError::malformed(
        path("hash.encoding"),
        format!("{algorithm} hash encoding must be {}", names.join(" or ")),
    ))
}

fn forbid(top: &Map<String, Value>, key: &str, algorithm: &str) -> Result<(), HashError> {
    if top.contains_key(key) {
        return Err(HashError::malformed(path(key), format!("not allowed with algorithm {algorithm}")));
    }
    Ok(())
}

fn digest_family(algorithm: &str) -> Option<(Digest, &'static str)> {
    Some(match algorithm {
        "md4" => (Digest::Md4, "custom-md4"),
        "md5" => (Digest::Md5, "custom-md5"),
        "sha1" => (Digest::Sha1, "custom-sha1"),
        "sha256" => (Digest::Sha256, "custom-sha256"),
        "sha512" => (Digest::Sha512, "custom-sha512"),
        _ => return None,
    })
}

pub(crate) fn parse(v: &Value, limits: &Limits) -> Result<ParsedCustom, HashError> {
    use ValueEncoding::{Base64, Hex, Utf8};
    let top = object(v, ROOT)?;
    only_keys(
        top,
        &["algorithm", "hash", "salt", "password", "keylen", "cost", "blockSize", "parallelization", "firebase"],
        "",
    )?;
    let algorithm = required_string(top, "algorithm", "algorithm")?;
    let hash_obj =
        object(top.get("hash").ok_or_else(|| HashError::malformed(path("hash"), "is required"))?, &path("hash"))?;
    only_keys(hash_obj, &["value", "encoding", "digest", "key"], &path("hash"))?;
    let value = required_string(hash_obj, "value", "hash.value")?;
    if value.is_empty() {
        return Err(HashError::malformed(path("hash.value"), "must not be empty"));
    }
    if value.len() > limits.max_hash_len {
        return Err(HashError::malformed(path("hash.value"), format!("is longer than {} bytes", limits.max_hash_len)));
    }
    let enc = value_encoding(hash_obj, "hash.encoding")?;
    let salt = salt(top, limits)?;
    let pw_encoding = match top.get("password") {
        None => PwEncoding::Utf8,
        Some(p) => {
            let m = object(p, &path("password"))?;
            only_keys(m, &["encoding"], &path("password"))?;
            match string(m, "encoding", "password.encoding")? {
                None => PwEncoding::Utf8,
                Some(e) => PwEncoding::from_name(e).ok_or_else(|| {
                    HashError::malformed(
                        path("password.encoding"),
                        format!("unknown encoding {e:?} (expected ascii, utf8, utf16le, ucs2, latin1 or binary)"),
                    )
                })?,
            }
        }
    };
    if algorithm != "hmac" {
        forbid(hash_obj, "digest", algorithm)
            .map_err(|_| HashError::malformed(path("hash.digest"), "only allowed with algorithm hmac"))?;
        forbid(hash_obj, "key", algorithm)
            .map_err(|_| HashError::malformed(path("hash.key"), "only allowed with algorithm hmac"))?;
    }
    if algorithm != "scrypt" {
        for k in ["keylen", "cost", "blockSize", "parallelization"] {
            forbid(top, k, algorithm)?;
        }
    }
    if algorithm != "firebase-scrypt" {
        forbid(top, "firebase", algorithm)?;
    }
    let value_field = path("hash.value");
    let concat = salt.as_ref().map(|s| ConcatSalt { bytes: s.bytes.clone(), position: s.position });
    let (scheme, family) = match algorithm {
        "argon2" => {
            require_encoding(enc, &[Utf8], algorithm)?;
            forbid(top, "salt", algorithm)?;
            let a = families::argon2::parse(value, limits, &value_field)?;
            (Scheme::Argon2(a), "custom-argon2")
        }
        "bcrypt" => {
            require_encoding(enc, &[Utf8], algorithm)?;
            let mut b = families::bcrypt::parse(value, limits, &value_field)?;
            b.concat = concat;
            (Scheme::Bcrypt(b), "custom-bcrypt")
        }
        "ldap" => {
            require_encoding(enc, &[Utf8], algorithm)?;
            forbid(top, "salt", algorithm)?;
            let (s, _) = families::ldap::parse(value, limits, &value_field)?;
            (s, "custom-ldap")
        }
        "pbkdf2" => {
            require_encoding(enc, &[Utf8], algorithm)?;
            forbid(top, "salt", algorithm)?;
            if !value.starts_with("$pbkdf2-") {
                return Err(HashError::malformed(
                    value_field,
                    "pbkdf2 hash must be a PHC string $pbkdf2-<digest>$i=<iterations>,l=<bytes>$<salt>$<hash>",
                ));
            }
            let (h, phc) = families::pbkdf2::parse_dollar(value, limits, &value_field)?;
            if !phc {
                return Err(HashError::malformed(
                    value_field,
                    "pbkdf2 parameters must be written i=<iterations>,l=<bytes>",
                ));
            }
            (Scheme::Pbkdf2(h), "custom-pbkdf2")
        }
        "hmac" => {
            require_encoding(enc, &[Hex, Base64], algorithm)?;
            let d = required_string(hash_obj, "digest", "hash.digest")?;
            let digest = Digest::from_name(d).ok_or_else(|| {
                HashError::unsupported(
                    path("hash.digest"),
                    format!("unsupported digest {d:?} (expected md4, md5, ripemd160, sha1, sha224, sha256, sha384, sha512 or whirlpool)"),
                )
            })?;
            let key_obj = object(
                hash_obj.get("key").ok_or_else(|| HashError::malformed(path("hash.key"), "is required for hmac"))?,
                &path("hash.key"),
            )?;
            only_keys(key_obj, &["value", "encoding"], &path("hash.key"))?;
            let kv = required_string(key_obj, "value", "hash.key.value")?;
            let key = value_encoding(key_obj, "hash.key.encoding")?.decode(kv, &path("hash.key.value"))?;
            if key.len() > limits.max_salt_len {
                return Err(HashError::bounds(path("hash.key.value"), "HMAC key is too long"));
            }
            let hash = enc.decode(value, &value_field)?;
            if hash.len() != digest.output_len() {
                return Err(HashError::malformed(
                    value_field,
                    format!("HMAC-{} must be {} bytes, got {}", digest.name(), digest.output_len(), hash.len()),
                ));
            }
            (Scheme::Hmac(HmacHash { digest, key, salt: concat, hash }), "custom-hmac")
        }
        "scrypt" => {
            require_encoding(enc, &[Hex, Base64], algorithm)?;
            let keylen = uint(top, "keylen", "keylen")?
                .ok_or_else(|| HashError::malformed(path("keylen"), "is required for scrypt"))?;
            if keylen == 0 || keylen > limits.max_salt_len as u64 {
                return Err(HashError::bounds(
                    path("keylen"),
                    format!("scrypt keylen must be between 1 and {}", limits.max_salt_len),
                ));
            }
            let cost = uint(top, "cost", "cost")?.unwrap_or(16384);
            let log_n = log2_pow2(cost, &path("cost"))?;
            let r = uint(top, "blockSize", "blockSize")?.unwrap_or(8);
            let p = uint(top, "parallelization", "parallelization")?.unwrap_or(1);
            let r =
                u32::try_from(r).map_err(|_| HashError::bounds(path("blockSize"), "scrypt blockSize is too large"))?;
            let p = u32::try_from(p)
                .map_err(|_| HashError::bounds(path("parallelization"), "scrypt parallelization is too large"))?;
            check_params(log_n, r, p, limits, [&path("cost"), &path("blockSize"), &path("parallelization")])?;
            let hash = enc.decode(value, &value_field)?;
            if hash.len() as u64 != keylen {
                return Err(HashError::malformed(
                    path("keylen"),
                    format!("keylen {keylen} does not match the {}-byte hash", hash.len()),
                ));
            }
            (
                Scheme::Scrypt(ScryptHash { log_n, r, p, salt: salt.map(|s| s.bytes).unwrap_or_default(), hash }),
                "custom-scrypt",
            )
        }
        "firebase-scrypt" => {
            require_encoding(enc, &[Base64, Hex], algorithm)?;
            let salt = salt.ok_or_else(|| HashError::malformed(path("salt"), "is required for firebase-scrypt"))?;
            let fb = object(
                top.get("firebase")
                    .ok_or_else(|| HashError::malformed(path("firebase"), "is required for firebase-scrypt"))?,
                &path("firebase"),
            )?;
            only_keys(fb, &["signer_key", "salt_separator", "rounds", "mem_cost"], &path("firebase"))?;
            let signer_key = ValueEncoding::Base64
                .decode(required_string(fb, "signer_key", "firebase.signer_key")?, &path("firebase.signer_key"))?;
            let separator = ValueEncoding::Base64.decode(
                required_string(fb, "salt_separator", "firebase.salt_separator")?,
                &path("firebase.salt_separator"),
            )?;
            if signer_key.is_empty() || signer_key.len() > limits.max_salt_len {
                return Err(HashError::malformed(
                    path("firebase.signer_key"),
                    format!("signer key must be 1 to {} bytes", limits.max_salt_len),
                ));
            }
            let rounds = uint(fb, "rounds", "firebase.rounds")?
                .ok_or_else(|| HashError::malformed(path("firebase.rounds"), "is required"))?;
            let mem_cost = uint(fb, "mem_cost", "firebase.mem_cost")?
                .ok_or_else(|| HashError::malformed(path("firebase.mem_cost"), "is required"))?;
            if !(1..=8).contains(&rounds) {
                return Err(HashError::bounds(path("firebase.rounds"), "Firebase rounds must be between 1 and 8"));
            }
            if !(1..=14).contains(&mem_cost) {
                return Err(HashError::bounds(path("firebase.mem_cost"), "Firebase mem_cost must be between 1 and 14"));
            }
            let (log_n, r) = (mem_cost as u8, rounds as u32);
            check_params(
                log_n,
                r,
                1,
                limits,
                [&path("firebase.mem_cost"), &path("firebase.rounds"), &path("firebase")],
            )?;
            let hash = enc.decode(value, &value_field)?;
            if hash.len() != signer_key.len() {
                return Err(HashError::malformed(
                    value_field,
                    format!("hash must be as long as the {}-byte signer key", signer_key.len()),
                ));
            }
            let mut full_salt = salt.bytes;
            full_salt.extend_from_slice(&separator);
            (Scheme::Firebase(FirebaseHash { log_n, r, salt: full_salt, signer_key, hash }), "custom-firebase-scrypt")
        }
        "aspnet-identity" => {
            require_encoding(enc, &[Base64, Hex], algorithm)?;
            forbid(top, "salt", algorithm)?;
            let blob = enc.decode(value, &value_field)?;
            families::aspnet::parse(&blob, limits, &value_field)?
        }
        other => {
            if let Some((digest, family)) = digest_family(other) {
                require_encoding(enc, &[Hex, Base64], algorithm)?;
                let hash = enc.decode(value, &value_field)?;
                if hash.len() != digest.output_len() {
                    return Err(HashError::malformed(
                        value_field,
                        format!("{other} digest must be {} bytes, got {}", digest.output_len(), hash.len()),
                    ));
                }
                (Scheme::Digest(SaltedDigest { digest, salt: concat, hash }), family)
            } else {
                return Err(HashError::unsupported(
                    path("algorithm"),
                    format!(
                        "unsupported algorithm {other:?} (expected argon2, bcrypt, hmac, ldap, md4, md5, sha1, sha256, sha512, pbkdf2, scrypt, firebase-scrypt or aspnet-identity)"
                    ),
                ));
            }
        }
    };
    Ok((scheme, family, pw_encoding))
}
