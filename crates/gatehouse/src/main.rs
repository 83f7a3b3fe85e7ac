//! The `gatehouse` command: `serve` runs the server; `keys rotate` rotates the token
//! signing key. Import, export and benchmarks join as they land.

mod config;
mod serve;

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
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Make a new signing key current; the old one stays published until its tokens expire.
    Rotate,
}

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
            Command::Keys { .. } => None,
        },
    };
    let result = runtime.block_on(async {
        let (config, unknown_vars) = config::load(&overrides)?;
        serve::init_logging(&config);
        for name in unknown_vars {
            tracing::warn!(variable = %name, "unknown GATEHOUSE_* environment variable ignored");
        }
        match cli.command {
            Command::Serve { .. } => serve::run(config).await,
            Command::Keys { command: KeysCommand::Rotate } => serve::rotate_keys(config).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gatehouse: {e:#}");
            ExitCode::FAILURE
        }
    }
}
