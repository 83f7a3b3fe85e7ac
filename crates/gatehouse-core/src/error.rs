//! The error vocabulary of the domain. Each variant says *what* went wrong; the
//! HTTP surfaces decide *how* to say it (status code, Auth0 `errorCode`) in one place.

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// The request body or a field in it is invalid. The message names the field.
    #[error("{0}")]
    InvalidBody(String),
    /// A field of the body is invalid: `field` is its path (`email`, `options.foo`,
    /// `fields[2].name`), `reason` says why in Auth0's words.
    #[error("Payload validation error: '{reason}' on property {field}.")]
    InvalidField { field: String, reason: String },
    /// A field the body must have is missing.
    #[error("Payload validation error: 'Missing required property: {field}'.")]
    MissingField { field: String },
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
    pub fn invalid_field(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidField { field: field.into(), reason: reason.into() }
    }
    pub fn missing_field(field: impl Into<String>) -> Self {
        Self::MissingField { field: field.into() }
    }
    /// The body field this error is about, if it is about one.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::InvalidField { field, .. } | Self::MissingField { field } => Some(field),
            _ => None,
        }
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
