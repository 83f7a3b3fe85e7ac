//! The application's side of the code flow: its callback, its PKCE pair, the
//! `/authorize` request it sends, and reading the tokens it gets.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Every test application's redirect URI.
pub const CALLBACK: &str = "http://app.test/callback";
/// The PKCE verifier of RFC 7636's example, and its S256 challenge.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// `authorize?…` for a code flow with PKCE to [`CALLBACK`], with `params` (scope, state,
/// nonce, connection…) after the fixed ones.
pub fn authorize_path(client_id: &str, params: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("client_id", client_id).append_pair("redirect_uri", CALLBACK).append_pair("response_type", "code");
    for (k, v) in params {
        q.append_pair(k, v);
    }
    q.append_pair("code_challenge", CHALLENGE).append_pair("code_challenge_method", "S256");
    format!("authorize?{}", q.finish())
}

/// A JWT's claims, unverified.
pub fn jwt_claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// The S256 PKCE challenge of `verifier`.
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}
