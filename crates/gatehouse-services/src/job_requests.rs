//! Starting a job: the checks an import, an export or a "migrate remaining" must pass
//! before it becomes a job row, shared by the Management API (`/api/v2/jobs/…`) and the
//! admin console. A refused request leaves no job; the work itself is `jobs`'.

use crate::job_files;
use crate::Services;
use gatehouse_core::connection::Connection;
use gatehouse_core::ids::new_job_id;
use gatehouse_core::job::{export_request, Job, JobKind, JobStatus};
use gatehouse_core::Error;
use gatehouse_migrate::{Format, ReadOptions};
use gatehouse_store::StoreError;
use serde_json::{json, Map, Value};

/// Why a job was not started.
#[derive(Debug, thiserror::Error)]
pub enum JobRequestError {
    /// The request or its file cannot be used; the message says why, in Auth0's words.
    #[error(transparent)]
    Refused(#[from] Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The connection's legacy store is unusable.
    #[error(transparent)]
    Legacy(#[from] gatehouse_legacy::LegacyError),
    #[error("{0}")]
    Internal(String),
}

type Result<T, E = JobRequestError> = std::result::Result<T, E>;

/// A new pending job of `kind`.
pub fn new_job(state: &Services, kind: JobKind, connection_id: Option<String>, params: Map<String, Value>) -> Job {
    let now = state.now();
    Job {
        id: new_job_id(),
        kind,
        status: JobStatus::Pending,
        connection_id,
        params,
        summary: None,
        resume_at: 0,
        percentage_done: 0,
        time_left_seconds: None,
        status_details: None,
        file: None,
        claimed_by: None,
        heartbeat_at: None,
        created_at: now.clone(),
        updated_at: now,
    }
}

/// What an import job is asked to do with its uploaded file.
#[derive(Debug, Clone)]
pub struct ImportJobRequest {
    pub connection_id: String,
    pub format: Format,
    pub upsert: bool,
    pub send_completion_email: bool,
    pub external_id: Option<String>,
    /// CSV only: `(column title, Auth0 field)` (see `ReadOptions::csv_columns`).
    pub csv_columns: Option<Vec<(String, String)>>,
    /// Auth0's password-hash export was uploaded beside the file (named by
    /// `job_files::hashes_name`): its hashes join the records by id (see
    /// `ImportRequest::hashes`).
    pub hashes: bool,
}

/// The database connection an import may write to, in Auth0's order of checks.
pub async fn import_connection(state: &Services, connection_id: &str) -> Result<Connection> {
    if !gatehouse_core::ids::is_connection_id(connection_id) {
        return Err(Error::invalid_field("connection_id", "String does not match pattern ^con_[A-Za-z0-9]{16}$").into());
    }
    let Some(connection) = state.store.connection(connection_id).await? else {
        return Err(Error::body("The connection does not exist.").into());
    };
    if connection.strategy != "auth0" {
        return Err(Error::body("Connection must be a database connection.").into());
    }
    let custom_db = connection.options.get("enabledDatabaseCustomization").and_then(Value::as_bool) == Some(true);
    let import_mode = connection.options.get("import_mode").and_then(Value::as_bool) == Some(true);
    if custom_db && !import_mode {
        return Err(Error::body("Custom Database Connections without import mode are not allowed.").into());
    }
    Ok(connection)
}

/// How an import job reads its file.
pub fn read_options(connection: &Connection, params: &Map<String, Value>) -> ReadOptions {
    let mut read = ReadOptions::for_connection(connection);
    read.csv_columns = params.get("csv_columns").and_then(|v| serde_json::from_value(v.clone()).ok());
    read
}

/// Stores an import job for the upload on this node named `upload_name` among the job
/// files, after checking the connection and the whole file's syntax: a bad file never
/// becomes a job. `id` is the job's id (the upload was named after it).
pub async fn start_import(state: &Services, id: String, upload_name: &str, req: ImportJobRequest) -> Result<Job> {
    let connection = import_connection(state, &req.connection_id).await?;
    let mut params = Map::new();
    params.insert("upsert".into(), json!(req.upsert));
    params.insert("send_completion_email".into(), json!(req.send_completion_email));
    if let Some(e) = &req.external_id {
        params.insert("external_id".into(), json!(e));
    }
    if req.format != Format::Auth0Json {
        params.insert("format".into(), json!(req.format.name()));
    }
    if let Some(columns) = &req.csv_columns {
        params.insert("csv_columns".into(), json!(columns));
    }
    let read = read_options(&connection, &params);
    let unusable = |e| match e {
        crate::import::ImportError::UnusableFile(m) => JobRequestError::Refused(Error::body(m)),
        other => JobRequestError::Internal(other.to_string()),
    };
    crate::import::check(&job_files::path(state, upload_name), req.format, &read).await.map_err(unusable)?;
    let hashes = req.hashes.then(|| job_files::hashes_name(upload_name));
    if let Some(name) = &hashes {
        crate::import::read_hash_export(&job_files::path(state, name), &read).await.map_err(unusable)?;
        params.insert("hashes".into(), json!(true));
    }
    // Reachable from every node before any node can claim the job.
    for name in std::iter::once(upload_name).chain(hashes.as_deref()) {
        job_files::share(state, name).await.map_err(|e| JobRequestError::Internal(e.to_string()))?;
    }
    let mut job = new_job(state, JobKind::UsersImport, Some(req.connection_id), params);
    job.id = id;
    job.file = Some(upload_name.to_string());
    state.store.insert_job(&job).await?;
    state.job_created.notify_one();
    Ok(job)
}

/// Stores an export job from Auth0's `users-exports` body. `with_password_hashes` adds
/// each user's hash as imported (the console offers it after the administrator's
/// password; Auth0's API has no such field).
pub async fn start_export(state: &Services, body: &Value, with_password_hashes: bool) -> Result<Job> {
    let req = export_request(body)?;
    let mut params = req.echo;
    if with_password_hashes {
        params.insert("include_password_hashes".into(), json!(true));
    }
    if let Some(id) = &req.connection_id {
        let Some(c) = state.store.connection(id).await? else {
            return Err(Error::body("The connection does not exist.").into());
        };
        params.insert("connection".into(), json!(c.name));
    }
    let job = new_job(state, JobKind::UsersExport, req.connection_id, params);
    state.store.insert_job(&job).await?;
    state.job_created.notify_one();
    Ok(job)
}

/// Stores a job that moves the legacy store's remaining users in (see
/// `legacy::migrate_remaining`): the connection must have a legacy store that can list.
pub async fn start_migrate_remaining(state: &Services, connection_id: &str) -> Result<Job> {
    if !gatehouse_core::ids::is_connection_id(connection_id) {
        return Err(Error::invalid_field("connection_id", "String does not match pattern ^con_[A-Za-z0-9]{16}$").into());
    }
    let connection =
        state.store.connection(connection_id).await?.ok_or_else(|| Error::body("The connection does not exist."))?;
    let Some(legacy) = crate::legacy::store_for(state, &connection)? else {
        return Err(Error::body(
            "The connection has no legacy store: set options.enabledDatabaseCustomization and options.legacy_store.",
        )
        .into());
    };
    if !legacy.can_list() {
        return Err(Error::body(
            "The legacy store cannot list its users: configure options.legacy_store.queries.list (sql) or list_url (http).",
        )
        .into());
    }
    let mut params = Map::new();
    params.insert("connection".into(), json!(connection.name));
    let job = new_job(state, JobKind::UsersMigrateRemaining, Some(connection_id.to_string()), params);
    state.store.insert_job(&job).await?;
    state.job_created.notify_one();
    Ok(job)
}
