//! Request extractors that answer bad input with Gatehouse's own error shapes instead
//! of the framework's.

use crate::error::ApiError;
use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use gatehouse_core::validate::path_of_nul;
use serde_json::Value;
use std::collections::HashMap;

/// The largest JSON body the Management API accepts (Auth0's payload limit).
pub const MAX_JSON_BODY: usize = 1024 * 1024;

/// Reads at most `limit` bytes of a body; more is a 413.
pub async fn read_body(body: Body, limit: usize) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|_| ApiError::PayloadTooLarge(limit))
}

/// A JSON document body (any JSON value; handlers validate its shape field by field).
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|m| {
                let m = m.trim().to_ascii_lowercase();
                m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::body("Payload validation error: 'Content-Type must be application/json'."));
        }
        let bytes = read_body(req.into_body(), MAX_JSON_BODY).await?;
        let value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::body(format!("Payload validation error: 'Invalid JSON: {e}'.")))?;
        if let Some(path) = path_of_nul(&value) {
            return Err(ApiError::body(format!(
                "Payload validation error: 'NUL characters are not allowed' on property {path}."
            )));
        }
        Ok(JsonBody(value))
    }
}

/// Query-string parameters checked against an allow-list, with typed getters whose
/// errors name the parameter.
pub struct QueryParams(HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let mut map = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()) {
            if k.contains('\0') || v.contains('\0') {
                return Err(ApiError::query(format!(
                    "Query validation error: 'NUL characters are not allowed' on property {}.",
                    k.replace('\0', "\\0")
                )));
            }
            if map.insert(k.to_string(), v.to_string()).is_some() {
                return Err(ApiError::query(format!("Query validation error: 'parameter {k} given more than once'.")));
            }
        }
        Ok(QueryParams(map))
    }
}

impl QueryParams {
    /// Rejects parameters outside `allowed`.
    pub fn allow(&self, allowed: &[&str]) -> Result<(), ApiError> {
        let mut unknown: Vec<&str> = self.0.keys().map(String::as_str).filter(|k| !allowed.contains(k)).collect();
        unknown.sort_unstable();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(ApiError::query(format!(
                "Query validation error: 'Additional properties not allowed: {}'.",
                unknown.join(",")
            )))
        }
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.str(key) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => Err(ApiError::query(format!(
                "Query validation error: 'Expected type boolean but found {other:?}' on property {key}."
            ))),
        }
    }

    pub fn u32_in(&self, key: &str, min: u32, max: u32) -> Result<Option<u32>, ApiError> {
        let Some(raw) = self.str(key) else { return Ok(None) };
        match raw.parse::<u32>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(ApiError::query(format!(
                "Query validation error: '{key} must be an integer from {min} to {max}' on property {key}."
            ))),
        }
    }

    /// `fields` (comma-separated, each in `known`) with `include_fields`.
    pub fn fields(&self, known: &[&str]) -> Result<(Option<Vec<String>>, bool), ApiError> {
        let include = self.bool("include_fields")?.unwrap_or(true);
        let Some(raw) = self.str("fields").filter(|s| !s.is_empty()) else { return Ok((None, include)) };
        let fields: Vec<String> = raw.split(',').map(|f| f.trim().to_string()).collect();
        if let Some(bad) = fields.iter().find(|f| !known.contains(&f.as_str())) {
            return Err(ApiError::query(format!(
                "Query validation error: 'unknown field {bad:?}' on property fields."
            )));
        }
        Ok((Some(fields), include))
    }
}
