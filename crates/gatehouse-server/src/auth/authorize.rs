//! `GET /authorize`: the authorization-code flow.
//!
//! Errors before the client and its `redirect_uri` are known good are shown as a page
//! (redirecting would make Gatehouse an open redirector), and so are configuration
//! errors only an administrator can fix (a connection not enabled for the application);
//! the request's own errors go back to the application as
//! `error`/`error_description`/`state`, by the requested `response_mode` once it is known
//! to be one we support (see `auth::response`).

use crate::auth::response::{AuthorizationResponse, ResponseMode};
use crate::auth::{device, ClientIp};
use crate::error::PageError;
use crate::pages::{cookies, error_page};
use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use gatehouse_core::authorization::user_token_scope;
use gatehouse_core::client::Client;
use gatehouse_services::cross_origin;
use gatehouse_services::grants::{api_for_user_token, GrantError};
use gatehouse_services::login::{connection_for, user_may_use, ConnectionError};
use gatehouse_services::secrets::{hash_secret, is_pkce_value, random_token};
use gatehouse_services::Services;
use gatehouse_store::{AuthCode, LoginSession, LoginTransaction, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A validated authorization request; also what a login transaction stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthorizeRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// Granted scopes, space-separated.
    pub scope: String,
    pub audience: Option<String>,
    pub code_challenge: Option<String>,
    /// `login`, `none`, or absent.
    pub prompt: Option<String>,
    pub max_age: Option<i64>,
    pub connection: Option<String>,
    pub login_hint: Option<String>,
    pub screen_hint: Option<String>,
    #[serde(default)]
    pub response_mode: ResponseMode,
    /// The hash of a cross-origin login's `login_ticket` waiting for its verifier (the
    /// `/co/verify` page), when the browser came with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_ticket_hash: Option<String>,
}

/// Why an authorization request failed, and so where the answer goes.
#[derive(Debug)]
pub enum AuthorizeError {
    /// Shown as a page; never redirected.
    Page(PageError),
    /// Sent back to the (verified) redirect URI.
    Redirect(AuthorizationResponse),
}

impl From<StoreError> for AuthorizeError {
    fn from(e: StoreError) -> Self {
        Self::Page(e.into())
    }
}

/// `uri` with `params` added to its query.
pub fn with_query(uri: &str, params: &[(&str, &str)]) -> String {
    match url::Url::parse(uri) {
        Ok(mut u) => {
            {
                let mut q = u.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
            }
            u.to_string()
        }
        Err(_) => uri.to_string(),
    }
}

/// The query string as a map; a parameter given twice is an error (RFC 6749 §3.1).
pub fn query_map(query: Option<&str>) -> Result<HashMap<String, String>, String> {
    let mut map = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if map.insert(k.to_string(), v.to_string()).is_some() {
            return Err(format!("Parameter {k} was given more than once."));
        }
    }
    Ok(map)
}

/// Validates an authorization request against its client. Pure apart from the
/// connection lookup.
pub async fn validate(
    state: &Services,
    p: &HashMap<String, String>,
) -> Result<(Client, AuthorizeRequest), AuthorizeError> {
    let page = |d: &str| AuthorizeError::Page(PageError::bad_request("invalid_request", d));
    let get = |k: &str| p.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let client_id = get("client_id").ok_or_else(|| page("Missing required parameter: client_id"))?;
    let client = state.store.client(client_id).await?.ok_or_else(|| page("Unknown client."))?;
    let redirect_uri = get("redirect_uri").ok_or_else(|| page("Missing required parameter: redirect_uri"))?;
    // Exact string match: no prefixes, wildcards or normalisation.
    if !client.callbacks.iter().any(|c| c == redirect_uri) {
        return Err(page(&format!(
            "Callback URL mismatch. {redirect_uri} is not in the list of allowed callback URLs."
        )));
    }
    let state_param = get("state").map(str::to_string);
    // First, so that every later error travels the way the client asked.
    let response_mode = ResponseMode::parse(get("response_mode")).map_err(|description| {
        AuthorizeError::Redirect(AuthorizationResponse::error(
            redirect_uri,
            ResponseMode::Query,
            "invalid_request",
            &description,
            state_param.as_deref(),
        ))
    })?;
    // A web message goes to the redirect URI's origin, which the client must list among
    // its Allowed Web Origins (Auth0's rule); else there is no one to tell.
    if response_mode == ResponseMode::WebMessage {
        let listed = crate::cors::origin_of(redirect_uri)
            .is_some_and(|origin| crate::cors::web_origin_allowed(&client, &origin));
        if !listed {
            return Err(page(&format!(
                "response_mode=web_message: the origin of {redirect_uri} is not in the list of allowed web origins."
            )));
        }
    }
    let fail = |error: &'static str, description: String| {
        AuthorizeError::Redirect(AuthorizationResponse::error(
            redirect_uri,
            response_mode,
            error,
            &description,
            state_param.as_deref(),
        ))
    };
    match get("response_type") {
        Some("code") => {}
        None => return Err(fail("invalid_request", "Missing required parameter: response_type".into())),
        Some(other) => {
            return Err(fail("unsupported_response_type", format!("Unsupported response type: {other}")));
        }
    }
    if !client.grant_types.iter().any(|g| g == "authorization_code") {
        return Err(fail("unauthorized_client", "Grant type 'authorization_code' not allowed for the client.".into()));
    }
    let code_challenge = match (get("code_challenge"), get("code_challenge_method")) {
        (None, Some(_)) => {
            return Err(fail("invalid_request", "code_challenge_method given without code_challenge".into()));
        }
        (None, None) if !client.is_confidential() => {
            return Err(fail(
                "invalid_request",
                "Parameter 'code_challenge' is required: public clients must use PKCE (S256).".into(),
            ));
        }
        (None, None) => None,
        (Some(c), Some("S256")) if is_pkce_value(c) && c.len() == 43 => Some(c.to_string()),
        (Some(_), Some("S256")) => return Err(fail("invalid_request", "Invalid code_challenge".into())),
        (Some(_), _) => {
            return Err(fail("invalid_request", "Unsupported code_challenge_method: only S256 is allowed.".into()));
        }
    };
    let prompt = match get("prompt") {
        None => None,
        Some(raw) => {
            let values: Vec<&str> = raw.split(' ').filter(|s| !s.is_empty()).collect();
            if values.contains(&"none") && values.len() > 1 {
                return Err(fail("invalid_request", "prompt=none cannot be combined with other values".into()));
            }
            if let Some(bad) = values.iter().find(|v| !["none", "login", "consent", "select_account"].contains(v)) {
                return Err(fail("invalid_request", format!("Unsupported prompt value: {bad}")));
            }
            if values.contains(&"none") {
                Some("none".to_string())
            } else if values.contains(&"login") {
                Some("login".to_string())
            } else {
                None
            }
        }
    };
    let max_age = match get("max_age") {
        None => None,
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => return Err(fail("invalid_request", "max_age must be a non-negative integer".into())),
        },
    };
    let api = match api_for_user_token(state, get("audience")).await {
        Ok(api) => api,
        Err(GrantError::Store(e)) => return Err(e.into()),
        Err(refused) => return Err(fail("access_denied", refused.to_string())),
    };
    let connection = get("connection").map(str::to_string);
    let (upstream, passwordless) = match connection.as_deref() {
        Some(name) => {
            let named = state.store.connection_by_name(name).await?;
            let passwordless = named.as_ref().filter(|c| c.is_passwordless()).cloned();
            (named.filter(|c| c.is_upstream()), passwordless)
        }
        None => (None, None),
    };
    // A connection the application may not use is the administrator's to fix, not the
    // user's: shown here on a page (as Auth0 does) rather than sent to an application
    // that may not even be running yet.
    let not_enabled = |named: Option<&str>| {
        let app = &client.name;
        let description = match named {
            Some(name) => format!(
                "The application \"{app}\" is not enabled on the connection \"{name}\" (or there is no such \
                 connection). An administrator can enable it by adding the application's client_id to the \
                 connection's enabled_clients."
            ),
            None => format!(
                "No connection is enabled for the application \"{app}\", so nobody can log in to it yet. An \
                 administrator can enable it by adding the application's client_id to a connection's \
                 enabled_clients."
            ),
        };
        AuthorizeError::Page(PageError::bad_request("connection_not_enabled", description))
    };
    if let Some(c) = &upstream {
        if !crate::social::flow::enabled_upstream(c, &client.client_id) {
            return Err(not_enabled(Some(c.name.as_str())));
        }
    } else if let Some(c) = &passwordless {
        if !c.enabled_clients.iter().any(|id| id == &client.client_id) {
            return Err(not_enabled(Some(c.name.as_str())));
        }
    } else if let Err(e) = connection_for(state, &client, connection.as_deref()).await {
        return Err(match e {
            ConnectionError::Store(e) => e.into(),
            ConnectionError::Unknown(_) | ConnectionError::NotEnabled => not_enabled(connection.as_deref()),
            ConnectionError::NoneEnabled => not_enabled(None),
        });
    }
    // What may be granted; what the user holds narrows it when the code is exchanged.
    let scope = user_token_scope(get("scope").unwrap_or("openid"), api.as_ref(), None);
    let bounded = |k: &str, max: usize| get(k).map(|v| v.chars().take(max).collect::<String>());
    let req = AuthorizeRequest {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.to_string(),
        state: state_param.clone(),
        nonce: get("nonce").map(str::to_string),
        scope,
        audience: api.map(|a| a.identifier),
        code_challenge,
        prompt,
        max_age,
        connection,
        login_hint: bounded("login_hint", 256),
        screen_hint: bounded("screen_hint", 32),
        response_mode,
        login_ticket_hash: None,
    };
    if req.nonce.as_ref().is_some_and(|n| n.len() > 512) || req.state.as_ref().is_some_and(|s| s.len() > 2048) {
        return Err(fail("invalid_request", "state or nonce is too long".into()));
    }
    Ok((client, req))
}

/// What to do with a valid request, given the browser's session.
#[derive(Debug, PartialEq)]
pub enum Next {
    /// Single sign-on: the session satisfies the request.
    IssueCode,
    /// `prompt=none` and the user would have to log in.
    LoginRequired,
    ShowLogin,
}

pub fn decide(req: &AuthorizeRequest, session: Option<&LoginSession>, now: i64) -> Next {
    let fresh_enough = |s: &LoginSession| req.max_age.is_none_or(|max| now - s.auth_time <= max);
    let usable = session.filter(|s| req.prompt.as_deref() != Some("login") && fresh_enough(s));
    match (usable, req.prompt.as_deref()) {
        (Some(_), _) => Next::IssueCode,
        (None, Some("none")) => Next::LoginRequired,
        (None, _) => Next::ShowLogin,
    }
}

/// What ends a signed-in authorization request.
pub enum CodeOutcome {
    /// A code was stored; the response delivers it.
    Issued(AuthorizationResponse),
    /// The post-login Actions denied the login (or failed): no code; the response sends
    /// `access_denied` with their reason to the client, as Auth0 does.
    Refused(AuthorizationResponse),
}

impl CodeOutcome {
    pub fn response(&self) -> &AuthorizationResponse {
        match self {
            Self::Issued(r) | Self::Refused(r) => r,
        }
    }
}

/// Runs the post-login Actions (Auth0 runs them before redirecting back), then stores a
/// new code for the request with the claims they set.
pub async fn issue_code(
    state: &Services,
    req: &AuthorizeRequest,
    user_id: &str,
    auth_time: i64,
    sid: &str,
    amr: Option<&str>,
    ip: Option<&str>,
) -> Result<CodeOutcome, PageError> {
    let claims = match gatehouse_services::grants::post_login_for_code(
        state,
        &req.client_id,
        user_id,
        &req.scope,
        req.audience.as_deref(),
        ip,
    )
    .await
    {
        Ok(claims) => claims,
        Err(GrantError::Actions(refusal)) => {
            let reason = refusal.to_string();
            let r = AuthorizationResponse::error(
                &req.redirect_uri,
                req.response_mode,
                "access_denied",
                &reason,
                req.state.as_deref(),
            );
            return Ok(CodeOutcome::Refused(r));
        }
        Err(e) => return Err(PageError::internal(e)),
    };
    let action_claims = serde_json::to_value(&claims).map_err(PageError::internal)?;
    let now = state.clock.now().unix_timestamp();
    let code = random_token();
    let row = AuthCode {
        code_hash: hash_secret(&code),
        family_id: random_token(),
        client_id: req.client_id.clone(),
        redirect_uri: req.redirect_uri.clone(),
        code_challenge: req.code_challenge.clone(),
        code_challenge_method: req.code_challenge.as_ref().map(|_| "S256".to_string()),
        nonce: req.nonce.clone(),
        scope: req.scope.clone(),
        audience: req.audience.clone(),
        user_id: user_id.to_string(),
        auth_time,
        sid: Some(sid.to_string()),
        created_at: now,
        expires_at: now + state.config.auth_code_ttl_secs,
        used_at: None,
        amr: amr.map(str::to_string),
        action_claims: Some(action_claims),
    };
    state.store.insert_auth_code(&row).await?;
    Ok(CodeOutcome::Issued(AuthorizationResponse::code(
        &req.redirect_uri,
        req.response_mode,
        code,
        req.state.as_deref(),
    )))
}

/// The browser's live session whose user may still sign in to `client`.
pub async fn current_session(
    state: &Services,
    headers: &HeaderMap,
    client: &Client,
    connection: Option<&str>,
) -> Result<Option<LoginSession>, StoreError> {
    let Some(cookie) = cookies::get(headers, cookies::SESSION) else { return Ok(None) };
    let now = state.clock.now().unix_timestamp();
    let Some(session) = state.store.login_session(&hash_secret(&cookie), now).await? else { return Ok(None) };
    let Some(user) = state.store.user(&session.user_id).await? else { return Ok(None) };
    if user.blocked || !user_may_use(state, client, &user).await? {
        return Ok(None);
    }
    if connection.is_some_and(|c| c != user.connection) {
        return Ok(None);
    }
    Ok(Some(session))
}

pub fn redirect(location: &str) -> Response {
    let mut r = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(LOCATION, v);
    }
    r.headers_mut().insert("cache-control", HeaderValue::from_static("no-store"));
    r
}

async fn handle(state: &Services, headers: &HeaderMap, ip: &ClientIp, uri: &Uri) -> Result<Response, AuthorizeError> {
    let p = query_map(uri.query()).map_err(|e| AuthorizeError::Page(PageError::bad_request("invalid_request", e)))?;
    let (client, req) = validate(state, &p).await?;
    if let Some(ticket) = p.get("login_ticket").filter(|t| !t.is_empty()) {
        return login_with_ticket(state, headers, ip, &client, req, ticket).await;
    }
    let mut session = current_session(state, headers, &client, req.connection.as_deref()).await?;
    let now = state.clock.now().unix_timestamp();
    if let Some(s) = session.as_ref().filter(|s| decide(&req, Some(s), now) == Next::IssueCode) {
        // The session signs in to this client; if it ended since it was read (logout, the
        // Management API), there is none.
        if !state.store.session_used(&s.sid, &req.client_id, &device(headers, ip.0.as_deref()), now).await? {
            session = None;
        }
    }
    match decide(&req, session.as_ref(), now) {
        Next::IssueCode => {
            let Some(s) = session else { return Err(PageError::internal("session vanished").into()) };
            Ok(issue_code(state, &req, &s.user_id, s.auth_time, &s.sid, s.method.as_deref(), ip.0.as_deref())
                .await?
                .response()
                .deliver(StatusCode::FOUND))
        }
        Next::LoginRequired => Err(AuthorizeError::Redirect(AuthorizationResponse::error(
            &req.redirect_uri,
            req.response_mode,
            "login_required",
            "Login required",
            req.state.as_deref(),
        ))),
        Next::ShowLogin => {
            let (browser, set_browser) = browser_of(state, headers);
            // `connection=<social or OIDC connection>`: straight to the provider.
            let upstream = match req.connection.as_deref() {
                Some(name) => state.store.connection_by_name(name).await?.filter(|c| c.is_upstream()),
                None => None,
            };
            if let Some(c) = upstream {
                return Ok(match crate::social::flow::start(state, &browser, &c, &req).await {
                    Ok(location) => set_browser(redirect(&location)),
                    Err(e) => crate::social::flow::fail(state, e, Some(&c), None).await,
                });
            }
            // `connection=<passwordless email connection>`: its "Email me a code" page.
            let email_code = match req.connection.as_deref() {
                Some(name) => {
                    gatehouse_services::passwordless::email_connection_for(state, &client, Some(name)).await?.is_some()
                }
                None => false,
            };
            let tx = start_transaction(state, &browser, &req).await?;
            // `screen_hint=signup` opens the sign-up page of the same transaction.
            let page = if email_code {
                "login/email"
            } else if req.screen_hint.as_deref() == Some("signup") {
                "signup"
            } else {
                "login"
            };
            Ok(set_browser(redirect(&format!("/u/{page}?state={tx}"))))
        }
    }
}

/// The browser's secret, and a function that adds its `Set-Cookie` to a response when
/// it is new.
fn browser_of(state: &Services, headers: &HeaderMap) -> (String, impl Fn(Response) -> Response) {
    let (browser, fresh) = match cookies::get(headers, cookies::BROWSER) {
        Some(b) => (b, false),
        None => (random_token(), true),
    };
    let cookie = fresh.then(|| cookies::set(&state.config, cookies::BROWSER, &browser, None));
    let set_browser = move |mut r: Response| {
        if let Some(v) = cookie.as_deref().and_then(|c| HeaderValue::from_str(c).ok()) {
            r.headers_mut().append("set-cookie", v);
        }
        r
    };
    (browser, set_browser)
}

/// Stores `req` as a login transaction of `browser`; its handle.
async fn start_transaction(state: &Services, browser: &str, req: &AuthorizeRequest) -> Result<String, AuthorizeError> {
    let now = state.clock.now().unix_timestamp();
    let tx = random_token();
    let params = serde_json::to_string(req).map_err(PageError::internal)?;
    state
        .store
        .insert_login_transaction(&LoginTransaction {
            id_hash: hash_secret(&tx),
            browser_hash: hash_secret(browser),
            params,
            created_at: now,
            expires_at: now + state.config.login_transaction_ttl_secs,
        })
        .await?;
    Ok(tx)
}

/// `/authorize?login_ticket=…`: a cross-origin login finishing. With the verifier cookie
/// `/co/authenticate` set, the ticket becomes a session and a code at once. A browser
/// that withheld the cookie goes to `/co/verify`, which asks the application's
/// `cross_origin_loc` page for the verifier; without such a page, to the hosted login.
async fn login_with_ticket(
    state: &Services,
    headers: &HeaderMap,
    ip: &ClientIp,
    client: &Client,
    mut req: AuthorizeRequest,
    login_ticket: &str,
) -> Result<Response, AuthorizeError> {
    let ticket_hash = cross_origin::ticket_hash(login_ticket);
    let Some(pending) = cross_origin::pending(state, &client.client_id, &ticket_hash).await? else {
        return Err(AuthorizeError::Redirect(AuthorizationResponse::error(
            &req.redirect_uri,
            req.response_mode,
            "access_denied",
            "Invalid or expired login ticket.",
            req.state.as_deref(),
        )));
    };
    if let Some(verifier) = cookies::get(headers, cookies::CO_VERIFIER) {
        if let Some(redeemed) = cross_origin::redeem(state, &pending, &verifier).await? {
            let mut r = finish_ticket(state, headers, ip.0.as_deref(), client, &req, redeemed).await?;
            let clear =
                cookies::clear_cross_site(&state.config, crate::auth::embedded::CO_COOKIE_PATH, cookies::CO_VERIFIER);
            if let Ok(v) = HeaderValue::from_str(&clear) {
                r.headers_mut().append("set-cookie", v);
            }
            return Ok(r);
        }
    }
    let (browser, set_browser) = browser_of(state, headers);
    let page = if client.cross_origin_loc.is_some() {
        req.login_ticket_hash = Some(ticket_hash);
        "/co/verify"
    } else {
        "/u/login"
    };
    let tx = start_transaction(state, &browser, &req).await?;
    Ok(set_browser(redirect(&format!("{page}?state={tx}"))))
}

/// Signs in the user of a redeemed login ticket, unless blocked (or no longer allowed on
/// the client) since the ticket was issued.
pub(crate) async fn finish_ticket(
    state: &Services,
    headers: &HeaderMap,
    ip: Option<&str>,
    client: &Client,
    req: &AuthorizeRequest,
    redeemed: cross_origin::Redeemed,
) -> Result<Response, AuthorizeError> {
    let user = state.store.user(&redeemed.user_id).await?;
    let usable = match &user {
        Some(u) => !u.blocked && user_may_use(state, client, u).await?,
        None => false,
    };
    if !usable {
        return Err(AuthorizeError::Redirect(AuthorizationResponse::error(
            &req.redirect_uri,
            req.response_mode,
            "unauthorized",
            "user is blocked",
            req.state.as_deref(),
        )));
    }
    let method = crate::pages::login::SignInMethod::from_name(&redeemed.method);
    Ok(crate::pages::login::complete_login(state, headers, req, &redeemed.user_id, method, ip).await?)
}

impl From<PageError> for AuthorizeError {
    fn from(e: PageError) -> Self {
        Self::Page(e)
    }
}

pub async fn authorize(State(state): State<Services>, headers: HeaderMap, ip: ClientIp, uri: Uri) -> Response {
    match handle(&state, &headers, &ip, &uri).await {
        Ok(r) => r,
        Err(AuthorizeError::Page(e)) => error_page(&state, &e).await.into_response(),
        Err(AuthorizeError::Redirect(response)) => response.deliver(StatusCode::FOUND),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(prompt: Option<&str>, max_age: Option<i64>) -> AuthorizeRequest {
        AuthorizeRequest {
            client_id: "c".into(),
            redirect_uri: "https://app/cb".into(),
            state: None,
            nonce: None,
            scope: "openid".into(),
            audience: None,
            code_challenge: None,
            prompt: prompt.map(str::to_string),
            max_age,
            connection: None,
            login_hint: None,
            screen_hint: None,
            response_mode: ResponseMode::Query,
            login_ticket_hash: None,
        }
    }

    #[test]
    fn decisions() {
        let s = LoginSession {
            id_hash: "h".into(),
            sid: "s".into(),
            user_id: "u".into(),
            auth_time: 1000,
            created_at: 1000,
            expires_at: 9999,
            method: Some("pwd".into()),
            initial: Default::default(),
            last: Default::default(),
            last_interacted_at: None,
        };
        assert_eq!(decide(&req(None, None), Some(&s), 2000), Next::IssueCode);
        assert_eq!(decide(&req(Some("login"), None), Some(&s), 2000), Next::ShowLogin);
        assert_eq!(decide(&req(None, Some(500)), Some(&s), 2000), Next::ShowLogin);
        assert_eq!(decide(&req(None, Some(1000)), Some(&s), 2000), Next::IssueCode);
        assert_eq!(decide(&req(Some("none"), Some(500)), Some(&s), 2000), Next::LoginRequired);
        assert_eq!(decide(&req(Some("none"), None), None, 2000), Next::LoginRequired);
        assert_eq!(decide(&req(None, None), None, 2000), Next::ShowLogin);
    }

    #[test]
    fn query_is_appended() {
        assert_eq!(with_query("https://a/cb?x=1", &[("code", "a b")]), "https://a/cb?x=1&code=a+b");
    }
}
