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
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("bulk write failed: {0}")]
    Bulk(String),
    /// From the synchronous SQLite connections of the login's hot path (`crate::held`).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
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

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                // PostgreSQL names the index; SQLite names the columns in the message.
                let key = db.constraint().map(str::to_string).unwrap_or_else(|| db.message().to_string());
                let on = ConflictOn::from_key(&key);
                StoreError::Conflict(on)
            }
            // A NUL character in text (22021) or JSON (22P05) that got past the input
            // checks: the caller's input is at fault, not the database.
            sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("22021" | "22P05")) => {
                StoreError::InvalidQuery("text must not contain NUL characters".into())
            }
            _ => StoreError::Database(e),
        }
    }
}
