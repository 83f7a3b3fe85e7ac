//! Firebase Authentication's modified scrypt: scrypt(password, salt ‖ salt_separator,
//! N = 2^mem_cost, r = rounds, p = 1, 64 bytes); the first 32 bytes key AES-256-CTR
//! (zero IV) which encrypts the project's signer key; the ciphertext is the stored hash.

use aes::cipher::{KeyIvInit, StreamCipher};

use crate::encoding::ct_eq;

type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FirebaseHash {
    pub(crate) log_n: u8,
    pub(crate) r: u32,
    /// salt ‖ salt_separator
    pub(crate) salt: Vec<u8>,
    pub(crate) signer_key: Vec<u8>,
    pub(crate) hash: Vec<u8>,
}

impl FirebaseHash {
    pub(crate) fn verify(&self, password: &[u8]) -> bool {
        let Some(derived) = super::scrypt::derive(self.log_n, self.r, 1, password, &self.salt, 64) else {
            return false;
        };
        let Ok(mut cipher) = Aes256Ctr::new_from_slices(&derived[..32], &[0u8; 16]) else {
            return false;
        };
        let mut buf = self.signer_key.clone();
        cipher.apply_keystream(&mut buf);
        ct_eq(&buf, &self.hash)
    }
}
