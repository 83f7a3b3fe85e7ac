//! Gatehouse's store: one API ([`Store`]) over SQLite (embedded default) and
//! PostgreSQL (scale-out), chosen once from the database URL.
//!
//! Every statement is written once, with `$N` placeholders both backends accept; the
//! backend branches are the `on_pool!` dispatch, the dialect-aware pieces of [`search`],
//! and the bulk import path (`bulk`: rusqlite on SQLite, `COPY` on PostgreSQL), whose
//! speed is the point. Values are always bound, never spliced into SQL text.

#[macro_use]
mod macros;

mod bulk;
mod error;
mod identities;
mod jobs;
mod login;
mod logs;
mod rows;
pub mod search;
pub mod sql;
mod store;

pub use bulk::BulkOutcome;
pub use error::{ConflictOn, StoreError};
pub use identities::UpstreamTransaction;
pub use jobs::JobProgress;
pub use login::{AuthCode, CodeRedemption, LoginSession, LoginTransaction, RefreshRedemption, RefreshToken};
pub use logs::LogQuery;
pub use sql::{Dialect, SqlValue};
pub use store::{SigningKey, Store, UserQuery};
