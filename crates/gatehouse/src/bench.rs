//! `gatehouse bench …`: the Rust parts of the benchmarks the scripts orchestrate.
//! `scripts/bench-import`: a synthetic user file, and the same users as the exact rows
//! the store keeps (for the `sqlite3 .import` and `COPY` floors). `scripts/bench-login`:
//! users with real argon2id hashes of the configured cost, and the hash-bound ceiling
//! (the time of one verify, and what every core verifying at once achieves).

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
    /// Write an Auth0 import file (JSON array) of N users `user<i>@bench.test` whose
    /// password is PASSWORD, each hashed with argon2id at the configured cost (own salt).
    LoginUsers {
        n: u64,
        #[arg(long)]
        output: PathBuf,
        #[arg(long)]
        password: String,
    },
    /// Time argon2id verifies at the configured cost: the median of RUNS single verifies
    /// on one thread, then every core verifying at once for SECONDS. Prints one line of
    /// `key=value` pairs.
    Argon2 {
        #[arg(long, default_value_t = 21)]
        runs: usize,
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
    },
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
        BenchCommand::LoginUsers { n, output, password } => {
            let hasher = Hasher::new(config.argon2, config.limits.clone());
            tokio::task::spawn_blocking(move || login_users(&hasher, n, &password, &output)).await??;
        }
        BenchCommand::Argon2 { runs, seconds } => {
            let hasher = Hasher::new(config.argon2, config.limits.clone());
            let line = tokio::task::spawn_blocking(move || argon2_ceiling(&hasher, runs, seconds)).await??;
            println!("{line}");
        }
    }
    Ok(())
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// Hashes on every core (the file is written in user order).
pub fn login_users(hasher: &Hasher, n: u64, password: &str, output: &PathBuf) -> anyhow::Result<()> {
    let threads = cores() as u64;
    let hashes: Vec<String> = std::thread::scope(|s| {
        let parts: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    (t..n)
                        .step_by(threads as usize)
                        .map(|_| hasher.hash(password).map(|h| h.to_stored()))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        let mut per_thread = Vec::new();
        for p in parts {
            per_thread.push(p.join().map_err(|_| anyhow::anyhow!("a hashing thread panicked"))??);
        }
        // Thread t hashed users t, t+threads, …: interleave back into user order.
        let mut out = Vec::with_capacity(n as usize);
        for i in 0..n {
            out.push(per_thread[(i % threads) as usize][(i / threads) as usize].clone());
        }
        Ok::<_, anyhow::Error>(out)
    })?;
    let users: Vec<serde_json::Value> = hashes
        .into_iter()
        .enumerate()
        .map(|(i, h)| serde_json::json!({"email": format!("user{i}@bench.test"), "email_verified": true, "password_hash": h}))
        .collect();
    let file = std::fs::File::create(output).with_context(|| format!("cannot create {}", output.display()))?;
    serde_json::to_writer(BufWriter::new(file), &users)
        .with_context(|| format!("cannot write {}", output.display()))?;
    Ok(())
}

/// The hash-bound ceiling of password logins: `single_ms` is the median single verify,
/// `ceiling` = cores / that; `parallel` is what all cores verifying at once really do
/// (they share caches and memory bandwidth, so it can fall short of the ceiling).
pub fn argon2_ceiling(hasher: &Hasher, runs: usize, seconds: f64) -> anyhow::Result<String> {
    let password = "bench password";
    let hash = hasher.hash(password)?;
    let mut times: Vec<f64> = (0..runs.max(1))
        .map(|_| {
            let t = std::time::Instant::now();
            std::hint::black_box(hasher.verify(&hash, password));
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let single_ms = times[times.len() / 2];
    let n = cores();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs_f64(seconds);
    let started = std::time::Instant::now();
    let total: u64 = std::thread::scope(|s| {
        let workers: Vec<_> = (0..n)
            .map(|_| {
                s.spawn(|| {
                    let mut done = 0u64;
                    while std::time::Instant::now() < deadline {
                        std::hint::black_box(hasher.verify(&hash, password));
                        done += 1;
                    }
                    done
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(0)).sum()
    });
    let parallel = total as f64 / started.elapsed().as_secs_f64();
    let a = hasher.argon2_config();
    Ok(format!(
        "params=m={},t={},p={} cores={n} single_ms={single_ms:.2} ceiling_per_s={:.1} parallel_per_s={parallel:.1}",
        a.memory_kib,
        a.iterations,
        a.parallelism,
        n as f64 * 1000.0 / single_ms
    ))
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
