//! Auth0 Actions' domain: actions (code, dependencies, secrets, the triggers they
//! support), their deployed versions, the bindings that run them on a trigger in order,
//! and the record of each execution; the Management API's bodies and Auth0's JSON
//! shapes for them.

use crate::validate::{Body, Patch};
use crate::Error;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A trigger Gatehouse runs actions on, with Auth0's current version and the function
/// an action exports for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trigger {
    pub id: &'static str,
    pub version: &'static str,
    pub handler: &'static str,
}

pub const POST_LOGIN: &str = "post-login";
pub const CREDENTIALS_EXCHANGE: &str = "credentials-exchange";
pub const PRE_USER_REGISTRATION: &str = "pre-user-registration";
pub const POST_USER_REGISTRATION: &str = "post-user-registration";
pub const POST_CHANGE_PASSWORD: &str = "post-change-password";

pub const TRIGGERS: &[Trigger] = &[
    Trigger { id: POST_LOGIN, version: "v3", handler: "onExecutePostLogin" },
    Trigger { id: CREDENTIALS_EXCHANGE, version: "v2", handler: "onExecuteCredentialsExchange" },
    Trigger { id: PRE_USER_REGISTRATION, version: "v2", handler: "onExecutePreUserRegistration" },
    Trigger { id: POST_USER_REGISTRATION, version: "v2", handler: "onExecutePostUserRegistration" },
    Trigger { id: POST_CHANGE_PASSWORD, version: "v2", handler: "onExecutePostChangePassword" },
];

pub fn trigger(id: &str) -> Option<&'static Trigger> {
    TRIGGERS.iter().find(|t| t.id == id)
}

/// The runtimes Auth0 offers; Gatehouse runs every one in the same sandbox.
pub const RUNTIMES: &[&str] = &["node12", "node16", "node18", "node18-actions", "node22"];
pub const DEFAULT_RUNTIME: &str = "node22";

/// The npm packages an action may depend on: those the sandbox provides.
pub const PROVIDED_DEPENDENCIES: &[&str] =
    &["axios", "bcrypt", "bcryptjs", "mysql", "mysql2", "node-fetch", "pg", "request"];

/// Auth0's limits: 100 KB of code, and what a list may hold.
pub const MAX_CODE_BYTES: usize = 100 * 1024;
const MAX_ITEMS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerRef {
    pub id: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependency {
    pub name: String,
    pub version: String,
}

/// A secret of an action. The value is plaintext here; the store seals it at rest and
/// the API never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ActionSecret {
    pub name: String,
    pub value: String,
    pub updated_at: String,
}

impl std::fmt::Debug for ActionSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActionSecret").field("name", &self.name).field("value", &"<redacted>").finish()
    }
}

/// An action as it is being edited (its draft).
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    pub id: String,
    pub name: String,
    pub supported_triggers: Vec<TriggerRef>,
    pub code: String,
    pub dependencies: Vec<Dependency>,
    pub runtime: String,
    pub secrets: Vec<ActionSecret>,
    pub created_at: String,
    pub updated_at: String,
}

/// A deployed (or formerly deployed) snapshot of an action's code.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionVersion {
    pub id: String,
    pub action_id: String,
    pub number: i64,
    pub code: String,
    pub dependencies: Vec<Dependency>,
    pub runtime: String,
    pub supported_triggers: Vec<TriggerRef>,
    pub deployed: bool,
    pub created_at: String,
}

/// An action bound to a trigger, in the trigger's order.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    pub id: String,
    pub trigger_id: String,
    pub action_id: String,
    pub display_name: String,
    pub created_at: String,
}

/// The record of one trigger's run: its bound actions' results.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    pub id: String,
    pub trigger_id: String,
    /// `final` (every action ran), `partial` (one failed or denied) or `unspecified`.
    pub status: String,
    pub results: Vec<Value>,
    pub created_at: String,
    pub updated_at: String,
}

impl Execution {
    pub fn to_auth0_json(&self) -> Value {
        json!({
            "id": self.id,
            "trigger_id": self.trigger_id,
            "status": self.status,
            "results": self.results,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}

impl Action {
    fn secrets_json(&self) -> Value {
        Value::Array(self.secrets.iter().map(|s| json!({"name": s.name, "updated_at": s.updated_at})).collect())
    }

    /// Whether the draft is what the deployed version runs.
    pub fn all_changes_deployed(&self, deployed: Option<&ActionVersion>) -> bool {
        deployed.is_some_and(|v| {
            v.code == self.code
                && v.dependencies == self.dependencies
                && v.runtime == self.runtime
                && v.supported_triggers == self.supported_triggers
        })
    }

    /// Auth0's action, with its deployed version when there is one. Secrets show their
    /// names only.
    pub fn to_auth0_json(&self, deployed: Option<&ActionVersion>) -> Value {
        let mut v = json!({
            "id": self.id,
            "name": self.name,
            "supported_triggers": self.supported_triggers,
            "all_changes_deployed": self.all_changes_deployed(deployed),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "code": self.code,
            "dependencies": self.dependencies,
            "runtime": self.runtime,
            "secrets": self.secrets_json(),
            "status": "built",
            "built_at": self.updated_at,
            "deploy": false,
        });
        if let Some(d) = deployed {
            v["deployed_version"] = d.to_auth0_json(self);
        }
        v
    }

    /// The names `action_ref`, `action_id` and `action_name` a binding may use.
    pub fn is_named(&self, kind: &str, value: &str) -> bool {
        match kind {
            "action_id" => self.id == value,
            "action_name" => self.name == value,
            _ => false,
        }
    }
}

impl ActionVersion {
    pub fn to_auth0_json(&self, action: &Action) -> Value {
        json!({
            "id": self.id,
            "action_id": self.action_id,
            "code": self.code,
            "dependencies": self.dependencies,
            "deployed": self.deployed,
            "runtime": self.runtime,
            "secrets": action.secrets_json(),
            "status": "built",
            "number": self.number,
            "errors": [],
            "built_at": self.created_at,
            "created_at": self.created_at,
            "updated_at": self.created_at,
            "supported_triggers": self.supported_triggers,
            "action": {
                "id": action.id,
                "name": action.name,
                "supported_triggers": action.supported_triggers,
                "all_changes_deployed": false,
                "created_at": action.created_at,
                "updated_at": action.updated_at,
            },
        })
    }
}

impl Binding {
    pub fn to_auth0_json(&self, action: &Action, deployed: Option<&ActionVersion>) -> Value {
        json!({
            "id": self.id,
            "trigger_id": self.trigger_id,
            "display_name": self.display_name,
            "action": action.to_auth0_json(deployed),
            "created_at": self.created_at,
            "updated_at": self.created_at,
        })
    }
}

/// What a create or update body sets. `secrets` entries without a value keep the
/// stored value of the secret of that name.
#[derive(Debug, Default)]
pub struct ActionChanges {
    pub name: Option<String>,
    pub supported_triggers: Option<Vec<TriggerRef>>,
    pub code: Option<String>,
    pub dependencies: Option<Vec<Dependency>>,
    pub runtime: Option<String>,
    pub secrets: Option<Vec<(String, Option<String>)>>,
}

const ACTION_FIELDS: &[&str] = &["name", "supported_triggers", "code", "dependencies", "runtime", "secrets", "modules"];

fn items<'a>(body: &Body<'a>, key: &str) -> Result<Option<&'a Vec<Value>>, Error> {
    match body.raw(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) if a.len() <= MAX_ITEMS => Ok(Some(a)),
        Some(Value::Array(_)) => Err(Error::invalid_field(key, format!("Array is too long, maximum {MAX_ITEMS}"))),
        Some(other) => Err(Error::invalid_field(
            key,
            format!("Expected type array but found type {}", crate::validate::type_name(other)),
        )),
    }
}

fn item<'a>(v: &'a Value, key: &str, i: usize, allowed: &[&str]) -> Result<Body<'a>, Error> {
    let field = format!("{key}[{i}]");
    match v {
        Value::Object(_) => Body::new(v, allowed).map_err(|e| match e {
            Error::InvalidBody(m) => Error::InvalidBody(m.replace("'.", &format!("' on property {field}."))),
            other => other,
        }),
        other => Err(Error::invalid_field(
            field,
            format!("Expected type object but found type {}", crate::validate::type_name(other)),
        )),
    }
}

fn set(p: Patch<String>) -> Option<String> {
    match p {
        Patch::Set(s) => Some(s),
        _ => None,
    }
}

impl ActionChanges {
    /// A create body: `name` and `supported_triggers` are required.
    pub fn for_create(value: &Value) -> Result<Self, Error> {
        let c = Self::parse(value)?;
        if c.name.is_none() {
            return Err(Error::missing_field("name"));
        }
        if c.supported_triggers.is_none() {
            return Err(Error::missing_field("supported_triggers"));
        }
        Ok(c)
    }

    pub fn for_update(value: &Value) -> Result<Self, Error> {
        Self::parse(value)
    }

    fn parse(value: &Value) -> Result<Self, Error> {
        let body = Body::new(value, ACTION_FIELDS)?;
        let name = set(body.string("name", 1, 100)?);
        let code = set(body.string("code", 0, MAX_CODE_BYTES)?);
        if code.as_ref().is_some_and(|c| c.len() > MAX_CODE_BYTES) {
            return Err(Error::invalid_field("code", format!("String is too long, maximum {MAX_CODE_BYTES} bytes")));
        }
        let runtime = set(body.string("runtime", 1, 32)?);
        if let Some(r) = &runtime {
            if !RUNTIMES.contains(&r.as_str()) {
                return Err(Error::invalid_field("runtime", format!("must be one of {}", RUNTIMES.join(", "))));
            }
        }
        let supported_triggers = match items(&body, "supported_triggers")? {
            None => None,
            Some(list) => {
                let mut out = Vec::new();
                for (i, v) in list.iter().enumerate() {
                    let b = item(v, "supported_triggers", i, &["id", "version"])?;
                    let id = b.required_string("id", 1, 64)?;
                    let t = trigger(&id).ok_or_else(|| {
                        Error::invalid_field(
                            format!("supported_triggers[{i}].id"),
                            format!(
                                "Gatehouse runs actions on {}",
                                TRIGGERS.iter().map(|t| t.id).collect::<Vec<_>>().join(", ")
                            ),
                        )
                    })?;
                    let version = set(b.string("version", 1, 8)?).unwrap_or_else(|| t.version.to_string());
                    out.push(TriggerRef { id, version });
                }
                if out.is_empty() {
                    return Err(Error::invalid_field("supported_triggers", "Array is too short (0), minimum 1"));
                }
                Some(out)
            }
        };
        let dependencies = match items(&body, "dependencies")? {
            None => None,
            Some(list) => {
                let mut out = Vec::new();
                for (i, v) in list.iter().enumerate() {
                    let b = item(v, "dependencies", i, &["name", "version", "registry_url"])?;
                    let name = b.required_string("name", 1, 214)?;
                    if !PROVIDED_DEPENDENCIES.contains(&name.as_str()) {
                        return Err(Error::invalid_field(
                            format!("dependencies[{i}].name"),
                            format!(
                                "{name} is not available in Gatehouse's sandbox, which provides {}",
                                PROVIDED_DEPENDENCIES.join(", ")
                            ),
                        ));
                    }
                    let version = set(b.string("version", 1, 64)?).unwrap_or_else(|| "latest".into());
                    out.push(Dependency { name, version });
                }
                Some(out)
            }
        };
        let secrets = match items(&body, "secrets")? {
            None => None,
            Some(list) => {
                let mut out: Vec<(String, Option<String>)> = Vec::new();
                for (i, v) in list.iter().enumerate() {
                    let b = item(v, "secrets", i, &["name", "value", "updated_at"])?;
                    let name = b.required_string("name", 1, 128)?;
                    if out.iter().any(|(n, _)| *n == name) {
                        return Err(Error::invalid_field(format!("secrets[{i}].name"), "is given twice"));
                    }
                    out.push((name, set(b.string("value", 0, 4096)?)));
                }
                Some(out)
            }
        };
        if let Some(m) = items(&body, "modules")? {
            if !m.is_empty() {
                return Err(Error::invalid_field("modules", "Gatehouse has no action modules yet"));
            }
        }
        Ok(Self { name, supported_triggers, code, dependencies, runtime, secrets })
    }

    /// The changes applied to `action` (a new one has empty fields), at `now`.
    pub fn apply(self, action: &mut Action, now: &str) -> Result<(), Error> {
        if let Some(n) = self.name {
            action.name = n;
        }
        if let Some(t) = self.supported_triggers {
            action.supported_triggers = t;
        }
        if let Some(c) = self.code {
            action.code = c;
        }
        if let Some(d) = self.dependencies {
            action.dependencies = d;
        }
        if let Some(r) = self.runtime {
            action.runtime = r;
        }
        if let Some(list) = self.secrets {
            let mut secrets = Vec::with_capacity(list.len());
            for (i, (name, value)) in list.into_iter().enumerate() {
                let kept = action.secrets.iter().find(|s| s.name == name);
                let secret = match (value, kept) {
                    (Some(value), Some(k)) if k.value == value => k.clone(),
                    (Some(value), _) => ActionSecret { name, value, updated_at: now.to_string() },
                    (None, Some(k)) => k.clone(),
                    (None, None) => return Err(Error::missing_field(format!("secrets[{i}].value"))),
                };
                secrets.push(secret);
            }
            action.secrets = secrets;
        }
        action.updated_at = now.to_string();
        Ok(())
    }
}

/// A binding named by a PATCH of a trigger's bindings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingRef {
    /// `action_id` or `action_name` (Auth0's `binding_id` is not supported).
    pub kind: String,
    pub value: String,
    pub display_name: Option<String>,
}

/// `PATCH /api/v2/actions/triggers/{trigger}/bindings`: `{"bindings": [{"ref": {"type", "value"}, "display_name"}]}`.
pub fn parse_bindings(value: &Value) -> Result<Vec<BindingRef>, Error> {
    let body = Body::new(value, &["bindings"])?;
    let list = items(&body, "bindings")?.ok_or_else(|| Error::missing_field("bindings"))?;
    let mut out = Vec::new();
    for (i, v) in list.iter().enumerate() {
        let b = item(v, "bindings", i, &["ref", "display_name", "secrets"])?;
        let r =
            b.object("ref", &["type", "value"])?.ok_or_else(|| Error::missing_field(format!("bindings[{i}].ref")))?;
        let kind = r.required_string("type", 1, 32)?;
        if !["action_id", "action_name"].contains(&kind.as_str()) {
            return Err(Error::invalid_field(format!("bindings[{i}].ref.type"), "must be action_id or action_name"));
        }
        let value = r.required_string("value", 1, 255)?;
        out.push(BindingRef { kind, value, display_name: set(b.string("display_name", 1, 255)?) });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_create_body_names_what_is_wrong() {
        let ok = ActionChanges::for_create(&json!({"name": "a", "supported_triggers": [{"id": "post-login", "version": "v3"}],
            "code": "exports.onExecutePostLogin = async () => {}", "dependencies": [{"name": "axios", "version": "1.6.0"}],
            "secrets": [{"name": "KEY", "value": "v"}]}))
        .unwrap();
        assert_eq!(ok.secrets, Some(vec![("KEY".into(), Some("v".into()))]));
        let e = ActionChanges::for_create(&json!({"supported_triggers": [{"id": "post-login"}]})).unwrap_err();
        assert_eq!(e.to_string(), "Payload validation error: 'Missing required property: name'.");
        let e = ActionChanges::for_create(&json!({"name": "a", "supported_triggers": [{"id": "send-phone-message"}]}))
            .unwrap_err();
        assert!(e.to_string().contains("supported_triggers[0].id"), "{e}");
        let e = ActionChanges::for_create(
            &json!({"name": "a", "supported_triggers": [{"id": "post-login"}], "dependencies": [{"name": "lodash"}]}),
        )
        .unwrap_err();
        assert!(e.to_string().contains("lodash is not available"), "{e}");
        assert!(ActionChanges::for_create(&json!({"name": "a", "supported_triggers": [], "x": 1})).is_err());
    }

    #[test]
    fn secrets_keep_their_value_unless_given_one() {
        let mut a = Action {
            id: "1".into(),
            name: "a".into(),
            supported_triggers: vec![],
            code: String::new(),
            dependencies: vec![],
            runtime: DEFAULT_RUNTIME.into(),
            secrets: vec![ActionSecret { name: "A".into(), value: "old".into(), updated_at: "t0".into() }],
            created_at: "t0".into(),
            updated_at: "t0".into(),
        };
        ActionChanges::for_update(&json!({"secrets": [{"name": "A"}, {"name": "B", "value": "b"}]}))
            .unwrap()
            .apply(&mut a, "t1")
            .unwrap();
        assert_eq!(a.secrets[0].value, "old");
        assert_eq!(a.secrets[0].updated_at, "t0");
        assert_eq!(a.secrets[1].value, "b");
        assert!(!format!("{:?}", a.secrets).contains("old"), "secrets never show in Debug");
        let e = ActionChanges::for_update(&json!({"secrets": [{"name": "C"}]})).unwrap().apply(&mut a, "t2");
        assert!(e.is_err());
    }
}
