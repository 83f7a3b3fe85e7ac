//! The rules of a password login, shared by the hosted login page and the password
//! grants: which connection a client may use, how a password is checked, and what a
//! successful login records.

use crate::attack::{LoginGuard, Refusal};
use crate::state::AppState;
use gatehouse_core::client::Client;
use gatehouse_core::connection::{Connection, DEFAULT_DATABASE_CONNECTION};
use gatehouse_core::log_event::codes;
use gatehouse_core::user::User;
use gatehouse_core::validate::Email;
use gatehouse_store::{LoginRecord, StoreError};
use std::future::Future;
use std::pin::Pin;

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
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for LoginError {
    fn from(e: StoreError) -> Self {
        Self::Internal(e.to_string())
    }
}

/// Why a client cannot log users in through a connection.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("connection {0:?} does not exist")]
    Unknown(String),
    #[error("the connection is not enabled for this client")]
    NotEnabled,
    #[error("no database connection is enabled for this client")]
    NoneEnabled,
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn usable_by(connection: &Connection, client: &Client) -> bool {
    connection.strategy == "auth0" && connection.enabled_clients.iter().any(|c| c == &client.client_id)
}

/// The database connection `name` (or, without a name, the default one) if the client
/// may use it. The default is `Username-Password-Authentication` when enabled for the
/// client, else the first enabled database connection.
pub async fn connection_for(
    state: &AppState,
    client: &Client,
    name: Option<&str>,
) -> Result<Connection, ConnectionError> {
    if let Some(name) = name {
        let c = state.store.connection_by_name(name).await?.ok_or_else(|| ConnectionError::Unknown(name.into()))?;
        return if usable_by(&c, client) { Ok(c) } else { Err(ConnectionError::NotEnabled) };
    }
    if let Some(c) = state.store.connection_by_name(DEFAULT_DATABASE_CONNECTION).await? {
        if usable_by(&c, client) {
            return Ok(c);
        }
    }
    let (all, _) = state.store.connections(Some("auth0"), None, None, 0, 100).await?;
    all.into_iter().find(|c| usable_by(c, client)).ok_or(ConnectionError::NoneEnabled)
}

/// Whether the user's connection (database, social or OIDC) is still enabled for the
/// client (for single sign-on).
pub async fn user_may_use(state: &AppState, client: &Client, user: &User) -> Result<bool, StoreError> {
    Ok(state
        .store
        .connection(&user.connection_id)
        .await?
        .is_some_and(|c| c.enabled_clients.iter().any(|id| id == &client.client_id)))
}

/// Emails are matched case-insensitively after trimming, as they are stored.
pub fn normalize_login(raw: &str) -> String {
    // No user has a NUL in their login; such a login is nobody's (an unknown user).
    if raw.contains('\0') {
        return String::new();
    }
    match Email::parse(raw) {
        Ok(email) => email.into_string(),
        Err(_) => raw.trim().to_ascii_lowercase(),
    }
}

/// Checks `username`/`password` against `connection`'s users.
///
/// Unknown users cost one dummy verify, so they take as long, and get the same answer,
/// as a wrong password. A blocked user is only told so after the right password. On
/// success a legacy or weak hash is replaced by an argon2id hash, and `last_login`,
/// `logins_count` and `last_ip` are updated. Attack protection runs first: a blocked
/// identifier or a throttled IP is refused before any password is verified.
///
/// A connection with a legacy store (`enabledDatabaseCustomization` + `legacy_store`)
/// asks it about users Gatehouse does not hold (import mode) or about everyone
/// (delegated mode); see `crate::legacy`.
pub async fn password_login(
    state: &AppState,
    connection: &Connection,
    username: &str,
    password: &str,
    ip: Option<&str>,
) -> Result<User, LoginError> {
    accept_password(state, connection, username, password, ip).await?.recorded().await
}

/// A login whose password was right, for a user who may log in, before its success is
/// written (`last_login`, `logins_count`, `last_ip`, an upgraded hash, the audit event).
/// The write is [`Accepted::recorded`]; work that needs only the user, such as signing
/// the login's tokens, can run beside it instead of after it. Dropped unawaited, the login
/// is not counted.
pub struct Accepted<'a> {
    /// The user as the write leaves them.
    pub user: User,
    record: Pin<Box<dyn Future<Output = Result<User, LoginError>> + Send + 'a>>,
}

impl<'a> Accepted<'a> {
    /// A login whose success was written on the way (a migration or a delegated login).
    fn written(user: User) -> Self {
        let stored = user.clone();
        Self { user, record: Box::pin(std::future::ready(Ok(stored))) }
    }

    /// Writes the login's success; the user as stored, or `WrongCredentials` when the
    /// user was deleted since the password was checked.
    pub async fn recorded(self) -> Result<User, LoginError> {
        self.record.await
    }

    /// Splits the accepted user from the pending write, to run the two side by side:
    /// poll the write first (`tokio::join!(biased; …)`) so that it is on its way to the
    /// store before the other work takes the thread.
    pub fn split(self) -> (User, impl Future<Output = Result<User, LoginError>> + Send + 'a) {
        (self.user, self.record)
    }
}

/// [`password_login`] up to the write of its success: see [`Accepted`].
pub async fn accept_password<'a>(
    state: &'a AppState,
    connection: &'a Connection,
    username: &str,
    password: &str,
    ip: Option<&'a str>,
) -> Result<Accepted<'a>, LoginError> {
    let login = normalize_login(username);
    let mut guard = LoginGuard::new(state, connection, &login, ip).await?;
    // The user is looked up while the guard reads its counters: two reads, one wait.
    // A refused login discards what was found; nothing is verified before the guard agrees.
    let lookup = async {
        if login.is_empty() {
            Ok(None)
        } else {
            state.store.user_by_login(&connection.id, &login).await
        }
    };
    let (checked, found) = tokio::join!(guard.check(state), lookup);
    if let Some(refusal) = checked? {
        let (kind, error) = match refusal {
            Refusal::IdentifierBlocked => (codes::BLOCKED_ACCOUNT, LoginError::TooManyAttempts),
            Refusal::IpThrottled => (codes::BLOCKED_IP, LoginError::SuspiciousIp),
        };
        login_event(state, kind, connection, None, &login, ip, Some(&error.to_string())).await;
        return Err(error);
    }
    let result = unguarded_login(state, connection, &login, found?, password, ip).await;
    match &result {
        Ok(_) => guard.succeeded(state).await?,
        Err(LoginError::WrongCredentials) => {
            if guard.failed(state, None).await? {
                let user_id = state.store.user_by_login(&connection.id, &login).await?.map(|u| u.user_id);
                let description =
                    format!("Too many failed logins for {login} from this IP; further attempts are blocked");
                login_event(
                    state,
                    codes::BLOCKED_ACCOUNT,
                    connection,
                    user_id.as_deref(),
                    &login,
                    ip,
                    Some(&description),
                )
                .await;
                if guard.notifies_user() {
                    crate::attack::notify_blocked_user(state, connection, user_id.as_deref(), &login, ip).await;
                }
            }
        }
        Err(_) => {}
    }
    result
}

/// The login itself, local or through the connection's legacy store. `user` is the
/// connection's user under `login`, if it has one.
async fn unguarded_login<'a>(
    state: &'a AppState,
    connection: &'a Connection,
    login: &str,
    user: Option<User>,
    password: &str,
    ip: Option<&'a str>,
) -> Result<Accepted<'a>, LoginError> {
    let legacy = crate::legacy::store_for(state, connection).map_err(|_| LoginError::Unavailable)?;
    if let Some(legacy) = legacy.as_ref().filter(|l| !l.import_mode()) {
        return crate::legacy::delegated_login(state, connection, legacy, login, password, ip)
            .await
            .map(Accepted::written);
    }
    match (user, &legacy) {
        (None, Some(legacy)) => {
            crate::legacy::migrating_login(state, connection, legacy, login, password, ip).await.map(Accepted::written)
        }
        (Some(user), Some(legacy))
            if user.password_hash.is_none() && state.store.is_migrated(&user.user_id).await? =>
        {
            crate::legacy::finish_migration_login(state, connection, legacy, user, login, password, ip)
                .await
                .map(Accepted::written)
        }
        (user, _) => local_login(state, connection, login, user, password, ip).await,
    }
}

/// Checks `password` against `user`, a user of `connection` found under `login` (or
/// none: the answer is then a wrong password, after a dummy verify).
pub(crate) async fn local_login<'a>(
    state: &'a AppState,
    connection: &'a Connection,
    login: &str,
    user: Option<User>,
    password: &str,
    ip: Option<&'a str>,
) -> Result<Accepted<'a>, LoginError> {
    let login = login.to_string();
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let parsed = match stored.as_deref().map(|s| state.hashing.hasher().parse_stored(s)) {
        Some(Ok(h)) => Some(h),
        Some(Err(e)) => {
            tracing::warn!(error = %e, "stored password hash is unusable; treating the login as failed");
            None
        }
        None => None,
    };
    let rehash = parsed.as_ref().is_some_and(|h| state.hashing.hasher().needs_rehash(h));
    let ok =
        state.hashing.verify(parsed, password.to_string()).await.map_err(|e| LoginError::Internal(e.to_string()))?;
    let user_id = user.as_ref().map(|u| u.user_id.clone());
    let Some(user) = user.filter(|_| ok) else {
        // The log tells the two apart (Auth0's `fu`/`fp`); the caller's answer does not.
        let kind = if user_id.is_some() { codes::FAILED_LOGIN_PASSWORD } else { codes::FAILED_LOGIN_USERNAME };
        login_event(state, kind, connection, None, &login, ip, Some("Wrong email or password.")).await;
        return Err(LoginError::WrongCredentials);
    };
    if user.blocked {
        login_event(state, codes::FAILED_LOGIN, connection, Some(&user.user_id), &login, ip, Some("user is blocked"))
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
    let now = state.now();
    let mut accepted = user;
    LoginRecord { now: &now, ip, upgrade: stored.as_deref().zip(new_hash.as_deref()) }.apply_to(&mut accepted);
    let user_id = accepted.user_id.clone();
    let record = async move {
        let record = LoginRecord { now: &now, ip, upgrade: stored.as_deref().zip(new_hash.as_deref()) };
        // None: deleted between the check and the update.
        let updated = state.store.record_login(&user_id, &record).await?.ok_or(LoginError::WrongCredentials)?;
        login_event(
            state,
            codes::SUCCESS_LOGIN,
            connection,
            Some(&updated.user_id),
            &login,
            updated.last_ip.as_deref(),
            None,
        )
        .await;
        Ok(updated)
    };
    Ok(Accepted { user: accepted, record: Box::pin(record) })
}

/// Records a login attempt in the audit log (never the password).
pub(crate) async fn login_event(
    state: &AppState,
    kind: &str,
    connection: &Connection,
    user_id: Option<&str>,
    login: &str,
    ip: Option<&str>,
    description: Option<&str>,
) {
    let mut e = crate::audit::event(state, kind);
    e.connection = Some(connection.name.clone());
    e.connection_id = Some(connection.id.clone());
    e.user_id = user_id.map(str::to_string);
    e.user_name = (!login.is_empty()).then(|| login.to_string());
    e.ip = ip.map(str::to_string);
    e.description = description.map(str::to_string);
    crate::audit::record(state, e).await;
}
