//! The rate limiter's link to Redis. Every call is bounded by a timeout; a call that
//! fails or times out marks the link down at once, and while it is down requests never
//! wait for Redis at all. One background task reconnects (each attempt bounded, the wait
//! between attempts doubling up to a small ceiling, so a returning Redis is used again
//! within about a second) and pings a live link every second, so the health `/readyz`
//! reports is current even without traffic.

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, FromRedisValue, RedisError, ScriptInvocation};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// The first wait between reconnect attempts, doubled after each failure.
const FIRST_BACKOFF: Duration = Duration::from_millis(25);
/// The longest wait between reconnect attempts.
const MAX_BACKOFF: Duration = Duration::from_millis(500);
/// How long one reconnect attempt (TCP, TLS, the client's handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How often a live link is pinged when nothing else uses it.
const PING_EVERY: Duration = Duration::from_secs(1);
/// At most one warning about requests decided without Redis per this long.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// Why a call did not get Redis's answer.
#[derive(Debug, thiserror::Error)]
pub(super) enum Fault {
    #[error("Redis is unreachable (reconnecting)")]
    Down,
    #[error("Redis did not answer within {0:?}")]
    TimedOut(Duration),
    #[error("Redis call failed: {0}")]
    Failed(#[from] RedisError),
}

struct State {
    /// The live connection and its generation; `None` while down.
    conn: Option<(MultiplexedConnection, u64)>,
    generation: u64,
    /// When the link went down (or the start, if it never came up).
    down_since: Option<Instant>,
    last_warning: Option<Instant>,
    /// Requests decided without Redis since the last warning.
    unwarned: u64,
}

struct Inner {
    client: redis::Client,
    timeout: Duration,
    state: Mutex<State>,
    /// Wakes the supervisor when a call found the link broken.
    broken: tokio::sync::Notify,
}

/// A shared handle; clones use one connection and one supervisor.
#[derive(Clone)]
pub(super) struct Link {
    inner: Arc<Inner>,
}

impl Link {
    /// Opens the link: one connection attempt now (bounded), so a healthy Redis counts
    /// the very first requests, then the supervisor. A Redis that is down at start is
    /// logged and retried like any outage; only a malformed URL is an error.
    pub(super) async fn open(url: &str, timeout: Duration) -> Result<Self, RedisError> {
        let client = redis::Client::open(url)?;
        let inner = Arc::new(Inner {
            client,
            timeout,
            state: Mutex::new(State {
                conn: None,
                generation: 0,
                down_since: Some(Instant::now()),
                last_warning: None,
                unwarned: 0,
            }),
            broken: tokio::sync::Notify::new(),
        });
        match inner.connect().await {
            Ok(conn) => inner.install(conn),
            Err(e) => {
                tracing::warn!(error = %e, "rate limits: Redis is unreachable at start; retrying in the background")
            }
        }
        tokio::spawn(supervise(Arc::downgrade(&inner)));
        Ok(Self { inner })
    }

    /// Runs a script on the live connection within the timeout.
    pub(super) async fn invoke<T: FromRedisValue>(&self, script: &ScriptInvocation<'_>) -> Result<T, Fault> {
        let Some((mut conn, generation)) = self.inner.current() else { return Err(Fault::Down) };
        let outcome = match tokio::time::timeout(self.inner.timeout, script.invoke_async(&mut conn)).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) => Fault::Failed(e),
            Err(_) => Fault::TimedOut(self.inner.timeout),
        };
        self.inner.mark_down(generation, &outcome);
        Err(outcome)
    }

    /// Whether the link is up now.
    pub(super) fn is_up(&self) -> bool {
        self.inner.state.lock().is_ok_and(|s| s.conn.is_some())
    }

    /// Counts one request decided without Redis; returns how many were since the last
    /// warning when it is time for another one.
    pub(super) fn decided_without(&self) -> Option<u64> {
        let Ok(mut s) = self.inner.state.lock() else { return None };
        s.unwarned += 1;
        let due = s.last_warning.is_none_or(|at| at.elapsed() >= WARN_EVERY);
        if !due {
            return None;
        }
        s.last_warning = Some(Instant::now());
        Some(std::mem::take(&mut s.unwarned))
    }
}

impl Inner {
    fn current(&self) -> Option<(MultiplexedConnection, u64)> {
        self.state.lock().ok()?.conn.clone()
    }

    async fn connect(&self) -> Result<MultiplexedConnection, Fault> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(CONNECT_TIMEOUT)
            .set_response_timeout(self.timeout.max(Duration::from_millis(1)));
        let mut conn = match tokio::time::timeout(
            CONNECT_TIMEOUT,
            self.client.get_multiplexed_async_connection_with_config(&config),
        )
        .await
        {
            Ok(conn) => conn?,
            Err(_) => return Err(Fault::TimedOut(CONNECT_TIMEOUT)),
        };
        // A paused Redis accepts connections (the kernel does) but answers nothing.
        ping(&mut conn, self.timeout).await?;
        Ok(conn)
    }

    fn install(&self, conn: MultiplexedConnection) {
        let Ok(mut s) = self.state.lock() else { return };
        s.generation += 1;
        s.conn = Some((conn, s.generation));
        if let Some(since) = s.down_since.take() {
            tracing::info!(down_for_ms = since.elapsed().as_millis() as u64, "rate limits: Redis is reachable");
        }
    }

    /// Drops the connection of `generation` (not a newer one) and wakes the supervisor.
    fn mark_down(&self, generation: u64, why: &Fault) {
        let Ok(mut s) = self.state.lock() else { return };
        if !matches!(&s.conn, Some((_, g)) if *g == generation) {
            return;
        }
        s.conn = None;
        s.down_since = Some(Instant::now());
        drop(s);
        tracing::warn!(error = %why, "rate limits: lost Redis; reconnecting");
        self.broken.notify_one();
    }
}

async fn ping(conn: &mut MultiplexedConnection, timeout: Duration) -> Result<(), Fault> {
    match tokio::time::timeout(timeout, redis::cmd("PING").query_async::<()>(conn)).await {
        Ok(answer) => Ok(answer?),
        Err(_) => Err(Fault::TimedOut(timeout)),
    }
}

/// Keeps the link up until the last handle is gone: pings a live link every
/// [`PING_EVERY`], reconnects a broken one with a bounded backoff.
async fn supervise(inner: Weak<Inner>) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let Some(link) = inner.upgrade() else { return };
        match link.current() {
            Some((mut conn, generation)) => {
                backoff = FIRST_BACKOFF;
                // Woken early when a request found the link broken.
                if tokio::time::timeout(PING_EVERY, link.broken.notified()).await.is_err() {
                    if let Err(e) = ping(&mut conn, link.timeout).await {
                        link.mark_down(generation, &e);
                    }
                }
            }
            None => {
                let attempt = link.connect().await;
                match attempt {
                    Ok(conn) => link.install(conn),
                    Err(e) => {
                        tracing::debug!(error = %e, "rate limits: reconnecting to Redis failed");
                        drop(link);
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
            }
        }
    }
}
