//! Users migrated from a legacy identity store: the user and its migration marker are
//! written together, and migration progress is counted from the markers.

use crate::error::StoreError;
use crate::store::{BeginWrite, Store, USER_COLUMNS};
use gatehouse_core::user::User;

/// How far a connection's migration has come.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationProgress {
    /// Users moved in on their first login.
    pub on_login: u64,
    /// Users moved in by `migrate-remaining`.
    pub in_bulk: u64,
    /// When the last one moved in.
    pub last_migrated_at: Option<String>,
}

/// Where a migrated user came from.
pub const MIGRATED_ON_LOGIN: &str = "login";
pub const MIGRATED_IN_BULK: &str = "bulk";
/// Moved in (without a password) when they asked for a password reset.
pub const MIGRATED_ON_RESET: &str = "reset";

impl Store {
    /// Inserts a user moved in from a legacy store and its marker, in one transaction.
    /// A conflict (the user is already here, e.g. a concurrent first login won) writes
    /// nothing and is returned as [`StoreError::Conflict`].
    pub async fn insert_migrated_user(&self, u: &User, source: &str, now: &str) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO users ({USER_COLUMNS}) VALUES \
             ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24)"
        );
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            bind_user!(sqlx::query(&sql), u).execute(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO legacy_migrations (user_id, connection_id, source, migrated_at) VALUES ($1,$2,$3,$4)",
            )
            .bind(&u.user_id)
            .bind(&u.connection_id)
            .bind(source)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        })?;
        Ok(())
    }

    /// Marks users (already written, e.g. by the bulk path) as migrated. Ids that are not
    /// users, or already marked, are skipped.
    pub async fn record_migrated(
        &self,
        connection_id: &str,
        user_ids: &[String],
        source: &str,
        now: &str,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            for id in user_ids {
                sqlx::query(
                    "INSERT INTO legacy_migrations (user_id, connection_id, source, migrated_at) \
                     SELECT user_id, $2, $3, $4 FROM users WHERE user_id = $1 AND connection_id = $2 \
                     ON CONFLICT (user_id) DO NOTHING",
                )
                .bind(id)
                .bind(connection_id)
                .bind(source)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await
        })?;
        Ok(())
    }

    /// Whether `user_id` was moved in from a legacy store.
    pub async fn is_migrated(&self, user_id: &str) -> Result<bool, StoreError> {
        let found: Option<(i32,)> = on_pool!(self, |pool| {
            sqlx::query_as("SELECT 1 FROM legacy_migrations WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(pool)
                .await
        })?;
        Ok(found.is_some())
    }

    pub async fn migration_progress(&self, connection_id: &str) -> Result<MigrationProgress, StoreError> {
        let rows: Vec<(String, i64, Option<String>)> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT source, COUNT(*), MAX(migrated_at) FROM legacy_migrations WHERE connection_id = $1 \
                 GROUP BY source",
            )
            .bind(connection_id)
            .fetch_all(pool)
            .await
        })?;
        let mut p = MigrationProgress::default();
        for (source, n, last) in rows {
            let n = u64::try_from(n).unwrap_or(0);
            match source.as_str() {
                // A reset is the user's own first visit, as a login is.
                MIGRATED_ON_LOGIN | MIGRATED_ON_RESET => p.on_login += n,
                _ => p.in_bulk += n,
            }
            if last > p.last_migrated_at {
                p.last_migrated_at = last;
            }
        }
        Ok(p)
    }
}
