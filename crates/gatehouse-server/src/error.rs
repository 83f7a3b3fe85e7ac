//! The one place where errors become HTTP responses for the JSON APIs.
//!
//! Management API errors use Auth0's body `{"statusCode","error","message","errorCode"}`;
//! OAuth endpoints use RFC 6749's `{"error","error_description"}`. Internal failures are
//! logged with detail and answered with a generic 500.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use gatehouse_core::Error as DomainError;
use gatehouse_services::attack::SettingsError;
use gatehouse_services::authorization::AuthzError;
use gatehouse_services::clients::ClientChangeError;
use gatehouse_services::connections::ConnectionChangeError;
use gatehouse_services::cross_origin::CrossOriginError;
use gatehouse_services::grants::GrantError;
use gatehouse_services::job_requests::JobRequestError;
use gatehouse_services::login::LoginError;
use gatehouse_services::mfa::challenge::CodeError;
use gatehouse_services::passwordless::PasswordlessError;
use gatehouse_services::signup::{SignupError, SIGNUPS_THROTTLED};
use gatehouse_services::social::SocialError;
use gatehouse_services::users::UserError;
use gatehouse_store::{ConflictOn, StoreError};
use serde_json::json;

/// An error from the Management API (and other Auth0-shaped JSON endpoints).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    /// An Auth0 feature Gatehouse does not have: Auth0's answer for a tenant without it.
    #[error("{0}")]
    FeatureNotEnabled(String),
    #[error("Insufficient scope, expected any of: {0}")]
    InsufficientScope(String),
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("Payload content length greater than maximum allowed: {0}")]
    PayloadTooLarge(usize),
    #[error("Too many requests. Check the X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset headers.")]
    TooManyRequests,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// A store Gatehouse depends on (a connection's legacy identity store) is down or slow.
    #[error("The identity store of this connection is unavailable. Try again later.")]
    Unavailable(String),
    /// The rate limiter could not count the request and fails closed.
    #[error("The service is temporarily unavailable. Try again later.")]
    RateLimiterUnavailable { retry_after_secs: u64 },
    /// The request line is longer than the server reads.
    #[error("The request URI is longer than {0} bytes.")]
    UriTooLong(usize),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn body(message: impl Into<String>) -> Self {
        Self::BadRequest { code: "invalid_body", message: message.into() }
    }
    pub fn query(message: impl Into<String>) -> Self {
        Self::BadRequest { code: "invalid_query_string", message: message.into() }
    }
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::Internal(e.to_string())
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::InsufficientScope(_) | Self::Forbidden(_) | Self::FeatureNotEnabled(_) => StatusCode::FORBIDDEN,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) | Self::RateLimiterUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. } | Self::NotFound { code, .. } | Self::Conflict { code, .. } => code,
            Self::Unauthorized(_) => "invalid_token",
            Self::InsufficientScope(_) => "insufficient_scope",
            Self::Forbidden(_) => "forbidden",
            Self::FeatureNotEnabled(_) => "feature_not_enabled",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::TooManyRequests => "too_many_requests",
            Self::Unavailable(_) | Self::RateLimiterUnavailable { .. } => "temporarily_unavailable",
            Self::UriTooLong(_) => "uri_too_long",
            Self::Internal(_) => "internal_error",
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::InvalidBody(m) => Self::body(m),
            field @ (DomainError::InvalidField { .. } | DomainError::MissingField { .. }) => {
                Self::body(field.to_string())
            }
            DomainError::InvalidQuery(m) => Self::query(m),
            DomainError::NotFound { code, message } => Self::NotFound { code, message },
            DomainError::Conflict { code, message } => Self::Conflict { code, message },
            DomainError::Rejected { code, message } => Self::BadRequest { code, message },
            // Auth0: 400 `PasswordStrengthError: Password is too weak` (and its siblings).
            DomainError::WeakPassword(r) => Self::BadRequest { code: "invalid_password", message: r.to_string() },
        }
    }
}

impl From<AuthzError> for ApiError {
    fn from(e: AuthzError) -> Self {
        match e {
            AuthzError::Refused(e) => e.into(),
            AuthzError::Store(e) => e.into(),
        }
    }
}

impl From<SettingsError> for ApiError {
    fn from(e: SettingsError) -> Self {
        match e {
            SettingsError::Refused(e) => e.into(),
            SettingsError::Store(e) => e.into(),
        }
    }
}

impl From<ClientChangeError> for ApiError {
    fn from(e: ClientChangeError) -> Self {
        match e {
            ClientChangeError::Refused(e) => e.into(),
            ClientChangeError::Store(e) => e.into(),
        }
    }
}

impl From<ConnectionChangeError> for ApiError {
    fn from(e: ConnectionChangeError) -> Self {
        match e {
            ConnectionChangeError::Refused(e) => e.into(),
            ConnectionChangeError::Options(e) => e.into(),
            ConnectionChangeError::Store(e) => e.into(),
        }
    }
}

impl From<JobRequestError> for ApiError {
    fn from(e: JobRequestError) -> Self {
        match e {
            JobRequestError::Refused(e) => e.into(),
            JobRequestError::Store(e) => e.into(),
            JobRequestError::Legacy(e) => e.into(),
            JobRequestError::Internal(m) => Self::Internal(m),
        }
    }
}

impl From<gatehouse_services::actions::ActionError> for ApiError {
    fn from(e: gatehouse_services::actions::ActionError) -> Self {
        use gatehouse_services::actions::ActionError as A;
        match e {
            A::Refused(e) => e.into(),
            A::Store(e) => e.into(),
        }
    }
}

impl From<UserError> for ApiError {
    fn from(e: UserError) -> Self {
        match e {
            UserError::Refused(e) => e.into(),
            UserError::Legacy(e) => e.into(),
            UserError::Store(e) => e.into(),
            UserError::Internal(m) => Self::Internal(m),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound { code: "inexistent_resource", message: "Not found".into() },
            StoreError::InvalidQuery(m) => Self::query(m),
            StoreError::Conflict(ConflictOn::Email | ConflictOn::Id) => DomainError::user_exists().into(),
            StoreError::Conflict(ConflictOn::Username) => {
                Self::BadRequest { code: "auth0_idp_error", message: "The username provided is in use already.".into() }
            }
            StoreError::Conflict(ConflictOn::Name) => {
                Self::Conflict { code: "conflict", message: "A resource with the same name already exists.".into() }
            }
            StoreError::Conflict(ConflictOn::Other) => {
                Self::Conflict { code: "conflict", message: "The resource already exists.".into() }
            }
            StoreError::Unavailable(detail) => Self::Unavailable(detail),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<gatehouse_services::ratelimit::Unavailable> for ApiError {
    fn from(e: gatehouse_services::ratelimit::Unavailable) -> Self {
        Self::RateLimiterUnavailable { retry_after_secs: e.retry_after_secs }
    }
}

impl From<gatehouse_legacy::LegacyError> for ApiError {
    fn from(e: gatehouse_legacy::LegacyError) -> Self {
        use gatehouse_legacy::LegacyError as L;
        match e {
            L::Unavailable(detail) => Self::Unavailable(detail),
            other @ (L::Refused { .. } | L::TooManyAttempts | L::UserBlocked | L::RateLimited { .. }) => {
                Self::Unavailable(other.to_string())
            }
            L::UserExists => DomainError::user_exists().into(),
            unsupported @ L::Unsupported(..) => {
                Self::BadRequest { code: "operation_not_supported", message: unsupported.to_string() }
            }
        }
    }
}

impl From<gatehouse_legacy::ConfigError> for ApiError {
    fn from(e: gatehouse_legacy::ConfigError) -> Self {
        Self::body(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            Self::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                "Internal error".to_string()
            }
            Self::Unavailable(detail) => {
                tracing::warn!(error = %detail, "dependency unavailable");
                self.to_string()
            }
            other => other.to_string(),
        };
        let body = json!({
            "statusCode": status.as_u16(),
            "error": status.canonical_reason().unwrap_or("Error"),
            "message": message,
            "errorCode": self.error_code(),
        });
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert("www-authenticate", HeaderValue::from_static("Bearer realm=\"gatehouse\""));
        }
        if let Self::RateLimiterUnavailable { retry_after_secs } = self {
            response.headers_mut().insert("retry-after", HeaderValue::from(retry_after_secs));
        }
        response
    }
}

/// An error of the OAuth 2.0 token endpoint.
#[derive(Debug)]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
    /// Auth0's `mfa_required` answer carries the token the MFA API takes.
    pub mfa_token: Option<String>,
}

impl OAuthError {
    pub fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self { status, error, description: description.into(), mfa_token: None }
    }
    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", d)
    }
    /// Auth0 answers a grant it refuses with 403.
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "invalid_grant", d)
    }
    pub fn invalid_client() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", "Client authentication failed")
    }
    pub fn access_denied(d: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "access_denied", d)
    }
    /// A store Gatehouse depends on (a legacy identity store) is down or slow.
    pub fn temporarily_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "The identity store of this connection is unavailable. Try again later.",
        )
    }
    /// A blocked user's grant: Auth0 answers 401 `unauthorized`.
    pub fn blocked() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "user is blocked")
    }
    pub fn server_error(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "token endpoint internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "Internal error")
    }
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(detail) => {
                tracing::warn!(error = %detail, "token endpoint: database unavailable");
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", STORE_UNAVAILABLE)
            }
            other => Self::server_error(other),
        }
    }
}

/// What a client is told when Gatehouse's own database did not answer (the response
/// also says `Retry-After`, see [`retry_after_on_unavailable`]).
const STORE_UNAVAILABLE: &str = "The service is temporarily unavailable. Please try again in a moment.";

/// Every 503 says when to try again: one second, unless its handler said otherwise.
pub async fn retry_after_on_unavailable(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut response = next.run(req).await;
    if response.status() == StatusCode::SERVICE_UNAVAILABLE && !response.headers().contains_key("retry-after") {
        response.headers_mut().insert("retry-after", HeaderValue::from(1u64));
    }
    response
}

impl From<LoginError> for OAuthError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::WrongCredentials => Self::invalid_grant(e.to_string()),
            LoginError::Blocked => Self::blocked(),
            LoginError::Unavailable => Self::temporarily_unavailable(),
            LoginError::TooManyAttempts | LoginError::SuspiciousIp => {
                Self::new(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts", e.to_string())
            }
            LoginError::LegacyRefused(_) => Self::access_denied(e.to_string()),
            LoginError::Internal(e) => Self::server_error(e),
        }
    }
}

/// A grant the trigger's Actions refused: `access_denied` with the action's reason, as
/// Auth0 answers; a credentials-exchange deny names its own OAuth error
/// (`invalid_request`, `invalid_scope` or `server_error`).
impl From<gatehouse_services::actions::ActionsRefusal> for OAuthError {
    fn from(r: gatehouse_services::actions::ActionsRefusal) -> Self {
        use gatehouse_services::actions::ActionsRefusal as R;
        match r {
            R::Denied { code: Some(code), reason } => match code.as_str() {
                "invalid_scope" => Self::new(StatusCode::BAD_REQUEST, "invalid_scope", reason),
                "server_error" => Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", reason),
                _ => Self::new(StatusCode::BAD_REQUEST, "invalid_request", reason),
            },
            R::Denied { code: None, reason } | R::Failed(reason) => Self::access_denied(reason),
        }
    }
}

impl From<GrantError> for OAuthError {
    fn from(e: GrantError) -> Self {
        use GrantError as G;
        match e {
            G::MissingParameter(_) => Self::invalid_request(e.to_string()),
            G::GrantTypeNotAllowed(_) | G::PublicClient | G::Connection(_) => {
                Self::new(StatusCode::FORBIDDEN, "unauthorized_client", e.to_string())
            }
            G::NoAudience | G::UnknownAudience(_) | G::NoClientGrant(_) | G::ScopesNotGranted(_) => {
                Self::access_denied(e.to_string())
            }
            G::InvalidCode
            | G::RedirectMismatch
            | G::CodeVerifierMismatch
            | G::UnexpectedCodeVerifier
            | G::UnknownRefreshToken
            | G::UserGone => Self::invalid_grant(e.to_string()),
            G::ScopeExceeded => Self::new(StatusCode::FORBIDDEN, "invalid_scope", e.to_string()),
            G::Blocked => Self::blocked(),
            G::MfaRequired(token) => Self {
                mfa_token: Some(token),
                ..Self::new(StatusCode::FORBIDDEN, "mfa_required", "Multifactor authentication required")
            },
            G::MfaUnavailable => Self::access_denied(e.to_string()),
            G::MfaTokenExpired => Self::new(StatusCode::FORBIDDEN, "expired_token", e.to_string()),
            G::MfaTokenMalformed | G::WrongCode(_) => Self::invalid_grant(e.to_string()),
            G::Code(e) => e.into(),
            G::Actions(r) => r.into(),
            G::Login(e) => e.into(),
            G::Passwordless(e) => e.into(),
            G::Issue(e) => e.into(),
            G::Store(e) => e.into(),
        }
    }
}

/// A refused second-factor proof, as the MFA API and grants answer it.
impl From<CodeError> for OAuthError {
    fn from(e: CodeError) -> Self {
        match e {
            CodeError::Wrong | CodeError::Replayed | CodeError::NotAccepted => Self::invalid_grant("Invalid otp_code."),
            CodeError::Expired => {
                Self::invalid_grant("The code has expired or was never sent. Request a new challenge.")
            }
            CodeError::TooManyAttempts => Self::new(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts", e.to_string()),
            CodeError::NoFactor => {
                Self::new(StatusCode::FORBIDDEN, "unsupported_challenge_type", "User is not enrolled.")
            }
            CodeError::Spent => Self::new(StatusCode::FORBIDDEN, "expired_token", "mfa_token is expired"),
            CodeError::Store(e) => e.into(),
        }
    }
}

/// The `passwordless/otp` grant: Auth0 answers a wrong code 403 `invalid_grant`.
impl From<PasswordlessError> for OAuthError {
    fn from(e: PasswordlessError) -> Self {
        use PasswordlessError as P;
        match e {
            P::WrongCode(_) => Self::invalid_grant(e.to_string()),
            P::BadConnection(_) => Self::new(StatusCode::FORBIDDEN, "unauthorized_client", e.to_string()),
            P::Invalid(..) => Self::invalid_request(e.to_string()),
            P::TooManyRequests => Self::new(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts", e.to_string()),
            P::Unavailable(_) => Self::temporarily_unavailable(),
            P::Login(e) => e.into(),
            P::Store(e) => e.into(),
        }
    }
}

impl From<gatehouse_services::issue::IssueError> for OAuthError {
    fn from(e: gatehouse_services::issue::IssueError) -> Self {
        Self::server_error(e)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut body = json!({"error": self.error, "error_description": self.description});
        if let Some(token) = &self.mfa_token {
            body["mfa_token"] = json!(token);
        }
        let mut response = (self.status, Json(body)).into_response();
        response.headers_mut().insert("cache-control", HeaderValue::from_static("no-store"));
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert("www-authenticate", HeaderValue::from_static("Basic realm=\"gatehouse\""));
        }
        response
    }
}

/// An error of the database-connection endpoints of the Authentication API
/// (`/dbconnections/signup`, `/dbconnections/change_password`), in Auth0's body
/// `{"name","code","description","statusCode"}`.
#[derive(Debug)]
pub enum DbConnectionsError {
    BadRequest {
        code: &'static str,
        description: String,
    },
    /// A refused password: Auth0's `PasswordStrengthError` (and sibling) body.
    Password(gatehouse_core::password_policy::PasswordRejection),
    /// Suspicious-IP throttling: too many sign-ups from this address.
    TooManyAttempts,
    /// Gatehouse's database did not answer.
    Unavailable(String),
    Internal(String),
}

impl DbConnectionsError {
    pub fn bad(code: &'static str, description: impl Into<String>) -> Self {
        Self::BadRequest { code, description: description.into() }
    }
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<StoreError> for DbConnectionsError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(ConflictOn::Username) => {
                Self::bad("username_exists", "The username provided is in use already.")
            }
            StoreError::Conflict(_) => Self::bad("user_exists", "The user already exists."),
            StoreError::Unavailable(detail) => Self::Unavailable(detail),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<DomainError> for DbConnectionsError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::WeakPassword(r) => Self::Password(r),
            DomainError::InvalidBody(m) | DomainError::InvalidQuery(m) => {
                Self::BadRequest { code: "invalid_body", description: m }
            }
            field @ (DomainError::InvalidField { .. } | DomainError::MissingField { .. }) => {
                Self::BadRequest { code: "invalid_body", description: field.to_string() }
            }
            DomainError::NotFound { code, message }
            | DomainError::Conflict { code, message }
            | DomainError::Rejected { code, message } => Self::BadRequest { code, description: message },
        }
    }
}

impl From<SignupError> for DbConnectionsError {
    fn from(e: SignupError) -> Self {
        match e {
            SignupError::Invalid(e) => e.into(),
            SignupError::Disabled => Self::bad("invalid_signup", e.to_string()),
            SignupError::Password(r) => Self::Password(r),
            SignupError::UserExists => Self::bad("user_exists", e.to_string()),
            SignupError::UsernameExists => Self::bad("username_exists", e.to_string()),
            SignupError::TooManyAttempts => Self::TooManyAttempts,
            SignupError::Denied(reason) => Self::bad("extensibility_error", reason),
            SignupError::Internal(detail) => Self::Internal(detail),
        }
    }
}

impl IntoResponse for DbConnectionsError {
    fn into_response(self) -> Response {
        let body = match self {
            Self::BadRequest { code, description } => {
                json!({"name": "BadRequestError", "code": code, "description": description, "statusCode": 400})
            }
            Self::Password(r) => {
                let mut body = r.to_auth0_json();
                body["statusCode"] = json!(400);
                body
            }
            Self::TooManyAttempts => {
                let body = json!({"name": "TooManyAttemptsError", "code": "too_many_attempts",
                    "description": SIGNUPS_THROTTLED, "statusCode": 429});
                return (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
            }
            Self::Unavailable(detail) => {
                tracing::warn!(error = %detail, "database unavailable");
                let body = json!({"name": "ServiceUnavailableError", "code": "temporarily_unavailable",
                    "description": STORE_UNAVAILABLE, "statusCode": 503});
                return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
            }
            Self::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                let body = json!({"name": "InternalServerError", "code": "internal_error", "description": "Internal error", "statusCode": 500});
                return (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response();
            }
        };
        (StatusCode::BAD_REQUEST, Json(body)).into_response()
    }
}

/// An error of the embedded-login endpoints (`/co/authenticate`, `/passwordless/start`)
/// in Auth0's body `{"error","error_description"}`; a refused origin is Auth0's plain
/// text 403.
#[derive(Debug)]
pub enum EmbeddedError {
    Json { status: StatusCode, error: &'static str, description: String },
    OriginNotAllowed(String),
    Internal(String),
}

impl EmbeddedError {
    pub fn json(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self::Json { status, error, description: description.into() }
    }
    pub fn bad_request(error: &'static str, description: impl Into<String>) -> Self {
        Self::json(StatusCode::BAD_REQUEST, error, description)
    }
}

impl From<StoreError> for EmbeddedError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(detail) => {
                tracing::warn!(error = %detail, "database unavailable");
                Self::json(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", STORE_UNAVAILABLE)
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<LoginError> for EmbeddedError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::WrongCredentials => Self::json(StatusCode::FORBIDDEN, "access_denied", e.to_string()),
            LoginError::Blocked => Self::json(StatusCode::FORBIDDEN, "blocked_user", "Blocked user"),
            LoginError::TooManyAttempts | LoginError::SuspiciousIp => {
                Self::json(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts", e.to_string())
            }
            LoginError::Unavailable => {
                Self::json(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", e.to_string())
            }
            LoginError::LegacyRefused(_) => Self::json(StatusCode::FORBIDDEN, "access_denied", e.to_string()),
            LoginError::Internal(detail) => Self::Internal(detail),
        }
    }
}

impl From<PasswordlessError> for EmbeddedError {
    fn from(e: PasswordlessError) -> Self {
        use PasswordlessError as P;
        match e {
            P::BadConnection(_) => Self::bad_request("bad.connection", e.to_string()),
            P::Invalid(code, description) => Self::bad_request(code, description),
            P::WrongCode(_) => Self::json(StatusCode::FORBIDDEN, "access_denied", e.to_string()),
            P::TooManyRequests => Self::json(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", e.to_string()),
            P::Unavailable(_) => Self::json(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", e.to_string()),
            P::Login(e) => e.into(),
            P::Store(e) => e.into(),
        }
    }
}

impl From<CrossOriginError> for EmbeddedError {
    fn from(e: CrossOriginError) -> Self {
        use CrossOriginError as C;
        match e {
            C::NotAllowed => Self::json(StatusCode::UNAUTHORIZED, "unauthorized_client", e.to_string()),
            C::InvalidRequest(_) | C::UnknownRealm(_) => Self::bad_request("invalid_request", e.to_string()),
            C::UnsupportedCredentialType => Self::bad_request("unsupported_credential_type", e.to_string()),
            C::Login(e) => e.into(),
            C::Passwordless(e) => e.into(),
            C::Store(e) => e.into(),
        }
    }
}

impl IntoResponse for EmbeddedError {
    fn into_response(self) -> Response {
        match self {
            Self::Json { status, error, description } => {
                let body = json!({"error": error, "error_description": description});
                (status, Json(body)).into_response()
            }
            Self::OriginNotAllowed(origin) => {
                (StatusCode::FORBIDDEN, format!("Origin {origin} is not allowed.")).into_response()
            }
            Self::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                let body = json!({"error": "server_error", "error_description": "Internal error"});
                (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
            }
        }
    }
}

/// An error shown as an HTML page (hosted pages, and `/authorize` errors that must not
/// redirect). Rendered in one place: `pages::error_page`.
#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
}

impl PageError {
    pub fn bad_request(error: &'static str, description: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, error, description: description.into() }
    }
    pub fn forbidden(error: &'static str, description: impl Into<String>) -> Self {
        Self { status: StatusCode::FORBIDDEN, error, description: description.into() }
    }
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self { status: StatusCode::INTERNAL_SERVER_ERROR, error: "server_error", description: e.to_string() }
    }
}

/// A page that failed in the middle of a social sign-in ends it as an internal failure.
impl From<PageError> for SocialError {
    fn from(e: PageError) -> Self {
        Self::Internal(e.description)
    }
}

/// What a hosted page tells a blocked user, whichever way they signed in.
const BLOCKED_ON_A_PAGE: &str = "Your account is blocked. Contact the administrator.";

/// How a hosted page tells a refused login: the status and the sentence shown above
/// its form. An internal failure is an error page instead.
pub fn login_refusal(e: LoginError) -> Result<(StatusCode, String), PageError> {
    match e {
        LoginError::Internal(detail) => Err(PageError::internal(detail)),
        LoginError::Blocked => Ok((StatusCode::BAD_REQUEST, BLOCKED_ON_A_PAGE.into())),
        LoginError::Unavailable => Ok((StatusCode::SERVICE_UNAVAILABLE, e.to_string())),
        LoginError::TooManyAttempts | LoginError::SuspiciousIp => Ok((StatusCode::TOO_MANY_REQUESTS, e.to_string())),
        LoginError::WrongCredentials => Ok((StatusCode::BAD_REQUEST, e.to_string())),
        LoginError::LegacyRefused(_) => Ok((StatusCode::FORBIDDEN, e.to_string())),
    }
}

/// How a hosted page tells a refused passwordless step (sending or checking an emailed
/// code): the status and the sentence shown above its form.
pub fn passwordless_refusal(e: PasswordlessError) -> Result<(StatusCode, String), PageError> {
    use PasswordlessError as P;
    match e {
        P::Store(e) => Err(e.into()),
        P::Login(e) => login_refusal(e),
        P::BadConnection(_) => {
            Err(PageError::bad_request("invalid_connection", "This way of signing in is not available."))
        }
        P::Invalid(_, _) => Ok((StatusCode::BAD_REQUEST, "Enter a valid email address.".into())),
        P::WrongCode(_) => {
            Ok((StatusCode::BAD_REQUEST, "That code is wrong or has expired. Check it, or ask for a new one.".into()))
        }
        P::TooManyRequests => Ok((StatusCode::TOO_MANY_REQUESTS, e.to_string())),
        P::Unavailable(_) => Ok((StatusCode::SERVICE_UNAVAILABLE, e.to_string())),
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(detail) => {
                tracing::warn!(error = %detail, "database unavailable during a hosted page");
                Self {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    error: "temporarily_unavailable",
                    description: STORE_UNAVAILABLE.into(),
                }
            }
            other => Self::internal(other),
        }
    }
}

impl From<gatehouse_legacy::LegacyError> for PageError {
    fn from(e: gatehouse_legacy::LegacyError) -> Self {
        tracing::warn!(error = %e, "legacy store failed during a hosted-page action");
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            error: "temporarily_unavailable",
            description: "The user store is temporarily unavailable. Please try again in a moment.".into(),
        }
    }
}

impl From<SocialError> for PageError {
    fn from(e: SocialError) -> Self {
        use SocialError as S;
        let page = |status, error, description: &str| Self { status, error, description: description.to_string() };
        match e {
            S::InvalidState(_) => page(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "This sign-in has expired, was already used, or was started in another browser. \
                 Please go back to the application and try again.",
            ),
            S::AccessDenied => page(
                StatusCode::FORBIDDEN,
                "access_denied",
                "You did not allow access at the identity provider, so you are not signed in. \
                 Go back to the application to try again or to choose another way to log in.",
            ),
            S::Upstream(code) => Self {
                status: StatusCode::BAD_GATEWAY,
                error: "upstream_error",
                description: format!("The identity provider refused the sign-in ({code}). Please try again."),
            },
            S::Unreachable(_) => page(
                StatusCode::BAD_GATEWAY,
                "upstream_unavailable",
                "The identity provider could not be reached or gave an unusable answer. Please try again later.",
            ),
            S::InvalidIdToken(_) | S::InvalidProfile(_) => page(
                StatusCode::BAD_GATEWAY,
                "invalid_upstream_answer",
                "The identity provider's answer could not be verified, so you are not signed in.",
            ),
            S::Connection(_) => page(
                StatusCode::BAD_REQUEST,
                "invalid_connection",
                "This way of signing in is not available for this application.",
            ),
            S::Blocked => page(StatusCode::FORBIDDEN, "unauthorized", BLOCKED_ON_A_PAGE),
            S::EmailInUse => page(
                StatusCode::CONFLICT,
                "email_in_use",
                "Another account of this sign-in method already uses this email address.",
            ),
            S::Internal(detail) => Self::internal(detail),
        }
    }
}
