//! Sign-up, password policies, password reset and email verification: a real server on
//! a free port per test (SQLite, and PostgreSQL when `GATEHOUSE_TEST_POSTGRES_URL` is
//! set), email through the file outbox or a real SMTP sink (Python `aiosmtpd`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../it/kit.rs"]
#[allow(dead_code)]
mod kit;

mod helpers;

mod api;
mod attack;
mod pages;
mod policy;
mod smtp;
mod tickets;
