//! Admin console sessions: their rows, looked up by the hash of the cookie's secret.
//! Who may hold one (a console role) is decided by `gatehouse-services`.

use crate::error::StoreError;
use crate::rows::FromRow;
use crate::store::Store;

/// A signed-in administrator's console session.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsoleSession {
    pub id_hash: String,
    pub user_id: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Store {
    pub async fn insert_console_session(&self, s: &ConsoleSession) -> Result<(), StoreError> {
        self.db
            .execute(
                "INSERT INTO console_sessions (id_hash, user_id, created_at, last_seen_at, expires_at, ip, user_agent) \
                 VALUES ($1,$2,$3,$4,$5,$6,$7)",
                values![&s.id_hash, &s.user_id, s.created_at, s.last_seen_at, s.expires_at, &s.ip, &s.user_agent],
            )
            .await?;
        Ok(())
    }

    /// The session with this id hash, unless it expired by `now` or was idle since
    /// `idle_since`.
    pub async fn console_session(
        &self,
        id_hash: &str,
        now: i64,
        idle_since: i64,
    ) -> Result<Option<ConsoleSession>, StoreError> {
        self.db
            .opt(
                "SELECT * FROM console_sessions WHERE id_hash = $1 AND expires_at > $2 AND last_seen_at > $3",
                &values![id_hash, now, idle_since],
                ConsoleSession::from_row,
            )
            .await
    }

    /// Records that the session was used at `now`.
    pub async fn touch_console_session(&self, id_hash: &str, now: i64) -> Result<(), StoreError> {
        self.db
            .execute("UPDATE console_sessions SET last_seen_at = $2 WHERE id_hash = $1", values![id_hash, now])
            .await?;
        Ok(())
    }

    pub async fn delete_console_session(&self, id_hash: &str) -> Result<bool, StoreError> {
        Ok(self.db.execute("DELETE FROM console_sessions WHERE id_hash = $1", values![id_hash]).await? > 0)
    }

    /// Ends every console session of `user_id`. Returns how many there were.
    pub async fn delete_console_sessions_of_user(&self, user_id: &str) -> Result<u64, StoreError> {
        self.db.execute("DELETE FROM console_sessions WHERE user_id = $1", values![user_id]).await
    }

    /// Deletes sessions expired by `now` or idle since `idle_since`.
    pub async fn purge_console_sessions(&self, now: i64, idle_since: i64) -> Result<u64, StoreError> {
        self.db
            .execute(
                "DELETE FROM console_sessions WHERE expires_at <= $1 OR last_seen_at <= $2",
                values![now, idle_since],
            )
            .await
    }
}
