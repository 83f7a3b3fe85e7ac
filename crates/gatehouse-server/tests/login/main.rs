//! In-process tests of the OpenID Connect provider and the hosted login page: a real
//! server on a free port, an in-memory SQLite store, a pinned clock.

// Test helpers outside #[test] functions unwrap too: a failure there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod attack;
mod flows;
mod form_post;
mod helpers;
mod rejections;
mod store;
