//! The small vocabulary shared by every piece of SQL the store runs: the dialect, and the
//! values bound to a statement's `$N` placeholders.

/// Which SQL dialect a statement is rendered for. Chosen once, from the database URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A value bound to a `$N` placeholder. Every statement binds its values through this
/// type; no user input is ever spliced into SQL text.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A JSON document as text: a `TEXT` column on SQLite, `jsonb` on PostgreSQL.
    Json(String),
    /// A list of text (PostgreSQL's `text[]`, for `= ANY($n)`; SQLite has no arrays).
    TextList(Vec<String>),
    /// Bytes: a `BLOB` on SQLite, `bytea` on PostgreSQL.
    Bytes(Vec<u8>),
    /// No value, of the type the placeholder expects (PostgreSQL types every parameter).
    Null(SqlType),
}

/// The type of a [`SqlValue::Null`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlType {
    Text,
    Int,
    Bool,
    Json,
}

impl SqlValue {
    /// `value` as a JSON document.
    pub fn json(value: &impl serde::Serialize) -> Self {
        // Serializing the store's own maps and vectors cannot fail: their keys are strings.
        SqlValue::Json(serde_json::to_string(value).unwrap_or_else(|_| "null".into()))
    }

    /// `value` as a JSON document, or a JSON-typed NULL.
    pub fn json_or_null(value: Option<&impl serde::Serialize>) -> Self {
        value.map_or(SqlValue::Null(SqlType::Json), SqlValue::json)
    }
}

impl From<&str> for SqlValue {
    fn from(v: &str) -> Self {
        SqlValue::Text(v.to_owned())
    }
}

impl From<String> for SqlValue {
    fn from(v: String) -> Self {
        SqlValue::Text(v)
    }
}

impl From<&String> for SqlValue {
    fn from(v: &String) -> Self {
        SqlValue::Text(v.clone())
    }
}

impl From<i64> for SqlValue {
    fn from(v: i64) -> Self {
        SqlValue::Int(v)
    }
}

impl From<u32> for SqlValue {
    fn from(v: u32) -> Self {
        SqlValue::Int(i64::from(v))
    }
}

impl From<Vec<u8>> for SqlValue {
    fn from(v: Vec<u8>) -> Self {
        SqlValue::Bytes(v)
    }
}

impl From<bool> for SqlValue {
    fn from(v: bool) -> Self {
        SqlValue::Bool(v)
    }
}

/// An optional value: NULL of the value's type when absent.
macro_rules! optional_values {
    ($($t:ty => $null:ident),*) => {$(
        impl From<Option<$t>> for SqlValue {
            fn from(v: Option<$t>) -> Self {
                v.map_or(SqlValue::Null(SqlType::$null), SqlValue::from)
            }
        }
    )*};
}

optional_values!(&str => Text, String => Text, &String => Text, i64 => Int, bool => Bool);

impl From<&i64> for SqlValue {
    fn from(v: &i64) -> Self {
        SqlValue::Int(*v)
    }
}

impl From<&bool> for SqlValue {
    fn from(v: &bool) -> Self {
        SqlValue::Bool(*v)
    }
}

impl From<&Option<String>> for SqlValue {
    fn from(v: &Option<String>) -> Self {
        SqlValue::from(v.as_ref())
    }
}

impl From<&Option<i64>> for SqlValue {
    fn from(v: &Option<i64>) -> Self {
        SqlValue::from(*v)
    }
}

/// The values of a statement's `$1`, `$2`, … in order, each converted with
/// `SqlValue::from`: an array (`&values![…]` is a slice, `values![…].into()` a `Vec`).
macro_rules! values {
    ($($v:expr),* $(,)?) => {
        [$($crate::sql::SqlValue::from($v)),*]
    };
}
