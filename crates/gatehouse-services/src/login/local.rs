//! The local password check: a user of the connection (or nobody, at the cost of a dummy
//! verify) against the typed password, a legacy or weak hash upgraded on success, and
//! every outcome audited. What a login may yield is defined here, so that both the local
//! and the legacy paths speak it.

use crate::hashing::HashPoolError;
use crate::Services;
use gatehouse_core::connection::Connection;
use gatehouse_core::log_event::codes;
use gatehouse_core::user::User;
use gatehouse_store::{LoginRecord, StoreError};

/// Why a login failed. `WrongCredentials` covers unknown users and wrong passwords alike.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("Wrong email or password.")]
    WrongCredentials,
    #[error("user is blocked")]
    Blocked,
    /// The connection's legacy identity store is down or too slow; nothing was created.
    #[error("We cannot check your password right now. Please try again in a few minutes.")]
    Unavailable,
    /// Brute-force protection blocked this identifier (from this IP).
    #[error(
        "Your account has been blocked after multiple consecutive login attempts. We've sent you an email with \
         instructions on how to unblock it."
    )]
    TooManyAttempts,
    /// Suspicious-IP throttling: too many failures from this address across accounts.
    #[error("We have detected suspicious login behavior and further attempts will be blocked. Please contact the administrator.")]
    SuspiciousIp,
    /// The legacy store accepted the password but refuses the login for a reason only it
    /// could lift (multi-factor authentication, a breached password); the message says
    /// what the user can do. Nothing was created.
    #[error("{0}")]
    LegacyRefused(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for LoginError {
    fn from(e: StoreError) -> Self {
        match e {
            // Gatehouse's own store did not answer: the same "try again" as a legacy one.
            StoreError::Unavailable(detail) => {
                tracing::warn!(error = %detail, "login: database unavailable");
                Self::Unavailable
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

/// Work for the user a login names that may run while the password is being verified,
/// on a core that would otherwise idle beside the verify: signing the login's tokens.
///
/// It runs before anyone knows whether the password is right, so it must do nothing but
/// compute its result, which is dropped unless the login succeeds. It is given the user
/// as the login's success would leave them. An unknown login runs the same work on a
/// stand-in user, so what the work costs says nothing about which logins exist.
pub type WhileVerifying<'w, T> = &'w (dyn Fn(&User) -> T + Sync);

/// A successful login, its success written (`last_login`, `logins_count`, `last_ip`, an
/// upgraded hash, the audit event).
pub struct Accepted<T = ()> {
    /// The user as stored after the login.
    pub user: User,
    /// What the [`WhileVerifying`] work gave for this user, if it ran.
    pub early: Option<T>,
}

impl<T> From<User> for Accepted<T> {
    fn from(user: User) -> Self {
        Self { user, early: None }
    }
}

/// Checks `password` against `user`, a user of `connection` found under `login` (or
/// none: the answer is then a wrong password, after a dummy verify), and records the
/// outcome.
pub(super) async fn local_login<T: Send>(
    state: &Services,
    connection: &Connection,
    login: &str,
    user: Option<User>,
    password: &str,
    ip: Option<&str>,
    while_verifying: Option<WhileVerifying<'_, T>>,
) -> Result<Accepted<T>, LoginError> {
    let stored = user.as_ref().and_then(|u| u.password_hash.as_deref());
    let parsed = match stored.map(|s| state.hashing.hasher().parse_stored(s)) {
        Some(Ok(h)) => Some(h),
        Some(Err(e)) => {
            tracing::warn!(error = %e, "stored password hash is unusable; treating the login as failed");
            None
        }
        None => None,
    };
    let rehash = parsed.as_ref().is_some_and(|h| state.hashing.hasher().needs_rehash(h));
    let attempt = Attempt { connection, login, password, ip, now: state.now() };
    let verify = state.hashing.verify(parsed, password.to_string());
    // With a rehash to follow, the user is not yet as the login will leave them.
    match while_verifying.filter(|_| !rehash && state.hashing.leaves_a_core_idle()) {
        Some(work) => {
            let mut predicted = user.clone().unwrap_or_else(|| stand_in(connection, login));
            LoginRecord { now: &attempt.now, ip, upgrade: None }.apply_to(&mut predicted);
            let checked = async { settle(state, &attempt, user, verify.await, rehash).await };
            // Biased: the verify is queued for its thread before the work takes this one.
            let (user, early) = tokio::join!(biased; checked, async { work(&predicted) });
            let user = user?;
            // A change to the user made meanwhile (by an administrator, say) voids the work.
            let early = (user == predicted).then_some(early);
            Ok(Accepted { user, early })
        }
        None => Ok(settle(state, &attempt, user, verify.await, rehash).await?.into()),
    }
}

/// One password login as it is being checked: where, under which login, from where, when.
struct Attempt<'a> {
    connection: &'a Connection,
    login: &'a str,
    password: &'a str,
    ip: Option<&'a str>,
    now: String,
}

/// What a verify's answer means for the login: the failure logged, or a blocked user
/// refused, or the success recorded (with a legacy or weak hash upgraded first).
async fn settle(
    state: &Services,
    attempt: &Attempt<'_>,
    user: Option<User>,
    verified: Result<bool, HashPoolError>,
    rehash: bool,
) -> Result<User, LoginError> {
    let Attempt { connection, login, password, ip, ref now } = *attempt;
    let ok = verified.map_err(|e| LoginError::Internal(e.to_string()))?;
    let user_id = user.as_ref().map(|u| u.user_id.clone());
    let Some(user) = user.filter(|_| ok) else {
        // The log tells the two apart (Auth0's `fu`/`fp`); the caller's answer does not.
        let kind = if user_id.is_some() { codes::FAILED_LOGIN_PASSWORD } else { codes::FAILED_LOGIN_USERNAME };
        login_event(state, kind, connection, None, login, ip, Some("Wrong email or password.")).await;
        return Err(LoginError::WrongCredentials);
    };
    if user.blocked {
        login_event(state, codes::FAILED_LOGIN, connection, Some(&user.user_id), login, ip, Some("user is blocked"))
            .await;
        return Err(LoginError::Blocked);
    }
    let new_hash = if rehash {
        match state.hashing.hash(password.to_string()).await {
            Ok(h) => Some(h),
            Err(e) => {
                // The login itself succeeded; the upgrade waits for the next one.
                tracing::warn!(error = %e, user_id = %user.user_id, "password hash upgrade failed");
                None
            }
        }
    } else {
        None
    };
    let stored = user.password_hash.as_deref();
    let record = LoginRecord { now, ip, upgrade: stored.zip(new_hash.as_deref()) };
    // None: deleted between the check and the update.
    let updated = state.store.record_login(&user.user_id, &record).await?.ok_or(LoginError::WrongCredentials)?;
    login_event(
        state,
        codes::SUCCESS_LOGIN,
        connection,
        Some(&updated.user_id),
        login,
        updated.last_ip.as_deref(),
        None,
    )
    .await;
    Ok(updated)
}

/// Whom an unknown login's [`WhileVerifying`] work is done for: a user as a sign-up
/// under that login would make them, so the work costs what it costs for a real one.
fn stand_in(connection: &Connection, login: &str) -> User {
    User {
        user_id: format!("auth0|{}", gatehouse_core::ids::new_user_local_id()),
        connection_id: connection.id.clone(),
        connection: connection.name.clone(),
        provider: "auth0".into(),
        email: Some(login.to_string()),
        ..User::default()
    }
}

/// Records a login attempt in the audit log (never the password).
pub(crate) async fn login_event(
    state: &Services,
    kind: &str,
    connection: &Connection,
    user_id: Option<&str>,
    login: &str,
    ip: Option<&str>,
    description: Option<&str>,
) {
    let mut e = state.audit.event(kind);
    e.connection = Some(connection.name.clone());
    e.connection_id = Some(connection.id.clone());
    e.user_id = user_id.map(str::to_string);
    e.user_name = (!login.is_empty()).then(|| login.to_string());
    e.ip = ip.map(str::to_string);
    e.description = description.map(str::to_string);
    state.audit.record(e).await;
}
