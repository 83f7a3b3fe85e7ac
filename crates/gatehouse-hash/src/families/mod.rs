//! One module per hash family. Each family parses its own syntax (applying
//! [`Limits`](crate::Limits)) into a small struct whose `verify` recomputes the digest and
//! compares it with [`ct_eq`](crate::encoding::ct_eq).

pub(crate) mod argon2;
pub(crate) mod aspnet;
pub(crate) mod bcrypt;
pub(crate) mod crypt;
pub(crate) mod digest;
pub(crate) mod django;
pub(crate) mod firebase;
pub(crate) mod ldap;
pub(crate) mod pbkdf2;
pub(crate) mod phpass;
pub(crate) mod scrypt;

/// A parsed hash, ready to verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scheme {
    Bcrypt(bcrypt::Bcrypt),
    Argon2(argon2::Argon2Hash),
    Pbkdf2(pbkdf2::Pbkdf2Hash),
    Scrypt(scrypt::ScryptHash),
    Firebase(firebase::FirebaseHash),
    Md5Crypt(crypt::Md5Crypt),
    ShaCrypt(crypt::ShaCrypt),
    Phpass(phpass::Phpass),
    Digest(digest::SaltedDigest),
    Hmac(digest::HmacHash),
}

impl Scheme {
    pub(crate) fn verify(&self, password: &[u8]) -> bool {
        match self {
            Scheme::Bcrypt(h) => h.verify(password),
            Scheme::Argon2(h) => h.verify(password),
            Scheme::Pbkdf2(h) => h.verify(password),
            Scheme::Scrypt(h) => h.verify(password),
            Scheme::Firebase(h) => h.verify(password),
            Scheme::Md5Crypt(h) => h.verify(password),
            Scheme::ShaCrypt(h) => h.verify(password),
            Scheme::Phpass(h) => h.verify(password),
            Scheme::Digest(h) => h.verify(password),
            Scheme::Hmac(h) => h.verify(password),
        }
    }
}

/// A parsed hash and its family name.
pub(crate) type Parsed = (Scheme, &'static str);
