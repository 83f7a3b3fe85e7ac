//! Logout: Auth0's `GET /v2/logout` and OpenID Connect RP-initiated `/oidc/logout`.
//! Both end the single sign-on session; a redirect back is only made to a URL in the
//! client's `allowed_logout_urls` (exact match), otherwise a page is shown.

use crate::auth::authorize::{query_map, redirect, with_query};
use crate::error::PageError;
use crate::extract::read_body;
use crate::pages::{cookies, error_page, message_page};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use gatehouse_core::client::Client;
use gatehouse_services::secrets::hash_secret;
use gatehouse_services::session_end::{self, Initiator};
use gatehouse_services::Services;
use serde::Deserialize;
use std::collections::HashMap;

/// Ends the browser's session, if any, telling its applications.
async fn end_session(state: &Services, headers: &HeaderMap) -> Result<(), PageError> {
    let Some(cookie) = cookies::get(headers, cookies::SESSION) else { return Ok(()) };
    let id_hash = hash_secret(&cookie);
    let now = state.clock.now().unix_timestamp();
    match state.store.login_session(&id_hash, now).await? {
        Some(live) => {
            session_end::end_session(state, &live.sid, Initiator::RpLogout).await?;
        }
        // Expired: nobody is signed in by it any more.
        None => {
            state.store.delete_login_session(&id_hash).await?;
        }
    }
    Ok(())
}

fn allowed(client: &Client, url: &str) -> bool {
    client.allowed_logout_urls.iter().any(|u| u == url)
}

fn with_cleared_cookie(state: &Services, mut r: Response) -> Response {
    if let Ok(v) = HeaderValue::from_str(&cookies::clear(&state.config, cookies::SESSION)) {
        r.headers_mut().append("set-cookie", v);
    }
    r
}

async fn logged_out(state: &Services) -> Response {
    message_page(state, "Logged out", "You have been logged out.").await.into_response()
}

/// Where `/v2/logout` sends the browser: `None` shows the logged-out page.
async fn v2_target(state: &Services, p: &HashMap<String, String>) -> Result<Option<String>, PageError> {
    let Some(return_to) = p.get("returnTo").filter(|r| !r.is_empty()) else { return Ok(None) };
    let client = match p.get("client_id").filter(|c| !c.is_empty()) {
        Some(id) => state.store.client(id).await?,
        None => None,
    };
    match client {
        Some(c) if allowed(&c, return_to) => Ok(Some(return_to.clone())),
        _ => Err(PageError::bad_request(
            "invalid_request",
            format!(
                "The \"returnTo\" querystring parameter \"{return_to}\" is not defined as a valid URL in \"Allowed Logout URLs\"."
            ),
        )),
    }
}

pub async fn v2_logout(State(state): State<Services>, headers: HeaderMap, uri: Uri) -> Response {
    let result = async {
        let p = query_map(uri.query()).map_err(|e| PageError::bad_request("invalid_request", e))?;
        // The session ends even when the return URL is refused.
        end_session(&state, &headers).await?;
        v2_target(&state, &p).await
    }
    .await;
    let r = match result {
        Ok(Some(target)) => redirect(&target),
        Ok(None) => logged_out(&state).await,
        Err(e) => error_page(&state, &e).await.into_response(),
    };
    with_cleared_cookie(&state, r)
}

#[derive(Deserialize)]
struct HintClaims {
    aud: serde_json::Value,
}

/// Where `/oidc/logout` sends the browser: `None` shows the logged-out page.
async fn oidc_target(state: &Services, p: &HashMap<String, String>) -> Result<Option<String>, PageError> {
    let bad = |d: &str| PageError::bad_request("invalid_request", d);
    let get = |k: &str| p.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let hinted = match get("id_token_hint") {
        Some(hint) => {
            let claims: HintClaims =
                state.keys.verify_hint(hint, &state.config.issuer).ok_or_else(|| bad("Invalid id_token_hint."))?;
            let aud = match claims.aud {
                serde_json::Value::String(s) => Some(s),
                serde_json::Value::Array(a) => a.first().and_then(|v| v.as_str()).map(str::to_string),
                _ => None,
            };
            Some(aud.ok_or_else(|| bad("Invalid id_token_hint."))?)
        }
        None => None,
    };
    let client_id = match (hinted, get("client_id")) {
        (Some(a), Some(b)) if a != b => return Err(bad("client_id does not match the id_token_hint audience.")),
        (Some(a), _) => Some(a),
        (None, b) => b.map(str::to_string),
    };
    let Some(target) = get("post_logout_redirect_uri") else { return Ok(None) };
    let client = match client_id {
        Some(id) => state.store.client(&id).await?,
        None => None,
    };
    match client {
        Some(c) if allowed(&c, target) => Ok(Some(match get("state") {
            Some(s) => with_query(target, &[("state", s)]),
            None => target.to_string(),
        })),
        Some(_) => Err(bad("post_logout_redirect_uri is not in the client's Allowed Logout URLs.")),
        None => Err(bad("post_logout_redirect_uri requires id_token_hint or client_id.")),
    }
}

pub async fn oidc_logout(State(state): State<Services>, headers: HeaderMap, uri: Uri) -> Response {
    let p = query_map(uri.query()).map_err(|e| PageError::bad_request("invalid_request", e));
    oidc_logout_with(&state, &headers, p).await
}

/// The same, with the parameters in a form body (the spec allows both).
pub async fn oidc_logout_post(State(state): State<Services>, headers: HeaderMap, body: Body) -> Response {
    let p = match read_body(body, 16 * 1024).await {
        Ok(bytes) => {
            let mut map = HashMap::new();
            let mut dup = None;
            for (k, v) in url::form_urlencoded::parse(&bytes) {
                if map.insert(k.to_string(), v.to_string()).is_some() {
                    dup = Some(k.to_string());
                }
            }
            match dup {
                Some(k) => {
                    Err(PageError::bad_request("invalid_request", format!("Parameter {k} was given more than once.")))
                }
                None => Ok(map),
            }
        }
        Err(_) => Err(PageError::bad_request("invalid_request", "The form is too large.")),
    };
    oidc_logout_with(&state, &headers, p).await
}

async fn oidc_logout_with(
    state: &Services,
    headers: &HeaderMap,
    params: Result<HashMap<String, String>, PageError>,
) -> Response {
    let result = async {
        let p = params?;
        let target = oidc_target(state, &p).await?;
        end_session(state, headers).await?;
        Ok::<_, PageError>(target)
    }
    .await;
    let r = match result {
        Ok(Some(target)) => redirect(&target),
        Ok(None) => logged_out(state).await,
        Err(e) => error_page(state, &e).await.into_response(),
    };
    with_cleared_cookie(state, r)
}
