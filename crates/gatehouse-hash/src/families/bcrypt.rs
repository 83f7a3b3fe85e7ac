//! bcrypt (`$2a$`, `$2b$`, `$2y$`), computed here from the `blowfish` primitives so the
//! comparison is ours and constant time, plus the pre-hashing wrappers of Django
//! (`bcrypt_sha256$`) and passlib (`$bcrypt-sha256$`).

use base64::Engine as _;
use blowfish::Blowfish;
use hmac::{Hmac, Mac};
use sha2::{Digest as _, Sha256};

use super::digest::ConcatSalt;
use crate::encoding::{ct_eq, B64_PAD, BCRYPT64};
use crate::{HashError, Limits};

/// How the password is transformed before bcrypt sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Prehash {
    /// Plain bcrypt.
    None,
    /// Django `bcrypt_sha256`: lowercase hex of SHA-256(password).
    DjangoSha256Hex,
    /// passlib `$bcrypt-sha256$` v1: base64 of SHA-256(password).
    PasslibV1,
    /// passlib `$bcrypt-sha256$` v2: base64 of HMAC-SHA256(key = the 22-char salt).
    PasslibV2 { salt_text: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bcrypt {
    pub(crate) cost: u32,
    pub(crate) salt: [u8; 16],
    pub(crate) hash: [u8; 23],
    pub(crate) prehash: Prehash,
    /// Auth0 custom `bcrypt` with a `salt` object.
    pub(crate) concat: Option<ConcatSalt>,
}

pub(crate) fn check_cost(cost: u32, limits: &Limits, field: &str) -> Result<(), HashError> {
    if cost < 4 {
        return Err(HashError::bounds(field, format!("bcrypt cost {cost} is below the minimum of 4")));
    }
    if cost > limits.bcrypt_max_cost.min(31) {
        return Err(HashError::bounds(
            field,
            format!("bcrypt cost {cost} exceeds the configured maximum of {}", limits.bcrypt_max_cost.min(31)),
        ));
    }
    Ok(())
}

/// Decode the 22-character salt and 31-character checksum.
pub(crate) fn decode_salt_hash(salt: &str, hash: &str, field: &str) -> Result<([u8; 16], [u8; 23]), HashError> {
    if salt.len() != 22 || hash.len() != 31 {
        return Err(HashError::malformed(field, "bcrypt salt must be 22 and checksum 31 characters of bcrypt base64"));
    }
    let s = BCRYPT64.decode(salt).map_err(|e| HashError::malformed(field, format!("invalid bcrypt salt: {e}")))?;
    let h = BCRYPT64.decode(hash).map_err(|e| HashError::malformed(field, format!("invalid bcrypt checksum: {e}")))?;
    let s: [u8; 16] = s.try_into().map_err(|_| HashError::malformed(field, "bcrypt salt must decode to 16 bytes"))?;
    let h: [u8; 23] =
        h.try_into().map_err(|_| HashError::malformed(field, "bcrypt checksum must decode to 23 bytes"))?;
    Ok((s, h))
}

/// Parse a modular-crypt bcrypt string (`$2b$10$<salt><hash>`).
pub(crate) fn parse(s: &str, limits: &Limits, field: &str) -> Result<Bcrypt, HashError> {
    let rest =
        if let Some(r) = s.strip_prefix("$2a$").or_else(|| s.strip_prefix("$2b$")).or_else(|| s.strip_prefix("$2y$")) {
            r
        } else if s.starts_with("$2$") || s.starts_with("$2x$") {
            return Err(HashError::unsupported(
                field,
                "bcrypt variants $2$ and $2x$ are not supported; only $2a$, $2b$ and $2y$",
            ));
        } else {
            return Err(HashError::malformed(field, "bcrypt hash must start with $2a$, $2b$ or $2y$"));
        };
    let (cost, body) =
        rest.split_once('$').ok_or_else(|| HashError::malformed(field, "bcrypt hash is missing its cost"))?;
    if cost.len() != 2 || !cost.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HashError::malformed(field, "bcrypt cost must be two decimal digits"));
    }
    let cost: u32 = cost.parse().map_err(|_| HashError::malformed(field, "bcrypt cost must be two decimal digits"))?;
    check_cost(cost, limits, field)?;
    if body.len() != 53 || !body.is_ascii() {
        return Err(HashError::malformed(
            field,
            "bcrypt hash must have 53 characters of salt and checksum after the cost",
        ));
    }
    let (salt, hash) = decode_salt_hash(&body[..22], &body[22..], field)?;
    Ok(Bcrypt { cost, salt, hash, prehash: Prehash::None, concat: None })
}

/// Raw bcrypt ("EksBlowfish" + 64× encrypt of "OrpheanBeholderScryDoubt"); 24 bytes.
pub(crate) fn raw(cost: u32, salt: &[u8; 16], password: &[u8]) -> [u8; 24] {
    // NUL-terminated and truncated to 72 bytes, as every bcrypt does.
    let mut key: Vec<u8> = password.iter().copied().take(72).collect();
    if key.len() < 72 {
        key.push(0);
    }
    let mut state = Blowfish::bc_init_state();
    state.salted_expand_key(salt, &key);
    for _ in 0..(1u64 << cost) {
        state.bc_expand_key(&key);
        state.bc_expand_key(salt);
    }
    let mut ctext: [u32; 6] = [0x4f72_7068, 0x6561_6e42, 0x6568_6f6c, 0x6465_7253, 0x6372_7944, 0x6f75_6274];
    for i in (0..6).step_by(2) {
        for _ in 0..64 {
            let [l, r] = state.bc_encrypt([ctext[i], ctext[i + 1]]);
            ctext[i] = l;
            ctext[i + 1] = r;
        }
    }
    let mut out = [0u8; 24];
    for (chunk, word) in out.chunks_exact_mut(4).zip(ctext) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    key.fill(0);
    out
}

impl Bcrypt {
    fn key(&self, password: &[u8]) -> Vec<u8> {
        let password = ConcatSalt::joined(self.concat.as_ref(), password);
        match &self.prehash {
            Prehash::None => password,
            Prehash::DjangoSha256Hex => hex::encode(Sha256::digest(&password)).into_bytes(),
            Prehash::PasslibV1 => B64_PAD.encode(Sha256::digest(&password)).into_bytes(),
            Prehash::PasslibV2 { salt_text } => match <Hmac<Sha256> as Mac>::new_from_slice(salt_text.as_bytes()) {
                Ok(mut m) => {
                    m.update(&password);
                    B64_PAD.encode(m.finalize().into_bytes()).into_bytes()
                }
                Err(_) => Vec::new(),
            },
        }
    }

    pub(crate) fn verify(&self, password: &[u8]) -> bool {
        let out = raw(self.cost, &self.salt, &self.key(password));
        ct_eq(&out[..23], &self.hash)
    }
}

/// Encode a bcrypt hash string (tests build inputs with it).
#[cfg(test)]
pub(crate) fn encode(variant: &str, cost: u32, salt: &[u8; 16], hash: &[u8]) -> String {
    format!("${variant}${cost:02}${}{}", BCRYPT64.encode(salt), BCRYPT64.encode(&hash[..23.min(hash.len())]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openbsd_vector() {
        // From the OpenBSD/jBCrypt test suite: password "", cost 6.
        let b =
            parse("$2a$06$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s.", &Limits::default(), "password_hash")
                .unwrap();
        assert!(b.verify(b""));
        assert!(!b.verify(b"x"));
        let again = encode("2a", b.cost, &b.salt, &raw(b.cost, &b.salt, b""));
        assert_eq!(again, "$2a$06$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s.");
    }

    #[test]
    fn cost_bounds_name_field() {
        let l = Limits::default();
        let e = parse("$2b$16$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s.", &l, "password_hash").unwrap_err();
        assert_eq!(e.field(), "password_hash");
        assert!(e.to_string().contains("exceeds"));
        assert!(parse("$2x$06$abc", &l, "password_hash").is_err());
        assert!(parse("$2b$03$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s.", &l, "f").is_err());
    }
}
