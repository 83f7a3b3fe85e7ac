//! ASP.NET Identity password hashes (base64 blobs).
//!
//! * v2 (`0x00`): salt(16) ‖ subkey(32), PBKDF2-HMAC-SHA1, 1000 iterations.
//! * v3 (`0x01`): prf(u32 BE: 0 SHA1, 1 SHA256, 2 SHA512) ‖ iterations(u32 BE) ‖
//!   salt length(u32 BE) ‖ salt ‖ subkey.

use super::digest::Digest;
use super::pbkdf2::Pbkdf2Hash;
use super::{Parsed, Scheme};
use crate::{HashError, Limits};

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_be_bytes(s))
}

pub(crate) fn parse(blob: &[u8], limits: &Limits, field: &str) -> Result<Parsed, HashError> {
    match blob.first() {
        Some(0x00) => {
            if blob.len() != 49 {
                return Err(HashError::malformed(
                    field,
                    "ASP.NET Identity v2 hash must be 49 bytes (marker, 16-byte salt, 32-byte subkey)",
                ));
            }
            let h = Pbkdf2Hash::new(Digest::Sha1, 1000, blob[1..17].to_vec(), blob[17..].to_vec(), limits, field)?;
            Ok((Scheme::Pbkdf2(h), "aspnet-identity-v2"))
        }
        Some(0x01) => {
            let bad = || HashError::malformed(field, "ASP.NET Identity v3 header is truncated");
            let prf = be32(blob, 1).ok_or_else(bad)?;
            let iterations = be32(blob, 5).ok_or_else(bad)?;
            let salt_len = be32(blob, 9).ok_or_else(bad)? as usize;
            let digest = match prf {
                0 => Digest::Sha1,
                1 => Digest::Sha256,
                2 => Digest::Sha512,
                _ => return Err(HashError::unsupported(field, format!("ASP.NET Identity v3 PRF {prf} is unknown"))),
            };
            if salt_len < 16 || 13 + salt_len >= blob.len() {
                return Err(HashError::malformed(field, "ASP.NET Identity v3 salt length is invalid"));
            }
            let salt = blob[13..13 + salt_len].to_vec();
            let subkey = blob[13 + salt_len..].to_vec();
            if subkey.len() < 16 {
                return Err(HashError::malformed(field, "ASP.NET Identity v3 subkey must be at least 16 bytes"));
            }
            let h = Pbkdf2Hash::new(digest, iterations, salt, subkey, limits, field)?;
            Ok((Scheme::Pbkdf2(h), "aspnet-identity-v3"))
        }
        _ => Err(HashError::unsupported(
            field,
            "ASP.NET Identity hash must start with format marker 0x00 (v2) or 0x01 (v3)",
        )),
    }
}
