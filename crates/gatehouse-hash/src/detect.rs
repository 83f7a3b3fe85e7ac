//! Format detection for self-describing hash strings (`password_hash`).
//!
//! Detection is by unambiguous prefix only; nothing is guessed from length or alphabet,
//! so a bare hex digest is rejected rather than misread.

use crate::families::{self, Parsed, Scheme};
use crate::{HashError, Limits};

/// Prefix of Gatehouse's stored form of a custom object; never a valid import.
pub(crate) const CUSTOM_PREFIX: &str = "$gh-custom$";

pub(crate) fn parse(s: &str, limits: &Limits, field: &str) -> Result<Parsed, HashError> {
    if s.is_empty() {
        return Err(HashError::malformed(field, "hash must not be empty"));
    }
    if s.len() > limits.max_hash_len {
        return Err(HashError::malformed(field, format!("hash is longer than {} bytes", limits.max_hash_len)));
    }
    if s.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control()) {
        return Err(HashError::malformed(field, "hash must not contain whitespace or control characters"));
    }
    if s.starts_with(CUSTOM_PREFIX) {
        return Err(HashError::unsupported(
            field,
            "$gh-custom$ is Gatehouse's stored form of custom_password_hash, not an importable hash",
        ));
    }
    if s.starts_with("$2") {
        return Ok((Scheme::Bcrypt(families::bcrypt::parse(s, limits, field)?), "bcrypt"));
    }
    if s.starts_with("$argon2") {
        let a = families::argon2::parse(s, limits, field)?;
        let family = match a.algorithm {
            argon2::Algorithm::Argon2d => "argon2d",
            argon2::Algorithm::Argon2i => "argon2i",
            argon2::Algorithm::Argon2id => "argon2id",
        };
        return Ok((Scheme::Argon2(a), family));
    }
    if s.starts_with("$pbkdf2$") || s.starts_with("$pbkdf2-") {
        let (h, phc) = families::pbkdf2::parse_dollar(s, limits, field)?;
        let family = if phc {
            families::pbkdf2::phc_family(h.digest)
        } else {
            match h.digest {
                families::digest::Digest::Sha256 => "passlib-pbkdf2-sha256",
                families::digest::Digest::Sha512 => "passlib-pbkdf2-sha512",
                _ => "passlib-pbkdf2-sha1",
            }
        };
        return Ok((Scheme::Pbkdf2(h), family));
    }
    if s.starts_with("$scrypt$") {
        let h = families::scrypt::parse_string(s, limits, field)?;
        return Ok((Scheme::Scrypt(h), "scrypt"));
    }
    if s.starts_with("$1$") {
        return Ok((Scheme::Md5Crypt(families::crypt::parse_md5(s, field)?), "md5-crypt"));
    }
    if s.starts_with("$5$") {
        let h = families::crypt::parse_sha(s, limits, field)?;
        return Ok((Scheme::ShaCrypt(h), "sha256-crypt"));
    }
    if s.starts_with("$6$") {
        let h = families::crypt::parse_sha(s, limits, field)?;
        return Ok((Scheme::ShaCrypt(h), "sha512-crypt"));
    }
    if s.starts_with("$P$") || s.starts_with("$H$") {
        return Ok((Scheme::Phpass(families::phpass::parse(s, limits, field)?), "phpass"));
    }
    if s.starts_with("$S$") {
        return Ok((Scheme::Phpass(families::phpass::parse(s, limits, field)?), "drupal7"));
    }
    if let Some(rest) = s.strip_prefix("$bcrypt-sha256$") {
        return parse_passlib_bcrypt_sha256(rest, limits, field);
    }
    if s.starts_with('{') {
        return families::ldap::parse(s, limits, field);
    }
    if ["pbkdf2_sha256$", "pbkdf2_sha1$", "bcrypt_sha256$", "argon2$"].iter().any(|p| s.starts_with(p)) {
        return families::django::parse(s, limits, field);
    }
    Err(HashError::unsupported(
        field,
        "unrecognised hash format (expected bcrypt, argon2, pbkdf2, scrypt, crypt, phpass, Drupal, Django or LDAP)",
    ))
}

/// passlib `$bcrypt-sha256$v=2,t=2b,r=12$<salt>$<hash>` and the v1 form
/// `$bcrypt-sha256$2a,12$<salt>$<hash>`.
fn parse_passlib_bcrypt_sha256(rest: &str, limits: &Limits, field: &str) -> Result<Parsed, HashError> {
    use families::bcrypt::{check_cost, decode_salt_hash, Bcrypt, Prehash};
    let parts: Vec<&str> = rest.split('$').collect();
    let [params, salt, hash] = parts.as_slice() else {
        return Err(HashError::malformed(
            field,
            "passlib bcrypt-sha256 hash must be $bcrypt-sha256$<params>$<salt>$<hash>",
        ));
    };
    let (v2, ident, rounds) = if params.starts_with("v=") {
        let (mut v, mut t, mut r) = (None, None, None);
        for kv in params.split(',') {
            match kv.split_once('=') {
                Some(("v", x)) => v = Some(x),
                Some(("t", x)) => t = Some(x),
                Some(("r", x)) => r = Some(x),
                _ => {
                    return Err(HashError::malformed(
                        field,
                        "passlib bcrypt-sha256 parameters must be v=2,t=<ident>,r=<cost>",
                    ))
                }
            }
        }
        if v != Some("2") {
            return Err(HashError::unsupported(field, "passlib bcrypt-sha256 version must be 2"));
        }
        (true, t.unwrap_or(""), r.unwrap_or(""))
    } else {
        let (t, r) = params
            .split_once(',')
            .ok_or_else(|| HashError::malformed(field, "passlib bcrypt-sha256 v1 parameters must be <ident>,<cost>"))?;
        (false, t, r)
    };
    if !matches!(ident, "2a" | "2b" | "2y") {
        return Err(HashError::unsupported(field, "bcrypt variant must be 2a, 2b or 2y"));
    }
    let cost = families::pbkdf2::parse_u32(rounds, "bcrypt cost", field)?;
    check_cost(cost, limits, field)?;
    let (salt_bytes, hash_bytes) = decode_salt_hash(salt, hash, field)?;
    let prehash = if v2 { Prehash::PasslibV2 { salt_text: (*salt).to_string() } } else { Prehash::PasslibV1 };
    Ok((
        Scheme::Bcrypt(Bcrypt { cost, salt: salt_bytes, hash: hash_bytes, prehash, concat: None }),
        "passlib-bcrypt-sha256",
    ))
}
