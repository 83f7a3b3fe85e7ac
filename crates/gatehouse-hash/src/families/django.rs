//! Django's `<algorithm>$…` strings: `pbkdf2_sha256$<iter>$<salt>$<b64>`,
//! `pbkdf2_sha1$…`, `bcrypt_sha256$<bcrypt>` (bcrypt of hex SHA-256) and
//! `argon2$<PHC>`.

use super::bcrypt::{self, Prehash};
use super::digest::Digest;
use super::pbkdf2::{parse_u32, Pbkdf2Hash};
use super::{Parsed, Scheme};
use crate::encoding::decode_b64_any;
use crate::{HashError, Limits};

pub(crate) fn parse(s: &str, limits: &Limits, field: &str) -> Result<Parsed, HashError> {
    if let Some(rest) = s.strip_prefix("bcrypt_sha256$") {
        let mut b = bcrypt::parse(rest, limits, field)?;
        b.prehash = Prehash::DjangoSha256Hex;
        return Ok((Scheme::Bcrypt(b), "django-bcrypt-sha256"));
    }
    if s.starts_with("argon2$") {
        // Django writes "argon2" followed by the PHC string, sharing its leading '$'.
        let a = super::argon2::parse(&s["argon2".len()..], limits, field)?;
        return Ok((Scheme::Argon2(a), "django-argon2"));
    }
    let (digest, family, rest) = if let Some(r) = s.strip_prefix("pbkdf2_sha256$") {
        (Digest::Sha256, "django-pbkdf2-sha256", r)
    } else if let Some(r) = s.strip_prefix("pbkdf2_sha1$") {
        (Digest::Sha1, "django-pbkdf2-sha1", r)
    } else {
        return Err(HashError::unsupported(field, "unknown Django hash algorithm"));
    };
    let parts: Vec<&str> = rest.split('$').collect();
    let [iter, salt, hash] = parts.as_slice() else {
        return Err(HashError::malformed(field, "Django pbkdf2 hash must be <algorithm>$<iterations>$<salt>$<hash>"));
    };
    let iterations = parse_u32(iter, "Django pbkdf2 iterations", field)?;
    if salt.is_empty() || salt.contains('$') {
        return Err(HashError::malformed(field, "Django pbkdf2 salt must not be empty"));
    }
    let hash = decode_b64_any(hash, field)?;
    if hash.len() != digest.output_len() {
        return Err(HashError::malformed(
            field,
            format!("Django {} hash must be {} bytes", digest.name(), digest.output_len()),
        ));
    }
    let h = Pbkdf2Hash::new(digest, iterations, salt.as_bytes().to_vec(), hash, limits, field)?;
    Ok((Scheme::Pbkdf2(h), family))
}
