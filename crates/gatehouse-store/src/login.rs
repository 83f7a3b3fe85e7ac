//! Sign-in state of the OpenID Connect provider: single sign-on sessions, pending login
//! transactions, authorization codes and refresh tokens.
//!
//! Callers hand in and look up *hashes* of the secrets (see `gatehouse-server`), never the
//! secrets themselves. Single use is enforced by the database: a code or a refresh token
//! is redeemed by a conditional `UPDATE … RETURNING`, so of two concurrent redemptions
//! exactly one gets the row.

use crate::error::StoreError;
use crate::rows::{FromJoinedRow, FromRow};
use crate::sql::{Dialect, SqlValue};
use crate::store::{Backend, Store, USER_COLUMNS};
use gatehouse_core::user::User;
use sqlx::{Acquire as _, Row as _};
use std::sync::LazyLock;

/// A single sign-on session.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginSession {
    pub id_hash: String,
    /// Public session id (the `sid` claim).
    pub sid: String,
    pub user_id: String,
    /// When the user last entered credentials, unix seconds.
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    /// How the user proved who they are, in Auth0's words (`pwd`, `federated`); `None`
    /// for sessions older than this record.
    pub method: Option<String>,
    /// Where the session began …
    pub initial: Device,
    /// … and where it was last used.
    pub last: Device,
    pub last_interacted_at: Option<i64>,
}

/// The device a session was used from, as its requests told it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Device {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// A session as the Management API shows it: with the applications it signed in to.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionDetails {
    pub session: LoginSession,
    pub clients: Vec<String>,
}

/// A refresh grant as the Management API shows it: a family of rotated tokens, known by
/// its `family_id` (never by a token or a token's hash), with its live token's state.
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshGrant {
    pub family_id: String,
    pub client_id: String,
    pub user_id: String,
    pub scope: String,
    pub audience: Option<String>,
    pub sid: Option<String>,
    /// When the family's first token was issued.
    pub created_at: i64,
    /// When its live token was issued, if that was by an exchange (a rotation).
    pub last_exchanged_at: Option<i64>,
    /// When the live token lapses unless exchanged before.
    pub idle_expires_at: i64,
    /// When the family ends whatever its use (`None`: families from before this record).
    pub expires_at: Option<i64>,
}

/// Which of a user's refresh grants an operation concerns.
#[derive(Debug, Clone, Copy)]
pub struct GrantFilter<'a> {
    pub user_id: &'a str,
    pub client_id: Option<&'a str>,
    pub audience: Option<&'a str>,
}

impl<'a> GrantFilter<'a> {
    /// Every grant of `user_id`.
    pub fn all_of(user_id: &'a str) -> Self {
        Self { user_id, client_id: None, audience: None }
    }
}

/// An `/authorize` request waiting for the user to log in.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginTransaction {
    pub id_hash: String,
    /// Hash of the browser cookie the transaction is bound to.
    pub browser_hash: String,
    /// The authorization request, serialized by the server.
    pub params: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// An authorization code and everything it was issued for.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthCode {
    pub code_hash: String,
    /// The refresh-token family that tokens issued for this code belong to, so a replay
    /// can revoke them.
    pub family_id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub nonce: Option<String>,
    pub scope: String,
    pub audience: Option<String>,
    pub user_id: String,
    pub auth_time: i64,
    pub sid: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// What redeeming a code found.
#[derive(Debug, Clone, PartialEq)]
pub enum CodeRedemption {
    /// This call won the code. (It may still have expired: the caller checks.)
    Redeemed(AuthCode),
    /// The code was redeemed before: a replay.
    Replayed(AuthCode),
    Unknown,
}

/// A refresh token (by hash) and its grant.
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshToken {
    pub token_hash: String,
    pub family_id: String,
    pub client_id: String,
    pub user_id: String,
    pub scope: String,
    pub audience: Option<String>,
    pub sid: Option<String>,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub rotated_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// What redeeming a refresh token found.
#[derive(Debug, Clone, PartialEq)]
pub enum RefreshRedemption {
    /// This call rotated the token; its successor has been stored.
    Rotated(RefreshToken),
    /// The token was already rotated: reuse. The whole family is now revoked.
    Reused(RefreshToken),
    /// Revoked, expired, or never issued.
    Invalid,
}

/// A refresh grant as presented: the token (by hash), the client presenting it, and the
/// scopes it narrows the grant to (none: all the token grants).
#[derive(Debug, Clone, Copy)]
pub struct RefreshRequest<'a> {
    pub token_hash: &'a str,
    pub client_id: &'a str,
    pub scopes: &'a [&'a str],
}

impl RefreshRequest<'_> {
    /// Whether `token` and its `user` stand for this request: issued to this client, to a
    /// user who exists and is not blocked, granting every scope asked for. (Whether the
    /// token can still be redeemed is the rotation's own condition.)
    pub fn granted_by(&self, token: &RefreshToken, user: Option<&User>) -> bool {
        token.client_id == self.client_id && user.is_some_and(|u| !u.blocked) && token.grants(self.scopes)
    }
}

impl RefreshToken {
    /// Whether the token's grant includes every one of `scopes`.
    pub fn grants(&self, scopes: &[&str]) -> bool {
        scopes.iter().all(|wanted| self.scope.split(' ').any(|granted| granted == *wanted))
    }
}

/// The token a rotation stores; the rest of its row it inherits from the redeemed one.
#[derive(Debug, Clone, Copy)]
pub struct Successor<'a> {
    pub token_hash: &'a str,
    pub expires_at: i64,
}

/// `$1` the presented token's hash can still be redeemed at `$2`: not rotated, revoked
/// or expired, and its family never revoked (a partial index holds the revoked rows).
macro_rules! redeemable {
    () => {
        "token_hash = $1 AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > $2 \
         AND NOT EXISTS (SELECT 1 FROM refresh_tokens f WHERE f.family_id = refresh_tokens.family_id \
         AND f.revoked_at IS NOT NULL)"
    };
}

/// Columns a successor (`$3`, created `$2`) copies from the redeemed token. It expires at
/// `$4` or at its family's deadline, whichever comes first: `$expiry`, in the dialect's
/// words (families from before deadlines were recorded have none).
macro_rules! successor_insert {
    ($from:literal, $expiry:expr) => {
        concat!(
            "INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, scope, audience, sid, \
             auth_time, created_at, expires_at, family_created_at, family_expires_at) \
             SELECT $3, family_id, client_id, user_id, scope, audience, sid, auth_time, $2, ",
            $expiry,
            ", family_created_at, family_expires_at FROM ",
            $from
        )
    };
}

/// SQLite's `successor_insert!` expiry (its two-argument `MIN` is NULL if either is).
macro_rules! successor_expiry_sqlite {
    () => {
        "MIN($4, COALESCE(family_expires_at, $4))"
    };
}

/// PostgreSQL's (`LEAST` passes over a NULL).
macro_rules! successor_expiry_postgres {
    () => {
        "LEAST($4, family_expires_at)"
    };
}

/// The columns of `refresh_tokens` in the order the synchronous decoder reads them
/// (`crate::rows::refresh_token_from_sqlite_columns`).
macro_rules! refresh_columns {
    () => {
        "token_hash, family_id, client_id, user_id, scope, audience, sid, auth_time, created_at, expires_at, \
         rotated_at, revoked_at"
    };
}

/// SQLite's rotation: the successor stored (`$3`, expiring `$4`) if `$1` is redeemable
/// at `$2` …
macro_rules! store_successor_sqlite {
    () => {
        concat!(successor_insert!("refresh_tokens WHERE ", successor_expiry_sqlite!()), redeemable!())
    };
}

/// … and `$1` marked rotated at `$2` on the same condition.
macro_rules! mark_rotated_sqlite {
    () => {
        concat!("UPDATE refresh_tokens SET rotated_at = $2 WHERE ", redeemable!(), " RETURNING ", refresh_columns!())
    };
}

/// Both statements evaluate the same condition under the write lock `BEGIN IMMEDIATE`
/// takes, so the successor is stored exactly when the old token is marked rotated.
const ROTATE_SQLITE: &str =
    concat!("BEGIN IMMEDIATE; ", store_successor_sqlite!(), "; ", mark_rotated_sqlite!(), "; COMMIT;");

const ROTATE_POSTGRES: &str = concat!(
    "WITH old AS (UPDATE refresh_tokens SET rotated_at = $2 WHERE ",
    redeemable!(),
    " RETURNING *), successor AS (",
    successor_insert!("old", successor_expiry_postgres!()),
    ") SELECT * FROM old"
);

const REFRESH_TOKEN: &str = concat!("SELECT ", refresh_columns!(), " FROM refresh_tokens WHERE token_hash = $1");
/// Live refresh grants at `$1`: each family's live token (neither rotated nor revoked,
/// not lapsed, its family never revoked), with when the family began and whether the live
/// token came from an exchange. Families from before `family_created_at` was recorded
/// began, as far as can still be told, with their oldest token kept.
const GRANT_SELECT: &str = "SELECT h.family_id, h.client_id, h.user_id, h.scope, h.audience, h.sid, h.created_at, \
    h.expires_at, h.family_expires_at, COALESCE(h.family_created_at, \
    (SELECT MIN(f.created_at) FROM refresh_tokens f WHERE f.family_id = h.family_id)) AS family_created_at, \
    (h.created_at <> COALESCE(h.family_created_at, h.created_at) OR EXISTS (SELECT 1 FROM refresh_tokens f \
    WHERE f.family_id = h.family_id AND f.rotated_at IS NOT NULL)) AS exchanged \
    FROM refresh_tokens h WHERE h.rotated_at IS NULL AND h.revoked_at IS NULL AND h.expires_at > $1 \
    AND NOT EXISTS (SELECT 1 FROM refresh_tokens f WHERE f.family_id = h.family_id AND f.revoked_at IS NOT NULL)";

/// `filter` as conditions on `refresh_tokens h`, its values bound after `values`'.
fn grant_filter(filter: &GrantFilter<'_>, values: &mut Vec<SqlValue>) -> String {
    values.push(SqlValue::Text(filter.user_id.to_string()));
    let mut sql = format!("h.user_id = ${}", values.len());
    for (column, value) in [("client_id", filter.client_id), ("audience", filter.audience)] {
        if let Some(value) = value {
            values.push(SqlValue::Text(value.to_string()));
            sql.push_str(&format!(" AND h.{column} = ${}", values.len()));
        }
    }
    sql
}

const REVOKE_FAMILY: &str = "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL";

/// PostgreSQL's whole refresh grant in one statement: `$1` rotated at `$2` into `$3`
/// (expiring `$4`) only if it is redeemable and [`RefreshRequest::granted_by`] holds
/// (client `$5`, scopes `$6`, the user not blocked); the rotated token and its user back.
static ROTATE_IF_GRANTED_POSTGRES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH old AS (UPDATE refresh_tokens SET rotated_at = $2 WHERE {redeemable} AND client_id = $5 \
         AND string_to_array(scope, ' ') @> $6::text[] \
         AND EXISTS (SELECT 1 FROM users b WHERE b.user_id = refresh_tokens.user_id AND NOT b.blocked) \
         RETURNING *), successor AS ({successor}) \
         SELECT {token}, {user} FROM old t JOIN users u ON u.user_id = t.user_id",
        redeemable = redeemable!(),
        successor = successor_insert!("old", successor_expiry_postgres!()),
        token = token_columns_prefixed(),
        user = user_columns_of("u"),
    )
});

/// The token's columns of table alias `t`, prefixed `rt_` so that they cannot be
/// confused with a user's.
fn token_columns_prefixed() -> String {
    REFRESH_COLUMNS.split(',').map(str::trim).map(|c| format!("t.{c} AS rt_{c}")).collect::<Vec<_>>().join(", ")
}

fn user_columns_of(alias: &str) -> String {
    USER_COLUMNS.split(',').map(str::trim).map(|c| format!("{alias}.{c}")).collect::<Vec<_>>().join(", ")
}

/// A token (`$1`) and its user: the token's columns first, prefixed `rt_` so that they
/// cannot be confused with the user's, then the user's (NULL for a user gone).
static REFRESH_AND_USER: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {}, {} FROM refresh_tokens t LEFT JOIN users u ON u.user_id = t.user_id WHERE t.token_hash = $1",
        token_columns_prefixed(),
        user_columns_of("u")
    )
});
const REFRESH_COLUMNS: &str = refresh_columns!();

const SESSION_INSERT: &str = "INSERT INTO login_sessions (id_hash, sid, user_id, auth_time, created_at, expires_at, \
    method, initial_ip, initial_user_agent, last_ip, last_user_agent, last_interacted_at) \
    VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)";
const SESSION_CLIENT_INSERT: &str =
    "INSERT INTO login_session_clients (sid, client_id) VALUES ($1, $2) ON CONFLICT DO NOTHING";
const CODE_INSERT: &str = "INSERT INTO authorization_codes (code_hash, family_id, client_id, redirect_uri, \
    code_challenge, code_challenge_method, nonce, scope, audience, user_id, auth_time, sid, created_at, expires_at) \
    VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)";
/// A family's first token: the family begins when it is created (`$9`) and ends at `$11`.
const REFRESH_INSERT: &str = "INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, scope, \
    audience, sid, auth_time, created_at, expires_at, family_created_at, family_expires_at) \
    VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$9,$11)";

macro_rules! bind_refresh {
    ($query:expr, $t:expr) => {
        $query
            .bind(&$t.token_hash)
            .bind(&$t.family_id)
            .bind(&$t.client_id)
            .bind(&$t.user_id)
            .bind(&$t.scope)
            .bind(&$t.audience)
            .bind(&$t.sid)
            .bind($t.auth_time)
            .bind($t.created_at)
            .bind($t.expires_at)
    };
}

impl Store {
    // ---- sessions -------------------------------------------------------------------

    /// Stores a new session, signed in to `client_id`.
    pub async fn insert_login_session(&self, s: &LoginSession, client_id: &str) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(SESSION_INSERT)
                .bind(&s.id_hash)
                .bind(&s.sid)
                .bind(&s.user_id)
                .bind(s.auth_time)
                .bind(s.created_at)
                .bind(s.expires_at)
                .bind(&s.method)
                .bind(&s.initial.ip)
                .bind(&s.initial.user_agent)
                .bind(&s.last.ip)
                .bind(&s.last.user_agent)
                .bind(s.last_interacted_at)
                .execute(&mut *tx)
                .await?;
            sqlx::query(SESSION_CLIENT_INSERT).bind(&s.sid).bind(client_id).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })
    }

    /// Records that session `sid` signed in to `client_id` from `device` at `now`
    /// (single sign-on). Returns whether the session still exists.
    pub async fn session_used(
        &self,
        sid: &str,
        client_id: &str,
        device: &Device,
        now: i64,
    ) -> Result<bool, StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let found = sqlx::query(
                "UPDATE login_sessions SET last_ip = $2, last_user_agent = $3, last_interacted_at = $4 WHERE sid = $1",
            )
            .bind(sid)
            .bind(&device.ip)
            .bind(&device.user_agent)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if found > 0 {
                sqlx::query(SESSION_CLIENT_INSERT).bind(sid).bind(client_id).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok::<_, StoreError>(found > 0)
        })
    }

    /// Session `sid`, if it has not expired by `now`, with its applications.
    pub async fn session_details(&self, sid: &str, now: i64) -> Result<Option<SessionDetails>, StoreError> {
        let values = [SqlValue::Text(sid.into()), SqlValue::Int(now)];
        Ok(self.sessions_where("s.sid = $1 AND s.expires_at > $2", &values).await?.pop())
    }

    /// `user_id`'s sessions that have not expired by `now`, by `sid`: at most `limit`,
    /// from the first after `after`.
    pub async fn sessions_of_user(
        &self,
        user_id: &str,
        now: i64,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<SessionDetails>, StoreError> {
        self.sessions_where(
            "s.user_id = $1 AND s.expires_at > $2 AND s.sid > $3 ORDER BY s.sid LIMIT $4",
            &[
                SqlValue::Text(user_id.into()),
                SqlValue::Int(now),
                SqlValue::Text(after.unwrap_or("").into()),
                SqlValue::Int(i64::from(limit)),
            ],
        )
        .await
    }

    /// The sessions of `login_sessions s` that `clause` selects (a condition, and any order
    /// and limit, bound to `values`), each with the applications it signed in to.
    async fn sessions_where(&self, clause: &str, values: &[SqlValue]) -> Result<Vec<SessionDetails>, StoreError> {
        let sql = format!("SELECT s.* FROM login_sessions s WHERE {clause}");
        let sessions = on_pool!(self, |pool| {
            let rows = bind_values!(sqlx::query(&sql), values).fetch_all(pool).await?;
            rows.iter().map(LoginSession::from_row).collect::<Result<Vec<_>, _>>()
        })?;
        if sessions.is_empty() {
            return Ok(Vec::new());
        }
        // One statement for the page (callers read at most a few hundred sessions at once).
        let sids: Vec<SqlValue> = sessions.iter().map(|s| SqlValue::Text(s.sid.clone())).collect();
        let placeholders: Vec<String> = (1..=sids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT sid, client_id FROM login_session_clients WHERE sid IN ({}) ORDER BY client_id",
            placeholders.join(", ")
        );
        let pairs: Vec<(String, String)> =
            on_pool!(self, |pool| bind_values!(sqlx::query_as(&sql), &sids).fetch_all(pool).await)?;
        Ok(sessions
            .into_iter()
            .map(|session| {
                let clients = pairs.iter().filter(|(sid, _)| *sid == session.sid).map(|(_, c)| c.clone()).collect();
                SessionDetails { session, clients }
            })
            .collect())
    }

    /// Up to `limit` sessions that expired by `now` and signed in to some application, the
    /// longest expired first, with their applications: the ones housekeeping tells of
    /// before it purges the rest.
    pub async fn expired_sessions(&self, now: i64, limit: u32) -> Result<Vec<SessionDetails>, StoreError> {
        self.sessions_where(
            "s.expires_at <= $1 AND EXISTS (SELECT 1 FROM login_session_clients c WHERE c.sid = s.sid) \
             ORDER BY s.expires_at LIMIT $2",
            &[SqlValue::Int(now), SqlValue::Int(i64::from(limit))],
        )
        .await
    }

    /// Ends session `sid` (the Management API's way). Returns whether it existed.
    pub async fn delete_session(&self, sid: &str) -> Result<bool, StoreError> {
        let done = on_pool!(self, |pool| sqlx::query("DELETE FROM login_sessions WHERE sid = $1")
            .bind(sid)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done > 0)
    }

    /// Ends every session of `user_id`. Returns how many there were.
    pub async fn delete_sessions_of_user(&self, user_id: &str) -> Result<u64, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query("DELETE FROM login_sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?)
    }

    /// The live session with this id hash, if it has not expired by `now`.
    pub async fn login_session(&self, id_hash: &str, now: i64) -> Result<Option<LoginSession>, StoreError> {
        on_pool!(self, |pool| {
            let row = sqlx::query("SELECT * FROM login_sessions WHERE id_hash = $1 AND expires_at > $2")
                .bind(id_hash)
                .bind(now)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(LoginSession::from_row).transpose()
        })
    }

    pub async fn login_session_by_sid(&self, sid: &str) -> Result<Option<LoginSession>, StoreError> {
        on_pool!(self, |pool| {
            let row = sqlx::query("SELECT * FROM login_sessions WHERE sid = $1").bind(sid).fetch_optional(pool).await?;
            row.as_ref().map(LoginSession::from_row).transpose()
        })
    }

    /// Ends a session. Returns whether one existed.
    pub async fn delete_login_session(&self, id_hash: &str) -> Result<bool, StoreError> {
        let done = on_pool!(self, |pool| sqlx::query("DELETE FROM login_sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done > 0)
    }

    // ---- login transactions ------------------------------------------------------------

    pub async fn insert_login_transaction(&self, t: &LoginTransaction) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query(
            "INSERT INTO login_transactions (id_hash, browser_hash, params, created_at, expires_at) \
             VALUES ($1,$2,$3,$4,$5)"
        )
        .bind(&t.id_hash)
        .bind(&t.browser_hash)
        .bind(&t.params)
        .bind(t.created_at)
        .bind(t.expires_at)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn login_transaction(&self, id_hash: &str, now: i64) -> Result<Option<LoginTransaction>, StoreError> {
        on_pool!(self, |pool| {
            let row = sqlx::query("SELECT * FROM login_transactions WHERE id_hash = $1 AND expires_at > $2")
                .bind(id_hash)
                .bind(now)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(LoginTransaction::from_row).transpose()
        })
    }

    /// Finishes a transaction: only one caller gets `true`.
    pub async fn delete_login_transaction(&self, id_hash: &str) -> Result<bool, StoreError> {
        let done = on_pool!(self, |pool| sqlx::query("DELETE FROM login_transactions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done > 0)
    }

    // ---- authorization codes -------------------------------------------------------------

    pub async fn insert_auth_code(&self, c: &AuthCode) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query(CODE_INSERT)
            .bind(&c.code_hash)
            .bind(&c.family_id)
            .bind(&c.client_id)
            .bind(&c.redirect_uri)
            .bind(&c.code_challenge)
            .bind(&c.code_challenge_method)
            .bind(&c.nonce)
            .bind(&c.scope)
            .bind(&c.audience)
            .bind(&c.user_id)
            .bind(c.auth_time)
            .bind(&c.sid)
            .bind(c.created_at)
            .bind(c.expires_at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Marks the code used, atomically. A second redemption sees `Replayed`.
    pub async fn redeem_auth_code(&self, code_hash: &str, now: i64) -> Result<CodeRedemption, StoreError> {
        on_pool!(self, |pool| {
            let won = sqlx::query(
                "UPDATE authorization_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL RETURNING *",
            )
            .bind(code_hash)
            .bind(now)
            .fetch_optional(pool)
            .await?;
            if let Some(row) = won {
                return Ok(CodeRedemption::Redeemed(AuthCode::from_row(&row)?));
            }
            let seen = sqlx::query("SELECT * FROM authorization_codes WHERE code_hash = $1")
                .bind(code_hash)
                .fetch_optional(pool)
                .await?;
            match seen {
                Some(row) => Ok(CodeRedemption::Replayed(AuthCode::from_row(&row)?)),
                None => Ok(CodeRedemption::Unknown),
            }
        })
    }

    /// Drops codes that expired before `cutoff` (used or not).
    pub async fn purge_auth_codes(&self, cutoff: i64) -> Result<u64, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query("DELETE FROM authorization_codes WHERE expires_at < $1")
            .bind(cutoff)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?)
    }

    /// One step of housekeeping: deletes sessions, login transactions and refresh tokens
    /// that expired before `now`, and codes that expired more than `code_grace` seconds
    /// ago (kept a while so a late replay is still recognised and revokes its tokens).
    /// Returns how many rows went.
    pub async fn purge_expired_login_state(&self, now: i64, code_grace: i64) -> Result<u64, StoreError> {
        let mut total = self.purge_auth_codes(now - code_grace).await?;
        for table in ["login_sessions", "login_transactions", "refresh_tokens", "upstream_transactions"] {
            let sql = format!("DELETE FROM {table} WHERE expires_at < $1");
            total += on_pool!(self, |pool| sqlx::query(&sql).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
        }
        Ok(total)
    }

    // ---- refresh tokens --------------------------------------------------------------

    /// Stores the first token of a family, which ends at `family_expires_at` whatever its
    /// rotations (`None`: never, beyond each token's own expiry).
    pub async fn insert_refresh_token(
        &self,
        t: &RefreshToken,
        family_expires_at: Option<i64>,
    ) -> Result<(), StoreError> {
        let t = t.clone();
        on_writer!(self, |pool| bind_refresh!(sqlx::query(REFRESH_INSERT), t)
            .bind(family_expires_at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The refresh grant's one write: rotates `request`'s token into `successor` if the
    /// token can be redeemed and [`RefreshRequest::granted_by`] holds, and returns the
    /// token (now rotated) with its user. `None` (nothing written) says only that the grant
    /// does not stand as asked; [`Store::refresh_token_and_user`] and
    /// [`Store::rotate_refresh_token`] tell why (and catch a reuse).
    ///
    /// One round trip: on PostgreSQL one statement, on an SQLite file one transaction on
    /// the writer thread.
    pub async fn rotate_refresh_token_if_granted(
        &self,
        request: &RefreshRequest<'_>,
        successor: &Successor<'_>,
        now: i64,
    ) -> Result<Option<(RefreshToken, User)>, StoreError> {
        if let Some(held) = &self.held {
            // Owned, for the writer thread.
            let (token_hash, client_id) = (request.token_hash.to_owned(), request.client_id.to_owned());
            let scopes: Vec<String> = request.scopes.iter().map(|s| s.to_string()).collect();
            let (successor_hash, expires_at) = (successor.token_hash.to_owned(), successor.expires_at);
            return held
                .writer
                .run_sync(move |c| {
                    // Dropped uncommitted (rolled back) unless the rotation went through.
                    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                    let found = {
                        let mut statement = tx.prepare_cached(&REFRESH_AND_USER)?;
                        let mut rows = statement.query(rusqlite::named_params! {"$1": token_hash})?;
                        rows.next()?.map(token_and_user_from_sqlite_row).transpose()?
                    };
                    let Some((token, Some(user))) = found else { return Ok(None) };
                    let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
                    let request = RefreshRequest { token_hash: &token_hash, client_id: &client_id, scopes: &scopes };
                    if !request.granted_by(&token, Some(&user)) {
                        return Ok(None);
                    }
                    match rotate_in(&tx, &token_hash, now, &successor_hash, expires_at)? {
                        RefreshRedemption::Rotated(rotated) => {
                            tx.commit()?;
                            Ok(Some((rotated, user)))
                        }
                        // A reuse's revocation is left to the caller's second look.
                        RefreshRedemption::Reused(_) | RefreshRedemption::Invalid => Ok(None),
                    }
                })
                .await;
        }
        match &self.backend {
            Backend::Postgres(pool) => {
                let row = sqlx::query(&ROTATE_IF_GRANTED_POSTGRES)
                    .bind(request.token_hash)
                    .bind(now)
                    .bind(successor.token_hash)
                    .bind(successor.expires_at)
                    .bind(request.client_id)
                    .bind(request.scopes)
                    .fetch_optional(pool)
                    .await?;
                let Some(row) = row else { return Ok(None) };
                Ok(Some((RefreshToken::from_joined_row(&row)?, User::from_row(&row)?)))
            }
            // An in-memory SQLite store (tests): the read, then the plain rotation.
            Backend::Sqlite(_) => {
                let found = self.refresh_token_and_user(request.token_hash).await?;
                let Some((token, Some(user))) = found else { return Ok(None) };
                if !request.granted_by(&token, Some(&user)) {
                    return Ok(None);
                }
                match self.rotate_refresh_token(request.token_hash, successor, now).await? {
                    RefreshRedemption::Rotated(rotated) => Ok(Some((rotated, user))),
                    RefreshRedemption::Reused(_) | RefreshRedemption::Invalid => Ok(None),
                }
            }
        }
    }

    /// Redeems `token_hash` and stores `successor` in the same family (it inherits the
    /// redeemed token's grant: client, user, scope, audience, session). A token that was
    /// already rotated revokes its family; a token of a revoked family, or an expired one,
    /// is `Invalid`.
    ///
    /// One round trip and one commit: on SQLite the statements of one transaction sent
    /// together, on PostgreSQL one statement. The write lock of SQLite's one writer is
    /// held for the statements alone; with a round trip per statement it was also held
    /// while the async runtime got round to the task each answer woke, and a rotation
    /// took 0.8 ms of the writer's time under load instead of well under 0.1 ms.
    pub async fn rotate_refresh_token(
        &self,
        token_hash: &str,
        successor: &Successor<'_>,
        now: i64,
    ) -> Result<RefreshRedemption, StoreError> {
        if let Some(held) = &self.held {
            let (token_hash, successor_hash) = (token_hash.to_owned(), successor.token_hash.to_owned());
            let expires_at = successor.expires_at;
            return held
                .writer
                .run_sync(move |c| {
                    // Dropped uncommitted (rolled back) if any statement fails.
                    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                    let redemption = rotate_in(&tx, &token_hash, now, &successor_hash, expires_at)?;
                    tx.commit()?;
                    Ok(redemption)
                })
                .await;
        }
        // Held stores (SQLite files) took the synchronous path above.
        let dialect = self.dialect();
        let rotate = match dialect {
            Dialect::Sqlite => ROTATE_SQLITE,
            Dialect::Postgres => ROTATE_POSTGRES,
        };
        let (token_hash, successor_hash) = (token_hash.to_owned(), successor.token_hash.to_owned());
        let expires_at = successor.expires_at;
        on_writer!(self, |pool| {
            // A pooled connection needs `mut`; the writer's is already a `&mut`.
            #[allow(unused_mut)]
            let mut c = pool.acquire().await?;
            let rotated = sqlx::query(rotate)
                .bind(&token_hash)
                .bind(now)
                .bind(&successor_hash)
                .bind(expires_at)
                .fetch_all(&mut *c)
                .await;
            let rotated = match rotated {
                Ok(rows) => rows,
                Err(e) => {
                    // The transaction may be open still (a statement after BEGIN failed).
                    if dialect == Dialect::Sqlite {
                        let _ = sqlx::query("ROLLBACK").execute(&mut *c).await;
                    }
                    return Err(e.into());
                }
            };
            if let Some(row) = rotated.first() {
                return Ok(RefreshRedemption::Rotated(RefreshToken::from_row(row)?));
            }
            let seen = sqlx::query(REFRESH_TOKEN).bind(&token_hash).fetch_optional(&mut *c).await?;
            let Some(row) = seen else { return Ok(RefreshRedemption::Invalid) };
            let token = RefreshToken::from_row(&row)?;
            if token.rotated_at.is_some() {
                sqlx::query(REVOKE_FAMILY).bind(&token.family_id).bind(now).execute(&mut *c).await?;
                return Ok(RefreshRedemption::Reused(token));
            }
            Ok::<_, StoreError>(RefreshRedemption::Invalid)
        })
    }

    /// Revokes every refresh token of a family (after a code replay, or on reuse).
    pub async fn revoke_refresh_family(&self, family_id: &str, now: i64) -> Result<u64, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query(REVOKE_FAMILY)
            .bind(family_id)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?)
    }

    /// Revokes every refresh token issued under a session (logout).
    pub async fn revoke_refresh_tokens_of_session(&self, sid: &str, now: i64) -> Result<u64, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE sid = $1 AND revoked_at IS NULL"
        )
        .bind(sid)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?)
    }

    /// `filter`'s live refresh grants at `now` (families whose live token has neither
    /// lapsed nor been revoked), by family id: at most `limit`, from the first after `after`.
    pub async fn refresh_grants(
        &self,
        filter: &GrantFilter<'_>,
        now: i64,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<RefreshGrant>, StoreError> {
        let mut values = vec![SqlValue::Int(now)];
        let mut sql = format!("{GRANT_SELECT} AND {}", grant_filter(filter, &mut values));
        if let Some(after) = after {
            values.push(SqlValue::Text(after.to_string()));
            sql.push_str(&format!(" AND h.family_id > ${}", values.len()));
        }
        values.push(SqlValue::Int(i64::from(limit)));
        sql.push_str(&format!(" ORDER BY h.family_id LIMIT ${}", values.len()));
        on_pool!(self, |pool| {
            let rows = bind_values!(sqlx::query(&sql), &values).fetch_all(pool).await?;
            rows.iter().map(RefreshGrant::from_row).collect()
        })
    }

    /// The live refresh grant of family `family_id` at `now`.
    pub async fn refresh_grant(&self, family_id: &str, now: i64) -> Result<Option<RefreshGrant>, StoreError> {
        let sql = format!("{GRANT_SELECT} AND h.family_id = $2");
        on_pool!(self, |pool| {
            let row = sqlx::query(&sql).bind(now).bind(family_id).fetch_optional(pool).await?;
            row.as_ref().map(RefreshGrant::from_row).transpose()
        })
    }

    /// Revokes every refresh grant `filter` names. Returns how many tokens that touched.
    pub async fn revoke_refresh_grants(&self, filter: &GrantFilter<'_>, now: i64) -> Result<u64, StoreError> {
        let mut values = vec![SqlValue::Int(now)];
        let sql = format!(
            "UPDATE refresh_tokens AS h SET revoked_at = $1 WHERE h.revoked_at IS NULL AND {}",
            grant_filter(filter, &mut values)
        );
        Ok(on_pool!(self, |pool| bind_values!(sqlx::query(&sql), &values)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?)
    }

    /// A refresh token and its user (`None` if the user is gone), in one read: what a
    /// `refresh_token` grant checks before it rotates.
    pub async fn refresh_token_and_user(
        &self,
        token_hash: &str,
    ) -> Result<Option<(RefreshToken, Option<User>)>, StoreError> {
        if let Some(held) = &self.held {
            return held.sync_readers.read(|c| {
                let mut statement = c.prepare_cached(&REFRESH_AND_USER)?;
                let mut rows = statement.query(rusqlite::named_params! {"$1": token_hash})?;
                rows.next()?.map(token_and_user_from_sqlite_row).transpose()
            });
        }
        // Held stores (SQLite files) took the synchronous path above.
        on_pool!(self, |pool| {
            let row = sqlx::query(&REFRESH_AND_USER).bind(token_hash).fetch_optional(pool).await?;
            let Some(row) = row else { return Ok(None) };
            let token = RefreshToken::from_joined_row(&row)?;
            let user_id: Option<String> = row.try_get("user_id")?;
            let user = user_id.map(|_| User::from_row(&row)).transpose()?;
            Ok(Some((token, user)))
        })
    }

    pub async fn refresh_token(&self, token_hash: &str) -> Result<Option<RefreshToken>, StoreError> {
        on_reader!(self, |pool| {
            let row = sqlx::query(REFRESH_TOKEN).bind(token_hash).fetch_optional(pool).await?;
            row.as_ref().map(RefreshToken::from_row).transpose()
        })
    }
}

/// The rotation's statements on a synchronous SQLite connection, inside the caller's
/// write transaction: the successor stored and the token marked rotated if it is
/// redeemable; else, for a token already rotated, its family revoked (reuse).
fn rotate_in(
    tx: &rusqlite::Transaction<'_>,
    token_hash: &str,
    now: i64,
    successor_hash: &str,
    expires_at: i64,
) -> Result<RefreshRedemption, StoreError> {
    use rusqlite::named_params;
    tx.prepare_cached(store_successor_sqlite!())?
        .execute(named_params! {"$1": token_hash, "$2": now, "$3": successor_hash, "$4": expires_at})?;
    let mut mark = tx.prepare_cached(mark_rotated_sqlite!())?;
    let mut rotated = mark.query(named_params! {"$1": token_hash, "$2": now})?;
    if let Some(row) = rotated.next()? {
        return Ok(RefreshRedemption::Rotated(crate::rows::refresh_token_from_sqlite_columns(row, 0)?));
    }
    let mut seen = tx.prepare_cached(REFRESH_TOKEN)?;
    let mut seen = seen.query(named_params! {"$1": token_hash})?;
    let Some(row) = seen.next()? else { return Ok(RefreshRedemption::Invalid) };
    let token = crate::rows::refresh_token_from_sqlite_columns(row, 0)?;
    if token.rotated_at.is_none() {
        return Ok(RefreshRedemption::Invalid);
    }
    tx.prepare_cached(REVOKE_FAMILY)?.execute(named_params! {"$1": token.family_id, "$2": now})?;
    Ok(RefreshRedemption::Reused(token))
}

/// A row of `REFRESH_AND_USER` on a synchronous SQLite connection.
fn token_and_user_from_sqlite_row(row: &rusqlite::Row<'_>) -> Result<(RefreshToken, Option<User>), StoreError> {
    let token = crate::rows::refresh_token_from_sqlite_columns(row, 0)?;
    let user_columns = crate::rows::REFRESH_TOKEN_NAMES[0].len();
    let user_id: Option<String> = row.get(user_columns)?;
    let user = user_id.map(|_| crate::rows::user_from_sqlite_columns(row, user_columns)).transpose()?;
    Ok((token, user))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The positional decoder (rusqlite) and the by-name one (sqlx) read the same columns.
    #[test]
    fn one_list_of_refresh_token_columns() {
        let [plain, joined] = crate::rows::REFRESH_TOKEN_NAMES;
        assert_eq!(plain.join(", "), REFRESH_COLUMNS.split(',').map(str::trim).collect::<Vec<_>>().join(", "));
        assert!(plain.iter().zip(joined).all(|(p, j)| j == format!("rt_{p}")));
        assert!(REFRESH_AND_USER.contains(&plain.map(|c| format!("t.{c} AS rt_{c}")).join(", ")));
    }
}
