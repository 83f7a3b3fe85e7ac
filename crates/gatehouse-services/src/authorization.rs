//! APIs, roles and permissions: what the Management API (and the CLI) do to them, with
//! the rules that span records — a permission must be a scope its API defines, a role or
//! a user must exist to be given one — and what a user's token for an API carries.

use crate::Services;
use gatehouse_core::authorization::{
    permissions_claim, user_token_scope, Permission, PermissionSource, ResourceServer, Role,
};
use gatehouse_core::ids::{new_resource_server_id, new_role_id};
use gatehouse_core::Error;
use gatehouse_store::{RoleMember, StoreError};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Why an operation on APIs, roles or permissions was refused, or failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthzError {
    #[error(transparent)]
    Refused(#[from] Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

type Result<T, E = AuthzError> = std::result::Result<T, E>;

fn api_not_found() -> Error {
    Error::NotFound { code: "inexistent_resource_server", message: "The resource server does not exist".into() }
}

pub fn role_not_found() -> Error {
    Error::NotFound { code: "inexistent_role", message: "The role does not exist.".into() }
}

// ---- APIs -----------------------------------------------------------------------------

/// Creates an API from Auth0's create body.
pub async fn create_api(state: &Services, body: &Value) -> Result<ResourceServer> {
    let api = ResourceServer::from_create_body(body, new_resource_server_id(), &state.now())?;
    if api.identifier == state.config.userinfo_audience() || api.identifier == state.config.management_audience() {
        return Err(Error::invalid_field("identifier", "is reserved by Gatehouse").into());
    }
    if state.store.resource_server_by_identifier(&api.identifier).await?.is_some() {
        return Err(api_exists().into());
    }
    match state.store.insert_resource_server(&api).await {
        Err(StoreError::Conflict(_)) => Err(api_exists().into()),
        other => Ok(other.map(|()| api)?),
    }
}

fn api_exists() -> Error {
    Error::Conflict { code: "conflict", message: "A resource server with the same identifier already exists".into() }
}

/// An API by its id or, as Auth0 also accepts, its identifier.
pub async fn api(state: &Services, id_or_identifier: &str) -> Result<ResourceServer> {
    if let Some(api) = state.store.resource_server(id_or_identifier).await? {
        return Ok(api);
    }
    Ok(state.store.resource_server_by_identifier(id_or_identifier).await?.ok_or_else(api_not_found)?)
}

pub async fn update_api(state: &Services, id_or_identifier: &str, body: &Value) -> Result<ResourceServer> {
    let mut api = api(state, id_or_identifier).await?;
    api.apply_patch(body, &state.now())?;
    state.store.update_resource_server(&api).await?;
    Ok(api)
}

/// Deletes an API with what hangs off it: permissions, client grants, refresh grants.
pub async fn delete_api(state: &Services, id_or_identifier: &str) -> Result<()> {
    let api = api(state, id_or_identifier).await?;
    if api.is_system {
        return Err(Error::Rejected {
            code: "operation_not_supported",
            message: "The Management API is a system API and cannot be deleted.".into(),
        }
        .into());
    }
    let now = state.clock.now().unix_timestamp();
    if !state.store.delete_resource_server(&api.id, now).await? {
        return Err(api_not_found().into());
    }
    Ok(())
}

/// Checks a client grant's API and scopes: the API must exist and define each scope.
pub async fn check_client_grant(state: &Services, audience: &str, scope: &[String]) -> Result<()> {
    let api = state.store.resource_server_by_identifier(audience).await?.ok_or_else(|| Error::NotFound {
        code: "inexistent_resource_server",
        message: format!("No resource server with identifier {audience}"),
    })?;
    if let Some(bad) = scope.iter().find(|s| !api.defines(s)) {
        return Err(Error::invalid_field("scope", format!("unknown scope {bad:?}")).into());
    }
    Ok(())
}

// ---- roles ----------------------------------------------------------------------------

pub async fn create_role(state: &Services, body: &Value) -> Result<Role> {
    let role = Role::from_create_body(body, new_role_id(), &state.now())?;
    if state.store.role_by_name(&role.name).await?.is_some() {
        return Err(role_exists().into());
    }
    match state.store.insert_role(&role).await {
        Err(StoreError::Conflict(_)) => Err(role_exists().into()),
        other => Ok(other.map(|()| role)?),
    }
}

fn role_exists() -> Error {
    Error::Conflict { code: "conflict", message: "A role with the same name already exists".into() }
}

pub async fn role(state: &Services, id: &str) -> Result<Role> {
    Ok(state.store.role(id).await?.ok_or_else(role_not_found)?)
}

pub async fn update_role(state: &Services, id: &str, body: &Value) -> Result<Role> {
    let mut role = role(state, id).await?;
    role.apply_patch(body, &state.now())?;
    match state.store.update_role(&role).await {
        Err(StoreError::Conflict(_)) => Err(role_exists().into()),
        other => Ok(other.map(|()| role)?),
    }
}

/// Deletes a role; its users lose it (and its permissions) at their next token.
pub async fn delete_role(state: &Services, id: &str) -> Result<()> {
    if !state.store.delete_role(id).await? {
        return Err(role_not_found().into());
    }
    Ok(())
}

// ---- permissions ------------------------------------------------------------------------

/// Checks that every permission is a scope its API defines (the system API's too).
async fn check_defined(state: &Services, permissions: &[Permission]) -> Result<()> {
    let mut apis: BTreeMap<&str, Option<ResourceServer>> = BTreeMap::new();
    for (i, p) in permissions.iter().enumerate() {
        let identifier = p.resource_server_identifier.as_str();
        if !apis.contains_key(identifier) {
            apis.insert(identifier, state.store.resource_server_by_identifier(identifier).await?);
        }
        let Some(api) = apis.get(identifier).and_then(Option::as_ref) else {
            return Err(Error::NotFound {
                code: "inexistent_resource_server",
                message: format!("Resource server {identifier:?} (permissions[{i}]) does not exist"),
            }
            .into());
        };
        if !api.defines(&p.permission_name) {
            return Err(Error::invalid_field(
                format!("permissions[{i}].permission_name"),
                format!("{:?} is not a scope of {identifier:?}", p.permission_name),
            )
            .into());
        }
    }
    Ok(())
}

pub async fn add_role_permissions(state: &Services, role_id: &str, body: &Value) -> Result<()> {
    let permissions = gatehouse_core::authorization::parse_permissions(body)?;
    role(state, role_id).await?;
    check_defined(state, &permissions).await?;
    Ok(state.store.add_role_permissions(role_id, &permissions, &state.now()).await?)
}

pub async fn remove_role_permissions(state: &Services, role_id: &str, body: &Value) -> Result<()> {
    let permissions = gatehouse_core::authorization::parse_permissions(body)?;
    role(state, role_id).await?;
    Ok(state.store.remove_role_permissions(role_id, &permissions).await?)
}

/// A page of a role's permissions in Auth0's shape, and the total.
pub async fn role_permissions(state: &Services, role_id: &str, offset: u32, limit: u32) -> Result<(Vec<Value>, u64)> {
    role(state, role_id).await?;
    let (permissions, total) = state.store.role_permissions(role_id, offset, limit).await?;
    let mut described = Vec::with_capacity(permissions.len());
    let mut apis = ApiNames::default();
    for p in &permissions {
        described.push(p.to_auth0_json(apis.get(state, &p.resource_server_identifier).await?));
    }
    Ok((described, total))
}

pub async fn add_user_permissions(state: &Services, user_id: &str, body: &Value) -> Result<()> {
    let permissions = gatehouse_core::authorization::parse_permissions(body)?;
    existing_user(state, user_id).await?;
    check_defined(state, &permissions).await?;
    Ok(state.store.add_user_permissions(user_id, &permissions, &state.now()).await?)
}

pub async fn remove_user_permissions(state: &Services, user_id: &str, body: &Value) -> Result<()> {
    let permissions = gatehouse_core::authorization::parse_permissions(body)?;
    existing_user(state, user_id).await?;
    Ok(state.store.remove_user_permissions(user_id, &permissions).await?)
}

/// A page of everything a user holds, each permission once with its `sources` (direct,
/// and each role that gives it), as Auth0 reads them; and the total.
pub async fn user_permissions(state: &Services, user_id: &str, offset: u32, limit: u32) -> Result<(Vec<Value>, u64)> {
    existing_user(state, user_id).await?;
    let mut held: Vec<(Permission, Vec<PermissionSource>)> = Vec::new();
    for (permission, source) in state.store.user_permission_sources(user_id).await? {
        match held.last_mut() {
            Some((last, sources)) if *last == permission => sources.push(source),
            _ => held.push((permission, vec![source])),
        }
    }
    let total = held.len() as u64;
    let mut page = Vec::new();
    let mut apis = ApiNames::default();
    for (permission, sources) in held.into_iter().skip(offset as usize).take(limit as usize) {
        let mut item = permission.to_auth0_json(apis.get(state, &permission.resource_server_identifier).await?);
        item["sources"] = Value::Array(sources.iter().map(PermissionSource::to_auth0_json).collect());
        page.push(item);
    }
    Ok((page, total))
}

/// A page of the permissions a user holds for one API (Auth0's effective permissions),
/// each once with how it is held (`direct`, `roles`), after the permission named
/// `after` if given (checkpoint paging); and whether more follow.
pub async fn effective_permissions(
    state: &Services,
    user_id: &str,
    api_identifier: &str,
    after: Option<&str>,
    take: usize,
) -> Result<(Vec<Value>, bool)> {
    existing_user(state, user_id).await?;
    let api = state.store.resource_server_by_identifier(api_identifier).await?.ok_or_else(api_not_found)?;
    let mut held: Vec<(String, Vec<&'static str>)> = Vec::new();
    for (permission, source) in state.store.user_permission_sources(user_id).await? {
        if permission.resource_server_identifier != api.identifier
            || after.is_some_and(|a| permission.permission_name.as_str() <= a)
        {
            continue;
        }
        let kind = match source {
            PermissionSource::Direct => "direct",
            PermissionSource::Role { .. } => "roles",
        };
        match held.last_mut() {
            Some((name, kinds)) if *name == permission.permission_name => {
                if !kinds.contains(&kind) {
                    kinds.push(kind)
                }
            }
            _ => held.push((permission.permission_name, vec![kind])),
        }
    }
    let more = held.len() > take;
    let page = held
        .into_iter()
        .take(take)
        .map(|(name, sources)| {
            json!({
                "resource_server_identifier": api.identifier,
                "permission_name": name,
                "resource_server_name": api.name,
                "description": api.scope_description(&name),
                "sources": sources,
            })
        })
        .collect();
    Ok((page, more))
}

/// APIs by identifier as a listing meets them, each read once.
#[derive(Default)]
struct ApiNames(BTreeMap<String, Option<ResourceServer>>);

impl ApiNames {
    async fn get(&mut self, state: &Services, identifier: &str) -> Result<Option<&ResourceServer>> {
        if !self.0.contains_key(identifier) {
            let api = state.store.resource_server_by_identifier(identifier).await?;
            self.0.insert(identifier.to_string(), api);
        }
        Ok(self.0.get(identifier).and_then(Option::as_ref))
    }
}

// ---- role membership ----------------------------------------------------------------------

async fn existing_user(state: &Services, user_id: &str) -> Result<()> {
    if state.store.missing_users(&[user_id.to_string()]).await?.is_empty() {
        Ok(())
    } else {
        Err(Error::user_not_found().into())
    }
}

/// Gives the role to every user listed (`{"users": [...]}`), all or none: an unknown user
/// is named and nothing is written.
pub async fn add_role_members(state: &Services, role_id: &str, body: &Value) -> Result<()> {
    let users = gatehouse_core::authorization::parse_id_list(body, "users")?;
    role(state, role_id).await?;
    if let Some(missing) = state.store.missing_users(&users).await?.first() {
        return Err(Error::NotFound {
            code: "inexistent_user",
            message: format!("The user {missing} does not exist."),
        }
        .into());
    }
    let pairs: Vec<(String, String)> = users.into_iter().map(|u| (u, role_id.to_string())).collect();
    Ok(state.store.add_user_roles(&pairs, &state.now()).await?)
}

/// A page of a role's members in Auth0's shape, and the total.
pub async fn role_members(
    state: &Services,
    role_id: &str,
    from: Option<&str>,
    offset: u32,
    limit: u32,
) -> Result<(Vec<Value>, u64)> {
    role(state, role_id).await?;
    let (members, total) = state.store.role_members(role_id, from, offset, limit).await?;
    let shape = |m: &RoleMember| json!({"user_id": m.user_id, "email": m.email, "name": m.name, "picture": m.picture});
    Ok((members.iter().map(shape).collect(), total))
}

/// Gives a user the roles listed (`{"roles": [...]}`), all or none.
pub async fn add_user_roles(state: &Services, user_id: &str, body: &Value) -> Result<()> {
    let roles = gatehouse_core::authorization::parse_id_list(body, "roles")?;
    existing_user(state, user_id).await?;
    if let Some(missing) = state.store.missing_roles(&roles).await?.first() {
        return Err(Error::NotFound {
            code: "inexistent_role",
            message: format!("The role {missing} does not exist."),
        }
        .into());
    }
    let pairs: Vec<(String, String)> = roles.into_iter().map(|r| (user_id.to_string(), r)).collect();
    Ok(state.store.add_user_roles(&pairs, &state.now()).await?)
}

pub async fn remove_user_roles(state: &Services, user_id: &str, body: &Value) -> Result<()> {
    let roles = gatehouse_core::authorization::parse_id_list(body, "roles")?;
    existing_user(state, user_id).await?;
    Ok(state.store.remove_user_roles(user_id, &roles).await?)
}

pub async fn user_roles(state: &Services, user_id: &str, offset: u32, limit: u32) -> Result<(Vec<Role>, u64)> {
    existing_user(state, user_id).await?;
    Ok(state.store.user_roles(user_id, offset, limit).await?)
}

// ---- tokens ---------------------------------------------------------------------------------

/// What a user's access token for an API carries.
#[derive(Debug, Clone, PartialEq)]
pub struct UserTokenGrant {
    /// Space-separated.
    pub scope: String,
    pub permissions: Option<Vec<String>>,
}

/// The scope and permissions of `user_id`'s token for `api`, of the `requested` scopes:
/// the user's permissions are read (now, so a role removed since is not in it) only
/// where the API needs them.
pub async fn user_token_grant(
    state: &Services,
    api: Option<&ResourceServer>,
    user_id: &str,
    requested: &str,
) -> Result<UserTokenGrant, StoreError> {
    let held = match api.filter(|a| a.reads_permissions()) {
        Some(api) => state.store.user_api_permissions(user_id, &api.identifier).await?,
        None => Vec::new(),
    };
    let rbac = api.is_some_and(|a| a.enforce_policies).then_some(held.as_slice());
    Ok(UserTokenGrant {
        scope: user_token_scope(requested, api, rbac),
        permissions: api.and_then(|a| permissions_claim(a, &held)),
    })
}

// ---- role files ---------------------------------------------------------------------------

/// A line of a roles file that was not applied, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleLineFailure {
    /// 1-based.
    pub line: u64,
    /// The user as the line names them, if it names one.
    pub user: Option<String>,
    pub reason: String,
}

/// What a roles file did.
#[derive(Debug, Default)]
pub struct RoleFileReport {
    /// Lines applied.
    pub users: u64,
    /// Roles given (those a user held already count too).
    pub assignments: u64,
    pub failures: Vec<RoleLineFailure>,
}

/// Lines applied per transaction.
const ROLE_FILE_BATCH: usize = 500;

/// Gives users roles from a file of NDJSON lines `{"user_id": …, "roles": [names or
/// ids]}` (or `"email"`, with `"connection"` where the email is in several). A bad line
/// is reported by number, user and reason and the others are applied; each line is all
/// or nothing. Roles that do not exist are created first with `create_missing_roles`.
pub async fn assign_roles_from_file<R: std::io::BufRead>(
    store: &gatehouse_store::Store,
    input: R,
    now: &str,
    create_missing_roles: bool,
) -> Result<RoleFileReport, StoreError> {
    let mut report = RoleFileReport::default();
    let mut known: BTreeMap<String, String> = BTreeMap::new();
    let mut batch: Vec<(String, String)> = Vec::new();
    let mut batch_lines = 0u64;
    for (i, line) in input.lines().enumerate() {
        let line_no = i as u64 + 1;
        let fail = |user: Option<String>, reason: String| RoleLineFailure { line: line_no, user, reason };
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                report.failures.push(fail(None, format!("unreadable: {e}")));
                break;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        match role_line(store, &line, &mut known, now, create_missing_roles).await? {
            Ok((user_id, roles)) => {
                report.assignments += roles.len() as u64;
                batch.extend(roles.into_iter().map(|r| (user_id.clone(), r)));
                batch_lines += 1;
            }
            Err((user, reason)) => report.failures.push(fail(user, reason)),
        }
        if batch_lines as usize >= ROLE_FILE_BATCH {
            store.add_user_roles(&batch, now).await?;
            report.users += batch_lines;
            (batch, batch_lines) = (Vec::new(), 0);
        }
    }
    if !batch.is_empty() {
        store.add_user_roles(&batch, now).await?;
    }
    report.users += batch_lines;
    Ok(report)
}

/// One line: the user's id and the ids of the roles it gives, or who it names and why it
/// cannot be applied.
async fn role_line(
    store: &gatehouse_store::Store,
    line: &str,
    known: &mut BTreeMap<String, String>,
    now: &str,
    create_missing_roles: bool,
) -> Result<std::result::Result<(String, Vec<String>), (Option<String>, String)>, StoreError> {
    let value: Value = match serde_json::from_str(line) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return Ok(Err((None, "not a JSON object".into()))),
        Err(e) => return Ok(Err((None, format!("invalid JSON: {e}")))),
    };
    let text = |key: &str| value.get(key).and_then(Value::as_str).filter(|s| !s.is_empty());
    let named = text("user_id").or(text("email")).map(str::to_string);
    let refuse = |reason: String| Ok(Err((named.clone(), reason)));
    let Some(Value::Array(names)) = value.get("roles") else {
        return refuse("roles: expected an array of role names".into());
    };
    let Some(names) = names.iter().map(|n| n.as_str().filter(|s| !s.is_empty())).collect::<Option<Vec<_>>>() else {
        return refuse("roles: every role must be a non-empty string".into());
    };
    let user_id = match (text("user_id"), text("email")) {
        (Some(id), _) => match store.missing_users(&[id.to_string()]).await?.is_empty() {
            true => id.to_string(),
            false => return refuse("user_id: no such user".into()),
        },
        (None, Some(email)) => {
            let email = gatehouse_core::validate::normalize_login(email);
            let mut found = store.users_by_email(&email).await?;
            if let Some(connection) = text("connection") {
                found.retain(|u| u.connection == connection);
            }
            match found.as_slice() {
                [user] => user.user_id.clone(),
                [] => return refuse("email: no such user".into()),
                _ => return refuse("email: users of several connections have it; name the connection".into()),
            }
        }
        (None, None) => return refuse("user_id or email: one is required".into()),
    };
    let mut roles = Vec::with_capacity(names.len());
    for name in names {
        if let Some(id) = known.get(name) {
            roles.push(id.clone());
            continue;
        }
        let role = match store.role(name).await? {
            Some(r) => Some(r),
            None => store.role_by_name(name).await?,
        };
        let id = match role {
            Some(r) => r.id,
            None if create_missing_roles => {
                let role = Role {
                    id: new_role_id(),
                    name: name.to_string(),
                    description: None,
                    created_at: now.into(),
                    updated_at: now.into(),
                };
                store.insert_role(&role).await?;
                role.id
            }
            None => return refuse(format!("role {name:?} does not exist")),
        };
        known.insert(name.to_string(), id.clone());
        roles.push(id);
    }
    Ok(Ok((user_id, roles)))
}
