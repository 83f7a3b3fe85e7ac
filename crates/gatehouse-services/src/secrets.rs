//! Random secrets, their stored (hashed) forms, and constant-time checks.
//!
//! Codes, refresh tokens, session ids and login transaction handles carry 256 bits of
//! randomness, so one SHA-256 is an adequate one-way function for storing them: the
//! database never holds a usable secret.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// 32 random bytes, base64url (43 characters).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of a secret.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub fn ct_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// RFC 7636 `S256`: base64url(SHA-256(verifier)).
pub fn pkce_s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A code verifier or challenge: 43–128 characters of `[A-Za-z0-9-._~]` (RFC 7636 §4.1).
pub fn is_pkce_value(s: &str) -> bool {
    (43..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Checks a code verifier against the stored `S256` challenge.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    is_pkce_value(verifier) && ct_eq(&pkce_s256(verifier), challenge)
}

/// The CSRF token of a login form: an HMAC of the transaction handle under the browser's
/// secret cookie. A page from another browser, or for another transaction, never matches.
pub fn csrf_token(browser_secret: &str, transaction: &str) -> String {
    match Hmac::<Sha256>::new_from_slice(browser_secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(b"gatehouse-login-csrf:");
            mac.update(transaction.as_bytes());
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        }
        // HMAC accepts keys of any length; this arm is unreachable in practice and, if
        // reached, yields a token nothing can match.
        Err(_) => random_token(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_rfc7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(pkce_s256(verifier), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert!(pkce_matches(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(!pkce_matches("short", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
    }

    #[test]
    fn csrf_depends_on_browser_and_transaction() {
        let t = csrf_token("browser-a", "tx-1");
        assert_eq!(t, csrf_token("browser-a", "tx-1"));
        assert_ne!(t, csrf_token("browser-b", "tx-1"));
        assert_ne!(t, csrf_token("browser-a", "tx-2"));
        assert_eq!(random_token().len(), 43);
        assert_eq!(hash_secret("x").len(), 64);
    }
}
