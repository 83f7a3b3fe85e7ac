//! Sign-in through social and OpenID Connect connections, against an upstream provider
//! the test runs itself (a small axum OpenID provider with its own signing key and JWKS,
//! and a GitHub-shaped OAuth 2.0 API), on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
#[path = "../it/kit.rs"]
mod kit;

mod browser;
mod callback;
mod connections;
mod identities;
mod linking;
mod op;
