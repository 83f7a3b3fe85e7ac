//! The upstream sign-in over HTTP: the redirect to the provider, `GET|POST
//! /login/callback`, and the answer to what `gatehouse_services::social::signin` decided
//! (a signed-in user back to the application, or the link page).

use crate::auth::authorize::{redirect, with_query, AuthorizeRequest};
use crate::auth::ClientIp;
use crate::error::PageError;
use crate::extract::read_body;
use crate::pages::login::{complete_login, SignInMethod};
use crate::pages::{cookies, error_page};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use gatehouse_core::connection::Connection;
use gatehouse_core::log_event::codes;
use gatehouse_core::social::{Protocol, Upstream};
use gatehouse_services::secrets::{ct_eq, hash_secret, pkce_s256, random_token};
use gatehouse_services::social::fetch::sanitize_code;
use gatehouse_services::social::signin::{self, Outcome};
use gatehouse_services::social::{derive, SocialError};
use gatehouse_services::Services;
use gatehouse_store::UpstreamTransaction;
use std::collections::HashMap;

const MAX_CALLBACK_FORM: usize = 64 * 1024;

/// Whether `connection` is a social or OIDC connection the client may sign in with.
pub fn enabled_upstream(connection: &Connection, client_id: &str) -> bool {
    connection.is_upstream() && connection.enabled_clients.iter().any(|c| c == client_id)
}

/// Starts a sign-in at `connection` for the waiting authorization request `req`:
/// stores the transaction (bound to `browser`) and returns the provider URL, with
/// `state`, `nonce` and a PKCE S256 challenge.
pub async fn start(
    state: &Services,
    browser: &str,
    connection: &Connection,
    req: &AuthorizeRequest,
) -> Result<String, SocialError> {
    let u = Upstream::from_connection(connection).map_err(|e| SocialError::Connection(e.to_string()))?;
    let endpoints = state.upstreams.endpoints(&u).await?;
    let now = state.clock.now().unix_timestamp();
    let st = random_token();
    state
        .store
        .insert_upstream_transaction(&UpstreamTransaction {
            id_hash: hash_secret(&st),
            browser_hash: hash_secret(browser),
            connection_id: connection.id.clone(),
            params: serde_json::to_string(req).map_err(|e| SocialError::Internal(e.to_string()))?,
            profile: None,
            link_user_id: None,
            created_at: now,
            expires_at: now + state.config.login_transaction_ttl_secs,
        })
        .await?;
    let challenge = pkce_s256(&derive(&st, "pkce"));
    let nonce = derive(&st, "nonce");
    let redirect_uri = state.config.social_callback_url();
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", u.client_id.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("scope", u.scope.as_str()),
        ("state", st.as_str()),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    if u.protocol == Protocol::Oidc {
        params.push(("nonce", nonce.as_str()));
    }
    if u.strategy == "apple" {
        // Apple posts the answer when name or email is requested.
        params.push(("response_mode", "form_post"));
    }
    Ok(with_query(&endpoints.authorization, &params))
}

/// `GET|POST /login/callback`: the provider's answer.
pub async fn callback(
    State(state): State<Services>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    ip: ClientIp,
    body: Body,
) -> Response {
    let mut params: HashMap<String, String> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned().collect();
    if method == Method::POST {
        match read_body(body, MAX_CALLBACK_FORM).await {
            Ok(bytes) => params.extend(url::form_urlencoded::parse(&bytes).into_owned()),
            Err(_) => {
                return fail(&state, SocialError::InvalidState("oversized callback"), None, ip.0.as_deref()).await
            }
        }
        // A provider's form post is cross-site, so SameSite=Lax cookies stay behind; a
        // redirect to the same callback as a top-level GET brings them.
        if cookies::get(&headers, cookies::BROWSER).is_none() {
            let mut r = redirect(&with_query(&state.config.social_callback_url(), &sorted(&params)));
            *r.status_mut() = StatusCode::SEE_OTHER;
            return r;
        }
    }
    let mut connection = None;
    match handle_callback(&state, &headers, &params, ip.0.as_deref(), &mut connection).await {
        Ok(r) => r,
        Err(e) => fail(&state, e, connection.as_ref(), ip.0.as_deref()).await,
    }
}

fn sorted(params: &HashMap<String, String>) -> Vec<(&str, &str)> {
    let mut v: Vec<(&str, &str)> = params
        .iter()
        .filter(|(k, _)| ["state", "code", "error", "error_description"].contains(&k.as_str()))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    v.sort();
    v
}

/// Ends a failed sign-in: an audit event (`f`, or `fs` when no account could be made)
/// and the hosted error page.
pub async fn fail(state: &Services, e: SocialError, connection: Option<&Connection>, ip: Option<&str>) -> Response {
    let kind = if matches!(e, SocialError::EmailInUse) { codes::FAILED_SIGNUP } else { codes::FAILED_LOGIN };
    let mut event = state.audit.event(kind);
    event.connection = connection.map(|c| c.name.clone());
    event.connection_id = connection.map(|c| c.id.clone());
    event.ip = ip.map(str::to_string);
    event.description = Some(e.to_string());
    state.audit.record(event).await;
    let page = PageError::from(e);
    error_page(state, &page).await.into_response()
}

async fn handle_callback(
    state: &Services,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
    ip: Option<&str>,
    connection_out: &mut Option<Connection>,
) -> Result<Response, SocialError> {
    let st = params.get("state").filter(|s| !s.is_empty()).ok_or(SocialError::InvalidState("no state"))?;
    let browser = cookies::get(headers, cookies::BROWSER).ok_or(SocialError::InvalidState("no browser cookie"))?;
    let now = state.clock.now().unix_timestamp();
    let id_hash = hash_secret(st);
    let t = state
        .store
        .upstream_transaction(&id_hash, now)
        .await?
        .filter(|t| t.profile.is_none())
        .ok_or(SocialError::InvalidState("unknown, used or expired state"))?;
    if !ct_eq(&t.browser_hash, &hash_secret(&browser)) {
        return Err(SocialError::InvalidState("the sign-in was started in another browser"));
    }
    // Single use: of two concurrent callbacks with this state, one continues.
    let t = state
        .store
        .take_upstream_transaction(&id_hash, now)
        .await?
        .ok_or(SocialError::InvalidState("unknown, used or expired state"))?;
    let connection = state
        .store
        .connection(&t.connection_id)
        .await?
        .ok_or_else(|| SocialError::Connection("the connection was deleted".into()))?;
    *connection_out = Some(connection.clone());
    let req: AuthorizeRequest = serde_json::from_str(&t.params).map_err(|e| SocialError::Internal(e.to_string()))?;
    if let Some(error) = params.get("error") {
        return Err(if error == "access_denied" {
            SocialError::AccessDenied
        } else {
            SocialError::Upstream(sanitize_code(error))
        });
    }
    let code = params.get("code").filter(|c| !c.is_empty()).ok_or_else(|| SocialError::Upstream("no code".into()))?;
    let profile = signin::upstream_profile(state, &connection, st, code).await?;
    let params = serde_json::to_string(&req).map_err(|e| SocialError::Internal(e.to_string()))?;
    match signin::resolve(state, &connection, &params, profile, ip, &browser).await? {
        Outcome::SignedIn(user) => {
            Ok(complete_login(state, headers, &req, &user.user_id, SignInMethod::Federated, ip).await?)
        }
        Outcome::ProveAccount { handle } => {
            let mut r = redirect(&format!("/u/link?state={handle}"));
            *r.status_mut() = StatusCode::SEE_OTHER;
            Ok(r)
        }
    }
}
