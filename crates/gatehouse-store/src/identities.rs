//! Linked identities (Auth0's `identities[1..]`) and upstream sign-ins in flight.
//!
//! Linking moves an account into another one's identities in one transaction (the
//! secondary user row disappears, its own linked identities move with it); unlinking
//! gives the identity back its own user row. Upstream transactions are single use:
//! the one caller whose `DELETE` removes the row may continue.

use crate::arrivals::{Arrival, INSERT_ARRIVAL};
use crate::error::StoreError;
use crate::rows::{user_columns, user_values, FromRow, INSERT_USER};
use crate::sql::SqlValue;
use crate::store::Store;
use gatehouse_core::identity::Identity;
use gatehouse_core::user::User;
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

/// The values of [`IDENTITY_INSERT`]: `identity`, linked to `owner`.
fn identity_values(owner: &str, i: &Identity) -> Vec<SqlValue> {
    Vec::from(values![
        &i.provider,
        &i.user_id,
        owner,
        &i.connection_id,
        &i.connection,
        i.is_social,
        SqlValue::json(&i.profile_data),
        &i.created_at,
    ])
}

const IDENTITY_ORDER: &str = "ORDER BY created_at, provider, identity_user_id";

impl Store {
    /// The identities linked to `user_id`, oldest first.
    pub async fn linked_identities(&self, user_id: &str) -> Result<Vec<Identity>, StoreError> {
        let sql = format!("SELECT * FROM user_identities WHERE user_id = $1 {IDENTITY_ORDER}");
        self.db.all(&sql, &values![user_id], Identity::from_row).await
    }

    /// The linked identities of several users at once (a page of a list), by owner.
    pub async fn linked_identities_of(&self, user_ids: &[&str]) -> Result<HashMap<String, Vec<Identity>>, StoreError> {
        let mut out: HashMap<String, Vec<Identity>> = HashMap::new();
        if user_ids.is_empty() {
            return Ok(out);
        }
        let placeholders: Vec<String> = (1..=user_ids.len()).map(|i| format!("${i}")).collect();
        let sql =
            format!("SELECT * FROM user_identities WHERE user_id IN ({}) {IDENTITY_ORDER}", placeholders.join(","));
        let ids: Vec<SqlValue> = user_ids.iter().map(|id| SqlValue::from(*id)).collect();
        let rows = self.db.all(&sql, &ids, |r| Ok((r.get::<String>("user_id")?, Identity::from_row(r)?))).await?;
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
        let sql = format!(
            "SELECT {} FROM users u JOIN user_identities i ON i.user_id = u.user_id \
             WHERE i.provider = $1 AND i.identity_user_id = $2",
            user_columns("u")
        );
        self.db.opt(&sql, &values![provider, identity_user_id], User::from_row).await
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
        const USER_EXISTS: &str = "SELECT user_id FROM users WHERE user_id = $1";
        let primary = values![primary_id];
        let linked = identity_values(primary_id, identity);
        let moved = secondary_user_id.map(|secondary| (values![primary_id, secondary], values![secondary]));
        let own_user = values![identity.full_user_id()];
        self.db
            .transaction(move |mut c| {
                Box::pin(async move {
                    if c.opt(USER_EXISTS, &primary, |_| Ok(())).await?.is_none() {
                        return Err(StoreError::NotFound);
                    }
                    if let Some((both, secondary)) = moved {
                        c.execute("UPDATE user_identities SET user_id = $1 WHERE user_id = $2", &both).await?;
                        if c.execute("DELETE FROM users WHERE user_id = $1", &secondary).await? == 0 {
                            return Err(StoreError::NotFound);
                        }
                    } else if c.opt(USER_EXISTS, &own_user, |_| Ok(())).await?.is_some() {
                        // A new identity: it must not be a user of its own already.
                        return Err(StoreError::Conflict(crate::ConflictOn::Id));
                    }
                    c.execute(IDENTITY_INSERT, &linked).await?;
                    Ok(())
                })
            })
            .await
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
        let unlinked = values![primary_id, provider, identity_user_id];
        self.db
            .transaction_with_step(
                move |mut c, step| {
                    Box::pin(async move {
                        let identity = c
                            .opt(
                                "DELETE FROM user_identities WHERE user_id = $1 AND provider = $2 \
                                 AND identity_user_id = $3 RETURNING *",
                                &unlinked,
                                Identity::from_row,
                            )
                            .await?
                            .ok_or(StoreError::NotFound)?;
                        let user = step.ask(identity).await?;
                        c.execute(&INSERT_USER, &user_values(&user)).await?;
                        let marker =
                            values![&user.user_id, &user.connection_id, Arrival::Unlinked.as_str(), &user.updated_at];
                        c.execute(INSERT_ARRIVAL, &marker).await?;
                        Ok(())
                    })
                },
                |identity: Identity| restore(&identity),
            )
            .await
    }

    // ---- upstream transactions -------------------------------------------------------

    pub async fn insert_upstream_transaction(&self, t: &UpstreamTransaction) -> Result<(), StoreError> {
        self.db
            .execute(
                "INSERT INTO upstream_transactions (id_hash, browser_hash, connection_id, params, profile, \
                 link_user_id, created_at, expires_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
                values![
                    &t.id_hash,
                    &t.browser_hash,
                    &t.connection_id,
                    &t.params,
                    &t.profile,
                    &t.link_user_id,
                    t.created_at,
                    t.expires_at,
                ],
            )
            .await?;
        Ok(())
    }

    /// A live transaction (not expired at `now`).
    pub async fn upstream_transaction(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<UpstreamTransaction>, StoreError> {
        self.db
            .opt(
                "SELECT * FROM upstream_transactions WHERE id_hash = $1 AND expires_at > $2",
                &values![id_hash, now],
                UpstreamTransaction::from_row,
            )
            .await
    }

    /// Takes a live transaction: of concurrent callers, only one gets it.
    pub async fn take_upstream_transaction(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<UpstreamTransaction>, StoreError> {
        let taken = self
            .db
            .write_opt(
                "DELETE FROM upstream_transactions WHERE id_hash = $1 RETURNING *",
                values![id_hash],
                UpstreamTransaction::from_row,
            )
            .await?;
        Ok(taken.filter(|t| t.expires_at > now))
    }
}
