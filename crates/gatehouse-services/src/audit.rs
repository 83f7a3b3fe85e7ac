//! The audit log: every authentication and management event is stored with Auth0's type
//! code and, when configured, streamed to an HTTP endpoint in batches. Neither blocks the
//! request that caused the event for long: one writer task stores what has queued up in
//! one statement (under load, one commit for many events instead of one each), and a
//! streaming task posts batches, retrying with backoff. Reads of the log flush the
//! writer first, so a node always shows the events it has recorded.

use crate::metrics::Metrics;
use gatehouse_core::clock::Clock;
use gatehouse_core::ids::new_log_id;
use gatehouse_core::log_event::LogEvent;
use gatehouse_store::{Store, MAX_LOGS_PER_INSERT};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

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
struct LogStream(Option<mpsc::Sender<Value>>);

impl LogStream {
    /// Starts the streaming task for `config`.
    fn start(config: Option<LogStreamConfig>) -> Self {
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

/// Events waiting to be stored. When full, recording an event waits for room: stored
/// events are never dropped.
const WRITE_QUEUE: usize = 10_000;

enum Write {
    Event(Box<LogEvent>),
    /// Answered once every event queued before it is stored.
    Flush(oneshot::Sender<()>),
}

/// The sending side of the task that stores events.
#[derive(Debug, Clone)]
struct AuditWriter(mpsc::Sender<Write>);

impl AuditWriter {
    /// Starts the writer task; it ends once every sender is dropped and the queue is stored.
    fn start(store: Store) -> Self {
        let (tx, rx) = mpsc::channel(WRITE_QUEUE);
        tokio::spawn(writer_task(store, rx));
        Self(tx)
    }

    async fn write(&self, event: LogEvent) {
        if let Err(mpsc::error::SendError(Write::Event(e))) = self.0.send(Write::Event(Box::new(event))).await {
            tracing::error!(log_id = %e.log_id, kind = %e.kind, "the audit writer has stopped; an event was not stored");
        }
    }

    async fn flush(&self) {
        let (done, stored) = oneshot::channel();
        if self.0.send(Write::Flush(done)).await.is_ok() {
            let _ = stored.await;
        }
    }
}

async fn writer_task(store: Store, mut rx: mpsc::Receiver<Write>) {
    let mut events = Vec::with_capacity(MAX_LOGS_PER_INSERT);
    let mut flushed = Vec::new();
    // Wait for one write, then take what else is already queued, up to one statement's worth.
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(w) = next.take() {
            match w {
                Write::Event(e) => events.push(*e),
                Write::Flush(done) => flushed.push(done),
            }
            if events.len() < MAX_LOGS_PER_INSERT {
                next = rx.try_recv().ok();
            }
        }
        store_events(&store, &events).await;
        events.clear();
        for done in flushed.drain(..) {
            let _ = done.send(());
        }
    }
}

/// One statement for the batch; should it fail, each event alone, so that one event the
/// store refuses does not lose the others.
async fn store_events(store: &Store, events: &[LogEvent]) {
    if events.is_empty() || store.insert_logs(events).await.is_ok() {
        return;
    }
    for e in events {
        if let Err(err) = store.insert_log(e).await {
            tracing::error!(error = %err, log_id = %e.log_id, kind = %e.kind, "storing an audit event failed");
        }
    }
}

/// The audit log as the flows see it: new events stamped by the clock, recorded to the
/// store (by the writer task), the log stream and the metrics.
#[derive(Clone)]
pub struct AuditLog {
    writer: AuditWriter,
    stream: LogStream,
    metrics: Metrics,
    clock: Arc<dyn Clock>,
}

impl AuditLog {
    /// Starts the writer task over `store` and, when configured, the streaming task.
    pub fn start(store: Store, stream: Option<LogStreamConfig>, metrics: Metrics, clock: Arc<dyn Clock>) -> Self {
        Self { writer: AuditWriter::start(store), stream: LogStream::start(stream), metrics, clock }
    }

    /// A new event of `kind`, stamped now.
    pub fn event(&self, kind: &str) -> LogEvent {
        let now = self.clock.now();
        let millis = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        LogEvent::new(new_log_id(millis), gatehouse_core::clock::iso8601(now), kind)
    }

    /// Queues `e` to be stored and streamed. A failure to store is logged, not returned:
    /// the operation the event describes has already happened.
    pub async fn record(&self, e: LogEvent) {
        self.metrics.observe_event(&e.kind);
        self.stream.push(e.to_auth0_json());
        self.writer.write(e).await;
    }

    /// Waits until every event recorded before this call is stored.
    pub async fn flush(&self) {
        self.writer.flush().await;
    }
}
