//! ID token checks (OpenID Connect Core §3.1.3.7), all of them, before any claim is
//! believed: an asymmetric algorithm from the whitelist (never `none`, never HMAC),
//! the signature under the provider's key named by `kid`, `iss`, `aud` (and `azp` when
//! there are several audiences), `nonce`, and `exp`/`iat`/`nbf` against the server's
//! clock with a small leeway.

use crate::secrets::ct_eq;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use std::str::FromStr;

/// Clock skew tolerated on `exp`, `iat` and `nbf`.
pub const LEEWAY_SECS: i64 = 60;
/// Signature algorithms accepted from providers.
const ALGORITHMS: &[&str] = &["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"];

/// What the token must say.
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    /// Unix seconds, from the server's clock.
    pub now: i64,
}

/// The parts of the header the key lookup needs.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenHeader {
    pub alg: Algorithm,
    pub kid: Option<String>,
}

/// Reads the header and refuses any algorithm off the whitelist.
pub fn header(token: &str) -> Result<TokenHeader, String> {
    let mut parts = token.split('.');
    let (Some(h), Some(_), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err("not a signed JWT (three parts expected)".into());
    };
    let bytes = URL_SAFE_NO_PAD.decode(h).map_err(|_| "the header is not base64url")?;
    let json: Map<String, Value> = serde_json::from_slice(&bytes).map_err(|_| "the header is not a JSON object")?;
    let alg = json.get("alg").and_then(Value::as_str).ok_or("the header has no alg")?;
    if !ALGORITHMS.contains(&alg) {
        return Err(format!("alg {alg:?} is not allowed"));
    }
    let alg = Algorithm::from_str(alg).map_err(|_| format!("alg {alg:?} is not allowed"))?;
    let kid = json.get("kid").and_then(Value::as_str).map(str::to_string);
    Ok(TokenHeader { alg, kid })
}

/// The key among `keys` that may verify a token with this header: the one named by
/// `kid` (or the only signing key when the token names none), whose own `alg` and
/// `use`, when given, agree.
pub fn select_key<'k>(h: &TokenHeader, keys: &'k [Jwk]) -> Result<&'k Jwk, String> {
    let usable = |k: &&Jwk| {
        !matches!(k.common.public_key_use, Some(PublicKeyUse::Encryption))
            && k.common.key_algorithm.is_none_or(|a| key_alg_matches(a, h.alg))
    };
    let candidates: Vec<&Jwk> = match &h.kid {
        Some(kid) => keys.iter().filter(|k| k.common.key_id.as_deref() == Some(kid.as_str())).filter(usable).collect(),
        None => keys.iter().filter(usable).collect(),
    };
    match candidates.as_slice() {
        [one] => Ok(one),
        [] => Err(match &h.kid {
            Some(kid) => format!("no key {kid:?} in the provider's JWKS"),
            None => "no usable key in the provider's JWKS".into(),
        }),
        _ => Err("the token names no kid and the JWKS has several keys".into()),
    }
}

fn key_alg_matches(k: KeyAlgorithm, alg: Algorithm) -> bool {
    format!("{k:?}") == format!("{alg:?}")
}

/// Verifies the signature and every claim; returns the claims.
pub fn verify(token: &str, h: &TokenHeader, key: &Jwk, e: &Expected<'_>) -> Result<Map<String, Value>, String> {
    let decoding = DecodingKey::from_jwk(key).map_err(|err| format!("the provider's key is unusable: {err}"))?;
    let mut v = Validation::new(h.alg);
    // Time and audience are checked below, against the server's clock and our rules.
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, &decoding, &v).map_err(|err| match err.kind() {
        jsonwebtoken::errors::ErrorKind::InvalidSignature => "bad signature".to_string(),
        jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => "the key does not fit the token's alg".to_string(),
        other => format!("undecodable token: {other:?}"),
    })?;
    check_claims(&data.claims, e)?;
    Ok(data.claims)
}

/// The claim rules, separately from the signature (tests call it directly).
pub fn check_claims(c: &Map<String, Value>, e: &Expected<'_>) -> Result<(), String> {
    if c.get("iss").and_then(Value::as_str) != Some(e.issuer) {
        return Err("wrong issuer".into());
    }
    let audiences: Vec<&str> = match c.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences.contains(&e.client_id) {
        return Err("wrong audience".into());
    }
    let azp = c.get("azp").and_then(Value::as_str);
    if (audiences.len() > 1 && azp.is_none()) || azp.is_some_and(|a| a != e.client_id) {
        return Err("wrong or missing azp".into());
    }
    let number = |k: &str| c.get(k).and_then(Value::as_i64);
    let exp = number("exp").ok_or("no exp")?;
    if e.now > exp + LEEWAY_SECS {
        return Err("expired".into());
    }
    let iat = number("iat").ok_or("no iat")?;
    if iat > e.now + LEEWAY_SECS {
        return Err("issued in the future".into());
    }
    if number("nbf").is_some_and(|nbf| nbf > e.now + LEEWAY_SECS) {
        return Err("not valid yet".into());
    }
    match c.get("nonce").and_then(Value::as_str) {
        Some(n) if ct_eq(n, e.nonce) => {}
        _ => return Err("wrong or missing nonce".into()),
    }
    if c.get("sub").and_then(Value::as_str).is_none_or(str::is_empty) {
        return Err("no sub".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn expected() -> Expected<'static> {
        Expected { issuer: "https://idp", client_id: "c1", nonce: "n", now: 1000 }
    }

    fn good() -> Value {
        json!({"iss": "https://idp", "aud": "c1", "exp": 1100, "iat": 990, "nonce": "n", "sub": "s"})
    }

    fn with(k: &str, v: Value) -> Map<String, Value> {
        let mut c = claims(good());
        if v.is_null() {
            c.remove(k);
        } else {
            c.insert(k.into(), v);
        }
        c
    }

    #[test]
    fn claim_rules() {
        assert_eq!(check_claims(&claims(good()), &expected()), Ok(()));
        let e = expected();
        let reject = |c: Map<String, Value>| check_claims(&c, &e).err().unwrap_or_default();
        assert_eq!(reject(with("iss", json!("https://evil"))), "wrong issuer");
        assert_eq!(reject(with("aud", json!("other"))), "wrong audience");
        assert_eq!(reject(with("aud", json!(["c1", "other"]))), "wrong or missing azp");
        assert_eq!(
            check_claims(
                &{
                    let mut c = with("aud", json!(["c1", "other"]));
                    c.insert("azp".into(), json!("c1"));
                    c
                },
                &e
            ),
            Ok(())
        );
        assert_eq!(reject(with("azp", json!("other"))), "wrong or missing azp");
        assert_eq!(reject(with("exp", json!(1000 - LEEWAY_SECS - 1))), "expired");
        assert_eq!(check_claims(&with("exp", json!(1000 - LEEWAY_SECS)), &e), Ok(()), "within the leeway");
        assert_eq!(reject(with("exp", Value::Null)), "no exp");
        assert_eq!(reject(with("iat", json!(1000 + LEEWAY_SECS + 1))), "issued in the future");
        assert_eq!(reject(with("nbf", json!(1000 + LEEWAY_SECS + 1))), "not valid yet");
        assert_eq!(reject(with("nonce", json!("m"))), "wrong or missing nonce");
        assert_eq!(reject(with("nonce", Value::Null)), "wrong or missing nonce");
        assert_eq!(reject(with("sub", json!(""))), "no sub");
    }

    #[test]
    fn headers_off_the_whitelist_are_refused() {
        let token = |h: Value| format!("{}.e30.sig", URL_SAFE_NO_PAD.encode(h.to_string()));
        assert!(header(&token(json!({"alg": "none"}))).is_err_and(|e| e.contains("\"none\"")));
        assert!(header(&token(json!({"alg": "HS256"}))).is_err_and(|e| e.contains("HS256")));
        assert!(header("a.b").is_err());
        let h = header(&token(json!({"alg": "RS256", "kid": "k1"})));
        assert_eq!(h, Ok(TokenHeader { alg: Algorithm::RS256, kid: Some("k1".into()) }));
    }
}
