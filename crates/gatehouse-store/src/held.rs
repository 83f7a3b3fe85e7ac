//! SQLite connections held for the statements every token request makes: point reads
//! (client, grant, connection, settings, failure counters, user) on a few connections,
//! and the token endpoint's writes (a login's success record, failure counters, audit
//! events, refresh-token issue and rotation) on one, owned by a thread of its own.
//!
//! A pooled sqlx connection costs, per query, an acquire and a spawned release task that
//! pings the connection's worker thread: about seven thread hand-offs for one indexed
//! read, measured at 40 of a password login's 48 context switches. A held connection
//! costs the query's own two. Writers on pooled connections also collide on SQLite's one
//! write lock, and the loser sleeps in SQLite's busy handler (1, 2, 5 ms …): a quarter of
//! the logins under load waited over a millisecond that way. On one writer the hot
//! writes queue in order instead.
//!
//! The writer is a thread, not a connection behind an async mutex: behind a mutex, each
//! write kept the lock until the async runtime polled its task again, which under load
//! waited for whatever the runtime's threads were doing (RSA signatures, 0.3 ms each);
//! the writer's time per refresh-token rotation was 0.6 ms for 0.1 ms of SQL. The
//! writer thread runs one write after another and only hands the answers back.
//! In-memory stores (one connection) and PostgreSQL use the pool. Reads see every write
//! committed before they start (WAL snapshots).
//!
//! A password login's own statements (its user and failure-counter reads, its success
//! write) skip sqlx altogether: synchronous rusqlite connections, the reads run inline on
//! the request's thread and the write on the writer thread. Through sqlx each is two more
//! hand-offs to a connection's worker thread; at one login at a time, with the threads
//! idle during the verify, a read took 203–262 µs p50 that way against 127 µs, and the
//! write 295 µs against 109 µs.

use crate::error::StoreError;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::Connection as _;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{mpsc, oneshot, Mutex, MutexGuard};

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
pub(crate) struct HeldConnection<'a>(MutexGuard<'a, Option<SqliteConnection>>);

impl HeldConnection<'_> {
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
    pub(crate) async fn connection(&self) -> Result<HeldConnection<'_>, StoreError> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let free = (0..self.slots.len()).find_map(|i| self.slots[(start + i) % self.slots.len()].try_lock().ok());
        let mut slot = match free {
            Some(slot) => slot,
            None => self.slots[start % self.slots.len()].lock().await,
        };
        if slot.is_none() {
            *slot = Some(SqliteConnection::connect_with(&self.options).await?);
        }
        Ok(HeldConnection(slot))
    }

    pub(crate) async fn close(&self) {
        for slot in &self.slots {
            if let Some(c) = slot.lock().await.take() {
                let _ = c.close().await;
            }
        }
    }
}

/// A synchronous connection to the SQLite file at `path`, with the store's settings.
pub(crate) fn open_sqlite(
    path: &Path,
    busy_timeout: std::time::Duration,
    cache_kib: i32,
) -> rusqlite::Result<rusqlite::Connection> {
    let c = rusqlite::Connection::open(path)?;
    c.busy_timeout(busy_timeout)?;
    c.execute_batch(&format!(
        "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = {cache_kib};"
    ))?;
    Ok(c)
}

/// Point reads need few pages: a small cache each.
const HOT_CACHE_KIB: i32 = -4096;
const HOT_BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Synchronous read connections for the login's point reads, used inline: a read holds
/// one for tens of microseconds, no longer than the rest of a request's own work.
pub(crate) struct SyncReaders {
    path: PathBuf,
    slots: Vec<std::sync::Mutex<Option<rusqlite::Connection>>>,
    next: AtomicUsize,
}

impl std::fmt::Debug for SyncReaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncReaders").field("slots", &self.slots.len()).finish()
    }
}

impl SyncReaders {
    pub(crate) fn new(path: PathBuf, count: usize) -> Self {
        Self {
            path,
            slots: (0..count.max(1)).map(|_| std::sync::Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// Runs `read` on a free connection (or the next in turn once it is free), opened on
    /// first use and again after an error.
    pub(crate) fn read<T>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let n = self.slots.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let free = (0..n).find_map(|i| self.slots[(start + i) % n].try_lock().ok());
        // A poisoned slot only means a read panicked; its connection is dropped below.
        let mut slot = match free {
            Some(slot) => slot,
            None => self.slots[start % n].lock().unwrap_or_else(|poisoned| poisoned.into_inner()),
        };
        let connection = match &mut *slot {
            Some(connection) => connection,
            closed => closed.insert(open_sqlite(&self.path, HOT_BUSY_TIMEOUT, HOT_CACHE_KIB)?),
        };
        let result = read(connection);
        if result.is_err() {
            slot.take();
        }
        result
    }
}

/// A future borrowing the writer's connection.
pub(crate) type WriteFuture<'c, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'c>>;

/// The writer's connections, opened on first use and again after an error: one through
/// sqlx, one synchronous (see the module doc). Only this thread writes through either.
struct WriterSlot {
    options: SqliteConnectOptions,
    connection: Option<SqliteConnection>,
    sync: Option<rusqlite::Connection>,
}

type WriteJob = Box<dyn for<'s> FnOnce(&'s mut WriterSlot) -> Pin<Box<dyn Future<Output = ()> + Send + 's>> + Send>;

/// The one writer: a thread that owns a connection and runs the writes sent to it in
/// order. It ends when the store is dropped.
pub(crate) struct WriterThread {
    jobs: mpsc::UnboundedSender<WriteJob>,
}

impl std::fmt::Debug for WriterThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WriterThread")
    }
}

fn writer_gone() -> StoreError {
    StoreError::Database(sqlx::Error::PoolClosed)
}

impl WriterThread {
    pub(crate) fn new(options: SqliteConnectOptions) -> Result<Self, StoreError> {
        let (jobs, mut queue) = mpsc::unbounded_channel::<WriteJob>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let mut slot = WriterSlot { options, connection: None, sync: None };
                    while let Some(job) = queue.recv().await {
                        job(&mut slot).await;
                    }
                    if let Some(c) = slot.connection.take() {
                        let _ = c.close().await;
                    }
                })
            })
            .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
        Ok(Self { jobs })
    }

    /// Runs `write` on the writer's connection, after the writes queued before it. After
    /// an error the connection is closed (rolling back whatever it left open) and the next
    /// write opens a fresh one.
    pub(crate) async fn run<T, F>(&self, write: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> WriteFuture<'c, T> + Send + 'static,
    {
        let (done, answer) = oneshot::channel();
        let job: WriteJob = Box::new(move |slot: &mut WriterSlot| {
            Box::pin(async move {
                if slot.connection.is_none() {
                    match SqliteConnection::connect_with(&slot.options).await {
                        Ok(c) => slot.connection = Some(c),
                        Err(e) => {
                            let _ = done.send(Err(e.into()));
                            return;
                        }
                    }
                }
                let Some(connection) = slot.connection.as_mut() else { return };
                let result = write(connection).await;
                if result.is_err() {
                    slot.connection = None;
                }
                let _ = done.send(result);
            })
        });
        self.jobs.send(job).map_err(|_| writer_gone())?;
        // A write that panicked drops its sender without an answer.
        answer.await.map_err(|_| writer_gone())?
    }

    /// Like [`WriterThread::run`], on the writer's synchronous connection.
    pub(crate) async fn run_sync<T, F>(&self, write: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut rusqlite::Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (done, answer) = oneshot::channel();
        let job: WriteJob = Box::new(move |slot: &mut WriterSlot| {
            Box::pin(async move {
                if slot.sync.is_none() {
                    match open_sqlite(slot.options.get_filename(), HOT_BUSY_TIMEOUT, HOT_CACHE_KIB) {
                        Ok(c) => slot.sync = Some(c),
                        Err(e) => {
                            let _ = done.send(Err(e.into()));
                            return;
                        }
                    }
                }
                let Some(connection) = slot.sync.as_mut() else { return };
                let result = write(connection);
                if result.is_err() {
                    slot.sync = None;
                }
                let _ = done.send(result);
            })
        });
        self.jobs.send(job).map_err(|_| writer_gone())?;
        answer.await.map_err(|_| writer_gone())?
    }

    /// Closes the connection (a later write opens a new one).
    pub(crate) async fn close(&self) {
        let (done, closed) = oneshot::channel::<()>();
        let job: WriteJob = Box::new(move |slot: &mut WriterSlot| {
            Box::pin(async move {
                if let Some(c) = slot.connection.take() {
                    let _ = c.close().await;
                }
                slot.sync = None;
                let _ = done.send(());
            })
        });
        if self.jobs.send(job).is_ok() {
            let _ = closed.await;
        }
    }
}
