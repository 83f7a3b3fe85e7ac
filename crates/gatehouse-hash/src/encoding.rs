//! Byte/text encodings shared by the families: hex, the base64 dialects (standard,
//! url-safe, passlib's "ab64", bcrypt's), the little-endian `crypt` base64 used by
//! md5-crypt, sha-crypt, phpass and Drupal, password transcoding, and the one
//! constant-time comparison every family uses.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use subtle::ConstantTimeEq;

use crate::HashError;

/// Characters of the `crypt(3)` base64 alphabet, in value order.
pub(crate) const CRYPT64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_encode_padding(false)
    .with_decode_allow_trailing_bits(true)
    .with_decode_padding_mode(DecodePaddingMode::Indifferent);

/// Standard alphabet, padding optional on decode, none on encode.
pub(crate) const B64: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
/// Standard alphabet with `=` padding on encode (Django, LDAP, Auth0 exports).
pub(crate) const B64_PAD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
/// URL-safe alphabet without padding (the `$gh-custom$` payload).
pub(crate) const B64_URL: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);
/// bcrypt's alphabet (`./A-Za-z0-9`), big-endian bit order, no padding.
pub(crate) const BCRYPT64: GeneralPurpose = GeneralPurpose::new(&alphabet::BCRYPT, LENIENT);

/// Decode base64 in any common dialect: standard or url-safe alphabet, with or without
/// `=` padding, and passlib's "ab64" (`.` for `+`). Whitespace is not accepted.
pub(crate) fn decode_b64_any(s: &str, field: &str) -> Result<Vec<u8>, HashError> {
    let normalised: String = s
        .chars()
        .map(|c| match c {
            '-' | '.' => '+',
            '_' => '/',
            other => other,
        })
        .collect();
    B64.decode(normalised.as_bytes()).map_err(|e| HashError::malformed(field, format!("invalid base64: {e}")))
}

/// Decode hex, upper or lower case.
pub(crate) fn decode_hex(s: &str, field: &str) -> Result<Vec<u8>, HashError> {
    hex::decode(s).map_err(|e| HashError::malformed(field, format!("invalid hex: {e}")))
}

/// Encode bytes with the `crypt` alphabet in phpass/Drupal's little-endian grouping.
pub(crate) fn crypt64_le(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let mut v: u32 = 0;
        for (i, b) in chunk.iter().enumerate() {
            v |= u32::from(*b) << (8 * i);
        }
        let chars = chunk.len() + 1;
        push_crypt64(&mut out, v, chars);
    }
    out
}

/// Append `n` crypt64 characters of `v`, least significant six bits first.
pub(crate) fn push_crypt64(out: &mut String, mut v: u32, n: usize) {
    for _ in 0..n {
        out.push(char::from(CRYPT64[(v & 0x3f) as usize]));
        v >>= 6;
    }
}

/// Index of a character in the crypt64 alphabet.
pub(crate) fn crypt64_index(c: u8) -> Option<u32> {
    CRYPT64.iter().position(|x| *x == c).map(|p| p as u32)
}

/// True when every byte is in the crypt64 alphabet.
pub(crate) fn is_crypt64(s: &str) -> bool {
    s.bytes().all(|b| crypt64_index(b).is_some())
}

/// Constant-time equality of two byte strings. Lengths are public (they come from the
/// stored hash's format), so a length mismatch returns early.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// How a UTF-8 password is turned into bytes before hashing (Auth0's `password.encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum PwEncoding {
    /// UTF-8 bytes, unchanged.
    #[default]
    Utf8,
    /// UTF-16 little endian (`utf16le`, `ucs2`).
    Utf16le,
    /// One byte per code point (`latin1`, `binary`, and Node's `ascii`, which encodes
    /// like latin1). A code point above U+00FF cannot be represented and never verifies.
    Latin1,
}

impl PwEncoding {
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "utf8" | "utf-8" => Some(PwEncoding::Utf8),
            "utf16le" | "utf-16le" | "ucs2" | "ucs-2" => Some(PwEncoding::Utf16le),
            "latin1" | "binary" | "ascii" => Some(PwEncoding::Latin1),
            _ => None,
        }
    }

    /// The password's bytes in this encoding, or `None` when it cannot be represented.
    pub(crate) fn encode(self, password: &str) -> Option<Vec<u8>> {
        match self {
            PwEncoding::Utf8 => Some(password.as_bytes().to_vec()),
            PwEncoding::Utf16le => Some(password.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()),
            PwEncoding::Latin1 => password.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect(),
        }
    }
}

/// Encoding of a value in the Auth0 object (`hash.encoding`, `salt.encoding`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueEncoding {
    Utf8,
    Hex,
    Base64,
}

impl ValueEncoding {
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            "utf8" | "utf-8" => Some(ValueEncoding::Utf8),
            "hex" => Some(ValueEncoding::Hex),
            "base64" => Some(ValueEncoding::Base64),
            _ => None,
        }
    }

    pub(crate) fn decode(self, s: &str, field: &str) -> Result<Vec<u8>, HashError> {
        match self {
            ValueEncoding::Utf8 => Ok(s.as_bytes().to_vec()),
            ValueEncoding::Hex => decode_hex(s, field),
            ValueEncoding::Base64 => decode_b64_any(s, field),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_rejects_wide_chars() {
        assert_eq!(PwEncoding::Latin1.encode("é"), Some(vec![0xe9]));
        assert_eq!(PwEncoding::Latin1.encode("密"), None);
        assert_eq!(PwEncoding::Utf16le.encode("a€"), Some(vec![0x61, 0, 0xac, 0x20]));
    }

    #[test]
    fn b64_dialects() {
        let f = "f";
        assert_eq!(decode_b64_any("+/8=", f), Ok(vec![0xfb, 0xff]));
        assert_eq!(decode_b64_any("-_8", f), Ok(vec![0xfb, 0xff]));
        assert_eq!(decode_b64_any("./8", f), Ok(vec![0xfb, 0xff]));
        assert!(decode_b64_any("a b", f).is_err());
    }
}
