//! Attack-protection state: brute-force failure counters and blocks per connection,
//! identifier and IP, and the tenant settings documents that configure them.

use crate::config_cache::ConfigKey;
use crate::error::StoreError;
use crate::store::{BeginWrite, Store};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::Acquire as _;

/// Where a failed login leaves its counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureCount {
    /// Consecutive failures, this one included.
    pub failures: i64,
    /// True for exactly one caller: the one whose failure turned the counter into a block.
    pub newly_blocked: bool,
}

/// Whose failures a counter counts.
#[derive(Debug, Clone, Copy)]
pub struct FailureKey<'a> {
    pub connection_id: &'a str,
    pub identifier: &'a str,
    /// Empty when counting across every address.
    pub ip: &'a str,
}

/// What the counters hold for one login attempt's identifier and IP.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FailureState {
    /// A live block holds, from this IP or from every IP.
    pub blocked: bool,
    /// Some counter exists, so a successful login has one to reset.
    pub counted: bool,
}

/// One active block, as `GET /api/v2/user-blocks` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginBlock {
    pub connection_id: String,
    pub identifier: String,
    /// Empty when the block holds for every address.
    pub ip: String,
    pub user_id: Option<String>,
}

impl Store {
    /// Counts a failed login. Counters whose last failure is before `lapsed_before` start
    /// afresh (a block lifts 30 days after the last failure). Once `threshold` is reached
    /// the row becomes a block; the conditional update makes one caller see that happen.
    pub async fn record_login_failure(
        &self,
        key: FailureKey<'_>,
        user_id: Option<&str>,
        now: &str,
        lapsed_before: &str,
        threshold: i64,
    ) -> Result<FailureCount, StoreError> {
        let (connection_id, identifier, ip) =
            (key.connection_id.to_owned(), key.identifier.to_owned(), key.ip.to_owned());
        let (user_id, now, lapsed_before) = (user_id.map(str::to_owned), now.to_owned(), lapsed_before.to_owned());
        // Both statements in one write: the count, and the block once it reaches the threshold.
        on_writer!(self, |pool| {
            // A pooled connection needs `mut`; the writer's is already a `&mut`.
            #[allow(unused_mut)]
            let mut c = pool.acquire().await?;
            let failures: i64 = sqlx::query_scalar(
                "INSERT INTO login_failures (connection_id, identifier, ip, user_id, failures, last_failure_at) \
                 VALUES ($1, $2, $3, $4, 1, $5) \
                 ON CONFLICT (connection_id, identifier, ip) DO UPDATE SET \
                   failures = CASE WHEN login_failures.last_failure_at < $6 THEN 1 \
                                   ELSE login_failures.failures + 1 END, \
                   blocked_at = CASE WHEN login_failures.last_failure_at < $6 THEN NULL \
                                     ELSE login_failures.blocked_at END, \
                   user_id = COALESCE(excluded.user_id, login_failures.user_id), \
                   last_failure_at = excluded.last_failure_at \
                 RETURNING failures",
            )
            .bind(&connection_id)
            .bind(&identifier)
            .bind(&ip)
            .bind(&user_id)
            .bind(&now)
            .bind(&lapsed_before)
            .fetch_one(&mut *c)
            .await?;
            let newly_blocked = failures >= threshold
                && sqlx::query(
                    "UPDATE login_failures SET blocked_at = $4 \
                     WHERE connection_id = $1 AND identifier = $2 AND ip = $3 AND blocked_at IS NULL",
                )
                .bind(&connection_id)
                .bind(&identifier)
                .bind(&ip)
                .bind(&now)
                .execute(&mut *c)
                .await?
                .rows_affected()
                    == 1;
            Ok::<_, StoreError>(FailureCount { failures, newly_blocked })
        })
    }

    /// Whether a live block holds for the identifier, either from this IP or from every
    /// IP, and whether any counter exists for them.
    pub async fn login_failure_state(
        &self,
        connection_id: &str,
        identifier: &str,
        ip: &str,
        lapsed_before: &str,
    ) -> Result<FailureState, StoreError> {
        const STATE: &str = "SELECT COUNT(*), COALESCE(SUM(CASE WHEN blocked_at IS NOT NULL AND last_failure_at >= $4 \
                             THEN 1 ELSE 0 END), 0) FROM login_failures WHERE connection_id = $1 AND identifier = $2 \
                             AND (ip = $3 OR ip = '')";
        let (counters, blocks): (i64, i64) = match &self.held {
            Some(held) => held.sync_readers.read(|c| {
                let mut statement = c.prepare_cached(STATE)?;
                let params =
                    rusqlite::named_params! {"$1": connection_id, "$2": identifier, "$3": ip, "$4": lapsed_before};
                Ok(statement.query_row(params, |r| Ok((r.get(0)?, r.get(1)?)))?)
            })?,
            // Held stores (SQLite files) read synchronously above.
            None => on_pool!(self, |pool| {
                sqlx::query_as(STATE)
                    .bind(connection_id)
                    .bind(identifier)
                    .bind(ip)
                    .bind(lapsed_before)
                    .fetch_one(pool)
                    .await
            })?,
        };
        Ok(FailureState { blocked: blocks > 0, counted: counters > 0 })
    }

    /// A successful login resets the consecutive-failure counter of its identifier and IP
    /// (and the every-IP counter, which counts consecutive failures too).
    pub async fn reset_login_failures(
        &self,
        connection_id: &str,
        identifier: &str,
        ip: &str,
    ) -> Result<(), StoreError> {
        let (connection_id, identifier, ip) = (connection_id.to_owned(), identifier.to_owned(), ip.to_owned());
        on_writer!(self, |pool| {
            sqlx::query(
                "DELETE FROM login_failures WHERE connection_id = $1 AND identifier = $2 \
                 AND (ip = $3 OR ip = '') AND blocked_at IS NULL",
            )
            .bind(&connection_id)
            .bind(&identifier)
            .bind(&ip)
            .execute(pool)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    /// Live blocks on any of `identifiers` (a user's email and username) or recorded
    /// against `user_id`.
    pub async fn login_blocks(
        &self,
        identifiers: &[String],
        user_id: Option<&str>,
        lapsed_before: &str,
    ) -> Result<Vec<LoginBlock>, StoreError> {
        let mut blocks = Vec::new();
        for identifier in identifiers.iter().map(Some).chain([None]) {
            let (column, value) = match identifier {
                Some(i) => ("identifier", i.as_str()),
                None => match user_id {
                    Some(u) => ("user_id", u),
                    None => continue,
                },
            };
            let sql = format!(
                "SELECT connection_id, identifier, ip, user_id FROM login_failures \
                 WHERE {column} = $1 AND blocked_at IS NOT NULL AND last_failure_at >= $2 \
                 ORDER BY connection_id, identifier, ip"
            );
            let rows: Vec<(String, String, String, Option<String>)> =
                on_pool!(self, |pool| { sqlx::query_as(&sql).bind(value).bind(lapsed_before).fetch_all(pool).await })?;
            for (connection_id, identifier, ip, user_id) in rows {
                let b = LoginBlock { connection_id, identifier, ip, user_id };
                if !blocks.contains(&b) {
                    blocks.push(b);
                }
            }
        }
        Ok(blocks)
    }

    /// Lifts blocks and counters on any of `identifiers` or recorded against `user_id`;
    /// returns how many blocks were lifted.
    pub async fn clear_login_blocks(&self, identifiers: &[String], user_id: Option<&str>) -> Result<u64, StoreError> {
        let mut lifted = 0;
        for identifier in identifiers.iter().map(Some).chain([None]) {
            let (column, value) = match identifier {
                Some(i) => ("identifier", i.as_str()),
                None => match user_id {
                    Some(u) => ("user_id", u),
                    None => continue,
                },
            };
            let count = format!("SELECT COUNT(*) FROM login_failures WHERE {column} = $1 AND blocked_at IS NOT NULL");
            let delete = format!("DELETE FROM login_failures WHERE {column} = $1");
            lifted += on_pool!(self, |pool| {
                let mut tx = pool.begin_write().await?;
                let n: i64 = sqlx::query_scalar(&count).bind(value).fetch_one(&mut *tx).await?;
                sqlx::query(&delete).bind(value).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>(u64::try_from(n).unwrap_or(0))
            })?;
        }
        Ok(lifted)
    }

    /// A tenant settings document, if one was ever saved.
    pub async fn setting(&self, name: &str) -> Result<Option<Value>, StoreError> {
        on_pool!(self, |pool| {
            let v: Option<Json<Value>> = sqlx::query_scalar("SELECT body FROM tenant_settings WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await?;
            Ok(v.map(|j| j.0))
        })
    }

    /// Two settings documents in one query: `(first, second)`.
    pub async fn setting_pair(&self, first: &str, second: &str) -> Result<(Option<Value>, Option<Value>), StoreError> {
        let key = ConfigKey::Settings(first.to_owned(), second.to_owned());
        let rows: Vec<(String, Json<Value>)> = self
            .config
            .through(key, || async {
                on_reader!(self, |pool| {
                    sqlx::query_as("SELECT name, body FROM tenant_settings WHERE name IN ($1, $2)")
                        .bind(first)
                        .bind(second)
                        .fetch_all(pool)
                        .await
                        .map(Some)
                        .map_err(StoreError::from)
                })
            })
            .await?
            .unwrap_or_default();
        let mut pair = (None, None);
        for (name, Json(body)) in rows {
            if name == first {
                pair.0 = Some(body);
            } else if name == second {
                pair.1 = Some(body);
            }
        }
        Ok(pair)
    }

    pub async fn put_setting(&self, name: &str, body: &Value, now: &str) -> Result<(), StoreError> {
        let _forget = self.config.forget_after();
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO tenant_settings (name, body, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
            )
            .bind(name)
            .bind(Json(body))
            .bind(now)
            .execute(pool)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }
}
