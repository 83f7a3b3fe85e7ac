//! The store's integration tests, one binary: a module per feature, each run on a fresh
//! SQLite file and, when `GATEHOUSE_TEST_POSTGRES_URL` is set, a fresh PostgreSQL schema.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod bulk;
mod common;
mod login_paths;
mod migrations;
mod sealed;
mod search_sql;
mod writes;
