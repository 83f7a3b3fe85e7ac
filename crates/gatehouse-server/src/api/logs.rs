//! `/api/v2/logs` and `/api/v2/users/{id}/logs`: the audit log, with Auth0's paging
//! (`page`/`per_page`/`include_totals`, or checkpoint `from`/`take`) and a `q` of
//! `field:value` terms joined by AND (fields `type`, `user_id`, `client_id`,
//! `connection_id`, `ip`, and `date:[from TO to]`).

use super::{page, paging};
use crate::authz::{ReadLogs, ReadUserLogs, Scoped};
use crate::error::ApiError;
use crate::extract::QueryParams;
use axum::extract::{Path, State};
use axum::Json;
use gatehouse_services::Services;
use gatehouse_store::LogQuery;
use serde_json::Value;

async fn search(state: &Services, q: &QueryParams, mut query: LogQuery, key: &str) -> Result<Json<Value>, ApiError> {
    state.audit.flush().await;
    if let Some(text) = q.str("q") {
        query
            .apply_q(text)
            .map_err(|reason| ApiError::query(format!("Query validation error: '{reason}' on property q.")))?;
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

pub async fn list(_: Scoped<ReadLogs>, State(state): State<Services>, q: QueryParams) -> Result<Json<Value>, ApiError> {
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
    State(state): State<Services>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state.audit.flush().await;
    let e = state
        .store
        .log(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound { code: "inexistent_log", message: "Log event not found".into() })?;
    Ok(Json(e))
}

pub async fn for_user(
    _: Scoped<ReadUserLogs>,
    State(state): State<Services>,
    Path(id): Path<String>,
    q: QueryParams,
) -> Result<Json<Value>, ApiError> {
    q.allow(&["page", "per_page", "include_totals", "sort"])?;
    let query = LogQuery { user_id: Some(id), ..LogQuery::default() };
    search(&state, &q, query, "logs").await
}
