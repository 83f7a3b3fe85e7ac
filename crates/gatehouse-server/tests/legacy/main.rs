//! Legacy identity stores against real servers: MariaDB and PostgreSQL legacy
//! databases, an HTTP legacy service (an axum app in the test: it plays the customer's
//! service), and OpenLDAP (`scripts/slapd-test`). Gatehouse's own store runs on SQLite
//! and on PostgreSQL. MariaDB, PostgreSQL and LDAP tests skip with a message when their
//! `GATEHOUSE_TEST_*_URL` variable is unset (`scripts/test` sets them all).

// Test helpers outside #[test] functions unwrap too: a failure there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
#[path = "../it/kit.rs"]
mod kit;

#[allow(dead_code)]
#[path = "../signup/helpers.rs"]
mod pages;

mod http;
mod ldap;
mod rules;
mod sql;
mod support;
