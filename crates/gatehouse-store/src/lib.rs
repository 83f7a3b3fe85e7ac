//! Gatehouse's store: one API ([`Store`]) over SQLite (embedded default) and
//! PostgreSQL (scale-out), chosen once from the database URL.
//!
//! Every statement is written once, with `$N` placeholders both backends accept; the
//! backend branches are the `on_pool!` dispatch (and `on_reader!` / `on_writer!` for
//! the token endpoint's statements, on held connections and the writer thread), the
//! refresh-token rotation (one statement on PostgreSQL, one batch on SQLite), the
//! dialect-aware pieces of [`search`],
//! and the bulk import path (`bulk`: rusqlite on SQLite, `COPY` on PostgreSQL), whose
//! speed is the point. Values are always bound, never spliced into SQL text.

#[macro_use]
mod macros;

mod attack;
mod bulk;
mod config_cache;
mod error;
mod held;
mod identities;
mod jobs;
mod legacy;
mod login;
mod logs;
mod rows;
pub mod search;
mod signup;
pub mod sql;
mod store;

pub use attack::{FailureCount, FailureKey, FailureState, LoginBlock};
pub use bulk::{BulkOutcome, UsersLoad};
pub use config_cache::CONFIG_TTL;
pub use error::{ConflictOn, StoreError};
pub use identities::UpstreamTransaction;
pub use jobs::JobProgress;
pub use legacy::{MigrationProgress, MIGRATED_IN_BULK, MIGRATED_ON_LOGIN, MIGRATED_ON_RESET};
pub use login::{
    AuthCode, CodeRedemption, Device, GrantFilter, LoginSession, LoginTransaction, RefreshGrant, RefreshRedemption,
    RefreshRequest, RefreshToken, SessionDetails, Successor,
};
pub use logs::{LogQuery, MAX_LOGS_PER_INSERT};
pub use signup::{Ticket, TicketKind, PASSWORD_HISTORY_MAX};
pub use sql::{Dialect, SqlValue};
pub use store::{LoginRecord, SigningKey, Store, UserQuery};
