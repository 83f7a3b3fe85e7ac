//! `GET/POST /u/signup`: the hosted sign-up page, reached with `screen_hint=signup` or
//! from the login page. It belongs to the same login transaction (and CSRF token) as
//! the login page, and a successful sign-up continues the authorization like a login.

use super::login::{complete, expired, query_state, submitted, transaction, Submitted};
use super::{cookies, or_error_page, password_field, render, Page};
use crate::auth::authorize::AuthorizeRequest;
use crate::auth::ClientIp;
use crate::error::PageError;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use gatehouse_core::client::Client;
use gatehouse_core::connection::Connection;
use gatehouse_core::password_policy::PasswordPolicy;
use gatehouse_core::Error as DomainError;
use gatehouse_services::login::connection_for;
use gatehouse_services::passkeys::{self, PasskeyError};
use gatehouse_services::secrets::{csrf_token, hash_secret};
use gatehouse_services::signup::{sign_up, SignupError};
use gatehouse_services::Services;
use serde_json::{Map, Value};

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
    let password = password_field(&PasswordPolicy::of(connection), f.password_error, f.password_checked.as_ref());
    let methods = connection.authentication_methods();
    let passkey = methods.passkey && gatehouse_services::mfa::webauthn::relying_party(state).is_some();
    let context = minijinja::context! {
        password_enabled => methods.password || !passkey,
        passkey,
        state => tx,
        csrf_token => csrf_token(browser, tx),
        client_name => &client.name,
        email => f.email,
        email_error => f.email_error,
        username_required => connection.requires_username(),
        username => f.username,
        username_error => f.username_error,
        password,
        form_error => f.form_error,
    };
    render(state, status, "Sign up", "signup.html", context).await
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
    or_error_page(&state, result).await
}

pub async fn submit(State(state): State<Services>, headers: HeaderMap, uri: Uri, ip: ClientIp, body: Body) -> Response {
    or_error_page(&state, handle_submit(&state, &headers, &uri, ip.0.as_deref(), body).await).await
}

async fn handle_submit(
    state: &Services,
    headers: &HeaderMap,
    uri: &Uri,
    ip: Option<&str>,
    body: Body,
) -> Result<Response, PageError> {
    let submitted = submitted(state, headers, Some(uri), body).await?;
    let mut f =
        FormState { email: submitted.field("email"), username: submitted.field("username"), ..FormState::default() };
    let Submitted { form, tx, browser, req, client } = submitted;
    let connection = signup_connection(state, &client, &req).await?;
    let methods = connection.authentication_methods();
    if form.get("method").is_some_and(|m| m == "passkey") || (methods.passkey && !methods.password) {
        return passkey_step(state, &tx, &browser, &client, &connection, f).await;
    }
    let password = form.get("password").cloned().unwrap_or_default();
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
    let fields = signup_fields(&f, &connection, Some(password));
    match sign_up(state, &connection, &fields, Some(&client.client_id), ip).await {
        Ok(user) => complete(state, headers, &tx, &req, &user.user_id, ip).await,
        Err(SignupError::Internal(e)) => Err(PageError::internal(e)),
        Err(e) => {
            refused(&mut f, e);
            let page = signup_form(state, StatusCode::BAD_REQUEST, &tx, &browser, &client, &connection, f).await;
            Ok(page.into_response())
        }
    }
}

/// The sign-up body of the form's fields: the email, the username where the connection
/// requires one, and the password unless the user signs up with a passkey.
fn signup_fields(f: &FormState, connection: &Connection, password: Option<String>) -> Value {
    let mut fields = Map::new();
    fields.insert("email".into(), Value::String(f.email.clone()));
    if let Some(password) = password {
        fields.insert("password".into(), Value::String(password));
    }
    if connection.requires_username() {
        fields.insert("username".into(), Value::String(f.username.clone()));
    }
    Value::Object(fields)
}

/// The first step of a passkey sign-up: the fields checked, then the page whose script
/// creates the passkey (or the form again, saying what is wrong).
async fn passkey_step(
    state: &Services,
    tx: &str,
    browser: &str,
    client: &Client,
    connection: &Connection,
    mut f: FormState,
) -> Result<Response, PageError> {
    if f.email.is_empty() {
        f.email_error = Some("Enter your email address.".into());
    }
    if connection.requires_username() && f.username.is_empty() {
        f.username_error = Some("Choose a username.".into());
    }
    if f.email_error.is_none() && f.username_error.is_none() {
        let fields = signup_fields(&f, connection, None);
        match passkeys::start_signup(state, connection, &hash_secret(tx), &fields).await {
            Ok(options) => {
                let page = super::passkeys::signup_ceremony(state, tx, browser, client, connection, &options).await;
                return Ok(page.into_response());
            }
            Err(PasskeyError::Signup(SignupError::Internal(e))) => return Err(PageError::internal(e)),
            Err(PasskeyError::Signup(e)) => refused(&mut f, e),
            Err(e) => f.form_error = Some(super::passkeys::refusal(e)?.1),
        }
    }
    Ok(signup_form(state, StatusCode::BAD_REQUEST, tx, browser, client, connection, f).await.into_response())
}

/// The sign-up form again after a passkey sign-up failed at its end, saying why.
pub(super) async fn form_with_error(
    state: &Services,
    status: StatusCode,
    tx: &str,
    browser: &str,
    client: &Client,
    connection: &Connection,
    message: String,
) -> Result<Response, PageError> {
    let f = FormState { form_error: Some(message), ..FormState::default() };
    Ok(signup_form(state, status, tx, browser, client, connection, f).await.into_response())
}

/// Puts a refused sign-up's reason where the form shows it.
fn refused(f: &mut FormState, e: SignupError) {
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
                refused @ (SignupError::Disabled
                | SignupError::TooManyAttempts
                | SignupError::Denied(_)
                | SignupError::Internal(_)) => {
                    f.form_error = Some(refused.to_string())
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
