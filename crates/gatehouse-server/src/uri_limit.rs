//! The longest request URI Gatehouse reads: anything longer is answered with Auth0's
//! error JSON (414 `URI Too Long`) before routing, so no handler or extractor parses it.
//!
//! The HTTP library refuses request lines past 64 KiB itself, with an empty 414, before
//! any of Gatehouse sees the request; the limit here is well below that, so a client
//! gets the JSON answer for any URI between the two.

use crate::error::ApiError;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Path and query together, in bytes.
pub const MAX_URI_BYTES: usize = 16 * 1024;

pub async fn limit(req: Request, next: Next) -> Response {
    let length = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if length > MAX_URI_BYTES {
        return ApiError::UriTooLong(MAX_URI_BYTES).into_response();
    }
    next.run(req).await
}
