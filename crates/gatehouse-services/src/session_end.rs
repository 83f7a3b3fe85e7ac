//! Ending single sign-on sessions, and telling the applications they signed in to
//! (OpenID Connect Back-Channel Logout 1.0, with Auth0's initiators). A new password
//! ends them all, and the user's refresh grants with them.
//!
//! Whoever deletes a session's row tells its applications, so two endings of one session
//! never tell twice. Each application whose `oidc_logout` listens for the ending gets a
//! logout token (an RS256 JWT with `sid`, `sub` and the back-channel logout event, never a
//! `nonce`) posted to its back-channel URL. Delivery runs in the background with a short
//! timeout and a few retries: an application that is down never holds up a logout.

use crate::secrets::random_token;
use crate::Services;
use gatehouse_store::{GrantFilter, SessionDetails, StoreError};
use serde_json::json;
use std::sync::OnceLock;
use std::time::Duration;

/// Why a session ended, in Auth0's initiator names.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Initiator {
    /// The application asked (`/v2/logout`, `/oidc/logout`).
    RpLogout,
    /// An administrator ended it (the Management API).
    SessionRevoked,
    /// The user was deleted.
    AccountDeleted,
    /// The user's password changed (a reset, or an administrator's).
    PasswordChanged,
    /// It reached its lifetime (housekeeping ends it).
    SessionExpired,
}

impl Initiator {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RpLogout => "rp-logout",
            Self::SessionRevoked => "session-revoked",
            Self::AccountDeleted => "account-deleted",
            Self::PasswordChanged => "password-changed",
            Self::SessionExpired => "session-expired",
        }
    }
}

/// The back-channel logout event (the Security Event Token member `events` names).
const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// A logout token is good for this long: it is used at once or not at all.
const LOGOUT_TOKEN_TTL_SECS: i64 = 120;
/// How long one delivery may take, and how often it is tried.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);
const DELIVERY_ATTEMPTS: u32 = 3;

/// Ends the sessions read (with their applications, which the delete takes along), each
/// told of only by whoever deleted it. Returns how many this call ended.
async fn end_read(state: &Services, read: Vec<SessionDetails>, initiator: Initiator) -> Result<u64, StoreError> {
    let mut ended = 0;
    for d in read {
        if state.store.delete_session(&d.session.sid).await? {
            ended += 1;
            tell_applications(state, &d, initiator).await;
        }
    }
    Ok(ended)
}

/// Ends session `sid` and tells its applications. Returns whether it existed.
pub async fn end_session(state: &Services, sid: &str, initiator: Initiator) -> Result<bool, StoreError> {
    let read = state.store.session_details(sid, i64::MIN).await?;
    Ok(end_read(state, read.into_iter().collect(), initiator).await? > 0)
}

/// Ends every session of `user_id` and tells their applications. Returns how many ended.
pub async fn end_sessions_of_user(state: &Services, user_id: &str, initiator: Initiator) -> Result<u64, StoreError> {
    let now = state.clock.now().unix_timestamp();
    let mut ended = 0;
    loop {
        // Each round deletes what it read, so reading from the start again moves on.
        let live = state.store.sessions_of_user(user_id, now, None, 100).await?;
        if live.is_empty() {
            break;
        }
        ended += end_read(state, live, initiator).await?;
    }
    // Expired sessions no application needs to hear of.
    Ok(ended + state.store.delete_sessions_of_user(user_id).await?)
}

/// How many expired sessions housekeeping reads at once.
const EXPIRED_PAGE: u32 = 500;

/// Ends the sessions that expired by `now` and signed in to some application, telling
/// those applications (`session-expired`). Returns how many ended.
pub async fn end_expired_sessions(state: &Services, now: i64) -> Result<u64, StoreError> {
    let mut ended = 0;
    loop {
        let page = state.store.expired_sessions(now, EXPIRED_PAGE).await?;
        let last_page = page.len() < EXPIRED_PAGE as usize;
        ended += end_read(state, page, Initiator::SessionExpired).await?;
        if last_page {
            return Ok(ended);
        }
    }
}

/// Signs the user out of everything: every session ends (its applications told why),
/// so does every console session, and every refresh grant is revoked. A new password
/// does this before the change is answered, since whoever knew the old one may hold
/// either; so does the Management API's `revoke-access`.
pub async fn sign_out_everywhere(state: &Services, user_id: &str, initiator: Initiator) -> Result<(), StoreError> {
    end_sessions_of_user(state, user_id, initiator).await?;
    state.store.delete_console_sessions_of_user(user_id).await?;
    state.store.revoke_refresh_grants(&GrantFilter::all_of(user_id), state.clock.now().unix_timestamp()).await?;
    Ok(())
}

/// Posts a logout token to every application of `ended` that listens for `initiator`.
async fn tell_applications(state: &Services, ended: &SessionDetails, initiator: Initiator) {
    for client_id in &ended.clients {
        let client = match state.store.client(client_id).await {
            Ok(Some(c)) => c,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(client_id, error = %e, "back-channel logout: reading the client failed");
                continue;
            }
        };
        let Some(url) = client.oidc_logout.as_ref().and_then(|o| o.url_for(initiator.as_str())) else { continue };
        let now = state.clock.now().unix_timestamp();
        let claims = json!({
            "iss": state.config.issuer,
            "aud": client_id,
            "iat": now,
            "exp": now + LOGOUT_TOKEN_TTL_SECS,
            "jti": random_token(),
            "sub": ended.session.user_id,
            "sid": ended.session.sid,
            "events": { LOGOUT_EVENT: {} },
        });
        match state.keys.sign(&claims) {
            Ok(token) => {
                tokio::spawn(deliver(url.to_string(), client_id.clone(), token));
            }
            Err(e) => tracing::warn!(client_id, error = %e, "back-channel logout: signing failed"),
        }
    }
}

fn http() -> &'static reqwest::Client {
    static HTTP: OnceLock<reqwest::Client> = OnceLock::new();
    HTTP.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(DELIVERY_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default()
    })
}

/// Posts `logout_token` to `url`, again after a pause while the application errs or
/// cannot be reached. A refusal (4xx) is final: the application rejected the token.
async fn deliver(url: String, client_id: String, token: String) {
    for attempt in 1..=DELIVERY_ATTEMPTS {
        let outcome = http().post(&url).form(&[("logout_token", &token)]).send().await;
        match outcome {
            Ok(r) if r.status().is_success() => {
                tracing::info!(client_id, "back-channel logout delivered");
                return;
            }
            Ok(r) if r.status().is_client_error() => {
                tracing::warn!(client_id, status = r.status().as_u16(), "back-channel logout refused");
                return;
            }
            Ok(r) => tracing::warn!(client_id, attempt, status = r.status().as_u16(), "back-channel logout failed"),
            Err(e) => tracing::warn!(client_id, attempt, error = %e, "back-channel logout failed"),
        }
        if attempt < DELIVERY_ATTEMPTS {
            tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
        }
    }
}

/// Used authorization codes are kept this long past their expiry, so that a late replay
/// is still recognised (and revokes the tokens issued from the code).
const CODE_REPLAY_MEMORY_SECS: i64 = 86_400;

/// One housekeeping step: deletes expired sessions, login transactions, codes and
/// refresh tokens. Called periodically by the background worker.
pub async fn purge_expired(state: &Services) -> Result<u64, gatehouse_store::StoreError> {
    let now = state.clock.now().unix_timestamp();
    // First the expired sessions whose applications may want to hear of it, then the rest.
    let told = end_expired_sessions(state, now).await?;
    let console = state.store.purge_console_sessions(now, now - crate::console::IDLE_TTL_SECS).await?;
    Ok(told + console + state.store.purge_expired_login_state(now, CODE_REPLAY_MEMORY_SECS).await?)
}
