//! "Email me a code" on the hosted login page, where the application has a passwordless
//! email connection: `GET /u/login/email` asks for the address, `POST /u/login/email`
//! sends a code through the connection and shows the code form, `POST
//! /u/login/email/code` checks the code and finishes the login. The rules are
//! `gatehouse_services::passwordless`'s: the same page whether or not the address has an
//! account (nothing is sent where sign-ups are off and it has none), codes single use and
//! under brute-force protection. Plain forms: no JavaScript needed.

use super::login::{complete_login, expired, query_state, submitted, transaction, SignInMethod};
use super::{cookies, or_error_page, render, Page};
use crate::auth::authorize::AuthorizeRequest;
use crate::auth::ClientIp;
use crate::error::{passwordless_refusal, PageError};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use gatehouse_core::client::Client;
use gatehouse_core::connection::Connection;
use gatehouse_services::passwordless::{self, Start};
use gatehouse_services::secrets::csrf_token;
use gatehouse_services::Services;

/// The client's passwordless email connection for this login, or the page saying there
/// is none.
async fn connection(state: &Services, client: &Client, req: &AuthorizeRequest) -> Result<Connection, PageError> {
    passwordless::email_connection_for(state, client, req.connection.as_deref())
        .await?
        .ok_or_else(|| PageError::bad_request("invalid_connection", "This way of signing in is not available."))
}

/// What the pages show besides their fields.
#[derive(Default)]
struct Shown {
    email: String,
    field_error: Option<String>,
    form_error: Option<String>,
}

/// The page asking for the address.
async fn email_page(
    state: &Services,
    status: StatusCode,
    tx: &str,
    browser: &str,
    req: &AuthorizeRequest,
    client: &Client,
    shown: Shown,
) -> Page {
    let context = minijinja::context! {
        state => tx,
        csrf_token => csrf_token(browser, tx),
        client_name => &client.name,
        email => shown.email,
        email_error => shown.field_error,
        form_error => shown.form_error,
        // The password form is the way back unless the application asked for this
        // connection alone.
        password_login => req.connection.is_none(),
    };
    render(state, status, "Log in with an emailed code", "login-email.html", context).await
}

/// The page asking for the code sent to `shown.email`.
async fn code_page(
    state: &Services,
    status: StatusCode,
    tx: &str,
    browser: &str,
    client: &Client,
    shown: Shown,
) -> Page {
    let context = minijinja::context! {
        state => tx,
        csrf_token => csrf_token(browser, tx),
        client_name => &client.name,
        email => shown.email,
        code_error => shown.field_error,
        form_error => shown.form_error,
    };
    render(state, status, "Enter your code", "login-email-code.html", context).await
}

/// `GET /u/login/email?state=…`.
pub async fn show(State(state): State<Services>, headers: HeaderMap, uri: Uri) -> Response {
    let result = async {
        let tx = query_state(&uri).ok_or_else(expired)?;
        let browser = cookies::get(&headers, cookies::BROWSER).ok_or_else(expired)?;
        let (_, req, client) = transaction(&state, &tx, &browser).await?;
        connection(&state, &client, &req).await?;
        let shown = Shown { email: req.login_hint.clone().unwrap_or_default(), ..Shown::default() };
        Ok::<_, PageError>(email_page(&state, StatusCode::OK, &tx, &browser, &req, &client, shown).await)
    }
    .await;
    or_error_page(&state, result).await
}

/// `POST /u/login/email`: sends a code (again, from the code page) and asks for it.
pub async fn send(State(state): State<Services>, headers: HeaderMap, ip: ClientIp, body: Body) -> Response {
    or_error_page(&state, send_code(&state, &headers, ip.0.as_deref(), body).await).await
}

async fn send_code(state: &Services, headers: &HeaderMap, ip: Option<&str>, body: Body) -> Result<Response, PageError> {
    let s = submitted(state, headers, None, body).await?;
    let c = connection(state, &s.client, &s.req).await?;
    let email = s.field("email");
    let ask_again = |status, field_error: Option<String>, form_error: Option<String>| {
        let shown = Shown { email: email.clone(), field_error, form_error };
        email_page(state, status, &s.tx, &s.browser, &s.req, &s.client, shown)
    };
    if email.is_empty() {
        let page = ask_again(StatusCode::BAD_REQUEST, Some("Enter your email address.".into()), None).await;
        return Ok(page.into_response());
    }
    let start =
        Start { connection: &c.name, email: Some(&email), phone_number: None, send: Some("code"), auth_params: None };
    match passwordless::start(state, &s.client, start, ip).await {
        // The same page whether or not the address has an account.
        Ok(started) => {
            let shown = Shown { email: started.identifier, ..Shown::default() };
            Ok(code_page(state, StatusCode::OK, &s.tx, &s.browser, &s.client, shown).await.into_response())
        }
        Err(e @ passwordless::PasswordlessError::Invalid(..)) => {
            let (status, message) = passwordless_refusal(e)?;
            Ok(ask_again(status, Some(message), None).await.into_response())
        }
        Err(e) => {
            let (status, message) = passwordless_refusal(e)?;
            Ok(ask_again(status, None, Some(message)).await.into_response())
        }
    }
}

/// `POST /u/login/email/code`: the code; right, the user is in (signed up on first use
/// where the connection allows it).
pub async fn verify(State(state): State<Services>, headers: HeaderMap, ip: ClientIp, body: Body) -> Response {
    or_error_page(&state, verify_code(&state, &headers, ip.0.as_deref(), body).await).await
}

async fn verify_code(
    state: &Services,
    headers: &HeaderMap,
    ip: Option<&str>,
    body: Body,
) -> Result<Response, PageError> {
    let s = submitted(state, headers, None, body).await?;
    let c = connection(state, &s.client, &s.req).await?;
    let email = s.field("email");
    let code = s.field("code");
    let again = |status, field_error: Option<String>, form_error: Option<String>| {
        let shown = Shown { email: email.clone(), field_error, form_error };
        code_page(state, status, &s.tx, &s.browser, &s.client, shown)
    };
    if code.is_empty() {
        return Ok(again(StatusCode::BAD_REQUEST, Some("Enter the code we emailed you.".into()), None)
            .await
            .into_response());
    }
    let user = match passwordless::verify(state, &c, &email, &code, ip).await {
        Ok(u) => u,
        Err(e @ passwordless::PasswordlessError::WrongCode(_)) => {
            let (status, message) = passwordless_refusal(e)?;
            return Ok(again(status, Some(message), None).await.into_response());
        }
        Err(e) => {
            let (status, message) = passwordless_refusal(e)?;
            return Ok(again(status, None, Some(message)).await.into_response());
        }
    };
    super::login::spend_transaction(state, &s.tx).await?;
    complete_login(state, headers, &s.req, &user.user_id, SignInMethod::Email, ip).await
}
