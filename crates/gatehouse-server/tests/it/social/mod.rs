//! Sign-in through social and OpenID Connect connections, against an upstream provider
//! the test runs itself (a small axum OpenID provider with its own signing key and JWKS,
//! and a GitHub-shaped OAuth 2.0 API).

mod callback;
mod connections;
mod identities;
mod linking;
mod op;
mod world;
