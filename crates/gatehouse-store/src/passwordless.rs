//! Passwordless one-time codes: at most one live code per connection and identifier.
//!
//! Callers store a salted hash of the code, never the code. A check first spends one
//! attempt in a conditional `UPDATE … RETURNING` (so racing requests cannot try a code
//! more often than its attempts allow), then the caller compares; the caller that matched
//! deletes the row, and of two that matched only the one whose delete removed it wins.

use crate::error::StoreError;
use crate::rows::FromRow;
use crate::sql::SqlValue;
use crate::store::Store;
use serde_json::{Map, Value};

/// A stored code.
#[derive(Debug, Clone, PartialEq)]
pub struct PasswordlessCode {
    /// Random; also the salt of `code_hash`.
    pub id: String,
    pub connection_id: String,
    /// The normalized email address or phone number.
    pub identifier: String,
    pub client_id: String,
    pub code_hash: String,
    /// `code` or `link`.
    pub send: String,
    /// The authorization parameters of `/passwordless/start` (`authParams`).
    pub auth_params: Map<String, Value>,
    /// Checks spent on this code.
    pub attempts: i64,
    /// Unix seconds.
    pub created_at: i64,
    pub expires_at: i64,
}

impl Store {
    /// Stores `code`, replacing any earlier code of its connection and identifier.
    pub async fn put_passwordless_code(&self, code: &PasswordlessCode) -> Result<(), StoreError> {
        self.db
            .execute(
                "INSERT INTO passwordless_codes (id, connection_id, identifier, client_id, code_hash, send, \
                 auth_params, attempts, created_at, expires_at) VALUES ($1,$2,$3,$4,$5,$6,$7,0,$8,$9) \
                 ON CONFLICT (connection_id, identifier) DO UPDATE SET id = excluded.id, \
                 client_id = excluded.client_id, code_hash = excluded.code_hash, send = excluded.send, \
                 auth_params = excluded.auth_params, attempts = 0, created_at = excluded.created_at, \
                 expires_at = excluded.expires_at",
                values![
                    &code.id,
                    &code.connection_id,
                    &code.identifier,
                    &code.client_id,
                    &code.code_hash,
                    &code.send,
                    SqlValue::json(&code.auth_params),
                    code.created_at,
                    code.expires_at,
                ],
            )
            .await?;
        Ok(())
    }

    /// Spends one attempt on the live code of `identifier`: the code (with the attempt
    /// counted) if it is unexpired and had fewer than `max_attempts` spent, else `None`.
    pub async fn attempt_passwordless_code(
        &self,
        connection_id: &str,
        identifier: &str,
        max_attempts: i64,
        now: i64,
    ) -> Result<Option<PasswordlessCode>, StoreError> {
        self.db
            .write_opt(
                "UPDATE passwordless_codes SET attempts = attempts + 1 WHERE connection_id = $1 AND identifier = $2 \
                 AND attempts < $3 AND expires_at > $4 RETURNING *",
                values![connection_id, identifier, max_attempts, now],
                PasswordlessCode::from_row,
            )
            .await
    }

    /// Uses up code `id`: true for the one caller whose delete removed it.
    pub async fn consume_passwordless_code(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.db.execute("DELETE FROM passwordless_codes WHERE id = $1", values![id]).await? > 0)
    }

    /// Deletes codes that expired before `now`. Returns how many went.
    pub async fn delete_expired_passwordless_codes(&self, now: i64) -> Result<u64, StoreError> {
        self.db.execute("DELETE FROM passwordless_codes WHERE expires_at < $1", values![now]).await
    }

    /// The user of `connection_id` with phone number `phone` (SMS passwordless users).
    pub async fn user_by_phone(
        &self,
        connection_id: &str,
        phone: &str,
    ) -> Result<Option<gatehouse_core::user::User>, StoreError> {
        static BY_PHONE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            format!(
                "SELECT {} FROM users WHERE connection_id = $1 AND phone_number = $2 LIMIT 1",
                crate::rows::user_columns("")
            )
        });
        self.db.opt(&BY_PHONE, &values![connection_id, phone], gatehouse_core::user::User::from_row).await
    }
}
