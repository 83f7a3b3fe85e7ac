//! Gatehouse's store: one API ([`Store`]) over SQLite (embedded default) and
//! PostgreSQL (scale-out), chosen once from the database URL.
//!
//! Every statement is written once, with `$N` placeholders both backends accept; the
//! only backend branch is the [`on_pool!`] dispatch and the dialect-aware pieces of
//! [`search`]. Values are always bound, never spliced into SQL text.

mod error;
mod rows;
pub mod search;
pub mod sql;
mod store;

pub use error::{ConflictOn, StoreError};
pub use sql::{Dialect, SqlValue};
pub use store::{
    AuthCode, CodeRedemption, LoginSession, LoginTransaction, RefreshRedemption, RefreshToken, SigningKey, Store,
    UserQuery,
};
