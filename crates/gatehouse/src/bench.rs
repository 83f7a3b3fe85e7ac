//! `gatehouse bench …`: the Rust parts of the import/export benchmark that
//! `scripts/bench-import` orchestrates: a synthetic user file, and the same users as the
//! exact rows the store keeps (for the `sqlite3 .import` and `COPY` floors).

use anyhow::Context;
use gatehouse_core::connection::{Connection, DEFAULT_DATABASE_CONNECTION};
use gatehouse_hash::Hasher;
use gatehouse_migrate::{records, synthetic_auth0_users, validate, Format, ReadOptions};
use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Write a synthetic Auth0 import file (JSON array) of N users with legacy hashes.
    GenUsers {
        n: u64,
        #[arg(long)]
        output: PathBuf,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Write the users of an Auth0 import file as CSV rows exactly as the store keeps them
    /// (the columns of `users`, in order; NULL as an unquoted empty cell).
    StoredRows {
        file: PathBuf,
        #[arg(long)]
        output: PathBuf,
        /// The connection id the rows name.
        #[arg(long, default_value = "con_benchfloor00000000")]
        connection_id: String,
        #[arg(long, default_value = "2026-01-01T00:00:00.000Z")]
        now: String,
    },
    /// Create the store (schema and default connection) and print the default connection's id.
    InitStore,
}

pub async fn main(config: crate::config::Config, command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::GenUsers { n, output, seed } => {
            tokio::task::spawn_blocking(move || gen_users(n, seed, &output)).await??;
        }
        BenchCommand::StoredRows { file, output, connection_id, now } => {
            let n = tokio::task::spawn_blocking(move || stored_rows(&file, &output, &connection_id, &now)).await??;
            eprintln!("{n} rows");
        }
        BenchCommand::InitStore => {
            let store = crate::serve::open_store_with_defaults(&config).await?;
            let c = store
                .connection_by_name(DEFAULT_DATABASE_CONNECTION)
                .await?
                .context("the default connection is missing")?;
            store.close().await;
            println!("{}", c.id);
        }
    }
    Ok(())
}

pub fn gen_users(n: u64, seed: u64, output: &PathBuf) -> anyhow::Result<()> {
    let file = std::fs::File::create(output).with_context(|| format!("cannot create {}", output.display()))?;
    synthetic_auth0_users(n, seed, file).with_context(|| format!("cannot write {}", output.display()))
}

pub fn stored_rows(file: &PathBuf, output: &PathBuf, connection_id: &str, now: &str) -> anyhow::Result<u64> {
    let connection = Connection::new_database(connection_id.into(), DEFAULT_DATABASE_CONNECTION.into(), now.into());
    let hasher = Hasher::default();
    let input = std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let out = std::fs::File::create(output).with_context(|| format!("cannot create {}", output.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, out);
    let mut n = 0;
    for record in records(Format::Auth0Json, BufReader::with_capacity(1 << 20, input), ReadOptions::default()) {
        let record = record?;
        let Ok(user) = validate(&record, &connection, &hasher, now) else { continue };
        let u = user.user;
        let text = |s: &Option<String>| s.as_deref().map(quote).unwrap_or_default();
        let flag = |b: bool| if b { "1" } else { "0" };
        let cells = [
            quote(&u.user_id),
            quote(&u.connection_id),
            quote(&u.connection),
            quote(&u.provider),
            text(&u.email),
            flag(u.email_verified).into(),
            text(&u.username),
            text(&u.phone_number),
            flag(u.phone_verified).into(),
            text(&u.name),
            text(&u.nickname),
            text(&u.given_name),
            text(&u.family_name),
            text(&u.picture),
            text(&u.password_hash),
            quote(&serde_json::to_string(&u.user_metadata)?),
            quote(&serde_json::to_string(&u.app_metadata)?),
            flag(u.blocked).into(),
            u.logins_count.to_string(),
            text(&u.last_login),
            text(&u.last_ip),
            text(&u.last_password_reset),
            quote(&u.created_at),
            quote(&u.updated_at),
        ];
        out.write_all(cells.join(",").as_bytes())?;
        out.write_all(b"\n")?;
        n += 1;
    }
    out.flush()?;
    Ok(n)
}

/// A CSV cell, always quoted, so an empty string differs from NULL.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}
