//! A users file uploaded for an import (the Management API's job request and the
//! console's import form): streamed to a job file, bounded, and deleted again unless a
//! job takes it.

use axum::extract::multipart::Field;
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// An upload's file, deleted unless a job took it (`kept`): after a refusal, and also
/// when the client goes away mid-upload (the handler is dropped, not returned from). A
/// crash leaves it to `gatehouse_services::jobs::sweep_orphan_files`.
pub struct Upload {
    pub path: PathBuf,
    pub kept: bool,
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.kept {
            // One unlink; no file when the request failed before writing any.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("the file is larger than {0} bytes")]
    TooLarge(u64),
    #[error("the upload was cut short or malformed")]
    Malformed,
    #[error("storing the upload failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Streams `field` to `path` (creating its directory), refusing more than `max` bytes.
/// Returns the size written.
pub async fn save(field: &mut Field<'_>, path: &Path, max: u64) -> Result<u64, UploadError> {
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let mut file = tokio::fs::File::create(path).await?;
    let mut size = 0u64;
    while let Some(chunk) = field.chunk().await.map_err(|_| UploadError::Malformed)? {
        size += chunk.len() as u64;
        if size > max {
            return Err(UploadError::TooLarge(max));
        }
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    Ok(size)
}
