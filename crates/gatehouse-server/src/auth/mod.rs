//! The Authentication API: `/authorize`, `/oauth/token`, `/oauth/revoke`, `/userinfo`, logout, and the
//! login rules the hosted pages share with the password grants.

pub mod authorize;
pub mod dbconnections;
pub mod grants;
pub mod issue;
pub mod login;
pub mod logout;
pub mod response;
pub mod revoke;
pub mod secrets;
pub mod session_end;
pub mod token;
pub mod userinfo;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use gatehouse_store::Device;
use std::convert::Infallible;
use std::net::SocketAddr;

/// Used authorization codes are kept this long past their expiry, so that a late replay
/// is still recognised (and revokes the tokens issued from the code).
const CODE_REPLAY_MEMORY_SECS: i64 = 86_400;

/// One housekeeping step: deletes expired sessions, login transactions, codes and
/// refresh tokens. Called periodically by the background worker.
pub async fn purge_expired(state: &crate::state::AppState) -> Result<u64, gatehouse_store::StoreError> {
    let now = state.clock.now().unix_timestamp();
    // First the expired sessions whose applications may want to hear of it, then the rest.
    let told = session_end::end_expired_sessions(state, now).await?;
    Ok(told + state.store.purge_expired_login_state(now, CODE_REPLAY_MEMORY_SECS).await?)
}

/// The peer address, when the server was started with connect info (in-process tests
/// are not).
pub struct ClientIp(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ci| ci.0.ip().to_string())))
    }
}

/// A user agent is stored at most this long: it is whatever the client sent.
const MAX_USER_AGENT: usize = 512;

/// The device a request came from, as a session records it.
pub fn device(headers: &HeaderMap, ip: Option<&str>) -> Device {
    // `to_str` passes visible ASCII only, so any byte index is a character boundary.
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua[..ua.len().min(MAX_USER_AGENT)].to_string());
    Device { ip: ip.map(str::to_string), user_agent }
}
