//! The small vocabulary shared by every piece of SQL the store builds at run time.

/// Which SQL dialect a statement is rendered for. Chosen once, from the database URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A value bound to a `$N` placeholder. Every run-time-built statement binds its
/// values through this type; no user input is ever spliced into SQL text.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}
