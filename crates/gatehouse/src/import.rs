//! `gatehouse import`: a file of users straight into the store, with progress on stderr, a
//! summary at the end and, with `--report FILE`, every per-record error as JSON.
//!
//! [`run`] is the plain core the tests call; the pipeline itself is
//! `gatehouse_services::import::import_file`, shared with the `users-imports` job.

use crate::progress::Progress;
use gatehouse_core::clock::{Clock, SystemClock};
use gatehouse_core::connection::Connection;
use gatehouse_hash::Hasher;
use gatehouse_migrate::{FirebaseHashConfig, Format, ReadOptions, RecordError};
use gatehouse_services::import::{
    error_json, import_event, import_file, read_hash_export, BatchReport, ImportError, ImportOrigin, ImportRequest,
    ImportSink,
};
use gatehouse_store::Store;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

pub use gatehouse_services::import::ImportSummary;

/// Per-record errors kept for the summary on the terminal; the report file has them all.
pub const SHOWN_ERRORS: usize = 20;

#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// The file of users.
    pub file: PathBuf,
    /// The database connection (by name) the users join.
    #[arg(long)]
    pub connection: String,
    /// auth0 (JSON array), ndjson (Auth0's export), csv, firebase, keycloak or kratos.
    /// Default: from the file name (.ndjson, .csv), else auth0.
    #[arg(long)]
    pub format: Option<Format>,
    /// Update users that already exist (matched by email), as Auth0's upsert does.
    #[arg(long)]
    pub upsert: bool,
    /// Validate everything, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Commit after every batch even into an empty store. By default an import into a
    /// store without users is one transaction with the indexes built at the end (several
    /// times faster), which makes a server running on the same SQLite file wait to write.
    #[arg(long)]
    pub commit_every_batch: bool,
    /// Auth0's password-hash export (the NDJSON its support sends): each user of FILE
    /// takes its hash by id; hashes no user takes are reported as failed records.
    #[arg(long)]
    pub hashes: Option<PathBuf>,
    /// Write the summary and every failed record as JSON to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// CSV column mapping: 'Column=field,Other Column=user_metadata.x,…'.
    #[arg(long)]
    pub csv_map: Option<String>,
    /// Firebase: the project's password hash parameters as JSON (the console's hash_config).
    #[arg(long, conflicts_with_all = ["firebase_signer_key", "firebase_salt_separator", "firebase_rounds", "firebase_mem_cost"])]
    pub firebase_hash_config: Option<PathBuf>,
    /// Firebase: base64 signer key (with the three flags below, instead of --firebase-hash-config).
    #[arg(long, requires_all = ["firebase_salt_separator", "firebase_rounds", "firebase_mem_cost"])]
    pub firebase_signer_key: Option<String>,
    /// Firebase: base64 salt separator.
    #[arg(long, requires = "firebase_signer_key")]
    pub firebase_salt_separator: Option<String>,
    /// Firebase: scrypt rounds.
    #[arg(long, requires = "firebase_signer_key")]
    pub firebase_rounds: Option<u32>,
    /// Firebase: scrypt memory cost.
    #[arg(long, requires = "firebase_signer_key")]
    pub firebase_mem_cost: Option<u32>,
}

/// Why an import did not run to the end.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Bad file, unknown connection, bad flags: nothing was written (exit 2).
    #[error("{0}")]
    Unusable(String),
    /// The store or the machine failed (exit 1).
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// What the import did.
#[derive(Debug)]
pub struct Outcome {
    pub summary: ImportSummary,
    /// The first [`SHOWN_ERRORS`] failed records, in file order.
    pub first_errors: Vec<RecordError>,
    pub seconds: f64,
}

impl Outcome {
    /// 0: everything imported; 3: some records failed, the good ones are in.
    pub fn exit_code(&self) -> u8 {
        if self.summary.failed > 0 {
            3
        } else {
            0
        }
    }
}

/// The format named by `--format`, else guessed from the file name.
pub fn format_for(args: &ImportArgs) -> Format {
    args.format.unwrap_or_else(|| {
        let name = args.file.to_string_lossy().to_ascii_lowercase();
        if name.ends_with(".ndjson") || name.ends_with(".jsonl") {
            Format::Ndjson
        } else if name.ends_with(".csv") {
            Format::Csv
        } else {
            Format::Auth0Json
        }
    })
}

/// `'E-mail Address=email,First=given_name'` → pairs.
pub fn parse_csv_map(s: &str) -> Result<Vec<(String, String)>, String> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((column, field)) if !column.trim().is_empty() && !field.trim().is_empty() => {
                Ok((column.trim().to_string(), field.trim().to_string()))
            }
            _ => Err(format!("--csv-map: {pair:?} is not Column=field")),
        })
        .collect()
}

fn firebase_config(args: &ImportArgs) -> Result<Option<FirebaseHashConfig>, String> {
    if let Some(path) = &args.firebase_hash_config {
        let text =
            std::fs::read(path).map_err(|e| format!("--firebase-hash-config: cannot read {}: {e}", path.display()))?;
        let v: serde_json::Value = serde_json::from_slice(&text)
            .map_err(|e| format!("--firebase-hash-config: {} is not JSON: {e}", path.display()))?;
        return FirebaseHashConfig::from_json(&v).map(Some).map_err(|e| format!("--firebase-hash-config: {e}"));
    }
    match (&args.firebase_signer_key, &args.firebase_salt_separator, args.firebase_rounds, args.firebase_mem_cost) {
        (Some(k), Some(s), Some(r), Some(m)) => {
            Ok(Some(FirebaseHashConfig { signer_key: k.clone(), salt_separator: s.clone(), rounds: r, mem_cost: m }))
        }
        (None, None, None, None) => Ok(None),
        _ => Err("the Firebase hash parameters need all of --firebase-signer-key, --firebase-salt-separator, \
                  --firebase-rounds and --firebase-mem-cost"
            .into()),
    }
}

/// The database connection named `name`, or why it cannot take users.
pub async fn database_connection(store: &Store, name: &str) -> Result<Connection, Failure> {
    let connection = store
        .connection_by_name(name)
        .await
        .map_err(|e| Failure::Other(anyhow::anyhow!("cannot read the connections: {e}")))?
        .ok_or_else(|| Failure::Unusable(format!("there is no connection named {name:?}")))?;
    if connection.strategy != "auth0" {
        return Err(Failure::Unusable(format!(
            "connection {name:?} is a {} connection; users can only be imported into a database (auth0) connection",
            connection.strategy
        )));
    }
    Ok(connection)
}

/// Imports `args.file` into `store`, drawing progress with `progress`.
pub async fn run(
    store: &Store,
    hasher: Arc<Hasher>,
    args: &ImportArgs,
    now: String,
    progress: Progress,
) -> Result<Outcome, Failure> {
    let started = Instant::now();
    let format = format_for(args);
    let connection = database_connection(store, &args.connection).await?;
    let mut read = ReadOptions::for_connection(&connection);
    if let Some(map) = &args.csv_map {
        if format != Format::Csv {
            return Err(Failure::Unusable("--csv-map only applies to --format csv".into()));
        }
        read.csv_columns = Some(parse_csv_map(map).map_err(Failure::Unusable)?);
    }
    read.firebase = firebase_config(args).map_err(Failure::Unusable)?;
    if read.firebase.is_some() && format != Format::Firebase {
        return Err(Failure::Unusable("the Firebase hash parameters only apply to --format firebase".into()));
    }
    let hashes = match &args.hashes {
        Some(path) => {
            Some(read_hash_export(path, &read).await.map_err(|e| Failure::Unusable(format!("--hashes: {e}")))?)
        }
        None => None,
    };
    let report = match &args.report {
        Some(path) => Some(ReportWriter::create(path).map_err(Failure::Unusable)?),
        None => None,
    };
    let request = ImportRequest {
        path: args.file.clone(),
        format,
        read,
        connection,
        upsert: args.upsert,
        dry_run: args.dry_run,
        resume_at: 0,
        id_seed: None,
        now,
        single_load: !args.commit_every_batch,
        hashes,
    };
    let mut sink = CliSink { report, first_errors: Vec::new(), progress };
    let result = import_file(store, hasher, request, &mut sink).await;
    sink.progress.finish();
    let summary = match result {
        Ok(summary) => summary,
        Err(ImportError::UnusableFile(message)) => {
            if let (Some(report), Some(path)) = (sink.report.take(), &args.report) {
                drop(report);
                let _ = std::fs::remove_file(path);
            }
            return Err(Failure::Unusable(message));
        }
        Err(e) => {
            if let Some(report) = sink.report.take() {
                // Keep what was learnt; the summary says where it stopped.
                let _ = report.finish(&ImportSummary::default(), Some(&e.to_string()));
            }
            return Err(Failure::Other(anyhow::anyhow!("import failed: {e}")));
        }
    };
    if let Some(report) = sink.report.take() {
        report.finish(&summary, None).map_err(|e| Failure::Other(anyhow::anyhow!("cannot write the report: {e}")))?;
    }
    Ok(Outcome { summary, first_errors: sink.first_errors, seconds: started.elapsed().as_secs_f64() })
}

/// `gatehouse import`: returns the exit status.
pub async fn main(config: crate::config::Config, args: ImportArgs) -> u8 {
    let store = match crate::serve::open_store_with_defaults(&config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("gatehouse import: {e:#}");
            return 1;
        }
    };
    let hasher = Arc::new(Hasher::new(config.argon2, config.limits.clone()));
    let now = gatehouse_core::clock::iso8601(SystemClock.now());
    let result = run(&store, hasher, &args, now, Progress::for_stderr("records")).await;
    if !args.dry_run {
        record_event(&store, &args, &result).await;
    }
    store.close().await;
    match result {
        Ok(outcome) => {
            eprint!("{}", summary_text(&args, &outcome));
            outcome.exit_code()
        }
        Err(Failure::Unusable(message)) => {
            eprintln!("gatehouse import: {message}\nnothing was written");
            2
        }
        Err(Failure::Other(e)) => {
            eprintln!("gatehouse import: {e:#}");
            1
        }
    }
}

/// Leaves the import's audit event (`sui`, or `fui` when it stopped), as a job does; an
/// import that wrote nothing (unusable input) leaves none.
async fn record_event(store: &Store, args: &ImportArgs, result: &Result<Outcome, Failure>) {
    use gatehouse_core::log_event::{codes, LogEvent};
    let (kind, summary, stopped) = match result {
        Ok(outcome) => (codes::SUCCESS_USERS_IMPORT, outcome.summary, None),
        Err(Failure::Unusable(_)) => return,
        Err(Failure::Other(e)) => (codes::FAILED_USERS_IMPORT, ImportSummary::default(), Some(format!("{e:#}"))),
    };
    let Ok(connection) = database_connection(store, &args.connection).await else { return };
    let now = SystemClock.now();
    let millis = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    let event = LogEvent::new(gatehouse_core::ids::new_log_id(millis), gatehouse_core::clock::iso8601(now), kind);
    let file = args.file.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    let event = import_event(event, &connection, ImportOrigin::Cli(&file), &summary, stopped.as_deref());
    if let Err(e) = store.insert_log(&event).await {
        eprintln!("gatehouse import: the audit event could not be stored: {e}");
    }
}

/// The end-of-run summary, for stderr.
pub fn summary_text(args: &ImportArgs, outcome: &Outcome) -> String {
    let s = &outcome.summary;
    let rate = if outcome.seconds > 0.0 { s.total as f64 / outcome.seconds } else { 0.0 };
    let mut out = format!(
        "{}import of {} into {:?}: {} records, {} inserted, {} updated, {} failed ({:.1} s, {:.0} records/s)\n",
        if args.dry_run { "dry-run " } else { "" },
        args.file.display(),
        args.connection,
        s.total,
        s.inserted,
        s.updated,
        s.failed,
        outcome.seconds,
        rate
    );
    if args.dry_run {
        out.push_str("dry run: nothing was written (\"inserted\" counts the records that would be)\n");
    }
    if s.failed > 0 {
        let shown = outcome.first_errors.len();
        out.push_str(&format!(
            "failed records ({shown} of {} shown; #N is the record's index in the file, counting from 0):\n",
            s.failed
        ));
        for e in &outcome.first_errors {
            for f in &e.errors {
                let at = if f.path.is_empty() { "(record)" } else { f.path.as_str() };
                out.push_str(&format!("  #{} {at}: {} {}\n", e.index, f.code, f.message));
            }
        }
        match &args.report {
            Some(p) => out.push_str(&format!("every failed record is in {}\n", p.display())),
            None if s.failed as usize > shown => out.push_str("use --report FILE for all of them\n"),
            None => {}
        }
    }
    out
}

struct CliSink {
    report: Option<ReportWriter>,
    first_errors: Vec<RecordError>,
    progress: Progress,
}

impl ImportSink for CliSink {
    async fn batch(&mut self, report: BatchReport) -> Result<(), ImportError> {
        self.progress.fraction(report.resume_at, report.summary.total, report.summary.failed);
        if let Some(w) = &mut self.report {
            w.errors(&report.errors).map_err(|e| ImportError::Sink(format!("cannot write the report: {e}")))?;
        }
        let room = SHOWN_ERRORS.saturating_sub(self.first_errors.len());
        self.first_errors.extend(report.errors.into_iter().take(room));
        Ok(())
    }
}

/// `{"errors":[…],"summary":{…}}`, streamed: errors are written as batches arrive and the
/// summary, known last, closes the object.
struct ReportWriter {
    out: BufWriter<std::fs::File>,
    written: u64,
}

impl ReportWriter {
    fn create(path: &Path) -> Result<Self, String> {
        let file =
            std::fs::File::create(path).map_err(|e| format!("--report: cannot create {}: {e}", path.display()))?;
        let mut out = BufWriter::new(file);
        out.write_all(b"{\"errors\":[").map_err(|e| format!("--report: {e}"))?;
        Ok(Self { out, written: 0 })
    }

    fn errors(&mut self, errors: &[RecordError]) -> std::io::Result<()> {
        for e in errors {
            self.out.write_all(if self.written == 0 { b"\n" } else { b",\n" })?;
            serde_json::to_writer(&mut self.out, &error_json(e))?;
            self.written += 1;
        }
        Ok(())
    }

    fn finish(mut self, summary: &ImportSummary, aborted: Option<&str>) -> std::io::Result<()> {
        self.out.write_all(b"\n],\"summary\":")?;
        serde_json::to_writer(&mut self.out, summary)?;
        if let Some(reason) = aborted {
            self.out.write_all(b",\"aborted\":")?;
            serde_json::to_writer(&mut self.out, reason)?;
        }
        self.out.write_all(b"}\n")?;
        self.out.flush()?;
        self.out.get_ref().sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_map_pairs() {
        assert_eq!(
            parse_csv_map("E-mail Address=email, First=given_name,").unwrap(),
            vec![("E-mail Address".into(), "email".into()), ("First".into(), "given_name".into())]
        );
        assert!(parse_csv_map("email").is_err());
        assert!(parse_csv_map("=email").is_err());
    }
}
