//! The `customScripts` legacy store: Auth0's custom database action scripts (`login`,
//! `get_user`, `create`, `verify`, `change_password`, `delete`), run unchanged in the
//! sandbox (`gatehouse-scripts`) with the connection's `configuration`, their callbacks
//! read as Auth0 reads them:
//!
//! * a profile's `id` stands for `user_id`, and `metadata` for `app_metadata`;
//! * `login`: `WrongUsernameOrPasswordError`, or a callback without a profile, is a wrong
//!   password; `UnauthorizedError` refuses the login with its message;
//! * `create`: `ValidationError('user_exists')` is an existing user;
//! * `change_password`: `callback(null, false)` means no such user;
//! * any other error, a throw or a limit is the store being unavailable.

use crate::profile::Profile;
use crate::{LegacyError, Login, NewLegacyUser};
use gatehouse_scripts::{Job, Sandbox, ScriptError};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The scripts Gatehouse runs, by Auth0's names.
pub(crate) const SCRIPT_NAMES: &[&str] = &["login", "get_user", "create", "verify", "change_password", "delete"];

pub(crate) struct ScriptsConfig {
    pub scripts: BTreeMap<String, String>,
    pub configuration: Map<String, Value>,
}

pub(crate) struct ScriptStore {
    sandbox: Sandbox,
    scripts: BTreeMap<String, String>,
    configuration: Map<String, Value>,
    connection: String,
}

impl std::fmt::Debug for ScriptStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptStore").field("scripts", &self.scripts.keys()).finish()
    }
}

/// What a script's callback said.
enum Answer {
    /// `callback(null, …)`: the arguments after the null.
    Args(Vec<Value>),
    /// `callback(error)`.
    Error { name: String, message: String, code: Option<String> },
}

impl ScriptStore {
    pub(crate) fn new(c: ScriptsConfig, sandbox: Sandbox, connection: &str) -> Self {
        Self { sandbox, scripts: c.scripts, configuration: c.configuration, connection: connection.to_string() }
    }

    pub(crate) fn has_script(&self, name: &str) -> bool {
        self.scripts.contains_key(name)
    }

    async fn call(&self, name: &'static str, args: Vec<Value>) -> Result<Answer, LegacyError> {
        let source =
            self.scripts.get(name).ok_or(LegacyError::Unsupported(name, "customScripts (add the script)"))?.clone();
        let job = Job::DbScript { source, args, configuration: self.configuration.clone() };
        let out = self.sandbox.run(job).await.map_err(|e| match e {
            ScriptError::Thrown { name: n, message, .. } => {
                LegacyError::Unavailable(format!("the {name} script threw {n}: {message}"))
            }
            other => LegacyError::Unavailable(format!("the {name} script: {other}")),
        })?;
        for line in &out.logs {
            tracing::info!(script = name, "{line}");
        }
        if let Some(e) = out.value.get("error") {
            let text = |k: &str| e[k].as_str().map(str::to_string);
            return Ok(Answer::Error {
                name: text("name").unwrap_or_default(),
                message: text("message").unwrap_or_default(),
                code: text("code"),
            });
        }
        Ok(Answer::Args(out.value["args"].as_array().cloned().unwrap_or_default()))
    }

    fn unavailable(name: &str, error: &str, message: &str) -> LegacyError {
        LegacyError::Unavailable(format!("the {name} script called back with {error}: {message}"))
    }

    pub(crate) async fn login(&self, login: &str, password: &str) -> Result<Login, LegacyError> {
        match self.call("login", vec![json!(login), json!(password)]).await? {
            Answer::Args(args) => match args.first() {
                Some(Value::Object(p)) => Ok(Login::Verified(profile("login", p)?)),
                _ => Ok(Login::Rejected),
            },
            Answer::Error { name, .. } if name == "WrongUsernameOrPasswordError" => Ok(Login::Rejected),
            Answer::Error { name, message, .. } if name == "UnauthorizedError" => {
                Err(LegacyError::Refused { code: "unauthorized", reason: message })
            }
            Answer::Error { name, message, .. } => Err(Self::unavailable("login", &name, &message)),
        }
    }

    pub(crate) async fn get_user(&self, login: &str) -> Result<Option<Profile>, LegacyError> {
        match self.call("get_user", vec![json!(login)]).await? {
            Answer::Args(args) => match args.first() {
                Some(Value::Object(p)) => Ok(Some(profile("get_user", p)?)),
                _ => Ok(None),
            },
            Answer::Error { name, message, .. } => Err(Self::unavailable("get_user", &name, &message)),
        }
    }

    pub(crate) async fn create(&self, u: &NewLegacyUser) -> Result<(), LegacyError> {
        let mut user = json!({"email": u.email, "password": u.password, "tenant": "gatehouse",
            "connection": self.connection, "email_verified": false});
        if let Some(name) = &u.username {
            user["username"] = json!(name);
        }
        match self.call("create", vec![user]).await? {
            Answer::Args(_) => Ok(()),
            Answer::Error { code, .. } if code.as_deref() == Some("user_exists") => Err(LegacyError::UserExists),
            Answer::Error { name, message, .. } => Err(Self::unavailable("create", &name, &message)),
        }
    }

    pub(crate) async fn change_password(&self, email: &str, password: &str) -> Result<bool, LegacyError> {
        match self.call("change_password", vec![json!(email), json!(password)]).await? {
            Answer::Args(args) => Ok(args.first().is_none_or(|v| !matches!(v, Value::Bool(false) | Value::Null))),
            Answer::Error { name, message, .. } => Err(Self::unavailable("change_password", &name, &message)),
        }
    }

    pub(crate) async fn verify(&self, email: &str) -> Result<(), LegacyError> {
        match self.call("verify", vec![json!(email)]).await? {
            Answer::Args(_) => Ok(()),
            Answer::Error { name, message, .. } => Err(Self::unavailable("verify", &name, &message)),
        }
    }

    pub(crate) async fn delete(&self, user_id: &str) -> Result<(), LegacyError> {
        match self.call("delete", vec![json!(user_id)]).await? {
            Answer::Args(_) => Ok(()),
            Answer::Error { name, message, .. } => Err(Self::unavailable("delete", &name, &message)),
        }
    }
}

/// A script's profile, as Auth0 reads it: `id` is `user_id` when that is missing,
/// `metadata` is `app_metadata`.
fn profile(script: &str, p: &Map<String, Value>) -> Result<Profile, LegacyError> {
    let mut fields = p.clone();
    if !fields.contains_key("user_id") {
        if let Some(id) = p.get("id").cloned() {
            fields.insert("user_id".into(), id);
        }
    }
    let mut out = Profile::from_fields(&fields)
        .map_err(|e| LegacyError::Unavailable(format!("the profile the {script} script gave: {e}")))?;
    let object = |k: &str| p.get(k).and_then(Value::as_object).cloned();
    out.user_metadata = object("user_metadata").unwrap_or_default();
    out.app_metadata = object("metadata").or_else(|| object("app_metadata")).unwrap_or_default();
    out.email_verified = matches!(p.get("email_verified"), Some(Value::Bool(true)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_profile_is_read_as_auth0_reads_it() {
        let p = json!({"id": 42, "email": "a@b.co", "metadata": {"plan": "pro"}, "user_metadata": {"lang": "fr"},
            "email_verified": true});
        let p = profile("login", p.as_object().unwrap()).unwrap();
        assert_eq!(p.user_id, "42");
        assert_eq!(p.app_metadata["plan"], "pro");
        assert_eq!(p.user_metadata["lang"], "fr");
        assert!(p.email_verified);
        assert!(profile("login", json!({"email": "a@b.co"}).as_object().unwrap()).is_err());
    }
}
