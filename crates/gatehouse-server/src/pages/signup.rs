//! `GET/POST /u/signup`: the hosted sign-up page, reached with `screen_hint=signup` or
//! from the login page. It belongs to the same login transaction (and CSRF token) as
//! the login page, and a successful sign-up continues the authorization like a login.

use super::login::{complete, csrf_refused, expired, field, query_state, transaction};
use super::{cookies, error_page, password_field, render, Page, Var};
use crate::auth::authorize::AuthorizeRequest;
use crate::auth::login::connection_for;
use crate::auth::secrets::{csrf_token, ct_eq};
use crate::auth::ClientIp;
use crate::error::{DbConnectionsError, PageError};
use crate::extract::read_body;
use crate::signup::sign_up;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use gatehouse_core::client::Client;
use gatehouse_core::connection::Connection;
use gatehouse_core::password_policy::PasswordPolicy;
use serde_json::{Map, Value};
use std::collections::HashMap;

const MAX_FORM: usize = 16 * 1024;

#[derive(Default)]
struct FormState {
    email: String,
    username: String,
    email_error: Option<String>,
    username_error: Option<String>,
    password_error: Option<String>,
    form_error: Option<String>,
}

#[allow(clippy::too_many_arguments)]
async fn signup_form(
    state: &AppState,
    status: StatusCode,
    tx: &str,
    browser: &str,
    client: &Client,
    connection: &Connection,
    f: FormState,
) -> Page {
    let (email_attrs, email_error) = field("email", f.email_error.as_deref());
    let username_field = if connection.requires_username() {
        let (attrs, error) = field("username", f.username_error.as_deref());
        format!(
            r#"<label for="username">Username</label>
<input type="text" id="username" name="username" value="{}" autocomplete="username" autocapitalize="none" spellcheck="false" required {attrs}>
{error}"#,
            super::escape(&f.username)
        )
    } else {
        String::new()
    };
    let (password_attrs, password_error, rules) =
        password_field(&PasswordPolicy::of(connection), f.password_error.as_deref());
    let form_error = match &f.form_error {
        Some(e) => format!(r#"<p id="form-error" class="alert" role="alert">{}</p>"#, super::escape(e)),
        None => String::new(),
    };
    render(
        state,
        status,
        "Sign up",
        "signup.html",
        vec![
            ("state", Var::Text(tx.to_string())),
            ("csrf_token", Var::Text(csrf_token(browser, tx))),
            ("client_name", Var::Text(client.name.clone())),
            ("email", Var::Text(f.email)),
            ("email_attrs", Var::Html(email_attrs)),
            ("email_error", Var::Html(email_error)),
            ("username_field", Var::Html(username_field)),
            ("password_attrs", Var::Html(password_attrs)),
            ("password_error", Var::Html(password_error)),
            ("password_rules", Var::Html(rules)),
            ("form_error", Var::Html(form_error)),
        ],
    )
    .await
}

async fn signup_connection(state: &AppState, client: &Client, req: &AuthorizeRequest) -> Result<Connection, PageError> {
    let c = connection_for(state, client, req.connection.as_deref())
        .await
        .map_err(|e| PageError::bad_request("invalid_request", e.to_string()))?;
    if c.options.get("disable_signup").and_then(Value::as_bool).unwrap_or(false) {
        return Err(PageError::forbidden("signup_disabled", "Sign-up is not available for this application."));
    }
    Ok(c)
}

pub async fn show(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let result = async {
        let tx = query_state(&uri).ok_or_else(expired)?;
        let browser = cookies::get(&headers, cookies::BROWSER).ok_or_else(expired)?;
        let (_, req, client) = transaction(&state, &tx, &browser).await?;
        let connection = signup_connection(&state, &client, &req).await?;
        let f = FormState {
            email: req.login_hint.clone().filter(|h| h.contains('@')).unwrap_or_default(),
            ..FormState::default()
        };
        Ok::<_, PageError>(signup_form(&state, StatusCode::OK, &tx, &browser, &client, &connection, f).await)
    }
    .await;
    match result {
        Ok(page) => page.into_response(),
        Err(e) => error_page(&state, &e).await.into_response(),
    }
}

pub async fn submit(State(state): State<AppState>, headers: HeaderMap, uri: Uri, ip: ClientIp, body: Body) -> Response {
    match handle_submit(&state, &headers, &uri, ip.0.as_deref(), body).await {
        Ok(r) => r,
        Err(e) => error_page(&state, &e).await.into_response(),
    }
}

async fn handle_submit(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    ip: Option<&str>,
    body: Body,
) -> Result<Response, PageError> {
    let bytes = read_body(body, MAX_FORM)
        .await
        .map_err(|_| PageError::bad_request("invalid_request", "The form is too large."))?;
    let form: HashMap<String, String> = url::form_urlencoded::parse(&bytes).into_owned().collect();
    let tx = form.get("state").cloned().or_else(|| query_state(uri)).ok_or_else(expired)?;
    let browser = cookies::get(headers, cookies::BROWSER).ok_or_else(csrf_refused)?;
    let presented = form.get("csrf_token").ok_or_else(csrf_refused)?;
    if !ct_eq(presented, &csrf_token(&browser, &tx)) {
        return Err(csrf_refused());
    }
    let (_, req, client) = transaction(state, &tx, &browser).await?;
    let connection = signup_connection(state, &client, &req).await?;
    let text = |k: &str| form.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
    let password = form.get("password").cloned().unwrap_or_default();
    let mut f = FormState { email: text("email"), username: text("username"), ..FormState::default() };
    if f.email.is_empty() {
        f.email_error = Some("Enter your email address.".into());
    }
    if connection.requires_username() && f.username.is_empty() {
        f.username_error = Some("Choose a username.".into());
    }
    if password.is_empty() {
        f.password_error = Some("Choose a password.".into());
    }
    if f.email_error.is_some() || f.username_error.is_some() || f.password_error.is_some() {
        let page = signup_form(state, StatusCode::BAD_REQUEST, &tx, &browser, &client, &connection, f).await;
        return Ok(page.into_response());
    }
    let mut fields = Map::new();
    fields.insert("email".into(), Value::String(f.email.clone()));
    fields.insert("password".into(), Value::String(password));
    if connection.requires_username() {
        fields.insert("username".into(), Value::String(f.username.clone()));
    }
    match sign_up(state, &connection, &Value::Object(fields), Some(&client.client_id), ip).await {
        Ok(user) => complete(state, headers, &tx, &req, &user.user_id, ip).await,
        Err(DbConnectionsError::Internal(e)) => Err(PageError::internal(e)),
        Err(e) => {
            match e {
                DbConnectionsError::Password(r) => f.password_error = Some(r.explanation()),
                DbConnectionsError::BadRequest { code, description } => {
                    let message = match code {
                        "user_exists" => {
                            "This email address cannot be used to sign up. If you already have an account, log in or reset your password.".to_string()
                        }
                        "username_exists" => "This username is taken. Choose another one.".to_string(),
                        _ => friendly(&description),
                    };
                    if description.contains("property email") {
                        f.email_error = Some(message);
                    } else if description.contains("property username") || code == "username_exists" {
                        f.username_error = Some(message);
                    } else {
                        f.form_error = Some(message);
                    }
                }
                DbConnectionsError::TooManyAttempts => f.form_error = Some(crate::error::SIGNUPS_THROTTLED.to_string()),
                DbConnectionsError::Internal(_) => {}
            }
            let page = signup_form(state, StatusCode::BAD_REQUEST, &tx, &browser, &client, &connection, f).await;
            Ok(page.into_response())
        }
    }
}

/// Auth0's validation messages read `Payload validation error: '<reason>' on property
/// <field>.`; a page shows the reason.
fn friendly(description: &str) -> String {
    match description.split_once('\'').and_then(|(_, rest)| rest.rsplit_once('\'')) {
        Some((reason, _)) => {
            let mut c = reason.chars();
            c.next().map(|first| first.to_uppercase().collect::<String>() + c.as_str() + ".").unwrap_or_default()
        }
        None => description.to_string(),
    }
}
