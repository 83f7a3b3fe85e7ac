//! The Authentication API: `/authorize`, `/oauth/token`, `/oauth/revoke`, `/userinfo`,
//! `/dbconnections/*`, the MFA API (`/mfa/*`), logout, and the embedded login (`embedded`:
//! `/co/authenticate`, `/client/{id}.js`, `/passwordless/*`).

pub mod authorize;
pub mod dbconnections;
pub mod embedded;
pub mod logout;
pub mod mfa;
pub mod response;
pub mod revoke;
pub mod token;
pub mod userinfo;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use gatehouse_store::Device;
use std::convert::Infallible;
use std::net::SocketAddr;

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
