//! `/api/v2/stats`: Auth0's tenant statistics. `daily` takes `from` and `to` (`YYYYMMDD`,
//! both inclusive, UTC) and answers one entry a day, `failed_logins` beside Auth0's
//! figures; `active-users` is the number of users who logged in within the last 30 days.

use crate::authz::{ReadStats, Scoped};
use crate::error::ApiError;
use crate::extract::QueryParams;
use axum::extract::State;
use axum::Json;
use gatehouse_core::stats::DayRange;
use gatehouse_services::Services;
use serde_json::{json, Value};

pub async fn daily(
    _: Scoped<ReadStats>,
    State(state): State<Services>,
    q: QueryParams,
) -> Result<Json<Value>, ApiError> {
    q.allow(&["from", "to"])?;
    let range = DayRange::parse(q.str("from"), q.str("to"), state.clock.now().date())?;
    state.audit.flush().await;
    let days = gatehouse_services::stats::daily(&state.store, range).await?;
    Ok(Json(Value::Array(
        days.into_iter()
            .map(|d| {
                json!({
                    "date": d.date,
                    "logins": d.logins,
                    "signups": d.signups,
                    "leaked_passwords": d.leaked_passwords,
                    "failed_logins": d.failed_logins,
                    "updated_at": d.updated_at,
                    "created_at": d.created_at,
                })
            })
            .collect(),
    )))
}

pub async fn active_users(
    _: Scoped<ReadStats>,
    State(state): State<Services>,
    q: QueryParams,
) -> Result<Json<Value>, ApiError> {
    q.allow(&[])?;
    Ok(Json(json!(gatehouse_services::stats::active_users(&state.store, state.clock.now()).await?)))
}
