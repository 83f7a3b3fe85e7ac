//! `GET/POST /u/login`: the hosted login page.
//!
//! `/authorize` stores the request server-side as a login transaction bound to the
//! browser (the `gh_browser` cookie) and sends the browser here with the transaction
//! handle. The form's CSRF token is an HMAC of the handle under the browser secret; a
//! POST without the cookie, or with another token, is refused with 403.

use super::{cookies, or_error_page, render, Page};
use crate::auth::authorize::{issue_code, AuthorizeRequest, CodeOutcome};
use crate::auth::{device, ClientIp};
use crate::error::{login_refusal, PageError};
use crate::extract::read_body;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use gatehouse_core::client::Client;
use gatehouse_services::login::{connection_for, password_login};
use gatehouse_services::secrets::{csrf_token, ct_eq, hash_secret, random_token};
use gatehouse_services::Services;
use gatehouse_store::{LoginSession, LoginTransaction};
use std::collections::HashMap;

const MAX_FORM: usize = 16 * 1024;

pub(crate) fn expired() -> PageError {
    PageError::bad_request(
        "invalid_request",
        "This login page has expired or is not valid. Please go back to the application and try again.",
    )
}

pub(crate) fn csrf_refused() -> PageError {
    PageError::forbidden(
        "invalid_csrf",
        "The form could not be verified (missing or invalid CSRF token). Please try again.",
    )
}

/// A live transaction for this handle, started by this browser.
pub(crate) async fn transaction(
    state: &Services,
    tx: &str,
    browser: &str,
) -> Result<(LoginTransaction, AuthorizeRequest, Client), PageError> {
    let now = state.clock.now().unix_timestamp();
    let t = state.store.login_transaction(&hash_secret(tx), now).await?.ok_or_else(expired)?;
    if !ct_eq(&t.browser_hash, &hash_secret(browser)) {
        return Err(expired());
    }
    let req: AuthorizeRequest = serde_json::from_str(&t.params).map_err(PageError::internal)?;
    let client = state.store.client(&req.client_id).await?.ok_or_else(expired)?;
    Ok((t, req, client))
}

/// What to show in the form besides its fields.
#[derive(Default)]
pub(super) struct FormState {
    pub username: String,
    pub username_error: Option<&'static str>,
    pub password_error: Option<&'static str>,
    pub form_error: Option<String>,
}

pub(super) async fn login_form(
    state: &Services,
    status: StatusCode,
    tx: &str,
    browser: &str,
    req: &AuthorizeRequest,
    client: &Client,
    f: FormState,
) -> Page {
    let title = if req.screen_hint.as_deref() == Some("signup") { "Sign up" } else { "Log in" };
    let social = super::social::buttons(state, client).await;
    // "Email me a code" where the application has a passwordless email connection.
    let email_code = match gatehouse_services::passwordless::email_connection_for(state, client, None).await {
        Ok(c) => c.is_some(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot list connections for the login page");
            false
        }
    };
    let (password, passkey) = super::passkeys::login_offer(state, tx, req, client).await;
    let context = minijinja::context! {
        state => tx,
        csrf_token => csrf_token(browser, tx),
        client_name => &client.name,
        password,
        passkey,
        username => f.username,
        screen_hint => req.screen_hint.clone().unwrap_or_default(),
        username_error => f.username_error,
        password_error => f.password_error,
        form_error => f.form_error,
        social,
        email_code,
    };
    render(state, status, title, "login.html", context).await
}

pub(crate) fn query_state(uri: &Uri) -> Option<String> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.to_string())
}

pub async fn show(State(state): State<Services>, headers: HeaderMap, uri: Uri) -> Response {
    let result = async {
        let tx = query_state(&uri).ok_or_else(expired)?;
        let browser = cookies::get(&headers, cookies::BROWSER).ok_or_else(expired)?;
        let (_, req, client) = transaction(&state, &tx, &browser).await?;
        let f = FormState { username: req.login_hint.clone().unwrap_or_default(), ..FormState::default() };
        Ok::<_, PageError>(login_form(&state, StatusCode::OK, &tx, &browser, &req, &client, f).await)
    }
    .await;
    or_error_page(&state, result).await
}

/// A hosted page's form, its CSRF token checked first (nothing else is looked at for a
/// forged POST), with its live login transaction.
pub(crate) struct Submitted {
    pub form: HashMap<String, String>,
    pub tx: String,
    pub browser: String,
    pub req: AuthorizeRequest,
    pub client: Client,
}

impl Submitted {
    /// A field, trimmed; empty when absent.
    pub fn field(&self, name: &str) -> String {
        self.form.get(name).map(|v| v.trim().to_string()).unwrap_or_default()
    }
}

/// Reads a hosted form: the transaction is its `state` field (or, given `uri`, the query's).
pub(crate) async fn submitted(
    state: &Services,
    headers: &HeaderMap,
    uri: Option<&Uri>,
    body: Body,
) -> Result<Submitted, PageError> {
    let bytes = read_body(body, MAX_FORM)
        .await
        .map_err(|_| PageError::bad_request("invalid_request", "The form is too large."))?;
    let form: HashMap<String, String> = url::form_urlencoded::parse(&bytes).into_owned().collect();
    let tx = form.get("state").cloned().or_else(|| uri.and_then(query_state)).ok_or_else(expired)?;
    let browser = cookies::get(headers, cookies::BROWSER).ok_or_else(csrf_refused)?;
    if !form.get("csrf_token").is_some_and(|t| ct_eq(t, &csrf_token(&browser, &tx))) {
        return Err(csrf_refused());
    }
    let (_, req, client) = transaction(state, &tx, &browser).await?;
    Ok(Submitted { form, tx, browser, req, client })
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
    let username = submitted.field("username");
    let Submitted { form, tx, browser, req, client } = submitted;
    let password = form.get("password").cloned().unwrap_or_default();
    let mut f = FormState { username: username.clone(), ..FormState::default() };
    if username.is_empty() {
        f.username_error = Some("Enter your email address or username.");
    }
    if password.is_empty() {
        f.password_error = Some("Enter your password.");
    }
    if f.username_error.is_some() || f.password_error.is_some() {
        return Ok(login_form(state, StatusCode::BAD_REQUEST, &tx, &browser, &req, &client, f).await.into_response());
    }
    let connection = connection_for(state, &client, req.connection.as_deref())
        .await
        .map_err(|e| PageError::bad_request("invalid_request", e.to_string()))?;
    let user = match password_login(state, &connection, &username, &password, ip).await {
        Ok(u) => u,
        Err(e) => {
            let (status, message) = login_refusal(e)?;
            f.form_error = Some(message);
            return Ok(login_form(state, status, &tx, &browser, &req, &client, f).await.into_response());
        }
    };
    if let Some(offer) =
        super::passkeys::progressive_offer(state, headers, &connection, &tx, &browser, &client, &user).await?
    {
        return Ok(offer);
    }
    complete(state, headers, &tx, &req, &user.user_id, ip).await
}

/// Finishes a transaction for a user who just proved who they are (logged in or signed
/// up): a new session, and a code back to the application.
pub(crate) async fn complete(
    state: &Services,
    headers: &HeaderMap,
    tx: &str,
    req: &AuthorizeRequest,
    user_id: &str,
    ip: Option<&str>,
) -> Result<Response, PageError> {
    spend_transaction(state, tx).await?;
    complete_login(state, headers, req, user_id, SignInMethod::Password, ip).await
}

/// Spends login transaction `tx`: one submission finishes it, and a second (a double
/// submit, a replay) gets the expired page.
pub(crate) async fn spend_transaction(state: &Services, tx: &str) -> Result<(), PageError> {
    if state.store.delete_login_transaction(&hash_secret(tx)).await? {
        Ok(())
    } else {
        Err(expired())
    }
}

/// How the user proved who they are, as a session records it (Auth0's method names).
#[derive(Debug, Clone, Copy)]
pub(crate) enum SignInMethod {
    /// A password: the hosted login or sign-up page.
    Password,
    /// An upstream identity provider (social or OpenID Connect), linking included.
    Federated,
    /// A passwordless code or link sent by email.
    Email,
    /// A passwordless code sent by text message.
    Sms,
}

impl SignInMethod {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Password => "pwd",
            Self::Federated => "federated",
            Self::Email => "email",
            Self::Sms => "sms",
        }
    }

    /// The method a cross-origin login ticket recorded (`pwd`, `email`, `sms`).
    pub(crate) fn from_name(name: &str) -> Self {
        match name {
            "email" => Self::Email,
            "sms" => Self::Sms,
            "federated" => Self::Federated,
            _ => Self::Password,
        }
    }
}

/// After a successful first factor (password, upstream provider, or linking): the
/// second factor when the user needs one (`pages::mfa`), else the end of the login.
pub(crate) async fn complete_login(
    state: &Services,
    headers: &HeaderMap,
    req: &AuthorizeRequest,
    user_id: &str,
    method: SignInMethod,
    ip: Option<&str>,
) -> Result<Response, PageError> {
    super::mfa::after_first_factor(state, headers, req, user_id, method.as_str(), ip).await
}

/// Ends a successful login: replaces the browser's session with a new one and sends the
/// authorization code to the client (a 303 redirect, or the `form_post` page). `amr`
/// names how the user authenticated (`pwd`, `federated`, then `mfa`).
pub(crate) async fn finish_login(
    state: &Services,
    headers: &HeaderMap,
    req: &AuthorizeRequest,
    user_id: &str,
    amr: &[&str],
    ip: Option<&str>,
) -> Result<Response, PageError> {
    if let Some(old) = cookies::get(headers, cookies::SESSION) {
        state.store.delete_login_session(&hash_secret(&old)).await?;
    }
    let now = state.clock.now().unix_timestamp();
    let device = device(headers, ip);
    let session_id = random_token();
    let session = LoginSession {
        id_hash: hash_secret(&session_id),
        sid: random_token(),
        user_id: user_id.to_string(),
        auth_time: now,
        created_at: now,
        expires_at: now + state.config.session_ttl_secs,
        method: Some(amr.join(" ")),
        initial: device.clone(),
        last: device,
        last_interacted_at: Some(now),
    };
    state.store.insert_login_session(&session, &req.client_id).await?;
    let outcome = issue_code(state, req, user_id, now, &session.sid, session.method.as_deref(), ip).await?;
    let mut r = outcome.response().deliver(StatusCode::SEE_OTHER);
    if let CodeOutcome::Refused(_) = outcome {
        // A login the Actions refused leaves no session behind.
        state.store.delete_login_session(&session.id_hash).await?;
        return Ok(r);
    }
    let cookie = cookies::set(&state.config, cookies::SESSION, &session_id, Some(state.config.session_ttl_secs));
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().append("set-cookie", v);
    }
    Ok(r)
}
