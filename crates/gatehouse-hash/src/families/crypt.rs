//! Unix `crypt(3)` schemes: `$1$` md5-crypt (Poul-Henning Kamp) and `$5$`/`$6$`
//! sha256-crypt / sha512-crypt (Ulrich Drepper's specification), implemented here so
//! the final comparison is constant time.

use md5::Md5;
use sha2::{Digest as _, Sha256, Sha512};

use crate::encoding::{ct_eq, is_crypt64, push_crypt64};
use crate::{HashError, Limits};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Md5Crypt {
    pub(crate) salt: Vec<u8>,
    pub(crate) hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShaCrypt {
    pub(crate) sha512: bool,
    pub(crate) rounds: u32,
    pub(crate) salt: Vec<u8>,
    pub(crate) hash: String,
}

fn valid_salt(salt: &str) -> bool {
    salt.bytes().all(|b| b.is_ascii_graphic() && b != b'$' && b != b':')
}

/// `$1$<salt ≤ 8>$<22 chars>`
pub(crate) fn parse_md5(s: &str, field: &str) -> Result<Md5Crypt, HashError> {
    let rest =
        s.strip_prefix("$1$").ok_or_else(|| HashError::malformed(field, "md5-crypt hash must start with $1$"))?;
    let (salt, hash) =
        rest.split_once('$').ok_or_else(|| HashError::malformed(field, "md5-crypt hash must be $1$<salt>$<hash>"))?;
    if salt.len() > 8 || !valid_salt(salt) {
        return Err(HashError::malformed(field, "md5-crypt salt must be at most 8 printable characters"));
    }
    if hash.len() != 22 || !is_crypt64(hash) {
        return Err(HashError::malformed(field, "md5-crypt checksum must be 22 characters of crypt base64"));
    }
    Ok(Md5Crypt { salt: salt.as_bytes().to_vec(), hash: hash.to_string() })
}

/// `$5$[rounds=N$]<salt ≤ 16>$<43 chars>` or `$6$…$<86 chars>`
pub(crate) fn parse_sha(s: &str, limits: &Limits, field: &str) -> Result<ShaCrypt, HashError> {
    let (sha512, rest) = if let Some(r) = s.strip_prefix("$5$") {
        (false, r)
    } else if let Some(r) = s.strip_prefix("$6$") {
        (true, r)
    } else {
        return Err(HashError::malformed(field, "sha-crypt hash must start with $5$ or $6$"));
    };
    let (rounds, rest) = match rest.strip_prefix("rounds=") {
        Some(r) => {
            let (n, rest) = r
                .split_once('$')
                .ok_or_else(|| HashError::malformed(field, "sha-crypt rounds= must be followed by $"))?;
            let n = super::pbkdf2::parse_u32(n, "sha-crypt rounds", field)?;
            if n > limits.crypt_max_rounds {
                return Err(HashError::bounds(
                    field,
                    format!("sha-crypt rounds {n} exceed the configured maximum of {}", limits.crypt_max_rounds),
                ));
            }
            // glibc clamps to [1000, 999999999]
            (n.max(1000), rest)
        }
        None => (5000, rest),
    };
    let (salt, hash) = rest
        .split_once('$')
        .ok_or_else(|| HashError::malformed(field, "sha-crypt hash must be $<id>$<salt>$<hash>"))?;
    if salt.len() > 16 || !valid_salt(salt) {
        return Err(HashError::malformed(field, "sha-crypt salt must be at most 16 printable characters"));
    }
    let want = if sha512 { 86 } else { 43 };
    if hash.len() != want || !is_crypt64(hash) {
        return Err(HashError::malformed(
            field,
            format!("sha-crypt checksum must be {want} characters of crypt base64"),
        ));
    }
    Ok(ShaCrypt { sha512, rounds, salt: salt.as_bytes().to_vec(), hash: hash.to_string() })
}

/// The 22-character md5-crypt checksum.
pub(crate) fn md5_crypt(pw: &[u8], salt: &[u8]) -> String {
    let alt = Md5::new().chain_update(pw).chain_update(salt).chain_update(pw).finalize();
    let mut ctx = Md5::new().chain_update(pw).chain_update(b"$1$").chain_update(salt);
    let mut left = pw.len();
    while left > 0 {
        let n = left.min(16);
        ctx.update(&alt[..n]);
        left -= n;
    }
    let mut i = pw.len();
    while i > 0 {
        if i & 1 == 1 {
            ctx.update([0u8]);
        } else {
            ctx.update(&pw[..1]);
        }
        i >>= 1;
    }
    let mut f = ctx.finalize();
    for i in 0..1000 {
        let mut c = Md5::new();
        if i & 1 == 1 {
            c.update(pw);
        } else {
            c.update(f);
        }
        if i % 3 != 0 {
            c.update(salt);
        }
        if i % 7 != 0 {
            c.update(pw);
        }
        if i & 1 == 1 {
            c.update(f);
        } else {
            c.update(pw);
        }
        f = c.finalize();
    }
    let mut out = String::with_capacity(22);
    for (a, b, c) in [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)] {
        let v = (u32::from(f[a]) << 16) | (u32::from(f[b]) << 8) | u32::from(f[c]);
        push_crypt64(&mut out, v, 4);
    }
    push_crypt64(&mut out, u32::from(f[11]), 2);
    out
}

fn sha_crypt_bytes<D: sha2::Digest + Clone>(pw: &[u8], salt: &[u8], rounds: u32) -> Vec<u8> {
    let hlen = <D as sha2::Digest>::output_size();
    let b = D::new().chain_update(pw).chain_update(salt).chain_update(pw).finalize();
    let mut a = D::new().chain_update(pw).chain_update(salt);
    let mut left = pw.len();
    while left > 0 {
        let n = left.min(hlen);
        a.update(&b[..n]);
        left -= n;
    }
    let mut i = pw.len();
    while i > 0 {
        if i & 1 == 1 {
            a.update(&b);
        } else {
            a.update(pw);
        }
        i >>= 1;
    }
    let a = a.finalize();
    let mut dp = D::new();
    for _ in 0..pw.len() {
        dp.update(pw);
    }
    let dp = dp.finalize();
    let p: Vec<u8> = dp.iter().copied().cycle().take(pw.len()).collect();
    let mut ds = D::new();
    for _ in 0..(16 + usize::from(a[0])) {
        ds.update(salt);
    }
    let ds = ds.finalize();
    let s: Vec<u8> = ds.iter().copied().cycle().take(salt.len()).collect();
    let mut c = a.to_vec();
    for r in 0..rounds {
        let mut h = D::new();
        if r & 1 == 1 {
            h.update(&p);
        } else {
            h.update(&c);
        }
        if r % 3 != 0 {
            h.update(&s);
        }
        if r % 7 != 0 {
            h.update(&p);
        }
        if r & 1 == 1 {
            h.update(&c);
        } else {
            h.update(&p);
        }
        c = h.finalize().to_vec();
    }
    c
}

const SHA256_ORDER: [(usize, usize, usize); 10] = [
    (0, 10, 20),
    (21, 1, 11),
    (12, 22, 2),
    (3, 13, 23),
    (24, 4, 14),
    (15, 25, 5),
    (6, 16, 26),
    (27, 7, 17),
    (18, 28, 8),
    (9, 19, 29),
];

const SHA512_ORDER: [(usize, usize, usize); 21] = [
    (0, 21, 42),
    (22, 43, 1),
    (44, 2, 23),
    (3, 24, 45),
    (25, 46, 4),
    (47, 5, 26),
    (6, 27, 48),
    (28, 49, 7),
    (50, 8, 29),
    (9, 30, 51),
    (31, 52, 10),
    (53, 11, 32),
    (12, 33, 54),
    (34, 55, 13),
    (56, 14, 35),
    (15, 36, 57),
    (37, 58, 16),
    (59, 17, 38),
    (18, 39, 60),
    (40, 61, 19),
    (62, 20, 41),
];

/// The sha256-crypt (43 chars) or sha512-crypt (86 chars) checksum.
pub(crate) fn sha_crypt(sha512: bool, pw: &[u8], salt: &[u8], rounds: u32) -> String {
    let (c, order): (Vec<u8>, &[(usize, usize, usize)]) = if sha512 {
        (sha_crypt_bytes::<Sha512>(pw, salt, rounds), &SHA512_ORDER)
    } else {
        (sha_crypt_bytes::<Sha256>(pw, salt, rounds), &SHA256_ORDER)
    };
    let byte = |i: usize| u32::from(c.get(i).copied().unwrap_or(0));
    let mut out = String::with_capacity(86);
    for &(x, y, z) in order {
        push_crypt64(&mut out, (byte(x) << 16) | (byte(y) << 8) | byte(z), 4);
    }
    if sha512 {
        push_crypt64(&mut out, byte(63), 2);
    } else {
        push_crypt64(&mut out, (byte(31) << 8) | byte(30), 3);
    }
    out
}

impl Md5Crypt {
    pub(crate) fn verify(&self, pw: &[u8]) -> bool {
        ct_eq(md5_crypt(pw, &self.salt).as_bytes(), self.hash.as_bytes())
    }
}

impl ShaCrypt {
    pub(crate) fn verify(&self, pw: &[u8]) -> bool {
        ct_eq(sha_crypt(self.sha512, pw, &self.salt, self.rounds).as_bytes(), self.hash.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drepper_vectors() {
        // Cross-checked with `openssl passwd -5/-6/-1`.
        assert_eq!(
            sha_crypt(false, b"Hello world!", b"saltstring", 5000),
            "5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"
        );
        assert_eq!(md5_crypt(b"Hello world!", b"saltstri"), "YMyguxXMBpd2TEZ.vS/3q1");
        assert_eq!(
            sha_crypt(true, b"Hello world!", b"saltstring", 5000),
            "svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"
        );
    }
}
