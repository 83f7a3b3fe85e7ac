//! Second factors: Auth0's MFA-secrets export brought onto users already imported
//! ([`import_mfa_secrets`]; the factors that come with an import record are stored by
//! `import`), the TOTP check ([`totp`], RFC 6238, single use), the tenant's Guardian
//! settings ([`settings`]) and the second step of a login ([`challenge`]: who needs one,
//! the waiting login, codes, enrolment, recovery codes, remembered browsers), and WebAuthn
//! security keys and platform authenticators ([`webauthn`]). Secrets are sealed by the store.

pub mod challenge;
pub mod settings;
pub mod totp;
pub mod webauthn;

pub use totp::{verify_totp, TotpCheck, TOTP_STEP_SECS};

use gatehouse_core::connection::Connection;
use gatehouse_core::mfa::MfaFactor;
use gatehouse_migrate::{FactorsOwner, FactorsRecord, FieldError, FileError, MfaSecretsReader, RecordError};
use gatehouse_store::{Store, StoreError};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io::BufReader;
use std::path::Path;

/// Lines handled per write.
const BATCH: usize = 1_000;

/// What an MFA-secrets import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MfaImportSummary {
    /// Lines read.
    pub total: u64,
    /// Users that gained at least one factor.
    pub updated: u64,
    /// Factors stored (a factor the user has already, same kind and secret or value, is
    /// not stored twice).
    pub factors: u64,
    pub failed: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum MfaImportError {
    /// The file cannot be used: nothing after `0`'s position was read.
    #[error("the file is not valid: {0}")]
    UnusableFile(String),
    #[error("the store failed: {0}")]
    Store(#[from] StoreError),
}

/// Reads the MFA-secrets file at `path` and gives each named user of `connection` the
/// factors of its line. Lines that name no user of the connection, or carry a bad factor,
/// are reported in `errors` (index, field, reason, secrets masked); the others are stored.
/// A file that stops being JSON ends the import there, with what came before it kept.
pub async fn import_mfa_secrets(
    store: &Store,
    connection: &Connection,
    path: &Path,
    now: &str,
    errors: &mut Vec<RecordError>,
) -> Result<MfaImportSummary, MfaImportError> {
    let file = std::fs::File::open(path)
        .map_err(|e| MfaImportError::UnusableFile(format!("cannot open {}: {e}", path.display())))?;
    // Factor ids derive from the file's identity and the line, so importing the same file
    // again (after a failure) stores nothing twice.
    let seed = format!("{}:{}", path.display(), std::fs::metadata(path).map(|m| m.len()).unwrap_or(0));
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Vec<Result<FactorsRecord, RecordError>>, FileError>>(2);
    let reader = tokio::task::spawn_blocking(move || {
        let mut batch = Vec::with_capacity(BATCH);
        for item in MfaSecretsReader::new(BufReader::with_capacity(1 << 20, file), 1 << 20) {
            match item {
                Ok(record) => batch.push(record),
                Err(e) => {
                    let _ = tx.blocking_send(Ok(std::mem::take(&mut batch)));
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
            if batch.len() == BATCH
                && tx.blocking_send(Ok(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))).is_err()
            {
                return;
            }
        }
        let _ = tx.blocking_send(Ok(batch));
    });
    let mut summary = MfaImportSummary::default();
    let mut stopped = None;
    while let Some(batch) = rx.recv().await {
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                stopped = Some(e);
                break;
            }
        };
        let mut factors = Vec::new();
        for record in batch {
            summary.total += 1;
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    summary.failed += 1;
                    errors.push(e);
                    continue;
                }
            };
            let user = match &record.owner {
                FactorsOwner::UserId(id) => store.user(id).await?.filter(|u| u.connection_id == connection.id),
                FactorsOwner::Email(email) => store.user_by_login(&connection.id, email).await?,
            };
            let Some(user) = user else {
                summary.failed += 1;
                let (path, what) = match &record.owner {
                    FactorsOwner::UserId(id) => ("user_id", id.clone()),
                    FactorsOwner::Email(email) => ("email", email.clone()),
                };
                let line = serde_json::json!({path: what, "mfa_factors": record.factors});
                let e = FieldError::new("USER_NOT_FOUND", path, format!("no user {what} in {}", connection.name));
                errors.push(RecordError::new(record.index, &line, vec![e]));
                continue;
            };
            let kept = store.mfa_factors(&user.user_id).await?;
            let new: Vec<MfaFactor> = record
                .factors
                .iter()
                .enumerate()
                .filter_map(|(i, item)| {
                    let id = factor_id(&seed, record.index, i, item);
                    MfaFactor::from_import_item(item, id, &user.user_id, now, i as i64)
                })
                .filter(|f| !kept.iter().any(|k| k.same_as(f)))
                .collect();
            if !new.is_empty() {
                summary.updated += 1;
            }
            factors.extend(new);
        }
        summary.factors += store.insert_mfa_factors(&factors).await?;
    }
    reader.await.map_err(|e| MfaImportError::UnusableFile(format!("the reader stopped: {e}")))?;
    match stopped {
        Some(e) => {
            Err(MfaImportError::UnusableFile(format!("{e} (the {} lines before it were imported)", summary.total)))
        }
        None => Ok(summary),
    }
}

/// `<kind>|dev_<24 hex>`, a function of the import (`seed`), the line and the item.
pub fn factor_id(seed: &str, index: u64, item_index: usize, item: &serde_json::Value) -> String {
    let digest = Sha256::new()
        .chain_update(seed.as_bytes())
        .chain_update(index.to_be_bytes())
        .chain_update((item_index as u64).to_be_bytes())
        .finalize();
    let kind = item.as_object().and_then(|m| m.keys().next()).map(String::as_str).unwrap_or("factor");
    format!("{kind}|dev_{}", hex::encode(&digest[..12]))
}
