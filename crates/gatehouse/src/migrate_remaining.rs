//! `gatehouse migrate-remaining --connection NAME`: the second phase of a migration.
//! Bulk-imports the users of the connection's legacy store that never logged in, with
//! their legacy hashes, leaving alone those already migrated. A thin caller of
//! `gatehouse_services::legacy::migrate_remaining` (shared with the
//! `users-migrate-remaining` job).

use crate::progress::Progress;
use gatehouse_core::clock::{Clock, SystemClock};
use gatehouse_hash::Hasher;
use gatehouse_legacy::LegacyStore;
use gatehouse_migrate::ReadOptions;
use gatehouse_services::import::{error_json, read_hash_export};
use gatehouse_services::legacy::{migrate_remaining, RemainingSummary};
use gatehouse_store::Store;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, clap::Args)]
pub struct MigrateRemainingArgs {
    /// The database connection (by name) whose legacy store is read.
    #[arg(long)]
    pub connection: String,
    /// Auth0's password-hash export (the NDJSON its support sends), for an `auth0`
    /// legacy store: each user takes its hash by id, so it needs no password reset;
    /// hashes no user takes are reported as failed.
    #[arg(long)]
    pub hashes: Option<std::path::PathBuf>,
}

/// Runs the migration; the summary, or why it could not run (exit 2: unusable
/// connection; 1: a store failed).
pub async fn run(
    store: &Store,
    hasher: &Hasher,
    connection: &str,
    hashes: Option<&std::path::Path>,
    now: &str,
    progress: Progress,
) -> Result<(RemainingSummary, Vec<serde_json::Value>), (u8, String)> {
    let c = store
        .connection_by_name(connection)
        .await
        .map_err(|e| (1, e.to_string()))?
        .ok_or_else(|| (2, format!("connection {connection:?} does not exist")))?;
    let legacy = LegacyStore::from_options(&c.options, Arc::new(SystemClock))
        .map_err(|e| (2, e.to_string()))?
        .ok_or_else(|| (2, format!("connection {connection:?} has no legacy store (options.enabledDatabaseCustomization and options.legacy_store)")))?;
    if !legacy.can_list() {
        return Err((2, "the legacy store cannot list its users: configure options.legacy_store.queries.list (sql) or list_url (http)".into()));
    }
    let hashes = match hashes {
        Some(path) => Some(
            read_hash_export(path, &ReadOptions::for_connection(&c))
                .await
                .map_err(|e| (2, format!("--hashes: {e}")))?,
        ),
        None => None,
    };
    let progress = Mutex::new(progress);
    let errors = Mutex::new(Vec::new());
    let result = migrate_remaining(store, hasher, &c, &legacy, hashes.as_deref(), now, |s, page_errors| {
        if let Ok(mut p) = progress.lock() {
            // The legacy store's size is unknown: a spinner with the count so far.
            p.items(s.total, s.failed);
        }
        if let Ok(mut e) = errors.lock() {
            e.extend(page_errors.iter().map(error_json));
        }
        std::future::ready(Ok(()))
    })
    .await;
    if let Ok(mut p) = progress.lock() {
        p.finish();
    }
    let summary = result.map_err(|e| (1, e.to_string()))?;
    Ok((summary, errors.into_inner().unwrap_or_default()))
}

/// `gatehouse migrate-remaining`: returns the exit status (0 done, 3 some users failed
/// validation, 2 unusable connection, 1 failure).
pub async fn main(config: crate::config::Config, args: MigrateRemainingArgs) -> u8 {
    let store = match crate::serve::open_store_with_defaults(&config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("gatehouse migrate-remaining: {e:#}");
            return 1;
        }
    };
    let hasher = Hasher::new(config.argon2, config.limits.clone());
    let now = gatehouse_core::clock::iso8601(SystemClock.now());
    let result =
        run(&store, &hasher, &args.connection, args.hashes.as_deref(), &now, Progress::for_stderr("legacy users"))
            .await;
    store.close().await;
    match result {
        Ok((s, errors)) => {
            eprintln!(
                "migrate-remaining of {:?}: {} legacy users, {} imported, {} already in Gatehouse, {} failed",
                args.connection, s.total, s.inserted, s.skipped, s.failed
            );
            for e in errors.iter().take(20) {
                eprintln!("  {e}");
            }
            if s.failed > 0 {
                3
            } else {
                0
            }
        }
        Err((code, message)) => {
            eprintln!("gatehouse migrate-remaining: {message}");
            code
        }
    }
}
