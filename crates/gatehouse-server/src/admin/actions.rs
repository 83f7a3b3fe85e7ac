//! The console's Actions: writing an action (its code, triggers, dependencies and
//! secrets, whose values are never shown), deploying it or an earlier version again,
//! and binding deployed actions to triggers in the order they run. Every change goes
//! through `gatehouse_services::actions`, as the Management API's do.

use super::view::path_segment;
use super::{AdminForm, Console, ConsoleError, Page};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_core::action::TRIGGERS;
use gatehouse_services::actions::{self, ActionError};
use gatehouse_services::Services;
use minijinja::{context, Value as View};
use serde_json::{json, Value};

type Form = Vec<(String, String)>;

/// The first value of `key` in the form, trimmed ("" when absent).
fn field<'a>(form: &'a Form, key: &str) -> &'a str {
    form.iter().find(|(k, _)| k == key).map_or("", |(_, v)| v.trim())
}

/// Every value of `key`, in the form's order.
fn fields<'a>(form: &'a Form, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    form.iter().filter(move |(k, _)| k == key).map(|(_, v)| v.trim())
}

/// What a new action's editor starts with: the post-login handler Auth0's editor offers.
const NEW_CODE: &str = "/**\n * @param {Event} event - Details about the user and the context in which they are logging in.\n * @param {PostLoginAPI} api - Interface whose methods can be used to change the behavior of the login.\n */\nexports.onExecutePostLogin = async (event, api) => {\n};\n";

/// A refusal is shown on the page it came from; anything else is the console's error.
fn refused(e: ActionError) -> Result<String, ConsoleError> {
    match e {
        ActionError::Refused(e) => Ok(e.to_string()),
        ActionError::Store(e) => Err(e.into()),
    }
}

fn trigger_ref(id: &str) -> Value {
    let version = TRIGGERS.iter().find(|t| t.id == id).map_or("v1", |t| t.version);
    json!({"id": id, "version": version})
}

// ---- the list and the bindings -------------------------------------------------------------

async fn list_page(
    console: &Console,
    state: &Services,
    status: StatusCode,
    form: Option<&Form>,
    extra: View,
) -> Result<Page, ConsoleError> {
    let (list, _) = actions::list_actions(state, None, None, None, 0, u32::MAX).await.map_err(store_only)?;
    let mut triggers = Vec::with_capacity(TRIGGERS.len());
    for t in TRIGGERS {
        let bound = actions::bindings(state, t.id).await.map_err(store_only)?;
        let ids: Vec<&str> = bound.iter().filter_map(|b| b["action"]["id"].as_str()).collect();
        // Each row's buttons post the whole new order (no JavaScript needed).
        let order_without =
            |skip: usize| ids.iter().enumerate().filter(|(i, _)| *i != skip).map(|(_, id)| *id).collect::<Vec<_>>();
        let rows: Vec<View> = bound
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let mut up = ids.clone();
                if i > 0 {
                    up.swap(i - 1, i);
                }
                context! {
                    name => b["display_name"].as_str().or(b["action"]["name"].as_str()),
                    action_id => b["action"]["id"].as_str(),
                    up => (i > 0).then(|| up.join(",")),
                    remove => order_without(i).join(","),
                }
            })
            .collect();
        // What may be added: deployed actions for this trigger not bound to it yet.
        let addable: Vec<View> = list
            .iter()
            .filter(|a| a["deployed_version"].is_object())
            .filter(|a| a["supported_triggers"].as_array().into_iter().flatten().any(|s| s["id"] == t.id))
            .filter(|a| a["id"].as_str().is_some_and(|id| !ids.contains(&id)))
            .map(|a| context! { id => a["id"].as_str(), name => a["name"].as_str() })
            .collect();
        triggers.push(context! { id => t.id, rows, order => ids.join(","), addable });
    }
    let sent = |k: &str| form.map(|f| field(f, k).to_string());
    let base = context! {
        title => "Actions",
        nav => "actions",
        actions => list.iter().map(|a| context! {
            id => a["id"].as_str(),
            name => a["name"].as_str(),
            triggers => a["supported_triggers"].as_array().into_iter().flatten().filter_map(|t| t["id"].as_str()).collect::<Vec<_>>(),
            deployed => a["deployed_version"]["number"].as_i64(),
            all_changes_deployed => a["all_changes_deployed"].as_bool(),
        }).collect::<Vec<_>>(),
        trigger_ids => TRIGGERS.iter().map(|t| t.id).collect::<Vec<_>>(),
        triggers,
        new_action => context! { name => sent("name").unwrap_or_default(), trigger => sent("trigger").unwrap_or_default() },
        error => (),
        done => (),
    };
    console.page(status, "actions.html", context! { ..extra, ..base })
}

/// A store failure while reading for a page is the console's error; nothing read there
/// is refused.
fn store_only(e: ActionError) -> ConsoleError {
    match e {
        ActionError::Store(e) => e.into(),
        ActionError::Refused(e) => ConsoleError::Internal(e.to_string()),
    }
}

/// `GET /admin/actions`.
pub async fn list(
    console: Console,
    State(state): State<Services>,
    Query(q): Query<super::Done>,
) -> Result<Page, ConsoleError> {
    let done = match q.done.as_deref() {
        Some("deleted") => Some("The action was deleted."),
        Some("bound") => Some("The trigger's actions were saved; new logins run them in this order."),
        _ => None,
    };
    list_page(&console, &state, StatusCode::OK, None, context! { done }).await
}

/// `POST /admin/actions`: a new action for one trigger, with the trigger's empty handler.
pub async fn create(
    State(state): State<Services>,
    AdminForm { console, form }: AdminForm<Form>,
) -> Result<Response, ConsoleError> {
    let trigger = field(&form, "trigger");
    let handler = TRIGGERS.iter().find(|t| t.id == trigger).map_or("onExecutePostLogin", |t| t.handler);
    let body = json!({
        "name": field(&form, "name"),
        "supported_triggers": [trigger_ref(trigger)],
        "code": NEW_CODE.replace("onExecutePostLogin", handler),
    });
    match actions::create_action(&state, &body).await {
        Ok(a) => {
            let id = a["id"].as_str().unwrap_or_default();
            Ok(super::view::see_other(&format!("/admin/actions/{}?done=created", path_segment(id)), Vec::new()))
        }
        Err(e) => {
            let error = refused(e)?;
            Ok(list_page(&console, &state, StatusCode::BAD_REQUEST, Some(&form), context! { error })
                .await?
                .into_response())
        }
    }
}

/// `POST /admin/actions/bindings/{trigger}`: `order` (action ids, comma-separated) and an
/// optional `add` appended, as the trigger's whole list. Display names are kept.
pub async fn bind(
    State(state): State<Services>,
    Path(trigger): Path<String>,
    AdminForm { console, form }: AdminForm<Form>,
) -> Result<Response, ConsoleError> {
    let current = match actions::bindings(&state, &trigger).await {
        Ok(b) => b,
        Err(ActionError::Refused(_)) => return Err(ConsoleError::NotFound("trigger")),
        Err(e) => return Err(store_only(e)),
    };
    let ids = field(&form, "order").split(',').chain(fields(&form, "add")).map(str::trim).filter(|id| !id.is_empty());
    let bindings: Vec<Value> = ids
        .map(|id| {
            let kept = current.iter().find(|b| b["action"]["id"] == id).and_then(|b| b["display_name"].as_str());
            let mut binding = json!({"ref": {"type": "action_id", "value": id}});
            if let Some(name) = kept {
                binding["display_name"] = json!(name);
            }
            binding
        })
        .collect();
    match actions::update_bindings(&state, &trigger, &json!({ "bindings": bindings })).await {
        Ok(_) => Ok(super::view::see_other("/admin/actions?done=bound", Vec::new())),
        Err(e) => {
            let error = refused(e)?;
            Ok(list_page(&console, &state, StatusCode::BAD_REQUEST, None, context! { error }).await?.into_response())
        }
    }
}

// ---- an action ------------------------------------------------------------------------------

async fn action_page(
    console: &Console,
    state: &Services,
    id: &str,
    status: StatusCode,
    form: Option<&Form>,
    extra: View,
) -> Result<Page, ConsoleError> {
    let a = match actions::get_action(state, id).await {
        Ok(a) => a,
        Err(ActionError::Refused(_)) => return Err(ConsoleError::NotFound("action")),
        Err(e) => return Err(store_only(e)),
    };
    let (versions, _) = actions::versions(state, id, 0, 20).await.map_err(store_only)?;
    let supported: Vec<&str> =
        a["supported_triggers"].as_array().into_iter().flatten().filter_map(|t| t["id"].as_str()).collect();
    let ticked = |t: &str| form.map_or(supported.contains(&t), |f| fields(f, "trigger").any(|v| v == t));
    let value = |k: &str, current: String| form.map_or(current, |f| field(f, k).to_string());
    let dependencies = a["dependencies"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| format!("{}@{}", d["name"].as_str().unwrap_or(""), d["version"].as_str().unwrap_or("latest")))
        .collect::<Vec<_>>()
        .join("\n");
    // The code as sent: a textarea's own line breaks, not a trimmed copy.
    let code = form.and_then(|f| f.iter().find(|(k, _)| k == "code").map(|(_, v)| v.clone()));
    let base = context! {
        title => format!("Action {}", a["name"].as_str().unwrap_or("")),
        nav => "actions",
        action => context! {
            id => a["id"].as_str(),
            name => value("name", a["name"].as_str().unwrap_or("").to_string()),
            code => code.unwrap_or_else(|| a["code"].as_str().unwrap_or("").to_string()),
            dependencies => value("dependencies", dependencies),
            secrets => a["secrets"].as_array().into_iter().flatten().map(|s| context! {
                name => s["name"].as_str(), updated_at => s["updated_at"].as_str(),
            }).collect::<Vec<_>>(),
            deployed => a["deployed_version"]["number"].as_i64(),
            all_changes_deployed => a["all_changes_deployed"].as_bool(),
        },
        triggers => TRIGGERS.iter().map(|t| context! { id => t.id, on => ticked(t.id) }).collect::<Vec<_>>(),
        versions => versions.iter().map(|v| context! {
            id => v["id"].as_str(), number => v["number"].as_i64(), deployed => v["deployed"].as_bool(),
            created_at => v["created_at"].as_str(),
        }).collect::<Vec<_>>(),
        error => (),
        done => (),
    };
    console.page(status, "action.html", context! { ..extra, ..base })
}

/// `GET /admin/actions/{id}`.
pub async fn show(
    console: Console,
    State(state): State<Services>,
    Path(id): Path<String>,
    Query(q): Query<super::Done>,
) -> Result<Page, ConsoleError> {
    let done = match q.done.as_deref() {
        Some("created") => Some("The action was created. Write its code, save, then deploy it."),
        Some("deployed") => Some("Deployed: triggers bound to this action run this version from now on."),
        _ => q.saved(),
    };
    action_page(&console, &state, &id, StatusCode::OK, None, context! { done }).await
}

/// The Management API body of the action form: secrets kept by name unless removed, a
/// new value where one was typed, and one new secret.
fn action_body(form: &Form) -> Value {
    let triggers: Vec<Value> = fields(form, "trigger").map(trigger_ref).collect();
    let dependencies: Vec<Value> = field(form, "dependencies")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            // `name@version`; a scoped package's name starts with `@`.
            match l.rfind('@').filter(|at| *at > 0) {
                Some(at) => json!({"name": &l[..at], "version": &l[at + 1..]}),
                None => json!({"name": l}),
            }
        })
        .collect();
    let removed: Vec<&str> = fields(form, "remove_secret").collect();
    let mut secrets: Vec<Value> = fields(form, "secret")
        .filter(|name| !removed.contains(name))
        .map(|name| {
            let typed = field(form, &format!("secret_value_{name}"));
            if typed.is_empty() {
                json!({"name": name})
            } else {
                json!({"name": name, "value": typed})
            }
        })
        .collect();
    let new_name = field(form, "new_secret_name");
    if !new_name.is_empty() {
        secrets.push(json!({"name": new_name, "value": field(form, "new_secret_value")}));
    }
    let code = form.iter().find(|(k, _)| k == "code").map_or("", |(_, v)| v.as_str());
    json!({
        "name": field(form, "name"),
        "supported_triggers": triggers,
        "code": code,
        "dependencies": dependencies,
        "secrets": secrets,
    })
}

/// The answer to a change of action `id`: its page with `done`, or the page again with
/// the refusal (and the form as sent).
async fn after_change(
    console: &Console,
    state: &Services,
    id: &str,
    outcome: Result<Value, ActionError>,
    done: &str,
    form: Option<&Form>,
) -> Result<Response, ConsoleError> {
    match outcome {
        Ok(_) => Ok(super::view::see_other(&format!("/admin/actions/{}?done={done}", path_segment(id)), Vec::new())),
        Err(e) => {
            let error = refused(e)?;
            Ok(action_page(console, state, id, StatusCode::BAD_REQUEST, form, context! { error })
                .await?
                .into_response())
        }
    }
}

/// `POST /admin/actions/{id}`: the draft (deployed separately).
pub async fn save(
    State(state): State<Services>,
    Path(id): Path<String>,
    AdminForm { console, form }: AdminForm<Form>,
) -> Result<Response, ConsoleError> {
    let outcome = actions::update_action(&state, &id, &action_body(&form)).await;
    after_change(&console, &state, &id, outcome, "saved", Some(&form)).await
}

/// `POST /admin/actions/{id}/deploy`: the draft becomes the deployed version.
pub async fn deploy(
    State(state): State<Services>,
    Path(id): Path<String>,
    AdminForm { console, .. }: AdminForm<Form>,
) -> Result<Response, ConsoleError> {
    let outcome = actions::deploy(&state, &id).await;
    after_change(&console, &state, &id, outcome, "deployed", None).await
}

/// `POST /admin/actions/{id}/versions/{version}/deploy`: an earlier version again.
pub async fn redeploy(
    State(state): State<Services>,
    Path((id, version)): Path<(String, String)>,
    AdminForm { console, .. }: AdminForm<Form>,
) -> Result<Response, ConsoleError> {
    let outcome = actions::deploy_version(&state, &id, &version).await;
    after_change(&console, &state, &id, outcome, "deployed", None).await
}

/// `POST /admin/actions/{id}/delete`: only with the confirmation ticked, and only when no
/// trigger runs it (the refusal says which).
pub async fn delete(
    State(state): State<Services>,
    Path(id): Path<String>,
    AdminForm { console, form }: AdminForm<Form>,
) -> Result<Response, ConsoleError> {
    let error = if field(&form, "confirm") != "yes" {
        "Tick the box to confirm: the action and its versions go.".to_string()
    } else {
        match actions::delete_action(&state, &id, false).await {
            Ok(()) => return Ok(super::view::see_other("/admin/actions?done=deleted", Vec::new())),
            Err(e) => refused(e)?,
        }
    };
    let page = action_page(&console, &state, &id, StatusCode::BAD_REQUEST, None, context! { error });
    Ok(page.await?.into_response())
}
