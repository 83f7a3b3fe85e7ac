//! The rules of a password login, shared by the hosted login page and the password
//! grants: which connection a client may use, attack protection around every attempt,
//! and which check decides it: the local one (`local`) or the connection's legacy store
//! (`legacy`).

mod legacy;
mod local;

use crate::attack::{LoginGuard, Refusal};
use crate::Services;
use gatehouse_core::client::Client;
use gatehouse_core::connection::{Connection, DEFAULT_DATABASE_CONNECTION};
use gatehouse_core::log_event::codes;
use gatehouse_core::user::User;
use gatehouse_core::validate::normalize_login;
use gatehouse_store::StoreError;
use local::local_login;
pub(crate) use local::login_event;

pub use local::{Accepted, LoginError, WhileVerifying};

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

/// Whether `client` may log users in through database connection `connection`: when the
/// connection lists it in `enabled_clients`. The admin console's built-in client may use
/// every database connection, so that no edit of a list (Auth0's PATCH replaces it whole)
/// locks administrators out; who gets in is decided by the console's roles.
fn usable_by(connection: &Connection, client: &Client) -> bool {
    connection.strategy == "auth0"
        && (client.client_id == crate::console::CONSOLE_CLIENT_ID
            || connection.enabled_clients.iter().any(|c| c == &client.client_id))
}

/// The database connection `name` (or, without a name, the default one) if the client
/// may use it. The default is `Username-Password-Authentication` when enabled for the
/// client, else the first enabled database connection.
pub async fn connection_for(
    state: &Services,
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

/// Every connection `client` may sign users in with: its database connections (as
/// [`connection_for`] allows them), and the passwordless, social and OpenID Connect
/// connections that list it in `enabled_clients`. By name.
pub async fn enabled_connections(state: &Services, client: &Client) -> Result<Vec<Connection>, StoreError> {
    let (all, _) = state.store.connections(None, None, None, 0, 1000).await?;
    Ok(all
        .into_iter()
        .filter(|c| {
            usable_by(c, client)
                || (c.strategy != "auth0" && c.enabled_clients.iter().any(|id| id == &client.client_id))
        })
        .collect())
}

/// Whether the user's connection (database, social or OIDC) is still enabled for the
/// client (for single sign-on).
pub async fn user_may_use(state: &Services, client: &Client, user: &User) -> Result<bool, StoreError> {
    Ok(state
        .store
        .connection(&user.connection_id)
        .await?
        .is_some_and(|c| usable_by(&c, client) || c.enabled_clients.iter().any(|id| id == &client.client_id)))
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
    state: &Services,
    connection: &Connection,
    username: &str,
    password: &str,
    ip: Option<&str>,
) -> Result<User, LoginError> {
    Ok(accept_password::<()>(state, connection, username, password, ip, None).await?.user)
}

/// [`password_login`], with `while_verifying` run beside the verify when a core is free
/// for it (see [`WhileVerifying`]).
pub async fn accept_password<T: Send>(
    state: &Services,
    connection: &Connection,
    username: &str,
    password: &str,
    ip: Option<&str>,
    while_verifying: Option<WhileVerifying<'_, T>>,
) -> Result<Accepted<T>, LoginError> {
    let login = normalize_login(username);
    if !connection.authentication_methods().password {
        // A passkey-only connection: no password is checked, whoever asks.
        let why = Some("Password sign-in is disabled for this connection");
        login_event(state, codes::FAILED_LOGIN, connection, None, &login, ip, why).await;
        return Err(LoginError::WrongCredentials);
    }
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
    state: &Services,
    connection: &Connection,
    login: &str,
    user: Option<User>,
    password: &str,
    ip: Option<&str>,
    while_verifying: Option<WhileVerifying<'_, T>>,
) -> Result<Accepted<T>, LoginError> {
    let legacy = crate::legacy::store_for(state, connection).map_err(|_| LoginError::Unavailable)?;
    if let Some(legacy) = legacy.as_ref().filter(|l| !l.import_mode()) {
        return legacy::delegated_login(state, connection, legacy, login, password, ip).await.map(Accepted::from);
    }
    match (user, &legacy) {
        (None, Some(legacy)) => {
            legacy::migrating_login(state, connection, legacy, login, password, ip).await.map(Accepted::from)
        }
        (Some(user), Some(legacy))
            if user.password_hash.is_none() && state.store.is_migrated(&user.user_id).await? =>
        {
            legacy::finish_migration_login(state, connection, legacy, user, login, password, ip)
                .await
                .map(Accepted::from)
        }
        (user, _) => local_login(state, connection, login, user, password, ip, while_verifying).await,
    }
}
