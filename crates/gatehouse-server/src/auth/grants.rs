//! The user grants of `POST /oauth/token`: `authorization_code`, `refresh_token`,
//! `password` and Auth0's `password-realm`.

use crate::auth::issue::{granted_scopes, issue, sign, Grant, Refresh};
use crate::auth::login::{accept_password, connection_for, ConnectionError, LoginError};
use crate::auth::secrets::{hash_secret, pkce_matches, random_token};
use crate::error::OAuthError;
use crate::state::AppState;
use axum::http::StatusCode;
use gatehouse_core::client::Client;
use gatehouse_core::connection::DEFAULT_DATABASE_CONNECTION;
use gatehouse_core::user::User;
use gatehouse_store::{CodeRedemption, RefreshRedemption, RefreshRequest, RefreshToken, Successor};
use serde_json::Value;
use std::collections::HashMap;

pub const PASSWORD_REALM: &str = "http://auth0.com/oauth/grant-type/password-realm";

fn blocked() -> OAuthError {
    OAuthError::new(StatusCode::UNAUTHORIZED, "unauthorized", "user is blocked")
}

fn required<'a>(p: &'a HashMap<String, String>, k: &str) -> Result<&'a str, OAuthError> {
    p.get(k)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| OAuthError::invalid_request(format!("Missing required parameter: {k}")))
}

/// The client must list the grant type.
pub fn check_grant_allowed(client: &Client, grant_type: &str) -> Result<(), OAuthError> {
    if client.grant_types.iter().any(|g| g == grant_type) {
        Ok(())
    } else {
        Err(OAuthError::new(
            StatusCode::FORBIDDEN,
            "unauthorized_client",
            format!("Grant type '{grant_type}' not allowed for the client."),
        ))
    }
}

/// The user a grant is for, if it may still get tokens.
async fn active_user(state: &AppState, user_id: &str) -> Result<User, OAuthError> {
    active(state.store.user(user_id).await?)
}

/// The user a grant was issued to, if it still exists and is not blocked.
fn active(user: Option<User>) -> Result<User, OAuthError> {
    let user = user.ok_or_else(|| OAuthError::invalid_grant("The user no longer exists."))?;
    if user.blocked {
        return Err(blocked());
    }
    Ok(user)
}

fn check_audience(state: &AppState, p: &HashMap<String, String>) -> Result<Option<String>, OAuthError> {
    match p.get("audience").filter(|a| !a.is_empty()) {
        None => Ok(None),
        Some(a) if *a == state.config.userinfo_audience() => Ok(None),
        Some(a) if state.config.api_audiences.contains(a) => Ok(Some(a.clone())),
        Some(a) => Err(OAuthError::access_denied(format!("Service not found: {a}"))),
    }
}

pub async fn authorization_code(
    state: &AppState,
    client: &Client,
    p: &HashMap<String, String>,
) -> Result<Value, OAuthError> {
    check_grant_allowed(client, "authorization_code")?;
    let code = required(p, "code")?;
    let now = state.clock.now().unix_timestamp();
    let redeemed = match state.store.redeem_auth_code(&hash_secret(code), now).await? {
        CodeRedemption::Redeemed(c) => c,
        CodeRedemption::Replayed(c) => {
            // RFC 6749 §4.1.2: a reused code revokes what was issued from it.
            let revoked = state.store.revoke_refresh_family(&c.family_id, now).await?;
            tracing::warn!(client_id = %c.client_id, revoked, "authorization code replayed; its tokens are revoked");
            return Err(OAuthError::invalid_grant("Invalid authorization code"));
        }
        CodeRedemption::Unknown => return Err(OAuthError::invalid_grant("Invalid authorization code")),
    };
    if redeemed.client_id != client.client_id || redeemed.expires_at <= now {
        return Err(OAuthError::invalid_grant("Invalid authorization code"));
    }
    match p.get("redirect_uri") {
        Some(r) if *r == redeemed.redirect_uri => {}
        _ => {
            return Err(OAuthError::invalid_grant(
                "The redirect_uri does not match the one used in the authorization request.",
            ))
        }
    }
    match (&redeemed.code_challenge, p.get("code_verifier")) {
        (Some(challenge), Some(verifier)) if pkce_matches(verifier, challenge) => {}
        (Some(_), _) => return Err(OAuthError::invalid_grant("Failed to verify code verifier")),
        (None, Some(_)) => return Err(OAuthError::invalid_grant("code_verifier given for a code issued without PKCE")),
        (None, None) => {}
    }
    let user = active_user(state, &redeemed.user_id).await?;
    let grant = Grant {
        client,
        user: &user,
        scope: redeemed.scope.clone(),
        audience: redeemed.audience.clone(),
        nonce: redeemed.nonce.clone(),
        auth_time: redeemed.auth_time,
        sid: redeemed.sid.clone(),
        gty: None,
    };
    issue(state, &grant, Refresh::Mint { family_id: redeemed.family_id.clone() }).await
}

pub async fn refresh_token(
    state: &AppState,
    client: &Client,
    p: &HashMap<String, String>,
) -> Result<Value, OAuthError> {
    check_grant_allowed(client, "refresh_token")?;
    let presented = required(p, "refresh_token")?;
    let token_hash = hash_secret(presented);
    let unknown = || OAuthError::invalid_grant("Unknown or invalid refresh token.");
    let requested = p.get("scope").map(String::as_str).filter(|s| !s.is_empty());
    let scopes: Vec<&str> = requested.map(|r| r.split(' ').filter(|s| !s.is_empty()).collect()).unwrap_or_default();
    let request = RefreshRequest { token_hash: &token_hash, client_id: &client.client_id, scopes: &scopes };
    let now = state.clock.now().unix_timestamp();
    // The successor keeps the original grant (and scope) of the family.
    let secret = random_token();
    let successor_hash = hash_secret(&secret);
    let successor = Successor { token_hash: &successor_hash, expires_at: now + state.config.refresh_token_ttl_secs };
    // The usual case, one write: the token rotated because everything about it holds.
    if let Some((existing, user)) = state.store.rotate_refresh_token_if_granted(&request, &successor, now).await? {
        let scope = narrowed_scope(&existing, requested, &scopes)?;
        return issue(state, &grant_of(client, &user, &existing, scope), Refresh::Rotated(secret)).await;
    }
    // Otherwise a second look says why, each refusal as Auth0 words it; a token already
    // rotated is a reuse, and revokes its family.
    let (existing, user) = state.store.refresh_token_and_user(&token_hash).await?.ok_or_else(unknown)?;
    // A token is only ever redeemed by the client it was issued to.
    if existing.client_id != client.client_id {
        return Err(unknown());
    }
    let user = active(user)?;
    let scope = narrowed_scope(&existing, requested, &scopes)?;
    match state.store.rotate_refresh_token(&token_hash, &successor, now).await? {
        // Only a race gets here (the token became redeemable in between): as above.
        RefreshRedemption::Rotated(_) => {
            issue(state, &grant_of(client, &user, &existing, scope), Refresh::Rotated(secret)).await
        }
        RefreshRedemption::Reused(t) => {
            tracing::warn!(client_id = %t.client_id, family = %t.family_id, "refresh token reused; family revoked");
            Err(unknown())
        }
        RefreshRedemption::Invalid => Err(unknown()),
    }
}

/// What a refreshed token carries: the grant of its family, at the scope asked for.
fn grant_of<'a>(client: &'a Client, user: &'a User, existing: &RefreshToken, scope: String) -> Grant<'a> {
    Grant {
        client,
        user,
        scope,
        audience: existing.audience.clone(),
        nonce: None,
        auth_time: existing.auth_time,
        sid: existing.sid.clone(),
        gty: None,
    }
}

/// The scope of a refresh: the family's, or the part of it `requested` (split into
/// `scopes`) names; asking for more than the family was granted is refused.
fn narrowed_scope(existing: &RefreshToken, requested: Option<&str>, scopes: &[&str]) -> Result<String, OAuthError> {
    let Some(requested) = requested else { return Ok(existing.scope.clone()) };
    if !existing.grants(scopes) {
        return Err(OAuthError::new(
            StatusCode::FORBIDDEN,
            "invalid_scope",
            "The requested scope exceeds the scope granted to the refresh token.",
        ));
    }
    Ok(granted_scopes(requested).join(" "))
}

/// `password` (the default directory, `Username-Password-Authentication`) and
/// `password-realm` (the connection named by `realm`).
pub async fn password(
    state: &AppState,
    client: &Client,
    grant_type: &str,
    p: &HashMap<String, String>,
    ip: Option<&str>,
) -> Result<Value, OAuthError> {
    check_grant_allowed(client, grant_type)?;
    let realm = if grant_type == PASSWORD_REALM { required(p, "realm")? } else { DEFAULT_DATABASE_CONNECTION };
    let username = required(p, "username")?;
    let password = required(p, "password")?;
    let audience = check_audience(state, p)?;
    let connection = connection_for(state, client, Some(realm)).await.map_err(|e| match e {
        ConnectionError::Store(e) => OAuthError::from(e),
        other => OAuthError::new(StatusCode::FORBIDDEN, "unauthorized_client", other.to_string()),
    })?;
    let login_error = |e| match e {
        LoginError::WrongCredentials => OAuthError::invalid_grant("Wrong email or password."),
        LoginError::Blocked => blocked(),
        LoginError::Unavailable => OAuthError::temporarily_unavailable(),
        e @ (LoginError::TooManyAttempts | LoginError::SuspiciousIp) => {
            OAuthError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts", e.to_string())
        }
        LoginError::Internal(e) => OAuthError::server_error(e),
    };
    let scope = granted_scopes(p.get("scope").map(String::as_str).unwrap_or("")).join(" ");
    let family_id = random_token();
    let sign_for = |user: &User| {
        let grant = Grant {
            client,
            user,
            scope: scope.clone(),
            audience: audience.clone(),
            nonce: None,
            auth_time: state.clock.now().unix_timestamp(),
            sid: None,
            gty: Some("password"),
        };
        sign(state, &grant, Refresh::Mint { family_id: family_id.clone() })
    };
    // The tokens are signed while the password is verified if a core is free for it,
    // else once the login has succeeded; either way they are handed out (and a refresh
    // token stored) only then.
    let accepted =
        accept_password(state, &connection, username, password, ip, Some(&sign_for)).await.map_err(login_error)?;
    accepted.early.unwrap_or_else(|| sign_for(&accepted.user))?.hand_out(state).await
}
