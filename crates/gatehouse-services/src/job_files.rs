//! Job files: an import's upload (and the Auth0 password-hash export beside it) and an
//! export's result. Each is written and read in this node's job directory
//! (`<data_dir>/jobs`). Where nodes share no disk ([`JobFileStorage::Database`], the
//! default on PostgreSQL) each is also kept in the database, chunk by chunk, so that a
//! job started on one node is previewed, run, resumed or downloaded on any other:
//! [`share`] once a file is written, [`fetch`] before one is read, [`delete`] when its
//! job is done with it. None of them holds more than one chunk in memory.

use crate::Services;
use gatehouse_store::{Dialect, StoreError};
use rand::Rng;
use std::path::PathBuf;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Where job files are kept besides the node's own job directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobFileStorage {
    /// Only the job directory: one node, or nodes that mount one disk there.
    Directory,
    /// Also the database, so that nodes share nothing but it.
    Database,
}

impl JobFileStorage {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "directory" => Some(Self::Directory),
            "database" => Some(Self::Database),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Directory => "directory",
            Self::Database => "database",
        }
    }
}

/// The size of a stored chunk: large enough that a 1 GB file is a thousand rows, small
/// enough to sit in memory while it is written or read.
pub const CHUNK_BYTES: usize = 1024 * 1024;

/// Why a job file could not be shared or fetched.
#[derive(Debug, thiserror::Error)]
pub enum JobFileError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("job file {name}: {source}")]
    Io { name: String, source: std::io::Error },
    #[error("job file {name}: the stored copy holds {found} of its {size} bytes")]
    Incomplete { name: String, size: u64, found: u64 },
}

/// Where job file `name` is read and written on this node.
pub fn path(state: &Services, name: &str) -> PathBuf {
    state.config.data_dir.join("jobs").join(name)
}

/// Where this deployment keeps job files: as configured (`[jobs] files`), or in the
/// database on PostgreSQL (the backend of many nodes) and in the directory on SQLite.
pub fn storage(state: &Services) -> JobFileStorage {
    state.config.jobs.files.unwrap_or(match state.store.dialect() {
        Dialect::Postgres => JobFileStorage::Database,
        Dialect::Sqlite => JobFileStorage::Directory,
    })
}

fn io(name: &str) -> impl Fn(std::io::Error) -> JobFileError + '_ {
    move |source| JobFileError::Io { name: name.to_string(), source }
}

/// Makes this node's job file `name` reachable from every node. A copy of the same size
/// stored already is kept: a file is written once under its name (the console shares an
/// upload for its preview, then starts the import, which shares it again).
pub async fn share(state: &Services, name: &str) -> Result<(), JobFileError> {
    if storage(state) == JobFileStorage::Directory {
        return Ok(());
    }
    let mut file = tokio::fs::File::open(path(state, name)).await.map_err(io(name))?;
    let size = file.metadata().await.map_err(io(name))?.len();
    if state.store.job_file_size(name).await?.and_then(|s| u64::try_from(s).ok()) == Some(size) {
        return Ok(());
    }
    state.store.begin_job_file(name, &state.now()).await?;
    let (mut seq, mut stored) = (0i64, 0u64);
    loop {
        let mut chunk = Vec::with_capacity(CHUNK_BYTES);
        (&mut file).take(CHUNK_BYTES as u64).read_to_end(&mut chunk).await.map_err(io(name))?;
        if chunk.is_empty() {
            break;
        }
        stored += chunk.len() as u64;
        state.store.put_job_file_chunk(name, seq, chunk).await?;
        seq += 1;
    }
    state.store.complete_job_file(name, i64::try_from(stored).unwrap_or(i64::MAX)).await?;
    Ok(())
}

/// This node's copy of job file `name`, first fetched from the database when this node
/// has none or one of another size (left by an earlier run); `None` when the file is
/// nowhere.
pub async fn fetch(state: &Services, name: &str) -> Result<Option<PathBuf>, JobFileError> {
    let local_path = path(state, name);
    let local = tokio::fs::metadata(&local_path).await.ok().filter(|m| m.is_file()).map(|m| m.len());
    let stored = match storage(state) {
        JobFileStorage::Directory => None,
        JobFileStorage::Database => state.store.job_file_size(name).await?.and_then(|s| u64::try_from(s).ok()),
    };
    let Some(size) = stored.filter(|size| local != Some(*size)) else {
        return Ok(local.map(|_| local_path));
    };
    // Fetched under a name of its own and renamed when whole, so a reader never sees
    // part of a file and two fetches on one node do not mix.
    let partial = local_path.with_file_name(format!("{name}.fetch-{:016x}", rand::thread_rng().gen::<u64>()));
    let fetched = fetch_into(state, name, size, &partial).await;
    if fetched.is_err() {
        let _ = tokio::fs::remove_file(&partial).await;
    }
    fetched?;
    tokio::fs::rename(&partial, &local_path).await.map_err(io(name))?;
    Ok(Some(local_path))
}

async fn fetch_into(state: &Services, name: &str, size: u64, to: &std::path::Path) -> Result<(), JobFileError> {
    if let Some(dir) = to.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(io(name))?;
    }
    let mut out = tokio::fs::File::create(to).await.map_err(io(name))?;
    let (mut seq, mut found) = (0i64, 0u64);
    while found < size {
        let Some(chunk) = state.store.job_file_chunk(name, seq).await? else { break };
        out.write_all(&chunk).await.map_err(io(name))?;
        found += chunk.len() as u64;
        seq += 1;
    }
    if found != size {
        return Err(JobFileError::Incomplete { name: name.to_string(), size, found });
    }
    out.flush().await.map_err(io(name))?;
    Ok(())
}

/// Deletes job file `name` everywhere it is kept (this node's copy and the stored one).
pub async fn delete(state: &Services, name: &str) -> Result<(), JobFileError> {
    match tokio::fs::remove_file(path(state, name)).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(name)(e)),
    }
    // Also in directory mode: a deployment that moved off the database leaves nothing.
    state.store.delete_job_file(name).await?;
    Ok(())
}

/// The name of the upload of import job `job_id`.
pub fn upload_name(job_id: &str) -> String {
    format!("{job_id}.upload")
}

/// The name of the password-hash export uploaded beside upload `upload_name`
/// (`<job id>.hashes` beside `<job id>.upload`, so it is swept with it when no job takes
/// it).
pub fn hashes_name(upload_name: &str) -> String {
    let stem = upload_name.strip_suffix(".upload").unwrap_or(upload_name);
    format!("{stem}.hashes")
}
