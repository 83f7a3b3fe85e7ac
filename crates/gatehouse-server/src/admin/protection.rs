//! The console's attack protection: brute-force protection and suspicious-IP throttling,
//! Auth0's settings edited in one form each (changed through
//! `gatehouse_services::attack`, as the Management API's `PATCH` is). A user's own
//! blocks are on their page.

use super::{AdminForm, Console, ConsoleError, Page};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_services::attack::{
    brute_force_settings, change_brute_force, change_suspicious_ip, suspicious_ip_settings, SettingsError,
};
use gatehouse_services::Services;
use minijinja::{context, Value as View};
use serde_json::{json, Value};
use std::collections::HashMap;

impl From<SettingsError> for ConsoleError {
    fn from(e: SettingsError) -> Self {
        Self::Internal(e.to_string())
    }
}

async fn protection_page(
    console: &Console,
    state: &Services,
    status: StatusCode,
    extra: View,
) -> Result<Page, ConsoleError> {
    let brute = brute_force_settings(state).await?.to_json();
    let suspicious = suspicious_ip_settings(state).await?.to_json();
    let lines = |v: &Value| {
        v.get("allowlist")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("\n"))
    };
    let has = |v: &Value, shield: &str| v["shields"].as_array().is_some_and(|s| s.iter().any(|x| x == shield));
    let base = context! {
        title => "Attack protection",
        nav => "protection",
        brute => context! {
            enabled => brute["enabled"].as_bool(),
            block => has(&brute, "block"),
            notify => has(&brute, "user_notification"),
            per_ip => brute["mode"] == "count_per_identifier_and_ip",
            max_attempts => brute["max_attempts"].as_u64(),
            allowlist => lines(&brute),
        },
        suspicious => context! {
            enabled => suspicious["enabled"].as_bool(),
            block => has(&suspicious, "block"),
            notify => has(&suspicious, "admin_notification"),
            login_attempts => suspicious["stage"]["pre-login"]["max_attempts"].as_u64(),
            login_rate => suspicious["stage"]["pre-login"]["rate"].as_u64(),
            signup_attempts => suspicious["stage"]["pre-user-registration"]["max_attempts"].as_u64(),
            signup_rate => suspicious["stage"]["pre-user-registration"]["rate"].as_u64(),
            allowlist => lines(&suspicious),
        },
        error => (),
        done => (),
    };
    console.page(status, "protection.html", context! { ..extra, ..base })
}

/// `GET /admin/protection`.
pub async fn show(
    console: Console,
    State(state): State<Services>,
    Query(q): Query<super::Done>,
) -> Result<Page, ConsoleError> {
    let done = q.saved();
    protection_page(&console, &state, StatusCode::OK, context! { done }).await
}

fn allowlist(form: &HashMap<String, String>) -> Vec<String> {
    form.get("allowlist")
        .map(|a| a.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect())
        .unwrap_or_default()
}

fn number(form: &HashMap<String, String>, key: &str) -> Value {
    // A number as typed; anything else goes to the settings' own validation as text.
    form.get(key).map(|v| v.trim()).map_or(Value::Null, |v| v.parse::<u64>().map_or_else(|_| json!(v), |n| json!(n)))
}

async fn saved(
    console: &Console,
    state: &Services,
    outcome: Result<(), SettingsError>,
) -> Result<Response, ConsoleError> {
    match outcome {
        Ok(()) => Ok(super::view::see_other("/admin/protection?done=saved", Vec::new())),
        Err(SettingsError::Refused(e)) => {
            let error = e.to_string();
            Ok(protection_page(console, state, StatusCode::BAD_REQUEST, context! { error }).await?.into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /admin/protection/brute-force`.
pub async fn save_brute_force(
    State(state): State<Services>,
    AdminForm { console, form }: AdminForm<HashMap<String, String>>,
) -> Result<Response, ConsoleError> {
    let shields: Vec<&str> = [("block", "block"), ("notify", "user_notification")]
        .into_iter()
        .filter(|(field, _)| form.contains_key(*field))
        .map(|(_, shield)| shield)
        .collect();
    let mode = if form.contains_key("per_ip") { "count_per_identifier_and_ip" } else { "count_per_identifier" };
    let body = json!({
        "enabled": form.contains_key("enabled"),
        "shields": shields,
        "mode": mode,
        "max_attempts": number(&form, "max_attempts"),
        "allowlist": allowlist(&form),
    });
    let outcome = change_brute_force(&state, &body).await.map(|_| ());
    saved(&console, &state, outcome).await
}

/// `POST /admin/protection/suspicious-ip`.
pub async fn save_suspicious_ip(
    State(state): State<Services>,
    AdminForm { console, form }: AdminForm<HashMap<String, String>>,
) -> Result<Response, ConsoleError> {
    let shields: Vec<&str> = [("block", "block"), ("notify", "admin_notification")]
        .into_iter()
        .filter(|(field, _)| form.contains_key(*field))
        .map(|(_, shield)| shield)
        .collect();
    let body = json!({
        "enabled": form.contains_key("enabled"),
        "shields": shields,
        "allowlist": allowlist(&form),
        "stage": {
            "pre-login": {"max_attempts": number(&form, "login_attempts"), "rate": number(&form, "login_rate")},
            "pre-user-registration": {"max_attempts": number(&form, "signup_attempts"), "rate": number(&form, "signup_rate")},
        },
    });
    let outcome = change_suspicious_ip(&state, &body).await.map(|_| ());
    saved(&console, &state, outcome).await
}
