//! The console's log: audit events filtered by type, user, application and time,
//! newest first, fifty a page (the Management API's `/logs`, read from the same store).

use super::{Console, ConsoleError, Page};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use gatehouse_services::Services;
use gatehouse_store::LogQuery;
use minijinja::context;
use serde::Deserialize;
use serde_json::Value;

const PER_PAGE: u32 = 50;

#[derive(Deserialize, Default)]
pub struct Filter {
    #[serde(rename = "type")]
    kind: Option<String>,
    user_id: Option<String>,
    client_id: Option<String>,
    /// Days, `YYYY-MM-DD`, both inclusive.
    from: Option<String>,
    to: Option<String>,
    page: Option<u32>,
}

fn given(v: &Option<String>) -> Option<String> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// `YYYY-MM-DD` as the first (`end: false`) or last instant of that day; `None` if not a day.
fn day_bound(day: &str, end: bool) -> Option<String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(day, &format).ok()?;
    let t = if end { time::Time::from_hms_milli(23, 59, 59, 999).ok()? } else { time::Time::MIDNIGHT };
    Some(gatehouse_core::clock::iso8601(date.with_time(t).assume_utc()))
}

/// `GET /admin/logs`.
pub async fn list(
    console: Console,
    State(state): State<Services>,
    Query(f): Query<Filter>,
) -> Result<Page, ConsoleError> {
    let page = f.page.unwrap_or(0).min(1000);
    let mut error = None;
    let mut bound = |v: &Option<String>, end: bool| match given(v) {
        Some(day) => day_bound(&day, end).or_else(|| {
            error = Some(format!("{day:?} is not a day (YYYY-MM-DD)."));
            None
        }),
        None => None,
    };
    let (date_from, date_to) = (bound(&f.from, false), bound(&f.to, true));
    state.audit.flush().await;
    let query = LogQuery {
        kind: given(&f.kind),
        user_id: given(&f.user_id),
        client_id: given(&f.client_id),
        date_from,
        date_to,
        descending: true,
        offset: page * PER_PAGE,
        limit: PER_PAGE + 1,
        ..Default::default()
    };
    let (events, _) = state.store.logs(&query).await?;
    let has_next = events.len() > PER_PAGE as usize;
    let events: Vec<_> = events
        .iter()
        .take(PER_PAGE as usize)
        .map(|e| {
            let text = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_string);
            context! {
                date => text("date"), kind => text("type"), description => text("description"),
                user_id => text("user_id"), user_name => text("user_name"), client_id => text("client_id"),
                client_name => text("client_name"), ip => text("ip"), connection => text("connection"),
            }
        })
        .collect();
    let link = |p: u32| {
        let mut url = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in
            [("type", &f.kind), ("user_id", &f.user_id), ("client_id", &f.client_id), ("from", &f.from), ("to", &f.to)]
        {
            if let Some(v) = given(v) {
                url.append_pair(k, &v);
            }
        }
        url.append_pair("page", &p.to_string());
        format!("/admin/logs?{}", url.finish())
    };
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    console.page(
        status,
        "logs.html",
        context! {
            title => "Logs",
            nav => "logs",
            kind => given(&f.kind), user_id => given(&f.user_id), client_id => given(&f.client_id),
            from => given(&f.from), to => given(&f.to),
            events,
            error,
            page => page + 1,
            previous => (page > 0).then(|| link(page - 1)),
            next => has_next.then(|| link(page + 1)),
        },
    )
}
