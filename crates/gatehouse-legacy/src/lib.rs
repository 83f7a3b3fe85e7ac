//! Legacy identity stores: the customer's own SQL database, HTTP service or LDAP
//! directory, which Gatehouse asks about users it does not hold (automatic migration) or
//! about every user (delegated mode).
//!
//! This crate owns the `options.legacy_store` configuration of a database connection
//! (strict validation whose errors name the option, and redaction of its secrets) and the
//! three connectors. It runs the customer's queries against the customer's database — the
//! one place outside `gatehouse-store` that holds SQL text, all of it configured, with
//! every value bound. It never verifies a password hash itself: a SQL store hands back the
//! user's hash ([`Login::CheckHash`]) for the caller's bounded hashing pool.

mod config;
mod http;
mod ldap;
mod profile;
mod sql;

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
}

impl LegacyStore {
    /// The legacy store a connection's `options` configure: `None` unless
    /// `enabledDatabaseCustomization` is on and `legacy_store` is present. Connects
    /// lazily: building one does no I/O.
    pub fn from_options(options: &Map<String, Value>, clock: Arc<dyn Clock>) -> Result<Option<Self>, ConfigError> {
        let Some(parsed) = config::parse(options)? else { return Ok(None) };
        let inner = match parsed.kind {
            config::KindConfig::Sql(c) => Kind::Sql(sql::SqlStore::new(c, parsed.timeout)?),
            config::KindConfig::Http(c) => Kind::Http(http::HttpStore::new(c, parsed.timeout, clock)?),
            config::KindConfig::Ldap(c) => Kind::Ldap(ldap::LdapStore::new(c, parsed.timeout)),
        };
        Ok(Some(Self { inner: Arc::new(inner), import_mode: parsed.import_mode, timeout: parsed.timeout }))
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
        }
    }

    /// Whether [`LegacyStore::list`] is configured (`queries.list`, `list_url`; always
    /// for LDAP).
    pub fn can_list(&self) -> bool {
        match &*self.inner {
            Kind::Sql(s) => s.has_query("list"),
            Kind::Http(h) => h.has_endpoint("list"),
            Kind::Ldap(_) => true,
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
    /// parses (never verifies) the hash a SQL store returns.
    pub async fn login(&self, login: &str, password: &str, hasher: &Hasher) -> Result<Login, LegacyError> {
        self.bounded("login", async {
            match &*self.inner {
                Kind::Sql(s) => s.login(login, hasher).await,
                Kind::Http(s) => s.login(login, password).await,
                Kind::Ldap(s) => s.login(login, password).await,
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
                Kind::Ldap(_) => Err(LegacyError::Unsupported("deleting users", "kind (use sql or http)")),
            }
        })
        .await
    }

    /// A page of all users, for bulk-importing those not migrated yet. `after` is the
    /// previous page's `next`.
    pub async fn list(&self, after: Option<&str>, limit: u32, hasher: &Hasher) -> Result<Page, LegacyError> {
        let limit = limit.clamp(1, 10_000);
        // A page may take longer than a login; it still must end.
        match tokio::time::timeout(self.timeout * 6, async {
            match &*self.inner {
                Kind::Sql(s) => s.list(after, limit, hasher).await,
                Kind::Http(s) => s.list(after, limit, hasher).await,
                Kind::Ldap(s) => s.list(after, limit, hasher).await,
            }
        })
        .await
        {
            Ok(r) => r,
            Err(_) => Err(LegacyError::Unavailable("list: no answer in time".into())),
        }
    }
}
