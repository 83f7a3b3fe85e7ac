//! The error vocabulary of the domain. Each variant says *what* went wrong; the
//! HTTP surfaces decide *how* to say it (status code, Auth0 `errorCode`) in one place.

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// The request body or a field in it is invalid. The message names the field.
    #[error("{0}")]
    InvalidBody(String),
    /// A query-string parameter is invalid.
    #[error("{0}")]
    InvalidQuery(String),
    /// A thing that does not exist. `code` is Auth0's errorCode (`inexistent_user`, …).
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    /// A uniqueness rule was violated.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// A rule of the domain forbids the operation (not a permissions problem).
    #[error("{message}")]
    Rejected { code: &'static str, message: String },
    /// A new password breaks the connection's password policy.
    #[error("{0}")]
    WeakPassword(crate::password_policy::PasswordRejection),
}

impl Error {
    pub fn body(message: impl Into<String>) -> Self {
        Self::InvalidBody(message.into())
    }
    pub fn query(message: impl Into<String>) -> Self {
        Self::InvalidQuery(message.into())
    }
    pub fn user_not_found() -> Self {
        Self::NotFound { code: "inexistent_user", message: "The user does not exist.".into() }
    }
    pub fn connection_not_found() -> Self {
        Self::NotFound { code: "inexistent_connection", message: "The connection does not exist".into() }
    }
    pub fn client_not_found() -> Self {
        Self::NotFound { code: "inexistent_client", message: "The client does not exist".into() }
    }
    pub fn user_exists() -> Self {
        Self::Conflict { code: "auth0_idp_error", message: "The user already exists.".into() }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
