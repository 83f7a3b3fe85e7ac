//! SQLite through rusqlite: reads inline on held connections, writes in order on one
//! writer thread, migrations, and the binding of [`SqlValue`]s.
//!
//! Reads run on the calling thread, on one of a few held synchronous connections: a point
//! read holds one for tens of microseconds, no longer than the rest of a request's own
//! work. (Through a pooled async driver each statement cost an acquire and several thread
//! hand-offs, measured at 40 of a password login's 48 context switches; a held connection
//! costs none.) Reads see every write committed before they start (WAL snapshots).
//!
//! Writes run on one thread that owns the writing connection and runs them one after
//! another, each in a `BEGIN IMMEDIATE` transaction. Writers on several connections
//! collide on SQLite's one write lock and the loser sleeps in the busy handler (1, 2,
//! 5 ms …): a quarter of the logins under load waited over a millisecond that way. On one
//! writer the writes queue in order instead. The writer is a thread, not a connection
//! behind an async mutex: behind a mutex, each write kept the lock until the runtime
//! polled its task again, which under load waited for whatever the runtime's threads were
//! doing (RSA signatures, 0.3 ms each).
//!
//! A store opened as `sqlite::memory:` is a temporary file, removed when the store goes:
//! there is one way to run SQLite, not an in-memory second one.

use super::{Body, Conn, Row, RowSource};
use crate::error::StoreError;
use crate::sql::SqlValue;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Point reads and single-row writes need few pages: a small cache each.
const CACHE_KIB: i32 = -4096;
/// More than the store has statements, so none is prepared twice on one connection.
const STATEMENT_CACHE: usize = 256;

/// A synchronous connection to the SQLite file at `path`, with the store's settings.
pub(crate) fn open_sqlite(
    path: &Path,
    busy_timeout: Duration,
    cache_kib: i32,
) -> rusqlite::Result<rusqlite::Connection> {
    let c = rusqlite::Connection::open(path)?;
    c.busy_timeout(busy_timeout)?;
    c.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    c.execute_batch(&format!(
        "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; \
         PRAGMA cache_size = {cache_kib};"
    ))?;
    Ok(c)
}

/// An SQLite store: its file, the held read connections and the writer thread.
#[derive(Debug)]
pub(crate) struct Sqlite {
    pub(crate) path: PathBuf,
    /// Removed with the store (`sqlite::memory:`).
    temporary: bool,
    readers: Readers,
    writer: WriterThread,
}

impl Sqlite {
    /// Opens (creating it if missing) the database `url` names and applies pending
    /// migrations.
    pub(crate) fn open(url: &str) -> Result<Self, StoreError> {
        let (path, temporary) = path_of(url)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Unavailable(format!("{}: {e}", dir.display())))?;
        }
        let mut c = open_sqlite(&path, BUSY_TIMEOUT, CACHE_KIB)?;
        // Persistent: set once, every later connection finds the file in WAL mode.
        c.pragma_update(None, "journal_mode", "WAL")?;
        crate::migrate::sqlite(&mut c)?;
        // Two readers per core: a runtime thread reading inline never waits for another,
        // nor for a read on a blocking thread.
        let readers = std::thread::available_parallelism().map_or(4, |n| 2 * n.get()).max(4);
        Ok(Self {
            readers: Readers::new(path.clone(), readers),
            writer: WriterThread::new(path.clone(), c)?,
            path,
            temporary,
        })
    }

    /// Runs `read` inline on a held connection.
    pub(crate) fn read<T>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.readers.read(read)
    }

    pub(crate) async fn write<T, B>(&self, body: B) -> Result<T, StoreError>
    where
        T: Send + 'static,
        B: for<'c> FnOnce(Conn<'c>) -> Body<'c, T> + Send + 'static,
    {
        self.writer.run(body).await
    }

    /// Closes every connection (later statements open new ones).
    pub(crate) async fn close(&self) {
        self.readers.close();
        self.writer.close().await;
    }
}

impl Drop for Sqlite {
    fn drop(&mut self) {
        if self.temporary {
            for suffix in ["", "-wal", "-shm"] {
                let mut file = self.path.clone().into_os_string();
                file.push(suffix);
                let _ = std::fs::remove_file(file);
            }
        }
    }
}

/// The file `url` names (`sqlite://path`, `sqlite:path`, options after `?` ignored), and
/// whether it is a temporary one (`sqlite::memory:`).
fn path_of(url: &str) -> Result<(PathBuf, bool), StoreError> {
    let rest = url.strip_prefix("sqlite:").ok_or_else(|| StoreError::UnsupportedUrl(url.to_string()))?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or_default();
    if path == ":memory:" || url.contains("mode=memory") {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!("gatehouse-{}-{}.db", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let path = std::env::temp_dir().join(name);
        let _ = std::fs::remove_file(&path);
        return Ok((path, true));
    }
    if path.is_empty() {
        return Err(StoreError::UnsupportedUrl(url.to_string()));
    }
    Ok((PathBuf::from(path), false))
}

/// Binds `params` to `statement`'s `$N` placeholders (`$N` takes `params[N - 1]`).
pub(crate) fn bind(statement: &mut rusqlite::Statement<'_>, params: &[SqlValue]) -> Result<(), StoreError> {
    for index in 1..=statement.parameter_count() {
        let name = statement.parameter_name(index).unwrap_or_default();
        let value = name
            .strip_prefix('$')
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| params.get(n.wrapping_sub(1)))
            .ok_or_else(|| StoreError::InvalidQuery(format!("no value for placeholder {name:?}")))?;
        match value {
            SqlValue::Text(s) | SqlValue::Json(s) => statement.raw_bind_parameter(index, s.as_str()),
            SqlValue::Int(i) => statement.raw_bind_parameter(index, i),
            SqlValue::Float(f) => statement.raw_bind_parameter(index, f),
            SqlValue::Bool(b) => statement.raw_bind_parameter(index, b),
            SqlValue::Null(_) => statement.raw_bind_parameter(index, rusqlite::types::Null),
            SqlValue::Bytes(b) => statement.raw_bind_parameter(index, b.as_slice()),
            SqlValue::TextList(_) => return Err(StoreError::InvalidQuery("SQLite takes no lists".into())),
        }?;
    }
    Ok(())
}

/// Up to `limit` rows of `sql`, decoded.
pub(crate) fn rows<T>(
    c: &rusqlite::Connection,
    sql: &str,
    params: &[SqlValue],
    limit: usize,
    decode: &impl Fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut statement = c.prepare_cached(sql)?;
    bind(&mut statement, params)?;
    let names: Vec<String> = statement.column_names().into_iter().map(str::to_string).collect();
    let mut rows = statement.raw_query();
    let mut out = Vec::new();
    while out.len() < limit {
        let Some(row) = rows.next()? else { break };
        out.push(decode(&Row::new(RowSource::Sqlite(row, &names)))?);
    }
    Ok(out)
}

pub(super) fn execute(c: &rusqlite::Connection, sql: &str, params: &[SqlValue]) -> Result<u64, StoreError> {
    let mut statement = c.prepare_cached(sql)?;
    bind(&mut statement, params)?;
    Ok(u64::try_from(statement.raw_execute()?).unwrap_or(u64::MAX))
}

/// The held read connections.
#[derive(Debug)]
struct Readers {
    path: PathBuf,
    slots: Vec<Mutex<Option<rusqlite::Connection>>>,
    next: AtomicUsize,
}

impl Readers {
    fn new(path: PathBuf, count: usize) -> Self {
        Self { path, slots: (0..count.max(1)).map(|_| Mutex::new(None)).collect(), next: AtomicUsize::new(0) }
    }

    /// Runs `read` on a free connection (or the next in turn once it is free), opened on
    /// first use and again after an error.
    fn read<T>(&self, read: impl FnOnce(&rusqlite::Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
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
            closed => closed.insert(open_sqlite(&self.path, BUSY_TIMEOUT, CACHE_KIB)?),
        };
        let result = read(connection);
        if matches!(result, Err(StoreError::Unavailable(_) | StoreError::Database(_))) {
            slot.take();
        }
        result
    }

    fn close(&self) {
        for slot in &self.slots {
            slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        }
    }
}

type WriteJob = Box<dyn FnOnce(&mut WriterState) + Send>;

/// What the writer thread owns.
struct WriterState {
    path: PathBuf,
    /// Drives each body; an SQLite body's statements never wait, so it completes in one go
    /// unless the body itself awaits its caller (`Store::modify_user`).
    runtime: tokio::runtime::Runtime,
    connection: Option<rusqlite::Connection>,
}

impl WriterState {
    /// `body` in one `BEGIN IMMEDIATE` transaction: committed if it succeeds, else rolled
    /// back. A connection that cannot end its transaction is closed; the next write opens
    /// a fresh one.
    fn transaction<T, B>(&mut self, body: B) -> Result<T, StoreError>
    where
        B: for<'c> FnOnce(Conn<'c>) -> Body<'c, T>,
    {
        let WriterState { path, runtime, connection } = self;
        let c = match &mut *connection {
            Some(c) => c,
            closed => closed.insert(open_sqlite(path, BUSY_TIMEOUT, CACHE_KIB)?),
        };
        c.execute_batch("BEGIN IMMEDIATE")?;
        let result = runtime.block_on(body(Conn::Sqlite(c)));
        let ended = match &result {
            Ok(_) => c.execute_batch("COMMIT"),
            Err(_) => c.execute_batch("ROLLBACK"),
        };
        match ended {
            Ok(()) => result,
            Err(e) => {
                // The transaction may be open still: end it, or give the connection up.
                if !c.is_autocommit() && c.execute_batch("ROLLBACK").is_err() {
                    *connection = None;
                }
                Err(result.err().unwrap_or_else(|| e.into()))
            }
        }
    }
}

/// The one writer: a thread that owns the writing connection and runs the writes sent to
/// it in order. It ends when the store is dropped.
struct WriterThread {
    jobs: mpsc::UnboundedSender<WriteJob>,
}

impl std::fmt::Debug for WriterThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WriterThread")
    }
}

fn writer_stopped() -> StoreError {
    StoreError::Unavailable("the SQLite writer thread has stopped".into())
}

impl WriterThread {
    fn new(path: PathBuf, connection: rusqlite::Connection) -> Result<Self, StoreError> {
        let (jobs, mut queue) = mpsc::unbounded_channel::<WriteJob>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Unavailable(format!("the SQLite writer's runtime: {e}")))?;
        let mut state = WriterState { path, runtime, connection: Some(connection) };
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                while let Some(job) = queue.blocking_recv() {
                    // A body that panics loses its answer (its caller is told the write
                    // did not finish) and its connection (rolling back what it left open);
                    // the writes after it go on.
                    let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut state)));
                    if done.is_err() {
                        state.connection = None;
                    }
                }
            })
            .map_err(|e| StoreError::Unavailable(format!("the SQLite writer thread: {e}")))?;
        Ok(Self { jobs })
    }

    /// Runs `body` on the writer's connection, after the writes queued before it.
    async fn run<T, B>(&self, body: B) -> Result<T, StoreError>
    where
        T: Send + 'static,
        B: for<'c> FnOnce(Conn<'c>) -> Body<'c, T> + Send + 'static,
    {
        let (done, answer) = oneshot::channel();
        let job: WriteJob = Box::new(move |state: &mut WriterState| {
            let _ = done.send(state.transaction(body));
        });
        self.jobs.send(job).map_err(|_| writer_stopped())?;
        answer.await.map_err(|_| StoreError::Unavailable("the SQLite write did not finish: it panicked".into()))?
    }

    /// Closes the connection (a later write opens a new one).
    async fn close(&self) {
        let (done, closed) = oneshot::channel::<()>();
        let job: WriteJob = Box::new(move |state: &mut WriterState| {
            state.connection = None;
            let _ = done.send(());
        });
        if self.jobs.send(job).is_ok() {
            let _ = closed.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temporary() -> Sqlite {
        Sqlite::open("sqlite::memory:").unwrap()
    }

    #[tokio::test]
    async fn a_write_that_panics_is_reported_and_the_writes_after_it_go_on() {
        let db = temporary();
        let panicked = db.write(|_| -> Body<'_, ()> { Box::pin(async { panic!("a body's bug") }) }).await;
        assert!(matches!(&panicked, Err(StoreError::Unavailable(why)) if why.contains("panicked")), "{panicked:?}");
        let after = db.write(|mut c| Box::pin(async move { c.execute("CREATE TABLE t (x INTEGER)", &[]).await })).await;
        assert_eq!(after.unwrap(), 0);
    }

    #[tokio::test]
    async fn a_failed_write_is_rolled_back_whole() {
        let db = temporary();
        let failed = db
            .write(|mut c| {
                Box::pin(async move {
                    c.execute("CREATE TABLE t (x INTEGER PRIMARY KEY)", &[]).await?;
                    c.execute("INSERT INTO t (x) VALUES (1)", &[]).await?;
                    c.execute("INSERT INTO t (x) VALUES (1)", &[]).await
                })
            })
            .await;
        assert!(matches!(failed, Err(StoreError::Conflict(_))), "{failed:?}");
        let gone = db.read(|c| Ok(c.prepare("SELECT x FROM t").is_err()));
        assert!(gone.unwrap(), "the table of the failed write is gone with it");
    }

    #[test]
    fn urls_name_files() {
        assert_eq!(path_of("sqlite://data/g.db?mode=rwc").unwrap(), (PathBuf::from("data/g.db"), false));
        assert_eq!(path_of("sqlite:/tmp/g.db").unwrap(), (PathBuf::from("/tmp/g.db"), false));
        assert!(path_of("sqlite::memory:").unwrap().1);
        assert!(matches!(path_of("sqlite://"), Err(StoreError::UnsupportedUrl(_))));
    }
}
