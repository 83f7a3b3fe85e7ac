//! `gatehouse import-mfa-secrets`: Auth0's MFA-secrets export (NDJSON, a user's
//! `mfa_factors` a line) onto the users of a database connection already imported, with a
//! summary at the end and, with `--report FILE`, every failed line as JSON.

use crate::import::{database_connection, Failure};
use gatehouse_core::clock::{Clock, SystemClock};
use gatehouse_services::import::error_json;
use gatehouse_services::mfa::{import_mfa_secrets, MfaImportError, MfaImportSummary};
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct ImportMfaArgs {
    /// The MFA-secrets file (NDJSON).
    pub file: PathBuf,
    /// The database connection (by name) whose users the lines name.
    #[arg(long)]
    pub connection: String,
    /// Write the summary and every failed line as JSON to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,
}

/// Runs the import: the summary and the failed lines, or why it could not run.
pub async fn run(
    store: &gatehouse_store::Store,
    args: &ImportMfaArgs,
) -> Result<(MfaImportSummary, Vec<gatehouse_migrate::RecordError>), Failure> {
    let connection = database_connection(store, &args.connection).await?;
    let now = gatehouse_core::clock::iso8601(SystemClock.now());
    let mut errors = Vec::new();
    let summary = import_mfa_secrets(store, &connection, &args.file, &now, &mut errors).await.map_err(|e| match e {
        MfaImportError::UnusableFile(m) => Failure::Unusable(m),
        MfaImportError::Store(e) => Failure::Other(anyhow::anyhow!("the store failed: {e}")),
    })?;
    Ok((summary, errors))
}

/// `gatehouse import-mfa-secrets`: the exit status (0 all stored, 3 some lines failed,
/// 2 unusable input, 1 failure).
pub async fn main(config: crate::config::Config, args: ImportMfaArgs) -> u8 {
    let store = match crate::serve::open_store_with_defaults(&config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("gatehouse import-mfa-secrets: {e:#}");
            return 1;
        }
    };
    let result = run(&store, &args).await;
    store.close().await;
    let (summary, errors) = match result {
        Ok(r) => r,
        Err(Failure::Unusable(m)) => {
            eprintln!("gatehouse import-mfa-secrets: {m}");
            return 2;
        }
        Err(Failure::Other(e)) => {
            eprintln!("gatehouse import-mfa-secrets: {e:#}");
            return 1;
        }
    };
    eprintln!(
        "{} lines: {} users gained {} factors, {} lines failed",
        summary.total, summary.updated, summary.factors, summary.failed
    );
    for e in errors.iter().take(crate::import::SHOWN_ERRORS) {
        let what: Vec<String> = e.errors.iter().map(|f| format!("{}: {}", f.path, f.message)).collect();
        eprintln!("  line {}: {}", e.index, what.join("; "));
    }
    if let Some(path) = &args.report {
        let report = serde_json::json!({
            "errors": errors.iter().map(error_json).collect::<Vec<_>>(),
            "summary": summary,
        });
        if let Err(e) = std::fs::write(path, format!("{report}\n")) {
            eprintln!("gatehouse import-mfa-secrets: --report: cannot write {}: {e}", path.display());
            return 1;
        }
    }
    if summary.failed > 0 {
        3
    } else {
        0
    }
}
