//! `/api/v2/logs` and `/api/v2/users/{id}/logs`: the audit log, with Auth0's paging
//! (`page`/`per_page`/`include_totals`, or checkpoint `from`/`take`) and a `q` of
//! `field:value` terms joined by AND (fields `type`, `user_id`, `client_id`,
//! `connection_id`, `ip`, and `date:[from TO to]`).

use super::{page, paging};
use crate::authz::{ReadLogs, ReadUserLogs, Scoped};
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::Json;
use gatehouse_store::LogQuery;
use serde_json::Value;

fn invalid_q(reason: &str) -> ApiError {
    ApiError::query(format!("Query validation error: '{reason}' on property q."))
}

fn unquote(v: &str) -> &str {
    v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v)
}

/// Reads `q` into the store's filters. Only conjunctions of exact terms and one date
/// range are supported; anything else is refused, never guessed.
pub fn parse_log_q(q: &str, into: &mut LogQuery) -> Result<(), ApiError> {
    let mut rest = q.trim();
    while !rest.is_empty() {
        let (field, after) = rest.split_once(':').ok_or_else(|| invalid_q("expected field:value"))?;
        let field = field.trim();
        let after = after.trim_start();
        let (value, next) = if after.starts_with('[') {
            let end = after.find(']').ok_or_else(|| invalid_q("unterminated range"))?;
            (&after[..=end], &after[end + 1..])
        } else if let Some(stripped) = after.strip_prefix('"') {
            let end = stripped.find('"').ok_or_else(|| invalid_q("unterminated quote"))?;
            (&after[..end + 2], &stripped[end + 1..])
        } else {
            let end = after.find(char::is_whitespace).unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        let v = unquote(value).to_string();
        if v.is_empty() {
            return Err(invalid_q(&format!("empty value for {field}")));
        }
        match field {
            "type" => into.kind = Some(v),
            "user_id" => into.user_id = Some(v),
            "client_id" => into.client_id = Some(v),
            "connection_id" => into.connection_id = Some(v),
            "ip" => into.ip = Some(v),
            "date" => {
                let inner = v
                    .strip_prefix('[')
                    .and_then(|r| r.strip_suffix(']'))
                    .ok_or_else(|| invalid_q("date takes a range [from TO to]"))?;
                let (from, to) = inner.split_once(" TO ").ok_or_else(|| invalid_q("date range needs TO"))?;
                let bound = |b: &str| (b.trim() != "*").then(|| b.trim().to_string());
                into.date_from = bound(from);
                into.date_to = bound(to);
            }
            other => return Err(invalid_q(&format!("unknown field {other}"))),
        }
        rest = next.trim_start();
        if let Some(r) = rest.strip_prefix("AND ") {
            rest = r.trim_start();
        }
    }
    Ok(())
}

async fn search(state: &AppState, q: &QueryParams, mut query: LogQuery, key: &str) -> Result<Json<Value>, ApiError> {
    if let Some(text) = q.str("q") {
        parse_log_q(text, &mut query)?;
    }
    if q.str("from").is_some() || q.str("take").is_some() {
        query.after = q.str("from").map(str::to_string).or(Some(String::new()));
        query.limit = q.u32_in("take", 1, 100)?.unwrap_or(50);
        let (list, _) = state.store.logs(&query).await?;
        return Ok(Json(Value::Array(list)));
    }
    let (page_no, per_page, offset) = paging(q, 50)?;
    query.offset = offset;
    query.limit = per_page;
    query.descending = !matches!(q.str("sort"), Some("date:1"));
    let (list, total) = state.store.logs(&query).await?;
    Ok(Json(page(key, list, page_no, per_page, total, q.bool("include_totals")?.unwrap_or(false))))
}

pub async fn list(_: Scoped<ReadLogs>, State(state): State<AppState>, q: QueryParams) -> Result<Json<Value>, ApiError> {
    q.allow(&["q", "page", "per_page", "include_totals", "sort", "from", "take", "fields", "include_fields"])?;
    if let Some(sort) = q.str("sort") {
        if sort != "date:1" && sort != "date:-1" {
            return Err(ApiError::query("Query validation error: 'sort must be date:1 or date:-1' on property sort."));
        }
    }
    search(&state, &q, LogQuery::default(), "logs").await
}

pub async fn get_one(
    _: Scoped<ReadLogs>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let e = state
        .store
        .log(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound { code: "inexistent_log", message: "Log event not found".into() })?;
    Ok(Json(e))
}

pub async fn for_user(
    _: Scoped<ReadUserLogs>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    q: QueryParams,
) -> Result<Json<Value>, ApiError> {
    q.allow(&["page", "per_page", "include_totals", "sort"])?;
    let query = LogQuery { user_id: Some(id), ..LogQuery::default() };
    search(&state, &q, query, "logs").await
}
