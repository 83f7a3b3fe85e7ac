//! Gatehouse's domain: users, connections, clients, APIs and roles and their identifiers, the
//! validation rules for what comes in from outside, and the error vocabulary the
//! HTTP surfaces map to Auth0-shaped responses.
//!
//! This crate does no I/O: no database, no network, no clock reads except through
//! the [`clock::Clock`] passed in by the caller.

pub mod action;
pub mod attack_protection;
pub mod authorization;
pub mod branding;
pub mod client;
pub mod clock;
pub mod connection;
pub mod email;
pub mod error;
pub mod identity;
pub mod ids;
pub mod job;
pub mod log_event;
pub mod mfa;
pub mod password_policy;
pub mod scope;
pub mod secret;
pub mod social;
pub mod stats;
pub mod user;
pub mod validate;

pub use error::{Error, Result};
