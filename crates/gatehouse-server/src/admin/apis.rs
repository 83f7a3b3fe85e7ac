//! The console's APIs, roles and permissions: the APIs Gatehouse issues access tokens
//! for (their scopes, RBAC, token shape and lifetime) and the roles that bundle their
//! scopes as permissions (members are given roles on their user page). Every change goes
//! through `gatehouse_services::authorization`, as the Management API's do.

use super::view::path_segment;
use super::{AdminForm, Console, ConsoleError, Page};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_core::authorization::{ResourceServer, Role};
use gatehouse_services::authorization::{self, AuthzError};
use gatehouse_services::Services;
use minijinja::{context, Value as View};
use serde_json::{json, Value};
use std::collections::HashMap;

const DIALECTS: &[(&str, &str)] = &[
    ("access_token", "Auth0 access token"),
    ("access_token_authz", "Auth0 access token with a permissions claim"),
    ("rfc9068_profile", "RFC 9068 JWT profile"),
    ("rfc9068_profile_authz", "RFC 9068 JWT profile with a permissions claim"),
];

/// How many members and permissions a role's page lists.
const PAGE: u32 = 100;

type Form = HashMap<String, String>;

fn field<'a>(form: &'a Form, key: &str) -> &'a str {
    form.get(key).map_or("", |v| v.trim())
}

/// Scopes as the form edits them: one a line, the scope then its description.
fn scopes_text(api: &ResourceServer) -> String {
    api.scopes
        .iter()
        .map(|s| if s.description.is_empty() { s.value.clone() } else { format!("{} {}", s.value, s.description) })
        .collect::<Vec<_>>()
        .join("\n")
}

fn scopes_of(text: &str) -> Value {
    let scopes: Vec<Value> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (value, description) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
            json!({ "value": value, "description": description.trim() })
        })
        .collect();
    Value::Array(scopes)
}

/// A refusal is shown on the form it came from; anything else is the console's error.
fn refused(e: AuthzError) -> Result<String, ConsoleError> {
    match e {
        AuthzError::Refused(e) => Ok(e.to_string()),
        other => Err(other.into()),
    }
}

// ---- the list ---------------------------------------------------------------------------

async fn list_page(
    console: &Console,
    state: &Services,
    status: StatusCode,
    form: Option<&Form>,
    extra: View,
) -> Result<Page, ConsoleError> {
    let (apis, _) = state.store.resource_servers(0, 100).await?;
    let (roles, roles_total) = state.store.roles(None, 0, 100).await?;
    let sent = |k: &str| form.map(|f| field(f, k).to_string()).unwrap_or_default();
    let base = context! {
        title => "APIs and roles",
        nav => "apis",
        apis => apis.iter().map(|a| context! {
            id => a.id, name => a.name, identifier => a.identifier, is_system => a.is_system,
            scopes => a.scopes.len(), rbac => a.enforce_policies,
        }).collect::<Vec<_>>(),
        roles => roles.iter().map(|r| context! { id => r.id, name => r.name, description => r.description }).collect::<Vec<_>>(),
        roles_total,
        new_api => context! { name => sent("name"), identifier => sent("identifier"), scopes => sent("scopes") },
        new_role => context! { name => sent("role_name"), description => sent("role_description") },
        error => (),
        done => (),
    };
    console.page(status, "apis.html", context! { ..extra, ..base })
}

/// `GET /admin/apis`.
pub async fn list(
    console: Console,
    State(state): State<Services>,
    Query(q): Query<super::Done>,
) -> Result<Page, ConsoleError> {
    let done = match q.done.as_deref() {
        Some("api-deleted") => Some("The API was deleted, with its permissions and grants."),
        Some("role-deleted") => Some("The role was deleted; its users lose its permissions at their next token."),
        _ => None,
    };
    list_page(&console, &state, StatusCode::OK, None, context! { done }).await
}

/// `POST /admin/apis`: a new API.
pub async fn create_api(
    State(state): State<Services>,
    AdminForm { console, form }: AdminForm<Form>,
) -> Result<Response, ConsoleError> {
    let body = json!({
        "name": field(&form, "name"),
        "identifier": field(&form, "identifier"),
        "scopes": scopes_of(field(&form, "scopes")),
    });
    match authorization::create_api(&state, &body).await {
        Ok(api) => Ok(super::view::see_other(&format!("/admin/apis/{}?done=saved", path_segment(&api.id)), Vec::new())),
        Err(e) => {
            let error = refused(e)?;
            let page = list_page(&console, &state, StatusCode::BAD_REQUEST, Some(&form), context! { error }).await?;
            Ok(page.into_response())
        }
    }
}

/// `POST /admin/roles`: a new role.
pub async fn create_role(
    State(state): State<Services>,
    AdminForm { console, form }: AdminForm<Form>,
) -> Result<Response, ConsoleError> {
    let description = field(&form, "role_description");
    let body = json!({
        "name": field(&form, "role_name"),
        "description": if description.is_empty() { Value::Null } else { json!(description) },
    });
    match authorization::create_role(&state, &body).await {
        Ok(role) => {
            Ok(super::view::see_other(&format!("/admin/roles/{}?done=saved", path_segment(&role.id)), Vec::new()))
        }
        Err(e) => {
            let error = refused(e)?;
            let page = list_page(&console, &state, StatusCode::BAD_REQUEST, Some(&form), context! { error }).await?;
            Ok(page.into_response())
        }
    }
}

// ---- an API -----------------------------------------------------------------------------

async fn load_api(state: &Services, id: &str) -> Result<ResourceServer, ConsoleError> {
    state.store.resource_server(id).await?.ok_or(ConsoleError::NotFound("API"))
}

fn api_page(
    console: &Console,
    api: &ResourceServer,
    status: StatusCode,
    form: Option<&Form>,
    extra: View,
) -> Result<Page, ConsoleError> {
    let value = |k: &str, current: String| form.map_or(current, |f| field(f, k).to_string());
    let ticked = |k: &str, current: bool| form.map_or(current, |f| f.contains_key(k));
    let dialect = value("token_dialect", api.token_dialect.as_str().to_string());
    let base = context! {
        title => format!("API {}", api.name),
        nav => "apis",
        api => context! {
            id => api.id,
            identifier => api.identifier,
            is_system => api.is_system,
            name => value("name", api.name.clone()),
            token_lifetime => value("token_lifetime", api.token_lifetime.to_string()),
            allow_offline_access => ticked("allow_offline_access", api.allow_offline_access),
            enforce_policies => ticked("enforce_policies", api.enforce_policies),
            scopes => value("scopes", scopes_text(api)),
            scope_count => api.scopes.len(),
        },
        dialects => DIALECTS.iter().map(|(value, label)| context! { value, label, on => *value == dialect }).collect::<Vec<_>>(),
        error => (),
        done => (),
    };
    console.page(status, "api.html", context! { ..extra, ..base })
}

/// `GET /admin/apis/{id}`.
pub async fn show_api(
    console: Console,
    State(state): State<Services>,
    Path(id): Path<String>,
    Query(q): Query<super::Done>,
) -> Result<Page, ConsoleError> {
    let api = load_api(&state, &id).await?;
    api_page(&console, &api, StatusCode::OK, None, context! { done => q.saved() })
}

/// `POST /admin/apis/{id}`: the API's settings and scopes.
pub async fn save_api(
    State(state): State<Services>,
    Path(id): Path<String>,
    AdminForm { console, form }: AdminForm<Form>,
) -> Result<Response, ConsoleError> {
    let api = load_api(&state, &id).await?;
    // A number as typed; anything else reaches the API's own validation as text.
    let lifetime = field(&form, "token_lifetime");
    let body = json!({
        "name": field(&form, "name"),
        "token_lifetime": lifetime.parse::<i64>().map_or_else(|_| json!(lifetime), |n| json!(n)),
        "allow_offline_access": form.contains_key("allow_offline_access"),
        "enforce_policies": form.contains_key("enforce_policies"),
        "token_dialect": field(&form, "token_dialect"),
        "scopes": scopes_of(field(&form, "scopes")),
    });
    match authorization::update_api(&state, &api.id, &body).await {
        Ok(_) => Ok(super::view::see_other(&format!("/admin/apis/{}?done=saved", path_segment(&api.id)), Vec::new())),
        Err(e) => {
            let error = refused(e)?;
            Ok(api_page(&console, &api, StatusCode::BAD_REQUEST, Some(&form), context! { error })?.into_response())
        }
    }
}

/// `POST /admin/apis/{id}/delete`: only with the confirmation ticked.
pub async fn delete_api(
    State(state): State<Services>,
    Path(id): Path<String>,
    AdminForm { console, form }: AdminForm<Form>,
) -> Result<Response, ConsoleError> {
    let api = load_api(&state, &id).await?;
    if !form.contains_key("confirm") {
        let error = "Tick the box to confirm: the API's permissions, grants and refresh tokens go with it.";
        return Ok(api_page(&console, &api, StatusCode::BAD_REQUEST, None, context! { error })?.into_response());
    }
    match authorization::delete_api(&state, &api.id).await {
        Ok(()) => Ok(super::view::see_other("/admin/apis?done=api-deleted", Vec::new())),
        Err(e) => {
            let error = refused(e)?;
            Ok(api_page(&console, &api, StatusCode::BAD_REQUEST, None, context! { error })?.into_response())
        }
    }
}

// ---- a role -----------------------------------------------------------------------------

async fn load_role(state: &Services, id: &str) -> Result<Role, ConsoleError> {
    state.store.role(id).await?.ok_or(ConsoleError::NotFound("role"))
}

async fn role_page(
    console: &Console,
    state: &Services,
    role: &Role,
    status: StatusCode,
    form: Option<&Form>,
    extra: View,
) -> Result<Page, ConsoleError> {
    let (permissions, permissions_total) = authorization::role_permissions(state, &role.id, 0, PAGE).await?;
    let (members, members_total) = authorization::role_members(state, &role.id, None, 0, PAGE).await?;
    let (apis, _) = state.store.resource_servers(0, 100).await?;
    // What may be added: every scope of every API, as "scope identifier" (a scope has no
    // whitespace, so the first space splits them).
    let choices: Vec<View> = apis
        .iter()
        .map(|a| {
            context! {
                name => a.name,
                scopes => a.scopes.iter().map(|s| context! {
                    value => format!("{} {}", s.value, a.identifier),
                    label => s.value,
                    description => s.description,
                }).collect::<Vec<_>>(),
            }
        })
        .filter(|g| g.get_attr("scopes").is_ok_and(|s| s.len().unwrap_or(0) > 0))
        .collect();
    let value = |k: &str, current: String| form.map_or(current, |f| field(f, k).to_string());
    let base = context! {
        title => format!("Role {}", role.name),
        nav => "apis",
        role => context! {
            id => role.id,
            name => value("name", role.name.clone()),
            description => value("description", role.description.clone().unwrap_or_default()),
        },
        permissions => permissions.iter().map(|p| context! {
            name => p["permission_name"],
            api => p["resource_server_name"],
            identifier => p["resource_server_identifier"],
            description => p["description"],
            value => format!("{} {}", p["permission_name"].as_str().unwrap_or(""), p["resource_server_identifier"].as_str().unwrap_or("")),
        }).collect::<Vec<_>>(),
        permissions_total,
        members => members.iter().map(|m| context! {
            user_id => m["user_id"], email => m["email"], name => m["name"],
        }).collect::<Vec<_>>(),
        members_total,
        choices,
        error => (),
        done => (),
    };
    console.page(status, "role.html", context! { ..extra, ..base })
}

/// `GET /admin/roles/{id}`.
pub async fn show_role(
    console: Console,
    State(state): State<Services>,
    Path(id): Path<String>,
    Query(q): Query<super::Done>,
) -> Result<Page, ConsoleError> {
    let role = load_role(&state, &id).await?;
    role_page(&console, &state, &role, StatusCode::OK, None, context! { done => q.saved() }).await
}

async fn role_outcome(
    console: &Console,
    state: &Services,
    role: &Role,
    outcome: Result<(), AuthzError>,
    form: Option<&Form>,
) -> Result<Response, ConsoleError> {
    match outcome {
        Ok(()) => {
            Ok(super::view::see_other(&format!("/admin/roles/{}?done=saved", path_segment(&role.id)), Vec::new()))
        }
        Err(e) => {
            let error = refused(e)?;
            Ok(role_page(console, state, role, StatusCode::BAD_REQUEST, form, context! { error })
                .await?
                .into_response())
        }
    }
}

/// `POST /admin/roles/{id}`: name and description.
pub async fn save_role(
    State(state): State<Services>,
    Path(id): Path<String>,
    AdminForm { console, form }: AdminForm<Form>,
) -> Result<Response, ConsoleError> {
    let role = load_role(&state, &id).await?;
    let description = field(&form, "description");
    let body = json!({
        "name": field(&form, "name"),
        "description": if description.is_empty() { Value::Null } else { json!(description) },
    });
    let outcome = authorization::update_role(&state, &role.id, &body).await.map(|_| ());
    role_outcome(&console, &state, &role, outcome, Some(&form)).await
}

/// The permissions ticked or chosen in a form (`permission` = "scope identifier").
fn permissions_of(form: &[(String, String)]) -> Value {
    let list: Vec<Value> = form
        .iter()
        .filter(|(k, _)| k == "permission")
        .filter_map(|(_, v)| v.split_once(' '))
        .map(|(name, api)| json!({ "permission_name": name, "resource_server_identifier": api }))
        .collect();
    json!({ "permissions": list })
}

/// `POST /admin/roles/{id}/permissions`: adds the chosen permissions.
pub async fn add_permissions(
    State(state): State<Services>,
    Path(id): Path<String>,
    AdminForm { console, form }: AdminForm<Vec<(String, String)>>,
) -> Result<Response, ConsoleError> {
    let role = load_role(&state, &id).await?;
    let outcome = authorization::add_role_permissions(&state, &role.id, &permissions_of(&form)).await;
    role_outcome(&console, &state, &role, outcome, None).await
}

/// `POST /admin/roles/{id}/permissions/remove`: removes one permission.
pub async fn remove_permissions(
    State(state): State<Services>,
    Path(id): Path<String>,
    AdminForm { console, form }: AdminForm<Vec<(String, String)>>,
) -> Result<Response, ConsoleError> {
    let role = load_role(&state, &id).await?;
    let outcome = authorization::remove_role_permissions(&state, &role.id, &permissions_of(&form)).await;
    role_outcome(&console, &state, &role, outcome, None).await
}

/// `POST /admin/roles/{id}/delete`: only with the confirmation ticked.
pub async fn delete_role(
    State(state): State<Services>,
    Path(id): Path<String>,
    AdminForm { console, form }: AdminForm<Form>,
) -> Result<Response, ConsoleError> {
    let role = load_role(&state, &id).await?;
    if !form.contains_key("confirm") {
        let error = "Tick the box to confirm: every user loses the role and its permissions.";
        return Ok(role_page(&console, &state, &role, StatusCode::BAD_REQUEST, None, context! { error })
            .await?
            .into_response());
    }
    authorization::delete_role(&state, &role.id).await?;
    Ok(super::view::see_other("/admin/apis?done=role-deleted", Vec::new()))
}
