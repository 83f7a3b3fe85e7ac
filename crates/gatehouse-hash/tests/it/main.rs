//! Gatehouse-hash's tests, one binary: independent implementations' vectors, the errors
//! of malformed input, and property tests.

// Test helpers outside #[test] functions unwrap too: a failure there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod errors;
mod properties;
mod vectors;
