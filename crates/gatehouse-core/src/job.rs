//! Background jobs (Auth0's `users_import`, `users_export` and `verification_email`): the stored record, its
//! life cycle and its JSON, and the validation of an export request.

use crate::error::Error;
use crate::validate::{Body, Patch};
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    UsersImport,
    UsersExport,
    /// `POST /api/v2/jobs/verification-email`: one verification email.
    VerificationEmail,
    /// Gatehouse's: bulk-import a legacy store's users that have not migrated yet.
    UsersMigrateRemaining,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::UsersImport => "users_import",
            JobKind::UsersExport => "users_export",
            JobKind::VerificationEmail => "verification_email",
            JobKind::UsersMigrateRemaining => "users_migrate_remaining",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "users_import" => Some(JobKind::UsersImport),
            "users_export" => Some(JobKind::UsersExport),
            "verification_email" => Some(JobKind::VerificationEmail),
            "users_migrate_remaining" => Some(JobKind::UsersMigrateRemaining),
            _ => None,
        }
    }
}

/// `pending` → `processing` → `completed` | `failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    Pending,
    Processing,
    Completed,
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Processing => "processing",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(JobStatus::Pending),
            "processing" => Some(JobStatus::Processing),
            "completed" => Some(JobStatus::Completed),
            "failed" => Some(JobStatus::Failed),
            _ => None,
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(self, JobStatus::Completed | JobStatus::Failed)
    }
}

/// A job as stored. `params` holds what the request asked for (Auth0's fields, echoed
/// back); `file` is where its input (import) or output (export) lives on the node's disk.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: String,
    pub kind: JobKind,
    pub status: JobStatus,
    pub connection_id: Option<String>,
    pub params: Map<String, Value>,
    /// `{total, inserted, updated, failed}` (import) or `{total}` (export).
    pub summary: Option<Value>,
    /// Records before this index are done; a resumed import starts here.
    pub resume_at: i64,
    /// Work done, 0..=100, and an estimate of what is left.
    pub percentage_done: i64,
    pub time_left_seconds: Option<i64>,
    pub status_details: Option<String>,
    pub file: Option<String>,
    pub claimed_by: Option<String>,
    pub heartbeat_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl Job {
    /// Auth0's job JSON. `location` is the signed download URL of a finished export.
    pub fn to_auth0_json(&self, location: Option<String>) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("type".into(), json!(self.kind.as_str()));
        m.insert("status".into(), json!(self.status.as_str()));
        m.insert("created_at".into(), json!(self.created_at));
        if let Some(c) = &self.connection_id {
            m.insert("connection_id".into(), json!(c));
        }
        for (k, v) in &self.params {
            m.insert(k.clone(), v.clone());
        }
        if self.status == JobStatus::Processing {
            m.insert("percentage_done".into(), json!(self.percentage_done));
            if let Some(t) = self.time_left_seconds {
                m.insert("time_left_seconds".into(), json!(t));
            }
        }
        if let Some(s) = &self.summary {
            if self.status.is_finished() {
                m.insert("summary".into(), s.clone());
            }
        }
        if let Some(d) = &self.status_details {
            m.insert("status_details".into(), json!(d));
        }
        if let Some(l) = location {
            m.insert("location".into(), json!(l));
        }
        Value::Object(m)
    }
}

/// One field of an export: a profile path and, optionally, its column title.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportFieldSpec {
    pub name: String,
    pub export_as: Option<String>,
}

/// A validated `POST /api/v2/jobs/users-exports` body.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRequest {
    pub connection_id: Option<String>,
    pub format: String,
    pub limit: Option<u64>,
    pub fields: Option<Vec<ExportFieldSpec>>,
    /// The body as given, echoed in the job JSON.
    pub echo: Map<String, Value>,
}

const EXPORT_FIELDS: &[&str] = &["connection_id", "format", "limit", "fields"];

/// Validates an export request (Auth0's `additionalProperties:false` schema).
pub fn export_request(body: &Value) -> Result<ExportRequest, Error> {
    let b = Body::new(body, EXPORT_FIELDS)?;
    let connection_id = match b.string("connection_id", 1, 64)? {
        Patch::Set(id) if crate::ids::is_connection_id(&id) => Some(id),
        Patch::Set(_) => {
            return Err(Error::invalid_field("connection_id", "String does not match pattern ^con_[A-Za-z0-9]{16}$"))
        }
        _ => None,
    };
    let format = match b.string("format", 1, 8)? {
        Patch::Set(f) if f == "json" || f == "csv" => f,
        Patch::Set(_) => return Err(Error::invalid_field("format", "No enum match for: format (json, csv)")),
        _ => "csv".to_string(),
    };
    let limit = match body.get("limit") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => Some(n),
            _ => return Err(Error::invalid_field("limit", "Expected a positive integer")),
        },
    };
    let fields = match body.get("fields") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            if items.is_empty() || items.len() > 100 {
                return Err(Error::invalid_field("fields", "fields must have 1 to 100 items"));
            }
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let at = format!("fields[{i}]");
                let f = Body::new(item, &["name", "export_as"]).map_err(|e| rename(e, &at))?;
                let name = f.required_string("name", 1, 100).map_err(|e| rename(e, &at))?;
                let export_as = match f.string("export_as", 1, 100).map_err(|e| rename(e, &at))? {
                    Patch::Set(s) => Some(s),
                    _ => None,
                };
                out.push(ExportFieldSpec { name, export_as });
            }
            if format == "csv" && out.len() > 30 {
                return Err(Error::invalid_field("fields", "a CSV export has at most 30 fields"));
            }
            Some(out)
        }
        Some(_) => return Err(Error::invalid_field("fields", "Expected type array")),
    };
    let mut echo = Map::new();
    echo.insert("format".into(), json!(format));
    if let Some(l) = limit {
        echo.insert("limit".into(), json!(l));
    }
    if let Some(f) = &fields {
        let list: Vec<Value> = f
            .iter()
            .map(|f| match &f.export_as {
                Some(a) => json!({"name": f.name, "export_as": a}),
                None => json!({"name": f.name}),
            })
            .collect();
        echo.insert("fields".into(), Value::Array(list));
    }
    Ok(ExportRequest { connection_id, format, limit, fields, echo })
}

/// Points a nested field's error at `fields[i].…`.
fn rename(e: Error, at: &str) -> Error {
    match e {
        Error::InvalidField { field, reason } => Error::InvalidField { field: format!("{at}.{field}"), reason },
        Error::MissingField { field } => Error::MissingField { field: format!("{at}.{field}") },
        Error::InvalidBody(m) => Error::InvalidBody(format!("{} on property {at}.", m.trim_end_matches('.'))),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_requests_follow_auth0_schema() {
        let r = export_request(&json!({"connection_id": "con_abcdefghijklmnop", "format": "json", "limit": 5,
            "fields": [{"name": "user_id"}, {"name": "identities[0].connection", "export_as": "provider"}]}))
        .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(r.format, "json");
        assert_eq!(r.limit, Some(5));
        assert_eq!(r.fields.as_ref().map(Vec::len), Some(2));
        assert_eq!(export_request(&json!({})).map(|r| r.format).ok().as_deref(), Some("csv"));
        for (body, field) in [
            (json!({"format": "xml"}), "format"),
            (json!({"connection_id": "con_short"}), "connection_id"),
            (json!({"limit": 0}), "limit"),
            (json!({"fields": [{"export_as": "x"}]}), "fields[0]"),
            (json!({"fields": [{"name": "a", "extra": 1}]}), "fields[0]"),
            (json!({"sort": "x"}), "sort"),
        ] {
            let e = export_request(&body).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.contains(field), "{body}: {e}");
        }
    }
}
