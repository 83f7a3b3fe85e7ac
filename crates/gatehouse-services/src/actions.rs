//! Auth0 Actions: managing actions, their versions and the bindings of triggers (one set
//! of functions for every surface), and running a trigger's bound actions in the flows
//! (`post-login`, `credentials-exchange`, `pre-user-registration`,
//! `post-user-registration`, `post-change-password`).
//!
//! A trigger's actions run in order in the sandbox (`gatehouse-scripts`); each one's
//! `api` calls come back as commands, which are carried out only once every action has
//! run: a deny, a throw or a timeout in any of them fails the flow and leaves nothing
//! half written. Every run is recorded as an execution (`GET
//! /api/v2/actions/executions/{id}`); a failed one is also logged as Auth0's
//! `actions_execution_failed`.

use crate::Services;
use gatehouse_core::action::{
    self, parse_bindings, trigger, Action, ActionChanges, ActionVersion, Binding, Execution, DEFAULT_RUNTIME,
};
use gatehouse_core::client::Client;
use gatehouse_core::user::User;
use gatehouse_core::Error as DomainError;
use gatehouse_scripts::{Job, ScriptError};
use gatehouse_store::{BoundAction, StoreError};
use serde_json::{json, Map, Value};

/// Auth0's log type of a failed action execution.
pub const FAILED_EXECUTION: &str = "actions_execution_failed";

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error(transparent)]
    Refused(#[from] DomainError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

type Result<T, E = ActionError> = std::result::Result<T, E>;

fn not_found(what: &str) -> ActionError {
    ActionError::Refused(DomainError::NotFound { code: "inexistent_resource", message: format!("{what} not found") })
}

// ---- management ---------------------------------------------------------------------

async fn load(state: &Services, id: &str) -> Result<Action> {
    state.store.action(id).await?.ok_or_else(|| not_found("Action"))
}

/// An action as the API shows it, with its deployed version.
pub async fn action_json(state: &Services, a: &Action) -> Result<Value> {
    let deployed = state.store.deployed_version(&a.id).await?;
    Ok(a.to_auth0_json(deployed.as_ref()))
}

pub async fn create_action(state: &Services, body: &Value) -> Result<Value> {
    let changes = ActionChanges::for_create(body)?;
    let now = state.now();
    let mut a = Action {
        id: gatehouse_core::ids::new_uuid(),
        name: String::new(),
        supported_triggers: Vec::new(),
        code: String::new(),
        dependencies: Vec::new(),
        runtime: DEFAULT_RUNTIME.into(),
        secrets: Vec::new(),
        created_at: now.clone(),
        updated_at: now.clone(),
    };
    changes.apply(&mut a, &now)?;
    state.store.insert_action(&a).await?;
    action_json(state, &a).await
}

pub async fn update_action(state: &Services, id: &str, body: &Value) -> Result<Value> {
    let changes = ActionChanges::for_update(body)?;
    let mut a = load(state, id).await?;
    changes.apply(&mut a, &state.now())?;
    state.store.update_action(&a).await?;
    action_json(state, &a).await
}

/// Deletes an action; one still bound to a trigger only with `force`.
pub async fn delete_action(state: &Services, id: &str, force: bool) -> Result<()> {
    load(state, id).await?;
    if !force {
        for t in action::TRIGGERS {
            if state.store.bindings(t.id).await?.iter().any(|b| b.action_id == id) {
                return Err(DomainError::Rejected {
                    code: "invalid_request",
                    message: format!("The action is bound to {}; unbind it first or delete with force=true", t.id),
                }
                .into());
            }
        }
    }
    state.store.delete_action(id).await?;
    Ok(())
}

pub async fn get_action(state: &Services, id: &str) -> Result<Value> {
    let a = load(state, id).await?;
    action_json(state, &a).await
}

/// Actions by name, filtered as Auth0's list is; with the total.
pub async fn list_actions(
    state: &Services,
    trigger_id: Option<&str>,
    name: Option<&str>,
    deployed: Option<bool>,
    offset: u32,
    limit: u32,
) -> Result<(Vec<Value>, u64)> {
    let (all, _) = state.store.actions(trigger_id, name, 0, u32::MAX).await?;
    let mut out = Vec::new();
    for a in &all {
        let d = state.store.deployed_version(&a.id).await?;
        if deployed.is_none_or(|want| want == d.is_some()) {
            out.push(a.to_auth0_json(d.as_ref()));
        }
    }
    let total = out.len() as u64;
    Ok((out.into_iter().skip(offset as usize).take(limit as usize).collect(), total))
}

/// `POST /actions/actions/{id}/deploy`: the draft becomes a new deployed version.
pub async fn deploy(state: &Services, id: &str) -> Result<Value> {
    let a = load(state, id).await?;
    let mut v = ActionVersion {
        id: gatehouse_core::ids::new_uuid(),
        action_id: a.id.clone(),
        number: 0,
        code: a.code.clone(),
        dependencies: a.dependencies.clone(),
        runtime: a.runtime.clone(),
        supported_triggers: a.supported_triggers.clone(),
        deployed: true,
        created_at: state.now(),
    };
    v.number = state.store.deploy_new_version(&v).await?;
    Ok(v.to_auth0_json(&a))
}

pub async fn versions(state: &Services, id: &str, offset: u32, limit: u32) -> Result<(Vec<Value>, u64)> {
    let a = load(state, id).await?;
    let (versions, total) = state.store.action_versions(id, offset, limit).await?;
    Ok((versions.iter().map(|v| v.to_auth0_json(&a)).collect(), total))
}

pub async fn version(state: &Services, action_id: &str, id: &str) -> Result<Value> {
    let a = load(state, action_id).await?;
    let v = state.store.action_version(action_id, id).await?.ok_or_else(|| not_found("Version"))?;
    Ok(v.to_auth0_json(&a))
}

/// Deploys an earlier version again.
pub async fn deploy_version(state: &Services, action_id: &str, id: &str) -> Result<Value> {
    let a = load(state, action_id).await?;
    match state.store.redeploy_version(action_id, id).await {
        Err(StoreError::NotFound) => return Err(not_found("Version")),
        other => other?,
    }
    let v = state.store.action_version(action_id, id).await?.ok_or_else(|| not_found("Version"))?;
    Ok(v.to_auth0_json(&a))
}

fn known_trigger(id: &str) -> Result<&'static action::Trigger> {
    trigger(id).ok_or_else(|| not_found("Trigger"))
}

/// Auth0's list of triggers.
pub fn triggers_json() -> Value {
    let triggers: Vec<Value> = action::TRIGGERS
        .iter()
        .map(|t| {
            json!({"id": t.id, "version": t.version, "status": "CURRENT", "runtimes": action::RUNTIMES,
                "default_runtime": DEFAULT_RUNTIME, "compatible_triggers": []})
        })
        .collect();
    json!({"triggers": triggers})
}

async fn bindings_json(state: &Services, bindings: &[Binding]) -> Result<Vec<Value>> {
    let mut out = Vec::with_capacity(bindings.len());
    for b in bindings {
        let a = load(state, &b.action_id).await?;
        let d = state.store.deployed_version(&a.id).await?;
        out.push(b.to_auth0_json(&a, d.as_ref()));
    }
    Ok(out)
}

pub async fn bindings(state: &Services, trigger_id: &str) -> Result<Vec<Value>> {
    known_trigger(trigger_id)?;
    let bindings = state.store.bindings(trigger_id).await?;
    bindings_json(state, &bindings).await
}

/// `PATCH /actions/triggers/{trigger}/bindings`: the trigger runs these actions, in this
/// order, from now on. Each must support the trigger and be deployed.
pub async fn update_bindings(state: &Services, trigger_id: &str, body: &Value) -> Result<Vec<Value>> {
    known_trigger(trigger_id)?;
    let refs = parse_bindings(body)?;
    let (all, _) = state.store.actions(None, None, 0, u32::MAX).await?;
    let now = state.now();
    let mut bindings = Vec::with_capacity(refs.len());
    for (i, r) in refs.iter().enumerate() {
        let a = all.iter().find(|a| a.is_named(&r.kind, &r.value)).ok_or_else(|| {
            DomainError::invalid_field(format!("bindings[{i}].ref"), format!("no action with {} {}", r.kind, r.value))
        })?;
        if !a.supported_triggers.iter().any(|t| t.id == trigger_id) {
            return Err(DomainError::invalid_field(
                format!("bindings[{i}].ref"),
                format!("the action {} does not support the {trigger_id} trigger", a.name),
            )
            .into());
        }
        if state.store.deployed_version(&a.id).await?.is_none() {
            return Err(DomainError::invalid_field(
                format!("bindings[{i}].ref"),
                format!("the action {} has not been deployed", a.name),
            )
            .into());
        }
        bindings.push(Binding {
            id: gatehouse_core::ids::new_uuid(),
            trigger_id: trigger_id.to_string(),
            action_id: a.id.clone(),
            display_name: r.display_name.clone().unwrap_or_else(|| a.name.clone()),
            created_at: now.clone(),
        });
    }
    state.store.replace_bindings(trigger_id, bindings.clone()).await?;
    bindings_json(state, &bindings).await
}

pub async fn execution(state: &Services, id: &str) -> Result<Value> {
    Ok(state.store.execution(id).await?.ok_or_else(|| not_found("Execution"))?.to_auth0_json())
}

// ---- running a trigger ------------------------------------------------------------------

/// Why a trigger's actions stopped the flow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionsRefusal {
    /// `api.access.deny(reason)` (for `pre-user-registration`, `userMessage` when given;
    /// for `credentials-exchange`, `code` is the OAuth error).
    #[error("{reason}")]
    Denied { code: Option<String>, reason: String },
    /// An action threw, timed out or ran out of memory; the message is for the answer
    /// (secrets redacted).
    #[error("{0}")]
    Failed(String),
}

/// Who and what a flow's actions run for, for the audit log.
#[derive(Debug, Clone, Default)]
pub struct RunContext {
    pub client_id: Option<String>,
    pub client_name: Option<String>,
    pub connection: Option<String>,
    pub connection_id: Option<String>,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    pub ip: Option<String>,
}

/// What a trigger's actions asked for, once every one of them ran.
#[derive(Debug, Clone, Default)]
pub struct Commands {
    /// Each command: its name, then its arguments (`["idToken.setCustomClaim", k, v]`).
    pub list: Vec<Vec<Value>>,
    pub execution_id: Option<String>,
}

impl Commands {
    fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [Value]> + 'a {
        self.list.iter().filter(move |c| c.first().and_then(Value::as_str) == Some(name)).map(|c| &c[1..])
    }

    /// The claims `setCustomClaim` set on `target` (`idToken`, `accessToken`), the last
    /// value of each winning; claims a token's own (`sub`, `aud`, …) are left alone.
    pub fn claims(&self, target: &str) -> Map<String, Value> {
        let mut m = Map::new();
        for args in self.named(&format!("{target}.setCustomClaim")) {
            if let (Some(Value::String(k)), Some(v)) = (args.first(), args.get(1)) {
                if !PROTECTED_CLAIMS.contains(&k.as_str()) {
                    m.insert(k.clone(), v.clone());
                }
            }
        }
        m
    }

    /// The metadata changes (`setUserMetadata`/`setAppMetadata`) applied to `m`: a null or
    /// undefined value removes the key.
    pub fn apply_metadata(&self, command: &str, m: &mut Map<String, Value>) -> bool {
        let mut changed = false;
        for args in self.named(command) {
            if let Some(Value::String(k)) = args.first() {
                match args.get(1) {
                    None | Some(Value::Null) => changed |= m.remove(k).is_some(),
                    Some(v) => {
                        changed = true;
                        m.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        changed
    }

    fn deny(&self) -> Option<&[Value]> {
        self.named("access.deny").next()
    }
}

/// Claims an action cannot set: those the token itself is made of.
pub const PROTECTED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "azp",
    "scope",
    "permissions",
    "gty",
    "auth_time",
    "nonce",
    "sid",
    "client_id",
    "at_hash",
    "c_hash",
    "acr",
    "amr",
];

/// Runs `trigger_id`'s bound actions on `event`, in order, stopping at a deny or a
/// failure. No bound action: no run, no execution, nothing read but the bindings.
pub async fn run_trigger(
    state: &Services,
    trigger_id: &str,
    event: Value,
    context: &RunContext,
) -> Result<Commands, ActionsRefusal> {
    let bound = state.store.trigger_actions(trigger_id).await.map_err(|e| {
        tracing::error!(trigger = trigger_id, error = %e, "reading the trigger's actions failed");
        ActionsRefusal::Failed("The trigger's actions could not be read".into())
    })?;
    if bound.is_empty() {
        return Ok(Commands::default());
    }
    let handler = trigger(trigger_id).map_or("onExecutePostLogin", |t| t.handler);
    let mut commands = Commands { list: Vec::new(), execution_id: Some(gatehouse_core::ids::new_uuid()) };
    let mut results = Vec::with_capacity(bound.len());
    let created_at = state.now();
    let mut refusal = None;
    for BoundAction { binding, action, version } in &bound {
        let started_at = state.now();
        let secrets: Map<String, Value> =
            action.secrets.iter().map(|s| (s.name.clone(), Value::String(s.value.clone()))).collect();
        let job = Job::Action {
            trigger: trigger_id.to_string(),
            handler: handler.to_string(),
            code: version.code.clone(),
            event: event.clone(),
            secrets,
        };
        let outcome = state.scripts.run(job).await;
        let mut result =
            json!({"action_name": binding.display_name, "started_at": started_at, "ended_at": state.now()});
        match outcome {
            Ok(out) => {
                let list: Vec<Vec<Value>> = out.value["commands"]
                    .as_array()
                    .map(|l| l.iter().filter_map(|c| c.as_array().cloned()).collect())
                    .unwrap_or_default();
                commands.list.extend(list);
                if !out.logs.is_empty() {
                    result["logs"] = json!(out.logs.join("\n"));
                }
                results.push(result);
                if let Some(args) = commands.deny().map(<[Value]>::to_vec) {
                    refusal = Some(denial(trigger_id, &args));
                    break;
                }
            }
            Err(e) => {
                let message = failure_message(&e);
                result["error"] = json!({"id": "action_failed", "msg": message, "url": ""});
                results.push(result);
                record_failure(state, context, trigger_id, &binding.display_name, commands.execution_id.as_deref(), &e)
                    .await;
                refusal = Some(ActionsRefusal::Failed(message));
                break;
            }
        }
    }
    let execution = Execution {
        id: commands.execution_id.clone().unwrap_or_default(),
        trigger_id: trigger_id.to_string(),
        status: if refusal.is_some() { "partial".into() } else { "final".into() },
        results,
        created_at,
        updated_at: state.now(),
    };
    // A failed run's record is written before the answer (its log names it); a
    // successful one's after, off the request's path.
    if refusal.is_some() {
        record_execution(state, &execution).await;
    } else {
        let state = state.clone();
        tokio::spawn(async move { record_execution(&state, &execution).await });
    }
    match refusal {
        Some(r) => Err(r),
        None => Ok(commands),
    }
}

async fn record_execution(state: &Services, execution: &Execution) {
    if let Err(e) = state.store.insert_execution(execution).await {
        tracing::warn!(trigger = %execution.trigger_id, error = %e, "recording an action execution failed");
    }
}

/// `api.access.deny`'s arguments per trigger: `(reason)` for post-login, `(reason,
/// userMessage)` for pre-user-registration, `(code, reason)` for credentials-exchange.
fn denial(trigger_id: &str, args: &[Value]) -> ActionsRefusal {
    let text = |i: usize| args.get(i).and_then(Value::as_str).map(str::to_string);
    match trigger_id {
        action::CREDENTIALS_EXCHANGE => {
            ActionsRefusal::Denied { code: text(0), reason: text(1).unwrap_or_else(|| "Access denied".into()) }
        }
        action::PRE_USER_REGISTRATION => ActionsRefusal::Denied {
            code: None,
            reason: text(1).or_else(|| text(0)).unwrap_or_else(|| "Access denied".into()),
        },
        _ => ActionsRefusal::Denied { code: None, reason: text(0).unwrap_or_else(|| "Access denied".into()) },
    }
}

fn failure_message(e: &ScriptError) -> String {
    match e {
        ScriptError::Thrown { message, .. } => message.clone(),
        ScriptError::Timeout(_) => "Script execution time exceeded".into(),
        ScriptError::Memory(_) => "Script exceeded its memory limit".into(),
        ScriptError::NoCallback => "The action finished without an answer".into(),
        ScriptError::Internal(_) => "The action could not run".into(),
    }
}

async fn record_failure(
    state: &Services,
    c: &RunContext,
    trigger_id: &str,
    action_name: &str,
    execution_id: Option<&str>,
    e: &ScriptError,
) {
    if let ScriptError::Internal(detail) = e {
        tracing::error!(trigger = trigger_id, action = action_name, error = %detail, "the sandbox failed");
    }
    let mut ev = state.audit.event(FAILED_EXECUTION);
    ev.description = Some(format!("{action_name}: {}", failure_message(e)));
    ev.client_id = c.client_id.clone();
    ev.client_name = c.client_name.clone();
    ev.connection = c.connection.clone();
    ev.connection_id = c.connection_id.clone();
    ev.user_id = c.user_id.clone();
    ev.user_name = c.user_name.clone();
    ev.ip = c.ip.clone();
    ev.details.insert(
        "actions".into(),
        json!({"executions": [execution_id], "trigger_id": trigger_id, "action_name": action_name}),
    );
    state.audit.record(ev).await;
}

// ---- the triggers' events ---------------------------------------------------------------

fn client_json(client: &Client) -> Value {
    json!({"client_id": client.client_id, "name": client.name, "metadata": client.client_metadata})
}

/// `post-login`: what Gatehouse knows of a login when it issues the tokens. `protocol`
/// is Auth0's (`oidc-basic-profile`, `oauth2-password`, `oauth2-refresh-token`).
pub struct PostLogin<'a> {
    pub client: &'a Client,
    pub user: &'a User,
    pub protocol: &'static str,
    pub scope: &'a str,
    pub audience: Option<&'a str>,
    pub ip: Option<&'a str>,
}

/// The claims the post-login actions set, to go into the tokens (kept with an
/// authorization code between the login and the code's exchange).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct LoginClaims {
    pub id_token: Map<String, Value>,
    pub access_token: Map<String, Value>,
}

/// Runs `post-login`. Metadata the actions set is written (in one change of the user)
/// only when every action ran and none denied; the claims go into the tokens.
pub async fn post_login(state: &Services, login: &PostLogin<'_>) -> Result<LoginClaims, ActionsRefusal> {
    if !has_bindings(state, action::POST_LOGIN).await? {
        return Ok(LoginClaims::default());
    }
    let user = login.user;
    let roles = state
        .store
        .user_roles(&user.user_id, 0, 1_000)
        .await
        .map_err(|e| internal("reading the user's roles", e))?
        .0
        .into_iter()
        .map(|r| r.name)
        .collect::<Vec<_>>();
    let connection =
        state.store.connection(&user.connection_id).await.map_err(|e| internal("reading the connection", e))?;
    let event = json!({
        "transaction": {
            "protocol": login.protocol,
            "requested_scopes": login.scope.split(' ').filter(|s| !s.is_empty()).collect::<Vec<_>>(),
            "locale": "en",
        },
        "user": user.to_auth0_json(),
        "client": client_json(login.client),
        "connection": connection.as_ref().map(|c| json!({"id": c.id, "name": c.name, "strategy": c.strategy, "metadata": c.metadata})),
        "request": {"ip": login.ip, "hostname": issuer_host(state)},
        "authorization": {"roles": roles},
        "stats": {"logins_count": user.logins_count},
        "tenant": {"id": "gatehouse"},
        "resource_server": login.audience.map(|a| json!({"identifier": a})),
        "authentication": {"methods": [{"name": "pwd"}]},
    });
    let context = RunContext {
        client_id: Some(login.client.client_id.clone()),
        client_name: Some(login.client.name.clone()),
        connection: Some(user.connection.clone()),
        connection_id: Some(user.connection_id.clone()),
        user_id: Some(user.user_id.clone()),
        user_name: user.email.clone().or_else(|| user.username.clone()),
        ip: login.ip.map(str::to_string),
    };
    let commands = run_trigger(state, action::POST_LOGIN, event, &context).await?;
    let wants_metadata = commands.named("user.setUserMetadata").next().is_some()
        || commands.named("user.setAppMetadata").next().is_some();
    if wants_metadata {
        let now = state.now();
        let changed = state
            .store
            .modify_user(&user.user_id, |u| {
                let a = commands.apply_metadata("user.setUserMetadata", &mut u.user_metadata);
                let b = commands.apply_metadata("user.setAppMetadata", &mut u.app_metadata);
                if a || b {
                    u.updated_at = now.clone();
                }
                gatehouse_core::validate::validate_metadata("user_metadata", &u.user_metadata)
                    .and_then(|()| gatehouse_core::validate::validate_metadata("app_metadata", &u.app_metadata))
            })
            .await
            .map_err(|e| internal("writing the metadata the actions set", e))?;
        if let Err(e) = changed {
            return Err(ActionsRefusal::Failed(e.to_string()));
        }
    }
    Ok(LoginClaims { id_token: commands.claims("idToken"), access_token: commands.claims("accessToken") })
}

/// `credentials-exchange`: the claims an M2M token gets.
pub async fn credentials_exchange(
    state: &Services,
    client: &Client,
    audience: &str,
    scope: &str,
) -> Result<Map<String, Value>, ActionsRefusal> {
    if !has_bindings(state, action::CREDENTIALS_EXCHANGE).await? {
        return Ok(Map::new());
    }
    let event = json!({
        "transaction": {"requested_scopes": scope.split(' ').filter(|s| !s.is_empty()).collect::<Vec<_>>()},
        "client": client_json(client),
        "resource_server": {"identifier": audience},
        "request": {"hostname": issuer_host(state)},
        "tenant": {"id": "gatehouse"},
        "accessToken": {"scope": scope.split(' ').filter(|s| !s.is_empty()).collect::<Vec<_>>()},
    });
    let context = RunContext {
        client_id: Some(client.client_id.clone()),
        client_name: Some(client.name.clone()),
        ..Default::default()
    };
    let commands = run_trigger(state, action::CREDENTIALS_EXCHANGE, event, &context).await?;
    Ok(commands.claims("accessToken"))
}

/// `pre-user-registration`: runs before the user is written; the metadata it sets is
/// applied to `user` (nothing is stored if it denies or fails).
pub async fn pre_user_registration(
    state: &Services,
    user: &mut User,
    client_id: Option<&str>,
    ip: Option<&str>,
) -> Result<(), ActionsRefusal> {
    if !has_bindings(state, action::PRE_USER_REGISTRATION).await? {
        return Ok(());
    }
    let client = match client_id {
        Some(id) => state.store.client(id).await.map_err(|e| internal("reading the client", e))?,
        None => None,
    };
    let mut profile = user.to_auth0_json();
    if let Value::Object(m) = &mut profile {
        // Auth0's event has no id before the user exists.
        m.remove("user_id");
        m.remove("identities");
    }
    let event = json!({
        "user": profile,
        "client": client.as_ref().map(client_json),
        "connection": {"id": user.connection_id, "name": user.connection, "strategy": "auth0"},
        "request": {"ip": ip, "hostname": issuer_host(state)},
        "transaction": {"locale": "en"},
        "tenant": {"id": "gatehouse"},
    });
    let context = RunContext {
        client_id: client_id.map(str::to_string),
        connection: Some(user.connection.clone()),
        connection_id: Some(user.connection_id.clone()),
        user_name: user.email.clone().or_else(|| user.username.clone()),
        ip: ip.map(str::to_string),
        ..Default::default()
    };
    let commands = run_trigger(state, action::PRE_USER_REGISTRATION, event, &context).await?;
    commands.apply_metadata("user.setUserMetadata", &mut user.user_metadata);
    commands.apply_metadata("user.setAppMetadata", &mut user.app_metadata);
    gatehouse_core::validate::validate_metadata("user_metadata", &user.user_metadata)
        .and_then(|()| gatehouse_core::validate::validate_metadata("app_metadata", &user.app_metadata))
        .map_err(|e| ActionsRefusal::Failed(e.to_string()))
}

/// The triggers that run after the fact (`post-user-registration`,
/// `post-change-password`): in the background; their failure is logged, never answered.
pub fn after(state: &Services, trigger_id: &'static str, user: &User, client_id: Option<&str>, ip: Option<&str>) {
    let state = state.clone();
    let mut profile = user.to_auth0_json();
    if let Value::Object(m) = &mut profile {
        m.remove("password_hash");
    }
    let event = json!({
        "user": profile,
        "connection": {"id": user.connection_id, "name": user.connection, "strategy": "auth0"},
        "request": {"ip": ip, "hostname": issuer_host(&state)},
        "tenant": {"id": "gatehouse"},
    });
    let context = RunContext {
        client_id: client_id.map(str::to_string),
        connection: Some(user.connection.clone()),
        connection_id: Some(user.connection_id.clone()),
        user_id: Some(user.user_id.clone()),
        user_name: user.email.clone().or_else(|| user.username.clone()),
        ip: ip.map(str::to_string),
        ..Default::default()
    };
    tokio::spawn(async move {
        if let Err(e) = run_trigger(&state, trigger_id, event, &context).await {
            tracing::info!(trigger = trigger_id, error = %e, "an action after the fact failed");
        }
    });
}

async fn has_bindings(state: &Services, trigger_id: &str) -> Result<bool, ActionsRefusal> {
    state.store.has_bindings(trigger_id).await.map_err(|e| internal("reading the trigger's bindings", e))
}

fn internal(what: &str, e: impl std::fmt::Display) -> ActionsRefusal {
    tracing::error!(error = %e, "{what} failed");
    ActionsRefusal::Failed("Internal error".into())
}

fn issuer_host(state: &Services) -> Option<String> {
    url::Url::parse(&state.config.issuer).ok().and_then(|u| u.host_str().map(str::to_string))
}
