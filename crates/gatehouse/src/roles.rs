//! `gatehouse roles import`: gives many users roles from an NDJSON file, straight into the
//! store. Exit status: 0 every line applied, 3 some lines failed (the others are in),
//! 2 unusable input (nothing written), 1 another failure.

use gatehouse_core::clock::{iso8601, Clock, SystemClock};
use gatehouse_services::authorization::assign_roles_from_file;
use std::io::BufReader;
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct RolesImportArgs {
    /// NDJSON, one user a line: {"user_id": "auth0|…", "roles": ["Admin", …]}, or
    /// "email" (with "connection" where several connections have it) instead of user_id.
    /// Roles are named by name or id.
    pub file: PathBuf,
    /// Create the roles the file names that do not exist yet, instead of failing the line.
    #[arg(long)]
    pub create_missing_roles: bool,
}

pub async fn main(config: crate::config::Config, args: RolesImportArgs) -> u8 {
    let file = match std::fs::File::open(&args.file) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("gatehouse roles import: cannot read {}: {e}", args.file.display());
            return 2;
        }
    };
    let store = match crate::serve::open_store_with_defaults(&config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("gatehouse roles import: {e:#}");
            return 1;
        }
    };
    let now = iso8601(SystemClock.now());
    let result = assign_roles_from_file(&store, BufReader::new(file), &now, args.create_missing_roles).await;
    store.close().await;
    match result {
        Ok(report) => {
            for f in &report.failures {
                let user = f.user.as_deref().map(|u| format!(" user {u}:")).unwrap_or_default();
                eprintln!("line {}:{user} {}", f.line, f.reason);
            }
            eprintln!(
                "gave {} users {} roles; {} lines failed",
                report.users,
                report.assignments,
                report.failures.len()
            );
            if report.failures.is_empty() {
                0
            } else {
                3
            }
        }
        Err(e) => {
            eprintln!("gatehouse roles import: {e}");
            1
        }
    }
}
