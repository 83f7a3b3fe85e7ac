//! The console's applications: the list, a new application, and an application's
//! settings (callbacks, origins, logout URLs, grant types, the connections it may use),
//! its secret rotated and shown once. Changes go through `gatehouse_services::clients`
//! and `connections`, as the Management API's do. The console's own client is shown but
//! not edited here (its callback follows the issuer at every start).

use super::{AdminForm, Console, ConsoleError, Page};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_core::client::Client;
use gatehouse_services::clients::{self, ClientChangeError};
use gatehouse_services::connections::update_connection;
use gatehouse_services::console::CONSOLE_CLIENT_ID;
use gatehouse_services::Services;
use minijinja::{context, Value as View};
use serde_json::{json, Map, Value};

const APP_TYPES: &[(&str, &str)] = &[
    ("regular_web", "Regular web application (server side, with a secret)"),
    ("spa", "Single-page application (browser, PKCE, no secret)"),
    ("native", "Native or mobile application (PKCE, no secret)"),
    ("non_interactive", "Machine to machine (client credentials)"),
];

const GRANT_TYPES: &[(&str, &str)] = &[
    ("authorization_code", "Authorization code"),
    ("refresh_token", "Refresh token"),
    ("client_credentials", "Client credentials"),
    ("password", "Password"),
    ("http://auth0.com/oauth/grant-type/password-realm", "Password realm"),
];

/// The URL lists a form edits as one URL a line.
const URL_LISTS: &[(&str, &str)] = &[
    ("callbacks", "Allowed callback URLs"),
    ("allowed_logout_urls", "Allowed logout URLs"),
    ("web_origins", "Allowed web origins"),
    ("allowed_origins", "Allowed origins (CORS)"),
];

impl From<ClientChangeError> for ConsoleError {
    fn from(e: ClientChangeError) -> Self {
        Self::Internal(e.to_string())
    }
}

fn editable(c: &Client) -> bool {
    c.client_id != CONSOLE_CLIENT_ID
}

/// `GET /admin/applications`.
pub async fn list(console: Console, State(state): State<Services>) -> Result<Page, ConsoleError> {
    let (list, _) = state.store.clients(None, 0, 100).await?;
    let apps: Vec<View> = list
        .iter()
        .map(|c| context! { client_id => c.client_id, name => c.name, app_type => c.app_type, grant_types => c.grant_types })
        .collect();
    console.page(StatusCode::OK, "applications.html", context! { title => "Applications", nav => "applications", apps })
}

/// The form's view of `c` (or of a new application), `form` overriding it after a refusal.
async fn app_page(
    console: &Console,
    state: &Services,
    c: Option<&Client>,
    status: StatusCode,
    form: Option<&[(String, String)]>,
    extra: View,
) -> Result<Page, ConsoleError> {
    let (connections, _) = state.store.connections(None, None, None, 0, 100).await?;
    let sent = |k: &str| form.map(|f| f.iter().filter(|(n, _)| n == k).map(|(_, v)| v.clone()).collect::<Vec<_>>());
    let lists: Vec<View> = URL_LISTS
        .iter()
        .map(|(key, label)| {
            let current = match c {
                Some(c) => match *key {
                    "callbacks" => c.callbacks.join("\n"),
                    "allowed_logout_urls" => c.allowed_logout_urls.join("\n"),
                    "web_origins" => c.web_origins.join("\n"),
                    _ => c.allowed_origins.join("\n"),
                },
                None => String::new(),
            };
            let value = sent(key).and_then(|v| v.into_iter().next()).unwrap_or(current);
            context! { key, label, value }
        })
        .collect();
    let grants = sent("grant_type").unwrap_or_else(|| {
        c.map(|c| c.grant_types.clone()).unwrap_or_else(|| vec!["authorization_code".into(), "refresh_token".into()])
    });
    let chosen_connections = sent("connection").unwrap_or_else(|| match c {
        Some(c) => {
            connections.iter().filter(|x| x.enabled_clients.contains(&c.client_id)).map(|x| x.id.clone()).collect()
        }
        None => Vec::new(),
    });
    let base = context! {
        title => c.map_or("New application".to_string(), |c| format!("Application {}", c.name)),
        nav => "applications",
        app => c.map(|c| context! {
            client_id => c.client_id,
            name => c.name,
            app_type => c.app_type,
            confidential => c.is_confidential(),
            editable => editable(c),
        }),
        name => sent("name").and_then(|v| v.into_iter().next()).or(c.map(|c| c.name.clone())).unwrap_or_default(),
        app_type => sent("app_type").and_then(|v| v.into_iter().next())
            .or(c.and_then(|c| c.app_type.clone())).unwrap_or_else(|| "regular_web".into()),
        app_types => APP_TYPES.iter().map(|(value, label)| context! { value, label }).collect::<Vec<_>>(),
        grant_types => GRANT_TYPES.iter().map(|(value, label)| context! { value, label, on => grants.iter().any(|g| g == value) }).collect::<Vec<_>>(),
        lists,
        connections => connections.iter().map(|x| context! {
            id => x.id, name => x.name, strategy => x.strategy, on => chosen_connections.contains(&x.id),
        }).collect::<Vec<_>>(),
        secret => (),
        error => (),
        done => (),
    };
    console.page(status, "application.html", context! { ..extra, ..base })
}

/// The Auth0 client body the form describes.
fn body_of(form: &[(String, String)]) -> Value {
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim().to_string()).unwrap_or_default();
    let mut body = Map::new();
    body.insert("name".into(), json!(get("name")));
    body.insert("app_type".into(), json!(get("app_type")));
    for (key, _) in URL_LISTS {
        let urls: Vec<String> = get(key).lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect();
        body.insert((*key).into(), json!(urls));
    }
    let grants: Vec<&str> = form.iter().filter(|(n, _)| n == "grant_type").map(|(_, v)| v.as_str()).collect();
    body.insert("grant_types".into(), json!(grants));
    Value::Object(body)
}

/// `GET /admin/applications/new`.
pub async fn new_app(console: Console, State(state): State<Services>) -> Result<Page, ConsoleError> {
    app_page(&console, &state, None, StatusCode::OK, None, context! {}).await
}

/// `POST /admin/applications`: a new application on the ticked connections.
pub async fn create(
    State(state): State<Services>,
    AdminForm { console, form }: AdminForm<Vec<(String, String)>>,
) -> Result<Response, ConsoleError> {
    let mut body = body_of(&form);
    let (connections, _) = state.store.connections(None, None, None, 0, 100).await?;
    let names: Vec<&str> = form
        .iter()
        .filter(|(n, _)| n == "connection")
        .filter_map(|(_, id)| connections.iter().find(|c| &c.id == id).map(|c| c.name.as_str()))
        .collect();
    body["enabled_connections"] = json!(names);
    match clients::create_client(&state, &body).await {
        Ok((c, secret, _)) => {
            let extra = context! { secret, done => "The application was created." };
            Ok(app_page(&console, &state, Some(&c), StatusCode::CREATED, None, extra).await?.into_response())
        }
        Err(ClientChangeError::Refused(e)) => {
            let error = e.to_string();
            Ok(app_page(&console, &state, None, StatusCode::BAD_REQUEST, Some(&form), context! { error })
                .await?
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

async fn load(state: &Services, id: &str) -> Result<Client, ConsoleError> {
    state.store.client(id).await?.ok_or(ConsoleError::NotFound("application"))
}

/// `GET /admin/applications/{id}`.
pub async fn show(
    console: Console,
    State(state): State<Services>,
    Path(id): Path<String>,
    Query(q): Query<super::Done>,
) -> Result<Page, ConsoleError> {
    let c = load(&state, &id).await?;
    let done = q.saved();
    app_page(&console, &state, Some(&c), StatusCode::OK, None, context! { done }).await
}

/// `POST /admin/applications/{id}`: the settings, and the connections it may use (each
/// ticked or unticked one's list changed, the others left alone).
pub async fn save(
    State(state): State<Services>,
    Path(id): Path<String>,
    AdminForm { console, form }: AdminForm<Vec<(String, String)>>,
) -> Result<Response, ConsoleError> {
    let c = load(&state, &id).await?;
    if !editable(&c) {
        return Err(ConsoleError::NotFound("editable application"));
    }
    let (c, secret) = match clients::update_client(&state, &id, &body_of(&form)).await {
        Ok(changed) => changed,
        Err(ClientChangeError::Refused(e)) => {
            let error = e.to_string();
            return Ok(app_page(&console, &state, Some(&c), StatusCode::BAD_REQUEST, Some(&form), context! { error })
                .await?
                .into_response());
        }
        Err(e) => return Err(e.into()),
    };
    let wanted: Vec<&str> = form.iter().filter(|(n, _)| n == "connection").map(|(_, v)| v.as_str()).collect();
    let (connections, _) = state.store.connections(None, None, None, 0, 100).await?;
    for connection in connections {
        let has = connection.enabled_clients.contains(&c.client_id);
        let wants = wanted.contains(&connection.id.as_str());
        if has == wants {
            continue;
        }
        let mut list = connection.enabled_clients.clone();
        if wants {
            list.push(c.client_id.clone());
        } else {
            list.retain(|x| x != &c.client_id);
        }
        update_connection(&state, &connection.id, &json!({ "enabled_clients": list })).await?;
    }
    if secret.is_some() {
        let extra = context! { secret, done => "Settings saved. The application is confidential now: its new secret is below." };
        return Ok(app_page(&console, &state, Some(&c), StatusCode::OK, None, extra).await?.into_response());
    }
    Ok(super::view::see_other(&format!("/admin/applications/{id}?done=saved"), Vec::new()))
}

/// `POST /admin/applications/{id}/rotate-secret`: a new secret, shown once; the old one
/// stops working at once.
pub async fn rotate_secret(
    State(state): State<Services>,
    Path(id): Path<String>,
    AdminForm { console, .. }: AdminForm<Vec<(String, String)>>,
) -> Result<Response, ConsoleError> {
    let c = load(&state, &id).await?;
    if !editable(&c) || !c.is_confidential() {
        return Err(ConsoleError::NotFound("application with a secret"));
    }
    let (c, secret) = clients::rotate_secret(&state, &id).await?;
    let extra = context! { secret, done => "A new secret was made; the old one no longer works." };
    Ok(app_page(&console, &state, Some(&c), StatusCode::OK, None, extra).await?.into_response())
}
