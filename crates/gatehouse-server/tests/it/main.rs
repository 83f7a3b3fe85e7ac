//! Gatehouse's server tests, one binary: the whole server in-process on a free port,
//! started as production starts it and driven over real HTTP. Every test runs on SQLite
//! (a temporary file), and again on PostgreSQL when `GATEHOUSE_TEST_POSTGRES_URL` is set
//! (`scripts/test` sets it), each on a database of its own that is dropped afterwards:
//! `feature::sqlite::name` and `feature::postgres::name`.

// Test helpers outside #[test] functions unwrap too: a failure there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod kit;

mod actions;
mod auth;
mod authorization;
mod bad_input;
mod clients;
mod connections;
mod console;
mod custom_db;
mod embedded;
mod factors;
mod first_hour;
mod import;
mod injection;
mod jobs;
mod legacy;
mod login;
mod logs;
mod mfa;
mod openapi;
mod operations;
mod passkeys;
mod ratelimit;
mod shapes;
mod signup;
mod social;
mod stats;
mod tenant_config;
mod users;
