//! Auth0's v3 user-search syntax (`q`), parsed and compiled to a parameterized SQL
//! `WHERE` fragment for the `users` table, plus the `sort` parameter compiled to a
//! whitelisted `ORDER BY` list.
//!
//! # Pipeline
//!
//! [`parse`] turns the query into a validated, typed [`Query`] tree (field names resolved,
//! booleans/integers/timestamps checked, metadata paths validated). [`compile`] renders
//! that tree for a [`Dialect`]. No user-supplied text ever reaches the SQL string: every
//! value *and every metadata path* is bound through a `$N` placeholder. The SQL text only
//! ever contains column names and fixed fragments chosen from a whitelist.
//!
//! # Semantics (what the store returns for a `q`)
//!
//! * **Operators** follow Lucene / Elasticsearch `query_string`, which is what Auth0's v3
//!   engine runs: the default operator between bare clauses is **OR**; `AND`/`&&` make the
//!   clauses on both sides required; `NOT`/`!`/`-` prohibit the next clause; `+` requires
//!   it. Within one group: if any clause is required, the result is "all required clauses
//!   and no prohibited one" (optional clauses are then irrelevant, exactly as in Lucene:
//!   `a AND b OR c` means `a AND b`); otherwise "at least one optional clause and no
//!   prohibited one"; a group of only prohibited clauses (`NOT a`) matches everything
//!   else. Fully parenthesised expressions therefore mean what ordinary boolean logic says,
//!   except `a OR NOT b`, which (as in Lucene) means `a AND NOT b`; write
//!   `a OR (NOT b)` for the boolean reading.
//! * **Values**: `field:value` and `field:"phrase"` are exact matches; an unescaped `*` in
//!   an unquoted value is a wildcard (`abc*` prefix, `*abc` suffix — which needs at least 3
//!   literal characters — `a*c` both); `field:*` means `_exists_:field`; `\` escapes the
//!   next character. `?` is a literal character (Auth0 does not support it).
//! * **Ranges** `[a TO b]` (inclusive), `{a TO b}` (exclusive), mixable, `*` = open bound.
//!   Timestamp bounds may be date-only; they are widened like Elasticsearch's date rounding,
//!   so `last_login:[* TO 2024-12-31]` includes all of that day.
//! * **Case**: `email`, `name`, `given_name`, `family_name` and `nickname` are
//!   case-insensitive (`email` is stored lowercased, so the value is lowercased in Rust and
//!   compared directly, keeping the index usable; the others compare `lower(col)` with
//!   `lower($n)`, which SQLite only folds for ASCII). Everything else is case-sensitive.
//! * **Bare terms** (no field) match `email`, `name`, `nickname`, `given_name`,
//!   `family_name` or `username`, case-insensitively; never metadata. A lone `*` matches
//!   every user.
//! * **Metadata** (`user_metadata.a.b`, `app_metadata.a.b`): the literal is compared with
//!   the JSON value at that path — or, when that value is an array, with each of its
//!   elements (Elasticsearch indexes arrays element-wise). A literal always matches a JSON
//!   string equal to it (case-sensitive); if it is a JSON number literal it also matches a
//!   numerically equal JSON number (`30` matches `30` and `30.0`); `true`/`false` also
//!   match the JSON booleans. Quoting does not change this. Objects never match a value;
//!   `_exists_` is false for a missing path, `null`, `[]` and `{}`. Wildcards and ranges
//!   are rejected on `user_metadata` (as in Auth0) and allowed on `app_metadata` (strings
//!   for wildcards; numeric ranges when every bound is a number, else string ranges).
//! * `NOT x` also matches users where the field of `x` is missing (`NULL`), as in Lucene.

mod ast;
mod compile;
mod fields;
mod parser;
mod sort;

pub use ast::{Bound, Clause, Field, Literal, Pattern, PatternPart, Predicate, Query, Target};
pub use compile::{compile, compile_query, CompiledQuery};
pub use parser::parse;
pub use sort::compile_sort;

/// Longest accepted `q`, in bytes.
pub const MAX_QUERY_BYTES: usize = 4096;
/// Deepest accepted nesting of parentheses.
pub const MAX_DEPTH: usize = 32;
/// Most field/value clauses accepted in one query.
pub const MAX_CLAUSES: usize = 100;
/// Most segments accepted in a metadata path (`user_metadata.a.b` has 2).
pub const MAX_PATH_SEGMENTS: usize = 10;

/// Why a `q` or `sort` was rejected. `Display` is a message fit for a 400 response body.
/// Positions are 0-based character offsets into the query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    /// The query is not well-formed (unbalanced parentheses or quotes, dangling operator…).
    #[error("Invalid query: {message} at position {position}")]
    Syntax { message: String, position: usize },
    /// A field name that is not part of the searchable user profile.
    #[error("Invalid query: unknown field '{field}' at position {position}")]
    UnknownField { field: String, position: usize },
    /// A field that exists but cannot be searched, or an operation (wildcard, range) the
    /// field does not support.
    #[error("Invalid query: {message} at position {position}")]
    Unsupported { message: String, position: usize },
    /// A value of the wrong shape for its field (e.g. `blocked:maybe`).
    #[error("Invalid query: {message} at position {position}")]
    InvalidValue { message: String, position: usize },
    /// The query exceeds [`MAX_QUERY_BYTES`].
    #[error("Invalid query: the query is longer than {max} bytes")]
    TooLong { max: usize },
    /// The query exceeds [`MAX_DEPTH`] or [`MAX_CLAUSES`].
    #[error("Invalid query: {message}")]
    TooComplex { message: String },
    /// The `sort` parameter is malformed or names a field that cannot be sorted on.
    #[error("Invalid sort: {message}")]
    InvalidSort { message: String },
}

impl SearchError {
    /// The character offset the error refers to, when there is one.
    pub fn position(&self) -> Option<usize> {
        match self {
            SearchError::Syntax { position, .. }
            | SearchError::UnknownField { position, .. }
            | SearchError::Unsupported { position, .. }
            | SearchError::InvalidValue { position, .. } => Some(*position),
            SearchError::TooLong { .. } | SearchError::TooComplex { .. } | SearchError::InvalidSort { .. } => None,
        }
    }
}
