//! `/api/v2/jobs`: Auth0's bulk import and export jobs. Uploads are streamed to disk and
//! checked before a job exists; the work itself is the job worker's (`gatehouse_services::jobs`).

use crate::authz::{CreateUsers, ReadJobs, ReadUsers, Scoped};
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams};
use crate::upload::{self, Upload, UploadError};
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use gatehouse_core::ids::{is_job_id, new_job_id};
use gatehouse_core::job::{Job, JobKind};
use gatehouse_migrate::Format;
use gatehouse_services::job_files;
use gatehouse_services::job_requests::{self, ImportJobRequest};
use gatehouse_services::jobs::{download_location, verify_download};
use gatehouse_services::Services;
use serde_json::Value;

fn job_not_found() -> ApiError {
    ApiError::NotFound { code: "inexistent_job", message: "The job does not exist.".into() }
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
    /// The size of Gatehouse's `hashes` part: Auth0's password-hash export.
    hashes: Option<u64>,
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
/// `external_id`, `send_completion_email`, and Gatehouse's `format` (default `auth0`) and
/// `hashes` (Auth0's password-hash export, joined by id into `users`).
pub async fn create_import(
    _: Scoped<CreateUsers>,
    State(state): State<Services>,
    req: Request,
) -> Result<Response, ApiError> {
    let mut multipart = Multipart::from_request(req, &())
        .await
        .map_err(|_| ApiError::body("Payload validation error: 'Invalid multipart payload format'."))?;
    let id = new_job_id();
    let upload_name = job_files::upload_name(&id);
    let mut upload = Upload { path: job_files::path(&state, &upload_name), kept: false };
    let mut hashes = Upload { path: job_files::path(&state, &job_files::hashes_name(&upload_name)), kept: false };
    let job = accept_import(&state, &mut multipart, id, &upload_name).await?;
    upload.kept = true;
    hashes.kept = true;
    state.job_created.notify_one();
    Ok((StatusCode::ACCEPTED, Json(job.to_auth0_json(None))).into_response())
}

/// Reads the upload, then checks it and stores the job. Any error means no job.
async fn accept_import(
    state: &Services,
    multipart: &mut Multipart,
    id: String,
    upload_name: &str,
) -> Result<Job, ApiError> {
    let mut parts = ImportParts::default();
    read_import_parts(state, multipart, upload_name, &mut parts).await?;
    let req = import_request(&parts)?;
    Ok(job_requests::start_import(state, id, upload_name, req).await?)
}

async fn read_import_parts(
    state: &Services,
    multipart: &mut Multipart,
    upload_name: &str,
    parts: &mut ImportParts,
) -> Result<(), ApiError> {
    let invalid = || ApiError::body("Payload validation error: 'Invalid multipart payload format'.");
    while let Some(mut field) = multipart.next_field().await.map_err(|_| invalid())? {
        let name = field.name().unwrap_or("").to_string();
        if name == "users" || name == "hashes" {
            let (file, given) = if name == "users" {
                (upload_name.to_string(), parts.file.is_some())
            } else {
                (job_files::hashes_name(upload_name), parts.hashes.is_some())
            };
            let path = job_files::path(state, &file);
            if given {
                return Err(ApiError::body(format!("Payload validation error: '{name} given more than once'.")));
            }
            let size =
                upload::save(&mut field, &path, state.config.jobs.max_import_bytes).await.map_err(|e| match e {
                    UploadError::TooLarge(max) => ApiError::PayloadTooLarge(usize::try_from(max).unwrap_or(usize::MAX)),
                    UploadError::Malformed => invalid(),
                    UploadError::Io(e) => ApiError::internal(e),
                })?;
            if name == "users" {
                parts.file = Some((field.file_name().unwrap_or("users.json").to_string(), size));
            } else {
                parts.hashes = Some(size);
            }
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

/// Auth0's checks of the parts, in Auth0's order (the connection and the file's syntax
/// are checked by `job_requests::start_import`).
fn import_request(parts: &ImportParts) -> Result<ImportJobRequest, ApiError> {
    let Some((_, size)) = &parts.file else {
        return Err(ApiError::body("Must provide 'users' file as multipart part."));
    };
    if *size == 0 {
        return Err(ApiError::body("Users file must not be empty."));
    }
    if parts.hashes == Some(0) {
        return Err(ApiError::body("The hashes file must not be empty."));
    }
    let Some(connection_id) = parts.connection_id.clone() else {
        return Err(ApiError::body("Must provide 'connection_id' as multipart part."));
    };
    let format = match parts.format.as_deref() {
        None => Format::Auth0Json,
        Some(f) => f.parse::<Format>().map_err(|_| {
            ApiError::body("Payload validation error: 'format must be one of auth0, ndjson, csv, firebase, keycloak, kratos' on property format.")
        })?,
    };
    Ok(ImportJobRequest {
        connection_id,
        format,
        upsert: multipart_bool("upsert", parts.upsert.as_deref(), false)?,
        send_completion_email: multipart_bool("send_completion_email", parts.send_completion_email.as_deref(), true)?,
        external_id: parts.external_id.clone(),
        csv_columns: None,
        hashes: parts.hashes.is_some(),
    })
}

/// `POST /api/v2/jobs/users-exports`.
pub async fn create_export(
    _: Scoped<ReadUsers>,
    State(state): State<Services>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let job = job_requests::start_export(&state, &body, false).await?;
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
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            return Err(ApiError::body("Payload validation error: 'Expected type string' on property connection_id."))
        }
        None => return Err(ApiError::body("Payload validation error: 'Missing required property: connection_id'.")),
    };
    let job = job_requests::start_migrate_remaining(&state, &connection_id).await?;
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
    let path = job_files::fetch(&state, name).await.map_err(ApiError::internal)?.ok_or_else(job_not_found)?;
    let file = tokio::fs::File::open(path).await.map_err(|_| job_not_found())?;
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
