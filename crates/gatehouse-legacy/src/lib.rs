//! Legacy identity stores: the customer's own SQL database, HTTP service or LDAP
//! directory, a live Auth0 tenant, or Auth0's custom database scripts run unchanged, which Gatehouse asks about users it does not hold
//! (automatic migration) or about every user (delegated mode).
//!
//! This crate owns the `options.legacy_store` configuration of a database connection
//! (strict validation whose errors name the option, and redaction of its secrets) and the
//! four connectors. It runs the customer's queries against the customer's database — the
//! one place outside `gatehouse-store` that holds SQL text, all of it configured, with
//! every value bound. It never verifies a password hash itself: a SQL store hands back the
//! user's hash ([`Login::CheckHash`]) for the caller's bounded hashing pool.

mod auth0;
mod config;
mod http;
mod ldap;
mod profile;
mod scripts;
mod sql;

pub use auth0::PASSWORD_REALM;
pub use config::{redact_options, restore_masked, validate_options, ConfigError, MASK};
pub use http::{signature as hmac_signature, SIGNATURE_HEADER, TIMESTAMP_HEADER};
pub use ldap::escape_filter_value;
pub use profile::Profile;
pub use sql::rewrite_named_params;

use gatehouse_core::clock::Clock;
use gatehouse_hash::{Hasher, PasswordHash};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;

/// What a legacy store says about a login attempt.
#[derive(Debug)]
pub enum Login {
    /// The store checked the password itself (HTTP, LDAP).
    Verified(Profile),
    /// The store gave the user's password hash; the caller verifies the password.
    CheckHash(Profile, PasswordHash),
    /// Unknown user or wrong password (a store need not say which).
    Rejected,
}

/// A user read by [`LegacyStore::list`], with the password hash when the store has one.
#[derive(Debug)]
pub struct ListedUser {
    pub profile: Profile,
    pub hash: Option<PasswordHash>,
}

/// One page of [`LegacyStore::list`]; `next` continues it, `None` at the end.
#[derive(Debug, Default)]
pub struct Page {
    pub users: Vec<ListedUser>,
    pub next: Option<String>,
}

/// What a sign-up in delegated mode sends to the legacy store.
#[derive(Debug, Clone)]
pub struct NewLegacyUser {
    pub email: String,
    pub username: Option<String>,
    /// For HTTP and LDAP stores, which hash it themselves.
    pub password: String,
    /// For SQL stores (`:password_hash`): an argon2id PHC string made by the caller.
    pub password_hash: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LegacyError {
    /// Down, slow, or answering something unusable. The detail is for the log.
    #[error("the legacy store is unavailable: {0}")]
    Unavailable(String),
    /// The connection's `legacy_store` does not configure this operation.
    #[error("the legacy store does not support {0}: configure options.legacy_store.{1}")]
    Unsupported(&'static str, &'static str),
    /// `create` of a user the legacy store already has.
    #[error("the user already exists")]
    UserExists,
    /// The store knows the password is right but refuses the login for a reason only it
    /// can lift (an Auth0 tenant's `mfa_required`, `password_leaked`).
    #[error("the legacy store refused the login ({code}): {reason}")]
    Refused { code: &'static str, reason: String },
    /// The store blocked this user after too many failed logins (`too_many_attempts`).
    #[error("the legacy store blocked the user after too many failed logins")]
    TooManyAttempts,
    /// The store says the user is blocked.
    #[error("the legacy store says the user is blocked")]
    UserBlocked,
    /// The store rate-limits Gatehouse longer than the call may wait.
    #[error("the legacy store rate-limits its callers; retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
}

impl LegacyError {
    pub(crate) fn unavailable(what: &str, e: impl std::fmt::Display) -> Self {
        Self::Unavailable(format!("{what}: {e}"))
    }
}

/// A configured legacy store. Cheap to clone; clones share pools and clients.
#[derive(Debug, Clone)]
pub struct LegacyStore {
    inner: Arc<Kind>,
    import_mode: bool,
    timeout: Duration,
}

#[derive(Debug)]
enum Kind {
    Sql(sql::SqlStore),
    Http(http::HttpStore),
    Ldap(ldap::LdapStore),
    Auth0(auth0::Auth0Store),
    Scripts(scripts::ScriptStore),
}

impl LegacyStore {
    /// The legacy store a connection's `options` configure: `None` unless
    /// `enabledDatabaseCustomization` is on and `legacy_store` is present. Connects
    /// lazily: building one does no I/O.
    pub fn from_options(options: &Map<String, Value>, clock: Arc<dyn Clock>) -> Result<Option<Self>, ConfigError> {
        Self::for_connection(options, clock, None, "")
    }

    /// Like [`LegacyStore::from_options`], for the connection named `connection`: with
    /// `sandbox`, a connection whose `customScripts` has a `login` script (and no
    /// `legacy_store`) runs Auth0's custom database scripts in it.
    pub fn for_connection(
        options: &Map<String, Value>,
        clock: Arc<dyn Clock>,
        sandbox: Option<&gatehouse_scripts::Sandbox>,
        connection: &str,
    ) -> Result<Option<Self>, ConfigError> {
        let Some(parsed) = config::parse(options)? else { return Ok(None) };
        let mut timeout = parsed.timeout;
        let inner = match parsed.kind {
            config::KindConfig::Sql(c) => Kind::Sql(sql::SqlStore::new(c, parsed.timeout)?),
            config::KindConfig::Http(c) => Kind::Http(http::HttpStore::new(c, parsed.timeout, clock)?),
            config::KindConfig::Ldap(c) => Kind::Ldap(ldap::LdapStore::new(c, parsed.timeout)),
            config::KindConfig::Auth0(c) => Kind::Auth0(auth0::Auth0Store::new(c, parsed.timeout, clock)?),
            config::KindConfig::Scripts(c) => {
                let sandbox = sandbox.ok_or_else(|| ConfigError {
                    field: String::new(),
                    reason: "custom database scripts run only in a running server".into(),
                })?;
                // The sandbox holds each run to its own limit.
                timeout = sandbox.limits().timeout + Duration::from_secs(1);
                Kind::Scripts(scripts::ScriptStore::new(c, sandbox.clone(), connection))
            }
        };
        Ok(Some(Self { inner: Arc::new(inner), import_mode: parsed.import_mode, timeout }))
    }

    /// `true`: automatic migration (users move into Gatehouse on their first login);
    /// `false`: delegated (the legacy store stays the source of truth).
    pub fn import_mode(&self) -> bool {
        self.import_mode
    }

    pub fn kind(&self) -> &'static str {
        match &*self.inner {
            Kind::Sql(_) => "sql",
            Kind::Http(_) => "http",
            Kind::Ldap(_) => "ldap",
            Kind::Auth0(_) => "auth0",
            Kind::Scripts(_) => "scripts",
        }
    }

    /// Whether [`LegacyStore::list`] is configured (`queries.list`, `list_url`; always
    /// for LDAP and Auth0).
    pub fn can_list(&self) -> bool {
        match &*self.inner {
            Kind::Sql(s) => s.has_query("list"),
            Kind::Http(h) => h.has_endpoint("list"),
            Kind::Ldap(_) | Kind::Auth0(_) => true,
            Kind::Scripts(_) => false,
        }
    }

    /// Runs `f` within the store's timeout; a store that does not answer in time is
    /// unavailable.
    async fn bounded<T>(
        &self,
        what: &str,
        f: impl std::future::Future<Output = Result<T, LegacyError>>,
    ) -> Result<T, LegacyError> {
        match tokio::time::timeout(self.timeout, f).await {
            Ok(r) => r,
            Err(_) => {
                Err(LegacyError::Unavailable(format!("{what}: no answer within {} ms", self.timeout.as_millis())))
            }
        }
    }

    /// Asks the store about `login` (an email or a username) and `password`. `hasher`
    /// parses (never verifies) the hash a SQL store returns; `ip`, the end user's address,
    /// goes to an Auth0 tenant (`auth0-forwarded-for`).
    pub async fn login(
        &self,
        login: &str,
        password: &str,
        ip: Option<&str>,
        hasher: &Hasher,
    ) -> Result<Login, LegacyError> {
        self.bounded("login", async {
            match &*self.inner {
                Kind::Sql(s) => s.login(login, hasher).await,
                Kind::Http(s) => s.login(login, password).await,
                Kind::Ldap(s) => s.login(login, password).await,
                Kind::Auth0(s) => s.login(login, password, ip, self.timeout).await,
                Kind::Scripts(s) => s.login(login, password).await,
            }
        })
        .await
    }

    /// The user with this email or username, if the store has one.
    pub async fn get_user(&self, login: &str) -> Result<Option<Profile>, LegacyError> {
        self.bounded("get_user", async {
            match &*self.inner {
                Kind::Sql(s) => s.get_user(login).await,
                Kind::Http(s) => s.get_user(login).await,
                Kind::Ldap(s) => s.get_user(login).await,
                Kind::Auth0(s) => s.get_user(login, self.timeout).await,
                Kind::Scripts(s) if s.has_script("get_user") => s.get_user(login).await,
                // Without get_user, Auth0 cannot look a user up either.
                Kind::Scripts(_) => Ok(None),
            }
        })
        .await
    }

    /// Creates a user in the store (delegated sign-up).
    pub async fn create(&self, user: &NewLegacyUser) -> Result<(), LegacyError> {
        self.bounded("create", async {
            match &*self.inner {
                Kind::Sql(s) => s.create(user).await,
                Kind::Http(s) => s.create(user).await,
                Kind::Auth0(s) => s.create(user, self.timeout).await,
                Kind::Scripts(s) => s.create(user).await,
                Kind::Ldap(_) => Err(LegacyError::Unsupported("creating users", "kind (use sql or http)")),
            }
        })
        .await
    }

    /// Changes a user's password; `false` when the store has no such user.
    pub async fn change_password(&self, email: &str, password: &str, password_hash: &str) -> Result<bool, LegacyError> {
        self.bounded("change_password", async {
            match &*self.inner {
                Kind::Sql(s) => s.change_password(email, password_hash).await,
                Kind::Http(s) => s.change_password(email, password).await,
                Kind::Ldap(s) => s.change_password(email, password).await,
                Kind::Auth0(s) => s.change_password(email, password, self.timeout).await,
                Kind::Scripts(s) => s.change_password(email, password).await,
            }
        })
        .await
    }

    /// Marks a user's email verified.
    pub async fn verify(&self, email: &str) -> Result<(), LegacyError> {
        self.bounded("verify", async {
            match &*self.inner {
                Kind::Sql(s) => s.verify(email).await,
                Kind::Http(s) => s.verify(email).await,
                Kind::Auth0(s) => s.verify(email, self.timeout).await,
                Kind::Scripts(s) => s.verify(email).await,
                Kind::Ldap(_) => Err(LegacyError::Unsupported("verifying emails", "kind (use sql or http)")),
            }
        })
        .await
    }

    /// Deletes a user by the id the store gave it.
    pub async fn delete(&self, user_id: &str) -> Result<(), LegacyError> {
        self.bounded("delete", async {
            match &*self.inner {
                Kind::Sql(s) => s.delete(user_id).await,
                Kind::Http(s) => s.delete(user_id).await,
                Kind::Auth0(s) => s.delete(user_id, self.timeout).await,
                Kind::Scripts(s) => s.delete(user_id).await,
                Kind::Ldap(_) => Err(LegacyError::Unsupported("deleting users", "kind (use sql or http)")),
            }
        })
        .await
    }

    /// A page of all users, for bulk-importing those not migrated yet. `after` is the
    /// previous page's `next`.
    pub async fn list(&self, after: Option<&str>, limit: u32, hasher: &Hasher) -> Result<Page, LegacyError> {
        let limit = limit.clamp(1, 10_000);
        // A page may take longer than a login (an Auth0 tenant's export longer still); it
        // still must end.
        let budget = match &*self.inner {
            Kind::Auth0(s) => s.list_budget() + self.timeout,
            _ => self.timeout * 6,
        };
        match tokio::time::timeout(budget, async {
            match &*self.inner {
                Kind::Sql(s) => s.list(after, limit, hasher).await,
                Kind::Http(s) => s.list(after, limit, hasher).await,
                Kind::Ldap(s) => s.list(after, limit, hasher).await,
                Kind::Auth0(s) => s.list(after, limit).await,
                Kind::Scripts(_) => {
                    Err(LegacyError::Unsupported("listing users", "customScripts (Auth0's scripts cannot list users)"))
                }
            }
        })
        .await
        {
            Ok(r) => r,
            Err(_) => Err(LegacyError::Unavailable("list: no answer in time".into())),
        }
    }
}
