//! phpass portable hashes (`$P$` WordPress, `$H$` phpBB) and Drupal 7 (`$S$`):
//! `h = H(salt ‖ pw)`, then 2^n times `h = H(h ‖ pw)`, crypt64-encoded.

use md5::Md5;
use sha2::Sha512;

use crate::encoding::{crypt64_index, crypt64_le, ct_eq, is_crypt64};
use crate::{HashError, Limits};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Phpass {
    /// Drupal 7 `$S$` (SHA-512, 43-character checksum) instead of MD5.
    pub(crate) drupal: bool,
    pub(crate) log2_rounds: u32,
    pub(crate) salt: Vec<u8>,
    pub(crate) hash: String,
}

pub(crate) fn parse(s: &str, limits: &Limits, field: &str) -> Result<Phpass, HashError> {
    let drupal = s.starts_with("$S$");
    if !(drupal || s.starts_with("$P$") || s.starts_with("$H$")) {
        return Err(HashError::malformed(field, "phpass hash must start with $P$, $H$ or $S$"));
    }
    let want = if drupal { 55 } else { 34 };
    if s.len() != want || !is_crypt64(&s[3..]) {
        return Err(HashError::malformed(field, format!("{} hash must be {want} characters of crypt base64", &s[..3])));
    }
    let log2_rounds = crypt64_index(s.as_bytes()[3]).unwrap_or(0);
    if !(7..=30).contains(&log2_rounds) {
        return Err(HashError::bounds(field, format!("phpass log2 rounds {log2_rounds} must be between 7 and 30")));
    }
    if log2_rounds > limits.phpass_max_log2_rounds {
        return Err(HashError::bounds(
            field,
            format!(
                "phpass log2 rounds {log2_rounds} exceed the configured maximum of {}",
                limits.phpass_max_log2_rounds
            ),
        ));
    }
    Ok(Phpass { drupal, log2_rounds, salt: s.as_bytes()[4..12].to_vec(), hash: s[12..].to_string() })
}

fn iterate<D: sha2::Digest>(salt: &[u8], pw: &[u8], rounds: u64) -> Vec<u8> {
    let mut h = D::new().chain_update(salt).chain_update(pw).finalize();
    for _ in 0..rounds {
        h = D::new().chain_update(&h).chain_update(pw).finalize();
    }
    h.to_vec()
}

impl Phpass {
    pub(crate) fn verify(&self, pw: &[u8]) -> bool {
        let rounds = 1u64 << self.log2_rounds;
        let encoded = if self.drupal {
            crypt64_le(&iterate::<Sha512>(&self.salt, pw, rounds))
        } else {
            crypt64_le(&iterate::<Md5>(&self.salt, pw, rounds))
        };
        let n = self.hash.len();
        encoded.len() >= n && ct_eq(&encoded.as_bytes()[..n], self.hash.as_bytes())
    }
}
