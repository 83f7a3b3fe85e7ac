//! RFC 2307 `userPassword` schemes: `{SHA}`, `{SSHA}`, `{MD5}`, `{SMD5}`,
//! `{SHA256|384|512}`, `{SSHA256|384|512}` (digest ‖ salt, base64), passlib's
//! `{PBKDF2}`/`{PBKDF2-SHA256}`/`{PBKDF2-SHA512}`, and `{CRYPT}` followed by an
//! md5-crypt, sha-crypt or bcrypt string.

use super::digest::{ConcatSalt, Digest, SaltPosition, SaltedDigest};
use super::{crypt, Parsed, Scheme};
use crate::encoding::decode_b64_any;
use crate::{HashError, Limits};

pub(crate) fn parse(s: &str, limits: &Limits, field: &str) -> Result<Parsed, HashError> {
    let close = s
        .find('}')
        .filter(|_| s.starts_with('{'))
        .ok_or_else(|| HashError::malformed(field, "LDAP hash must start with {SCHEME}"))?;
    let scheme = s[1..close].to_ascii_uppercase();
    let body = &s[close + 1..];
    let (digest, salted, family) = match scheme.as_str() {
        "SHA" => (Digest::Sha1, false, "ldap-sha"),
        "SSHA" => (Digest::Sha1, true, "ldap-ssha"),
        "MD5" => (Digest::Md5, false, "ldap-md5"),
        "SMD5" => (Digest::Md5, true, "ldap-smd5"),
        "SHA256" => (Digest::Sha256, false, "ldap-sha256"),
        "SSHA256" => (Digest::Sha256, true, "ldap-ssha256"),
        "SHA384" => (Digest::Sha384, false, "ldap-sha384"),
        "SSHA384" => (Digest::Sha384, true, "ldap-ssha384"),
        "SHA512" => (Digest::Sha512, false, "ldap-sha512"),
        "SSHA512" => (Digest::Sha512, true, "ldap-ssha512"),
        "PBKDF2" | "PBKDF2-SHA1" | "PBKDF2-SHA256" | "PBKDF2-SHA512" => {
            let (d, family) = match scheme.as_str() {
                "PBKDF2-SHA256" => (Digest::Sha256, "ldap-pbkdf2-sha256"),
                "PBKDF2-SHA512" => (Digest::Sha512, "ldap-pbkdf2-sha512"),
                _ => (Digest::Sha1, "ldap-pbkdf2-sha1"),
            };
            let parts: Vec<&str> = body.split('$').collect();
            let [rounds, salt, hash] = parts.as_slice() else {
                return Err(HashError::malformed(field, "LDAP PBKDF2 hash must be {PBKDF2-…}<rounds>$<salt>$<hash>"));
            };
            let h = super::pbkdf2::passlib_body(d, rounds, salt, hash, limits, field)?;
            return Ok((Scheme::Pbkdf2(h), family));
        }
        "CRYPT" => {
            return if body.starts_with("$1$") {
                Ok((Scheme::Md5Crypt(crypt::parse_md5(body, field)?), "ldap-crypt-md5"))
            } else if body.starts_with("$5$") {
                Ok((Scheme::ShaCrypt(crypt::parse_sha(body, limits, field)?), "ldap-crypt-sha256"))
            } else if body.starts_with("$6$") {
                Ok((Scheme::ShaCrypt(crypt::parse_sha(body, limits, field)?), "ldap-crypt-sha512"))
            } else if body.starts_with("$2") {
                Ok((Scheme::Bcrypt(super::bcrypt::parse(body, limits, field)?), "ldap-crypt-bcrypt"))
            } else {
                Err(HashError::unsupported(
                    field,
                    "{CRYPT} supports only $1$, $5$, $6$ and bcrypt hashes (not DES crypt)",
                ))
            };
        }
        _ => return Err(HashError::unsupported(field, format!("unsupported LDAP scheme {{{scheme}}}"))),
    };
    let blob = decode_b64_any(body, field)?;
    let n = digest.output_len();
    if blob.len() > limits.max_salt_len + n {
        return Err(HashError::malformed(field, "LDAP salt is too long"));
    }
    let (hash, salt) = if salted {
        if blob.len() <= n {
            return Err(HashError::malformed(
                field,
                format!("{{{scheme}}} must hold a {n}-byte digest followed by a salt"),
            ));
        }
        (blob[..n].to_vec(), Some(blob[n..].to_vec()))
    } else {
        if blob.len() != n {
            return Err(HashError::malformed(
                field,
                format!("{{{scheme}}} digest must be {n} bytes, got {}", blob.len()),
            ));
        }
        (blob, None)
    };
    Ok((
        Scheme::Digest(SaltedDigest {
            digest,
            salt: salt.map(|bytes| ConcatSalt { bytes, position: SaltPosition::Suffix }),
            hash,
        }),
        family,
    ))
}
