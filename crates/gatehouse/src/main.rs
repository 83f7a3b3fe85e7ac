//! The `gatehouse` command: `serve` runs the server; `keys rotate` rotates the token
//! signing key; `secrets rotate` re-seals stored secrets under the newest key-encryption
//! key; `import` and `export` move users in and out straight on the store (and
//! `import-mfa-secrets` their factors);
//! `migrate-remaining` bulk-imports a legacy store's users who never logged in;
//! `bench` holds the Rust parts of the benchmarks.

mod bench;
mod config;
mod export;
mod import;
mod import_mfa;
mod migrate_remaining;
mod progress;
mod roles;
mod serve;
mod tls;

use clap::{Parser, Subcommand};
use config::Overrides;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "gatehouse", version, about = "Self-hosted consumer identity server speaking Auth0's dialect")]
struct Cli {
    /// Configuration file (default: ./gatehouse.toml when present; env GATEHOUSE_CONFIG).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://… (env GATEHOUSE_DATABASE_URL).
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server until SIGTERM or Ctrl-C.
    Serve {
        /// Address to listen on, host:port (env GATEHOUSE_LISTEN; default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Token signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The keys that seal secrets at rest (`secrets.keys`).
    Secrets {
        #[command(subcommand)]
        command: SecretsCommand,
    },
    /// Import a file of users into a database connection, straight into the store.
    /// Exit status: 0 all imported, 3 some records failed (the good ones are in),
    /// 2 unusable input (nothing written).
    Import(import::ImportArgs),
    /// Give users already imported the MFA factors of Auth0's MFA-secrets export (NDJSON,
    /// a user's `mfa_factors` a line). Exit status: 0 all stored, 3 some lines failed (the
    /// good ones are in), 2 unusable input.
    ImportMfaSecrets(import_mfa::ImportMfaArgs),
    /// Export a connection's users (NDJSON, CSV or a JSON array) to stdout or a file.
    Export(export::ExportArgs),
    /// Bulk-import the users of a connection's legacy store that have not migrated yet
    /// (with their legacy hashes); users already in Gatehouse are left alone.
    /// Exit status: 0 done, 3 some users failed validation, 2 unusable connection.
    MigrateRemaining(migrate_remaining::MigrateRemainingArgs),
    /// Roles in bulk.
    Roles {
        #[command(subcommand)]
        command: RolesCommand,
    },
    /// Benchmark helpers (see scripts/bench-import).
    Bench {
        #[command(subcommand)]
        command: bench::BenchCommand,
    },
}

#[derive(Debug, Subcommand)]
enum RolesCommand {
    /// Give users roles from an NDJSON file ({"user_id" or "email", "roles": [names]} a
    /// line). Exit status: 0 all applied, 3 some lines failed (the good ones are in),
    /// 2 unreadable file.
    Import(roles::RolesImportArgs),
}

#[derive(Debug, Subcommand)]
enum SecretsCommand {
    /// Re-seal every stored secret under the first key of secrets.keys (run after adding a
    /// new key first; then the older keys can be removed).
    Rotate,
    /// Print a fresh key entry (ID:BASE64) for secrets.keys.
    GenerateKey {
        /// The key's id (default: k + today's date).
        #[arg(long)]
        id: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Make a new signing key current; the old one stays published until its tokens expire.
    Rotate,
}

/// The import pipeline allocates on its reader and validator threads and frees on the
/// writer's; glibc's malloc spent over half the import's CPU time on that (arena locks,
/// free-list consolidation). mimalloc frees across threads cheaply.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gatehouse: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let overrides = Overrides {
        config_file: cli.config,
        database_url: cli.database_url,
        listen: match &cli.command {
            Command::Serve { listen } => listen.clone(),
            _ => None,
        },
    };
    if let Command::Secrets { command: SecretsCommand::GenerateKey { id } } = &cli.command {
        // Needs no configuration: prints a key to put into it.
        let id = id.clone().unwrap_or_else(|| {
            let today =
                gatehouse_core::clock::iso8601(gatehouse_core::clock::Clock::now(&gatehouse_core::clock::SystemClock));
            format!("k{}", today.get(..10).unwrap_or("1").replace('-', ""))
        });
        let entry = gatehouse_store::SecretKeys::generate_entry(&id);
        return match gatehouse_store::SecretKeys::parse(&[&entry]) {
            Ok(_) => {
                println!("{entry}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("gatehouse: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let result: anyhow::Result<u8> = runtime.block_on(async {
        let (config, unknown_vars) = match config::load(&overrides) {
            Ok(c) => c,
            // A bad configuration is unusable input too.
            Err(e) if matches!(cli.command, Command::Import(_) | Command::Export(_) | Command::ImportMfaSecrets(_)) => {
                eprintln!("gatehouse: {e:#}");
                return Ok(2);
            }
            Err(e) => return Err(e),
        };
        serve::init_logging(&config);
        for name in unknown_vars {
            tracing::warn!(variable = %name, "unknown GATEHOUSE_* environment variable ignored");
        }
        match cli.command {
            Command::Serve { .. } => serve::run(config).await.map(|()| 0),
            Command::Keys { command: KeysCommand::Rotate } => serve::rotate_keys(config).await.map(|()| 0),
            Command::Secrets { command: SecretsCommand::Rotate } => serve::reseal_secrets(config).await.map(|()| 0),
            Command::Secrets { command: SecretsCommand::GenerateKey { .. } } => Ok(0),
            Command::Import(args) => Ok(import::main(config, args).await),
            Command::Export(args) => Ok(export::main(config, args).await),
            Command::ImportMfaSecrets(args) => Ok(import_mfa::main(config, args).await),
            Command::MigrateRemaining(args) => Ok(migrate_remaining::main(config, args).await),
            Command::Roles { command: RolesCommand::Import(args) } => Ok(roles::main(config, args).await),
            Command::Bench { command } => bench::main(config, command).await.map(|()| 0),
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("gatehouse: {e:#}");
            ExitCode::FAILURE
        }
    }
}
