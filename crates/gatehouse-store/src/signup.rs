//! Tickets (email verification and password change links) and password history.
//!
//! Callers store and look up the *hash* of a ticket, never the ticket. A ticket is used
//! once: [`Store::consume_ticket`] is a conditional `UPDATE … RETURNING`, so of two
//! concurrent uses exactly one gets the row, and only before it expires.

use crate::error::StoreError;
use crate::rows::FromRow;
use crate::store::{BeginWrite, Store};
use serde_json::{Map, Value};
use sqlx::types::Json;

/// What a ticket lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketKind {
    EmailVerification,
    PasswordChange,
    /// The link of a brute-force notice: lifts the user's login blocks.
    Unblock,
}

impl TicketKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TicketKind::EmailVerification => "email_verification",
            TicketKind::PasswordChange => "password_change",
            TicketKind::Unblock => "unblock",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "email_verification" => Some(TicketKind::EmailVerification),
            "password_change" => Some(TicketKind::PasswordChange),
            "unblock" => Some(TicketKind::Unblock),
            _ => None,
        }
    }
}

/// A ticket, by hash.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticket {
    pub ticket_hash: String,
    pub kind: TicketKind,
    pub user_id: String,
    pub client_id: Option<String>,
    /// Where the browser goes once the ticket is used.
    pub result_url: Option<String>,
    /// Options of the ticket (`mark_email_as_verified`, `includeEmailInRedirect`, …).
    pub params: Map<String, Value>,
    /// Unix seconds.
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// The most passwords remembered per user (Auth0's largest `password_history.size`).
pub const PASSWORD_HISTORY_MAX: i64 = 24;

impl Store {
    pub async fn insert_ticket(&self, t: &Ticket) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query(
            "INSERT INTO tickets (ticket_hash, kind, user_id, client_id, result_url, params, created_at, expires_at) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8)"
        )
        .bind(&t.ticket_hash)
        .bind(t.kind.as_str())
        .bind(&t.user_id)
        .bind(&t.client_id)
        .bind(&t.result_url)
        .bind(Json(&t.params))
        .bind(t.created_at)
        .bind(t.expires_at)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The ticket if it is unused and unexpired at `now` (nothing is changed).
    pub async fn live_ticket(&self, ticket_hash: &str, now: i64) -> Result<Option<Ticket>, StoreError> {
        on_pool!(self, |pool| {
            let row =
                sqlx::query("SELECT * FROM tickets WHERE ticket_hash = $1 AND used_at IS NULL AND expires_at > $2")
                    .bind(ticket_hash)
                    .bind(now)
                    .fetch_optional(pool)
                    .await?;
            row.as_ref().map(Ticket::from_row).transpose()
        })
    }

    /// Uses the ticket, atomically: `Some` for the one caller that wins an unused,
    /// unexpired ticket; `None` for everyone else.
    pub async fn consume_ticket(&self, ticket_hash: &str, now: i64) -> Result<Option<Ticket>, StoreError> {
        on_pool!(self, |pool| {
            let row = sqlx::query(
                "UPDATE tickets SET used_at = $2 WHERE ticket_hash = $1 AND used_at IS NULL AND expires_at > $2 \
                 RETURNING *",
            )
            .bind(ticket_hash)
            .bind(now)
            .fetch_optional(pool)
            .await?;
            row.as_ref().map(Ticket::from_row).transpose()
        })
    }

    /// Deletes tickets that expired before `now`, used or not. Returns how many went.
    pub async fn delete_expired_tickets(&self, now: i64) -> Result<u64, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query("DELETE FROM tickets WHERE expires_at < $1")
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?)
    }

    /// Remembers a password the user now has (its stored hash), keeping the newest
    /// [`PASSWORD_HISTORY_MAX`].
    pub async fn record_password(&self, user_id: &str, password_hash: &str, now: &str) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query("INSERT INTO password_history (user_id, password_hash, created_at) VALUES ($1,$2,$3)")
                .bind(user_id)
                .bind(password_hash)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "DELETE FROM password_history WHERE user_id = $1 AND id NOT IN \
                 (SELECT id FROM password_history WHERE user_id = $1 ORDER BY id DESC LIMIT $2)",
            )
            .bind(user_id)
            .bind(PASSWORD_HISTORY_MAX)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(())
        })?;
        Ok(())
    }

    /// The user's last `n` passwords (stored hashes), newest first.
    pub async fn password_history(&self, user_id: &str, n: usize) -> Result<Vec<String>, StoreError> {
        let n = i64::try_from(n).unwrap_or(PASSWORD_HISTORY_MAX).min(PASSWORD_HISTORY_MAX);
        Ok(on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT password_hash FROM password_history WHERE user_id = $1 ORDER BY id DESC LIMIT $2",
            )
            .bind(user_id)
            .bind(n)
            .fetch_all(pool)
            .await
        })?)
    }
}

macro_rules! ticket_decoder {
    ($($row:ty),*) => {$(
        impl FromRow<$row> for Ticket {
            fn from_row(r: &$row) -> Result<Self, StoreError> {
                use sqlx::Row;
                let kind: String = r.try_get("kind")?;
                Ok(Ticket {
                    ticket_hash: r.try_get("ticket_hash")?,
                    kind: TicketKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("ticket kind {kind:?}")))?,
                    user_id: r.try_get("user_id")?,
                    client_id: r.try_get("client_id")?,
                    result_url: r.try_get("result_url")?,
                    params: r.try_get::<Json<Map<String, Value>>, _>("params")?.0,
                    created_at: r.try_get("created_at")?,
                    expires_at: r.try_get("expires_at")?,
                    used_at: r.try_get("used_at")?,
                })
            }
        }
    )*};
}

ticket_decoder!(sqlx::sqlite::SqliteRow, sqlx::postgres::PgRow);
