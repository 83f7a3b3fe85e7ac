//! The rules of a password login, shared by the hosted login page and the password
//! grants: which connection a client may use, how a password is checked, and what a
//! successful login records.

use crate::attack::{LoginGuard, Refusal};
use crate::hashing::HashPoolError;
use crate::state::AppState;
use gatehouse_core::client::Client;
use gatehouse_core::connection::{Connection, DEFAULT_DATABASE_CONNECTION};
use gatehouse_core::log_event::codes;
use gatehouse_core::user::User;
use gatehouse_core::validate::Email;
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
    Ok(accept_password::<()>(state, connection, username, password, ip, None).await?.user)
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

/// [`password_login`], with `while_verifying` run beside the verify when a core is free
/// for it (see [`WhileVerifying`]).
pub async fn accept_password<T: Send>(
    state: &AppState,
    connection: &Connection,
    username: &str,
    password: &str,
    ip: Option<&str>,
    while_verifying: Option<WhileVerifying<'_, T>>,
) -> Result<Accepted<T>, LoginError> {
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
    let result = unguarded_login(state, connection, &login, found?, password, ip, while_verifying).await;
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
async fn unguarded_login<T: Send>(
    state: &AppState,
    connection: &Connection,
    login: &str,
    user: Option<User>,
    password: &str,
    ip: Option<&str>,
    while_verifying: Option<WhileVerifying<'_, T>>,
) -> Result<Accepted<T>, LoginError> {
    let legacy = crate::legacy::store_for(state, connection).map_err(|_| LoginError::Unavailable)?;
    if let Some(legacy) = legacy.as_ref().filter(|l| !l.import_mode()) {
        return crate::legacy::delegated_login(state, connection, legacy, login, password, ip)
            .await
            .map(Accepted::from);
    }
    match (user, &legacy) {
        (None, Some(legacy)) => {
            crate::legacy::migrating_login(state, connection, legacy, login, password, ip).await.map(Accepted::from)
        }
        (Some(user), Some(legacy))
            if user.password_hash.is_none() && state.store.is_migrated(&user.user_id).await? =>
        {
            crate::legacy::finish_migration_login(state, connection, legacy, user, login, password, ip)
                .await
                .map(Accepted::from)
        }
        (user, _) => local_login(state, connection, login, user, password, ip, while_verifying).await,
    }
}

/// Checks `password` against `user`, a user of `connection` found under `login` (or
/// none: the answer is then a wrong password, after a dummy verify), and records the
/// outcome.
pub(crate) async fn local_login<T: Send>(
    state: &AppState,
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
    state: &AppState,
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
