//! PBKDF2-HMAC in all its spellings: PHC `$pbkdf2-<digest>$i=…,l=…$salt$hash` (Auth0),
//! passlib `$pbkdf2-sha256$<rounds>$<ab64 salt>$<ab64 hash>`, LDAP `{PBKDF2-SHA256}`
//! (passlib's ldap_pbkdf2), and the building block of Django and ASP.NET Identity.

use super::digest::Digest;
use crate::encoding::{ct_eq, decode_b64_any};
use crate::{HashError, Limits};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pbkdf2Hash {
    pub(crate) digest: Digest,
    pub(crate) iterations: u32,
    pub(crate) salt: Vec<u8>,
    pub(crate) hash: Vec<u8>,
}

impl Pbkdf2Hash {
    /// Check bounds and build. `iterations` × output blocks is the real cost.
    pub(crate) fn new(
        digest: Digest,
        iterations: u32,
        salt: Vec<u8>,
        hash: Vec<u8>,
        limits: &Limits,
        field: &str,
    ) -> Result<Self, HashError> {
        if iterations == 0 {
            return Err(HashError::bounds(field, "pbkdf2 iterations must be at least 1"));
        }
        if hash.is_empty() || hash.len() > limits.max_salt_len {
            return Err(HashError::malformed(
                field,
                format!("pbkdf2 derived key must be 1 to {} bytes, got {}", limits.max_salt_len, hash.len()),
            ));
        }
        if salt.len() > limits.max_salt_len {
            return Err(HashError::malformed(
                field,
                format!("pbkdf2 salt is longer than {} bytes", limits.max_salt_len),
            ));
        }
        let blocks = hash.len().div_ceil(digest.output_len()) as u64;
        if u64::from(iterations) * blocks > u64::from(limits.pbkdf2_max_iterations) {
            return Err(HashError::bounds(
                field,
                format!(
                    "pbkdf2 iterations {iterations} (× {blocks} output blocks) exceed the configured maximum of {}",
                    limits.pbkdf2_max_iterations
                ),
            ));
        }
        Ok(Pbkdf2Hash { digest, iterations, salt, hash })
    }

    pub(crate) fn verify(&self, password: &[u8]) -> bool {
        let mut out = vec![0u8; self.hash.len()];
        self.digest.pbkdf2(password, &self.salt, self.iterations, &mut out) && ct_eq(&out, &self.hash)
    }
}

pub(crate) fn parse_u32(v: &str, what: &str, field: &str) -> Result<u32, HashError> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HashError::malformed(field, format!("{what} must be a decimal integer")));
    }
    v.parse().map_err(|_| HashError::bounds(field, format!("{what} is too large")))
}

/// `$pbkdf2-<digest>$…`: PHC form when the parameter segment has `key=value` pairs,
/// passlib form when it is a bare round count.
pub(crate) fn parse_dollar(s: &str, limits: &Limits, field: &str) -> Result<(Pbkdf2Hash, bool), HashError> {
    let parts: Vec<&str> = s.split('$').collect();
    // PHC allows the parameter segment to be left out entirely (Auth0 defaults apply).
    let (id, params, salt, hash) = match parts.as_slice() {
        ["", id, params, salt, hash] => (*id, Some(*params), *salt, *hash),
        ["", id, salt, hash] => (*id, None, *salt, *hash),
        _ => return Err(HashError::malformed(field, "pbkdf2 hash must be $pbkdf2-<digest>$<params>$<salt>$<hash>")),
    };
    if let Some(params) = params.filter(|p| p.bytes().all(|b| b.is_ascii_digit())) {
        let digest = match id {
            "pbkdf2" => Digest::Sha1,
            "pbkdf2-sha256" => Digest::Sha256,
            "pbkdf2-sha512" => Digest::Sha512,
            _ => return Err(HashError::unsupported(field, format!("unknown passlib pbkdf2 variant {id:?}"))),
        };
        let h = passlib_body(digest, params, salt, hash, limits, field)?;
        return Ok((h, false));
    }
    let name = id
        .strip_prefix("pbkdf2-")
        .ok_or_else(|| HashError::malformed(field, "PHC pbkdf2 id must be pbkdf2-<digest>"))?;
    let digest = match Digest::from_openssl_name(name) {
        Some(Ok(d)) => d,
        Some(Err(())) => return Err(HashError::unsupported(field, format!("pbkdf2 digest {name:?} is not supported"))),
        None => return Err(HashError::unsupported(field, format!("unknown pbkdf2 digest {name:?}"))),
    };
    let (mut i, mut l) = (None, None);
    for kv in params.iter().flat_map(|p| p.split(',')) {
        let (k, v) =
            kv.split_once('=').ok_or_else(|| HashError::malformed(field, "pbkdf2 parameters must be key=value"))?;
        let slot = match k {
            "i" => &mut i,
            "l" => &mut l,
            _ => {
                return Err(HashError::unsupported(
                    field,
                    format!("pbkdf2 parameter {k:?} is not supported (only i, l)"),
                ))
            }
        };
        if slot.is_some() {
            return Err(HashError::malformed(field, format!("pbkdf2 parameter {k} is repeated")));
        }
        *slot = Some(parse_u32(v, &format!("pbkdf2 parameter {k}"), field)?);
    }
    let salt = decode_b64_any(salt, field)?;
    let hash = decode_b64_any(hash, field)?;
    // Auth0: i defaults to 100000, l to 64; l must agree with the hash given.
    let l = l.unwrap_or(64);
    if l as usize != hash.len() {
        return Err(HashError::malformed(
            field,
            format!("pbkdf2 key length l={l} does not match the {}-byte hash", hash.len()),
        ));
    }
    let h = Pbkdf2Hash::new(digest, i.unwrap_or(100_000), salt, hash, limits, field)?;
    Ok((h, true))
}

/// `<rounds>$<ab64 salt>$<ab64 hash>`, shared by passlib and LDAP `{PBKDF2-…}`.
pub(crate) fn passlib_body(
    digest: Digest,
    rounds: &str,
    salt: &str,
    hash: &str,
    limits: &Limits,
    field: &str,
) -> Result<Pbkdf2Hash, HashError> {
    let iterations = parse_u32(rounds, "pbkdf2 rounds", field)?;
    let salt = decode_b64_any(salt, field)?;
    let hash = decode_b64_any(hash, field)?;
    if hash.len() != digest.output_len() {
        return Err(HashError::malformed(
            field,
            format!("{} pbkdf2 hash must be {} bytes", digest.name(), digest.output_len()),
        ));
    }
    Pbkdf2Hash::new(digest, iterations, salt, hash, limits, field)
}

pub(crate) fn phc_family(d: Digest) -> &'static str {
    match d {
        Digest::Md4 => "pbkdf2-md4",
        Digest::Md5 => "pbkdf2-md5",
        Digest::Sha1 => "pbkdf2-sha1",
        Digest::Sha224 => "pbkdf2-sha224",
        Digest::Sha256 => "pbkdf2-sha256",
        Digest::Sha384 => "pbkdf2-sha384",
        Digest::Sha512 => "pbkdf2-sha512",
        Digest::Ripemd160 => "pbkdf2-ripemd160",
        Digest::Whirlpool => "pbkdf2-whirlpool",
    }
}
