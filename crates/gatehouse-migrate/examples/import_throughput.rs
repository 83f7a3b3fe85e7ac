//! Reader + validate throughput over a generated Auth0 file, single-threaded.
//!
//! `cargo run --release -p gatehouse-migrate --example import_throughput -- [N] [FILE]`
//! (default 1,000,000 users in `$TMPDIR/gatehouse-synthetic-<N>.json`, generated once
//! and reused). Prints the generation time, the pre-pass time and the records/s of
//! `records` alone and of `records` + `validate` + `DuplicateTracker`.

use gatehouse_core::connection::Connection;
use gatehouse_hash::Hasher;
use gatehouse_migrate::{check_file, records, synthetic_auth0_users, validate, DuplicateTracker, Format, ReadOptions};
use std::fs::File;
use std::io::BufReader;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1_000_000);
    let path = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join(format!("gatehouse-synthetic-{n}.json")));
    if !path.exists() {
        let t = Instant::now();
        synthetic_auth0_users(n, 42, File::create(&path)?)?;
        println!("generated {n} users in {:.2?}", t.elapsed());
    }
    let size = std::fs::metadata(&path)?.len();
    let open = || File::open(&path).map(|f| BufReader::with_capacity(256 * 1024, f));

    let t = Instant::now();
    let counted = check_file(Format::Auth0Json, open()?, &ReadOptions::default())?;
    let pre = t.elapsed();
    println!(
        "pre-pass: {counted} records, {:.1} MiB in {pre:.2?} ({:.0} MiB/s)",
        size as f64 / 1048576.0,
        size as f64 / 1048576.0 / pre.as_secs_f64()
    );

    let t = Instant::now();
    let mut read = 0u64;
    for r in records(Format::Auth0Json, open()?, ReadOptions::default()) {
        r?;
        read += 1;
    }
    let el = t.elapsed();
    println!("records only: {read} in {el:.2?} = {:.0} records/s", read as f64 / el.as_secs_f64());

    let conn = Connection::new_database("con_0123456789abcdef".into(), "db".into(), String::new());
    let hasher = Hasher::default();
    let now = "2026-01-01T00:00:00.000Z";
    let mut dups = DuplicateTracker::with_capacity(usize::try_from(counted)?);
    let (mut ok, mut bad) = (0u64, 0u64);
    let t = Instant::now();
    for r in records(Format::Auth0Json, open()?, ReadOptions::default()) {
        let r = r?;
        match validate(&r, &conn, &hasher, now).and_then(|u| dups.check(&r, &u)) {
            Ok(()) => ok += 1,
            Err(_) => bad += 1,
        }
    }
    let el = t.elapsed();
    println!(
        "records + validate + duplicates: {ok} ok, {bad} failed in {el:.2?} = {:.0} records/s ({:.0} MiB/s)",
        (ok + bad) as f64 / el.as_secs_f64(),
        size as f64 / 1048576.0 / el.as_secs_f64()
    );
    Ok(())
}
