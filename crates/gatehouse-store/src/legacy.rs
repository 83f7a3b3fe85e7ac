//! Users migrated from a legacy identity store: the user and its migration marker are
//! written together, and migration progress is counted from the markers.

use crate::error::StoreError;
use crate::rows::{user_values, INSERT_USER};
use crate::store::Store;
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
    pub async fn insert_migrated_user(&self, u: &User, source: &str, now: &str) -> Result<(), StoreError> {
        let (user, marker) = (user_values(u), values![&u.user_id, &u.connection_id, source, now]);
        self.db
            .transaction(move |mut c| {
                Box::pin(async move {
                    c.execute(&INSERT_USER, &user).await?;
                    c.execute(
                        "INSERT INTO legacy_migrations (user_id, connection_id, source, migrated_at) \
                         VALUES ($1,$2,$3,$4)",
                        &marker,
                    )
                    .await?;
                    Ok(())
                })
            })
            .await
    }

    pub async fn record_migrated(
        &self,
        connection_id: &str,
        user_ids: &[String],
        source: &str,
        now: &str,
    ) -> Result<(), StoreError> {
        let markers: Vec<_> = user_ids.iter().map(|id| values![id, connection_id, source, now]).collect();
        self.db
            .transaction(move |mut c| {
                Box::pin(async move {
                    for marker in &markers {
                        c.execute(
                            "INSERT INTO legacy_migrations (user_id, connection_id, source, migrated_at) \
                             SELECT user_id, $2, $3, $4 FROM users WHERE user_id = $1 AND connection_id = $2 \
                             ON CONFLICT (user_id) DO NOTHING",
                            marker,
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .await
    }

    pub async fn is_migrated(&self, user_id: &str) -> Result<bool, StoreError> {
        let sql = "SELECT user_id FROM legacy_migrations WHERE user_id = $1";
        Ok(self.db.opt(sql, &values![user_id], |_| Ok(())).await?.is_some())
    }

    pub async fn migration_progress(&self, connection_id: &str) -> Result<MigrationProgress, StoreError> {
        let rows: Vec<(String, i64, Option<String>)> = self
            .db
            .all(
                "SELECT source, COUNT(*), MAX(migrated_at) FROM legacy_migrations WHERE connection_id = $1 \
                 GROUP BY source",
                &values![connection_id],
                |r| Ok((r.get_at(0)?, r.get_at(1)?, r.get_at(2)?)),
            )
            .await?;
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
