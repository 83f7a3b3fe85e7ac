//! Linked identities (Auth0's `identities[1..]`) and upstream sign-ins in flight.
//!
//! Linking moves an account into another one's identities in one transaction (the
//! secondary user row disappears, its own linked identities move with it); unlinking
//! gives the identity back its own user row. Upstream transactions are single use:
//! the one caller whose `DELETE` removes the row may continue.

use crate::error::StoreError;
use crate::rows::FromRow;
use crate::store::{BeginWrite, Store, USER_COLUMNS};
use gatehouse_core::identity::Identity;
use gatehouse_core::user::User;
use sqlx::types::Json;
use std::collections::HashMap;

/// A sign-in at an upstream provider (or a pending link) waiting to finish.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamTransaction {
    pub id_hash: String,
    pub browser_hash: String,
    pub connection_id: String,
    /// The waiting authorization request, serialized by the server.
    pub params: String,
    /// The verified upstream profile (JSON), while the user proves an existing account.
    pub profile: Option<String>,
    /// The existing account the user must prove before the link.
    pub link_user_id: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

const IDENTITY_INSERT: &str = "INSERT INTO user_identities (provider, identity_user_id, user_id, connection_id, \
     connection, is_social, profile_data, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)";

macro_rules! bind_identity {
    ($query:expr, $owner:expr, $i:expr) => {
        $query
            .bind(&$i.provider)
            .bind(&$i.user_id)
            .bind($owner)
            .bind(&$i.connection_id)
            .bind(&$i.connection)
            .bind($i.is_social)
            .bind(Json(&$i.profile_data))
            .bind(&$i.created_at)
    };
}

impl Store {
    /// The identities linked to `user_id`, oldest first.
    pub async fn linked_identities(&self, user_id: &str) -> Result<Vec<Identity>, StoreError> {
        on_pool!(self, |pool| {
            let rows = sqlx::query(
                "SELECT * FROM user_identities WHERE user_id = $1 ORDER BY created_at, provider, identity_user_id",
            )
            .bind(user_id)
            .fetch_all(pool)
            .await?;
            rows.iter().map(Identity::from_row).collect()
        })
    }

    /// The linked identities of several users at once (a page of a list), by owner.
    pub async fn linked_identities_of(&self, user_ids: &[&str]) -> Result<HashMap<String, Vec<Identity>>, StoreError> {
        let mut out: HashMap<String, Vec<Identity>> = HashMap::new();
        if user_ids.is_empty() {
            return Ok(out);
        }
        let placeholders: Vec<String> = (1..=user_ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT * FROM user_identities WHERE user_id IN ({}) ORDER BY created_at, provider, identity_user_id",
            placeholders.join(",")
        );
        let rows = on_pool!(self, |pool| {
            let mut q = sqlx::query(&sql);
            for id in user_ids {
                q = q.bind(*id);
            }
            let rows = q.fetch_all(pool).await?;
            rows.iter()
                .map(|r| {
                    let owner: String = sqlx::Row::try_get(r, "user_id")?;
                    Ok::<_, StoreError>((owner, Identity::from_row(r)?))
                })
                .collect::<Result<Vec<_>, _>>()
        })?;
        for (owner, identity) in rows {
            out.entry(owner).or_default().push(identity);
        }
        Ok(out)
    }

    /// The user an identity belongs to: the user that *is* `<provider>|<id>`, or the
    /// one it is linked to.
    pub async fn identity_owner(&self, provider: &str, identity_user_id: &str) -> Result<Option<User>, StoreError> {
        if let Some(u) = self.user(&format!("{provider}|{identity_user_id}")).await? {
            return Ok(Some(u));
        }
        on_pool!(self, |pool| {
            let sql = format!(
                "SELECT {} FROM users u JOIN user_identities i ON i.user_id = u.user_id \
                 WHERE i.provider = $1 AND i.identity_user_id = $2",
                USER_COLUMNS.split(", ").map(|c| format!("u.{}", c.trim())).collect::<Vec<_>>().join(", ")
            );
            let row = sqlx::query(&sql).bind(provider).bind(identity_user_id).fetch_optional(pool).await?;
            row.as_ref().map(User::from_row).transpose()
        })
    }

    /// Links `identity` to `primary_id`. When the identity is an existing user
    /// (`secondary_user_id`), that user's own linked identities move to the primary and
    /// its row is deleted, all in one transaction. `NotFound` when the primary (or the
    /// secondary) is gone; `Conflict` when the identity is linked already.
    pub async fn link_identity(
        &self,
        primary_id: &str,
        identity: &Identity,
        secondary_user_id: Option<&str>,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let exists = sqlx::query("SELECT user_id FROM users WHERE user_id = $1")
                .bind(primary_id)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            if !exists {
                return Err(StoreError::NotFound);
            }
            if let Some(secondary) = secondary_user_id {
                sqlx::query("UPDATE user_identities SET user_id = $1 WHERE user_id = $2")
                    .bind(primary_id)
                    .bind(secondary)
                    .execute(&mut *tx)
                    .await?;
                let gone = sqlx::query("DELETE FROM users WHERE user_id = $1")
                    .bind(secondary)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if gone == 0 {
                    return Err(StoreError::NotFound);
                }
            } else {
                // A new identity: it must not be a user of its own already.
                let taken = sqlx::query("SELECT user_id FROM users WHERE user_id = $1")
                    .bind(identity.full_user_id())
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some();
                if taken {
                    return Err(StoreError::Conflict(crate::ConflictOn::Id));
                }
            }
            bind_identity!(sqlx::query(IDENTITY_INSERT), primary_id, identity).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Unlinks `<provider>|<identity_user_id>` from `primary_id` and stores `restored`
    /// (built from the identity) as a user of its own. `NotFound` when no such identity
    /// is linked to the user.
    pub async fn unlink_identity(
        &self,
        primary_id: &str,
        provider: &str,
        identity_user_id: &str,
        restore: impl FnOnce(&Identity) -> User,
    ) -> Result<(), StoreError> {
        let insert = format!(
            "INSERT INTO users ({USER_COLUMNS}) VALUES \
             ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24)"
        );
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let row = sqlx::query(
                "DELETE FROM user_identities WHERE user_id = $1 AND provider = $2 AND identity_user_id = $3 RETURNING *",
            )
            .bind(primary_id)
            .bind(provider)
            .bind(identity_user_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else { return Err(StoreError::NotFound) };
            let identity = Identity::from_row(&row)?;
            let user = restore(&identity);
            bind_user!(sqlx::query(&insert), user).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    // ---- upstream transactions -------------------------------------------------------

    pub async fn insert_upstream_transaction(&self, t: &UpstreamTransaction) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query(
            "INSERT INTO upstream_transactions (id_hash, browser_hash, connection_id, params, profile, link_user_id, \
             created_at, expires_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)"
        )
        .bind(&t.id_hash)
        .bind(&t.browser_hash)
        .bind(&t.connection_id)
        .bind(&t.params)
        .bind(&t.profile)
        .bind(&t.link_user_id)
        .bind(t.created_at)
        .bind(t.expires_at)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// A live transaction (not expired at `now`).
    pub async fn upstream_transaction(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<UpstreamTransaction>, StoreError> {
        on_pool!(self, |pool| {
            let row = sqlx::query("SELECT * FROM upstream_transactions WHERE id_hash = $1 AND expires_at > $2")
                .bind(id_hash)
                .bind(now)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(UpstreamTransaction::from_row).transpose()
        })
    }

    /// Takes a live transaction: of concurrent callers, only one gets it.
    pub async fn take_upstream_transaction(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<UpstreamTransaction>, StoreError> {
        on_pool!(self, |pool| {
            let row = sqlx::query("DELETE FROM upstream_transactions WHERE id_hash = $1 RETURNING *")
                .bind(id_hash)
                .fetch_optional(pool)
                .await?;
            let t = row.as_ref().map(UpstreamTransaction::from_row).transpose()?;
            Ok(t.filter(|t| t.expires_at > now))
        })
    }
}
