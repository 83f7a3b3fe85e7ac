//! `/api/v2/jobs`: Auth0's bulk import and export jobs. Uploads are streamed to disk and
//! checked before a job exists; the work itself is the job worker's (`gatehouse_services::jobs`).

use crate::authz::{CreateUsers, ReadJobs, ReadUsers, Scoped};
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams};
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use gatehouse_core::ids::{is_connection_id, is_job_id, new_job_id};
use gatehouse_core::job::{export_request, Job, JobKind, JobStatus};
use gatehouse_migrate::{Format, ReadOptions};
use gatehouse_services::jobs::{download_location, job_file, verify_download};
use gatehouse_services::Services;
use serde_json::{json, Map, Value};
use tokio::io::AsyncWriteExt;

fn job_not_found() -> ApiError {
    ApiError::NotFound { code: "inexistent_job", message: "The job does not exist.".into() }
}

pub(super) fn new_job(
    state: &Services,
    kind: JobKind,
    connection_id: Option<String>,
    params: Map<String, Value>,
) -> Job {
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

/// The text parts of an import request.
#[derive(Default)]
struct ImportParts {
    connection_id: Option<String>,
    upsert: Option<String>,
    external_id: Option<String>,
    send_completion_email: Option<String>,
    format: Option<String>,
    file: Option<(String, u64)>,
}

fn multipart_bool(name: &str, v: Option<&str>, default: bool) -> Result<bool, ApiError> {
    match v.map(str::trim) {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(_) => {
            Err(ApiError::body(format!("Payload validation error: 'Expected type boolean' on property {name}.")))
        }
    }
}

/// `POST /api/v2/jobs/users-imports` (multipart): `users`, `connection_id`, `upsert`,
/// `external_id`, `send_completion_email`, and Gatehouse's `format` (default `auth0`).
pub async fn create_import(
    _: Scoped<CreateUsers>,
    State(state): State<Services>,
    req: Request,
) -> Result<Response, ApiError> {
    let mut multipart = Multipart::from_request(req, &())
        .await
        .map_err(|_| ApiError::body("Payload validation error: 'Invalid multipart payload format'."))?;
    let id = new_job_id();
    let upload_name = format!("{id}.upload");
    let mut upload = Upload { path: job_file(&state, &upload_name), kept: false };
    let job = accept_import(&state, &mut multipart, id, &upload_name, &upload.path).await?;
    upload.kept = true;
    state.job_created.notify_one();
    Ok((StatusCode::ACCEPTED, Json(job.to_auth0_json(None))).into_response())
}

/// An upload's file, deleted unless a job took it: after a refusal, and also when the
/// client goes away mid-upload (the handler is dropped, not returned from). A crash
/// leaves it to `gatehouse_services::jobs::sweep_orphan_files`.
struct Upload {
    path: std::path::PathBuf,
    kept: bool,
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.kept {
            // One unlink; no file when the request failed before writing any.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Reads and checks the upload, then stores the job. Any error means no job.
async fn accept_import(
    state: &Services,
    multipart: &mut Multipart,
    id: String,
    upload_name: &str,
    upload_path: &std::path::Path,
) -> Result<Job, ApiError> {
    let mut parts = ImportParts::default();
    read_import_parts(state, multipart, upload_path, &mut parts).await?;
    let (connection_id, format) = check_import(state, &parts, upload_path).await?;
    let mut params = Map::new();
    params.insert("upsert".into(), json!(multipart_bool("upsert", parts.upsert.as_deref(), false)?));
    params.insert(
        "send_completion_email".into(),
        json!(multipart_bool("send_completion_email", parts.send_completion_email.as_deref(), true)?),
    );
    if let Some(e) = &parts.external_id {
        params.insert("external_id".into(), json!(e));
    }
    if format != Format::Auth0Json {
        params.insert("format".into(), json!(format.name()));
    }
    let mut job = new_job(state, JobKind::UsersImport, Some(connection_id), params);
    job.id = id;
    job.file = Some(upload_name.to_string());
    state.store.insert_job(&job).await?;
    Ok(job)
}

async fn read_import_parts(
    state: &Services,
    multipart: &mut Multipart,
    upload_path: &std::path::Path,
    parts: &mut ImportParts,
) -> Result<(), ApiError> {
    let invalid = || ApiError::body("Payload validation error: 'Invalid multipart payload format'.");
    while let Some(mut field) = multipart.next_field().await.map_err(|_| invalid())? {
        let name = field.name().unwrap_or("").to_string();
        if name == "users" {
            if parts.file.is_some() {
                return Err(ApiError::body("Payload validation error: 'users given more than once'."));
            }
            if let Some(dir) = upload_path.parent() {
                tokio::fs::create_dir_all(dir).await.map_err(ApiError::internal)?;
            }
            let mut file = tokio::fs::File::create(upload_path).await.map_err(ApiError::internal)?;
            let mut size = 0u64;
            let max = state.config.jobs.max_import_bytes;
            while let Some(chunk) = field.chunk().await.map_err(|_| invalid())? {
                size += chunk.len() as u64;
                if size > max {
                    return Err(ApiError::PayloadTooLarge(usize::try_from(max).unwrap_or(usize::MAX)));
                }
                file.write_all(&chunk).await.map_err(ApiError::internal)?;
            }
            file.flush().await.map_err(ApiError::internal)?;
            parts.file = Some((field.file_name().unwrap_or("users.json").to_string(), size));
            continue;
        }
        let slot = match name.as_str() {
            "connection_id" => &mut parts.connection_id,
            "upsert" => &mut parts.upsert,
            "external_id" => &mut parts.external_id,
            "send_completion_email" => &mut parts.send_completion_email,
            "format" => &mut parts.format,
            other => {
                return Err(ApiError::body(format!(
                    "Payload validation error: 'Additional properties not allowed: {other}'."
                )))
            }
        };
        let text = field.text().await.map_err(|_| invalid())?;
        if text.len() > 1024 {
            return Err(ApiError::body(format!("Payload validation error: 'String is too long' on property {name}.")));
        }
        *slot = Some(text);
    }
    Ok(())
}

/// Auth0's checks, in Auth0's order, then the file's syntax: a bad file never becomes a job.
async fn check_import(
    state: &Services,
    parts: &ImportParts,
    upload: &std::path::Path,
) -> Result<(String, Format), ApiError> {
    let Some((_, size)) = &parts.file else {
        return Err(ApiError::body("Must provide 'users' file as multipart part."));
    };
    if *size == 0 {
        return Err(ApiError::body("Users file must not be empty."));
    }
    let Some(connection_id) = parts.connection_id.clone() else {
        return Err(ApiError::body("Must provide 'connection_id' as multipart part."));
    };
    if !is_connection_id(&connection_id) {
        return Err(ApiError::body(
            "Payload validation error: 'String does not match pattern ^con_[A-Za-z0-9]{16}$' on property connection_id.",
        ));
    }
    let Some(connection) = state.store.connection(&connection_id).await? else {
        return Err(ApiError::body("The connection does not exist."));
    };
    if connection.strategy != "auth0" {
        return Err(ApiError::body("Connection must be a database connection."));
    }
    let custom_db = connection.options.get("enabledDatabaseCustomization").and_then(Value::as_bool) == Some(true);
    let import_mode = connection.options.get("import_mode").and_then(Value::as_bool) == Some(true);
    if custom_db && !import_mode {
        return Err(ApiError::body("Custom Database Connections without import mode are not allowed."));
    }
    let format = match parts.format.as_deref() {
        None => Format::Auth0Json,
        Some(f) => f.parse::<Format>().map_err(|_| {
            ApiError::body("Payload validation error: 'format must be one of auth0, ndjson, csv, firebase, keycloak, kratos' on property format.")
        })?,
    };
    gatehouse_services::import::check(upload, format, &ReadOptions::for_connection(&connection)).await.map_err(
        |e| match e {
            gatehouse_services::import::ImportError::UnusableFile(m) => ApiError::body(m),
            other => ApiError::internal(other),
        },
    )?;
    Ok((connection_id, format))
}

/// `POST /api/v2/jobs/users-exports`.
pub async fn create_export(
    _: Scoped<ReadUsers>,
    State(state): State<Services>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let req = export_request(&body)?;
    let mut params = req.echo;
    if let Some(id) = &req.connection_id {
        let Some(c) = state.store.connection(id).await? else {
            return Err(ApiError::body("The connection does not exist."));
        };
        params.insert("connection".into(), json!(c.name));
    }
    let job = new_job(&state, JobKind::UsersExport, req.connection_id, params);
    state.store.insert_job(&job).await?;
    state.job_created.notify_one();
    Ok((StatusCode::CREATED, Json(job.to_auth0_json(None))).into_response())
}

/// `POST /api/v2/jobs/users-migrate-remaining` (a Gatehouse extension): `{"connection_id"}`.
/// Bulk-imports the legacy store's users that have not migrated yet (see
/// `gatehouse_services::legacy::migrate_remaining`).
pub async fn create_migrate_remaining(
    _: Scoped<CreateUsers>,
    State(state): State<Services>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let Value::Object(m) = &body else {
        return Err(ApiError::body("Payload validation error: 'Expected type object'."));
    };
    if let Some(k) = m.keys().find(|k| *k != "connection_id") {
        return Err(ApiError::body(format!("Payload validation error: 'Additional properties not allowed: {k}'.")));
    }
    let connection_id = match m.get("connection_id") {
        Some(Value::String(s)) if is_connection_id(s) => s.clone(),
        Some(_) => {
            return Err(ApiError::body(
                "Payload validation error: 'String does not match pattern ^con_[A-Za-z0-9]{16}$' on property connection_id.",
            ))
        }
        None => return Err(ApiError::body("Payload validation error: 'Missing required property: connection_id'.")),
    };
    let connection = state
        .store
        .connection(&connection_id)
        .await?
        .ok_or_else(|| ApiError::body("The connection does not exist."))?;
    let Some(legacy) = gatehouse_services::legacy::store_for(&state, &connection)? else {
        return Err(ApiError::body(
            "The connection has no legacy store: set options.enabledDatabaseCustomization and options.legacy_store.",
        ));
    };
    if !legacy.can_list() {
        return Err(ApiError::body(
            "The legacy store cannot list its users: configure options.legacy_store.queries.list (sql) or list_url (http).",
        ));
    }
    let mut params = Map::new();
    params.insert("connection".into(), json!(connection.name));
    let job = new_job(&state, JobKind::UsersMigrateRemaining, Some(connection_id), params);
    state.store.insert_job(&job).await?;
    state.job_created.notify_one();
    Ok((StatusCode::CREATED, Json(job.to_auth0_json(None))).into_response())
}

async fn load(state: &Services, id: &str) -> Result<Job, ApiError> {
    if !is_job_id(id) {
        return Err(ApiError::body(
            "Path validation error: 'String does not match pattern ^job_[A-Za-z0-9]{16}$' on property id.",
        ));
    }
    state.store.job(id).await?.ok_or_else(job_not_found)
}

/// `GET /api/v2/jobs/{id}`: a finished export carries a fresh signed `location`.
pub async fn get_one(
    _: Scoped<ReadJobs>,
    State(state): State<Services>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let job = load(&state, &id).await?;
    Ok(Json(job.to_auth0_json(download_location(&state, &job))))
}

/// `GET /api/v2/jobs/{id}/errors`: 200 with each failed user and its errors, 204 when
/// there are none. Gatehouse pages with `from` (a record index) and `take`.
pub async fn errors(
    _: Scoped<ReadJobs>,
    State(state): State<Services>,
    Path(id): Path<String>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    q.allow(&["from", "take"])?;
    let job = load(&state, &id).await?;
    let after = match q.str("from") {
        None => None,
        Some(f) => Some(
            f.parse::<i64>()
                .map_err(|_| ApiError::query("Query validation error: 'from must be an integer' on property from."))?,
        ),
    };
    let take = q.u32_in("take", 1, 100_000)?.unwrap_or(100_000);
    let list = state.store.job_errors(&job.id, after, take).await?;
    if list.is_empty() && after.is_none() {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok(Json(Value::Array(list)).into_response())
}

/// `GET /api/v2/jobs/{id}/download?expires=…&signature=…`: the export file, to whoever
/// holds an unexpired signed link (no other credentials, like Auth0's signed URLs).
pub async fn download(
    State(state): State<Services>,
    Path(id): Path<String>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    q.allow(&["expires", "signature"])?;
    let denied = || ApiError::Forbidden("The download link is invalid or has expired.".into());
    let expires = q.str("expires").and_then(|e| e.parse::<i64>().ok()).ok_or_else(denied)?;
    let signature = q.str("signature").ok_or_else(denied)?;
    if !verify_download(&state, &id, expires, signature) {
        return Err(denied());
    }
    let job = state.store.job(&id).await?.ok_or_else(job_not_found)?;
    let Some(name) = job.file.as_deref().filter(|_| job.kind == JobKind::UsersExport) else {
        return Err(job_not_found());
    };
    let file = tokio::fs::File::open(job_file(&state, name)).await.map_err(|_| job_not_found())?;
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    Ok((
        [
            (CONTENT_TYPE, "application/gzip".to_string()),
            (CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
            (CACHE_CONTROL, "private, no-store".to_string()),
        ],
        body,
    )
        .into_response())
}
