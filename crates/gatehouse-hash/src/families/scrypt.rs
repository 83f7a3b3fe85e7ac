//! scrypt: Auth0's custom object (`keylen`, `cost`, `blockSize`, `parallelization`) and
//! the passlib / PHC string `$scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<hash>`.

use crate::encoding::{ct_eq, decode_b64_any};
use crate::{HashError, Limits};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScryptHash {
    pub(crate) log_n: u8,
    pub(crate) r: u32,
    pub(crate) p: u32,
    pub(crate) salt: Vec<u8>,
    pub(crate) hash: Vec<u8>,
}

/// Check N (given as log2), r and p against the limits and scrypt's own rules.
/// `fields` names the field blamed for N, r and p respectively.
pub(crate) fn check_params(log_n: u8, r: u32, p: u32, limits: &Limits, fields: [&str; 3]) -> Result<(), HashError> {
    let [f_n, f_r, f_p] = fields;
    if log_n == 0 || log_n >= 64 {
        return Err(HashError::bounds(f_n, "scrypt cost must be a power of two greater than 1"));
    }
    let n = 1u64 << log_n;
    if n > limits.scrypt_max_n {
        return Err(HashError::bounds(
            f_n,
            format!("scrypt cost N={n} exceeds the configured maximum of {}", limits.scrypt_max_n),
        ));
    }
    if r == 0 || r > limits.scrypt_max_r {
        return Err(HashError::bounds(
            f_r,
            format!("scrypt block size r={r} must be between 1 and {}", limits.scrypt_max_r),
        ));
    }
    if p == 0 || p > limits.scrypt_max_p {
        return Err(HashError::bounds(
            f_p,
            format!("scrypt parallelization p={p} must be between 1 and {}", limits.scrypt_max_p),
        ));
    }
    let work = 128u128 * u128::from(n) * u128::from(r) * u128::from(p);
    if work > u128::from(limits.scrypt_max_memory_bytes) {
        return Err(HashError::bounds(
            f_n,
            format!(
                "scrypt needs 128·N·r·p = {work} bytes, more than the configured maximum of {}",
                limits.scrypt_max_memory_bytes
            ),
        ));
    }
    scrypt::Params::new(log_n, r, p, 32)
        .map_err(|_| HashError::bounds(f_n, "scrypt parameters are invalid (N must be < 2^(16·r))"))?;
    Ok(())
}

/// log2 of a power of two greater than 1.
pub(crate) fn log2_pow2(n: u64, field: &str) -> Result<u8, HashError> {
    if n < 2 || !n.is_power_of_two() {
        return Err(HashError::bounds(field, "scrypt cost must be a power of two greater than 1"));
    }
    Ok(n.trailing_zeros() as u8)
}

/// Raw scrypt output, `None` if parameters are unusable.
pub(crate) fn derive(log_n: u8, r: u32, p: u32, password: &[u8], salt: &[u8], len: usize) -> Option<Vec<u8>> {
    let params = scrypt::Params::new(log_n, r, p, 32).ok()?;
    let mut out = vec![0u8; len];
    scrypt::scrypt(password, salt, &params, &mut out).ok()?;
    Some(out)
}

impl ScryptHash {
    pub(crate) fn verify(&self, password: &[u8]) -> bool {
        match derive(self.log_n, self.r, self.p, password, &self.salt, self.hash.len()) {
            Some(out) => ct_eq(&out, &self.hash),
            None => false,
        }
    }
}

/// `$scrypt$ln=16,r=8,p=1$<salt>$<hash>` (passlib, RustCrypto PHC).
pub(crate) fn parse_string(s: &str, limits: &Limits, field: &str) -> Result<ScryptHash, HashError> {
    let parts: Vec<&str> = s.split('$').collect();
    let ["", "scrypt", params, salt, hash] = parts.as_slice() else {
        return Err(HashError::malformed(field, "scrypt hash must be $scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<hash>"));
    };
    let (mut ln, mut r, mut p) = (None, None, None);
    for kv in params.split(',') {
        let (k, v) =
            kv.split_once('=').ok_or_else(|| HashError::malformed(field, "scrypt parameters must be key=value"))?;
        let slot = match k {
            "ln" => &mut ln,
            "r" => &mut r,
            "p" => &mut p,
            _ => {
                return Err(HashError::unsupported(
                    field,
                    format!("scrypt parameter {k:?} is not supported (only ln, r, p)"),
                ))
            }
        };
        if slot.is_some() {
            return Err(HashError::malformed(field, format!("scrypt parameter {k} is repeated")));
        }
        *slot = Some(super::pbkdf2::parse_u32(v, &format!("scrypt parameter {k}"), field)?);
    }
    let (Some(ln), Some(r), Some(p)) = (ln, r, p) else {
        return Err(HashError::malformed(field, "scrypt parameters ln, r and p are all required"));
    };
    let log_n = u8::try_from(ln).map_err(|_| HashError::bounds(field, "scrypt ln is too large"))?;
    check_params(log_n, r, p, limits, [field, field, field])?;
    let salt = decode_b64_any(salt, field)?;
    let hash = decode_b64_any(hash, field)?;
    if salt.len() > limits.max_salt_len {
        return Err(HashError::malformed(field, "scrypt salt is too long"));
    }
    if hash.len() < 8 || hash.len() > limits.max_salt_len {
        return Err(HashError::malformed(field, format!("scrypt hash must be 8 to {} bytes", limits.max_salt_len)));
    }
    Ok(ScryptHash { log_n, r, p, salt, hash })
}
