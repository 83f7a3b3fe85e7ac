//! `GET/POST /u/reset-password`: without a ticket, the request form (an email address →
//! the same answer whether or not it belongs to a user, and a reset email if it does);
//! with a ticket (the link of a reset email or a Management API ticket), the new
//! password form. The ticket is used only by a successful change.
//!
//! CSRF: the token is an HMAC, under the browser's secret cookie, of the ticket (or of
//! a fixed label for the request form).

use super::login::csrf_refused;
use super::{
    back_to_application, browser_secret, cookies, error_page, message_page_with, or_error_page, password_field, render,
    Page, WayBack,
};
use crate::auth::authorize::{redirect, with_query, AuthorizeRequest};
use crate::auth::ClientIp;
use crate::error::PageError;
use crate::extract::read_body;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use gatehouse_core::connection::{Connection, DEFAULT_DATABASE_CONNECTION};
use gatehouse_core::log_event::codes;
use gatehouse_core::password_policy::PasswordPolicy;
use gatehouse_core::user::User;
use gatehouse_core::validate::Email;
use gatehouse_services::login::connection_for;
use gatehouse_services::secrets::{csrf_token, ct_eq, hash_secret};
use gatehouse_services::signup::{
    check_new_password, request_password_reset, store_new_password, PasswordError, Setter,
};
use gatehouse_services::Services;
use gatehouse_store::{Ticket, TicketKind};
use serde_json::Value;
use std::collections::HashMap;

const MAX_FORM: usize = 16 * 1024;
const REQUEST_FORM: &str = "reset-password-request";

fn link_invalid() -> PageError {
    PageError::bad_request(
        "invalid_ticket",
        "This link has expired or has already been used. Ask for a new one from the login page.",
    )
}

fn query(uri: &Uri) -> HashMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned().collect()
}

fn with_cookie(mut page: Page, cookie: Option<String>) -> Page {
    page.cookies.extend(cookie);
    page
}

pub async fn show(State(state): State<Services>, headers: HeaderMap, uri: Uri) -> Response {
    let q = query(&uri);
    let (browser, cookie) = browser_secret(&state, &headers);
    let result = async {
        match q.get("ticket") {
            Some(ticket) => {
                let (_, user, connection) = live_ticket(&state, ticket).await?;
                Ok(new_password_form(&state, StatusCode::OK, &browser, ticket, &user, &connection, Errors::default())
                    .await)
            }
            None => {
                let connection = q.get("connection").cloned().unwrap_or_default();
                let tx = q.get("state").cloned().unwrap_or_default();
                Ok::<_, PageError>(request_form(&state, StatusCode::OK, &browser, &tx, &connection, "", None).await)
            }
        }
    }
    .await;
    match result {
        Ok(page) => with_cookie(page, cookie).into_response(),
        Err(e) => with_cookie(error_page(&state, &e).await, cookie).into_response(),
    }
}

async fn request_form(
    state: &Services,
    status: StatusCode,
    browser: &str,
    tx: &str,
    connection: &str,
    email: &str,
    email_error: Option<&str>,
) -> Page {
    let back = (!tx.is_empty()).then(|| WayBack { href: login_address(tx), text: "Back to log in".into() });
    let context = minijinja::context! {
        csrf_token => csrf_token(browser, REQUEST_FORM),
        state => tx,
        connection,
        email,
        email_error,
        back,
    };
    render(state, status, "Reset your password", "reset-request.html", context).await
}

/// The login page of transaction `tx`.
fn login_address(tx: &str) -> String {
    let state_param: String = url::form_urlencoded::byte_serialize(tx.as_bytes()).collect();
    format!("/u/login?state={state_param}")
}

#[derive(Default)]
struct Errors {
    password: Option<String>,
    /// The refused password's check, when it was too weak.
    checked: Option<gatehouse_core::password_policy::Strength>,
    confirm: Option<String>,
}

async fn new_password_form(
    state: &Services,
    status: StatusCode,
    browser: &str,
    ticket: &str,
    user: &User,
    connection: &Connection,
    e: Errors,
) -> Page {
    let password = password_field(&PasswordPolicy::of(connection), e.password, e.checked.as_ref());
    let context = minijinja::context! {
        csrf_token => csrf_token(browser, ticket),
        ticket,
        email => user.email.clone().or_else(|| user.username.clone()).unwrap_or_default(),
        password,
        confirm_error => e.confirm,
    };
    render(state, status, "Change your password", "reset-password.html", context).await
}

/// The unused, unexpired password-change ticket, its user and connection.
async fn live_ticket(state: &Services, ticket: &str) -> Result<(Ticket, User, Connection), PageError> {
    let now = state.clock.now().unix_timestamp();
    let t = state
        .store
        .live_ticket(&hash_secret(ticket), now)
        .await?
        .filter(|t| t.kind == TicketKind::PasswordChange)
        .ok_or_else(link_invalid)?;
    let user = state.store.user(&t.user_id).await?.ok_or_else(link_invalid)?;
    let connection = state.store.connection(&user.connection_id).await?.ok_or_else(link_invalid)?;
    Ok((t, user, connection))
}

pub async fn submit(State(state): State<Services>, headers: HeaderMap, ip: ClientIp, body: Body) -> Response {
    or_error_page(&state, handle_submit(&state, &headers, ip.0, body).await).await
}

async fn handle_submit(
    state: &Services,
    headers: &HeaderMap,
    ip: Option<String>,
    body: Body,
) -> Result<Response, PageError> {
    let bytes = read_body(body, MAX_FORM)
        .await
        .map_err(|_| PageError::bad_request("invalid_request", "The form is too large."))?;
    let form: HashMap<String, String> = url::form_urlencoded::parse(&bytes).into_owned().collect();
    let browser = cookies::get(headers, cookies::BROWSER).ok_or_else(csrf_refused)?;
    let presented = form.get("csrf_token").ok_or_else(csrf_refused)?;
    match form.get("ticket") {
        Some(ticket) => {
            if !ct_eq(presented, &csrf_token(&browser, ticket)) {
                return Err(csrf_refused());
            }
            change_password(state, &browser, ticket, &form, ip).await
        }
        None => {
            if !ct_eq(presented, &csrf_token(&browser, REQUEST_FORM)) {
                return Err(csrf_refused());
            }
            request(state, &browser, &form, ip).await
        }
    }
}

/// The connection a request form is for: the login transaction's, the named one, or
/// the default database connection.
async fn request_connection(
    state: &Services,
    form: &HashMap<String, String>,
) -> Result<(Connection, Option<String>), PageError> {
    let unknown = || PageError::bad_request("invalid_request", "Unknown connection.");
    let tx = form.get("state").filter(|s| !s.is_empty());
    if let Some(tx) = tx {
        let now = state.clock.now().unix_timestamp();
        if let Some(t) = state.store.login_transaction(&hash_secret(tx), now).await? {
            let req: AuthorizeRequest = serde_json::from_str(&t.params).map_err(PageError::internal)?;
            if let Some(client) = state.store.client(&req.client_id).await? {
                let c = connection_for(state, &client, req.connection.as_deref()).await.map_err(|_| unknown())?;
                return Ok((c, Some(client.client_id)));
            }
        }
    }
    let name = form.get("connection").filter(|s| !s.is_empty()).map_or(DEFAULT_DATABASE_CONNECTION, String::as_str);
    let c = state.store.connection_by_name(name).await?.filter(|c| c.strategy == "auth0").ok_or_else(unknown)?;
    Ok((c, None))
}

async fn request(
    state: &Services,
    browser: &str,
    form: &HashMap<String, String>,
    ip: Option<String>,
) -> Result<Response, PageError> {
    let raw = form.get("email").map(|s| s.trim().to_string()).unwrap_or_default();
    let tx = form.get("state").cloned().unwrap_or_default();
    let connection_name = form.get("connection").cloned().unwrap_or_default();
    let email = match Email::parse(&raw) {
        Ok(e) => e.into_string(),
        Err(_) => {
            let message = if raw.is_empty() { "Enter your email address." } else { "Enter a valid email address." };
            let page =
                request_form(state, StatusCode::BAD_REQUEST, browser, &tx, &connection_name, &raw, Some(message)).await;
            return Ok(page.into_response());
        }
    };
    let (connection, client_id) = request_connection(state, form).await?;
    request_password_reset(state, connection, email, client_id, ip);
    // The way back: to the login the request came from, if it came from one.
    let back = (!tx.is_empty()).then(|| WayBack { href: login_address(&tx), text: "Back to log in".into() });
    let message = gatehouse_services::signup::CHANGE_PASSWORD_MESSAGE;
    Ok(message_page_with(state, "Check your email", message, back).await.into_response())
}

/// A password that could not be set, as an error page (a rejected one is explained on the
/// form instead).
fn page_error(e: PasswordError) -> PageError {
    match e {
        PasswordError::Legacy(e) => e.into(),
        other => PageError::internal(other),
    }
}

async fn change_password(
    state: &Services,
    browser: &str,
    ticket: &str,
    form: &HashMap<String, String>,
    ip: Option<String>,
) -> Result<Response, PageError> {
    let (t, user, connection) = live_ticket(state, ticket).await?;
    let password = form.get("password").cloned().unwrap_or_default();
    let confirm = form.get("password_confirm").cloned().unwrap_or_default();
    let mut e = Errors::default();
    if password.is_empty() {
        e.password = Some("Choose a new password.".into());
    } else if password != confirm {
        e.confirm = Some("The passwords do not match.".into());
    } else {
        match check_new_password(state, &connection, &password, &user, true, Setter::Reset).await {
            Ok(()) => {}
            Err(PasswordError::Rejected(r)) => {
                let (sentence, checked) = super::refused_password(r);
                e.password = Some(sentence);
                e.checked = checked;
            }
            Err(other) => return Err(page_error(other)),
        }
    }
    if e.password.is_some() || e.confirm.is_some() {
        let page = new_password_form(state, StatusCode::BAD_REQUEST, browser, ticket, &user, &connection, e).await;
        return Ok(page.into_response());
    }
    // Only now is the ticket used: of two concurrent submissions, one wins.
    let now = state.clock.now().unix_timestamp();
    if state.store.consume_ticket(&t.ticket_hash, now).await?.is_none() {
        return Err(link_invalid());
    }
    let verify = t.params.get("mark_email_as_verified").and_then(Value::as_bool).unwrap_or(false);
    let user = store_new_password(state, &user, password, verify).await.map_err(page_error)?;
    let mut event = state.audit.event(codes::SUCCESS_CHANGE_PASSWORD);
    event.user_id = Some(user.user_id.clone());
    event.user_name = user.email.clone();
    event.connection = Some(connection.name.clone());
    event.connection_id = Some(connection.id.clone());
    event.client_id = t.client_id.clone();
    event.ip = ip;
    state.audit.record(event).await;
    let message = "Your password has been changed. You can now log in with the new password.";
    match &t.result_url {
        Some(url) => {
            let mut params = vec![("success", "true"), ("message", message)];
            let email = user.email.clone().unwrap_or_default();
            if t.params.get("includeEmailInRedirect").and_then(Value::as_bool).unwrap_or(false) {
                params.push(("email", &email));
            }
            let mut r = redirect(&with_query(url, &params));
            *r.status_mut() = StatusCode::SEE_OTHER;
            r.headers_mut().insert("referrer-policy", HeaderValue::from_static("no-referrer"));
            Ok(r)
        }
        None => {
            let back = back_to_application(state, t.client_id.as_deref()).await?;
            Ok(message_page_with(state, "Password changed", message, back).await.into_response())
        }
    }
}
