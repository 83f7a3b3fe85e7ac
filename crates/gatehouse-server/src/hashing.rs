//! Password hashing off the async runtime, on a bounded number of threads, so a burst of
//! logins or creates never starves other requests.

use gatehouse_hash::{HashError, Hasher, PasswordHash};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

#[derive(Clone, Debug)]
pub struct HashPool {
    hasher: Arc<Hasher>,
    permits: Arc<Semaphore>,
}

#[derive(Debug, thiserror::Error)]
pub enum HashPoolError {
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error("hashing task failed: {0}")]
    Task(String),
}

impl HashPool {
    /// At most `concurrency` hashes run at once; the rest wait their turn.
    pub fn new(hasher: Hasher, concurrency: usize) -> Self {
        Self { hasher: Arc::new(hasher), permits: Arc::new(Semaphore::new(concurrency.max(1))) }
    }

    pub fn hasher(&self) -> &Hasher {
        &self.hasher
    }

    async fn run<T: Send + 'static>(&self, f: impl FnOnce(&Hasher) -> T + Send + 'static) -> Result<T, HashPoolError> {
        let _permit = self.permits.acquire().await.map_err(|e| HashPoolError::Task(e.to_string()))?;
        let hasher = self.hasher.clone();
        tokio::task::spawn_blocking(move || f(&hasher)).await.map_err(|e| HashPoolError::Task(e.to_string()))
    }

    /// Hashes a new password (argon2id) into its stored form.
    pub async fn hash(&self, password: String) -> Result<String, HashPoolError> {
        Ok(self.run(move |h| h.hash(&password).map(|p| p.to_stored())).await??)
    }

    /// Verifies a password against a stored hash; `None` as the hash still costs one
    /// verify, so unknown users take as long as known ones.
    pub async fn verify(&self, stored: Option<PasswordHash>, password: String) -> Result<bool, HashPoolError> {
        self.run(move |h| match stored {
            Some(hash) => h.verify(&hash, &password),
            None => {
                h.dummy_verify(&password);
                false
            }
        })
        .await
    }
}

/// Client secrets are 64 random alphanumerics (≈ 380 bits), so a single SHA-256 is a
/// sufficient one-way function; a slow hash would only slow every token request.
pub fn hash_client_secret(secret: &str) -> String {
    format!("sha256${}", hex::encode(Sha256::digest(secret.as_bytes())))
}

pub fn verify_client_secret(stored: &str, presented: &str) -> bool {
    let expected = hash_client_secret(presented);
    stored.as_bytes().ct_eq(expected.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_secret_round_trip() {
        let stored = hash_client_secret("s3cret");
        assert!(!stored.contains("s3cret"));
        assert!(verify_client_secret(&stored, "s3cret"));
        assert!(!verify_client_secret(&stored, "s3cret "));
    }
}
