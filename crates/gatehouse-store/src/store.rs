//! The [`Store`]: connections, users, clients and grants, signing keys; the other
//! modules add the rest of what Gatehouse reads and writes.

use crate::config_cache::{ConfigCache, ConfigKey};
use crate::db::Db;
use crate::error::StoreError;
use crate::rows::{count, user_columns, user_values, FromRow, INSERT_USER, UPDATE_USER};
use crate::sealed::SecretKeys;
use crate::search;
use crate::signup::TicketKind;
use crate::sql::{Dialect, SqlValue};
use gatehouse_core::client::{Client, ClientGrant};
use gatehouse_core::connection::Connection;
use gatehouse_core::user::User;
use serde_json::Value;
use std::sync::{Arc, LazyLock};

/// The store handle. Cheap to clone; all clones share one database.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) db: Db,
    pub(crate) bulk: crate::bulk::BulkConnection,
    /// Clients, grants, connections and settings as recently read (`crate::config_cache`).
    pub(crate) config: Arc<ConfigCache>,
    /// What seals secrets at rest (`crate::sealed`).
    pub(crate) secrets: Arc<SecretKeys>,
}

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

/// The user's unused password-change tickets, ended by a change of password.
const END_PASSWORD_TICKETS: &str = "DELETE FROM tickets WHERE user_id = $1 AND kind = $2 AND used_at IS NULL";

/// A new signing key, current (`$5` true); the one INSERT both key writes share.
const INSERT_SIGNING_KEY: &str =
    "INSERT INTO signing_keys (kid, alg, private_pem, public_jwk, current, created_at) VALUES ($1,$2,$3,$4,$5,$6)";

fn signing_key_values(key: &SigningKey, secrets: &SecretKeys) -> Result<Vec<SqlValue>, StoreError> {
    let sealed = secrets.seal(&key.private_pem)?;
    Ok(Vec::from(values![&key.kid, &key.alg, sealed, SqlValue::json(&key.public_jwk), true, &key.created_at]))
}

/// A client's values: `$1` its id, then the columns both its INSERT and its UPDATE write.
fn client_values(c: &Client) -> Vec<SqlValue> {
    Vec::from(values![
        &c.client_id,
        &c.name,
        &c.description,
        &c.app_type,
        c.is_first_party,
        SqlValue::json(&c.grant_types),
        SqlValue::json(&c.callbacks),
        SqlValue::json(&c.allowed_logout_urls),
        SqlValue::json(&c.web_origins),
        SqlValue::json(&c.allowed_origins),
        &c.token_endpoint_auth_method,
        &c.client_secret_hash,
        SqlValue::json(&c.client_metadata),
        &c.updated_at,
        SqlValue::json_or_null(c.oidc_logout.as_ref()),
        c.cross_origin_authentication,
        &c.cross_origin_loc,
        &c.created_at,
    ])
}

/// A connection's values: `$1` its id, then the columns its UPDATE writes, then the
/// columns only its INSERT writes.
fn connection_values(c: &Connection, secrets: &SecretKeys) -> Result<Vec<SqlValue>, StoreError> {
    Ok(Vec::from(values![
        &c.id,
        &c.display_name,
        SqlValue::json(&secrets.seal_options(&c.options)?),
        SqlValue::json(&c.enabled_clients),
        SqlValue::json(&c.realms),
        c.is_domain_connection,
        SqlValue::json(&c.metadata),
        &c.updated_at,
        &c.name,
        &c.strategy,
        &c.created_at,
    ]))
}

impl Store {
    /// Opens the store named by `url` (`sqlite://path`, `sqlite::memory:` for a temporary
    /// file, `postgres://…`) and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_in_schema(url, None).await
    }

    /// Like [`Store::connect`]; on PostgreSQL, keeps every table in `schema` (created if
    /// missing). Lets several Gatehouse deployments, or test runs, share one database.
    pub async fn connect_in_schema(url: &str, schema: Option<&str>) -> Result<Self, StoreError> {
        let db = Db::connect(url, schema).await?;
        Ok(Self { db, bulk: Default::default(), config: Default::default(), secrets: Default::default() })
    }

    /// This store sealing secrets under `keys` (by default the development key, see
    /// [`SecretKeys::development`]). Set it before the store is cloned or read.
    pub fn with_secret_keys(mut self, keys: SecretKeys) -> Self {
        self.secrets = Arc::new(keys);
        self.config = Default::default();
        self
    }

    /// The keys secrets are sealed under.
    pub fn secret_keys(&self) -> &SecretKeys {
        &self.secrets
    }

    pub fn dialect(&self) -> Dialect {
        self.db.dialect()
    }

    pub async fn close(&self) {
        self.db.close().await
    }

    /// Checks the database answers (for readiness probes).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.one("SELECT 1", &[], |_| Ok(())).await
    }

    // ---- connections -------------------------------------------------------------

    pub async fn insert_connection(&self, c: &Connection) -> Result<(), StoreError> {
        let _forget = self.config.forget_after();
        self.db
            .execute(
                "INSERT INTO connections (id, display_name, options, enabled_clients, realms, is_domain_connection, \
                 metadata, updated_at, name, strategy, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
                connection_values(c, &self.secrets)?,
            )
            .await?;
        Ok(())
    }

    pub async fn update_connection(&self, c: &Connection) -> Result<(), StoreError> {
        let _forget = self.config.forget_after();
        let values = &connection_values(c, &self.secrets)?[..8];
        let done = self
            .db
            .execute(
                "UPDATE connections SET display_name = $2, options = $3, enabled_clients = $4, realms = $5, \
                 is_domain_connection = $6, metadata = $7, updated_at = $8 WHERE id = $1",
                values,
            )
            .await?;
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
                self.db.opt(&sql, &values![value], |r| self.open_connection(r)).await
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
        let count_sql = format!("SELECT COUNT(*) FROM connections WHERE {filter}");
        let params = values![strategy, name, after, limit, offset];
        let list = self.db.all(&list, &params, |r| self.open_connection(r)).await?;
        Ok((list, self.db.one(&count_sql, &params[..2], count).await?))
    }

    /// Deletes a connection and, with it, its users.
    pub async fn delete_connection(&self, id: &str) -> Result<bool, StoreError> {
        let _forget = self.config.forget_after();
        const DELETE: &[&str] =
            &["DELETE FROM users WHERE connection_id = $1", "DELETE FROM connections WHERE id = $1"];
        Ok(self.db.execute_in_turn(DELETE, values![id]).await? > 0)
    }

    /// A connection row with its secret options opened.
    fn open_connection(&self, r: &crate::db::Row<'_>) -> Result<Connection, StoreError> {
        let mut c = Connection::from_row(r)?;
        self.secrets.open_options(&mut c.options)?;
        Ok(c)
    }

    pub async fn count_users_in_connection(&self, connection_id: &str) -> Result<u64, StoreError> {
        // The counter the triggers of migration 0025 keep.
        let sql = "SELECT COALESCE(MAX(users), 0) FROM connection_counts WHERE connection_id = $1 AND source = ''";
        self.db.one(sql, &values![connection_id], count).await
    }

    // ---- users -------------------------------------------------------------------

    pub async fn insert_user(&self, u: &User) -> Result<(), StoreError> {
        self.db.execute(&INSERT_USER, user_values(u)).await?;
        Ok(())
    }

    /// A user by id: what `/userinfo` and the code grant read.
    pub async fn user(&self, user_id: &str) -> Result<Option<User>, StoreError> {
        static BY_ID: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {} FROM users WHERE user_id = $1", user_columns("")));
        self.db.opt(&BY_ID, &values![user_id], User::from_row).await
    }

    /// Users with exactly this (already normalized) email, across connections.
    pub async fn users_by_email(&self, email: &str) -> Result<Vec<User>, StoreError> {
        self.db
            .all("SELECT * FROM users WHERE email = $1 ORDER BY created_at, user_id", &values![email], User::from_row)
            .await
    }

    /// The user of a connection with this (normalized) email or username.
    pub async fn user_by_login(&self, connection_id: &str, login: &str) -> Result<Option<User>, StoreError> {
        static BY_LOGIN: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM users WHERE connection_id = $1 AND (email = $2 OR username = $2) \
                 ORDER BY CASE WHEN email = $2 THEN 0 ELSE 1 END LIMIT 1",
                user_columns("")
            )
        });
        self.db.opt(&BY_LOGIN, &values![connection_id, login], User::from_row).await
    }

    /// One page of users matching `query`, and the total number of matches.
    pub async fn search_users(&self, query: &UserQuery) -> Result<(Vec<User>, u64), StoreError> {
        let (where_clause, params) = self.user_search_filter(query)?;
        let users = self.search_users_where(query, &where_clause, &params).await?;
        let count_sql = format!("SELECT COUNT(*) FROM users {where_clause}");
        Ok((users, self.db.scan_count(&count_sql, &params).await?))
    }

    /// A page of a user search without its total (which costs a count of every match).
    pub async fn search_users_page(&self, query: &UserQuery) -> Result<Vec<User>, StoreError> {
        let (where_clause, params) = self.user_search_filter(query)?;
        self.search_users_where(query, &where_clause, &params).await
    }

    fn user_search_filter(&self, query: &UserQuery) -> Result<(String, Vec<SqlValue>), StoreError> {
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
        Ok((where_clause, params))
    }

    async fn search_users_where(
        &self,
        query: &UserQuery,
        where_clause: &str,
        params: &[SqlValue],
    ) -> Result<Vec<User>, StoreError> {
        let order = match &query.sort {
            Some(sort) => search::compile_sort(sort).map_err(|e| StoreError::InvalidQuery(e.to_string()))?,
            None => "created_at DESC, user_id DESC".to_string(),
        };
        let list = format!(
            "SELECT * FROM users {where_clause} ORDER BY {order} LIMIT {} OFFSET {}",
            query.limit, query.offset
        );
        self.db.scan(&list, params, User::from_row).await
    }

    /// Reads a user, lets `change` modify it, and writes it back, all in one transaction
    /// with the row locked, so concurrent updates never lose each other's changes.
    /// Nothing is written if `change` fails.
    ///
    /// A change of password (a stored hash replaced, or a new `last_password_reset`, which
    /// every setting of a password stamps) ends, in the same transaction, every
    /// outstanding password-change ticket of the user: emailed reset links and the
    /// Management API's tickets alike, and the browsers remembered after a second factor.
    /// However the password changed, no older link can
    /// overwrite it. The first hash of a user who had none, as a legacy store's migration
    /// at login writes it, is the password the user already had, not a new one: a reset
    /// asked for before that login still completes. (A login's rehash to stronger
    /// parameters, [`Store::record_login`], keeps the password and the tickets too.)
    pub async fn modify_user<E, F>(&self, user_id: &str, change: F) -> Result<Result<User, E>, StoreError>
    where
        F: FnOnce(&mut User) -> Result<(), E>,
    {
        let id = values![user_id];
        // The caller's error stays here; only the changed user goes to the write.
        let mut refused = None;
        let changed = self
            .db
            .transaction_with_step(
                move |mut c, step| {
                    Box::pin(async move {
                        // A no-op write first takes the row's lock in PostgreSQL (an SQLite
                        // write holds the database's write lock throughout), so the read
                        // below cannot be overtaken by another writer.
                        if c.execute("UPDATE users SET updated_at = updated_at WHERE user_id = $1", &id).await? == 0 {
                            return Err(StoreError::NotFound);
                        }
                        let user = c.one("SELECT * FROM users WHERE user_id = $1", &id, User::from_row).await?;
                        let (hash_before, reset_before) =
                            (user.password_hash.clone(), user.last_password_reset.clone());
                        let Some(user): Option<User> = step.ask(user).await? else { return Ok(None) };
                        let password_changed = user.last_password_reset != reset_before
                            || (hash_before.is_some() && user.password_hash != hash_before);
                        let mut values = user_values(&user);
                        values.extend(id);
                        c.execute(&UPDATE_USER, &values).await?;
                        if password_changed {
                            c.execute(
                                END_PASSWORD_TICKETS,
                                &values![&user.user_id, TicketKind::PasswordChange.as_str()],
                            )
                            .await?;
                            c.execute(crate::mfa::FORGET_BROWSERS, &values![&user.user_id]).await?;
                        }
                        Ok(Some(user))
                    })
                },
                |mut user: User| match change(&mut user) {
                    Ok(()) => Some(user),
                    Err(e) => {
                        refused = Some(e);
                        None
                    }
                },
            )
            .await?;
        match (changed, refused) {
            (Some(user), _) => Ok(Ok(user)),
            (None, Some(e)) => Ok(Err(e)),
            (None, None) => Err(StoreError::Database("a user change ended without an outcome".into())),
        }
    }

    /// Counts a successful login on `user_id` in one statement (no read-modify-write
    /// round trips on the hottest write path). `None` when the user was deleted meanwhile.
    pub async fn record_login(&self, user_id: &str, login: &LoginRecord<'_>) -> Result<Option<User>, StoreError> {
        static RECORD: LazyLock<String> = LazyLock::new(|| {
            format!(
                "UPDATE users SET logins_count = logins_count + 1, last_login = $2, \
                 last_ip = COALESCE($3, last_ip), \
                 password_hash = CASE WHEN password_hash = $4 THEN $5 ELSE password_hash END, \
                 updated_at = $2 WHERE user_id = $1 RETURNING {}",
                user_columns("")
            )
        });
        let (verified, stronger) = login.upgrade.unzip();
        self.db.write_opt(&RECORD, values![user_id, login.now, login.ip, verified, stronger], User::from_row).await
    }

    pub async fn delete_user(&self, user_id: &str) -> Result<bool, StoreError> {
        Ok(self.db.execute("DELETE FROM users WHERE user_id = $1", values![user_id]).await? > 0)
    }

    // ---- clients and grants --------------------------------------------------------

    pub async fn insert_client(&self, c: &Client) -> Result<(), StoreError> {
        let _forget = self.config.forget_after();
        self.db
            .execute(
                "INSERT INTO clients (client_id, name, description, app_type, is_first_party, grant_types, callbacks, \
                 allowed_logout_urls, web_origins, allowed_origins, token_endpoint_auth_method, client_secret_hash, \
                 client_metadata, updated_at, oidc_logout, cross_origin_authentication, cross_origin_loc, created_at) \
                 VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)",
                client_values(c),
            )
            .await?;
        Ok(())
    }

    pub async fn update_client(&self, c: &Client) -> Result<(), StoreError> {
        let _forget = self.config.forget_after();
        let values = &client_values(c)[..17];
        let done = self
            .db
            .execute(
                "UPDATE clients SET name = $2, description = $3, app_type = $4, is_first_party = $5, grant_types = $6, \
                 callbacks = $7, allowed_logout_urls = $8, web_origins = $9, allowed_origins = $10, \
                 token_endpoint_auth_method = $11, client_secret_hash = $12, client_metadata = $13, updated_at = $14, \
                 oidc_logout = $15, cross_origin_authentication = $16, cross_origin_loc = $17 WHERE client_id = $1",
                values,
            )
            .await?;
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn client(&self, client_id: &str) -> Result<Option<Client>, StoreError> {
        self.config
            .through(ConfigKey::Client(client_id.to_owned()), || async {
                self.db.opt("SELECT * FROM clients WHERE client_id = $1", &values![client_id], Client::from_row).await
            })
            .await
    }

    /// A page of clients, and how many there are; `except` leaves one out (by id).
    pub async fn clients(
        &self,
        except: Option<&str>,
        offset: u32,
        limit: u32,
    ) -> Result<(Vec<Client>, u64), StoreError> {
        let except = except.unwrap_or("");
        let list = self
            .db
            .all(
                "SELECT * FROM clients WHERE client_id <> $3 ORDER BY created_at, client_id LIMIT $1 OFFSET $2",
                &values![limit, offset, except],
                Client::from_row,
            )
            .await?;
        let total = self.db.one("SELECT COUNT(*) FROM clients WHERE client_id <> $1", &values![except], count).await?;
        Ok((list, total))
    }

    pub async fn delete_client(&self, client_id: &str) -> Result<bool, StoreError> {
        let _forget = self.config.forget_after();
        const DELETE: &[&str] =
            &["DELETE FROM client_grants WHERE client_id = $1", "DELETE FROM clients WHERE client_id = $1"];
        Ok(self.db.execute_in_turn(DELETE, values![client_id]).await? > 0)
    }

    /// Inserts a grant, or replaces the scopes of the client's existing grant for the
    /// same audience.
    pub async fn upsert_client_grant(&self, g: &ClientGrant, now: &str) -> Result<ClientGrant, StoreError> {
        let _forget = self.config.forget_after();
        let upserted = self
            .db
            .write_opt(
                "INSERT INTO client_grants (id, client_id, audience, scope, created_at) VALUES ($1,$2,$3,$4,$5) \
                 ON CONFLICT (client_id, audience) DO UPDATE SET scope = excluded.scope RETURNING *",
                values![&g.id, &g.client_id, &g.audience, SqlValue::json(&g.scope), now],
                ClientGrant::from_row,
            )
            .await?;
        upserted.ok_or_else(|| StoreError::Database("an upsert returned no row".into()))
    }

    pub async fn client_grant(&self, client_id: &str, audience: &str) -> Result<Option<ClientGrant>, StoreError> {
        self.config
            .through(ConfigKey::ClientGrant(client_id.to_owned(), audience.to_owned()), || async {
                self.db
                    .opt(
                        "SELECT * FROM client_grants WHERE client_id = $1 AND audience = $2",
                        &values![client_id, audience],
                        ClientGrant::from_row,
                    )
                    .await
            })
            .await
    }

    pub async fn client_grant_by_id(&self, id: &str) -> Result<Option<ClientGrant>, StoreError> {
        self.db.opt("SELECT * FROM client_grants WHERE id = $1", &values![id], ClientGrant::from_row).await
    }

    pub async fn client_grants(
        &self,
        client_id: Option<&str>,
        audience: Option<&str>,
    ) -> Result<Vec<ClientGrant>, StoreError> {
        self.db
            .all(
                "SELECT * FROM client_grants WHERE ($1 IS NULL OR client_id = $1) AND ($2 IS NULL OR audience = $2) \
                 ORDER BY created_at, id",
                &values![client_id, audience],
                ClientGrant::from_row,
            )
            .await
    }

    pub async fn delete_client_grant(&self, id: &str) -> Result<bool, StoreError> {
        let _forget = self.config.forget_after();
        Ok(self.db.execute("DELETE FROM client_grants WHERE id = $1", values![id]).await? > 0)
    }

    // ---- signing keys --------------------------------------------------------------

    /// Stores the first key of a store as the current one. Where a current key exists
    /// already (another node starting at the same moment made one) this is a
    /// [`StoreError::Conflict`] and nothing is written: that key is everybody's.
    pub async fn insert_first_signing_key(&self, key: &SigningKey) -> Result<(), StoreError> {
        self.db.execute(INSERT_SIGNING_KEY, signing_key_values(key, &self.secrets)?).await?;
        Ok(())
    }

    /// Stores a new key and makes it the one that signs, retiring the previous one.
    pub async fn rotate_signing_key(&self, key: &SigningKey, now: &str) -> Result<(), StoreError> {
        let (retire, key) = (values![false, now, true], signing_key_values(key, &self.secrets)?);
        self.db
            .transaction(move |mut c| {
                Box::pin(async move {
                    c.execute("UPDATE signing_keys SET current = $1, retired_at = $2 WHERE current = $3", &retire)
                        .await?;
                    c.execute(INSERT_SIGNING_KEY, &key).await?;
                    Ok(())
                })
            })
            .await
    }

    /// Keys to publish: the current one and those retired after `retired_after`.
    pub async fn signing_keys(&self, retired_after: &str) -> Result<Vec<SigningKey>, StoreError> {
        self.db
            .all(
                "SELECT * FROM signing_keys WHERE current = $1 OR retired_at > $2 ORDER BY created_at DESC",
                &values![true, retired_after],
                |r| {
                    let mut key = SigningKey::from_row(r)?;
                    key.private_pem = self.secrets.open(&key.private_pem)?;
                    Ok(key)
                },
            )
            .await
    }
}
