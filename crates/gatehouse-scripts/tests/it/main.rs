//! The sandbox's integration tests: its limits, the modules scripts `require`, and the
//! customer's databases (MariaDB and PostgreSQL, when the test URLs name them).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod databases;
mod harness;
mod limits;
mod modules;

use gatehouse_scripts::{Job, Limits, Output, Sandbox, ScriptError};
use serde_json::{json, Map, Value};
use std::time::Duration;

pub fn sandbox(limits: Limits) -> Sandbox {
    Sandbox::new(limits).unwrap()
}

pub fn quick() -> Sandbox {
    sandbox(Limits { timeout: Duration::from_secs(5), ..Limits::default() })
}

/// Runs `source` as a custom database script with `args`.
pub async fn db(sb: &Sandbox, source: &str, args: Value, configuration: Value) -> Result<Output, ScriptError> {
    let configuration = configuration.as_object().cloned().unwrap_or_default();
    sb.run(Job::DbScript { source: source.into(), args: args.as_array().cloned().unwrap(), configuration }).await
}

/// Runs `code` as a post-login Action with `event`.
pub async fn action(sb: &Sandbox, code: &str, event: Value, secrets: Value) -> Result<Output, ScriptError> {
    let secrets: Map<String, Value> = secrets.as_object().cloned().unwrap_or_default();
    sb.run(Job::Action {
        trigger: "post-login".into(),
        handler: "onExecutePostLogin".into(),
        code: code.into(),
        event,
        secrets,
    })
    .await
}

/// The callback's arguments after a null error.
pub fn args(out: &Output) -> Vec<Value> {
    assert!(out.value.get("error").is_none(), "the script called back with an error: {}", out.value);
    out.value["args"].as_array().cloned().unwrap()
}
