//! Every password hash format Gatehouse accepts: parse (with cost limits), verify in
//! constant time, hash new passwords with argon2id, and store/export losslessly.
//!
//! This crate does no I/O. It is used by import (Auth0 bulk-import `password_hash` and
//! `custom_password_hash`), login, and the legacy stores.
//!
//! # Accepted inputs
//!
//! * `password_hash` — any *self-describing* hash string, detected by prefix
//!   ([`Hasher::parse_password_hash`]): bcrypt `$2a$`/`$2b$`/`$2y$`; argon2 PHC
//!   `$argon2id$`/`$argon2i$`/`$argon2d$`; PHC `$pbkdf2-<digest>$i=…,l=…$…`; passlib
//!   `$pbkdf2$`, `$pbkdf2-sha256$`, `$pbkdf2-sha512$`, `$bcrypt-sha256$` and
//!   `$scrypt$ln=…,r=…,p=…$…`; `$1$` md5-crypt; `$5$`/`$6$` sha-crypt; phpass `$P$`/`$H$`;
//!   Drupal 7 `$S$`; Django `pbkdf2_sha256$`, `pbkdf2_sha1$`, `bcrypt_sha256$`, `argon2$`;
//!   LDAP `{SHA}`, `{SSHA}`, `{MD5}`, `{SMD5}`, `{SHA256}`, `{SSHA256}`, `{SHA384}`,
//!   `{SSHA384}`, `{SHA512}`, `{SSHA512}`, `{PBKDF2}`, `{PBKDF2-SHA256}`,
//!   `{PBKDF2-SHA512}`, `{CRYPT}` (+ md5-crypt, sha-crypt or bcrypt).
//! * `custom_password_hash` — Auth0's object with every algorithm (`argon2`, `bcrypt`,
//!   `hmac`, `ldap`, `md4`, `md5`, `sha1`, `sha256`, `sha512`, `pbkdf2`, `scrypt`) and
//!   Gatehouse's extensions `firebase-scrypt` and `aspnet-identity`
//!   ([`Hasher::parse_custom_password_hash`]).
//!
//! Cost parameters are bounded by [`Limits`] and malformed input is rejected when it is
//! parsed, with a [`HashError`] naming the JSON field; verification never fails with an
//! error, it only answers `true` or `false`.
//!
//! # Stored format (stable)
//!
//! [`PasswordHash::to_stored`] gives one self-describing string per hash, so a store
//! needs a single text column and round-trips exactly:
//!
//! * A self-describing hash (any `password_hash` import, and every hash produced by
//!   [`Hasher::hash`], which is an argon2id PHC string) is stored **as itself**, byte
//!   for byte.
//! * A `custom_password_hash` object is stored as
//!   `$gh-custom$v=1$<base64url, no padding, of the object's compact JSON>`, the JSON
//!   being exactly the object that was imported (same keys, same order, same values).
//!   No real hash format starts with `$gh-custom$`, and `parse_password_hash` refuses it.
//!
//! [`Hasher::parse_stored`] reads either form back (applying the same limits), and
//! [`PasswordHash::to_auth0_export`] rebuilds `{"password_hash": "…"}` or
//! `{"custom_password_hash": {…}}` exactly as imported.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod custom;
mod detect;
mod encoding;
mod error;
mod families;
mod limits;

use std::fmt;

use base64::Engine as _;
use rand::RngCore as _;

pub use error::HashError;
pub use limits::{Argon2Config, Limits};

/// bcrypt as Node's `bcrypt` module makes it, for the script sandbox: `setting` is a
/// salt from [`bcrypt_salt`] or any bcrypt hash (whose cost and salt are reused); the
/// answer is a `$2b$` hash. `None` when `setting` is not a bcrypt setting or its cost is
/// outside 4..=`max_cost`.
pub fn bcrypt_with_setting(password: &str, setting: &str, max_cost: u32) -> Option<String> {
    let rest = ["$2a$", "$2b$", "$2y$"].iter().find_map(|p| setting.strip_prefix(p))?;
    let (cost, body) = rest.split_once('$')?;
    let cost: u32 = cost.parse().ok().filter(|c| (4..=max_cost.min(31)).contains(c))?;
    let salt: [u8; 16] = encoding::BCRYPT64.decode(body.get(..22)?).ok()?.try_into().ok()?;
    let raw = families::bcrypt::raw(cost, &salt, password.as_bytes());
    Some(format!("$2b${cost:02}${}{}", encoding::BCRYPT64.encode(salt), encoding::BCRYPT64.encode(&raw[..23])))
}

/// A fresh bcrypt salt setting (`$2b$NN$` and 22 characters), as `bcrypt.genSalt` gives.
pub fn bcrypt_salt(cost: u32) -> String {
    let mut salt = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut salt);
    format!("$2b${cost:02}${}", encoding::BCRYPT64.encode(salt))
}

use encoding::{ct_eq, PwEncoding, B64_URL};
use families::Scheme;

/// Version tag inside the stored form of custom objects.
const CUSTOM_STORED_PREFIX: &str = "$gh-custom$v=1$";

/// Where a hash came from; determines its stored and exported forms.
#[derive(Clone, PartialEq, Eq)]
enum Source {
    /// A self-describing string (imported `password_hash`, or a new argon2id hash).
    Encoded(String),
    /// An Auth0 `custom_password_hash` object, kept verbatim.
    Custom(serde_json::Value),
}

/// A parsed, validated password hash. Opaque; its `Debug` output shows only the family.
#[derive(Clone)]
pub struct PasswordHash {
    scheme: Scheme,
    family: &'static str,
    pw_encoding: PwEncoding,
    source: Source,
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHash").field("family", &self.family).field("hash", &"<redacted>").finish()
    }
}

impl PartialEq for PasswordHash {
    /// Two hashes are equal when their stored forms are.
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for PasswordHash {}

impl PasswordHash {
    /// The canonical stored string (see the crate documentation for the format).
    pub fn to_stored(&self) -> String {
        match &self.source {
            Source::Encoded(s) => s.clone(),
            Source::Custom(v) => format!("{CUSTOM_STORED_PREFIX}{}", B64_URL.encode(v.to_string().as_bytes())),
        }
    }

    /// Family name, e.g. `bcrypt`, `argon2id`, `md5-crypt`, `phpass`, `drupal7`,
    /// `django-pbkdf2-sha256`, `ldap-ssha`, `custom-sha256`, `custom-firebase-scrypt`.
    pub fn family(&self) -> &'static str {
        self.family
    }

    /// `{"password_hash": "…"}` or `{"custom_password_hash": {…}}`, exactly as imported.
    pub fn to_auth0_export(&self) -> serde_json::Value {
        match &self.source {
            Source::Encoded(s) => serde_json::json!({ "password_hash": s }),
            Source::Custom(v) => serde_json::json!({ "custom_password_hash": v }),
        }
    }

    /// True when this came from a `custom_password_hash` object.
    pub fn is_custom(&self) -> bool {
        matches!(self.source, Source::Custom(_))
    }
}

/// Parses, verifies and creates password hashes under one argon2id configuration and
/// one set of [`Limits`]. Cheap to clone; share one per process.
#[derive(Debug, Clone, Default)]
pub struct Hasher {
    argon2: Argon2Config,
    limits: Limits,
}

/// Salt for [`Hasher::dummy_verify`]; the result is discarded.
const DUMMY_SALT: [u8; 16] = *b"gatehouse-dummy!";

impl Hasher {
    /// A hasher producing argon2id with `argon2` and parsing under `limits`.
    pub fn new(argon2: Argon2Config, limits: Limits) -> Self {
        Hasher { argon2, limits }
    }

    /// The argon2id parameters for new hashes.
    pub fn argon2_config(&self) -> &Argon2Config {
        &self.argon2
    }

    /// The parse-time limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Hash a new password with argon2id (random 16-byte salt, 32-byte output).
    pub fn hash(&self, password: &str) -> Result<PasswordHash, HashError> {
        if password.len() > self.limits.max_password_bytes {
            return Err(HashError::bounds(
                "password",
                format!("password is longer than {} bytes", self.limits.max_password_bytes),
            ));
        }
        let mut salt = [0u8; 16];
        rand::rngs::OsRng
            .try_fill_bytes(&mut salt)
            .map_err(|e| HashError::internal("argon2", format!("no randomness: {e}")))?;
        let phc = families::argon2::hash_new(&self.argon2, password.as_bytes(), &salt)?;
        self.parse_password_hash(&phc).map_err(|e| {
            HashError::internal("argon2", format!("configured argon2 parameters are outside the limits: {e}"))
        })
    }

    /// Constant-time check of `password` against `hash`. Never errors: a password that
    /// cannot be represented in the hash's password encoding, or is longer than
    /// [`Limits::max_password_bytes`], simply does not match.
    pub fn verify(&self, hash: &PasswordHash, password: &str) -> bool {
        if password.len() > self.limits.max_password_bytes {
            return false;
        }
        match hash.pw_encoding.encode(password) {
            Some(bytes) => hash.scheme.verify(&bytes),
            None => false,
        }
    }

    /// True when, after a successful verify, login should re-hash the password: any
    /// family other than argon2id, or argon2id weaker than the configured parameters
    /// (m, t or p below the configuration, salt < 16 or output < 32 bytes, version
    /// 0x10), or a non-UTF-8 password encoding.
    pub fn needs_rehash(&self, hash: &PasswordHash) -> bool {
        match &hash.scheme {
            Scheme::Argon2(a) => hash.pw_encoding != PwEncoding::Utf8 || a.weaker_than(&self.argon2),
            _ => true,
        }
    }

    /// Spend the same time as verifying a freshly made hash (argon2id with the
    /// configured parameters), for logins of unknown users.
    pub fn dummy_verify(&self, password: &str) {
        let bytes = password.as_bytes();
        let bytes = &bytes[..bytes.len().min(self.limits.max_password_bytes)];
        let out = families::argon2::derive(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            self.argon2.memory_kib,
            self.argon2.iterations,
            self.argon2.parallelism,
            bytes,
            &DUMMY_SALT,
            32,
        );
        let matched = out.map(|o| ct_eq(&o, &[0u8; 32])).unwrap_or(false);
        std::hint::black_box(matched);
    }

    /// Parse a self-describing hash string (an Auth0 `password_hash`, extended to many
    /// formats). Errors name the field `password_hash`.
    pub fn parse_password_hash(&self, s: &str) -> Result<PasswordHash, HashError> {
        self.parse_password_hash_at(s, "password_hash")
    }

    fn parse_password_hash_at(&self, s: &str, field: &str) -> Result<PasswordHash, HashError> {
        let (scheme, family) = detect::parse(s, &self.limits, field)?;
        Ok(PasswordHash { scheme, family, pw_encoding: PwEncoding::Utf8, source: Source::Encoded(s.to_string()) })
    }

    /// Parse an Auth0 `custom_password_hash` object (or a Gatehouse extension).
    /// Errors name fields such as `custom_password_hash.hash.value`.
    pub fn parse_custom_password_hash(&self, v: &serde_json::Value) -> Result<PasswordHash, HashError> {
        let (scheme, family, pw_encoding) = custom::parse(v, &self.limits)?;
        Ok(PasswordHash { scheme, family, pw_encoding, source: Source::Custom(v.clone()) })
    }

    /// Parse a string produced by [`PasswordHash::to_stored`]. Limits apply here too,
    /// so a tampered row cannot make a login expensive.
    pub fn parse_stored(&self, s: &str) -> Result<PasswordHash, HashError> {
        if let Some(payload) = s.strip_prefix(CUSTOM_STORED_PREFIX) {
            if payload.len() > self.limits.max_hash_len * 8 {
                return Err(HashError::malformed("stored", "stored hash is too long"));
            }
            let json = B64_URL
                .decode(payload)
                .map_err(|e| HashError::malformed("stored", format!("invalid base64url: {e}")))?;
            let v: serde_json::Value = serde_json::from_slice(&json)
                .map_err(|e| HashError::malformed("stored", format!("invalid JSON: {e}")))?;
            return self.parse_custom_password_hash(&v);
        }
        if s.starts_with(detect::CUSTOM_PREFIX) {
            return Err(HashError::unsupported("stored", "unknown $gh-custom$ version (expected v=1)"));
        }
        self.parse_password_hash(s)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn bcrypt_for_the_sandbox_matches_the_openbsd_vector() {
        let h = super::bcrypt_with_setting("", "$2a$06$DCq7YPn5Rq63x1Lad4cll.", 31).unwrap();
        assert_eq!(h, "$2b$06$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s.");
        let again = super::bcrypt_with_setting("", &h, 31).unwrap();
        assert_eq!(again, h, "a hash is its own setting");
        assert_eq!(super::bcrypt_with_setting("x", "$2b$16$DCq7YPn5Rq63x1Lad4cll.", 12), None);
        assert!(super::bcrypt_salt(10).starts_with("$2b$10$"));
        assert_eq!(super::bcrypt_salt(10).len(), 29);
    }

    use super::*;

    fn fast() -> Hasher {
        Hasher::new(Argon2Config { memory_kib: 64, iterations: 1, parallelism: 1 }, Limits::default())
    }

    #[test]
    fn hash_verify_rehash() {
        let h = fast();
        let p = h.hash("correct horse").unwrap();
        assert_eq!(p.family(), "argon2id");
        assert!(h.verify(&p, "correct horse"));
        assert!(!h.verify(&p, "correct horsf"));
        assert!(!h.needs_rehash(&p));
        assert!(Hasher::default().needs_rehash(&p));
        assert_eq!(h.parse_stored(&p.to_stored()).unwrap(), p);
        h.dummy_verify("x");
    }

    #[test]
    fn debug_is_redacted() {
        let h = fast();
        let p = h.hash("pw").unwrap();
        let d = format!("{p:?}");
        assert!(!d.contains("$argon2"));
        assert!(d.contains("redacted"));
    }

    #[test]
    fn custom_prefix_is_not_importable() {
        let e = fast().parse_password_hash("$gh-custom$v=1$e30").unwrap_err();
        assert_eq!(e.field(), "password_hash");
    }
}
