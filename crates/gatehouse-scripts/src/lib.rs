//! The JavaScript sandbox: runs Auth0 Actions and custom database scripts unchanged.
//!
//! This crate owns the engine, the limits every run is held to and the Node-like modules
//! scripts may `require` (see `js/prelude.js`): `bcrypt` (Gatehouse's own bcrypt from
//! `gatehouse-hash`), `crypto`, `mysql` and `pg` (the customer's database through sqlx,
//! every value bound), and an HTTP client (`request`, `axios`, `fetch`). It knows nothing
//! of triggers' meaning: a run takes JSON in and gives JSON out ([`Job`], [`Output`]);
//! what an Action's recorded `api` calls do, and what a database script's callback
//! means, is for the callers (`gatehouse-services::actions`, `gatehouse-legacy`).
//!
//! # The engine: QuickJS (through `rquickjs`)
//!
//! Crates that download a prebuilt V8 (`deno_core`, `v8`) cannot be built here. Of the
//! engines that build from crates alone, measured on this machine (2 cores):
//!
//! | | QuickJS (`rquickjs` 0.9, C compiled by `cc`) | Boa (`boa_engine` 0.22, pure Rust) |
//! |---|---|---|
//! | clean release build of the engine alone | 45 s | 300 s |
//! | ES2020 `async`/`await`, `?.`, `??`, classes | yes | yes |
//! | memory limit per run | yes (a counting allocator and the interrupt handler) | no (only loop and recursion limits) |
//! | time limit per run | yes (an interrupt handler raises an uncatchable exception) | a loop-iteration limit only |
//! | fresh context and `1+1` | 0.11 ms | 0.44 ms |
//! | `fib(25)` | 16 ms | 59 ms |
//!
//! QuickJS is chosen: only it bounds both time and memory of a run, which a multi-tenant
//! identity server must (an endless loop or an allocation bomb must not take the server
//! down), and it is the faster of the two to start and to run.
//!
//! # How a run goes
//!
//! Runs execute on the sandbox's own threads, never on the async runtime's workers: a
//! script that spins until its deadline holds one sandbox thread, not the server. Each
//! run gets a fresh context (nothing leaks from one run to the next; the thread makes it,
//! with the prelude's compiled code loaded, while it waits for the run) in a runtime whose
//! allocator counts what it holds (`memory`); an interrupt handler stops the script at
//! its deadline or past its memory limit. What reaches
//! outside (a query, an HTTP call, a timer) is started on the async runtime and its
//! answer resolves the script's promise on the sandbox thread. Outbound connections go
//! only to the hosts of [`Limits::allowed_hosts`]; there is no file system. Console
//! output is kept for the execution's record with every secret the run was given
//! replaced by `[redacted]`.

mod engine;
mod host;
mod memory;

pub use engine::{Job, Limits, Output, Sandbox};

/// Why a run gave no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    /// The run did not finish within its time limit.
    #[error("the script did not finish within {0} ms")]
    Timeout(u64),
    /// The run allocated past its memory limit.
    #[error("the script used more than its memory limit of {0} bytes")]
    Memory(usize),
    /// The script threw (or rejected, or called back with an error it did not expect).
    #[error("{name}: {message}")]
    Thrown { name: String, message: String, code: Option<String> },
    /// A database script returned without ever calling its callback, and nothing it
    /// started is still running.
    #[error("the script finished without calling its callback")]
    NoCallback,
    /// The sandbox itself failed (its threads are gone, a value would not convert).
    #[error("the sandbox failed: {0}")]
    Internal(String),
}

impl ScriptError {
    /// Whether the run was stopped by a limit (time or memory) rather than by the script.
    pub fn is_limit(&self) -> bool {
        matches!(self, Self::Timeout(_) | Self::Memory(_))
    }
}
