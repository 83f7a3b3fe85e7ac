//! Logins through a connection's legacy identity store: automatic migration on first
//! login (import mode), the last step of a migration without a password, and delegated
//! mode (the legacy store stays the source of truth). What to keep of a legacy profile
//! is `crate::legacy`'s; the local password check is `super::local`'s.

use super::local::{local_login, login_event, LoginError};
use crate::legacy::{sync_profile, user_from_profile, SyncError};
use crate::Services;
use gatehouse_core::connection::Connection;
use gatehouse_core::log_event::codes;
use gatehouse_core::user::User;
use gatehouse_legacy::{LegacyError, LegacyStore, Login, Profile};
use gatehouse_store::{Arrival, StoreError};

/// Records the outage and turns it into the login's answer. Nothing was created.
async fn unavailable(
    state: &Services,
    connection: &Connection,
    login: &str,
    ip: Option<&str>,
    e: &LegacyError,
) -> LoginError {
    tracing::warn!(connection = %connection.name, error = %e, "legacy store unavailable during a login");
    login_event(state, codes::FAILED_LOGIN, connection, None, login, ip, Some("legacy identity store unavailable"))
        .await;
    LoginError::Unavailable
}

/// A legacy store's refusal that is not a wrong password: the user blocked there, a
/// factor or a breached-password check only it can lift, or an outage (its rate limits
/// included). Logged as a failed login; nothing was created.
async fn refused(
    state: &Services,
    connection: &Connection,
    login: &str,
    ip: Option<&str>,
    e: LegacyError,
) -> LoginError {
    let (error, description) = match e {
        LegacyError::TooManyAttempts => {
            (LoginError::TooManyAttempts, "blocked by the legacy store (too_many_attempts)")
        }
        LegacyError::UserBlocked => (LoginError::Blocked, "user is blocked in the legacy store"),
        LegacyError::Refused { code, reason } => {
            tracing::info!(connection = %connection.name, code, reason = %reason, "the legacy store refused a login");
            let error = if code == "mfa_required" {
                LoginError::LegacyRefused(
                    "This account uses multi-factor authentication at its previous provider, so it cannot be moved \
                     by signing in. Reset your password to continue."
                        .into(),
                )
            } else {
                LoginError::LegacyRefused(
                    "This password was found in a data breach and cannot be used. Reset your password to continue."
                        .into(),
                )
            };
            (error, "refused by the legacy store")
        }
        other => return unavailable(state, connection, login, ip, &other).await,
    };
    login_event(state, codes::FAILED_LOGIN, connection, None, login, ip, Some(description)).await;
    error
}

/// Asks the legacy store about a login and verifies a returned hash: the profile when the
/// password is right, `None` (after a verify's worth of work) when not.
async fn ask(
    state: &Services,
    connection: &Connection,
    legacy: &LegacyStore,
    login: &str,
    password: &str,
    ip: Option<&str>,
) -> Result<Option<Profile>, LoginError> {
    let pool = &state.hashing;
    let internal = |e: crate::hashing::HashPoolError| LoginError::Internal(e.to_string());
    let answer =
        if login.is_empty() { Ok(Login::Rejected) } else { legacy.login(login, password, ip, pool.hasher()).await };
    let (profile, kind) = match answer {
        Err(e) => return Err(refused(state, connection, login, ip, e).await),
        Ok(Login::Verified(p)) => (Some(p), codes::FAILED_LOGIN_PASSWORD),
        Ok(Login::CheckHash(p, hash)) => {
            let ok = pool.verify(Some(hash), password.to_string()).await.map_err(internal)?;
            (ok.then_some(p), codes::FAILED_LOGIN_PASSWORD)
        }
        Ok(Login::Rejected) => {
            // As long as a real verify, so the answer's timing says nothing.
            pool.verify(None, password.to_string()).await.map_err(internal)?;
            (None, codes::FAILED_LOGIN_USERNAME)
        }
    };
    if profile.is_none() {
        login_event(state, kind, connection, None, login, ip, Some("Wrong email or password.")).await;
    }
    Ok(profile)
}

/// Automatic migration: the user is not in Gatehouse yet, so the legacy store decides;
/// on success the user is created here with a fresh argon2id hash of `password`, and the
/// legacy store is never asked about them again. A concurrent first login that created
/// the user first wins: this one then logs in against the stored user.
pub async fn migrating_login(
    state: &Services,
    connection: &Connection,
    legacy: &LegacyStore,
    login: &str,
    password: &str,
    ip: Option<&str>,
) -> Result<User, LoginError> {
    let Some(profile) = ask(state, connection, legacy, login, password, ip).await? else {
        return Err(LoginError::WrongCredentials);
    };
    let user = import_with_password(state, connection, &profile, password, ip).await?;
    login_event(
        state,
        codes::SUCCESS_LOGIN,
        connection,
        Some(&user.user_id),
        login,
        ip,
        Some("migrated from the legacy store"),
    )
    .await;
    Ok(user)
}

/// Creates a not-yet-migrated legacy user in Gatehouse with `password` (just typed at a
/// login, or chosen in a password reset), counting a login when `ip`-bearing logins call
/// it. On a conflict (the user was migrated meanwhile) the stored user is checked
/// against `password` instead.
pub async fn import_with_password(
    state: &Services,
    connection: &Connection,
    profile: &Profile,
    password: &str,
    ip: Option<&str>,
) -> Result<User, LoginError> {
    let now = state.now();
    let mut user = user_from_profile(connection, profile, &now).map_err(|e| {
        tracing::warn!(connection = %connection.name, legacy_user_id = %profile.user_id, error = %e, "unusable legacy profile");
        LoginError::Unavailable
    })?;
    user.password_hash =
        Some(state.hashing.hash(password.to_string()).await.map_err(|e| LoginError::Internal(e.to_string()))?);
    user.logins_count = 1;
    user.last_login = Some(now.clone());
    user.last_ip = ip.map(str::to_string);
    match state.store.insert_arrived_user(&user, Arrival::Login, &now).await {
        Ok(()) => Ok(user),
        Err(StoreError::Conflict(_)) => {
            let login = user.email.clone().or(user.username.clone()).unwrap_or_default();
            let mut existing = state.store.user_by_login(&connection.id, &login).await?;
            if existing.is_none() {
                existing = state.store.user(&user.user_id).await?.filter(|u| u.connection_id == connection.id);
            }
            local_login::<()>(state, connection, &login, existing, password, ip, None).await.map(|a| a.user)
        }
        Err(e) => Err(e.into()),
    }
}

/// A user moved in without a password (by `migrate-remaining` from a store that keeps no
/// hashes, or by a password reset not finished yet) still has their legacy password: the
/// legacy store checks it, and on success it becomes their password here. The legacy
/// answer must be this very user (same legacy id), or it is a wrong password.
pub async fn finish_migration_login(
    state: &Services,
    connection: &Connection,
    legacy: &LegacyStore,
    user: User,
    login: &str,
    password: &str,
    ip: Option<&str>,
) -> Result<User, LoginError> {
    let Some(profile) = ask(state, connection, legacy, login, password, ip).await? else {
        return Err(LoginError::WrongCredentials);
    };
    let same_user = user_from_profile(connection, &profile, &state.now()).is_ok_and(|u| u.user_id == user.user_id);
    if !same_user {
        login_event(state, codes::FAILED_LOGIN_PASSWORD, connection, None, login, ip, Some("Wrong email or password."))
            .await;
        return Err(LoginError::WrongCredentials);
    }
    let hash = state.hashing.hash(password.to_string()).await.map_err(|e| LoginError::Internal(e.to_string()))?;
    let now = state.now();
    let user = state
        .store
        .modify_user(&user.user_id, |u| {
            // A reset finished meanwhile wins.
            if u.password_hash.is_none() {
                u.password_hash = Some(hash);
                u.updated_at = now.clone();
            }
            Ok::<_, LoginError>(())
        })
        .await??;
    // The counters, the blocked check and the events are the ordinary login's.
    local_login::<()>(state, connection, login, Some(user), password, ip, None).await.map(|a| a.user)
}

/// Delegated mode: every login asks the legacy store, and the profile copy here follows
/// what it answers.
pub async fn delegated_login(
    state: &Services,
    connection: &Connection,
    legacy: &LegacyStore,
    login: &str,
    password: &str,
    ip: Option<&str>,
) -> Result<User, LoginError> {
    let Some(profile) = ask(state, connection, legacy, login, password, ip).await? else {
        return Err(LoginError::WrongCredentials);
    };
    let user = sync_profile(state, connection, &profile, Some(ip)).await.map_err(|e| match e {
        SyncError::Profile(m) => {
            tracing::warn!(connection = %connection.name, error = %m, "unusable legacy profile");
            LoginError::Unavailable
        }
        SyncError::Store(e) => e.into(),
    })?;
    if user.blocked {
        login_event(state, codes::FAILED_LOGIN, connection, Some(&user.user_id), login, ip, Some("user is blocked"))
            .await;
        return Err(LoginError::Blocked);
    }
    login_event(state, codes::SUCCESS_LOGIN, connection, Some(&user.user_id), login, ip, None).await;
    Ok(user)
}
