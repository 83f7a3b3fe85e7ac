//! How users arrived: a user created any way but a bulk import is written together with
//! a marker saying how (`user_arrivals`), so a connection's migration is counted from the
//! markers and the users without one (the bulk imports, which pay nothing for it).

use crate::error::StoreError;
use crate::rows::{user_values, INSERT_USER};
use crate::store::Store;
use gatehouse_core::mfa::MfaFactor;
use gatehouse_core::user::User;

/// How a user arrived in Gatehouse. A user without a marker came by bulk import (a job
/// or `gatehouse import`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Moved in from the connection's legacy store on their first login.
    Login,
    /// Moved in (without a password) from the legacy store when they asked for a reset.
    Reset,
    /// Moved in from the legacy store by `migrate-remaining`.
    MigrateRemaining,
    /// Signed up: the hosted page, `/dbconnections/signup`, or a first social sign-in.
    SignUp,
    /// Created with `POST /api/v2/users`.
    Api,
    /// A local copy of a user a delegating legacy store keeps.
    Delegated,
    /// Given back as a user of its own by unlinking an identity.
    Unlinked,
}

impl Arrival {
    /// The marker stored (`login`, `reset` and `bulk` predate the other ways).
    pub fn as_str(self) -> &'static str {
        match self {
            Arrival::Login => "login",
            Arrival::Reset => "reset",
            Arrival::MigrateRemaining => "bulk",
            Arrival::SignUp => "signup",
            Arrival::Api => "api",
            Arrival::Delegated => "delegated",
            Arrival::Unlinked => "unlinked",
        }
    }
}

/// How the users of a connection arrived; the counts add up to `users`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Arrivals {
    /// Every user of the connection now.
    pub users: u64,
    /// Moved in from the legacy store at their first login or password reset.
    pub on_login: u64,
    /// Moved in from the legacy store by `migrate-remaining`.
    pub migrate_remaining: u64,
    /// Bulk-imported (jobs and `gatehouse import`): the users without a marker.
    pub imported: u64,
    pub signed_up: u64,
    pub created_by_api: u64,
    /// Delegating legacy store copies and users given back by unlinking.
    pub other: u64,
    /// When the last user moved in from the legacy store.
    pub last_migrated_at: Option<String>,
}

impl Arrivals {
    /// Users who came from another system: imported or moved from the legacy store.
    pub fn migrated(&self) -> u64 {
        self.on_login + self.migrate_remaining + self.imported
    }
}

pub(crate) const INSERT_ARRIVAL: &str =
    "INSERT INTO user_arrivals (user_id, connection_id, source, arrived_at) VALUES ($1,$2,$3,$4)";

impl Store {
    /// Inserts `u` with the marker of how it arrived, in one transaction.
    pub async fn insert_arrived_user(&self, u: &User, how: Arrival, now: &str) -> Result<(), StoreError> {
        self.insert_arrived_user_with_factors(u, how, now, &[]).await
    }

    /// [`Store::insert_arrived_user`] with the user's first `factors` in the same write:
    /// a user signed up with a passkey exists with it or not at all (a credential
    /// registered already fails the whole write with a conflict).
    pub async fn insert_arrived_user_with_factors(
        &self,
        u: &User,
        how: Arrival,
        now: &str,
        factors: &[MfaFactor],
    ) -> Result<(), StoreError> {
        let (user, marker) = (user_values(u), values![&u.user_id, &u.connection_id, how.as_str(), now]);
        let factors = factors.iter().map(|f| self.factor_values(f)).collect::<Result<Vec<_>, _>>()?;
        self.db
            .transaction(move |mut c| {
                Box::pin(async move {
                    c.execute(&INSERT_USER, &user).await?;
                    c.execute(INSERT_ARRIVAL, &marker).await?;
                    for factor in &factors {
                        if c.execute(crate::mfa::INSERT_FACTOR, factor).await? == 0 {
                            return Err(StoreError::Conflict(crate::error::ConflictOn::Id));
                        }
                    }
                    Ok(())
                })
            })
            .await
    }

    /// Marks users already written (by the bulk path) as arrived `how`; a user that is
    /// gone or already marked is left alone.
    pub async fn record_arrived(
        &self,
        connection_id: &str,
        user_ids: &[String],
        how: Arrival,
        now: &str,
    ) -> Result<(), StoreError> {
        let markers: Vec<_> = user_ids.iter().map(|id| values![id, connection_id, how.as_str(), now]).collect();
        self.db
            .transaction(move |mut c| {
                Box::pin(async move {
                    for marker in &markers {
                        c.execute(
                            "INSERT INTO user_arrivals (user_id, connection_id, source, arrived_at) \
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

    /// Whether `user_id` moved in from a legacy store (at login, reset or by
    /// `migrate-remaining`).
    pub async fn is_migrated(&self, user_id: &str) -> Result<bool, StoreError> {
        let sql = "SELECT user_id FROM user_arrivals WHERE user_id = $1 AND source IN ('login', 'reset', 'bulk')";
        Ok(self.db.opt(sql, &values![user_id], |_| Ok(())).await?.is_some())
    }

    /// How the users of a connection arrived, from the counters the store's triggers keep
    /// (migration 0025), and the last legacy arrival from an index: no count over the users.
    pub async fn arrivals(&self, connection_id: &str) -> Result<Arrivals, StoreError> {
        let counters: Vec<(String, i64)> = self
            .db
            .all("SELECT source, users FROM connection_counts WHERE connection_id = $1", &values![connection_id], |r| {
                Ok((r.get_at(0)?, r.get_at(1)?))
            })
            .await?;
        let last: Option<String> = self
            .db
            .one(
                "SELECT MAX(at) FROM (\
                 SELECT MAX(arrived_at) AS at FROM user_arrivals WHERE connection_id = $1 AND source = 'login' \
                 UNION ALL SELECT MAX(arrived_at) FROM user_arrivals WHERE connection_id = $1 AND source = 'reset' \
                 UNION ALL SELECT MAX(arrived_at) FROM user_arrivals WHERE connection_id = $1 AND source = 'bulk') m",
                &values![connection_id],
                |r| r.get_at(0),
            )
            .await?;
        let users = counters.iter().find(|(s, _)| s.is_empty()).map_or(0, |(_, n)| u64::try_from(*n).unwrap_or(0));
        let rows = counters.into_iter().filter(|(s, _)| !s.is_empty());
        let mut a = Arrivals { users, last_migrated_at: last, ..Arrivals::default() };
        let mut marked = 0;
        for (source, n) in rows {
            let n = u64::try_from(n).unwrap_or(0);
            marked += n;
            match source.as_str() {
                "login" | "reset" => a.on_login += n,
                "bulk" => a.migrate_remaining += n,
                "signup" => a.signed_up += n,
                "api" => a.created_by_api += n,
                _ => a.other += n,
            }
        }
        a.imported = users.saturating_sub(marked);
        Ok(a)
    }
}
