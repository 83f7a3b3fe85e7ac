//! Bulk import, end to end and without HTTP: file → records → validation → store, in
//! batches, with a [`ImportSink`] told after every batch. The `users-imports` job and
//! `gatehouse import` are both thin callers of [`import_file`].
//!
//! With Auth0's password-hash export beside the file ([`ImportRequest::hashes`]), each
//! record takes its hash by id before validation, and the export's records no user took
//! are reported after the users' errors.
//!
//! Reading and validating run on blocking threads (one reader, a validator per core, see
//! [`produce`]) and hand batches over a bounded channel, so parsing the next batch
//! overlaps with writing the last one and memory stays bounded whatever the file's size.

use gatehouse_core::connection::Connection;
use gatehouse_core::mfa::MfaFactor;
use gatehouse_core::user::User;
use gatehouse_hash::Hasher;
use gatehouse_migrate::{
    apply_upsert, check_file, records, validate_owned, DuplicateTracker, FieldError, FileError, Format, HashExport,
    HashSource, ImportUser, Pending, Provided, ReadOptions, RecordError,
};
use gatehouse_store::{BulkOutcome, ConflictOn, Store, StoreError};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::future::Future;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Users written per transaction: large enough to amortise the commit, small enough that
/// a batch's memory and a restart's lost work stay small.
pub const BATCH_SIZE: usize = 5_000;

/// What to import and how.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    pub path: PathBuf,
    pub format: Format,
    pub read: ReadOptions,
    pub connection: Connection,
    /// Update users that already exist (matched by email) under Auth0's upsert rules.
    pub upsert: bool,
    /// Validate everything, write nothing.
    pub dry_run: bool,
    /// Records before this index were handled by an earlier run of the same job.
    pub resume_at: u64,
    /// Makes generated user ids a function of (seed, record index), so a resumed job
    /// recognises the users it wrote before a crash. `None`: random ids.
    pub id_seed: Option<String>,
    /// `created_at`/`updated_at` of the new users.
    pub now: String,
    /// Into a store whose `users` table is empty, write the whole import as one load
    /// (one transaction, indexes built at the end: see `gatehouse_store::UsersLoad`).
    /// For `gatehouse import`; a job leaves it off, because it checkpoints after every
    /// batch and must not hold the store's write lock for the whole file.
    pub single_load: bool,
    /// Auth0's password-hash export, joined by id into the file's records (see
    /// [`read_hash_export`]).
    pub hashes: Option<Arc<HashExport>>,
}

/// Auth0's job summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ImportSummary {
    pub total: u64,
    pub inserted: u64,
    pub updated: u64,
    pub failed: u64,
}

impl ImportSummary {
    /// The counts of two runs of one file (a resumed job): `total` is the file's.
    pub fn plus(&self, later: &ImportSummary) -> ImportSummary {
        ImportSummary {
            total: later.total.max(self.total),
            inserted: self.inserted + later.inserted,
            updated: self.updated + later.updated,
            failed: self.failed + later.failed,
        }
    }
}

/// Progress after a batch: what is done, where to resume, the batch's failed records.
#[derive(Debug)]
pub struct BatchReport {
    pub summary: ImportSummary,
    /// The next record to process if the import is resumed.
    pub resume_at: u64,
    /// Bytes of the file read so far, and the file's size.
    pub bytes_read: u64,
    pub file_bytes: u64,
    pub errors: Vec<RecordError>,
}

/// Told about every batch, in order. Jobs persist the report; the CLI draws progress.
pub trait ImportSink: Send {
    fn batch(&mut self, report: BatchReport) -> impl Future<Output = Result<(), ImportError>> + Send;
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file cannot be used at all; nothing was written.
    #[error("{0}")]
    UnusableFile(String),
    #[error("the store failed: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Sink(String),
    #[error("the import was interrupted: {0}")]
    Interrupted(String),
}

impl From<FileError> for ImportError {
    fn from(e: FileError) -> Self {
        ImportError::UnusableFile(format!("The file is not valid: {e}"))
    }
}

struct Batch {
    /// The valid users, in file order, with what the write needs besides the row.
    users: Vec<User>,
    incoming: Vec<Incoming>,
    errors: Vec<RecordError>,
    next_index: u64,
    bytes_read: u64,
}

/// Refuses a malformed file before anything is written; returns its record count.
pub async fn check(path: &Path, format: Format, read: &ReadOptions) -> Result<u64, ImportError> {
    let (path, read) = (path.to_path_buf(), read.clone());
    tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&path)
            .map_err(|e| ImportError::UnusableFile(format!("cannot open {}: {e}", path.display())))?;
        Ok(check_file(format, BufReader::with_capacity(1 << 20, file), &read)?)
    })
    .await
    .map_err(|e| ImportError::Interrupted(e.to_string()))?
}

/// The first records of a file as an import would see them (each validated, or with
/// its errors), for a look before the import starts. Nothing is written.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    /// The file's record count; `None` when the file is unusable as it is (`problem`).
    pub total: Option<u64>,
    pub problem: Option<String>,
    /// CSV: each column's title and the Auth0 field it maps to by itself, if any.
    pub columns: Option<Vec<(String, Option<String>)>>,
    pub records: Vec<PreviewRecord>,
}

/// One record of a [`Preview`].
#[derive(Debug, Clone, Serialize)]
pub struct PreviewRecord {
    /// 1-based position in the file.
    pub number: u64,
    pub email: Option<String>,
    pub username: Option<String>,
    pub name: Option<String>,
    pub has_password_hash: bool,
    /// `path: message` for each problem; empty when the record would be imported.
    pub errors: Vec<String>,
}

/// Reads the first `first` records of `path` and validates them for `connection`.
pub async fn preview(
    path: &Path,
    format: Format,
    read: &ReadOptions,
    connection: &Connection,
    hasher: Arc<Hasher>,
    now: &str,
    first: usize,
) -> Result<Preview, ImportError> {
    let (path, read, connection, now) = (path.to_path_buf(), read.clone(), connection.clone(), now.to_string());
    let open = move |path: &Path| {
        std::fs::File::open(path)
            .map(|f| BufReader::with_capacity(1 << 16, f))
            .map_err(|e| ImportError::UnusableFile(format!("cannot open {}: {e}", path.display())))
    };
    tokio::task::spawn_blocking(move || {
        let columns = match format {
            Format::Csv => Some(gatehouse_migrate::csv_columns(open(&path)?, &read)?),
            _ => None,
        };
        let total = match check_file(format, open(&path)?, &read) {
            Ok(n) => n,
            Err(e) => {
                let problem = Some(format!("The file cannot be imported as it is: {e}"));
                return Ok(Preview { total: None, problem, columns, records: Vec::new() });
            }
        };
        let mut reader = records(format, open(&path)?, read.clone());
        let mut out = Vec::new();
        while out.len() < first {
            let Some(pending) = reader.next_pending()? else { break };
            let record = pending.parse(format, &read)?;
            let number = record.index + 1;
            let text = |k: &str| record.user.get(k).and_then(serde_json::Value::as_str).map(str::to_string);
            let (email, username, name) = (text("email"), text("username"), text("name"));
            let described = |e: &FieldError| {
                if e.path.is_empty() {
                    e.message.clone()
                } else {
                    format!("{}: {}", e.path, e.message)
                }
            };
            let mut errors: Vec<String> = record.mapping_errors.iter().map(described).collect();
            let has_password_hash = match validate_owned(record, &connection, &hasher, &now) {
                Ok(user) => user.user.password_hash.is_some(),
                Err(e) => {
                    errors.extend(e.errors.iter().map(described));
                    false
                }
            };
            errors.dedup();
            out.push(PreviewRecord { number, email, username, name, has_password_hash, errors });
        }
        Ok(Preview { total: Some(total), problem: None, columns, records: out })
    })
    .await
    .map_err(|e| ImportError::Interrupted(e.to_string()))?
}

/// Reads Auth0's password-hash export at `path` for [`ImportRequest::hashes`]; a file
/// that cannot be read at all is unusable, a bad line is reported with the import.
pub async fn read_hash_export(path: &Path, read: &ReadOptions) -> Result<Arc<HashExport>, ImportError> {
    let (path, max) = (path.to_path_buf(), read.max_record_bytes);
    tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&path)
            .map_err(|e| ImportError::UnusableFile(format!("cannot open {}: {e}", path.display())))?;
        HashExport::read(BufReader::with_capacity(1 << 20, file), None, max)
            .map(Arc::new)
            .map_err(|e| ImportError::UnusableFile(format!("The password-hash export is not valid: {e}")))
    })
    .await
    .map_err(|e| ImportError::Interrupted(e.to_string()))?
}

/// Imports the file of `req` into `store`. A bad record never stops the good ones; a
/// malformed file is refused before anything is written.
pub async fn import_file(
    store: &Store,
    hasher: Arc<Hasher>,
    req: ImportRequest,
    sink: &mut impl ImportSink,
) -> Result<ImportSummary, ImportError> {
    let total = check(&req.path, req.format, &req.read).await?;
    let file_bytes = std::fs::metadata(&req.path).map(|m| m.len()).unwrap_or(0);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Batch, ImportError>>(2);
    let producer = {
        let req = req.clone();
        tokio::task::spawn_blocking(move || produce(&req, &hasher, total, &tx))
    };
    let mut summary = ImportSummary { total, ..ImportSummary::default() };
    let mut load = match req.single_load && !req.dry_run && req.resume_at == 0 {
        true => store.begin_users_load().await?,
        false => None,
    };
    let mut first_batch = true;
    // Factor ids derive from this and the record, so a resumed job writes the same ids.
    let factor_seed = req.id_seed.clone().unwrap_or_else(crate::secrets::random_token);
    // During a single load the store's write lock is the load's: factors wait for its end.
    let mut deferred_factors = Vec::new();
    while let Some(batch) = rx.recv().await {
        let batch = batch?;
        let mut errors = batch.errors;
        summary.failed += errors.len() as u64;
        if !req.dry_run && !batch.users.is_empty() {
            // The batch after the last checkpoint may have been written before the run
            // was cut short (even the very first: a job's ids are seeded, so it knows).
            let resuming = first_batch && (req.resume_at > 0 || req.id_seed.is_some());
            let written = match &mut load {
                Some(load) => load.write(batch.users).await?,
                None => store.write_users_bulk(batch.users).await?,
            };
            let factors =
                settle(store, &req, written, batch.incoming, resuming, &mut summary, &mut errors, &factor_seed).await?;
            match load {
                Some(_) => deferred_factors.extend(factors),
                None => {
                    store.insert_mfa_factors(&factors).await?;
                }
            }
        } else if req.dry_run {
            summary.inserted += batch.users.len() as u64;
        }
        first_batch = false;
        errors.sort_by_key(|e| e.index);
        sink.batch(BatchReport {
            summary,
            resume_at: batch.next_index,
            bytes_read: batch.bytes_read,
            file_bytes,
            errors,
        })
        .await?;
    }
    producer.await.map_err(|e| ImportError::Interrupted(e.to_string()))?;
    if let Some(load) = load {
        load.commit().await?;
        for chunk in deferred_factors.chunks(BATCH_SIZE) {
            store.insert_mfa_factors(chunk).await?;
        }
    }
    Ok(summary)
}

/// Records handed to a validator at a time: large enough that channel traffic is noise,
/// small enough that the validators stay evenly loaded.
const CHUNK: usize = 256;

/// Chunks queued per validator, in and out.
const QUEUE: usize = 8;

/// Consecutive records for one validator, split but not parsed; `error` ends the file
/// (it changed under us).
struct Chunk {
    records: Vec<Pending>,
    bytes_read: u64,
    error: Option<FileError>,
}

/// A chunk after validation, still in file order. A record is kept unparsed (a few
/// hundred bytes) and parsed again only for an error report: the parsed value is freed on
/// the validator's thread, which is several times cheaper than on the writer's.
struct Validated {
    /// Each record, its validation, and the id it took a hash-export hash under.
    records: Vec<(Pending, Result<ImportUser, RecordError>, Option<String>)>,
    bytes_read: u64,
    error: Option<FileError>,
}

/// How many threads validate: validation is independent per record and dominates the
/// pipeline's CPU time, so it is spread over the machine's cores (at most 4: past that the
/// reader and the writer are the bottleneck).
fn validator_count() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).clamp(1, 4)
}

/// Reads, validates and batches records on blocking threads: one reader splits the file
/// into records and deals them round-robin in chunks to the validators, which parse and
/// validate them (parsing is most of reading's cost, so it is spread too); this thread
/// collects the validated chunks in the same round-robin order (so in file order), applies
/// what must be sequential (derived ids, duplicates within the file, the resume point) and
/// sends batches to the writer.
fn produce(
    req: &ImportRequest,
    hasher: &Hasher,
    total: u64,
    tx: &tokio::sync::mpsc::Sender<Result<Batch, ImportError>>,
) {
    let send = |b: Result<Batch, ImportError>| tx.blocking_send(b).is_ok();
    let file = match std::fs::File::open(&req.path) {
        Ok(f) => f,
        Err(e) => {
            send(Err(ImportError::UnusableFile(format!("cannot open {}: {e}", req.path.display()))));
            return;
        }
    };
    let workers = validator_count();
    std::thread::scope(|scope| {
        let mut inputs = Vec::with_capacity(workers);
        let mut outputs = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (in_tx, in_rx) = std::sync::mpsc::sync_channel::<Chunk>(QUEUE);
            let (out_tx, out_rx) = std::sync::mpsc::sync_channel::<Validated>(QUEUE);
            inputs.push(in_tx);
            outputs.push(out_rx);
            scope.spawn(move || {
                for chunk in in_rx {
                    let mut records = Vec::with_capacity(chunk.records.len());
                    let mut error = None;
                    for pending in chunk.records {
                        match pending.parse_ref(req.format, &req.read) {
                            Ok(mut r) => {
                                let joined = req.hashes.as_ref().and_then(|h| h.join(&mut r.user));
                                let checked = validate_owned(r, &req.connection, hasher, &req.now);
                                records.push((pending, checked, joined));
                            }
                            Err(e) => {
                                // Records after a parse error cannot be trusted.
                                error = Some(e);
                                break;
                            }
                        }
                    }
                    let done = Validated { records, bytes_read: chunk.bytes_read, error: error.or(chunk.error) };
                    if out_tx.send(done).is_err() {
                        return;
                    }
                }
            });
        }
        scope.spawn(move || {
            let mut reader = records(req.format, BufReader::with_capacity(1 << 20, file), req.read.clone());
            let mut next = 0usize;
            let mut chunk = Vec::with_capacity(CHUNK);
            loop {
                let (end, error) = match reader.next_pending() {
                    Ok(Some(r)) => {
                        chunk.push(r);
                        (chunk.len() == CHUNK, None)
                    }
                    Err(e) => (true, Some(e)),
                    Ok(None) => (true, None),
                };
                if !end {
                    continue;
                }
                let last = error.is_some() || chunk.len() < CHUNK;
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                if !full.is_empty() || error.is_some() {
                    let c = Chunk { records: full, bytes_read: reader.bytes_read(), error };
                    if inputs[next % workers].send(c).is_err() {
                        return;
                    }
                    next += 1;
                }
                if last {
                    return; // dropping the senders ends the validators
                }
            }
        });
        assemble(req, total, &outputs, &send);
    });
}

/// Turns validated chunks, taken round-robin, into batches for the writer.
fn assemble(
    req: &ImportRequest,
    total: u64,
    outputs: &[std::sync::mpsc::Receiver<Validated>],
    send: &impl Fn(Result<Batch, ImportError>) -> bool,
) {
    let mut duplicates = DuplicateTracker::with_capacity(usize::try_from(total).unwrap_or(0));
    let empty = || Batch {
        users: Vec::with_capacity(BATCH_SIZE),
        incoming: Vec::with_capacity(BATCH_SIZE),
        errors: Vec::new(),
        next_index: 0,
        bytes_read: 0,
    };
    let mut batch = empty();
    let mut joined = HashSet::new();
    // Chunk k went to validator k % n; the first missing chunk is the end of the file.
    for k in 0.. {
        let Ok(chunk) = outputs[k % outputs.len()].recv() else { break };
        for (record, checked, took_hash) in chunk.records {
            joined.extend(took_hash);
            let index = record.index();
            let checked = checked.and_then(|mut user| {
                if !user.user_id_given {
                    if let Some(seed) = &req.id_seed {
                        user.user.user_id = format!("auth0|{}", derived_local_id(seed, index));
                    }
                }
                match duplicates.check_keys(&user) {
                    Ok(()) => Ok(user),
                    Err(errors) => Err(RecordError::new(index, &as_read(req, &record), errors)),
                }
            });
            // Earlier runs of this job handled these; they only feed the duplicate tracker.
            if index < req.resume_at {
                continue;
            }
            match checked {
                Ok(user) => {
                    let (row, incoming) = Incoming::split(user, record);
                    batch.users.push(row);
                    batch.incoming.push(incoming);
                }
                Err(e) => batch.errors.push(e),
            }
            batch.next_index = index + 1;
            if batch.users.len() + batch.errors.len() >= BATCH_SIZE {
                batch.bytes_read = chunk.bytes_read;
                if !send(Ok(std::mem::replace(&mut batch, empty()))) {
                    return;
                }
            }
        }
        if let Some(e) = chunk.error {
            // The pre-pass accepted the file, so it changed under us.
            send(Err(ImportError::from(e)));
            return;
        }
        batch.bytes_read = chunk.bytes_read;
    }
    if let Some(hashes) = &req.hashes {
        // After every user (a resumed job reports them again: they were not written).
        let next_index = batch.next_index.max(total);
        batch.errors.extend(hashes.unjoined(&joined, total));
        batch.next_index = next_index;
    }
    if batch.next_index > 0 || batch.users.len() + batch.errors.len() > 0 {
        send(Ok(batch));
    }
}

/// A 24-hex local id derived from the job and the record's position.
fn derived_local_id(seed: &str, index: u64) -> String {
    let digest = Sha256::new().chain_update(seed.as_bytes()).chain_update(index.to_be_bytes()).finalize();
    hex::encode(&digest[..12])
}

/// The record as read (mapped to Auth0's schema), for an error report. The validator
/// parsed it already, so parsing again cannot fail.
fn as_read(req: &ImportRequest, record: &Pending) -> serde_json::Value {
    record.parse_ref(req.format, &req.read).map(|r| r.user).unwrap_or(serde_json::Value::Null)
}

fn conflict_error(user: &ImportUser, raw: &serde_json::Value, on: ConflictOn) -> RecordError {
    let (code, path, message) = match on {
        ConflictOn::Email => ("CONFLICT_EMAIL", "email", "The user already exists."),
        ConflictOn::Username => ("CONFLICT_USERNAME", "username", "The username provided is in use already."),
        _ => ("CONFLICT", "user_id", "A user with this user_id already exists."),
    };
    RecordError::new(user.index, raw, vec![FieldError::new(code, path, message)])
}

/// A valid user's record beside its row: what conflicts and upserts need. The row travels
/// on its own to the store and comes back with its outcome, so nothing is copied.
struct Incoming {
    index: u64,
    provided: Provided,
    user_id_given: bool,
    hash_source: HashSource,
    mfa_factors: Vec<serde_json::Value>,
    /// The record, for a conflict's error.
    raw: Pending,
}

impl Incoming {
    fn split(u: ImportUser, raw: Pending) -> (User, Incoming) {
        let ImportUser { index, user, provided, user_id_given, hash_source, mfa_factors } = u;
        (user, Incoming { index, provided, user_id_given, hash_source, mfa_factors, raw })
    }

    fn join(self, user: User) -> (ImportUser, Pending) {
        let Incoming { index, provided, user_id_given, hash_source, mfa_factors, raw } = self;
        (ImportUser { index, user, provided, user_id_given, hash_source, mfa_factors }, raw)
    }
}

/// The factors of a record's `mfa_factors` for the user `user_id`. Ids derive from `seed`
/// (the job's), the record and the item, so writing them again changes nothing.
fn record_factors(seed: &str, index: u64, user_id: &str, items: &[serde_json::Value], now: &str) -> Vec<MfaFactor> {
    let factor = |(i, item)| {
        MfaFactor::from_import_item(item, crate::mfa::factor_id(seed, index, i, item), user_id, now, i as i64)
    };
    items.iter().enumerate().filter_map(factor).collect()
}

/// Counts the outcomes of a written batch; conflicts become errors, or updates under
/// `upsert`, or (when resuming) the users this job wrote before it was interrupted.
/// Returns the MFA factors of the users written, to store next: a new user's are all
/// its record's, an updated user keeps its own and gains those it does not have.
#[allow(clippy::too_many_arguments)]
async fn settle(
    store: &Store,
    req: &ImportRequest,
    (users, outcomes): (Vec<User>, Vec<BulkOutcome>),
    incoming: Vec<Incoming>,
    resuming: bool,
    summary: &mut ImportSummary,
    errors: &mut Vec<RecordError>,
    factor_seed: &str,
) -> Result<Vec<MfaFactor>, ImportError> {
    let mut replacements = Vec::new();
    let mut factors = Vec::new();
    for ((user, incoming), outcome) in users.into_iter().zip(incoming).zip(outcomes) {
        let on = match outcome {
            BulkOutcome::Inserted => {
                summary.inserted += 1;
                if !incoming.mfa_factors.is_empty() {
                    let f = &incoming.mfa_factors;
                    factors.extend(record_factors(factor_seed, incoming.index, &user.user_id, f, &req.now));
                }
                continue;
            }
            BulkOutcome::Conflict(on) => on,
        };
        let (incoming, pending) = incoming.join(user);
        let raw = as_read(req, &pending);
        // A resumed job meets the users it wrote just before it was interrupted (before
        // any checkpoint, only those whose ids it made: the seed makes them its own).
        if resuming && (req.resume_at > 0 || !incoming.user_id_given) {
            if let Some(existing) = store.user(&incoming.user.user_id).await? {
                if existing.email == incoming.user.email && existing.connection_id == incoming.user.connection_id {
                    summary.inserted += 1;
                    let (i, f) = (incoming.index, &incoming.mfa_factors);
                    factors.extend(record_factors(factor_seed, i, &existing.user_id, f, &req.now));
                    continue;
                }
            }
        }
        if req.upsert && on == ConflictOn::Email {
            if let Some(email) = &incoming.user.email {
                if let Some(mut existing) = store.user_by_login(&req.connection.id, email).await? {
                    match apply_upsert(&mut existing, &incoming, &req.now) {
                        Ok(()) => replacements.push((existing, incoming, raw)),
                        Err(e) => {
                            summary.failed += 1;
                            errors.push(e);
                        }
                    }
                    continue;
                }
            }
        }
        summary.failed += 1;
        errors.push(conflict_error(&incoming, &raw, on));
    }
    if !replacements.is_empty() {
        let rows = replacements.iter().map(|(u, _, _)| u.clone()).collect();
        let outcomes = store.replace_users_bulk(rows).await?;
        for ((user, incoming, raw), outcome) in replacements.into_iter().zip(outcomes) {
            match outcome {
                BulkOutcome::Inserted => {
                    summary.updated += 1;
                    if !incoming.mfa_factors.is_empty() {
                        let kept = store.mfa_factors(&user.user_id).await?;
                        let (i, f) = (incoming.index, &incoming.mfa_factors);
                        let new = record_factors(factor_seed, i, &user.user_id, f, &req.now);
                        factors.extend(new.into_iter().filter(|n| !kept.iter().any(|k| k.same_as(n))));
                    }
                }
                BulkOutcome::Conflict(on) => {
                    summary.failed += 1;
                    errors.push(conflict_error(&incoming, &raw, on));
                }
            }
        }
    }
    Ok(factors)
}

/// `GET /api/v2/jobs/{id}/errors` element for a failed record (Auth0's shape, plus the
/// record's index).
pub fn error_json(e: &RecordError) -> serde_json::Value {
    json!({"user": e.user, "errors": e.errors, "index": e.index})
}

/// Where an import came from, as its audit event says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOrigin<'a> {
    /// A `users-imports` job.
    Job(&'a str),
    /// `gatehouse import` on the command line: the file's name.
    Cli(&'a str),
}

/// Fills `e` (a `sui` or `fui` event, stamped by the caller) with what an import did: the
/// connection, where it came from, its counts and, when it stopped, why.
pub fn import_event(
    mut e: gatehouse_core::log_event::LogEvent,
    connection: &Connection,
    origin: ImportOrigin<'_>,
    summary: &ImportSummary,
    stopped: Option<&str>,
) -> gatehouse_core::log_event::LogEvent {
    let (from, description) = match origin {
        ImportOrigin::Job(id) => (json!({"job_id": id}), "users imported by a job".to_string()),
        ImportOrigin::Cli(file) => {
            (json!({"cli": "gatehouse import", "file": file}), format!("users imported from {file}"))
        }
    };
    e.description = Some(match stopped {
        Some(reason) => format!("{description}; the import stopped: {reason}"),
        None => description,
    });
    e.connection = Some(connection.name.clone());
    e.connection_id = Some(connection.id.clone());
    e.details.insert("origin".into(), from);
    e.details.insert("summary".into(), json!(summary));
    e
}
