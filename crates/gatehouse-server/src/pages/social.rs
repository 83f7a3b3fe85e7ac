//! The hosted pages' part of social sign-in: the "Continue with …" buttons (any page
//! with a login transaction can include `social_buttons.html`), their
//! `POST /u/login/social`, and `/u/link`, where a user whose provider vouched for the
//! email of an existing account proves that account with its password before the two
//! are linked (or chooses a separate account).

use super::login::{csrf_refused, expired, transaction};
use super::{cookies, or_error_page, render};
use crate::auth::ClientIp;
use crate::error::{login_refusal, PageError};
use crate::extract::read_body;
use crate::pages::login::{complete_login, SignInMethod};
use crate::social::flow::{self, enabled_upstream};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use gatehouse_core::client::Client;
use gatehouse_core::social::button_label;
use gatehouse_services::login::{password_login, LoginError};
use gatehouse_services::secrets::{csrf_token, ct_eq, hash_secret};
use gatehouse_services::social::signin::{self, identity_for, profile_from_json};
use gatehouse_services::social::SocialError;
use gatehouse_services::Services;
use gatehouse_store::{StoreError, UpstreamTransaction};
use std::collections::HashMap;

const MAX_FORM: usize = 16 * 1024;

/// A "Continue with …" button on the login page.
#[derive(Debug, serde::Serialize)]
pub struct SocialButton {
    connection: String,
    strategy: String,
    label: String,
}

/// The buttons of the social and OIDC connections enabled for `client`; none when the
/// connections cannot be read (the password form still works).
pub async fn buttons(state: &Services, client: &Client) -> Vec<SocialButton> {
    let connections = match state.store.connections(None, None, None, 0, 100).await {
        Ok((list, _)) => list,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list connections for the login buttons");
            return Vec::new();
        }
    };
    connections
        .iter()
        .filter(|c| enabled_upstream(c, &client.client_id))
        .map(|c| SocialButton { connection: c.name.clone(), strategy: c.strategy.clone(), label: button_label(c) })
        .collect()
}

fn form_of(bytes: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(bytes).into_owned().collect()
}

/// `POST /u/login/social`: a button on the login page was pressed.
pub async fn start(State(state): State<Services>, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        let bytes = read_body(body, MAX_FORM)
            .await
            .map_err(|_| PageError::bad_request("invalid_request", "The form is too large."))?;
        let form = form_of(&bytes);
        let tx = form.get("state").ok_or_else(expired)?;
        let browser = cookies::get(&headers, cookies::BROWSER).ok_or_else(csrf_refused)?;
        let presented = form.get("csrf_token").ok_or_else(csrf_refused)?;
        if !ct_eq(presented, &csrf_token(&browser, tx)) {
            return Err(csrf_refused());
        }
        let (_, req, client) = transaction(&state, tx, &browser).await?;
        let name = form.get("connection").map(String::as_str).unwrap_or("");
        let connection = state.store.connection_by_name(name).await?.filter(|c| enabled_upstream(c, &client.client_id));
        let Some(connection) = connection else {
            return Err(PageError::bad_request("invalid_connection", "This way of signing in is not available."));
        };
        match flow::start(&state, &browser, &connection, &req).await {
            Ok(location) => {
                let mut r = crate::auth::authorize::redirect(&location);
                *r.status_mut() = StatusCode::SEE_OTHER;
                Ok::<_, PageError>(r)
            }
            Err(e) => Ok(flow::fail(&state, e, Some(&connection), None).await),
        }
    }
    .await;
    or_error_page(&state, result).await
}

fn query_state(uri: &Uri) -> Option<String> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.to_string())
}

/// A pending link started by this browser.
async fn pending(state: &Services, handle: &str, browser: &str) -> Result<UpstreamTransaction, PageError> {
    let now = state.clock.now().unix_timestamp();
    let t = state.store.upstream_transaction(&hash_secret(handle), now).await?.ok_or_else(expired)?;
    if t.profile.is_none() || t.link_user_id.is_none() || !ct_eq(&t.browser_hash, &hash_secret(browser)) {
        return Err(expired());
    }
    Ok(t)
}

async fn link_page(
    state: &Services,
    status: StatusCode,
    handle: &str,
    browser: &str,
    t: &UpstreamTransaction,
    error: Option<&str>,
) -> Result<Response, PageError> {
    let target = state.store.user(t.link_user_id.as_deref().unwrap_or("")).await?.ok_or_else(expired)?;
    let connection = state.store.connection(&t.connection_id).await?.ok_or_else(expired)?;
    let context = minijinja::context! {
        state => handle,
        csrf_token => csrf_token(browser, handle),
        email => target.email.clone().unwrap_or_default(),
        provider => button_label(&connection),
        password_error => error,
    };
    let page = render(state, status, "Link your accounts", "link.html", context).await;
    Ok(page.into_response())
}

/// `GET /u/link`.
pub async fn show_link(State(state): State<Services>, headers: HeaderMap, uri: Uri) -> Response {
    let result = async {
        let handle = query_state(&uri).ok_or_else(expired)?;
        let browser = cookies::get(&headers, cookies::BROWSER).ok_or_else(expired)?;
        let t = pending(&state, &handle, &browser).await?;
        link_page(&state, StatusCode::OK, &handle, &browser, &t, None).await
    }
    .await;
    or_error_page(&state, result).await
}

/// `POST /u/link`: the password of the existing account (then link and continue), or
/// `action=separate` (a new account of the provider's connection instead).
pub async fn submit_link(
    State(state): State<Services>,
    headers: HeaderMap,
    uri: Uri,
    ip: ClientIp,
    body: Body,
) -> Response {
    or_error_page(&state, handle_link(&state, &headers, &uri, ip.0.as_deref(), body).await).await
}

async fn handle_link(
    state: &Services,
    headers: &HeaderMap,
    uri: &Uri,
    ip: Option<&str>,
    body: Body,
) -> Result<Response, PageError> {
    let bytes = read_body(body, MAX_FORM)
        .await
        .map_err(|_| PageError::bad_request("invalid_request", "The form is too large."))?;
    let form = form_of(&bytes);
    let handle = form.get("state").cloned().or_else(|| query_state(uri)).ok_or_else(expired)?;
    let browser = cookies::get(headers, cookies::BROWSER).ok_or_else(csrf_refused)?;
    let presented = form.get("csrf_token").ok_or_else(csrf_refused)?;
    if !ct_eq(presented, &csrf_token(&browser, &handle)) {
        return Err(csrf_refused());
    }
    let t = pending(state, &handle, &browser).await?;
    let profile = t.profile.as_deref().and_then(profile_from_json).ok_or_else(expired)?;
    let connection = state.store.connection(&t.connection_id).await?.ok_or_else(expired)?;
    let req: crate::auth::authorize::AuthorizeRequest = serde_json::from_str(&t.params).map_err(PageError::internal)?;
    let now = state.clock.now().unix_timestamp();
    let id_hash = hash_secret(&handle);
    if form.get("action").map(String::as_str) == Some("separate") {
        state.store.take_upstream_transaction(&id_hash, now).await?.ok_or_else(expired)?;
        return match signin::new_user(state, &connection, &profile, ip).await {
            Ok(user) => complete_login(state, headers, &req, &user.user_id, SignInMethod::Federated, ip).await,
            Err(e) => Ok(flow::fail(state, e, Some(&connection), ip).await),
        };
    }
    let password = form.get("password").cloned().unwrap_or_default();
    if password.is_empty() {
        return link_page(state, StatusCode::BAD_REQUEST, &handle, &browser, &t, Some("Enter your password.")).await;
    }
    let target_id = t.link_user_id.clone().unwrap_or_default();
    let target = state.store.user(&target_id).await?.ok_or_else(expired)?;
    let target_connection = state.store.connection(&target.connection_id).await?.ok_or_else(expired)?;
    let login = target.email.clone().or_else(|| target.username.clone()).unwrap_or_default();
    let user = match password_login(state, &target_connection, &login, &password, ip).await {
        Ok(u) if u.user_id == target.user_id => u,
        Ok(_) | Err(LoginError::WrongCredentials) => {
            return link_page(state, StatusCode::BAD_REQUEST, &handle, &browser, &t, Some("Wrong password.")).await;
        }
        Err(LoginError::Blocked) => return Ok(flow::fail(state, SocialError::Blocked, Some(&connection), ip).await),
        Err(e) => {
            let (status, message) = login_refusal(e)?;
            return link_page(state, status, &handle, &browser, &t, Some(&message)).await;
        }
    };
    state.store.take_upstream_transaction(&id_hash, now).await?.ok_or_else(expired)?;
    let identity = identity_for(&connection, &profile, &state.now());
    match state.store.link_identity(&user.user_id, &identity, None).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Ok(flow::fail(
                state,
                SocialError::Connection("this provider account is already in use".into()),
                Some(&connection),
                ip,
            )
            .await)
        }
        Err(e) => return Err(e.into()),
    }
    let mut e = state.audit.event(gatehouse_core::log_event::codes::SUCCESS_LOGIN);
    e.connection = Some(connection.name.clone());
    e.connection_id = Some(connection.id.clone());
    e.user_id = Some(user.user_id.clone());
    e.ip = ip.map(str::to_string);
    e.description = Some(format!("linked {}", identity.full_user_id()));
    state.audit.record(e).await;
    complete_login(state, headers, &req, &user.user_id, SignInMethod::Federated, ip).await
}
