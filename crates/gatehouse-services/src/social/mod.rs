//! Sign-in through social and OpenID Connect connections.
//!
//! `fetch` talks to providers (discovery, JWKS, code exchange, user APIs) with timeouts,
//! size limits and caches; `id_token` checks an ID token before anything is believed.
//! The browser's side (the redirect upstream, the callback, linking) is the server's.

pub mod fetch;
pub mod id_token;
pub mod signin;

pub use fetch::Upstreams;

/// Why a sign-in through an upstream provider failed. The server maps it to a page.
#[derive(Debug, thiserror::Error)]
pub enum SocialError {
    /// Missing, unknown, expired, replayed or foreign `state`.
    #[error("invalid state: {0}")]
    InvalidState(&'static str),
    /// The user declined at the provider (`error=access_denied`).
    #[error("access denied at the provider")]
    AccessDenied,
    /// The provider answered the callback with another OAuth error.
    #[error("the provider returned {0}")]
    Upstream(String),
    /// The provider could not be reached or answered nonsense.
    #[error("provider unavailable: {0}")]
    Unreachable(String),
    /// The ID token failed a check.
    #[error("invalid ID token: {0}")]
    InvalidIdToken(String),
    /// The provider's profile is unusable (no subject, …).
    #[error("invalid profile: {0}")]
    InvalidProfile(String),
    /// The connection is unknown, misconfigured or not enabled for the application.
    #[error("connection unavailable: {0}")]
    Connection(String),
    #[error("user is blocked")]
    Blocked,
    /// Another account of this connection already has the email.
    #[error("email in use in the connection")]
    EmailInUse,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<gatehouse_store::StoreError> for SocialError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Internal(e.to_string())
    }
}

/// `base64url(SHA-256(purpose:secret))`: the PKCE verifier and the nonce of a sign-in are
/// derived from its `state`, so the store, which keeps only the state's hash, holds
/// neither.
pub fn derive(secret: &str, purpose: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(format!("{purpose}:{secret}")))
}
