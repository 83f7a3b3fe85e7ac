//! The one place the backend is chosen: [`Db`] runs a statement (SQL text, its
//! [`SqlValue`]s, a row decoder over the backend-neutral [`Row`]) on SQLite through
//! rusqlite (`sqlite`) or on PostgreSQL through sqlx (`postgres`).
//!
//! Reads ([`Db::all`], [`Db::opt`], [`Db::one`]) run on SQLite inline on a held
//! connection, on PostgreSQL on the pool; a read that may scan a large table
//! ([`Db::scan`]) first hands the runtime thread's other tasks on. Writes ([`Db::write`], and its one-statement
//! forms [`Db::execute`], [`Db::write_opt`], [`Db::write_all`]) take an async body over a
//! [`Conn`]: on SQLite it runs on the writer thread, in one `BEGIN IMMEDIATE` transaction,
//! after the writes queued before it; on PostgreSQL on a pooled connection, each statement
//! its own transaction, or all in one with [`Db::transaction`]. A body is written once for
//! both: its SQLite statements complete without waiting, so the writer thread drives it
//! to the end in one go. A write that needs a step of its caller's in the middle (a user
//! changed by the caller's closure) asks for it through [`Db::transaction_with_step`].

mod postgres;
mod sqlite;

pub(crate) use sqlite::{bind as sqlite_bind, open_sqlite, rows as sqlite_rows, Sqlite};

use crate::error::StoreError;
use crate::sql::{Dialect, SqlValue};
use sqlx::postgres::{PgConnection, PgPool, PgRow};
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::oneshot;

/// A write's body: its future over the connection it was given.
pub(crate) type Body<'c, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'c>>;

/// The database of a store.
#[derive(Debug, Clone)]
pub(crate) enum Db {
    Sqlite(Arc<Sqlite>),
    Postgres(PgPool),
}

/// A connection a write's body runs its statements on.
pub(crate) enum Conn<'c> {
    Sqlite(&'c mut rusqlite::Connection),
    Postgres(&'c mut PgConnection),
}

impl Db {
    /// Opens the database `url` names (see `Store::connect_in_schema`) and applies
    /// pending migrations.
    pub(crate) async fn connect(url: &str, schema: Option<&str>) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            let url = url.to_owned();
            let sqlite = tokio::task::spawn_blocking(move || Sqlite::open(&url))
                .await
                .map_err(|e| StoreError::Unavailable(format!("opening the SQLite file: {e}")))??;
            Ok(Db::Sqlite(Arc::new(sqlite)))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Db::Postgres(postgres::connect(url, schema).await?))
        } else {
            Err(StoreError::UnsupportedUrl(url.to_string()))
        }
    }

    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Db::Sqlite(_) => Dialect::Sqlite,
            Db::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Every row `sql` reads.
    pub(crate) async fn all<T>(
        &self,
        sql: &str,
        params: &[SqlValue],
        decode: impl Fn(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        self.rows(sql, params, usize::MAX, decode).await
    }

    /// The first row `sql` reads, if any.
    pub(crate) async fn opt<T>(
        &self,
        sql: &str,
        params: &[SqlValue],
        decode: impl Fn(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        Ok(self.rows(sql, params, 1, decode).await?.pop())
    }

    /// Like [`Db::all`], for a read that may scan a large table (a user search, the logs):
    /// on SQLite, on a multi-threaded runtime, the reading thread first hands its other
    /// tasks to another thread, so the scan holds up nothing but itself.
    pub(crate) async fn scan<T>(
        &self,
        sql: &str,
        params: &[SqlValue],
        decode: impl Fn(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        use tokio::runtime::{Handle, RuntimeFlavor};
        match self {
            Db::Sqlite(db) => {
                let read = || db.read(|c| sqlite::rows(c, sql, params, usize::MAX, &decode));
                match Handle::try_current().map(|h| h.runtime_flavor()) {
                    Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(read),
                    _ => read(),
                }
            }
            Db::Postgres(_) => self.all(sql, params, decode).await,
        }
    }

    /// A count [`Db::scan`] makes.
    pub(crate) async fn scan_count(&self, sql: &str, params: &[SqlValue]) -> Result<u64, StoreError> {
        self.scan(sql, params, crate::rows::count).await?.pop().ok_or_else(|| no_row(sql))
    }

    /// Up to `limit` rows of `sql`.
    async fn rows<T>(
        &self,
        sql: &str,
        params: &[SqlValue],
        limit: usize,
        decode: impl Fn(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        match self {
            Db::Sqlite(db) => db.read(|c| sqlite::rows(c, sql, params, limit, &decode)),
            // A read whose connection was lost (terminated, a failover) is read again on
            // another: nothing was changed, so the retry is safe. Writes are not retried.
            Db::Postgres(pool) => match postgres::rows(pool, sql, params, limit, &decode).await {
                Err(StoreError::Unavailable(e)) => {
                    tracing::warn!(error = %e, "a read lost its database connection; reading again");
                    postgres::rows(pool, sql, params, limit, &decode).await
                }
                done => done,
            },
        }
    }

    /// The row `sql` always reads (an aggregate): a missing one means a broken statement.
    pub(crate) async fn one<T>(
        &self,
        sql: &str,
        params: &[SqlValue],
        decode: impl Fn(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.opt(sql, params, decode).await?.ok_or_else(|| no_row(sql))
    }

    /// Runs `body` as one write (see the module doc).
    pub(crate) async fn write<T, B>(&self, body: B) -> Result<T, StoreError>
    where
        T: Send + 'static,
        B: for<'c> FnOnce(Conn<'c>) -> Body<'c, T> + Send + 'static,
    {
        match self {
            Db::Sqlite(db) => db.write(body).await,
            Db::Postgres(pool) => {
                let mut c = pool.acquire().await?;
                body(Conn::Postgres(&mut c)).await
            }
        }
    }

    /// Runs `body` as one write in one transaction on both backends: rolled back if it
    /// fails.
    pub(crate) async fn transaction<T, B>(&self, body: B) -> Result<T, StoreError>
    where
        T: Send + 'static,
        B: for<'c> FnOnce(Conn<'c>) -> Body<'c, T> + Send + 'static,
    {
        match self {
            // Every SQLite write is a transaction of its own already.
            Db::Sqlite(db) => db.write(body).await,
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                // Dropped uncommitted (rolled back) if the body fails.
                let result = body(Conn::Postgres(&mut tx)).await?;
                tx.commit().await?;
                Ok(result)
            }
        }
    }

    /// Like [`Db::transaction`], with a step of the caller's in the middle: the body hands
    /// `step` what it read ([`Step::ask`]) and goes on with its answer. The step runs on
    /// the caller's task, so it need not be `Send` or `'static` as the body must.
    pub(crate) async fn transaction_with_step<T, B, Q, A>(
        &self,
        body: B,
        step: impl FnOnce(Q) -> A,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        Q: Send + 'static,
        A: Send + 'static,
        B: for<'c> FnOnce(Conn<'c>, Step<Q, A>) -> Body<'c, T> + Send + 'static,
    {
        let (ask, question) = oneshot::channel();
        let (reply, answer) = oneshot::channel();
        let write = self.transaction(move |c| body(c, Step { ask, answer }));
        let caller = async move {
            // No question: the body ended without needing the step.
            if let Ok(q) = question.await {
                let _ = reply.send(step(q));
            }
        };
        tokio::join!(write, caller).0
    }

    /// `statements` in one transaction, each bound to `params`: how many rows the last
    /// changed. (A parent deleted after its children.)
    pub(crate) async fn execute_in_turn(
        &self,
        statements: &'static [&'static str],
        params: impl Into<Vec<SqlValue>>,
    ) -> Result<u64, StoreError> {
        let params = params.into();
        self.transaction(move |mut c| {
            Box::pin(async move {
                let mut changed = 0;
                for sql in statements {
                    changed = c.execute(sql, &params).await?;
                }
                Ok(changed)
            })
        })
        .await
    }

    /// One statement that writes: how many rows it changed.
    pub(crate) async fn execute(&self, sql: &str, params: impl Into<Vec<SqlValue>>) -> Result<u64, StoreError> {
        let (sql, params) = (sql.to_owned(), params.into());
        self.write(move |mut c| Box::pin(async move { c.execute(&sql, &params).await })).await
    }

    /// One statement that writes and returns rows (`RETURNING`): the first, if any.
    pub(crate) async fn write_opt<T: Send + 'static>(
        &self,
        sql: &str,
        params: impl Into<Vec<SqlValue>>,
        decode: fn(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let (sql, params) = (sql.to_owned(), params.into());
        self.write(move |mut c| Box::pin(async move { c.opt(&sql, &params, decode).await })).await
    }

    /// One statement that writes and returns rows (`RETURNING`): all of them.
    pub(crate) async fn write_all<T: Send + 'static>(
        &self,
        sql: &str,
        params: impl Into<Vec<SqlValue>>,
        decode: fn(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let (sql, params) = (sql.to_owned(), params.into());
        self.write(move |mut c| Box::pin(async move { c.all(&sql, &params, decode).await })).await
    }

    pub(crate) async fn close(&self) {
        match self {
            Db::Sqlite(db) => db.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

impl Conn<'_> {
    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Conn::Sqlite(_) => Dialect::Sqlite,
            Conn::Postgres(_) => Dialect::Postgres,
        }
    }

    pub(crate) async fn all<T>(
        &mut self,
        sql: &str,
        params: &[SqlValue],
        decode: impl Fn(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        self.rows(sql, params, usize::MAX, decode).await
    }

    pub(crate) async fn opt<T>(
        &mut self,
        sql: &str,
        params: &[SqlValue],
        decode: impl Fn(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        Ok(self.rows(sql, params, 1, decode).await?.pop())
    }

    async fn rows<T>(
        &mut self,
        sql: &str,
        params: &[SqlValue],
        limit: usize,
        decode: impl Fn(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        match self {
            Conn::Sqlite(c) => sqlite::rows(c, sql, params, limit, &decode),
            Conn::Postgres(c) => postgres::rows(&mut **c, sql, params, limit, &decode).await,
        }
    }

    pub(crate) async fn one<T>(
        &mut self,
        sql: &str,
        params: &[SqlValue],
        decode: impl Fn(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.opt(sql, params, decode).await?.ok_or_else(|| no_row(sql))
    }

    pub(crate) async fn execute(&mut self, sql: &str, params: &[SqlValue]) -> Result<u64, StoreError> {
        match self {
            Conn::Sqlite(c) => sqlite::execute(c, sql, params),
            Conn::Postgres(c) => postgres::execute(&mut **c, sql, params).await,
        }
    }
}

/// A write body's line to its caller's step (see [`Db::transaction_with_step`]).
pub(crate) struct Step<Q, A> {
    ask: oneshot::Sender<Q>,
    answer: oneshot::Receiver<A>,
}

impl<Q, A> Step<Q, A> {
    /// Hands `question` to the caller's step and waits for its answer.
    pub(crate) async fn ask(self, question: Q) -> Result<A, StoreError> {
        let gone = || StoreError::Unavailable("the caller of a transaction went away".into());
        self.ask.send(question).map_err(|_| gone())?;
        self.answer.await.map_err(|_| gone())
    }
}

fn no_row(sql: &str) -> StoreError {
    StoreError::Database(format!("no row from a statement that always returns one: {sql}"))
}

/// A row of either backend, its columns read by name (with an optional prefix, for the
/// columns of one table in a join that renames them).
pub(crate) struct Row<'r> {
    source: RowSource<'r>,
    prefix: &'static str,
    /// Where to look for the next column: decoders read columns in the order statements
    /// list them, so most lookups compare one name.
    next: Cell<usize>,
}

#[derive(Clone, Copy)]
enum RowSource<'r> {
    /// A rusqlite row, with its statement's column names read once per statement: asking
    /// SQLite for a name per column of every row doubled the export's time.
    Sqlite(&'r rusqlite::Row<'r>, &'r [String]),
    Postgres(&'r PgRow),
}

impl<'r> Row<'r> {
    fn new(source: RowSource<'r>) -> Self {
        Row { source, prefix: "", next: Cell::new(0) }
    }

    /// This row, its columns named `{prefix}{name}`.
    pub(crate) fn prefixed(&self, prefix: &'static str) -> Row<'r> {
        Row { source: self.source, prefix, next: Cell::new(0) }
    }

    /// Column `name`, as `T`.
    pub(crate) fn get<T: Column>(&self, name: &str) -> Result<T, StoreError> {
        self.get_at(self.index_of(name)?)
    }

    /// The column at `index` (from 0), as `T`.
    pub(crate) fn get_at<T: Column>(&self, index: usize) -> Result<T, StoreError> {
        let value = match self.source {
            RowSource::Sqlite(r, _) => T::from_sqlite(r, index),
            RowSource::Postgres(r) => T::from_postgres(r, index),
        };
        value.map_err(|e| {
            let name = self.column_name(index).unwrap_or("?");
            StoreError::Corrupt(format!("column {name}: {e}"))
        })
    }

    /// Column `name` as JSON.
    pub(crate) fn json<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T, StoreError> {
        Ok(self.get::<Json<T>>(name)?.0)
    }

    /// Column `name` as JSON, if it is not NULL.
    pub(crate) fn json_opt<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<Option<T>, StoreError> {
        Ok(self.get::<Option<Json<T>>>(name)?.map(|j| j.0))
    }

    fn column_name(&self, index: usize) -> Option<&str> {
        match self.source {
            RowSource::Sqlite(_, names) => names.get(index).map(String::as_str),
            RowSource::Postgres(r) => sqlx::Row::columns(r).get(index).map(sqlx::Column::name),
        }
    }

    fn column_count(&self) -> usize {
        match self.source {
            RowSource::Sqlite(_, names) => names.len(),
            RowSource::Postgres(r) => sqlx::Row::len(r),
        }
    }

    fn index_of(&self, name: &str) -> Result<usize, StoreError> {
        let count = self.column_count();
        let start = self.next.get();
        // Compared byte by byte in line: the names are short, and a call to `memcmp` for
        // each column of each row was a quarter of an export's time.
        let same = |a: &[u8], b: &[u8]| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y);
        for offset in 0..count {
            let index = (start + offset) % count;
            let found = self.column_name(index).is_some_and(|column| {
                let column = column.as_bytes();
                let split = self.prefix.len();
                column.len() == split + name.len()
                    && same(&column[..split], self.prefix.as_bytes())
                    && same(&column[split..], name.as_bytes())
            });
            if found {
                self.next.set(index + 1);
                return Ok(index);
            }
        }
        Err(StoreError::Corrupt(format!("no column {}{name}", self.prefix)))
    }
}

/// A Rust type a column reads into, on either backend.
pub(crate) trait Column: Sized {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> Result<Self, String>;
    fn from_postgres(row: &PgRow, index: usize) -> Result<Self, String>;
}

/// Types both drivers read alike.
macro_rules! plain_columns {
    ($($t:ty),*) => {$(
        impl Column for $t {
            fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> Result<Self, String> {
                row.get(index).map_err(|e| e.to_string())
            }
            fn from_postgres(row: &PgRow, index: usize) -> Result<Self, String> {
                sqlx::Row::try_get(row, index).map_err(|e| e.to_string())
            }
        }
    )*};
}

plain_columns!(String, Option<String>, i64, Option<i64>, bool, Vec<u8>);

/// A JSON column: text on SQLite, `jsonb` on PostgreSQL.
pub(crate) struct Json<T>(pub(crate) T);

impl<T: serde::de::DeserializeOwned> Column for Json<T> {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> Result<Self, String> {
        let text: String = row.get(index).map_err(|e| e.to_string())?;
        serde_json::from_str(&text).map(Json).map_err(|e| e.to_string())
    }
    fn from_postgres(row: &PgRow, index: usize) -> Result<Self, String> {
        sqlx::Row::try_get::<sqlx::types::Json<T>, _>(row, index).map(|j| Json(j.0)).map_err(|e| e.to_string())
    }
}

impl<T: serde::de::DeserializeOwned> Column for Option<Json<T>> {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> Result<Self, String> {
        let text: Option<String> = row.get(index).map_err(|e| e.to_string())?;
        text.map(|t| serde_json::from_str(&t).map(Json)).transpose().map_err(|e| e.to_string())
    }
    fn from_postgres(row: &PgRow, index: usize) -> Result<Self, String> {
        sqlx::Row::try_get::<Option<sqlx::types::Json<T>>, _>(row, index)
            .map(|j| j.map(|j| Json(j.0)))
            .map_err(|e| e.to_string())
    }
}
