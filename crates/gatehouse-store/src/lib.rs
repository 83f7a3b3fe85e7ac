//! Gatehouse's store: one API ([`Store`]) over SQLite (embedded default) and
//! PostgreSQL (scale-out), chosen once from the database URL.
//!
//! # One driver per backend
//!
//! SQLite runs on rusqlite, PostgreSQL on sqlx; the branch between them is in one place,
//! `db`. A statement is SQL text with `$N` placeholders (which both backends accept),
//! its values as [`SqlValue`]s, and for what it reads a decoder over `db::Row`, a row of
//! either backend read by column name. Each type's decoder, and the user's encoder, are
//! written once (`rows`); so is each statement, and each rule (a refresh grant's checks,
//! a login block's) is Rust, written once, not restated in SQL.
//!
//! How statements run keeps the shape that made the token endpoint fast on SQLite:
//!
//! * reads run inline on held synchronous connections (no thread hand-off);
//! * writes run in order on one writer thread that owns the writing connection, each
//!   write one `BEGIN IMMEDIATE` transaction of however many statements;
//! * on PostgreSQL, reads and writes run on sqlx's pool, a multi-statement write in a
//!   transaction where it needs one.
//!
//! A write is an async body over `db::Conn`, written once for both backends: on SQLite
//! its statements complete at once, so the writer thread drives it to the end in one go;
//! on PostgreSQL it awaits the server. Where the dialects differ the statement says so in
//! one place: the refresh-token rotation (a data-modifying `WITH` on PostgreSQL, two
//! statements on SQLite), `FOR UPDATE SKIP LOCKED` for jobs, the dialect-aware pieces of
//! [`search`], and the bulk import path (`bulk`: prepared statements on SQLite, `COPY` on
//! PostgreSQL), whose speed is the point. Values are always bound, never spliced into
//! SQL text.
//!
//! Migrations live in `migrations/sqlite` and `migrations/postgres`; a test proves both
//! yield the same tables and columns. There is no in-memory SQLite mode: `sqlite::memory:`
//! is a temporary file.

#[macro_use]
pub mod sql;

mod actions;
mod arrivals;
mod attack;
mod authorization;
mod bulk;
mod config_cache;
mod console;
mod db;
mod error;
mod identities;
mod job_files;
mod jobs;
mod login;
mod logs;
mod mfa;
mod migrate;
mod passwordless;
mod rows;
pub mod sealed;
pub mod search;
mod signup;
mod store;

pub use actions::BoundAction;
pub use arrivals::{Arrival, Arrivals};
pub use attack::{FailureCount, FailureKey, FailureState, LoginBlock};
pub use authorization::RoleMember;
pub use bulk::{BulkOutcome, UsersLoad};
pub use config_cache::CONFIG_TTL;
pub use console::ConsoleSession;
pub use error::{ConflictOn, StoreError};
pub use identities::UpstreamTransaction;
pub use jobs::JobProgress;
pub use login::{
    AuthCode, CodeRedemption, Device, GrantFilter, LoginSession, LoginTransaction, RefreshGrant, RefreshRedemption,
    RefreshRequest, RefreshToken, SessionDetails, Successor,
};
pub use logs::{DayCount, LogQuery, MAX_LOGS_PER_INSERT};
pub use mfa::MfaPending;
pub use passwordless::PasswordlessCode;
pub use sealed::{Resealed, SecretKeys};
pub use signup::{Ticket, TicketKind, PASSWORD_HISTORY_MAX};
pub use sql::{Dialect, SqlType, SqlValue};
pub use store::{LoginRecord, SigningKey, Store, UserQuery};
