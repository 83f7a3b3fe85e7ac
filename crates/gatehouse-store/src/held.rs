//! SQLite connections held for the statements every token request makes: point reads
//! (client, grant, connection, settings, failure counters, user) on a few connections,
//! and the token endpoint's writes (a login's success record, failure counters, audit
//! events, refresh-token issue and rotation) on one.
//!
//! A pooled sqlx connection costs, per query, an acquire and a spawned release task that
//! pings the connection's worker thread: about seven thread hand-offs for one indexed
//! read, measured at 40 of a password login's 48 context switches. A held connection
//! costs the query's own two. Writers on pooled connections also collide on SQLite's one
//! write lock, and the loser sleeps in SQLite's busy handler (1, 2, 5 ms …): a quarter of
//! the logins under load waited over a millisecond that way. On one held connection the
//! hot writes queue in order instead. In-memory stores (one connection) and PostgreSQL
//! use the pool. Reads see every write committed before they start (WAL snapshots).

use crate::error::StoreError;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::Connection as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{Mutex, MutexGuard};

/// Enough for both cores' requests to read at once without waiting on each other.
pub(crate) const READERS: usize = 4;

pub(crate) struct HeldConnections {
    options: SqliteConnectOptions,
    slots: Vec<Mutex<Option<SqliteConnection>>>,
    next: AtomicUsize,
}

impl std::fmt::Debug for HeldConnections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeldConnections").field("slots", &self.slots.len()).finish()
    }
}

/// One held connection, opened on first use.
pub(crate) struct Held<'a>(MutexGuard<'a, Option<SqliteConnection>>);

impl Held<'_> {
    /// Always open: [`HeldConnections::connection`] opens it before handing it out, and a
    /// discarded one is not used again. Never `NotFound`, which callers read as "no row".
    pub(crate) fn connection(&mut self) -> Result<&mut SqliteConnection, StoreError> {
        self.0.as_mut().ok_or(StoreError::Database(sqlx::Error::PoolClosed))
    }

    /// After an error the connection is closed; the next read opens a fresh one.
    pub(crate) fn discard(&mut self) {
        self.0.take();
    }
}

impl HeldConnections {
    pub(crate) fn new(options: SqliteConnectOptions, count: usize) -> Self {
        Self { options, slots: (0..count.max(1)).map(|_| Mutex::new(None)).collect(), next: AtomicUsize::new(0) }
    }

    /// A free connection if there is one, else the next in turn once it is free.
    pub(crate) async fn connection(&self) -> Result<Held<'_>, StoreError> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let free = (0..self.slots.len()).find_map(|i| self.slots[(start + i) % self.slots.len()].try_lock().ok());
        let mut slot = match free {
            Some(slot) => slot,
            None => self.slots[start % self.slots.len()].lock().await,
        };
        if slot.is_none() {
            *slot = Some(SqliteConnection::connect_with(&self.options).await?);
        }
        Ok(Held(slot))
    }

    pub(crate) async fn close(&self) {
        for slot in &self.slots {
            if let Some(c) = slot.lock().await.take() {
                let _ = c.close().await;
            }
        }
    }
}
