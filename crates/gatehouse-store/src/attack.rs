//! Attack-protection state: brute-force failure counters and blocks per connection,
//! identifier and IP, and the tenant settings documents that configure them.

use crate::config_cache::ConfigKey;
use crate::error::StoreError;
use crate::rows::{count, first_json};
use crate::sql::SqlValue;
use crate::store::Store;
use serde_json::Value;

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
        let count = values![key.connection_id, key.identifier, key.ip, user_id, now, lapsed_before];
        let block = values![key.connection_id, key.identifier, key.ip, now];
        // Both statements in one write: the count, and the block once it reaches the threshold.
        self.db
            .write(move |mut c| {
                Box::pin(async move {
                    let failures: i64 = c
                        .one(
                            "INSERT INTO login_failures (connection_id, identifier, ip, user_id, failures, \
                             last_failure_at) VALUES ($1, $2, $3, $4, 1, $5) \
                             ON CONFLICT (connection_id, identifier, ip) DO UPDATE SET \
                               failures = CASE WHEN login_failures.last_failure_at < $6 THEN 1 \
                                               ELSE login_failures.failures + 1 END, \
                               blocked_at = CASE WHEN login_failures.last_failure_at < $6 THEN NULL \
                                                 ELSE login_failures.blocked_at END, \
                               user_id = COALESCE(excluded.user_id, login_failures.user_id), \
                               last_failure_at = excluded.last_failure_at \
                             RETURNING failures",
                            &count,
                            |r| r.get_at(0),
                        )
                        .await?;
                    let newly_blocked = failures >= threshold
                        && c.execute(
                            "UPDATE login_failures SET blocked_at = $4 \
                             WHERE connection_id = $1 AND identifier = $2 AND ip = $3 AND blocked_at IS NULL",
                            &block,
                        )
                        .await?
                            == 1;
                    Ok(FailureCount { failures, newly_blocked })
                })
            })
            .await
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
        let (counters, blocks): (i64, i64) = self
            .db
            .one(
                "SELECT COUNT(*), COALESCE(SUM(CASE WHEN blocked_at IS NOT NULL AND last_failure_at >= $4 \
                 THEN 1 ELSE 0 END), 0) FROM login_failures WHERE connection_id = $1 AND identifier = $2 \
                 AND (ip = $3 OR ip = '')",
                &values![connection_id, identifier, ip, lapsed_before],
                |r| Ok((r.get_at(0)?, r.get_at(1)?)),
            )
            .await?;
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
        self.db
            .execute(
                "DELETE FROM login_failures WHERE connection_id = $1 AND identifier = $2 \
                 AND (ip = $3 OR ip = '') AND blocked_at IS NULL",
                values![connection_id, identifier, ip],
            )
            .await?;
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
        for (column, value) in block_keys(identifiers, user_id) {
            let sql = format!(
                "SELECT connection_id, identifier, ip, user_id FROM login_failures \
                 WHERE {column} = $1 AND blocked_at IS NOT NULL AND last_failure_at >= $2 \
                 ORDER BY connection_id, identifier, ip"
            );
            let found = self
                .db
                .all(&sql, &values![value, lapsed_before], |r| {
                    Ok(LoginBlock {
                        connection_id: r.get("connection_id")?,
                        identifier: r.get("identifier")?,
                        ip: r.get("ip")?,
                        user_id: r.get("user_id")?,
                    })
                })
                .await?;
            for b in found {
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
        for (column, value) in block_keys(identifiers, user_id) {
            let blocked = format!("SELECT COUNT(*) FROM login_failures WHERE {column} = $1 AND blocked_at IS NOT NULL");
            let delete = format!("DELETE FROM login_failures WHERE {column} = $1");
            let value = values![value];
            lifted += self
                .db
                .transaction(move |mut c| {
                    Box::pin(async move {
                        let n = c.one(&blocked, &value, count).await?;
                        c.execute(&delete, &value).await?;
                        Ok(n)
                    })
                })
                .await?;
        }
        Ok(lifted)
    }

    /// A tenant settings document, if one was ever saved.
    pub async fn setting(&self, name: &str) -> Result<Option<Value>, StoreError> {
        self.db.opt("SELECT body FROM tenant_settings WHERE name = $1", &values![name], first_json).await
    }

    /// Two settings documents in one query: `(first, second)`.
    pub async fn setting_pair(&self, first: &str, second: &str) -> Result<(Option<Value>, Option<Value>), StoreError> {
        let key = ConfigKey::Settings(first.to_owned(), second.to_owned());
        let rows: Vec<(String, Value)> = self
            .config
            .through(key, || async {
                self.db
                    .all(
                        "SELECT name, body FROM tenant_settings WHERE name IN ($1, $2)",
                        &values![first, second],
                        |r| Ok((r.get("name")?, r.json("body")?)),
                    )
                    .await
                    .map(Some)
            })
            .await?
            .unwrap_or_default();
        let mut pair = (None, None);
        for (name, body) in rows {
            if name == first {
                pair.0 = Some(body);
            } else if name == second {
                pair.1 = Some(body);
            }
        }
        Ok(pair)
    }

    /// Removes a settings document; whether there was one.
    pub async fn delete_setting(&self, name: &str) -> Result<bool, StoreError> {
        let _forget = self.config.forget_after();
        Ok(self.db.execute("DELETE FROM tenant_settings WHERE name = $1", values![name]).await? > 0)
    }

    /// Writes `body` only if the stored document is still `expected` (`None`: none
    /// stored); whether it was written. Two writers that read the same document cannot
    /// both win, so a change made from what was read never undoes another.
    pub async fn swap_setting(
        &self,
        name: &str,
        expected: Option<&Value>,
        body: &Value,
        now: &str,
    ) -> Result<bool, StoreError> {
        let _forget = self.config.forget_after();
        let written = match expected {
            None => {
                let sql = "INSERT INTO tenant_settings (name, body, updated_at) VALUES ($1, $2, $3) \
                           ON CONFLICT (name) DO NOTHING";
                self.db.execute(sql, values![name, SqlValue::json(body), now]).await?
            }
            Some(old) => {
                let sql = "UPDATE tenant_settings SET body = $2, updated_at = $3 WHERE name = $1 AND body = $4";
                self.db.execute(sql, values![name, SqlValue::json(body), now, SqlValue::json(old)]).await?
            }
        };
        Ok(written > 0)
    }

    pub async fn put_setting(&self, name: &str, body: &Value, now: &str) -> Result<(), StoreError> {
        let _forget = self.config.forget_after();
        self.db
            .execute(
                "INSERT INTO tenant_settings (name, body, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
                values![name, SqlValue::json(body), now],
            )
            .await?;
        Ok(())
    }
}

/// Where blocks are recorded for a user: under each of `identifiers`, and under `user_id`.
fn block_keys<'a>(
    identifiers: &'a [String],
    user_id: Option<&'a str>,
) -> impl Iterator<Item = (&'static str, &'a str)> + 'a {
    identifiers.iter().map(|i| ("identifier", i.as_str())).chain(user_id.map(|u| ("user_id", u)))
}
