//! The [`Store`]: every read and write Gatehouse makes.

use crate::config_cache::{ConfigCache, ConfigKey};
use crate::error::StoreError;
use crate::held::{HeldConnections, SyncReaders, WriterThread};
use crate::rows::FromRow;
use crate::search;
use crate::sql::{Dialect, SqlValue};
use gatehouse_core::client::{Client, ClientGrant};
use gatehouse_core::connection::Connection;
use gatehouse_core::user::User;
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::types::Json;
use std::str::FromStr;
use std::sync::LazyLock;
use std::time::Duration;

#[derive(Debug, Clone)]
pub(crate) enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Starts a transaction that will write. On SQLite it is `BEGIN IMMEDIATE`: a deferred
/// transaction that reads before it writes fails at once with `SQLITE_BUSY` when another
/// connection wrote in between (WAL cannot upgrade a stale snapshot, and the busy handler
/// is not consulted); taking the write lock first waits for it instead.
pub(crate) trait BeginWrite {
    type Db: sqlx::Database;
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>> + Send;
}

impl BeginWrite for SqlitePool {
    type Db = sqlx::Sqlite;
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>> + Send {
        self.begin_with("BEGIN IMMEDIATE")
    }
}

impl BeginWrite for PgPool {
    type Db = sqlx::Postgres;
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>> + Send {
        self.begin()
    }
}

/// The store handle. Cheap to clone; all clones share one connection pool.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) backend: Backend,
    /// The SQLite file, for the bulk path's own connection (`None` for in-memory stores
    /// and PostgreSQL).
    pub(crate) sqlite_file: Option<std::path::PathBuf>,
    pub(crate) bulk: crate::bulk::BulkConnection,
    /// Held connections for the token endpoint's statements (SQLite files only).
    pub(crate) held: Option<std::sync::Arc<Held>>,
    /// Clients, grants, connections and settings as recently read (`crate::config_cache`).
    pub(crate) config: std::sync::Arc<ConfigCache>,
}

/// See `crate::held`.
#[derive(Debug)]
pub(crate) struct Held {
    pub(crate) readers: HeldConnections,
    pub(crate) sync_readers: SyncReaders,
    pub(crate) writer: WriterThread,
}

pub(crate) const USER_COLUMNS: &str = "user_id, connection_id, connection, provider, email, email_verified, username, \
    phone_number, phone_verified, name, nickname, given_name, family_name, picture, password_hash, \
    user_metadata, app_metadata, blocked, logins_count, last_login, last_ip, last_password_reset, \
    created_at, updated_at";

/// A page of a user search.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    /// Auth0 v3 search syntax.
    pub q: Option<String>,
    /// Only users of this connection (by name).
    pub connection: Option<String>,
    /// `field:1` or `field:-1`.
    pub sort: Option<String>,
    pub offset: u32,
    pub limit: u32,
}

/// What a successful password login changes on its user.
#[derive(Debug, Clone, Copy)]
pub struct LoginRecord<'a> {
    pub now: &'a str,
    /// Kept as it is when the login came from no known address.
    pub ip: Option<&'a str>,
    /// `(verified, stronger)`: the stored hash the password was just verified against,
    /// and its replacement. Replaced only if still stored: a concurrent password change wins.
    pub upgrade: Option<(&'a str, &'a str)>,
}

impl LoginRecord<'_> {
    /// `user` as [`Store::record_login`] leaves it, for work done beside that write
    /// (signing the login's tokens) rather than after it.
    pub fn apply_to(&self, user: &mut User) {
        user.logins_count += 1;
        user.last_login = Some(self.now.to_owned());
        if let Some(ip) = self.ip {
            user.last_ip = Some(ip.to_owned());
        }
        if let Some((verified, stronger)) = self.upgrade {
            if user.password_hash.as_deref() == Some(verified) {
                user.password_hash = Some(stronger.to_owned());
            }
        }
        user.updated_at = self.now.to_owned();
    }
}

/// A key Gatehouse signs tokens with. The newest `current` key signs; retired keys stay
/// published until tokens signed with them have expired.
#[derive(Debug, Clone)]
pub struct SigningKey {
    pub kid: String,
    pub alg: String,
    pub private_pem: String,
    pub public_jwk: Value,
    pub current: bool,
    pub created_at: String,
    pub retired_at: Option<String>,
}

/// A new signing key, current (`$5` true); the one INSERT both key writes share.
const INSERT_SIGNING_KEY: &str =
    "INSERT INTO signing_keys (kid, alg, private_pem, public_jwk, current, created_at) VALUES ($1,$2,$3,$4,$5,$6)";

impl Store {
    /// Opens the store named by `url` (`sqlite://path`, `sqlite::memory:`, `postgres://…`)
    /// and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_in_schema(url, None).await
    }

    /// Like [`Store::connect`]; on PostgreSQL, keeps every table in `schema` (created if
    /// missing). Lets several Gatehouse deployments, or test runs, share one database.
    pub async fn connect_in_schema(url: &str, schema: Option<&str>) -> Result<Self, StoreError> {
        let mut sqlite_file = None;
        let mut held = None;
        let backend = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .pragma("temp_store", "memory")
                .pragma("cache_size", "-65536");
            if let Some(dir) = options.get_filename().parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir).map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
                }
            }
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            if !in_memory {
                sqlite_file = Some(options.get_filename().to_path_buf());
                // Point reads and single-row writes need few pages: a small cache each.
                let small = options.clone().pragma("cache_size", "-4096");
                held = Some(std::sync::Arc::new(Held {
                    readers: HeldConnections::new(small.clone(), crate::held::READERS),
                    // One per core: a runtime thread reading inline never waits for another.
                    sync_readers: SyncReaders::new(
                        options.get_filename().to_path_buf(),
                        std::thread::available_parallelism().map_or(crate::held::READERS, |n| n.get()),
                    ),
                    writer: WriterThread::new(small)?,
                }));
            }
            let pool = SqlitePoolOptions::new()
                // An in-memory database lives and dies with its one connection.
                .max_connections(if in_memory { 1 } else { 8 })
                .min_connections(if in_memory { 1 } else { 0 })
                .idle_timeout(if in_memory { None } else { Some(Duration::from_secs(600)) })
                .max_lifetime(if in_memory { None } else { Some(Duration::from_secs(1800)) })
                // An embedded connection cannot go stale; the ping would be one more
                // round trip to its worker thread on every query.
                .test_before_acquire(false)
                .connect_with(options)
                .await?;
            sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
            Backend::Sqlite(pool)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let mut options = PgConnectOptions::from_str(url)?;
            if let Some(schema) = schema {
                if !schema.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') || schema.is_empty() {
                    return Err(StoreError::UnsupportedUrl(format!("schema {schema:?} must be [A-Za-z0-9_]+")));
                }
                let admin = PgPoolOptions::new().max_connections(1).connect_with(options.clone()).await?;
                sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"")).execute(&admin).await?;
                admin.close().await;
                options = options.options([("search_path", schema)]);
            }
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await?;
            sqlx::migrate!("./migrations/postgres").run(&pool).await?;
            Backend::Postgres(pool)
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_string()));
        };
        Ok(Self { backend, sqlite_file, bulk: Default::default(), held, config: Default::default() })
    }

    pub fn dialect(&self) -> Dialect {
        match self.backend {
            Backend::Sqlite(_) => Dialect::Sqlite,
            Backend::Postgres(_) => Dialect::Postgres,
        }
    }

    pub async fn close(&self) {
        if let Some(held) = &self.held {
            held.readers.close().await;
            held.writer.close().await;
        }
        on_pool!(self, |pool| pool.close().await)
    }

    /// Checks the database answers (for readiness probes).
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query("SELECT 1").execute(pool).await.map(|r| r.rows_affected()).map(|_| ()))?;
        Ok(())
    }

    // ---- connections -------------------------------------------------------------

    pub async fn insert_connection(&self, c: &Connection) -> Result<(), StoreError> {
        let _forget = self.config.forget_after();
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO connections (id, name, display_name, strategy, options, enabled_clients, realms, \
                 is_domain_connection, metadata, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
            )
            .bind(&c.id)
            .bind(&c.name)
            .bind(&c.display_name)
            .bind(&c.strategy)
            .bind(Json(&c.options))
            .bind(Json(&c.enabled_clients))
            .bind(Json(&c.realms))
            .bind(c.is_domain_connection)
            .bind(Json(&c.metadata))
            .bind(&c.created_at)
            .bind(&c.updated_at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    pub async fn update_connection(&self, c: &Connection) -> Result<(), StoreError> {
        let _forget = self.config.forget_after();
        let done = on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE connections SET display_name = $2, options = $3, enabled_clients = $4, realms = $5, \
                 is_domain_connection = $6, metadata = $7, updated_at = $8 WHERE id = $1",
            )
            .bind(&c.id)
            .bind(&c.display_name)
            .bind(Json(&c.options))
            .bind(Json(&c.enabled_clients))
            .bind(Json(&c.realms))
            .bind(c.is_domain_connection)
            .bind(Json(&c.metadata))
            .bind(&c.updated_at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })?;
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn connection(&self, id: &str) -> Result<Option<Connection>, StoreError> {
        self.connection_where("id", id).await
    }

    pub async fn connection_by_name(&self, name: &str) -> Result<Option<Connection>, StoreError> {
        self.connection_where("name", name).await
    }

    async fn connection_where(&self, column: &'static str, value: &str) -> Result<Option<Connection>, StoreError> {
        let sql = format!("SELECT * FROM connections WHERE {column} = $1");
        self.config
            .through(ConfigKey::Connection(column, value.to_owned()), || async {
                on_reader!(self, |pool| {
                    let row = sqlx::query(&sql).bind(value).fetch_optional(pool).await?;
                    row.as_ref().map(Connection::from_row).transpose()
                })
            })
            .await
    }

    /// Connections ordered by name, optionally of one strategy or name, with the total
    /// count. `after` pages by checkpoint (names after it), `offset` by position.
    pub async fn connections(
        &self,
        strategy: Option<&str>,
        name: Option<&str>,
        after: Option<&str>,
        offset: u32,
        limit: u32,
    ) -> Result<(Vec<Connection>, u64), StoreError> {
        let filter = "($1 IS NULL OR strategy = $1) AND ($2 IS NULL OR name = $2)";
        let list = format!(
            "SELECT * FROM connections WHERE {filter} AND ($3 IS NULL OR name > $3) ORDER BY name LIMIT $4 OFFSET $5"
        );
        let count = format!("SELECT COUNT(*) FROM connections WHERE {filter}");
        on_pool!(self, |pool| {
            let rows = sqlx::query(&list)
                .bind(strategy)
                .bind(name)
                .bind(after)
                .bind(i64::from(limit))
                .bind(i64::from(offset))
                .fetch_all(pool)
                .await?;
            let total: i64 = sqlx::query_scalar(&count).bind(strategy).bind(name).fetch_one(pool).await?;
            let list = rows.iter().map(Connection::from_row).collect::<Result<Vec<_>, _>>()?;
            Ok((list, u64::try_from(total).unwrap_or(0)))
        })
    }

    /// Deletes a connection and, with it, its users.
    pub async fn delete_connection(&self, id: &str) -> Result<bool, StoreError> {
        let _forget = self.config.forget_after();
        let done = on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query("DELETE FROM users WHERE connection_id = $1").bind(id).execute(&mut *tx).await?;
            let done =
                sqlx::query("DELETE FROM connections WHERE id = $1").bind(id).execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            Ok::<_, sqlx::Error>(done)
        })?;
        Ok(done > 0)
    }

    pub async fn count_users_in_connection(&self, connection_id: &str) -> Result<u64, StoreError> {
        let n: i64 = on_pool!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE connection_id = $1")
                .bind(connection_id)
                .fetch_one(pool)
                .await
        })?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    // ---- users -------------------------------------------------------------------

    pub async fn insert_user(&self, u: &User) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO users ({USER_COLUMNS}) VALUES \
             ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24)"
        );
        on_pool!(self, |pool| bind_user!(sqlx::query(&sql), u).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// A user by id: what `/userinfo` and the code grant read, inline on a synchronous
    /// connection on an SQLite file (see `crate::held`).
    pub async fn user(&self, user_id: &str) -> Result<Option<User>, StoreError> {
        static BY_ID: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {USER_COLUMNS} FROM users WHERE user_id = $1"));
        if let Some(held) = &self.held {
            return held.sync_readers.read(|c| {
                let mut statement = c.prepare_cached(&BY_ID)?;
                let mut rows = statement.query(rusqlite::named_params! {"$1": user_id})?;
                rows.next()?.map(crate::rows::user_from_sqlite_row).transpose()
            });
        }
        // Held stores (SQLite files) took the synchronous path above.
        on_pool!(self, |pool| {
            let row = sqlx::query(&BY_ID).bind(user_id).fetch_optional(pool).await?;
            row.as_ref().map(User::from_row).transpose()
        })
    }

    /// Users with exactly this (already normalized) email, across connections.
    pub async fn users_by_email(&self, email: &str) -> Result<Vec<User>, StoreError> {
        on_pool!(self, |pool| {
            let rows = sqlx::query("SELECT * FROM users WHERE email = $1 ORDER BY created_at, user_id")
                .bind(email)
                .fetch_all(pool)
                .await?;
            rows.iter().map(User::from_row).collect()
        })
    }

    /// The user of a connection with this (normalized) email or username.
    pub async fn user_by_login(&self, connection_id: &str, login: &str) -> Result<Option<User>, StoreError> {
        static BY_LOGIN: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {USER_COLUMNS} FROM users WHERE connection_id = $1 AND (email = $2 OR username = $2) \
                 ORDER BY CASE WHEN email = $2 THEN 0 ELSE 1 END LIMIT 1"
            )
        });
        if let Some(held) = &self.held {
            return held.sync_readers.read(|c| {
                let mut statement = c.prepare_cached(&BY_LOGIN)?;
                let mut rows = statement.query(rusqlite::named_params! {"$1": connection_id, "$2": login})?;
                rows.next()?.map(crate::rows::user_from_sqlite_row).transpose()
            });
        }
        // Held stores (SQLite files) took the synchronous path above.
        on_pool!(self, |pool| {
            let row = sqlx::query(&BY_LOGIN).bind(connection_id).bind(login).fetch_optional(pool).await?;
            row.as_ref().map(User::from_row).transpose()
        })
    }

    /// One page of users matching `query`, and the total number of matches.
    pub async fn search_users(&self, query: &UserQuery) -> Result<(Vec<User>, u64), StoreError> {
        let mut params = Vec::new();
        let mut conditions = Vec::new();
        if let Some(connection) = &query.connection {
            params.push(SqlValue::Text(connection.clone()));
            conditions.push(format!("connection = ${}", params.len()));
        }
        if let Some(q) = query.q.as_deref().filter(|q| !q.trim().is_empty()) {
            let compiled = search::compile(q, self.dialect(), params.len() + 1)
                .map_err(|e| StoreError::InvalidQuery(e.to_string()))?;
            conditions.push(format!("({})", compiled.sql));
            params.extend(compiled.params);
        }
        let where_clause =
            if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
        let order = match &query.sort {
            Some(sort) => search::compile_sort(sort).map_err(|e| StoreError::InvalidQuery(e.to_string()))?,
            None => "created_at DESC, user_id DESC".to_string(),
        };
        let list = format!(
            "SELECT * FROM users {where_clause} ORDER BY {order} LIMIT {} OFFSET {}",
            query.limit, query.offset
        );
        let count = format!("SELECT COUNT(*) FROM users {where_clause}");
        on_pool!(self, |pool| {
            let rows = bind_values!(sqlx::query(&list), &params).fetch_all(pool).await?;
            let total: i64 = bind_values!(sqlx::query_scalar(&count), &params).fetch_one(pool).await?;
            let users = rows.iter().map(User::from_row).collect::<Result<Vec<_>, _>>()?;
            Ok((users, u64::try_from(total).unwrap_or(0)))
        })
    }

    /// Reads a user, lets `change` modify it, and writes it back, all in one transaction
    /// with the row locked, so concurrent updates never lose each other's changes.
    /// Nothing is written if `change` fails.
    pub async fn modify_user<E, F>(&self, user_id: &str, change: F) -> Result<Result<User, E>, StoreError>
    where
        F: FnOnce(&mut User) -> Result<(), E>,
    {
        let update = format!(
            "UPDATE users SET ({USER_COLUMNS}) = \
             ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24) WHERE user_id = $25"
        );
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            // A no-op write first takes the row's lock in PostgreSQL (SQLite's IMMEDIATE
            // transaction already holds the database write lock), so the read below
            // cannot be overtaken by another writer.
            let locked = sqlx::query("UPDATE users SET updated_at = updated_at WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            if locked.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            let row = sqlx::query("SELECT * FROM users WHERE user_id = $1").bind(user_id).fetch_one(&mut *tx).await?;
            let mut user = User::from_row(&row)?;
            if let Err(e) = change(&mut user) {
                tx.rollback().await?;
                return Ok(Err(e));
            }
            bind_user!(sqlx::query(&update), user).bind(user_id).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(Ok(user))
        })
    }

    /// Counts a successful login on `user_id` in one statement (no read-modify-write
    /// round trips on the hottest write path). `None` when the user was deleted meanwhile.
    pub async fn record_login(&self, user_id: &str, login: &LoginRecord<'_>) -> Result<Option<User>, StoreError> {
        let (verified, stronger) = login.upgrade.map(|(v, s)| (v.to_owned(), s.to_owned())).unzip();
        let (user_id, now, ip) = (user_id.to_owned(), login.now.to_owned(), login.ip.map(str::to_owned));
        static RECORD: LazyLock<String> = LazyLock::new(|| {
            format!(
                "UPDATE users SET logins_count = logins_count + 1, last_login = $2, \
                 last_ip = COALESCE($3, last_ip), \
                 password_hash = CASE WHEN password_hash = $4 THEN $5 ELSE password_hash END, \
                 updated_at = $2 WHERE user_id = $1 RETURNING {USER_COLUMNS}"
            )
        });
        if let Some(held) = &self.held {
            return held
                .writer
                .run_sync(move |c| {
                    let mut statement = c.prepare_cached(&RECORD)?;
                    let mut rows = statement.query(rusqlite::named_params! {
                        "$1": user_id, "$2": now, "$3": ip, "$4": verified, "$5": stronger,
                    })?;
                    rows.next()?.map(crate::rows::user_from_sqlite_row).transpose()
                })
                .await;
        }
        // Held stores (SQLite files) took the synchronous path above.
        on_pool!(self, |pool| {
            let row = sqlx::query(&RECORD)
                .bind(&user_id)
                .bind(&now)
                .bind(&ip)
                .bind(&verified)
                .bind(&stronger)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(User::from_row).transpose()
        })
    }

    pub async fn delete_user(&self, user_id: &str) -> Result<bool, StoreError> {
        let done = on_pool!(self, |pool| sqlx::query("DELETE FROM users WHERE user_id = $1")
            .bind(user_id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done > 0)
    }

    // ---- clients and grants --------------------------------------------------------

    pub async fn insert_client(&self, c: &Client) -> Result<(), StoreError> {
        let _forget = self.config.forget_after();
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO clients (client_id, name, description, app_type, is_first_party, grant_types, callbacks, \
                 allowed_logout_urls, web_origins, allowed_origins, token_endpoint_auth_method, client_secret_hash, \
                 client_metadata, created_at, updated_at, oidc_logout) \
                 VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)",
            )
            .bind(&c.client_id)
            .bind(&c.name)
            .bind(&c.description)
            .bind(&c.app_type)
            .bind(c.is_first_party)
            .bind(Json(&c.grant_types))
            .bind(Json(&c.callbacks))
            .bind(Json(&c.allowed_logout_urls))
            .bind(Json(&c.web_origins))
            .bind(Json(&c.allowed_origins))
            .bind(&c.token_endpoint_auth_method)
            .bind(&c.client_secret_hash)
            .bind(Json(&c.client_metadata))
            .bind(&c.created_at)
            .bind(&c.updated_at)
            .bind(c.oidc_logout.as_ref().map(Json))
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    pub async fn update_client(&self, c: &Client) -> Result<(), StoreError> {
        let _forget = self.config.forget_after();
        let done = on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE clients SET name = $2, description = $3, app_type = $4, is_first_party = $5, grant_types = $6, \
                 callbacks = $7, allowed_logout_urls = $8, web_origins = $9, allowed_origins = $10, \
                 token_endpoint_auth_method = $11, client_secret_hash = $12, client_metadata = $13, updated_at = $14, \
                 oidc_logout = $15 WHERE client_id = $1",
            )
            .bind(&c.client_id)
            .bind(&c.name)
            .bind(&c.description)
            .bind(&c.app_type)
            .bind(c.is_first_party)
            .bind(Json(&c.grant_types))
            .bind(Json(&c.callbacks))
            .bind(Json(&c.allowed_logout_urls))
            .bind(Json(&c.web_origins))
            .bind(Json(&c.allowed_origins))
            .bind(&c.token_endpoint_auth_method)
            .bind(&c.client_secret_hash)
            .bind(Json(&c.client_metadata))
            .bind(&c.updated_at)
            .bind(c.oidc_logout.as_ref().map(Json))
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })?;
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn client(&self, client_id: &str) -> Result<Option<Client>, StoreError> {
        self.config
            .through(ConfigKey::Client(client_id.to_owned()), || async {
                on_reader!(self, |pool| {
                    let row = sqlx::query("SELECT * FROM clients WHERE client_id = $1")
                        .bind(client_id)
                        .fetch_optional(pool)
                        .await?;
                    row.as_ref().map(Client::from_row).transpose()
                })
            })
            .await
    }

    pub async fn clients(&self, offset: u32, limit: u32) -> Result<(Vec<Client>, u64), StoreError> {
        on_pool!(self, |pool| {
            let rows = sqlx::query("SELECT * FROM clients ORDER BY created_at, client_id LIMIT $1 OFFSET $2")
                .bind(i64::from(limit))
                .bind(i64::from(offset))
                .fetch_all(pool)
                .await?;
            let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM clients").fetch_one(pool).await?;
            let list = rows.iter().map(Client::from_row).collect::<Result<Vec<_>, _>>()?;
            Ok((list, u64::try_from(total).unwrap_or(0)))
        })
    }

    pub async fn delete_client(&self, client_id: &str) -> Result<bool, StoreError> {
        let _forget = self.config.forget_after();
        let done = on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query("DELETE FROM client_grants WHERE client_id = $1").bind(client_id).execute(&mut *tx).await?;
            let done = sqlx::query("DELETE FROM clients WHERE client_id = $1")
                .bind(client_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok::<_, sqlx::Error>(done)
        })?;
        Ok(done > 0)
    }

    /// Inserts a grant, or replaces the scopes of the client's existing grant for the
    /// same audience.
    pub async fn upsert_client_grant(&self, g: &ClientGrant, now: &str) -> Result<ClientGrant, StoreError> {
        let _forget = self.config.forget_after();
        on_pool!(self, |pool| {
            let row = sqlx::query(
                "INSERT INTO client_grants (id, client_id, audience, scope, created_at) VALUES ($1,$2,$3,$4,$5) \
                 ON CONFLICT (client_id, audience) DO UPDATE SET scope = excluded.scope RETURNING *",
            )
            .bind(&g.id)
            .bind(&g.client_id)
            .bind(&g.audience)
            .bind(Json(&g.scope))
            .bind(now)
            .fetch_one(pool)
            .await?;
            ClientGrant::from_row(&row)
        })
    }

    pub async fn client_grant(&self, client_id: &str, audience: &str) -> Result<Option<ClientGrant>, StoreError> {
        self.config
            .through(ConfigKey::ClientGrant(client_id.to_owned(), audience.to_owned()), || async {
                on_reader!(self, |pool| {
                    let row = sqlx::query("SELECT * FROM client_grants WHERE client_id = $1 AND audience = $2")
                        .bind(client_id)
                        .bind(audience)
                        .fetch_optional(pool)
                        .await?;
                    row.as_ref().map(ClientGrant::from_row).transpose()
                })
            })
            .await
    }

    pub async fn client_grant_by_id(&self, id: &str) -> Result<Option<ClientGrant>, StoreError> {
        on_pool!(self, |pool| {
            let row = sqlx::query("SELECT * FROM client_grants WHERE id = $1").bind(id).fetch_optional(pool).await?;
            row.as_ref().map(ClientGrant::from_row).transpose()
        })
    }

    pub async fn client_grants(
        &self,
        client_id: Option<&str>,
        audience: Option<&str>,
    ) -> Result<Vec<ClientGrant>, StoreError> {
        on_pool!(self, |pool| {
            let rows = sqlx::query(
                "SELECT * FROM client_grants WHERE ($1 IS NULL OR client_id = $1) AND ($2 IS NULL OR audience = $2) \
                 ORDER BY created_at, id",
            )
            .bind(client_id)
            .bind(audience)
            .fetch_all(pool)
            .await?;
            rows.iter().map(ClientGrant::from_row).collect()
        })
    }

    pub async fn delete_client_grant(&self, id: &str) -> Result<bool, StoreError> {
        let _forget = self.config.forget_after();
        let done = on_pool!(self, |pool| sqlx::query("DELETE FROM client_grants WHERE id = $1")
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done > 0)
    }

    // ---- signing keys --------------------------------------------------------------

    /// Stores the first key of a store as the current one. Where a current key exists
    /// already (another node starting at the same moment made one) this is a
    /// [`StoreError::Conflict`] and nothing is written: that key is everybody's.
    pub async fn insert_first_signing_key(&self, key: &SigningKey) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(INSERT_SIGNING_KEY)
                .bind(&key.kid)
                .bind(&key.alg)
                .bind(&key.private_pem)
                .bind(Json(&key.public_jwk))
                .bind(true)
                .bind(&key.created_at)
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// Stores a new key and makes it the one that signs, retiring the previous one.
    pub async fn rotate_signing_key(&self, key: &SigningKey, now: &str) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query("UPDATE signing_keys SET current = $1, retired_at = $2 WHERE current = $3")
                .bind(false)
                .bind(now)
                .bind(true)
                .execute(&mut *tx)
                .await?;
            sqlx::query(INSERT_SIGNING_KEY)
                .bind(&key.kid)
                .bind(&key.alg)
                .bind(&key.private_pem)
                .bind(Json(&key.public_jwk))
                .bind(true)
                .bind(&key.created_at)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        })?;
        Ok(())
    }

    /// Keys to publish: the current one and those retired after `retired_after`.
    pub async fn signing_keys(&self, retired_after: &str) -> Result<Vec<SigningKey>, StoreError> {
        on_pool!(self, |pool| {
            let rows = sqlx::query(
                "SELECT * FROM signing_keys WHERE current = $1 OR retired_at > $2 ORDER BY created_at DESC",
            )
            .bind(true)
            .bind(retired_after)
            .fetch_all(pool)
            .await?;
            rows.iter().map(SigningKey::from_row).collect()
        })
    }
}
