//! The Authentication API: `/authorize`, `/oauth/token`, `/userinfo`, logout, and the
//! login rules the hosted pages share with the password grants.

pub mod authorize;
pub mod grants;
pub mod issue;
pub mod login;
pub mod logout;
pub mod secrets;
pub mod token;
pub mod userinfo;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
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
