//! RFC 6238 time-based one-time passwords as authenticator apps (and Auth0) use them:
//! HMAC-SHA1, 30-second steps, 6 digits; secrets in un-padded Base32. A code is accepted
//! once: its step is recorded in the same write that accepts it.

use gatehouse_core::mfa::{FactorKind, MfaFactor};
use gatehouse_store::{Store, StoreError};

/// RFC 6238's time step.
pub const TOTP_STEP_SECS: i64 = 30;
const TOTP_DIGITS: u32 = 6;

/// What a TOTP code was found to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotpCheck {
    /// The code of one of the user's TOTP factors, at the current step or one beside it;
    /// its step is now used.
    Accepted,
    /// A right code of a step already used (or older than one used): refused.
    Replayed,
    /// Not a code of any of the user's TOTP factors now.
    Wrong,
    /// The user has no TOTP factor.
    NoFactor,
}

/// RFC 4226 HOTP of `key` at `counter`, `digits` long.
fn hotp(key: &[u8], counter: u64, digits: u32) -> u32 {
    use aws_lc_rs::hmac;
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key), &counter.to_be_bytes());
    let mac = tag.as_ref();
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let word = u32::from_be_bytes([mac[offset] & 0x7f, mac[offset + 1], mac[offset + 2], mac[offset + 3]]);
    word % 10u32.pow(digits)
}

/// Un-padded RFC 4648 Base32 (`A-Z2-7`), as `mfa_factors` give TOTP secrets.
fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u64, 0u32);
    for b in s.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'2'..=b'7' => b - b'2' + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | u64::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Checks `code` against the user's confirmed TOTP factors at `now` (Unix seconds),
/// allowing one step either side for clock drift. Every candidate is computed and compared
/// in constant time; a matching step is recorded as used in the same write that accepts
/// it, so a code (or an older one) is accepted once, by one node, ever.
pub async fn verify_totp(
    store: &Store,
    user_id: &str,
    code: &str,
    now: i64,
    now_iso: &str,
) -> Result<TotpCheck, StoreError> {
    let factors: Vec<MfaFactor> =
        store.mfa_factors(user_id).await?.into_iter().filter(|f| f.kind == FactorKind::Totp && f.confirmed).collect();
    check_factors(store, &factors, code, now, now_iso).await
}

/// [`verify_totp`] against the one factor `factor_id` of the user, confirmed or not (an
/// enrolment's first code).
pub async fn verify_totp_factor(
    store: &Store,
    user_id: &str,
    factor_id: &str,
    code: &str,
    now: i64,
    now_iso: &str,
) -> Result<TotpCheck, StoreError> {
    let factors: Vec<MfaFactor> = store
        .mfa_factors(user_id)
        .await?
        .into_iter()
        .filter(|f| f.kind == FactorKind::Totp && f.id == factor_id)
        .collect();
    check_factors(store, &factors, code, now, now_iso).await
}

async fn check_factors(
    store: &Store,
    factors: &[MfaFactor],
    code: &str,
    now: i64,
    now_iso: &str,
) -> Result<TotpCheck, StoreError> {
    use subtle::ConstantTimeEq;
    if factors.is_empty() {
        return Ok(TotpCheck::NoFactor);
    }
    let well_formed = code.len() == TOTP_DIGITS as usize && code.bytes().all(|b| b.is_ascii_digit());
    let current = now.div_euclid(TOTP_STEP_SECS);
    for factor in factors {
        let Some(key) = factor.secret.as_ref().and_then(|s| base32_decode(s.expose())) else { continue };
        let mut matched = None;
        for step in [current - 1, current, current + 1] {
            let expected = format!("{:0width$}", hotp(&key, step as u64, TOTP_DIGITS), width = TOTP_DIGITS as usize);
            let equal: bool = expected.as_bytes().ct_eq(code.as_bytes()).into();
            if equal && well_formed {
                matched = Some(step);
            }
        }
        if let Some(step) = matched {
            if factor.last_step.is_some_and(|last| last >= step) {
                return Ok(TotpCheck::Replayed);
            }
            return Ok(if store.use_totp_step(&factor.id, step, now_iso).await? {
                TotpCheck::Accepted
            } else {
                TotpCheck::Replayed
            });
        }
    }
    Ok(TotpCheck::Wrong)
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Un-padded RFC 4648 Base32, as authenticator apps take secrets.
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// A new TOTP secret: 160 random bits (RFC 4226's recommended key length), Base32.
pub fn new_secret() -> String {
    base32_encode(&rand::random::<[u8; 20]>())
}

/// The `otpauth://` URI an authenticator app scans: `issuer` and `account` label it.
pub fn otpauth_uri(secret: &str, issuer: &str, account: &str) -> String {
    let label = format!("{issuer}:{account}");
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20");
    format!(
        "otpauth://totp/{}?secret={secret}&issuer={}&algorithm=SHA1&digits={TOTP_DIGITS}&period={TOTP_STEP_SECS}",
        enc(&label),
        enc(issuer)
    )
}

/// The code of `secret` at `now`, as an authenticator app shows it (for tests and tools).
pub fn code_at(secret: &str, now: i64) -> Option<String> {
    let key = base32_decode(secret)?;
    let step = now.div_euclid(TOTP_STEP_SECS) as u64;
    Some(format!("{:0width$}", hotp(&key, step, TOTP_DIGITS), width = TOTP_DIGITS as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, the SHA-1 column (seed "12345678901234567890", 8 digits),
    /// copied here.
    #[test]
    fn rfc_6238_sha1_vectors() {
        let key = b"12345678901234567890";
        for (time, code) in [
            (59i64, 94_287_082u32),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ] {
            assert_eq!(hotp(key, (time / TOTP_STEP_SECS) as u64, 8), code, "T = {time}");
        }
    }

    #[test]
    fn base32_as_authenticator_apps_read_it() {
        assert_eq!(base32_decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").as_deref(), Some(&b"12345678901234567890"[..]));
        assert_eq!(base32_decode("JBSWY3DPEHPK3PXP").as_deref(), Some(&b"Hello!\xde\xad\xbe\xef"[..]));
        assert_eq!(base32_decode("jbswy3dp"), None);
        for len in 0..24 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(base32_decode(&base32_encode(&bytes)).as_deref(), Some(&bytes[..]), "{len}");
        }
        assert_eq!(base32_encode(b"12345678901234567890"), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(new_secret().len(), 32);
    }

    #[test]
    fn otpauth_uri_as_apps_read_it() {
        assert_eq!(
            otpauth_uri("JBSWY3DP", "Acme Co", "a@b.c"),
            "otpauth://totp/Acme%20Co%3Aa%40b.c?secret=JBSWY3DP&issuer=Acme%20Co&algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(code_at("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", 59).as_deref(), Some("287082"));
    }
}
