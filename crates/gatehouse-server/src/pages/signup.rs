//! `GET/POST /u/signup`: the hosted sign-up page, reached with `screen_hint=signup` or
//! from the login page. It belongs to the same login transaction (and CSRF token) as
//! the login page, and a successful sign-up continues the authorization like a login.

use super::login::{complete, csrf_refused, expired, field, query_state, transaction};
use super::{cookies, error_page, password_field, render, Page, Var};
use crate::auth::authorize::AuthorizeRequest;
use crate::auth::ClientIp;
use crate::error::PageError;
use crate::extract::read_body;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use gatehouse_core::client::Client;
use gatehouse_core::connection::Connection;
use gatehouse_core::password_policy::PasswordPolicy;
use gatehouse_core::Error as DomainError;
use gatehouse_services::login::connection_for;
use gatehouse_services::secrets::{csrf_token, ct_eq};
use gatehouse_services::signup::{sign_up, SignupError};
use gatehouse_services::Services;
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
    /// The refused password's check, when it was too weak.
    password_checked: Option<gatehouse_core::password_policy::Strength>,
    form_error: Option<String>,
}

#[allow(clippy::too_many_arguments)]
async fn signup_form(
    state: &Services,
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
        password_field(&PasswordPolicy::of(connection), f.password_error.as_deref(), f.password_checked.as_ref());
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

async fn signup_connection(state: &Services, client: &Client, req: &AuthorizeRequest) -> Result<Connection, PageError> {
    let c = connection_for(state, client, req.connection.as_deref())
        .await
        .map_err(|e| PageError::bad_request("invalid_request", e.to_string()))?;
    if c.options.get("disable_signup").and_then(Value::as_bool).unwrap_or(false) {
        return Err(PageError::forbidden("signup_disabled", "Sign-up is not available for this application."));
    }
    Ok(c)
}

pub async fn show(State(state): State<Services>, headers: HeaderMap, uri: Uri) -> Response {
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

pub async fn submit(State(state): State<Services>, headers: HeaderMap, uri: Uri, ip: ClientIp, body: Body) -> Response {
    match handle_submit(&state, &headers, &uri, ip.0.as_deref(), body).await {
        Ok(r) => r,
        Err(e) => error_page(&state, &e).await.into_response(),
    }
}

async fn handle_submit(
    state: &Services,
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
        Err(SignupError::Internal(e)) => Err(PageError::internal(e)),
        Err(e) => {
            match e {
                SignupError::Password(r) => {
                    let (sentence, checked) = super::refused_password(r);
                    f.password_error = Some(sentence);
                    f.password_checked = checked;
                }
                SignupError::UserExists => {
                    f.form_error = Some(
                        "This email address cannot be used to sign up. If you already have an account, log in or reset your password.".to_string(),
                    )
                }
                SignupError::UsernameExists => f.username_error = Some("This username is taken. Choose another one.".to_string()),
                SignupError::Invalid(e) => {
                    let message = explain(&e);
                    match e.field() {
                        Some("email") => f.email_error = Some(message),
                        Some("username") => f.username_error = Some(message),
                        _ => f.form_error = Some(message),
                    }
                }
                refused @ (SignupError::Disabled | SignupError::TooManyAttempts | SignupError::Internal(_)) => {
                    f.form_error = Some(refused.to_string())
                }
            }
            let page = signup_form(state, StatusCode::BAD_REQUEST, &tx, &browser, &client, &connection, f).await;
            Ok(page.into_response())
        }
    }
}

/// What a page says of a refused field: the reason alone, as a sentence (the API's
/// message also names the property, which the page shows by placing it).
fn explain(e: &DomainError) -> String {
    match e {
        DomainError::InvalidField { reason, .. } => {
            let mut c = reason.chars();
            c.next().map(|first| first.to_uppercase().collect::<String>() + c.as_str() + ".").unwrap_or_default()
        }
        other => other.to_string(),
    }
}
