//! Sign-in state of the OpenID Connect provider: single sign-on sessions, pending login
//! transactions, authorization codes and refresh tokens.
//!
//! Callers hand in and look up *hashes* of the secrets (see `gatehouse-server`), never the
//! secrets themselves. Single use is enforced by the database: a code or a refresh token
//! is redeemed by a conditional `UPDATE … RETURNING`, so of two concurrent redemptions
//! exactly one gets the row.

use crate::db::{Conn, Row};
use crate::error::StoreError;
use crate::rows::{user_columns, FromRow};
use crate::sql::{Dialect, SqlValue};
use crate::store::Store;
use gatehouse_core::user::User;
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
    /// How the user authenticated for it (OIDC `amr`, space separated), when recorded.
    pub amr: Option<String>,
    /// The claims the post-login Actions set at the login that issued it (what
    /// `gatehouse-services::actions::LoginClaims` serializes to); none for a code issued
    /// before they ran there.
    pub action_claims: Option<serde_json::Value>,
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
    ($from:literal, $expiry:literal) => {
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

/// The rotation on SQLite, two statements of one write: the successor stored (`$3`,
/// expiring `$4`; SQLite's two-argument `MIN` is NULL if either is) if `$1` is redeemable
/// at `$2` …
const STORE_SUCCESSOR_SQLITE: &str =
    concat!(successor_insert!("refresh_tokens WHERE ", "MIN($4, COALESCE(family_expires_at, $4))"), redeemable!());

/// … and `$1` marked rotated at `$2` on the same condition. Both evaluate it under the
/// write's lock, so the successor is stored exactly when the old token is marked rotated.
const MARK_ROTATED_SQLITE: &str =
    concat!("UPDATE refresh_tokens SET rotated_at = $2 WHERE ", redeemable!(), " RETURNING *");

/// The rotation on PostgreSQL, one statement (`LEAST` passes over a NULL).
const ROTATE_POSTGRES: &str = concat!(
    "WITH old AS (UPDATE refresh_tokens SET rotated_at = $2 WHERE ",
    redeemable!(),
    " RETURNING *), successor AS (",
    successor_insert!("old", "LEAST($4, family_expires_at)"),
    ") SELECT * FROM old"
);

const REFRESH_TOKEN: &str = "SELECT * FROM refresh_tokens WHERE token_hash = $1";

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

/// The columns of `refresh_tokens`, renamed `rt_…` in a join with `users` (which shares
/// names with it, `created_at`).
const TOKEN_PREFIX: &str = "rt_";

/// A token (`$1`) and its user: the token's columns prefixed [`TOKEN_PREFIX`], then the
/// user's (NULL for a user gone).
static REFRESH_AND_USER: LazyLock<String> = LazyLock::new(|| {
    let token = [
        "token_hash",
        "family_id",
        "client_id",
        "user_id",
        "scope",
        "audience",
        "sid",
        "auth_time",
        "created_at",
        "expires_at",
        "rotated_at",
        "revoked_at",
    ]
    .map(|c| format!("t.{c} AS {TOKEN_PREFIX}{c}"))
    .join(", ");
    format!(
        "SELECT {token}, {} FROM refresh_tokens t LEFT JOIN users u ON u.user_id = t.user_id WHERE t.token_hash = $1",
        user_columns("u")
    )
});

/// A row of [`REFRESH_AND_USER`].
fn token_and_user(r: &Row<'_>) -> Result<(RefreshToken, Option<User>), StoreError> {
    let token = RefreshToken::from_row(&r.prefixed(TOKEN_PREFIX))?;
    let user = match r.get::<Option<String>>("user_id")? {
        Some(_) => Some(User::from_row(r)?),
        None => None,
    };
    Ok((token, user))
}

const SESSION_INSERT: &str = "INSERT INTO login_sessions (id_hash, sid, user_id, auth_time, created_at, expires_at, \
    method, initial_ip, initial_user_agent, last_ip, last_user_agent, last_interacted_at) \
    VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)";
const SESSION_CLIENT_INSERT: &str =
    "INSERT INTO login_session_clients (sid, client_id) VALUES ($1, $2) ON CONFLICT DO NOTHING";
const CODE_INSERT: &str = "INSERT INTO authorization_codes (code_hash, family_id, client_id, redirect_uri, \
    code_challenge, code_challenge_method, nonce, scope, audience, user_id, auth_time, sid, created_at, expires_at, \
    amr, action_claims) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)";
/// A family's first token: the family begins when it is created (`$9`) and ends at `$11`.
const REFRESH_INSERT: &str = "INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, scope, \
    audience, sid, auth_time, created_at, expires_at, family_created_at, family_expires_at) \
    VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$9,$11)";

/// What a rotation does when the presented token was rotated before: a reuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnReuse {
    /// Revoke the family (and say `Reused`).
    Revoke,
    /// Write nothing more (and say `Invalid`): the caller looks again and revokes.
    Leave,
}

/// Redeems `token_hash` at `now` into `successor_hash` (expiring `expires_at`), inside
/// the caller's write: the successor stored and the token marked rotated if it is
/// redeemable; else, for a token already rotated, its family revoked if `on_reuse` says so.
async fn rotate_in(
    c: &mut Conn<'_>,
    token_hash: &str,
    now: i64,
    successor_hash: &str,
    expires_at: i64,
    on_reuse: OnReuse,
) -> Result<RefreshRedemption, StoreError> {
    let rotation = values![token_hash, now, successor_hash, expires_at];
    let rotated = match c.dialect() {
        Dialect::Postgres => c.opt(ROTATE_POSTGRES, &rotation, RefreshToken::from_row).await?,
        Dialect::Sqlite => {
            c.execute(STORE_SUCCESSOR_SQLITE, &rotation).await?;
            c.opt(MARK_ROTATED_SQLITE, &rotation[..2], RefreshToken::from_row).await?
        }
    };
    if let Some(token) = rotated {
        return Ok(RefreshRedemption::Rotated(token));
    }
    let Some(token) = c.opt(REFRESH_TOKEN, &rotation[..1], RefreshToken::from_row).await? else {
        return Ok(RefreshRedemption::Invalid);
    };
    if token.rotated_at.is_none() || on_reuse == OnReuse::Leave {
        return Ok(RefreshRedemption::Invalid);
    }
    c.execute(REVOKE_FAMILY, &values![&token.family_id, now]).await?;
    Ok(RefreshRedemption::Reused(token))
}

impl Store {
    // ---- sessions -------------------------------------------------------------------

    /// Stores a new session, signed in to `client_id`.
    pub async fn insert_login_session(&self, s: &LoginSession, client_id: &str) -> Result<(), StoreError> {
        let session = values![
            &s.id_hash,
            &s.sid,
            &s.user_id,
            s.auth_time,
            s.created_at,
            s.expires_at,
            &s.method,
            &s.initial.ip,
            &s.initial.user_agent,
            &s.last.ip,
            &s.last.user_agent,
            &s.last_interacted_at,
        ];
        let signed_in = values![&s.sid, client_id];
        self.db
            .transaction(move |mut c| {
                Box::pin(async move {
                    c.execute(SESSION_INSERT, &session).await?;
                    c.execute(SESSION_CLIENT_INSERT, &signed_in).await?;
                    Ok(())
                })
            })
            .await
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
        let used = values![sid, &device.ip, &device.user_agent, now];
        let signed_in = values![sid, client_id];
        self.db
            .transaction(move |mut c| {
                Box::pin(async move {
                    let found = c
                        .execute(
                            "UPDATE login_sessions SET last_ip = $2, last_user_agent = $3, last_interacted_at = $4 \
                             WHERE sid = $1",
                            &used,
                        )
                        .await?
                        > 0;
                    if found {
                        c.execute(SESSION_CLIENT_INSERT, &signed_in).await?;
                    }
                    Ok(found)
                })
            })
            .await
    }

    /// Session `sid`, if it has not expired by `now`, with its applications.
    pub async fn session_details(&self, sid: &str, now: i64) -> Result<Option<SessionDetails>, StoreError> {
        Ok(self.sessions_where("s.sid = $1 AND s.expires_at > $2", &values![sid, now]).await?.pop())
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
            &values![user_id, now, after.unwrap_or(""), limit],
        )
        .await
    }

    /// The sessions of `login_sessions s` that `clause` selects (a condition, and any order
    /// and limit, bound to `values`), each with the applications it signed in to.
    async fn sessions_where(&self, clause: &str, values: &[SqlValue]) -> Result<Vec<SessionDetails>, StoreError> {
        let sql = format!("SELECT s.* FROM login_sessions s WHERE {clause}");
        let sessions = self.db.all(&sql, values, LoginSession::from_row).await?;
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
            self.db.all(&sql, &sids, |r| Ok((r.get("sid")?, r.get("client_id")?))).await?;
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
            &values![now, limit],
        )
        .await
    }

    /// Ends session `sid` (the Management API's way). Returns whether it existed.
    pub async fn delete_session(&self, sid: &str) -> Result<bool, StoreError> {
        Ok(self.db.execute("DELETE FROM login_sessions WHERE sid = $1", values![sid]).await? > 0)
    }

    /// Ends every session of `user_id`. Returns how many there were.
    pub async fn delete_sessions_of_user(&self, user_id: &str) -> Result<u64, StoreError> {
        self.db.execute("DELETE FROM login_sessions WHERE user_id = $1", values![user_id]).await
    }

    /// The live session with this id hash, if it has not expired by `now`.
    pub async fn login_session(&self, id_hash: &str, now: i64) -> Result<Option<LoginSession>, StoreError> {
        self.db
            .opt(
                "SELECT * FROM login_sessions WHERE id_hash = $1 AND expires_at > $2",
                &values![id_hash, now],
                LoginSession::from_row,
            )
            .await
    }

    pub async fn login_session_by_sid(&self, sid: &str) -> Result<Option<LoginSession>, StoreError> {
        self.db.opt("SELECT * FROM login_sessions WHERE sid = $1", &values![sid], LoginSession::from_row).await
    }

    /// Ends a session. Returns whether one existed.
    pub async fn delete_login_session(&self, id_hash: &str) -> Result<bool, StoreError> {
        Ok(self.db.execute("DELETE FROM login_sessions WHERE id_hash = $1", values![id_hash]).await? > 0)
    }

    // ---- login transactions ------------------------------------------------------------

    pub async fn insert_login_transaction(&self, t: &LoginTransaction) -> Result<(), StoreError> {
        self.db
            .execute(
                "INSERT INTO login_transactions (id_hash, browser_hash, params, created_at, expires_at) \
                 VALUES ($1,$2,$3,$4,$5)",
                values![&t.id_hash, &t.browser_hash, &t.params, t.created_at, t.expires_at],
            )
            .await?;
        Ok(())
    }

    pub async fn login_transaction(&self, id_hash: &str, now: i64) -> Result<Option<LoginTransaction>, StoreError> {
        self.db
            .opt(
                "SELECT * FROM login_transactions WHERE id_hash = $1 AND expires_at > $2",
                &values![id_hash, now],
                LoginTransaction::from_row,
            )
            .await
    }

    /// Finishes a transaction: only one caller gets `true`.
    pub async fn delete_login_transaction(&self, id_hash: &str) -> Result<bool, StoreError> {
        Ok(self.db.execute("DELETE FROM login_transactions WHERE id_hash = $1", values![id_hash]).await? > 0)
    }

    // ---- authorization codes -------------------------------------------------------------

    pub async fn insert_auth_code(&self, c: &AuthCode) -> Result<(), StoreError> {
        let code = values![
            &c.code_hash,
            &c.family_id,
            &c.client_id,
            &c.redirect_uri,
            &c.code_challenge,
            &c.code_challenge_method,
            &c.nonce,
            &c.scope,
            &c.audience,
            &c.user_id,
            c.auth_time,
            &c.sid,
            c.created_at,
            c.expires_at,
            &c.amr,
            SqlValue::json_or_null(c.action_claims.as_ref()),
        ];
        self.db.execute(CODE_INSERT, code).await?;
        Ok(())
    }

    /// Marks the code used, atomically. A second redemption sees `Replayed`.
    pub async fn redeem_auth_code(&self, code_hash: &str, now: i64) -> Result<CodeRedemption, StoreError> {
        let won = self
            .db
            .write_opt(
                "UPDATE authorization_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL RETURNING *",
                values![code_hash, now],
                AuthCode::from_row,
            )
            .await?;
        if let Some(code) = won {
            return Ok(CodeRedemption::Redeemed(code));
        }
        let seen = self
            .db
            .opt("SELECT * FROM authorization_codes WHERE code_hash = $1", &values![code_hash], AuthCode::from_row)
            .await?;
        Ok(seen.map_or(CodeRedemption::Unknown, CodeRedemption::Replayed))
    }

    /// Drops codes that expired before `cutoff` (used or not).
    pub async fn purge_auth_codes(&self, cutoff: i64) -> Result<u64, StoreError> {
        self.db.execute("DELETE FROM authorization_codes WHERE expires_at < $1", values![cutoff]).await
    }

    /// One step of housekeeping: deletes sessions, login transactions and refresh tokens
    /// that expired before `now`, and codes that expired more than `code_grace` seconds
    /// ago (kept a while so a late replay is still recognised and revokes its tokens).
    /// Returns how many rows went.
    pub async fn purge_expired_login_state(&self, now: i64, code_grace: i64) -> Result<u64, StoreError> {
        let mut total = self.purge_auth_codes(now - code_grace).await?;
        for table in [
            "login_sessions",
            "login_transactions",
            "refresh_tokens",
            "upstream_transactions",
            "mfa_pending",
            "mfa_remembered_browsers",
            "webauthn_ceremonies",
        ] {
            total += self.db.execute(&format!("DELETE FROM {table} WHERE expires_at < $1"), values![now]).await?;
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
        let token = values![
            &t.token_hash,
            &t.family_id,
            &t.client_id,
            &t.user_id,
            &t.scope,
            &t.audience,
            &t.sid,
            t.auth_time,
            t.created_at,
            t.expires_at,
            family_expires_at,
        ];
        self.db.execute(REFRESH_INSERT, token).await?;
        Ok(())
    }

    /// The refresh grant: rotates `request`'s token into `successor` if the token can be
    /// redeemed and [`RefreshRequest::granted_by`] holds, and returns the token (now
    /// rotated) with its user. `None` (nothing written) says only that the grant does not
    /// stand as asked; [`Store::refresh_token_and_user`] and
    /// [`Store::rotate_refresh_token`] tell why (and catch a reuse).
    ///
    /// The read is [`Store::refresh_token_and_user`]'s (inline on SQLite), the rule is
    /// Rust's ([`RefreshRequest::granted_by`]), the write is the rotation's (one write on
    /// SQLite's writer thread, one statement on PostgreSQL).
    pub async fn rotate_refresh_token_if_granted(
        &self,
        request: &RefreshRequest<'_>,
        successor: &Successor<'_>,
        now: i64,
    ) -> Result<Option<(RefreshToken, User)>, StoreError> {
        let Some((token, Some(user))) = self.refresh_token_and_user(request.token_hash).await? else {
            return Ok(None);
        };
        if !request.granted_by(&token, Some(&user)) {
            return Ok(None);
        }
        match self.rotate(request.token_hash, successor, now, OnReuse::Leave).await? {
            RefreshRedemption::Rotated(rotated) => Ok(Some((rotated, user))),
            RefreshRedemption::Reused(_) | RefreshRedemption::Invalid => Ok(None),
        }
    }

    /// Redeems `token_hash` and stores `successor` in the same family (it inherits the
    /// redeemed token's grant: client, user, scope, audience, session). A token that was
    /// already rotated revokes its family; a token of a revoked family, or an expired one,
    /// is `Invalid`.
    ///
    /// One write: on SQLite two statements on the writer thread, on PostgreSQL one
    /// statement (more only when it finds nothing to rotate).
    pub async fn rotate_refresh_token(
        &self,
        token_hash: &str,
        successor: &Successor<'_>,
        now: i64,
    ) -> Result<RefreshRedemption, StoreError> {
        self.rotate(token_hash, successor, now, OnReuse::Revoke).await
    }

    async fn rotate(
        &self,
        token_hash: &str,
        successor: &Successor<'_>,
        now: i64,
        on_reuse: OnReuse,
    ) -> Result<RefreshRedemption, StoreError> {
        let (token_hash, successor_hash) = (token_hash.to_owned(), successor.token_hash.to_owned());
        let expires_at = successor.expires_at;
        self.db
            .write(move |mut c| {
                Box::pin(
                    async move { rotate_in(&mut c, &token_hash, now, &successor_hash, expires_at, on_reuse).await },
                )
            })
            .await
    }

    /// Revokes every refresh token of a family (after a code replay, or on reuse).
    pub async fn revoke_refresh_family(&self, family_id: &str, now: i64) -> Result<u64, StoreError> {
        self.db.execute(REVOKE_FAMILY, values![family_id, now]).await
    }

    /// Revokes every refresh token issued under a session (logout).
    pub async fn revoke_refresh_tokens_of_session(&self, sid: &str, now: i64) -> Result<u64, StoreError> {
        self.db
            .execute(
                "UPDATE refresh_tokens SET revoked_at = $2 WHERE sid = $1 AND revoked_at IS NULL",
                values![sid, now],
            )
            .await
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
        let mut values = vec![SqlValue::from(now)];
        let mut sql = format!("{GRANT_SELECT} AND {}", grant_filter(filter, &mut values));
        if let Some(after) = after {
            values.push(SqlValue::from(after));
            sql.push_str(&format!(" AND h.family_id > ${}", values.len()));
        }
        values.push(SqlValue::from(limit));
        sql.push_str(&format!(" ORDER BY h.family_id LIMIT ${}", values.len()));
        self.db.all(&sql, &values, RefreshGrant::from_row).await
    }

    /// The live refresh grant of family `family_id` at `now`.
    pub async fn refresh_grant(&self, family_id: &str, now: i64) -> Result<Option<RefreshGrant>, StoreError> {
        let sql = format!("{GRANT_SELECT} AND h.family_id = $2");
        self.db.opt(&sql, &values![now, family_id], RefreshGrant::from_row).await
    }

    /// Revokes every refresh grant `filter` names. Returns how many tokens that touched.
    pub async fn revoke_refresh_grants(&self, filter: &GrantFilter<'_>, now: i64) -> Result<u64, StoreError> {
        let mut values = vec![SqlValue::from(now)];
        let sql = format!(
            "UPDATE refresh_tokens AS h SET revoked_at = $1 WHERE h.revoked_at IS NULL AND {}",
            grant_filter(filter, &mut values)
        );
        self.db.execute(&sql, values).await
    }

    /// A refresh token and its user (`None` if the user is gone), in one read: what a
    /// `refresh_token` grant checks before it rotates.
    pub async fn refresh_token_and_user(
        &self,
        token_hash: &str,
    ) -> Result<Option<(RefreshToken, Option<User>)>, StoreError> {
        self.db.opt(&REFRESH_AND_USER, &values![token_hash], token_and_user).await
    }

    pub async fn refresh_token(&self, token_hash: &str) -> Result<Option<RefreshToken>, StoreError> {
        self.db.opt(REFRESH_TOKEN, &values![token_hash], RefreshToken::from_row).await
    }
}
