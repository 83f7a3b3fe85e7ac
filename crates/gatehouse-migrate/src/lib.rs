//! User import and export file formats, and the per-record rules of bulk import.
//!
//! This crate is pure: no database, no network, no async, no clock (callers pass `now`).
//! It is used by the bulk-import job, `gatehouse import`/`gatehouse export`, and later by
//! the legacy stores.
//!
//! # Import pipeline
//!
//! ```text
//! file ──records()──▶ RawRecord (Auth0 schema) ──validate()──▶ ImportUser ──▶ store
//!                      (streamed, one at a time)     │                 │
//!                                                    ▼                 ├─ DuplicateTracker (within the file)
//!                                               RecordError          └─ apply_upsert (existing user)
//! ```
//!
//! * [`records`] reads any [`Format`] as a stream of [`RawRecord`]s, each already mapped
//!   to Auth0's bulk-import user object, with bounded memory (a 1 GiB file is fine).
//!   [`check_file`] is a cheaper syntax-only pass to refuse a malformed file up front.
//!   Both fail with a [`FileError`] at a line/column/byte position.
//! * [`validate`] applies Auth0's bulk-import schema to one record and returns the
//!   [`User`](gatehouse_core::user::User) to store, or a [`RecordError`] listing every
//!   problem with Auth0 codes and field paths (serialisable as one element of
//!   `GET /api/v2/jobs/{id}/errors`). A bad record never affects the others.
//! * [`DuplicateTracker`] reports users appearing twice in one file; [`apply_upsert`]
//!   applies Auth0's upsert rules to an existing user.
//! * [`write_export`] writes users as NDJSON, CSV or a JSON array in Auth0's export shape,
//!   optionally with password hashes exactly as imported so export → import round-trips.
//! * [`HashExport`] reads Auth0's password-hash export (support-ticket NDJSON) and joins
//!   its hashes by id into the records of a users export, reporting what does not join.
//! * [`MfaSecretsReader`] reads the MFA-secrets file Auth0's support delivers (NDJSON, a
//!   user's `mfa_factors` a line), each line validated like an import record's factors.
//! * [`synthetic_auth0_users`] generates large realistic import files for benchmarks.
//!
//! # Performance
//!
//! `examples/import_throughput.rs` measures one thread over 1,000,000 generated users
//! (411 MiB): the pre-pass runs at 250–490 MiB/s, [`records`] alone at 220–280k
//! records/s, and [`records`] + [`validate`] + [`DuplicateTracker`] at 80–130k records/s
//! (the range is the shared 2-core machine's load), peak RSS 72 MiB. Validation is
//! independent per record, so an importer can spread it over threads.
//!
//! # Modules
//!
//! | module | owns |
//! |---|---|
//! | `format` | the format names and reader options |
//! | `json_stream` | splitting a JSON array into elements without loading it |
//! | `read` | the streaming readers and the pre-pass |
//! | `map` | mapping NDJSON/Firebase/Keycloak/Kratos users to the Auth0 schema |
//! | `validate` | the Auth0 bulk-import schema, per record |
//! | `upsert` | upsert rules and duplicate detection |
//! | `hash_export` | Auth0's password-hash export, joined by id |
//! | `export` | the export writers |
//! | `mfa_secrets` | Auth0's MFA-secrets export (factors of existing users) |
//! | `error` | file and record errors, secret masking |
//! | `synthetic` | generated import files |

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod error;
mod export;
mod format;
mod hash_export;
mod json_stream;
mod map;
mod mfa_secrets;
mod read;
mod synthetic;
mod upsert;
mod validate;

pub use error::{mask_secrets, FieldError, FileError, RecordError, MASK};
pub use export::{
    exports_roles, write_export, ExportError, ExportField, ExportFormat, ExportOptions, ExportRecord, UserWithRoles,
    DEFAULT_FIELDS, MAX_CSV_FIELDS, ROLES_FIELD,
};
pub use format::{FirebaseHashConfig, Format, ReadOptions, UnknownFormat};
pub use hash_export::HashExport;
pub use mfa_secrets::{FactorsOwner, FactorsRecord, MfaSecretsReader};
pub use read::{check_file, csv_columns, importable_fields, records, Pending, RawRecord, Records};
pub use synthetic::{synthetic_auth0_users, SYNTHETIC_BCRYPT, SYNTHETIC_MD5, SYNTHETIC_PBKDF2};
pub use upsert::{apply_upsert, DuplicateTracker};
pub use validate::{validate, validate_owned, HashSource, ImportUser, Provided, PROHIBITED_APP_METADATA_KEYS};
