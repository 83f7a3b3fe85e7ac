//! Signing in to the console through Gatehouse's own hosted login, as an OpenID Connect
//! client would: authorization code with PKCE, `state` and `nonce`, always asking for
//! the password (`prompt=login`), the code redeemed in-process by the same grant the
//! token endpoint runs. Then the console's own session starts.

use super::{cookie, derive, message, view, ConsoleError, SESSION_COOKIE, SIGN_IN_COOKIE};
use crate::auth::{device, ClientIp};
use crate::pages::cookies;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_services::console::{self, CALLBACK_PATH, CONSOLE_CLIENT_ID};
use gatehouse_services::grants::{authorization_code, CodeExchange};
use gatehouse_services::secrets::{ct_eq, pkce_s256, random_token};
use gatehouse_services::Services;
use serde::Deserialize;

/// How long a sign-in may take, from the console to the hosted login and back.
const SIGN_IN_TTL_SECS: i64 = 600;

fn callback_url(state: &Services) -> String {
    format!("{}{CALLBACK_PATH}", state.config.issuer)
}

/// `GET /admin/login`: off to the hosted login (or home, when already signed in).
pub async fn start(State(state): State<Services>, headers: HeaderMap) -> Result<Response, ConsoleError> {
    if let Some(secret) = cookies::get(&headers, SESSION_COOKIE) {
        if console::session(&state, &secret).await?.is_some() {
            return Ok(view::see_other("/admin", Vec::new()));
        }
    }
    let secret = random_token();
    let mut url = url::Url::parse(&format!("{}authorize", state.config.issuer))
        .map_err(|e| ConsoleError::Internal(format!("issuer: {e}")))?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", CONSOLE_CLIENT_ID)
        .append_pair("redirect_uri", &callback_url(&state))
        .append_pair("scope", "openid profile email")
        .append_pair("state", &derive(&secret, "state"))
        .append_pair("nonce", &derive(&secret, "nonce"))
        .append_pair("code_challenge", &pkce_s256(&derive(&secret, "verifier")))
        .append_pair("code_challenge_method", "S256")
        .append_pair("prompt", "login");
    Ok(view::see_other(url.as_str(), vec![cookie(&state.config, SIGN_IN_COOKIE, &secret, SIGN_IN_TTL_SECS)]))
}

#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

#[derive(Deserialize)]
struct IdClaims {
    sub: String,
    nonce: Option<String>,
}

fn start_again(status: StatusCode, title: &str, text: &str) -> Response {
    message(status, title, text, Some(("/admin/login", "Sign in again")))
}

/// `GET /admin/callback`: the hosted login's answer. A console session starts only for
/// a user who signed in with this browser's own sign-in and holds a console role.
pub async fn callback(
    State(state): State<Services>,
    headers: HeaderMap,
    ip: ClientIp,
    Query(q): Query<Callback>,
) -> Result<Response, ConsoleError> {
    let Some(secret) = cookies::get(&headers, SIGN_IN_COOKIE) else {
        return Ok(start_again(
            StatusCode::BAD_REQUEST,
            "Sign-in expired",
            "This sign-in was not started in this browser, or took longer than ten minutes.",
        ));
    };
    let clear = cookie(&state.config, SIGN_IN_COOKIE, "", 0);
    let state_matches = q.state.as_deref().is_some_and(|s| ct_eq(s, &derive(&secret, "state")));
    if !state_matches {
        return Ok(with_cookie(
            start_again(StatusCode::BAD_REQUEST, "Sign-in expired", "This answer belongs to another sign-in."),
            clear,
        ));
    }
    if let Some(error) = q.error {
        let why = q.error_description.unwrap_or(error);
        return Ok(with_cookie(start_again(StatusCode::FORBIDDEN, "Sign-in refused", &why), clear));
    }
    let client = state
        .store
        .client(CONSOLE_CLIENT_ID)
        .await?
        .ok_or_else(|| ConsoleError::Internal("the console client is missing".into()))?;
    let redirect_uri = callback_url(&state);
    let verifier = derive(&secret, "verifier");
    let exchange =
        CodeExchange { code: q.code.as_deref(), redirect_uri: Some(&redirect_uri), code_verifier: Some(&verifier) };
    let tokens = match authorization_code(&state, &client, exchange).await {
        Ok(t) => t,
        Err(e) => {
            tracing::info!(error = %e, "console sign-in: code refused");
            return Ok(with_cookie(
                start_again(StatusCode::BAD_REQUEST, "Sign-in expired", "This sign-in can no longer complete."),
                clear,
            ));
        }
    };
    let claims: Option<IdClaims> = tokens
        .get("id_token")
        .and_then(|t| t.as_str())
        .and_then(|t| state.keys.verify(t, &state.config.issuer, CONSOLE_CLIENT_ID));
    let Some(claims) = claims.filter(|c| c.nonce.as_deref().is_some_and(|n| ct_eq(n, &derive(&secret, "nonce"))))
    else {
        return Err(ConsoleError::Internal("console sign-in: the ID token did not verify".into()));
    };
    let user = state.store.user(&claims.sub).await?;
    let access = match &user {
        Some(u) => console::access_of(&state, u).await?,
        None => None,
    };
    if access.is_none() {
        return Ok(with_cookie(
            message(
                StatusCode::FORBIDDEN,
                "No console access",
                "You are signed in, but your account holds no console role. An administrator can \
                 give you the “Console viewer” or “Console administrator” role.",
                None,
            ),
            clear,
        ));
    }
    let d = device(&headers, ip.0.as_deref());
    let session = console::start_session(&state, &claims.sub, d.ip, d.user_agent).await?;
    Ok(view::see_other(
        "/admin",
        vec![clear, cookie(&state.config, SESSION_COOKIE, &session, console::SESSION_TTL_SECS)],
    ))
}

fn with_cookie(mut r: Response, cookie: String) -> Response {
    if let Ok(v) = axum::http::HeaderValue::from_str(&cookie) {
        r.headers_mut().append(axum::http::header::SET_COOKIE, v);
    }
    r
}

/// `POST /admin/logout`: ends the console session (a read-only user may too).
pub async fn logout(
    State(state): State<Services>,
    console: super::Console,
    body: axum::extract::RawForm,
) -> Result<Response, ConsoleError> {
    console.check_token(&super::csrf_field(&body.0)?)?;
    console::end_session(&state, &console.admin.session_hash).await?;
    let cleared = cookie(&state.config, SESSION_COOKIE, "", 0);
    Ok(with_cookie(
        message(StatusCode::OK, "Signed out", "You are signed out of the console.", Some(("/admin/login", "Sign in"))),
        cleared,
    )
    .into_response())
}
