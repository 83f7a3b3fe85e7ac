//! WebAuthn answers as the hosted pages receive them, checked by the relying party exactly
//! as Gatehouse configures it (`gatehouse_services::mfa::webauthn::relying_party_for`):
//! arbitrary bytes as the authenticator's attestation object (CBOR, COSE key, attestation
//! statement) and authenticator data under well-formed client data for the live
//! challenge, and arbitrary JSON as the whole posted credential. Nothing may panic, and
//! nothing built from bytes alone may pass.
#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use gatehouse_services::mfa::webauthn::{relying_party_for, user_handle};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential};

const ISSUER: &str = "https://login.example.com/";

fn client_data(kind: &str, challenge: &Value) -> String {
    let c = json!({"type": kind, "challenge": challenge, "origin": "https://login.example.com", "crossOrigin": false});
    URL_SAFE_NO_PAD.encode(c.to_string())
}

fuzz_target!(|data: &[u8]| {
    let Some(rp) = relying_party_for(ISSUER, "Fuzz") else { return };
    let Some((&mode, rest)) = data.split_first() else { return };
    let user = user_handle("auth0|fuzz");
    let id = URL_SAFE_NO_PAD.encode(b"credential");
    match mode % 4 {
        // The attestation object of a security key's and of a passkey's registration.
        0 | 1 => {
            let (options, passkey_state, key_state) = if mode % 4 == 0 {
                let Ok((ccr, st)) = rp.start_securitykey_registration(user, "f", "F", None, None, None) else { return };
                (serde_json::to_value(ccr).unwrap_or_default(), None, Some(st))
            } else {
                let Ok((ccr, st)) = rp.start_passkey_registration(user, "f", "F", None) else { return };
                (serde_json::to_value(ccr).unwrap_or_default(), Some(st), None)
            };
            let answer = json!({
                "id": id, "rawId": id, "type": "public-key", "extensions": {},
                "response": {
                    "attestationObject": URL_SAFE_NO_PAD.encode(rest),
                    "clientDataJSON": client_data("webauthn.create", &options["publicKey"]["challenge"]),
                },
            });
            let Ok(answer) = serde_json::from_value::<RegisterPublicKeyCredential>(answer) else { return };
            if let Some(st) = key_state {
                let _ = rp.finish_securitykey_registration(&answer, &st);
            }
            if let Some(st) = passkey_state {
                let _ = rp.finish_passkey_registration(&answer, &st);
            }
        }
        // A whole posted registration, as JSON.
        2 => {
            let Ok((_, st)) = rp.start_securitykey_registration(user, "f", "F", None, None, None) else { return };
            if let Ok(answer) = serde_json::from_slice::<RegisterPublicKeyCredential>(rest) {
                assert!(rp.finish_securitykey_registration(&answer, &st).is_err(), "a guessed answer passed");
            }
        }
        // A posted assertion, as JSON, for a discoverable-credential challenge: parsed
        // and its user handle read as the passkey sign-in reads it.
        _ => {
            if let Ok(answer) = serde_json::from_slice::<PublicKeyCredential>(rest) {
                let _ = rp.identify_discoverable_authentication(&answer);
                let _ = answer.get_credential_id();
            }
        }
    }
});
