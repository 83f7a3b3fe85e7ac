//! The console's connections: the list, and a database connection's settings: Auth0's
//! password policy (level, length, history, dictionary, personal info) with a "try a
//! password" check by the real checker, usernames, sign-ups, brute-force protection,
//! and its legacy store (a test lookup, the migration so far, "migrate remaining").
//! Saving goes through `gatehouse_services::connections`, as the Management API does.

use super::{AdminForm, Console, ConsoleError, Page};
use axum::extract::{Path, RawForm, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_core::connection::Connection;
use gatehouse_core::password_policy::{Level, PasswordPolicy, PersonalInfo};
use gatehouse_services::connections::{update_connection, ConnectionChangeError};
use gatehouse_services::signup::{is_breached, Setter};
use gatehouse_services::Services;
use minijinja::{context, Value as View};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

impl From<ConnectionChangeError> for ConsoleError {
    fn from(e: ConnectionChangeError) -> Self {
        Self::Internal(e.to_string())
    }
}

/// `GET /admin/connections`.
pub async fn list(console: Console, State(state): State<Services>) -> Result<Page, ConsoleError> {
    let (connections, _) = state.store.connections(None, None, None, 0, 100).await?;
    let mut rows = Vec::with_capacity(connections.len());
    for c in &connections {
        let users = state.store.count_users_in_connection(&c.id).await?;
        rows.push(context! {
            id => c.id,
            name => c.name,
            strategy => c.strategy,
            database => c.strategy == "auth0",
            users,
            applications => c.enabled_clients.len(),
            signups => !disabled_signup(c),
        });
    }
    console.page(
        StatusCode::OK,
        "connections.html",
        context! { title => "Connections", nav => "connections", connections => rows },
    )
}

fn disabled_signup(c: &Connection) -> bool {
    c.options.get("disable_signup").and_then(Value::as_bool).unwrap_or(false)
}

fn enabled(options: &Map<String, Value>, key: &str) -> bool {
    options.get(key).and_then(|v| v.get("enable")).and_then(Value::as_bool).unwrap_or(false)
}

/// What the settings page shows, with what a refused save sent, a tried password's
/// verdict or a lookup's answer.
async fn connection_page(
    console: &Console,
    state: &Services,
    id: &str,
    status: StatusCode,
    extra: View,
) -> Result<Page, ConsoleError> {
    let c = state.store.connection(id).await?.ok_or(ConsoleError::NotFound("connection"))?;
    let o = &c.options;
    let policy = PasswordPolicy::of(&c);
    let legacy = gatehouse_services::legacy::store_for(state, &c).ok().flatten();
    let arrivals = state.store.arrivals(&c.id).await?;
    let mut shown = c.to_auth0_json(true);
    if let Some(Value::Object(options)) = shown.get_mut("options") {
        gatehouse_legacy::redact_options(options);
    }
    let base = context! {
        title => format!("Connection {}", c.name),
        nav => "connections",
        connection => context! {
            id => c.id,
            name => c.name,
            strategy => c.strategy,
            database => c.strategy == "auth0",
            level => policy.level.as_str(),
            min_length => policy.min_length,
            history => enabled(o, "password_history"),
            history_size => o.get("password_history").and_then(|v| v.get("size")).and_then(Value::as_u64).unwrap_or(5),
            dictionary => enabled(o, "password_dictionary"),
            words => o.get("password_dictionary").and_then(|v| v.get("dictionary")).and_then(Value::as_array)
                .map(|w| w.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("\n")).unwrap_or_default(),
            no_personal_info => enabled(o, "password_no_personal_info"),
            requires_username => c.requires_username(),
            disable_signup => disabled_signup(&c),
            brute_force_protection => o.get("brute_force_protection").and_then(Value::as_bool).unwrap_or(true),
            applications => c.enabled_clients,
        },
        levels => ["none", "low", "fair", "good", "excellent"],
        rules => policy.describe(),
        legacy => legacy.as_ref().map(|l| context! {
            kind => l.kind(),
            import_mode => l.import_mode(),
            can_list => l.can_list(),
        }),
        migration => context! {
            users => arrivals.users,
            migrated => arrivals.migrated(),
            on_login => arrivals.on_login,
            in_bulk => arrivals.migrate_remaining,
            imported => arrivals.imported,
            last_migrated_at => arrivals.last_migrated_at,
        },
        raw => serde_json::to_string_pretty(&shown).unwrap_or_default(),
        tried => (),
        lookup => (),
        error => (),
        done => (),
    };
    console.page(status, "connection.html", context! { ..extra, ..base })
}

/// `GET /admin/connections/{id}`.
pub async fn show(
    console: Console,
    State(state): State<Services>,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<super::Done>,
) -> Result<Page, ConsoleError> {
    let done = q.saved();
    connection_page(&console, &state, &id, StatusCode::OK, context! { done }).await
}

/// `POST /admin/connections/{id}`: the database connection's settings, saved as one
/// `PATCH` of its options (the other options stay as they were).
pub async fn save(
    State(state): State<Services>,
    Path(id): Path<String>,
    AdminForm { console, form }: AdminForm<HashMap<String, String>>,
) -> Result<Response, ConsoleError> {
    let c = state.store.connection(&id).await?.ok_or(ConsoleError::NotFound("connection"))?;
    if c.strategy != "auth0" {
        return Err(ConsoleError::NotFound("database connection"));
    }
    let on = |k: &str| form.contains_key(k);
    let number = |k: &str, default: u64| form.get(k).and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(default);
    let level = Level::from_option(form.get("level").map(|l| json!(l)).as_ref());
    let mut options = c.options.clone();
    options.insert("passwordPolicy".into(), json!(level.as_str()));
    options.insert("password_complexity_options".into(), json!({ "min_length": number("min_length", 8) }));
    options.insert("password_history".into(), json!({ "enable": on("history"), "size": number("history_size", 5) }));
    let words: Vec<String> = form
        .get("words")
        .map(|w| w.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect())
        .unwrap_or_default();
    options.insert("password_dictionary".into(), json!({ "enable": on("dictionary"), "dictionary": words }));
    options.insert("password_no_personal_info".into(), json!({ "enable": on("no_personal_info") }));
    options.insert("requires_username".into(), json!(on("requires_username")));
    options.insert("disable_signup".into(), json!(on("disable_signup")));
    options.insert("brute_force_protection".into(), json!(on("brute_force_protection")));
    match update_connection(&state, &id, &json!({ "options": options })).await {
        Ok(_) => Ok(super::view::see_other(&format!("/admin/connections/{id}?done=saved"), Vec::new())),
        Err(ConnectionChangeError::Refused(e)) => {
            let error = e.to_string();
            Ok(connection_page(&console, &state, &id, StatusCode::BAD_REQUEST, context! { error })
                .await?
                .into_response())
        }
        Err(ConnectionChangeError::Options(e)) => {
            let error = e.to_string();
            Ok(connection_page(&console, &state, &id, StatusCode::BAD_REQUEST, context! { error })
                .await?
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /admin/connections/{id}/try-password`: the connection's policy on a password,
/// rule by rule (nothing is stored; a viewer may try too).
pub async fn try_password(
    console: Console,
    State(state): State<Services>,
    Path(id): Path<String>,
    RawForm(body): RawForm,
) -> Result<Response, ConsoleError> {
    console.check_token(&super::csrf_field(&body)?)?;
    let form: HashMap<String, String> =
        serde_urlencoded::from_bytes(&body).map_err(|_| ConsoleError::BadForm("malformed"))?;
    let c = state.store.connection(&id).await?.ok_or(ConsoleError::NotFound("connection"))?;
    let policy = PasswordPolicy::of(&c);
    let password = form.get("password").cloned().unwrap_or_default();
    let personal = PersonalInfo::of(form.get("email").map(String::as_str), None, &[], &Map::new());
    let strength = policy.strength(&password);
    let breached = is_breached(&state, Setter::SignUp, &password).await?;
    let verdict = match policy.check(&password, &personal) {
        Ok(()) if breached => "Refused at sign-up and reset: it is a commonly used (breached) password.".to_string(),
        Ok(()) => "Accepted.".to_string(),
        Err(r) => format!("Refused: {}", r.explanation()),
    };
    let tried = context! {
        accepted => verdict == "Accepted.",
        verdict,
        rules => strength.rules.iter().map(|r| context! {
            text => r.text(),
            verified => r.verified,
            items => r.items.iter().map(|i| context! { text => i.text(), verified => i.verified }).collect::<Vec<_>>(),
        }).collect::<Vec<_>>(),
    };
    Ok(connection_page(&console, &state, &id, StatusCode::OK, context! { tried }).await?.into_response())
}

/// `POST /admin/connections/{id}/test-lookup`: asks the legacy store for one user, as a
/// first login would (nothing is migrated).
pub async fn test_lookup(
    State(state): State<Services>,
    Path(id): Path<String>,
    AdminForm { console, form }: AdminForm<HashMap<String, String>>,
) -> Result<Response, ConsoleError> {
    let c = state.store.connection(&id).await?.ok_or(ConsoleError::NotFound("connection"))?;
    let login = form.get("login").map(|l| l.trim().to_string()).unwrap_or_default();
    let answer = match gatehouse_services::legacy::store_for(&state, &c) {
        Ok(Some(legacy)) => match legacy.get_user(&gatehouse_core::validate::normalize_login(&login)).await {
            Ok(Some(p)) => context! {
                found => true,
                text => format!("Found: user id {}, email {}, name {}", p.user_id,
                    p.email.as_deref().unwrap_or("—"), p.name.as_deref().unwrap_or("—")),
            },
            Ok(None) => context! { found => false, text => format!("The legacy store has no user {login:?}.") },
            Err(e) => context! { found => false, text => format!("The legacy store did not answer: {e}") },
        },
        Ok(None) => context! { found => false, text => "This connection has no legacy store." },
        Err(e) => context! { found => false, text => format!("The legacy store is unusable: {e}") },
    };
    Ok(connection_page(&console, &state, &id, StatusCode::OK, context! { lookup => answer }).await?.into_response())
}
