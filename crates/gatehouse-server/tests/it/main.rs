//! The server in-process on a free port, driven over real HTTP. Every test runs on
//! SQLite, and again on PostgreSQL when `GATEHOUSE_TEST_POSTGRES_URL` is set (the README's
//! test command sets it), each on a fresh database or schema that is dropped afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod kit;

mod auth;
mod bad_input;
mod clients;
mod connections;
mod import;
mod injection;
mod jobs;
mod logs;
mod openapi;
mod operations;
mod ratelimit;
mod users;
