//! The audit log: every authentication and management event is stored with Auth0's type
//! code and, when configured, streamed to an HTTP endpoint in batches. Streaming never
//! blocks the request that caused the event: events queue in a bounded channel and a
//! background task posts them, retrying with backoff.

use crate::state::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::USER_AGENT;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use gatehouse_core::ids::new_log_id;
use gatehouse_core::log_event::{codes, LogEvent};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::mpsc;

/// Where events are streamed.
#[derive(Debug, Clone)]
pub struct LogStreamConfig {
    pub url: String,
    /// Sent as `Authorization: Bearer …`.
    pub token: Option<gatehouse_core::secret::Secret>,
    pub batch_size: usize,
}

/// Events waiting to be streamed; when full, new events are not streamed (they are still
/// stored) and a warning is logged.
const STREAM_QUEUE: usize = 10_000;

/// The sending side of the log stream, if one is configured.
#[derive(Debug, Clone, Default)]
pub struct LogStream(Option<mpsc::Sender<Value>>);

impl LogStream {
    /// Starts the streaming task for `config`.
    pub fn start(config: Option<LogStreamConfig>) -> Self {
        let Some(config) = config else { return Self(None) };
        let (tx, rx) = mpsc::channel(STREAM_QUEUE);
        tokio::spawn(stream_task(config, rx));
        Self(Some(tx))
    }

    fn push(&self, event: Value) {
        if let Some(tx) = &self.0 {
            if tx.try_send(event).is_err() {
                tracing::warn!("log stream queue is full; an event was stored but not streamed");
            }
        }
    }
}

async fn stream_task(config: LogStreamConfig, mut rx: mpsc::Receiver<Value>) {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default();
    let mut batch = Vec::with_capacity(config.batch_size);
    loop {
        // Wait for one event, then take what else is already queued (up to the batch size).
        let Some(first) = rx.recv().await else { return };
        batch.push(first);
        while batch.len() < config.batch_size.max(1) {
            match rx.try_recv() {
                Ok(e) => batch.push(e),
                Err(_) => break,
            }
        }
        let body = Value::Array(std::mem::take(&mut batch));
        let mut delay = Duration::from_millis(200);
        for attempt in 1..=6 {
            let mut req = http.post(&config.url).json(&body);
            if let Some(t) = &config.token {
                req = req.bearer_auth(t.expose());
            }
            match req.send().await {
                Ok(r) if r.status().is_success() => break,
                Ok(r) => tracing::warn!(status = %r.status(), attempt, "log stream endpoint refused a batch"),
                Err(e) => tracing::warn!(error = %e, attempt, "log stream endpoint unreachable"),
            }
            if attempt == 6 {
                tracing::error!(events = body.as_array().map_or(0, Vec::len), "log stream batch dropped after retries");
                break;
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(30));
        }
    }
}

/// A new event of `kind` stamped with the state's clock.
pub fn event(state: &AppState, kind: &str) -> LogEvent {
    let now = state.clock.now();
    let millis = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    LogEvent::new(new_log_id(millis), gatehouse_core::clock::iso8601(now), kind)
}

/// Stores `e` and queues it for streaming. A failure to store is logged, not returned:
/// the operation the event describes has already happened.
pub async fn record(state: &AppState, e: LogEvent) {
    state.metrics.observe_event(&e.kind);
    if let Err(err) = state.store.insert_log(&e).await {
        tracing::error!(error = %err, kind = %e.kind, "storing an audit event failed");
    }
    state.log_stream.push(e.to_auth0_json());
}

/// Records every Management API write (`sapi`, or `fapi` when it failed) with the
/// method, path, status and the token's client. Reads are not logged.
pub async fn management_writes(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    if method == Method::GET || method == Method::HEAD || method == Method::OPTIONS {
        return next.run(req).await;
    }
    let path = req.uri().path().to_string();
    let ip = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
    let user_agent = req.headers().get(USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string);
    let client_id = crate::authz::token_client_id(&state, req.headers());
    let response = next.run(req).await;
    let status = response.status();
    let kind = if status.is_success() { codes::SUCCESS_API_OPERATION } else { codes::FAILED_API_OPERATION };
    let mut e = event(&state, kind);
    e.description = Some(format!("{method} /api/v2{path}"));
    e.ip = ip;
    e.user_agent = user_agent;
    e.client_id = client_id;
    e.details.insert("request".into(), json!({"method": method.as_str(), "path": format!("/api/v2{path}")}));
    e.details.insert("response".into(), json!({"statusCode": status.as_u16()}));
    record(&state, e).await;
    response
}
