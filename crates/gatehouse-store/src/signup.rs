//! Tickets (email verification, password change and unblock links, cross-origin login
//! tickets) and password history.
//!
//! Callers store and look up the *hash* of a ticket, never the ticket. A ticket is used
//! once: [`Store::consume_ticket`] is a conditional `UPDATE … RETURNING`, so of two
//! concurrent uses exactly one gets the row, and only before it expires.

use crate::error::StoreError;
use crate::rows::{first_string, FromRow};
use crate::sql::SqlValue;
use crate::store::Store;
use serde_json::{Map, Value};

/// What a ticket lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketKind {
    EmailVerification,
    PasswordChange,
    /// The link of a brute-force notice: lifts the user's login blocks.
    Unblock,
    /// A cross-origin login's `login_ticket` (`/co/authenticate`), redeemed by
    /// `/authorize` with proof of its `co_verifier`.
    Login,
}

impl TicketKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TicketKind::EmailVerification => "email_verification",
            TicketKind::PasswordChange => "password_change",
            TicketKind::Unblock => "unblock",
            TicketKind::Login => "login_ticket",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "email_verification" => Some(TicketKind::EmailVerification),
            "password_change" => Some(TicketKind::PasswordChange),
            "unblock" => Some(TicketKind::Unblock),
            "login_ticket" => Some(TicketKind::Login),
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
        self.db
            .execute(
                "INSERT INTO tickets (ticket_hash, kind, user_id, client_id, result_url, params, created_at, \
                 expires_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
                values![
                    &t.ticket_hash,
                    t.kind.as_str(),
                    &t.user_id,
                    &t.client_id,
                    &t.result_url,
                    SqlValue::json(&t.params),
                    t.created_at,
                    t.expires_at,
                ],
            )
            .await?;
        Ok(())
    }

    /// The ticket if it is unused and unexpired at `now` (nothing is changed).
    pub async fn live_ticket(&self, ticket_hash: &str, now: i64) -> Result<Option<Ticket>, StoreError> {
        self.db
            .opt(
                "SELECT * FROM tickets WHERE ticket_hash = $1 AND used_at IS NULL AND expires_at > $2",
                &values![ticket_hash, now],
                Ticket::from_row,
            )
            .await
    }

    /// Uses the ticket, atomically: `Some` for the one caller that wins an unused,
    /// unexpired ticket; `None` for everyone else.
    pub async fn consume_ticket(&self, ticket_hash: &str, now: i64) -> Result<Option<Ticket>, StoreError> {
        self.db
            .write_opt(
                "UPDATE tickets SET used_at = $2 WHERE ticket_hash = $1 AND used_at IS NULL AND expires_at > $2 \
                 RETURNING *",
                values![ticket_hash, now],
                Ticket::from_row,
            )
            .await
    }

    /// Deletes tickets that expired before `now`, used or not. Returns how many went.
    pub async fn delete_expired_tickets(&self, now: i64) -> Result<u64, StoreError> {
        self.db.execute("DELETE FROM tickets WHERE expires_at < $1", values![now]).await
    }

    /// Remembers a password the user now has (its stored hash), keeping the newest
    /// [`PASSWORD_HISTORY_MAX`].
    pub async fn record_password(&self, user_id: &str, password_hash: &str, now: &str) -> Result<(), StoreError> {
        let (remembered, kept) = (values![user_id, password_hash, now], values![user_id, PASSWORD_HISTORY_MAX]);
        self.db
            .transaction(move |mut c| {
                Box::pin(async move {
                    c.execute(
                        "INSERT INTO password_history (user_id, password_hash, created_at) VALUES ($1,$2,$3)",
                        &remembered,
                    )
                    .await?;
                    c.execute(
                        "DELETE FROM password_history WHERE user_id = $1 AND id NOT IN \
                         (SELECT id FROM password_history WHERE user_id = $1 ORDER BY id DESC LIMIT $2)",
                        &kept,
                    )
                    .await?;
                    Ok(())
                })
            })
            .await
    }

    /// The user's last `n` passwords (stored hashes), newest first.
    pub async fn password_history(&self, user_id: &str, n: usize) -> Result<Vec<String>, StoreError> {
        let n = i64::try_from(n).unwrap_or(PASSWORD_HISTORY_MAX).min(PASSWORD_HISTORY_MAX);
        self.db
            .all(
                "SELECT password_hash FROM password_history WHERE user_id = $1 ORDER BY id DESC LIMIT $2",
                &values![user_id, n],
                first_string,
            )
            .await
    }
}
