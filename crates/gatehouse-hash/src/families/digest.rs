//! Plain, salted and keyed message digests: Auth0's `md4`/`md5`/`sha1`/`sha256`/`sha512`
//! and `hmac` algorithms, and the digest behind every other family.

use digest::Digest as _;
use hmac::{Hmac, Mac};

use crate::encoding::ct_eq;

/// A hash function by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Digest {
    Md4,
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
    Ripemd160,
    Whirlpool,
}

macro_rules! dispatch {
    ($d:expr, $D:ident => $body:expr) => {
        match $d {
            Digest::Md4 => {
                type $D = md4::Md4;
                $body
            }
            Digest::Md5 => {
                type $D = md5::Md5;
                $body
            }
            Digest::Sha1 => {
                type $D = sha1::Sha1;
                $body
            }
            Digest::Sha224 => {
                type $D = sha2::Sha224;
                $body
            }
            Digest::Sha256 => {
                type $D = sha2::Sha256;
                $body
            }
            Digest::Sha384 => {
                type $D = sha2::Sha384;
                $body
            }
            Digest::Sha512 => {
                type $D = sha2::Sha512;
                $body
            }
            Digest::Ripemd160 => {
                type $D = ripemd::Ripemd160;
                $body
            }
            Digest::Whirlpool => {
                type $D = whirlpool::Whirlpool;
                $body
            }
        }
    };
}

impl Digest {
    /// Auth0's `hash.digest` names (and the canonical names used in family ids).
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "md4" => Digest::Md4,
            "md5" => Digest::Md5,
            "sha1" => Digest::Sha1,
            "sha224" => Digest::Sha224,
            "sha256" => Digest::Sha256,
            "sha384" => Digest::Sha384,
            "sha512" => Digest::Sha512,
            "ripemd160" => Digest::Ripemd160,
            "whirlpool" => Digest::Whirlpool,
            _ => return None,
        })
    }

    /// OpenSSL digest names as Node's `crypto.pbkdf2` accepts them (Auth0's pbkdf2 list).
    /// `Err(())` for names that are valid there but not implemented here (MDC2).
    pub(crate) fn from_openssl_name(name: &str) -> Option<Result<Self, ()>> {
        let lower = name.to_ascii_lowercase();
        let base = lower.strip_prefix("rsa-").or_else(|| lower.strip_prefix("ssl3-")).unwrap_or(&lower);
        let base = base.strip_suffix("withrsaencryption").or_else(|| base.strip_suffix("withrsa")).unwrap_or(base);
        Some(Ok(match base {
            "md4" => Digest::Md4,
            "md5" => Digest::Md5,
            "sha1" | "sha1-2" => Digest::Sha1,
            "sha224" => Digest::Sha224,
            "sha256" => Digest::Sha256,
            "sha384" => Digest::Sha384,
            "sha512" => Digest::Sha512,
            "ripemd" | "ripemd160" | "rmd160" => Digest::Ripemd160,
            "whirlpool" => Digest::Whirlpool,
            "mdc2" => return Some(Err(())),
            _ => return None,
        }))
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Digest::Md4 => "md4",
            Digest::Md5 => "md5",
            Digest::Sha1 => "sha1",
            Digest::Sha224 => "sha224",
            Digest::Sha256 => "sha256",
            Digest::Sha384 => "sha384",
            Digest::Sha512 => "sha512",
            Digest::Ripemd160 => "ripemd160",
            Digest::Whirlpool => "whirlpool",
        }
    }

    pub(crate) fn output_len(self) -> usize {
        dispatch!(self, D => <D as digest::Digest>::output_size())
    }

    /// Digest of the concatenation of `parts`.
    pub(crate) fn hash(self, parts: &[&[u8]]) -> Vec<u8> {
        dispatch!(self, D => {
            let mut h = D::new();
            for p in parts {
                h.update(p);
            }
            h.finalize().to_vec()
        })
    }

    /// HMAC of the concatenation of `parts` under `key`.
    pub(crate) fn hmac(self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        dispatch!(self, D => {
            match <Hmac<D> as Mac>::new_from_slice(key) {
                Ok(mut m) => {
                    for p in parts {
                        m.update(p);
                    }
                    m.finalize().into_bytes().to_vec()
                }
                // HMAC accepts keys of any length; unreachable in practice.
                Err(_) => Vec::new(),
            }
        })
    }

    /// PBKDF2-HMAC filling `out`. Returns false if the PRF rejected the input.
    pub(crate) fn pbkdf2(self, password: &[u8], salt: &[u8], rounds: u32, out: &mut [u8]) -> bool {
        dispatch!(self, D => pbkdf2::pbkdf2::<Hmac<D>>(password, salt, rounds, out).is_ok())
    }
}

/// Where a salt goes relative to the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SaltPosition {
    Prefix,
    Suffix,
}

/// An optional salt concatenated with the password before hashing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConcatSalt {
    pub(crate) bytes: Vec<u8>,
    pub(crate) position: SaltPosition,
}

impl ConcatSalt {
    /// The parts to hash, in order.
    pub(crate) fn parts<'a>(salt: Option<&'a ConcatSalt>, password: &'a [u8]) -> [&'a [u8]; 2] {
        match salt {
            None => [password, &[]],
            Some(s) => match s.position {
                SaltPosition::Prefix => [&s.bytes, password],
                SaltPosition::Suffix => [password, &s.bytes],
            },
        }
    }

    pub(crate) fn joined(salt: Option<&ConcatSalt>, password: &[u8]) -> Vec<u8> {
        ConcatSalt::parts(salt, password).concat()
    }
}

/// `digest(salt ‖ password)` or `digest(password ‖ salt)`: Auth0's md4…sha512 and LDAP's
/// `{SHA}`/`{SSHA}`-style schemes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SaltedDigest {
    pub(crate) digest: Digest,
    pub(crate) salt: Option<ConcatSalt>,
    pub(crate) hash: Vec<u8>,
}

impl SaltedDigest {
    pub(crate) fn verify(&self, password: &[u8]) -> bool {
        let got = self.digest.hash(&ConcatSalt::parts(self.salt.as_ref(), password));
        ct_eq(&got, &self.hash)
    }
}

/// `HMAC-digest(key, salted password)`: Auth0's `hmac` algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HmacHash {
    pub(crate) digest: Digest,
    pub(crate) key: Vec<u8>,
    pub(crate) salt: Option<ConcatSalt>,
    pub(crate) hash: Vec<u8>,
}

impl HmacHash {
    pub(crate) fn verify(&self, password: &[u8]) -> bool {
        let got = self.digest.hmac(&self.key, &ConcatSalt::parts(self.salt.as_ref(), password));
        ct_eq(&got, &self.hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssl_names() {
        assert_eq!(Digest::from_openssl_name("RSA-SHA1-2"), Some(Ok(Digest::Sha1)));
        assert_eq!(Digest::from_openssl_name("sha512WithRSAEncryption"), Some(Ok(Digest::Sha512)));
        assert_eq!(Digest::from_openssl_name("ripemd160WithRSA"), Some(Ok(Digest::Ripemd160)));
        assert_eq!(Digest::from_openssl_name("ssl3-md5"), Some(Ok(Digest::Md5)));
        assert_eq!(Digest::from_openssl_name("mdc2WithRSA"), Some(Err(())));
        assert_eq!(Digest::from_openssl_name("sha3"), None);
    }

    #[test]
    fn known_answers() {
        assert_eq!(hex::encode(Digest::Md5.hash(&[b"abc"])), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(Digest::Whirlpool.output_len(), 64);
        assert_eq!(Digest::Md4.hash(&[b""]).len(), 16);
    }
}
