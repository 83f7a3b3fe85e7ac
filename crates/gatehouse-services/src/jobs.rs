//! The job worker: claims persisted jobs, runs imports and exports, records progress,
//! and takes over jobs whose node stopped. [`run_once`] does one job (tests call it);
//! [`worker`] loops it with a bounded number of jobs at a time.
//!
//! A job survives restarts: an import checkpoints after every batch (progress and errors
//! in one transaction) and a new claim resumes from there; an export simply starts again.
//!
//! Job files (see [`crate::job_files`]) go with their job. One that belongs to no job (an
//! upload cut short by a crash before its job was stored; it may hold password hashes)
//! is deleted by [`sweep_orphan_files`]: at start and every few minutes, once untouched
//! for [`ORPHAN_GRACE`] (an upload in progress on any node is written to constantly).

use crate::export::{export_users, ExportRequest};
use crate::import::{import_file, BatchReport, ImportError, ImportOrigin, ImportRequest, ImportSink, ImportSummary};
use crate::job_files;
use crate::Services;
use gatehouse_core::clock::iso8601;
use gatehouse_core::job::{Job, JobKind, JobStatus};
use gatehouse_migrate::{ExportField, ExportFormat, Format};
use gatehouse_store::{JobProgress, StoreError};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The server secret that signs download links.
pub const LINK_KEY_NAME: &str = "export_link_hmac_sha256";

/// 256 random bits, hex.
pub fn new_link_key() -> String {
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    hex::encode(key)
}

fn link_signature(key: &str, job_id: &str, expires: i64) -> String {
    // An HMAC key of any length is valid; the error arm cannot happen.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.as_bytes()) else { return String::new() };
    mac.update(format!("{job_id}:{expires}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The signed, expiring URL that downloads a finished export without other credentials.
pub fn download_location(state: &Services, job: &Job) -> Option<String> {
    if job.kind != JobKind::UsersExport || job.status != JobStatus::Completed {
        return None;
    }
    let expires = state.clock.now().unix_timestamp() + state.config.jobs.download_link_ttl_secs;
    let sig = link_signature(state.link_key.expose(), &job.id, expires);
    Some(format!("{}api/v2/jobs/{}/download?expires={expires}&signature={sig}", state.config.issuer, job.id))
}

/// Checks a download link's signature (constant time) and expiry.
pub fn verify_download(state: &Services, job_id: &str, expires: i64, signature: &str) -> bool {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(state.link_key.expose().as_bytes()) else { return false };
    mac.update(format!("{job_id}:{expires}").as_bytes());
    let Ok(given) = hex::decode(signature) else { return false };
    mac.verify_slice(&given).is_ok() && state.clock.now().unix_timestamp() <= expires
}

/// How long a job file with no job must have been untouched before it is deleted.
pub const ORPHAN_GRACE: Duration = Duration::from_secs(5 * 60);

/// Runs the job worker until the task is dropped.
pub async fn worker(state: Services) {
    let permits = Arc::new(tokio::sync::Semaphore::new(state.config.jobs.concurrency.max(1)));
    let mut last_cleanup: Option<Instant> = None;
    let mut last_sweep: Option<Instant> = None;
    loop {
        if last_cleanup.is_none_or(|at| at.elapsed() >= Duration::from_secs(3600)) {
            last_cleanup = Some(Instant::now());
            if let Err(e) = delete_expired(&state).await {
                tracing::warn!(error = %e, "deleting expired jobs failed");
            }
        }
        if last_sweep.is_none_or(|at| at.elapsed() >= ORPHAN_GRACE) {
            last_sweep = Some(Instant::now());
            if let Err(e) = sweep_orphan_files(&state, ORPHAN_GRACE).await {
                tracing::warn!(error = %e, "sweeping orphan job files failed");
            }
        }
        let Ok(permit) = permits.clone().acquire_owned().await else { return };
        match claim(&state).await {
            Ok(Some(job)) => {
                let state = state.clone();
                tokio::spawn(async move {
                    run(&state, job).await;
                    drop(permit);
                });
            }
            Ok(None) => {
                drop(permit);
                // New jobs wake us at once; stale claims of dead nodes are checked now and then.
                let _ = tokio::time::timeout(Duration::from_secs(5), state.job_created.notified()).await;
            }
            Err(e) => {
                drop(permit);
                tracing::warn!(error = %e, "claiming a job failed");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}

async fn claim(state: &Services) -> Result<Option<Job>, StoreError> {
    let now = state.clock.now();
    let stale = iso8601(now - time::Duration::seconds(state.config.jobs.stale_after_secs));
    state.store.claim_job(&state.node_id, &iso8601(now), &stale).await
}

/// Claims and runs one job; `false` when none was waiting.
pub async fn run_once(state: &Services) -> Result<bool, StoreError> {
    match claim(state).await? {
        Some(job) => {
            run(state, job).await;
            Ok(true)
        }
        None => Ok(false),
    }
}

async fn run(state: &Services, job: Job) {
    tracing::info!(job = %job.id, kind = job.kind.as_str(), resume_at = job.resume_at, "job started");
    let heartbeat = tokio::spawn(heartbeat(state.clone(), job.id.clone()));
    let outcome = match job.kind {
        JobKind::UsersImport => run_import_resuming(state, &job).await,
        JobKind::UsersExport => run_export(state, &job).await,
        JobKind::VerificationEmail => run_verification_email(state, &job).await,
        JobKind::UsersMigrateRemaining => run_migrate_remaining(state, &job).await,
    };
    heartbeat.abort();
    let now = state.now();
    let finished = match &outcome {
        Ok(done) => {
            state
                .store
                .finish_job(
                    &job.id,
                    JobStatus::Completed,
                    Some(&done.summary),
                    done.details.as_deref(),
                    done.file.as_deref(),
                    &now,
                )
                .await
        }
        Err(JobFailure::LostClaim) => {
            tracing::warn!(job = %job.id, "another node took the job over");
            return;
        }
        Err(JobFailure::Transient(e)) => {
            tracing::warn!(
                job = %job.id,
                error = %e,
                "the store kept failing; the job is left to be taken over and resumed from its checkpoint"
            );
            return;
        }
        Err(JobFailure::Failed(details)) => {
            state.store.finish_job(&job.id, JobStatus::Failed, None, Some(details), None, &now).await
        }
    };
    match finished {
        Ok(()) => tracing::info!(job = %job.id, ok = outcome.is_ok(), "job finished"),
        Err(e) => tracing::error!(job = %job.id, error = %e, "recording the end of a job failed; it will be retried"),
    }
}

/// Proves the node is alive while a job runs, so no other node takes the job over.
async fn heartbeat(state: Services, job_id: String) {
    let mut tick = tokio::time::interval(Duration::from_secs(state.config.jobs.heartbeat_secs.max(1)));
    loop {
        tick.tick().await;
        if let Err(e) = state.store.heartbeat_job(&job_id, &state.node_id, &state.now()).await {
            tracing::warn!(job = %job_id, error = %e, "job heartbeat failed");
        }
    }
}

struct Done {
    summary: Value,
    details: Option<String>,
    file: Option<String>,
}

enum JobFailure {
    /// The job's details, for `status_details`.
    Failed(String),
    LostClaim,
    /// The store or the file system failed, not the input: worth another run.
    Transient(String),
}

/// Runs of an import cut short by the store or I/O before it is left (unfinished, its
/// claim lapsing) for a takeover: the waits between them double from 0.5 s to 30 s.
const IMPORT_RUNS: u32 = 8;
const FIRST_RETRY_WAIT: Duration = Duration::from_millis(500);
const LAST_RETRY_WAIT: Duration = Duration::from_secs(30);

/// Runs an import; a run cut short by a store or I/O failure (a PostgreSQL connection
/// terminated, a failover) is run again after a backoff, from the job's last checkpoint.
/// Only input that cannot be used fails the job; after [`IMPORT_RUNS`] runs the job is
/// left unfinished, and its lapsed claim is taken over (by any node) and resumed.
async fn run_import_resuming(state: &Services, job: &Job) -> Result<Done, JobFailure> {
    let mut job = job.clone();
    let mut wait = FIRST_RETRY_WAIT;
    let mut run = 0;
    loop {
        run += 1;
        let failure = match run_import(state, &job).await {
            Err(JobFailure::Transient(e)) => e,
            other => return other,
        };
        if run >= IMPORT_RUNS {
            return Err(JobFailure::Transient(failure));
        }
        tracing::warn!(job = %job.id, run, error = %failure, retry_in_ms = wait.as_millis() as u64, "import interrupted; resuming from its checkpoint");
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(LAST_RETRY_WAIT);
        // The checkpoint to resume from; a failed read waits like a failed run.
        job = match state.store.job(&job.id).await {
            Ok(Some(j)) if j.claimed_by.as_deref() == Some(&*state.node_id) => j,
            Ok(_) => return Err(JobFailure::LostClaim),
            Err(e) => {
                tracing::warn!(job = %job.id, error = %e, "reading the job's checkpoint failed");
                job
            }
        };
    }
}

fn param_bool(job: &Job, key: &str, default: bool) -> bool {
    job.params.get(key).and_then(Value::as_bool).unwrap_or(default)
}

async fn run_import(state: &Services, job: &Job) -> Result<Done, JobFailure> {
    let internal = |what: &str, e: &dyn std::fmt::Display| {
        tracing::error!(job = %job.id, error = %e, "{what}");
        JobFailure::Failed(format!("Internal error: {what}"))
    };
    let Some(connection_id) = &job.connection_id else {
        return Err(JobFailure::Failed("The job has no connection.".into()));
    };
    let connection = match state.store.connection(connection_id).await {
        Ok(Some(c)) => c,
        Ok(None) => return Err(JobFailure::Failed("The connection does not exist.".into())),
        Err(e) => return Err(JobFailure::Transient(format!("reading the connection failed: {e}"))),
    };
    let Some(file) = &job.file else { return Err(JobFailure::Failed("The job has no users file.".into())) };
    let format = job.params.get("format").and_then(Value::as_str).unwrap_or("auth0");
    let Ok(format) = format.parse::<Format>() else {
        return Err(JobFailure::Failed(format!("Unknown format {format}")));
    };
    let req_connection = connection.clone();
    let req_connection_name = connection.name.clone();
    let read = crate::job_requests::read_options(&connection, &job.params);
    let hashes_file = param_bool(job, "hashes", false).then(|| job_files::hashes_name(file));
    let upload = fetched(state, file).await?;
    let hashes = match &hashes_file {
        Some(name) => match crate::import::read_hash_export(&fetched(state, name).await?, &read).await {
            Ok(h) => Some(h),
            Err(ImportError::UnusableFile(m)) => return Err(JobFailure::Failed(m)),
            Err(e) => return Err(JobFailure::Transient(e.to_string())),
        },
        None => None,
    };
    let req = ImportRequest {
        path: upload,
        format,
        read,
        connection,
        upsert: param_bool(job, "upsert", false),
        dry_run: false,
        resume_at: u64::try_from(job.resume_at).unwrap_or(0),
        id_seed: Some(job.id.clone()),
        now: state.now(),
        single_load: false,
        hashes,
    };
    let base = match (req.resume_at, &job.summary) {
        (1.., Some(v)) => serde_json::from_value::<ImportSummary>(v.clone()).unwrap_or_default(),
        _ => ImportSummary::default(),
    };
    let mut sink = JobSink { state: state.clone(), job_id: job.id.clone(), started: Instant::now(), base };
    let hasher = Arc::new(state.hashing.hasher().clone());
    let summary = match import_file(&state.store, hasher, req, &mut sink).await {
        Ok(s) => s,
        Err(ImportError::UnusableFile(m)) => return Err(JobFailure::Failed(m)),
        Err(ImportError::Sink(m)) if m == LOST_CLAIM => return Err(JobFailure::LostClaim),
        Err(e @ (ImportError::Store(_) | ImportError::Interrupted(_))) => {
            return Err(JobFailure::Transient(e.to_string()))
        }
        Err(e) => return Err(internal("the import failed", &e)),
    };
    let total = base.plus(&summary);
    let event = state.audit.event(gatehouse_core::log_event::codes::SUCCESS_USERS_IMPORT);
    let event = crate::import::import_event(event, &req_connection, ImportOrigin::Job(&job.id), &total, None);
    state.audit.record(event).await;
    let summary = json!(total);
    let details = if param_bool(job, "send_completion_email", true) {
        completion_email(state, job, &req_connection_name, &summary).await
    } else {
        None
    };
    for name in std::iter::once(file.as_str()).chain(hashes_file.as_deref()) {
        if let Err(e) = job_files::delete(state, name).await {
            tracing::warn!(job = %job.id, error = %e, "removing the uploaded file failed");
        }
    }
    Ok(Done { summary, details, file: None })
}

/// This node's copy of the job's file `name`: a file that is nowhere fails the job, a
/// failure to fetch it is worth another run.
async fn fetched(state: &Services, name: &str) -> Result<std::path::PathBuf, JobFailure> {
    match job_files::fetch(state, name).await {
        Ok(Some(path)) => Ok(path),
        Ok(None) => Err(JobFailure::Failed(format!("The job's file {name} is gone."))),
        Err(e) => Err(JobFailure::Transient(e.to_string())),
    }
}

/// Emails the import's outcome to the configured administrators (Auth0 emails the
/// tenant's admins). Returns a note for `status_details` when it could not be sent.
async fn completion_email(state: &Services, job: &Job, connection: &str, summary: &Value) -> Option<String> {
    let admins = &state.config.mail.admin_emails;
    if admins.is_empty() {
        return Some(
            "The completion email was not sent: no administrator address is configured (mail.admin_emails).".into(),
        );
    }
    let n = |k: &str| summary.get(k).and_then(Value::as_u64).unwrap_or(0).to_string();
    let (total, inserted, updated, failed) = (n("total"), n("inserted"), n("updated"), n("failed"));
    let status = if failed == "0" { "completed" } else { "completed with failures" };
    let mut unsent = 0;
    for to in admins {
        let email = state
            .mail
            .compose(
                "import-completed.txt",
                to,
                &[
                    ("job_id", &job.id),
                    ("connection", connection),
                    ("status", status),
                    ("total", &total),
                    ("inserted", &inserted),
                    ("updated", &updated),
                    ("failed", &failed),
                    ("details", ""),
                ],
            )
            .await;
        let on_failure = crate::mail::OnFailure {
            kind: gatehouse_core::log_event::codes::FAILED_USERS_IMPORT,
            user_id: None,
            connection: job.connection_id.clone().map(|id| (id, connection.to_string())),
        };
        if !state.mail.deliver(&email, on_failure).await {
            unsent += 1;
        }
    }
    (unsent > 0).then(|| format!("The completion email could not be sent to {unsent} of {} addresses.", admins.len()))
}

/// Sends the verification email a `verification_email` job asks for.
async fn run_verification_email(state: &Services, job: &Job) -> Result<Done, JobFailure> {
    let Some(user_id) = job.params.get("user_id").and_then(Value::as_str) else {
        return Err(JobFailure::Failed("The job has no user.".into()));
    };
    let user = match state.store.user(user_id).await {
        Ok(Some(u)) => u,
        Ok(None) => return Err(JobFailure::Failed("The user does not exist.".into())),
        Err(e) => {
            tracing::error!(job = %job.id, error = %e, "reading the user failed");
            return Err(JobFailure::Failed("Internal error: reading the user failed".into()));
        }
    };
    let client_id = job.params.get("client_id").and_then(Value::as_str).map(str::to_string);
    match crate::signup::send_verification_email(state, &user, client_id, false).await {
        Ok(true) => Ok(Done { summary: json!({"total": 1}), details: None, file: None }),
        Ok(false) => Err(JobFailure::Failed("The verification email could not be sent.".into())),
        Err(e) => {
            tracing::error!(job = %job.id, error = %e, "storing the ticket failed");
            Err(JobFailure::Failed("Internal error: storing the ticket failed".into()))
        }
    }
}

const LOST_CLAIM: &str = "the job was claimed by another node";

/// Bulk-imports the legacy users not migrated yet. A resumed job starts over: users it
/// already wrote are skipped as already migrated.
async fn run_migrate_remaining(state: &Services, job: &Job) -> Result<Done, JobFailure> {
    use crate::legacy::{migrate_remaining, store_for, RemainingError};
    let Some(connection_id) = &job.connection_id else {
        return Err(JobFailure::Failed("The job has no connection.".into()));
    };
    let connection = match state.store.connection(connection_id).await {
        Ok(Some(c)) => c,
        Ok(None) => return Err(JobFailure::Failed("The connection does not exist.".into())),
        Err(e) => {
            tracing::error!(job = %job.id, error = %e, "reading the connection failed");
            return Err(JobFailure::Failed("Internal error: reading the connection failed".into()));
        }
    };
    let legacy = match store_for(state, &connection) {
        Ok(Some(l)) => l,
        Ok(None) => return Err(JobFailure::Failed("The connection has no legacy store.".into())),
        Err(e) => return Err(JobFailure::Failed(e.to_string())),
    };
    let now = state.now();
    let outcome =
        migrate_remaining(&state.store, state.hashing.hasher(), &connection, &legacy, None, &now, |summary, errors| {
            let state = state.clone();
            let job_id = job.id.clone();
            async move {
                let progress = JobProgress {
                    resume_at: 0,
                    summary: json!(summary),
                    percentage_done: 0,
                    time_left_seconds: None,
                    errors: errors
                        .iter()
                        .map(|e| (i64::try_from(e.index).unwrap_or(i64::MAX), crate::import::error_json(e)))
                        .collect(),
                };
                match state.store.checkpoint_job(&job_id, &state.node_id, &progress, &state.now()).await {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(LOST_CLAIM.to_string()),
                    Err(e) => Err(e.to_string()),
                }
            }
        })
        .await;
    match outcome {
        Ok(summary) => Ok(Done { summary: json!(summary), details: None, file: None }),
        Err(RemainingError::Sink(m)) if m == LOST_CLAIM => Err(JobFailure::LostClaim),
        Err(RemainingError::Legacy(e)) => {
            tracing::warn!(job = %job.id, error = %e, "migrate-remaining: the legacy store failed");
            Err(JobFailure::Failed("The legacy store failed or is unavailable; run the job again later.".into()))
        }
        Err(e) => {
            tracing::error!(job = %job.id, error = %e, "migrate-remaining failed");
            Err(JobFailure::Failed("Internal error: the migration failed".into()))
        }
    }
}

struct JobSink {
    state: Services,
    job_id: String,
    started: Instant,
    /// What earlier runs of a resumed job counted, up to their last checkpoint.
    base: ImportSummary,
}

impl ImportSink for JobSink {
    async fn batch(&mut self, report: BatchReport) -> Result<(), ImportError> {
        let s = self.base.plus(&report.summary);
        let percentage = (report.bytes_read * 100).checked_div(report.file_bytes).map_or(100, |p| p.min(99));
        let elapsed = self.started.elapsed().as_secs_f64();
        let time_left = (report.bytes_read > 0 && percentage < 100).then(|| {
            let rate = report.bytes_read as f64 / elapsed.max(0.001);
            ((report.file_bytes.saturating_sub(report.bytes_read)) as f64 / rate.max(1.0)) as i64
        });
        let progress = JobProgress {
            resume_at: i64::try_from(report.resume_at).unwrap_or(i64::MAX),
            summary: json!(s),
            percentage_done: percentage as i64,
            time_left_seconds: time_left,
            errors: report
                .errors
                .iter()
                .map(|e| (i64::try_from(e.index).unwrap_or(i64::MAX), crate::import::error_json(e)))
                .collect(),
        };
        match self.state.store.checkpoint_job(&self.job_id, &self.state.node_id, &progress, &self.state.now()).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(ImportError::Sink(LOST_CLAIM.into())),
            Err(e) => Err(ImportError::Store(e)),
        }
    }
}

async fn run_export(state: &Services, job: &Job) -> Result<Done, JobFailure> {
    let format = match job.params.get("format").and_then(Value::as_str) {
        Some("json") => ExportFormat::Ndjson,
        _ => ExportFormat::Csv,
    };
    let fields: Option<Vec<ExportField>> =
        job.params.get("fields").and_then(|f| serde_json::from_value(f.clone()).ok());
    let limit = job.params.get("limit").and_then(Value::as_u64);
    let name = format!("{}.{}.gz", job.id, if format == ExportFormat::Ndjson { "json" } else { "csv" });
    let path = job_files::path(state, &name);
    let failed = |what: &str, e: &dyn std::fmt::Display| {
        tracing::error!(job = %job.id, error = %e, "{what}");
        JobFailure::Failed(format!("Internal error: {what}"))
    };
    // An export runs again from the start: what an earlier run left goes first.
    job_files::delete(state, &name).await.map_err(|e| JobFailure::Transient(e.to_string()))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| failed("creating the job directory failed", &e))?;
    }
    let file = std::fs::File::create(&path).map_err(|e| failed("creating the export file failed", &e))?;
    let out = flate2::write::GzEncoder::new(std::io::BufWriter::new(file), flate2::Compression::fast());
    let req = ExportRequest {
        connection_id: job.connection_id.clone(),
        format,
        fields,
        include_password_hashes: param_bool(job, "include_password_hashes", false),
        // Only trusted callers set these job parameters (the console, after the
        // administrator's password); Auth0's users-exports body has neither.
        include_mfa_factors: param_bool(job, "include_mfa_factors", false),
        limit,
    };
    let hasher = Arc::new(state.hashing.hasher().clone());
    let written = export_users(&state.store, hasher, req, FinishOnDrop(Some(out)))
        .await
        .map_err(|e| failed("the export failed", &e))?;
    job_files::share(state, &name).await.map_err(|e| JobFailure::Transient(e.to_string()))?;
    Ok(Done { summary: json!({"total": written}), details: None, file: Some(name) })
}

/// Finishes the gzip stream when the writer is done with it (the export writer only
/// flushes), so the file is complete before the job is marked completed.
struct FinishOnDrop<W: std::io::Write>(Option<flate2::write::GzEncoder<W>>);

impl<W: std::io::Write> std::io::Write for FinishOnDrop<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.0 {
            Some(w) => w.write(buf),
            None => Err(std::io::Error::other("export stream already finished")),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.0 {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

impl<W: std::io::Write> Drop for FinishOnDrop<W> {
    fn drop(&mut self) {
        if let Some(w) = self.0.take() {
            if let Err(e) = w.finish().and_then(|mut inner| inner.flush()) {
                tracing::error!(error = %e, "finishing an export file failed");
            }
        }
    }
}

/// Why the job directory could not be swept.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("reading the job directory: {0}")]
    Io(#[from] std::io::Error),
}

/// Deletes the job files named for a job that does not exist and untouched for `grace`,
/// in the job directory and in the database; returns how many went. Each is logged.
pub async fn sweep_orphan_files(state: &Services, grace: Duration) -> Result<usize, SweepError> {
    let dir = state.config.data_dir.join("jobs");
    let mut entries = match tokio::fs::read_dir(&dir).await {
        Ok(entries) => Some(entries),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e.into()),
    };
    let now = std::time::SystemTime::from(state.clock.now());
    let mut swept = 0;
    while let Some(entry) = match &mut entries {
        Some(entries) => entries.next_entry().await?,
        None => None,
    } {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        // Only files named as ours: `<job id>.<kind>`.
        let Some((id, _)) = name.split_once('.') else { continue };
        if !gatehouse_core::ids::is_job_id(id) {
            continue;
        }
        let meta = entry.metadata().await?;
        let untouched = meta.modified().ok().and_then(|m| now.duration_since(m).ok()).unwrap_or_default();
        if !meta.is_file() || untouched < grace || state.store.job(id).await?.is_some() {
            continue;
        }
        match tokio::fs::remove_file(entry.path()).await {
            Ok(()) => {
                swept += 1;
                tracing::warn!(
                    file = name,
                    bytes = meta.len(),
                    "deleted a job file that belongs to no job (an upload cut short)"
                );
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    // Copies in the database, also of uploads cut short on nodes long gone.
    let stored_before = iso8601(state.clock.now() - time::Duration::try_from(grace).unwrap_or(time::Duration::ZERO));
    for name in state.store.job_files_stored_before(&stored_before).await? {
        let id = name.split_once('.').map_or(name.as_str(), |(id, _)| id);
        if gatehouse_core::ids::is_job_id(id) && state.store.job(id).await?.is_some() {
            continue;
        }
        if state.store.delete_job_file(&name).await? {
            swept += 1;
            tracing::warn!(file = name, "deleted a stored job file that belongs to no job (an upload cut short)");
        }
    }
    if swept > 0 {
        tracing::info!(files = swept, dir = %dir.display(), "swept orphan job files");
    }
    Ok(swept)
}

/// Deletes finished jobs past their retention, with their files, expired sign-in state
/// (sessions, login transactions, codes, refresh tokens), expired tickets and expired
/// passwordless codes.
async fn delete_expired(state: &Services) -> Result<(), StoreError> {
    crate::session_end::purge_expired(state).await?;
    state.store.delete_expired_tickets(state.clock.now().unix_timestamp()).await?;
    state.store.delete_expired_passwordless_codes(state.clock.now().unix_timestamp()).await?;
    let before = iso8601(state.clock.now() - time::Duration::seconds(state.config.jobs.retention_secs));
    for file in state.store.delete_jobs_finished_before(&before).await? {
        if let Err(e) = job_files::delete(state, &file).await {
            tracing::warn!(error = %e, "deleting an expired job's file failed");
        }
    }
    Ok(())
}
