//! Sign-up, password changes and email verification: the rules the Authentication API
//! (`/dbconnections/*`), the Management API (users, tickets, verification jobs) and the
//! hosted pages share.
//!
//! - A new password passes the connection's policy, breached-password detection (at
//!   sign-up and reset) and, for an existing user, `password_history`.
//! - A reset request answers the same way, in the same time, whether or not the user
//!   exists: the lookup and the email happen on a task of their own.

use crate::mail::OnFailure;
use crate::session_end::Initiator;
use crate::tickets::{issue_ticket, TicketRequest};
use crate::Services;
use gatehouse_core::connection::Connection;
use gatehouse_core::ids::new_user_local_id;
use gatehouse_core::log_event::codes;
use gatehouse_core::mfa::MfaFactor;
use gatehouse_core::password_policy::{is_common_password, PasswordPolicy, PasswordRejection, PersonalInfo};
use gatehouse_core::user::{passkey_signup_user, signup_user, User};
use gatehouse_core::Error as DomainError;
use gatehouse_legacy::LegacyError;
use gatehouse_store::{Arrival, ConflictOn, StoreError, TicketKind};
use serde_json::{json, Map, Value};
use std::convert::Infallible;

/// Lifetime of the link in a verification email (Auth0's ticket default: 5 days).
pub const VERIFICATION_TTL_SECS: i64 = 5 * 86_400;
/// Lifetime of the link in a password reset email.
pub const RESET_TTL_SECS: i64 = 86_400;
/// The one answer of `POST /dbconnections/change_password`.
pub const CHANGE_PASSWORD_MESSAGE: &str = "We've just sent you an email to reset your password.";

/// What a password may not contain, for `password_no_personal_info`.
pub fn personal_info(u: &User) -> PersonalInfo {
    PersonalInfo::of(
        u.email.as_deref(),
        u.username.as_deref(),
        &[u.name.as_deref(), u.nickname.as_deref(), u.given_name.as_deref(), u.family_name.as_deref()],
        &u.user_metadata,
    )
}

/// The answer to sign-ups refused by suspicious-IP throttling.
pub const SIGNUPS_THROTTLED: &str =
    "We have detected suspicious sign-up behavior from your address and further attempts will be blocked for a while.";

/// Why a sign-up was refused. The messages are Auth0's, and what the audit log records.
#[derive(Debug, thiserror::Error)]
pub enum SignupError {
    /// The sign-up body breaks a rule of the domain (a field, or the connection's rules).
    #[error("{0}")]
    Invalid(#[from] DomainError),
    /// The connection does not take sign-ups.
    #[error("Invalid sign up")]
    Disabled,
    /// The password breaks the connection's policy (or was leaked).
    #[error("{}", .0.message())]
    Password(PasswordRejection),
    #[error("The user already exists.")]
    UserExists,
    #[error("The username provided is in use already.")]
    UsernameExists,
    /// Suspicious-IP throttling: too many sign-ups from this address.
    #[error("{SIGNUPS_THROTTLED}")]
    TooManyAttempts,
    /// A pre-user-registration Action denied the sign-up or failed (Auth0's
    /// `extensibility_error`); the message is the action's.
    #[error("{0}")]
    Denied(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl SignupError {
    fn internal(e: impl std::fmt::Display) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<StoreError> for SignupError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(ConflictOn::Username) => Self::UsernameExists,
            StoreError::Conflict(_) => Self::UserExists,
            other => Self::internal(other),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("{0}")]
    Rejected(PasswordRejection),
    /// The connection's legacy store (delegated mode) could not take the password.
    #[error(transparent)]
    Legacy(#[from] LegacyError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for PasswordError {
    fn from(e: StoreError) -> Self {
        Self::Internal(e.to_string())
    }
}

/// Who is setting a password. Breached-password detection applies to users choosing
/// their own (sign-up, reset), as Auth0's does; an administrator is held to the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setter {
    Admin,
    SignUp,
    Reset,
}

/// Whether breached-password detection refuses `password` from `setter`: users choosing
/// their own are held to it, as in Auth0; an administrator is held to the policy only.
pub async fn is_breached(state: &Services, setter: Setter, password: &str) -> Result<bool, StoreError> {
    let stage_blocks = match setter {
        Setter::Admin => return Ok(false),
        Setter::SignUp => crate::attack::breached_password_settings(state).await?.blocks_sign_up(),
        Setter::Reset => crate::attack::breached_password_settings(state).await?.blocks_change(),
    };
    Ok(stage_blocks && is_common_password(password))
}

/// Checks `password` as the new password of `user` (who may not be stored yet: then
/// `existing` is false and there is no history to check).
pub async fn check_new_password(
    state: &Services,
    connection: &Connection,
    password: &str,
    user: &User,
    existing: bool,
    setter: Setter,
) -> Result<(), PasswordError> {
    let policy = PasswordPolicy::of(connection);
    policy.check(password, &personal_info(user)).map_err(PasswordError::Rejected)?;
    if is_breached(state, setter, password).await? {
        let kind = if setter == Setter::SignUp { codes::SIGNUP_PASSWORD_LEAK } else { codes::RESET_PASSWORD_LEAK };
        let mut e = state.audit.event(kind);
        e.user_id = existing.then(|| user.user_id.clone());
        e.user_name = user.email.clone();
        e.connection = Some(connection.name.clone());
        e.connection_id = Some(connection.id.clone());
        e.description = Some("A leaked password was refused.".into());
        state.audit.record(e).await;
        return Err(PasswordError::Rejected(PasswordRejection::Leaked));
    }
    if existing && policy.history_size > 0 {
        let mut hashes = state.store.password_history(&user.user_id, policy.history_size).await?;
        if let Some(current) = &user.password_hash {
            if !hashes.contains(current) {
                hashes.insert(0, current.clone());
                hashes.truncate(policy.history_size);
            }
        }
        for stored in hashes {
            let Ok(parsed) = state.hashing.hasher().parse_stored(&stored) else { continue };
            let same = state
                .hashing
                .verify(Some(parsed), password.to_string())
                .await
                .map_err(|e| PasswordError::Internal(e.to_string()))?;
            if same {
                return Err(PasswordError::Rejected(PasswordRejection::Reused));
            }
        }
    }
    Ok(())
}

/// Hashes and stores a user's new password (remembered for `password_history`);
/// optionally marks the email verified (a reset link proves the mailbox).
pub async fn store_new_password(
    state: &Services,
    user: &User,
    password: String,
    mark_email_verified: bool,
) -> Result<User, PasswordError> {
    let connection = state.store.connection(&user.connection_id).await?;
    let delegated = match &connection {
        Some(c) => crate::legacy::store_for(state, c)?.filter(|l| !l.import_mode()),
        None => None,
    };
    let hash = match delegated {
        // Delegated: the password lives in the legacy store only.
        Some(legacy) => {
            if !crate::legacy::delegated_change_password(state, &legacy, user, &password).await? {
                return Err(PasswordError::Legacy(LegacyError::Unavailable(
                    "change_password: the legacy store does not know the user".into(),
                )));
            }
            None
        }
        None => Some(state.hashing.hash(password).await.map_err(|e| PasswordError::Internal(e.to_string()))?),
    };
    let now = state.now();
    let updated = state
        .store
        .modify_user(&user.user_id, |u| {
            if let Some(h) = &hash {
                u.password_hash = Some(h.clone());
            }
            u.last_password_reset = Some(now.clone());
            u.updated_at = now.clone();
            if mark_email_verified {
                u.email_verified = true;
            }
            Ok::<_, Infallible>(())
        })
        .await?;
    let Ok(user) = updated;
    if let Some(h) = &hash {
        state.store.record_password(&user.user_id, h, &now).await?;
    }
    crate::session_end::sign_out_everywhere(state, &user.user_id, Initiator::PasswordChanged).await?;
    // A new password lifts brute-force blocks, as in Auth0.
    let identifiers = crate::attack::login_identifiers(&user);
    crate::attack::release_blocks(state, &identifiers, Some(&user.user_id), connection.as_ref()).await?;
    crate::actions::after(state, gatehouse_core::action::POST_CHANGE_PASSWORD, &user, None, None);
    Ok(user)
}

fn hours(secs: i64) -> String {
    (secs / 3600).max(1).to_string()
}

/// Sends `user` a verification email (a new ticket). `background`: do not wait for
/// the mail server. Returns whether it was sent (always `true` in the background).
pub async fn send_verification_email(
    state: &Services,
    user: &User,
    client_id: Option<String>,
    background: bool,
) -> Result<bool, StoreError> {
    let Some(address) = user.email.clone() else { return Ok(false) };
    let (ttl_secs, result_url) =
        crate::email_settings::link_settings(&state.store, "verify_email", VERIFICATION_TTL_SECS).await;
    let link = issue_ticket(
        state,
        TicketRequest {
            kind: TicketKind::EmailVerification,
            user,
            client_id,
            result_url,
            ttl_secs,
            params: Map::new(),
        },
    )
    .await?;
    let ttl = hours(ttl_secs);
    let email = state
        .mail
        .compose("email-verification.txt", &address, &[("email", &address), ("link", &link), ("ttl_hours", &ttl)])
        .await;
    let on_failure = OnFailure {
        kind: codes::FAILED_VERIFICATION_EMAIL,
        user_id: Some(user.user_id.clone()),
        connection: Some((user.connection_id.clone(), user.connection.clone())),
    };
    if background {
        state.mail.send_in_background(email, on_failure);
        return Ok(true);
    }
    Ok(state.mail.deliver(&email, on_failure).await)
}

/// Starts a password reset for `email` in `connection` and returns at once; the lookup,
/// the ticket and the email happen on their own task, so the caller's answer (and its
/// timing) is the same whether or not the user exists.
pub fn request_password_reset(
    state: &Services,
    connection: Connection,
    email: String,
    client_id: Option<String>,
    ip: Option<String>,
) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(e) = reset_request(&state, &connection, &email, client_id, ip).await {
            tracing::error!(error = %e, "a password reset request failed");
        }
    })
}

/// Whose password a reset for `email` (normalized) in `connection` changes: the user with
/// that email here, or else the one the connection's legacy store has, brought in for the
/// reset ([`crate::legacy::user_for_reset`]).
pub async fn user_for_password_reset(
    state: &Services,
    connection: &Connection,
    email: &str,
) -> Result<Option<User>, StoreError> {
    let here = state.store.user_by_login(&connection.id, email).await?.filter(|u| u.email.as_deref() == Some(email));
    match here {
        Some(user) => Ok(Some(user)),
        None => crate::legacy::user_for_reset(state, connection, email).await,
    }
}

async fn reset_request(
    state: &Services,
    connection: &Connection,
    email: &str,
    client_id: Option<String>,
    ip: Option<String>,
) -> Result<(), StoreError> {
    let user = user_for_password_reset(state, connection, email).await?;
    let mut event = state.audit.event(codes::SUCCESS_CHANGE_PASSWORD_REQUEST);
    event.connection = Some(connection.name.clone());
    event.connection_id = Some(connection.id.clone());
    event.user_name = Some(email.to_string());
    event.client_id = client_id.clone();
    event.ip = ip;
    // The answer is the same either way: it reveals neither the user nor the setting.
    if !connection.self_service_password_change() {
        event.kind = codes::FAILED_CHANGE_PASSWORD_REQUEST.into();
        event.description = Some("Self-service password change is disabled on this connection.".into());
        state.audit.record(event).await;
        return Ok(());
    }
    let Some(user) = user else {
        event.kind = codes::FAILED_CHANGE_PASSWORD_REQUEST.into();
        event.description = Some("The user does not exist.".into());
        state.audit.record(event).await;
        return Ok(());
    };
    event.user_id = Some(user.user_id.clone());
    let (ttl_secs, result_url) =
        crate::email_settings::link_settings(&state.store, "reset_email", RESET_TTL_SECS).await;
    let link = issue_ticket(
        state,
        TicketRequest {
            kind: TicketKind::PasswordChange,
            user: &user,
            client_id,
            result_url,
            ttl_secs,
            // The link arrived by email: using it proves the mailbox.
            params: [("mark_email_as_verified".to_string(), json!(true))].into_iter().collect(),
        },
    )
    .await?;
    let ttl = hours(ttl_secs);
    let message = state
        .mail
        .compose("reset-password.txt", email, &[("email", email), ("link", &link), ("ttl_hours", &ttl)])
        .await;
    let on_failure = OnFailure {
        kind: codes::FAILED_CHANGE_PASSWORD_REQUEST,
        user_id: Some(user.user_id.clone()),
        connection: Some((connection.id.clone(), connection.name.clone())),
    };
    if state.mail.deliver(&message, on_failure).await {
        state.audit.record(event).await;
    }
    Ok(())
}

/// Signs a user up to `connection` from Auth0's sign-up body. Records `ss` or `fs`; on
/// success, unless the email is verified, a verification email goes out.
pub async fn sign_up(
    state: &Services,
    connection: &Connection,
    body: &Value,
    client_id: Option<&str>,
    ip: Option<&str>,
) -> Result<User, SignupError> {
    sign_up_with(state, connection, body, FirstCredential::Password, client_id, ip).await
}

/// How a new user will sign in.
pub enum FirstCredential {
    /// The body's `password`, under the connection's policy.
    Password,
    /// A passkey registered in the sign-up's own ceremony (`crate::passkeys`): the user
    /// gets no password, the id `auth0|{local_id}` the credential's user handle was made
    /// from, and `factor` in the same write.
    Passkey { local_id: String, factor: Box<MfaFactor> },
}

/// [`sign_up`] with the user's first credential: a password, or a passkey.
pub async fn sign_up_with(
    state: &Services,
    connection: &Connection,
    body: &Value,
    credential: FirstCredential,
    client_id: Option<&str>,
    ip: Option<&str>,
) -> Result<User, SignupError> {
    let event = |code| {
        let mut e = state.audit.event(code);
        e.connection = Some(connection.name.clone());
        e.connection_id = Some(connection.id.clone());
        e.client_id = client_id.map(str::to_string);
        e.ip = ip.map(str::to_string);
        e
    };
    if !crate::attack::signup_allowed(state, ip).await.map_err(SignupError::internal)? {
        let mut e = event(codes::BLOCKED_IP);
        e.description = Some("Too many sign-ups from this IP".into());
        state.audit.record(e).await;
        return Err(SignupError::TooManyAttempts);
    }
    let result = create_signed_up_user(state, connection, body, credential, client_id, ip).await;
    let mut e = event(if result.is_ok() { codes::SUCCESS_SIGNUP } else { codes::FAILED_SIGNUP });
    match &result {
        Ok(u) => {
            e.user_id = Some(u.user_id.clone());
            e.user_name = u.email.clone().or_else(|| u.username.clone());
        }
        Err(err) => {
            e.user_name = body.get("email").and_then(Value::as_str).map(|s| s.chars().take(254).collect());
            e.description = Some(match err {
                SignupError::Internal(_) => "Internal error".into(),
                refused => refused.to_string(),
            });
        }
    }
    state.audit.record(e).await;
    let user = result?;
    crate::actions::after(state, gatehouse_core::action::POST_USER_REGISTRATION, &user, client_id, ip);
    if !user.email_verified {
        send_verification_email(state, &user, client_id.map(str::to_string), true).await?;
    }
    Ok(user)
}

async fn create_signed_up_user(
    state: &Services,
    connection: &Connection,
    body: &Value,
    credential: FirstCredential,
    client_id: Option<&str>,
    ip: Option<&str>,
) -> Result<User, SignupError> {
    if !connection.signup_allowed() {
        return Err(SignupError::Disabled);
    }
    let (mut user, password, passkey) = match credential {
        FirstCredential::Password => {
            if !connection.authentication_methods().password {
                return Err(SignupError::Disabled);
            }
            let created = signup_user(body, connection, new_user_local_id(), &state.now())?;
            let password = created.password.unwrap_or_default();
            check_new_password(state, connection, &password, &created.user, false, Setter::SignUp).await.map_err(
                |e| match e {
                    PasswordError::Rejected(r) => SignupError::Password(r),
                    PasswordError::Internal(m) => SignupError::Internal(m),
                    PasswordError::Legacy(e) => SignupError::internal(e),
                },
            )?;
            (created.user, Some(password), None)
        }
        FirstCredential::Passkey { local_id, factor } => {
            if !connection.authentication_methods().passkey {
                return Err(SignupError::Disabled);
            }
            (passkey_signup_user(body, connection, local_id, &state.now())?, None, Some(factor))
        }
    };
    // A user still in the legacy store (automatic migration) must not get a duplicate here.
    if crate::legacy::store_for(state, connection).map_err(SignupError::internal)?.is_some() {
        for login in [user.email.as_deref(), user.username.as_deref()].into_iter().flatten() {
            if crate::legacy::legacy_user_exists(state, connection, login).await.map_err(SignupError::internal)? {
                return Err(SignupError::UserExists);
            }
        }
    }
    // The pre-user-registration Actions: before anything is written.
    crate::actions::pre_user_registration(state, &mut user, client_id, ip)
        .await
        .map_err(|r| SignupError::Denied(r.to_string()))?;
    let Some(password) = password else {
        // A passkey: the user and the credential in one write, or neither.
        let factors: Vec<MfaFactor> =
            passkey.into_iter().map(|f| MfaFactor { user_id: user.user_id.clone(), ..*f }).collect();
        state.store.insert_arrived_user_with_factors(&user, Arrival::SignUp, &user.created_at, &factors).await?;
        return Ok(user);
    };
    // Hashed before the insert, so an existing user costs as long as a new one.
    let hash = state.hashing.hash(password).await.map_err(SignupError::internal)?;
    user.password_hash = Some(hash.clone());
    state.store.insert_arrived_user(&user, Arrival::SignUp, &user.created_at).await?;
    state.store.record_password(&user.user_id, &hash, &user.created_at).await?;
    Ok(user)
}

/// Auth0's sign-up answer: `_id` without the provider prefix, and the profile fields.
pub fn signup_response(u: &User) -> Value {
    let mut m = Map::new();
    m.insert("_id".into(), json!(u.local_id()));
    m.insert("email_verified".into(), json!(u.email_verified));
    let optional = [
        ("email", &u.email),
        ("username", &u.username),
        ("given_name", &u.given_name),
        ("family_name", &u.family_name),
        ("name", &u.name),
        ("nickname", &u.nickname),
        ("picture", &u.picture),
    ];
    for (k, v) in optional {
        if let Some(v) = v {
            m.insert(k.into(), json!(v));
        }
    }
    if !u.user_metadata.is_empty() {
        m.insert("user_metadata".into(), Value::Object(u.user_metadata.clone()));
    }
    Value::Object(m)
}
