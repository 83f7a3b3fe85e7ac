//! Exporting users, end to end and without HTTP: a keyset scan of the store feeding
//! gatehouse-migrate's writers on a blocking thread. The `users-exports` job and
//! `gatehouse export` are both thin callers of [`export_users`]. Memory stays constant
//! whatever the number of users. Asked for the `roles` field, it reads each page's role
//! names with one more query, and asked for MFA factors, each page's factors likewise.

use gatehouse_hash::Hasher;
use gatehouse_migrate::{
    exports_roles, write_export, ExportError, ExportField, ExportFormat, ExportOptions, UserWithRoles,
};
use gatehouse_store::{Store, StoreError};
use std::io::Write;
use std::sync::Arc;

/// Users read from the store per query.
const PAGE: u32 = 2_000;

#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// `None`: every connection.
    pub connection_id: Option<String>,
    pub format: ExportFormat,
    pub fields: Option<Vec<ExportField>>,
    /// Hashes exactly as imported, so the file re-imports elsewhere (admin only).
    pub include_password_hashes: bool,
    /// Users' MFA factors with their TOTP secrets, opened (admin only, asked explicitly).
    pub include_mfa_factors: bool,
    pub limit: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportFailure {
    #[error("the store failed: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Write(#[from] ExportError),
    #[error("the export was interrupted: {0}")]
    Interrupted(String),
}

/// Writes the users `req` selects to `out`; returns how many were written.
pub async fn export_users<W: Write + Send + 'static>(
    store: &Store,
    hasher: Arc<Hasher>,
    req: ExportRequest,
    out: W,
) -> Result<u64, ExportFailure> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<UserWithRoles>>(2);
    let with_roles = exports_roles(req.fields.as_deref());
    let writer_req = req.clone();
    let writer = tokio::task::spawn_blocking(move || {
        let opts = ExportOptions {
            format: writer_req.format,
            fields: writer_req.fields.as_deref(),
            include_password_hashes: writer_req.include_password_hashes,
            include_mfa_factors: writer_req.include_mfa_factors,
        };
        write_export(&opts, &hasher, std::iter::from_fn(move || rx.blocking_recv()).flatten(), out)
    });
    let mut after: Option<String> = None;
    let mut remaining = req.limit.unwrap_or(u64::MAX);
    while remaining > 0 {
        let page = u32::try_from(remaining.min(u64::from(PAGE))).unwrap_or(PAGE);
        let users = store.users_after_bulk(req.connection_id.as_deref(), after.as_deref(), page).await?;
        let Some(last) = users.last() else { break };
        let mut factors = std::collections::HashMap::<String, Vec<serde_json::Value>>::new();
        if req.include_mfa_factors {
            for f in store.mfa_factors_between(after.as_deref().unwrap_or(""), &last.user_id).await? {
                if let Some(item) = f.to_import_item() {
                    factors.entry(f.user_id.clone()).or_default().push(item);
                }
            }
        }
        after = Some(last.user_id.clone());
        remaining -= users.len() as u64;
        let full = users.len() as u32 == page;
        let mut roles = if with_roles {
            let ids: Vec<String> = users.iter().map(|u| u.user_id.clone()).collect();
            store.role_names_of_users(&ids).await?
        } else {
            Default::default()
        };
        let records = users
            .into_iter()
            .map(|user| UserWithRoles {
                roles: roles.remove(&user.user_id).unwrap_or_default(),
                mfa_factors: factors.remove(&user.user_id).unwrap_or_default(),
                user,
            })
            .collect();
        if tx.send(records).await.is_err() {
            break; // the writer failed; its error is reported below
        }
        if !full {
            break;
        }
    }
    drop(tx);
    let written = writer.await.map_err(|e| ExportFailure::Interrupted(e.to_string()))??;
    Ok(written)
}
