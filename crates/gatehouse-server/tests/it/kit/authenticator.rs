//! A software WebAuthn authenticator for the tests, written from the specification
//! (WebAuthn Level 2 §6.1 authenticator data, §6.5.4 the `none` attestation, §7 client
//! data; COSE key of RFC 9053) with crates the server's verifier does not use: P-256 ECDSA
//! from RustCrypto's `p256`, CBOR from `ciborium`. It answers the options the server put
//! in the page as a browser would, and each knob makes it answer as a broken or hostile
//! one would (another origin, another relying party, an old counter, a bad signature), so
//! a verifier that skipped a check fails a test.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ciborium::value::{Integer, Value as Cbor};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const UP: u8 = 0x01;
const UV: u8 = 0x04;
const AT: u8 = 0x40;

pub struct SoftAuthenticator {
    key: SigningKey,
    pub credential_id: Vec<u8>,
    /// The signature counter the next assertion carries (then incremented).
    pub counter: u32,
    /// The origin the client data names.
    pub origin: String,
    /// The relying-party id whose hash the authenticator data carries.
    pub rp_id: String,
    /// Whether the user was verified (PIN, biometrics).
    pub user_verified: bool,
    /// The user handle kept at registration (a passkey's).
    pub user_handle: Option<String>,
}

impl SoftAuthenticator {
    /// An authenticator for the issuer `issuer` (its origin, and its host as the RP id).
    pub fn new(issuer: &str) -> Self {
        let url = url::Url::parse(issuer).unwrap();
        let origin = url.origin().ascii_serialization();
        let key = SigningKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
        Self {
            key,
            credential_id: rand::random::<[u8; 32]>().to_vec(),
            counter: 1,
            origin,
            rp_id: url.host_str().unwrap().to_string(),
            user_verified: true,
            user_handle: None,
        }
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        let c = json!({"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": false});
        serde_json::to_vec(&c).unwrap()
    }

    fn flags(&self) -> u8 {
        if self.user_verified {
            UP | UV
        } else {
            UP
        }
    }

    /// The COSE_Key of the public key: EC2 (1), ES256 (-7), P-256 (1), x, y.
    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.verifying_key().to_encoded_point(false);
        let int = |i: i64| Cbor::Integer(Integer::from(i));
        let map = Cbor::Map(vec![
            (int(1), int(2)),
            (int(3), int(-7)),
            (int(-1), int(1)),
            (int(-2), Cbor::Bytes(point.x().unwrap().to_vec())),
            (int(-3), Cbor::Bytes(point.y().unwrap().to_vec())),
        ]);
        let mut out = Vec::new();
        ciborium::into_writer(&map, &mut out).unwrap();
        out
    }

    /// `navigator.credentials.create` for `options` (the server's JSON): the credential
    /// as the page's script posts it.
    pub fn create(&mut self, options: &Value) -> Value {
        let pk = &options["publicKey"];
        let challenge = pk["challenge"].as_str().unwrap();
        self.user_handle = pk["user"]["id"].as_str().map(str::to_string);
        let client_data = self.client_data("webauthn.create", challenge);
        let mut auth_data = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        auth_data.push(self.flags() | AT);
        auth_data.extend_from_slice(&0u32.to_be_bytes());
        auth_data.extend_from_slice(&[0u8; 16]); // AAGUID
        auth_data.extend_from_slice(&(self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&self.credential_id);
        auth_data.extend_from_slice(&self.cose_key());
        let attestation = Cbor::Map(vec![
            (Cbor::Text("fmt".into()), Cbor::Text("none".into())),
            (Cbor::Text("attStmt".into()), Cbor::Map(vec![])),
            (Cbor::Text("authData".into()), Cbor::Bytes(auth_data)),
        ]);
        let mut attestation_object = Vec::new();
        ciborium::into_writer(&attestation, &mut attestation_object).unwrap();
        let id = URL_SAFE_NO_PAD.encode(&self.credential_id);
        json!({
            "id": id, "rawId": id, "type": "public-key", "extensions": {},
            "response": {
                "attestationObject": URL_SAFE_NO_PAD.encode(attestation_object),
                "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data),
                "transports": ["usb"],
            },
        })
    }

    /// `navigator.credentials.get` for `options`: the assertion as the page's script
    /// posts it, signed over the authenticator data and the client data's hash.
    pub fn get(&mut self, options: &Value) -> Value {
        let challenge = options["publicKey"]["challenge"].as_str().unwrap();
        let client_data = self.client_data("webauthn.get", challenge);
        let mut auth_data = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        auth_data.push(self.flags());
        auth_data.extend_from_slice(&self.counter.to_be_bytes());
        self.counter += 1;
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(&client_data));
        let signature: Signature = self.key.sign(&signed);
        let id = URL_SAFE_NO_PAD.encode(&self.credential_id);
        json!({
            "id": id, "rawId": id, "type": "public-key", "extensions": {},
            "response": {
                "authenticatorData": URL_SAFE_NO_PAD.encode(auth_data),
                "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data),
                "signature": URL_SAFE_NO_PAD.encode(signature.to_der().as_bytes()),
                "userHandle": self.user_handle,
            },
        })
    }
}

/// `answer` with its signature's last byte changed.
pub fn tampered_signature(answer: &Value) -> Value {
    let mut a = answer.clone();
    let mut sig = URL_SAFE_NO_PAD.decode(a["response"]["signature"].as_str().unwrap()).unwrap();
    let last = sig.len() - 1;
    sig[last] ^= 0x01;
    a["response"]["signature"] = json!(URL_SAFE_NO_PAD.encode(sig));
    a
}
