//! The console's imports, exports and jobs: upload a users file (any supported format),
//! map CSV columns and look at the first records as the import will see them, then start
//! the job and watch it (the page refreshes itself with JavaScript, or by a link
//! without); its per-record errors are shown and downloadable. Exports pick a format
//! and fields; password hashes only after the administrator's password. Jobs are the
//! Management API's jobs (`gatehouse_services::job_requests`), run by the same worker.

use super::{reauthenticate, AdminForm, Console, ConsoleError, Page};
use crate::auth::ClientIp;
use crate::upload::{self, Upload, UploadError};
use axum::extract::{Multipart, Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use gatehouse_core::ids::{is_job_id, new_job_id};
use gatehouse_core::job::{Job, JobStatus};
use gatehouse_migrate::{importable_fields, Format};
use gatehouse_services::job_files::{self, upload_name, JobFileError};
use gatehouse_services::job_requests::{self, ImportJobRequest, JobRequestError};
use gatehouse_services::jobs::download_location;
use gatehouse_services::Services;
use minijinja::{context, Value as View};
use serde_json::{json, Value};
use std::collections::HashMap;

/// Records shown before an import starts.
const PREVIEW_RECORDS: usize = 10;
/// Per-record errors shown on a job's page (all of them are downloadable).
const ERRORS_SHOWN: u32 = 50;

impl From<JobRequestError> for ConsoleError {
    fn from(e: JobRequestError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<JobFileError> for ConsoleError {
    fn from(e: JobFileError) -> Self {
        Self::Internal(e.to_string())
    }
}

/// This node's copy of upload `id` (which may have come in on another node).
async fn fetched_upload(state: &Services, id: &str) -> Result<std::path::PathBuf, ConsoleError> {
    job_files::fetch(state, &upload_name(id))
        .await?
        .ok_or(ConsoleError::NotFound("upload (it was started already, or swept)"))
}

/// The formats an import reads, as the form offers them.
fn formats() -> Vec<View> {
    [
        (Format::Auth0Json, "Auth0 bulk import (JSON array)"),
        (Format::Ndjson, "NDJSON (Auth0 or Gatehouse export)"),
        (Format::Csv, "CSV (columns mapped next)"),
        (Format::Firebase, "Firebase (auth:export)"),
        (Format::Keycloak, "Keycloak (realm export)"),
        (Format::Kratos, "Ory Kratos (identities)"),
    ]
    .into_iter()
    .map(|(f, label)| context! { value => f.name(), label })
    .collect()
}

async fn database_connections(state: &Services) -> Result<Vec<View>, ConsoleError> {
    let (connections, _) = state.store.connections(Some("auth0"), None, None, 0, 100).await?;
    Ok(connections.iter().map(|c| context! { id => c.id, name => c.name }).collect())
}

/// `GET /admin/jobs`: the import and export forms' entry, and recent jobs.
pub async fn list(console: Console, State(state): State<Services>) -> Result<Page, ConsoleError> {
    let jobs = state.store.recent_jobs(50).await?;
    let names = connection_names(&state).await?;
    let jobs: Vec<View> = jobs.iter().map(|j| job_view(j, &names)).collect();
    console.page(StatusCode::OK, "jobs.html", context! { title => "Imports and exports", nav => "jobs", jobs })
}

/// `GET /admin/import`: the upload form.
pub async fn import_form(console: Console, State(state): State<Services>) -> Result<Page, ConsoleError> {
    upload_page(&console, &state, StatusCode::OK, None).await
}

async fn upload_page(
    console: &Console,
    state: &Services,
    status: StatusCode,
    error: Option<String>,
) -> Result<Page, ConsoleError> {
    console.page(
        status,
        "import.html",
        context! {
            title => "Import users",
            nav => "jobs",
            connections => database_connections(state).await?,
            formats => formats(),
            max_bytes => state.config.jobs.max_import_bytes,
            error,
        },
    )
}

/// What the import form says besides the file.
#[derive(Default)]
struct ImportChoice {
    connection_id: String,
    format: String,
    upsert: bool,
    send_completion_email: bool,
}

impl ImportChoice {
    fn from_fields(fields: &HashMap<String, String>) -> Self {
        let get = |k: &str| fields.get(k).cloned().unwrap_or_default();
        Self {
            connection_id: get("connection_id"),
            format: get("format"),
            upsert: fields.contains_key("upsert"),
            send_completion_email: fields.contains_key("send_completion_email"),
        }
    }

    fn format(&self) -> Result<Format, String> {
        self.format.parse::<Format>().map_err(|_| format!("{:?} is not a format Gatehouse reads.", self.format))
    }
}

/// `POST /admin/import` (multipart: `csrf` first, then the choices and `users`): stores
/// the upload and shows its first records. No job exists until the administrator starts it.
pub async fn upload(
    console: Console,
    State(state): State<Services>,
    mut multipart: Multipart,
) -> Result<Response, ConsoleError> {
    let id = new_job_id();
    let mut file = Upload { path: job_files::path(&state, &upload_name(&id)), kept: false };
    let mut fields = HashMap::new();
    let mut size = None;
    let mut checked = false;
    while let Some(mut field) = multipart.next_field().await.map_err(|_| ConsoleError::BadForm("malformed"))? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "csrf" {
            let token = field.text().await.map_err(|_| ConsoleError::BadForm("malformed"))?;
            console.check(&token)?;
            checked = true;
            continue;
        }
        if !checked {
            // The token comes first, so nothing is stored for a forged form.
            return Err(ConsoleError::Csrf);
        }
        if name == "users" {
            size = match upload::save(&mut field, &file.path, state.config.jobs.max_import_bytes).await {
                Ok(n) => Some(n),
                Err(UploadError::TooLarge(max)) => {
                    let error =
                        format!("The file is larger than the import limit ({max} bytes, jobs.max_import_bytes).");
                    return Ok(upload_page(&console, &state, StatusCode::PAYLOAD_TOO_LARGE, Some(error))
                        .await?
                        .into_response());
                }
                Err(UploadError::Malformed) => return Err(ConsoleError::BadForm("cut short")),
                Err(UploadError::Io(e)) => return Err(ConsoleError::Internal(e.to_string())),
            };
        } else {
            let text = field.text().await.map_err(|_| ConsoleError::BadForm("malformed"))?;
            fields.insert(name, text.chars().take(256).collect::<String>());
        }
    }
    if !checked {
        return Err(ConsoleError::Csrf);
    }
    let choice = ImportChoice::from_fields(&fields);
    if size.unwrap_or(0) == 0 {
        let error = "Choose a users file: none was sent, or it is empty.".to_string();
        return Ok(upload_page(&console, &state, StatusCode::BAD_REQUEST, Some(error)).await?.into_response());
    }
    let (page, previewed) = preview_page(&console, &state, &id, &choice, None, None).await?;
    // Kept for the next step (a mapping, a start), which any node may serve; an abandoned
    // upload is swept with the orphan files.
    if previewed {
        job_files::share(&state, &upload_name(&id)).await?;
    }
    file.kept = previewed;
    Ok(page.into_response())
}

/// The preview of upload `id`, with `mapping` for a CSV file and `error` from a refused
/// start; and whether it is the preview (`false`: the upload form again, the upload
/// unusable with these choices).
async fn preview_page(
    console: &Console,
    state: &Services,
    id: &str,
    choice: &ImportChoice,
    mapping: Option<Vec<(String, String)>>,
    error: Option<String>,
) -> Result<(Page, bool), ConsoleError> {
    let refuse = |error: String| async move {
        Ok((upload_page(console, state, StatusCode::BAD_REQUEST, Some(error)).await?, false))
    };
    let format = match choice.format() {
        Ok(f) => f,
        Err(e) => return refuse(e).await,
    };
    let connection = match job_requests::import_connection(state, &choice.connection_id).await {
        Ok(c) => c,
        Err(JobRequestError::Refused(e)) => return refuse(e.to_string()).await,
        Err(e) => return Err(e.into()),
    };
    let mut params = serde_json::Map::new();
    if let Some(m) = &mapping {
        params.insert("csv_columns".into(), json!(m));
    }
    let read = job_requests::read_options(&connection, &params);
    let path = fetched_upload(state, id).await?;
    let hasher = std::sync::Arc::new(state.hashing.hasher().clone());
    let preview = match gatehouse_services::import::preview(
        &path,
        format,
        &read,
        &connection,
        hasher,
        &state.now(),
        PREVIEW_RECORDS,
    )
    .await
    {
        Ok(p) => p,
        Err(gatehouse_services::import::ImportError::UnusableFile(m)) => return refuse(m).await,
        Err(e) => return Err(ConsoleError::Internal(e.to_string())),
    };
    let mapped: HashMap<&str, &str> =
        mapping.iter().flatten().map(|(title, field)| (title.as_str(), field.as_str())).collect();
    let columns: Vec<View> = preview
        .columns
        .iter()
        .flatten()
        .map(|(title, own)| {
            let chosen = if mapping.is_some() { mapped.get(title.as_str()).copied() } else { own.as_deref() };
            context! { title, chosen => chosen.unwrap_or("") }
        })
        .collect();
    let status = if preview.problem.is_some() || error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let page = console.page(
        status,
        "import-preview.html",
        context! {
            title => "Check the import",
            nav => "jobs",
            upload => id,
            connection => context! { id => connection.id, name => connection.name },
            format => format.name(),
            upsert => choice.upsert,
            send_completion_email => choice.send_completion_email,
            total => preview.total,
            problem => preview.problem,
            records => preview.records,
            columns,
            fields => importable_fields(),
            error,
        },
    )?;
    Ok((page, true))
}

/// `POST /admin/import/{upload}`: look again with a (new) column mapping, or start.
pub async fn decide(
    State(state): State<Services>,
    Path(id): Path<String>,
    AdminForm { console, form }: AdminForm<HashMap<String, String>>,
) -> Result<Response, ConsoleError> {
    if !is_job_id(&id) {
        return Err(ConsoleError::NotFound("upload"));
    }
    let choice = ImportChoice::from_fields(&form);
    // `title_<i>` names column i, `column_<i>` the field it goes to ("" ignores it).
    let mapping = choice.format().ok().filter(|f| *f == Format::Csv).map(|_| {
        let mut pairs: Vec<(usize, String, String)> = form
            .iter()
            .filter_map(|(k, title)| {
                let i: usize = k.strip_prefix("title_")?.parse().ok()?;
                let field = form.get(&format!("column_{i}")).filter(|f| !f.is_empty())?;
                Some((i, title.clone(), field.clone()))
            })
            .collect();
        pairs.sort();
        pairs.into_iter().map(|(_, t, f)| (t, f)).collect::<Vec<_>>()
    });
    if form.get("action").map(String::as_str) != Some("start") {
        return Ok(preview_page(&console, &state, &id, &choice, mapping, None).await?.0.into_response());
    }
    let format = choice.format().map_err(|_| ConsoleError::BadForm("malformed"))?;
    fetched_upload(&state, &id).await?;
    let req = ImportJobRequest {
        connection_id: choice.connection_id.clone(),
        format,
        upsert: choice.upsert,
        send_completion_email: choice.send_completion_email,
        external_id: None,
        csv_columns: mapping.clone().filter(|m| !m.is_empty()),
        hashes: false,
    };
    match job_requests::start_import(&state, id.clone(), &upload_name(&id), req).await {
        Ok(job) => Ok(super::view::see_other(&format!("/admin/jobs/{}", job.id), Vec::new())),
        Err(JobRequestError::Refused(e)) => {
            Ok(preview_page(&console, &state, &id, &choice, mapping, Some(e.to_string())).await?.0.into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// Connection names by id, for naming the jobs' connections.
async fn connection_names(state: &Services) -> Result<HashMap<String, String>, ConsoleError> {
    let (connections, _) = state.store.connections(None, None, None, 0, 100).await?;
    Ok(connections.into_iter().map(|c| (c.id, c.name)).collect())
}

fn job_view(job: &Job, names: &HashMap<String, String>) -> View {
    let n = |k: &str| job.summary.as_ref().and_then(|s| s.get(k)).and_then(Value::as_u64);
    context! {
        id => job.id,
        kind => job.kind.as_str(),
        status => job.status.as_str(),
        finished => matches!(job.status, JobStatus::Completed | JobStatus::Failed),
        connection => job.connection_id.as_ref().and_then(|id| names.get(id)),
        percentage_done => job.percentage_done,
        time_left_seconds => job.time_left_seconds,
        status_details => job.status_details,
        total => n("total"),
        inserted => n("inserted"),
        updated => n("updated"),
        failed => n("failed"),
        created_at => job.created_at,
        updated_at => job.updated_at,
    }
}

async fn load(state: &Services, id: &str) -> Result<Job, ConsoleError> {
    if !is_job_id(id) {
        return Err(ConsoleError::NotFound("job"));
    }
    state.store.job(id).await?.ok_or(ConsoleError::NotFound("job"))
}

/// `GET /admin/jobs/{id}`: a job's progress, errors and download.
pub async fn show(
    console: Console,
    State(state): State<Services>,
    Path(id): Path<String>,
) -> Result<Page, ConsoleError> {
    let job = load(&state, &id).await?;
    let errors = state.store.job_errors(&job.id, None, ERRORS_SHOWN).await?;
    let errors: Vec<View> = errors
        .iter()
        .map(|e| {
            let user = &e["user"];
            let text = |k: &str| user.get(k).and_then(Value::as_str).map(str::to_string);
            let problems: Vec<String> = e["errors"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| {
                    let path = f["path"].as_str().unwrap_or_default();
                    let message = f["message"].as_str().unwrap_or_default();
                    if path.is_empty() { message.to_string() } else { format!("{path}: {message}") }
                })
                .collect();
            context! { number => e["index"].as_u64().map(|i| i + 1), email => text("email").or(text("username")), problems }
        })
        .collect();
    console.page(
        StatusCode::OK,
        "job.html",
        context! {
            title => format!("Job {}", job.id),
            nav => "jobs",
            job => job_view(&job, &connection_names(&state).await?),
            errors,
            download => download_location(&state, &job),
        },
    )
}

/// `GET /admin/jobs/{id}/progress`: the job as the page's script refreshes it.
pub async fn progress(
    _: Console,
    State(state): State<Services>,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let job = load(&state, &id).await?;
    let mut r = Json(json!({
        "status": job.status.as_str(),
        "percentage_done": job.percentage_done,
        "time_left_seconds": job.time_left_seconds,
        "summary": job.summary,
    }))
    .into_response();
    r.headers_mut().insert(CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    Ok(r)
}

/// `GET /admin/jobs/{id}/errors.json`: every failed record of an import, as the
/// Management API's `/jobs/{id}/errors` gives them, as a download.
pub async fn errors_download(
    _: Console,
    State(state): State<Services>,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let job = load(&state, &id).await?;
    let errors = state.store.job_errors(&job.id, None, u32::MAX).await?;
    let body = serde_json::to_vec_pretty(&errors).map_err(|e| ConsoleError::Internal(e.to_string()))?;
    Ok((
        [
            (CONTENT_TYPE, "application/json".to_string()),
            (CONTENT_DISPOSITION, format!("attachment; filename=\"{}-errors.json\"", job.id)),
            (CACHE_CONTROL, "private, no-store".to_string()),
        ],
        body,
    )
        .into_response())
}

/// Fields an export offers (Auth0's export field names).
const EXPORT_FIELDS: &[&str] = &[
    "user_id",
    "email",
    "email_verified",
    "username",
    "name",
    "given_name",
    "family_name",
    "nickname",
    "picture",
    "phone_number",
    "blocked",
    "created_at",
    "updated_at",
    "last_login",
    "logins_count",
    "user_metadata",
    "app_metadata",
    "identities[0].connection",
    "roles",
];

/// `GET /admin/export`.
pub async fn export_form(console: Console, State(state): State<Services>) -> Result<Page, ConsoleError> {
    export_page(&console, &state, StatusCode::OK, None).await
}

async fn export_page(
    console: &Console,
    state: &Services,
    status: StatusCode,
    error: Option<String>,
) -> Result<Page, ConsoleError> {
    let (connections, _) = state.store.connections(None, None, None, 0, 100).await?;
    console.page(
        status,
        "export.html",
        context! {
            title => "Export users",
            nav => "jobs",
            connections => connections.iter().map(|c| context! { id => c.id, name => c.name }).collect::<Vec<_>>(),
            fields => EXPORT_FIELDS,
            default_fields => ["user_id", "email", "email_verified", "name", "created_at", "last_login"],
            error,
        },
    )
}

/// `POST /admin/export`: `connection_id` (or all), `format`, each ticked `field`,
/// `limit`, and `password_hashes` with the administrator's `password`.
pub async fn export(
    State(state): State<Services>,
    ip: ClientIp,
    AdminForm { console, form }: AdminForm<Vec<(String, String)>>,
) -> Result<Response, ConsoleError> {
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty());
    let with_hashes = get("password_hashes").is_some();
    let fields: Vec<Value> = form.iter().filter(|(n, _)| n == "field").map(|(_, v)| json!({ "name": v })).collect();
    let mut body = serde_json::Map::new();
    body.insert("format".into(), json!(get("format").unwrap_or("csv")));
    if let Some(c) = get("connection_id") {
        body.insert("connection_id".into(), json!(c));
    }
    if let Some(limit) = get("limit") {
        match limit.parse::<u64>() {
            Ok(n) => body.insert("limit".into(), json!(n)),
            Err(_) => {
                let error = "The limit must be a whole number.".to_string();
                return Ok(export_page(&console, &state, StatusCode::BAD_REQUEST, Some(error)).await?.into_response());
            }
        };
    }
    // With hashes and no fields, the file is exactly an Auth0 import file.
    if !fields.is_empty() && !with_hashes {
        body.insert("fields".into(), Value::Array(fields));
    }
    if with_hashes {
        if let Err(why) = reauthenticate(&state, &console, get("password").unwrap_or_default(), ip.0.as_deref()).await {
            return Ok(export_page(&console, &state, StatusCode::FORBIDDEN, Some(why)).await?.into_response());
        }
    }
    match job_requests::start_export(&state, &Value::Object(body), with_hashes).await {
        Ok(job) => Ok(super::view::see_other(&format!("/admin/jobs/{}", job.id), Vec::new())),
        Err(JobRequestError::Refused(e)) => {
            Ok(export_page(&console, &state, StatusCode::BAD_REQUEST, Some(e.to_string())).await?.into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /admin/connections/{id}/migrate-remaining`: moves the legacy store's remaining
/// users in, as a job.
pub async fn migrate_remaining(
    State(state): State<Services>,
    Path(connection_id): Path<String>,
    AdminForm { .. }: AdminForm<HashMap<String, String>>,
) -> Result<Response, ConsoleError> {
    match job_requests::start_migrate_remaining(&state, &connection_id).await {
        Ok(job) => Ok(super::view::see_other(&format!("/admin/jobs/{}", job.id), Vec::new())),
        Err(JobRequestError::Refused(e)) => Ok(super::message(
            StatusCode::BAD_REQUEST,
            "Cannot migrate the remaining users",
            &e.to_string(),
            Some(("/admin", "Back to the console")),
        )),
        Err(e) => Err(e.into()),
    }
}
