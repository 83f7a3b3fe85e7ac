//! What went wrong in the store, in terms its callers can act on: no driver's error type
//! leaves this crate. Each driver's errors are mapped here, once.

/// What went wrong in the store, in terms its callers can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict on {0:?}")]
    Conflict(ConflictOn),
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    #[error("unsupported database URL {0:?}: use sqlite://… or postgres://…")]
    UnsupportedUrl(String),
    /// The database cannot be reached or used now: a connection that failed or timed out,
    /// a closed pool, the SQLite writer thread gone. Worth retrying later.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database refused a statement for a reason other than the ones above.
    #[error("database error: {0}")]
    Database(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("bulk write failed: {0}")]
    Bulk(String),
    /// A stored value the store cannot read back (a column of the wrong type, bad JSON).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A sealed secret cannot be sealed or opened: its key is not configured, or the value
    /// was altered (`sealed`).
    #[error("sealed secret: {0}")]
    Sealed(String),
}

/// Which uniqueness rule a write broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictOn {
    Id,
    Email,
    Username,
    Name,
    Other,
}

impl ConflictOn {
    /// Which rule an index or constraint name (PostgreSQL) or a constraint message
    /// naming the columns (SQLite) stands for.
    pub(crate) fn from_key(key: &str) -> Self {
        if key.contains("email") {
            ConflictOn::Email
        } else if key.contains("username") {
            ConflictOn::Username
        } else if key.contains("name") {
            ConflictOn::Name
        } else if ["pkey", "user_id", "client_id", ".id", ".kid"].iter().any(|k| key.contains(k)) {
            ConflictOn::Id
        } else {
            ConflictOn::Other
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ffi::{SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE};
        use rusqlite::ErrorCode;
        match &e {
            rusqlite::Error::SqliteFailure(f, message)
                if f.code == ErrorCode::ConstraintViolation
                    && matches!(f.extended_code, SQLITE_CONSTRAINT_UNIQUE | SQLITE_CONSTRAINT_PRIMARYKEY) =>
            {
                // SQLite names the columns in the message ("UNIQUE constraint failed: users.email").
                StoreError::Conflict(ConflictOn::from_key(message.as_deref().unwrap_or_default()))
            }
            rusqlite::Error::SqliteFailure(f, _)
                if matches!(
                    f.code,
                    ErrorCode::DatabaseBusy
                        | ErrorCode::DatabaseLocked
                        | ErrorCode::CannotOpen
                        | ErrorCode::SystemIoFailure
                        | ErrorCode::DiskFull
                        | ErrorCode::OutOfMemory
                ) =>
            {
                StoreError::Unavailable(e.to_string())
            }
            rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::IntegralValueOutOfRange(..)
            | rusqlite::Error::Utf8Error(..) => StoreError::Corrupt(e.to_string()),
            _ => StoreError::Database(e.to_string()),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                // PostgreSQL names the index.
                let key = db.constraint().map(str::to_string).unwrap_or_else(|| db.message().to_string());
                StoreError::Conflict(ConflictOn::from_key(&key))
            }
            // A NUL character in text (22021) or JSON (22P05) that got past the input
            // checks: the caller's input is at fault, not the database.
            sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("22021" | "22P05")) => {
                StoreError::InvalidQuery("text must not contain NUL characters".into())
            }
            // The connection itself failed (SQLSTATE class 08) or was ended by the server
            // (57P01 an administrator's pg_terminate_backend, 57P02/57P03 a shutdown or
            // a restart): worth another try on another connection, not the caller's fault.
            sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P")) => {
                StoreError::Unavailable(e.to_string())
            }
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) | sqlx::Error::ColumnNotFound(_) => {
                StoreError::Corrupt(e.to_string())
            }
            _ => StoreError::Database(e.to_string()),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migration(e.to_string())
    }
}
