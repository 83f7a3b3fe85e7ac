//! Audit log events: append, read one, and search with the filters `GET /api/v2/logs`
//! offers (all values bound).

use crate::error::StoreError;
use crate::rows::first_json;
use crate::sql::SqlValue;
use crate::store::Store;
use gatehouse_core::log_event::LogEvent;
use serde_json::Value;

/// A search of the log. Every filter is optional and they combine with AND.
#[derive(Debug, Clone, Default)]
pub struct LogQuery {
    pub kind: Option<String>,
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    pub connection_id: Option<String>,
    pub ip: Option<String>,
    /// Inclusive date bounds (ISO-8601).
    pub date_from: Option<String>,
    pub date_to: Option<String>,
    /// Checkpoint paging: events after this id, oldest first.
    pub after: Option<String>,
    /// Newest first unless paging by checkpoint.
    pub descending: bool,
    pub offset: u32,
    pub limit: u32,
}

impl LogQuery {
    /// Reads Auth0's logs `q` into the filters: `field:value` terms (fields `type`,
    /// `user_id`, `client_id`, `connection_id`, `ip`, values bare or quoted) joined by
    /// spaces or `AND`, and `date:[from TO to]` (`*` open). Anything else is refused with
    /// the reason, never guessed.
    pub fn apply_q(&mut self, q: &str) -> Result<(), String> {
        let mut rest = q.trim();
        while !rest.is_empty() {
            let (field, after) = rest.split_once(':').ok_or("expected field:value")?;
            let field = field.trim();
            let after = after.trim_start();
            let (value, next) = if let Some(range) = after.strip_prefix('[') {
                let end = range.find(']').ok_or("unterminated range")?;
                (&after[..end + 2], &range[end + 1..])
            } else if let Some(quoted) = after.strip_prefix('"') {
                let end = quoted.find('"').ok_or("unterminated quote")?;
                (&quoted[..end], &quoted[end + 1..])
            } else {
                let end = after.find(char::is_whitespace).unwrap_or(after.len());
                (&after[..end], &after[end..])
            };
            if value.is_empty() {
                return Err(format!("empty value for {field}"));
            }
            let v = value.to_string();
            match field {
                "type" => self.kind = Some(v),
                "user_id" => self.user_id = Some(v),
                "client_id" => self.client_id = Some(v),
                "connection_id" => self.connection_id = Some(v),
                "ip" => self.ip = Some(v),
                "date" => {
                    let inner = v
                        .strip_prefix('[')
                        .and_then(|r| r.strip_suffix(']'))
                        .ok_or("date takes a range [from TO to]")?;
                    let (from, to) = inner.split_once(" TO ").ok_or("date range needs TO")?;
                    let bound = |b: &str| (b.trim() != "*").then(|| b.trim().to_string());
                    self.date_from = bound(from);
                    self.date_to = bound(to);
                }
                other => return Err(format!("unknown field {other}")),
            }
            rest = next.trim_start();
            if let Some(r) = rest.strip_prefix("AND ") {
                rest = r.trim_start();
            }
        }
        Ok(())
    }
}

/// The events of one type on one day (UTC): how many, the first and the last one's time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCount {
    /// `2026-12-06`.
    pub day: String,
    pub kind: String,
    pub count: u64,
    pub first: String,
    pub last: String,
}

/// Rows in one `INSERT` of events: 8 parameters each stays under SQLite's limit of
/// 32,766 bound parameters.
pub const MAX_LOGS_PER_INSERT: usize = 500;

impl Store {
    pub async fn insert_log(&self, e: &LogEvent) -> Result<(), StoreError> {
        self.insert_logs(std::slice::from_ref(e)).await
    }

    /// Stores `events` in one statement: all of them, or none (the caller can then
    /// retry them one by one, so that one bad event does not lose the rest).
    pub async fn insert_logs(&self, events: &[LogEvent]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        if events.len() > MAX_LOGS_PER_INSERT {
            return Err(StoreError::InvalidQuery(format!(
                "{} events in one insert; at most {MAX_LOGS_PER_INSERT}",
                events.len()
            )));
        }
        let rows: Vec<String> = (0..events.len())
            .map(|i| {
                let p: Vec<String> = (1..=8).map(|k| format!("${}", i * 8 + k)).collect();
                format!("({})", p.join(","))
            })
            .collect();
        let sql = format!(
            "INSERT INTO logs (log_id, date, type, user_id, client_id, connection_id, ip, body) VALUES {}",
            rows.join(",")
        );
        let values: Vec<SqlValue> = events
            .iter()
            .flat_map(|e| {
                values![
                    &e.log_id,
                    &e.date,
                    &e.kind,
                    &e.user_id,
                    &e.client_id,
                    &e.connection_id,
                    &e.ip,
                    SqlValue::json(&e.to_auth0_json()),
                ]
            })
            .collect();
        self.db.execute(&sql, values).await?;
        Ok(())
    }

    /// Events of the given `types` dated from `from` up to (not including) `before`,
    /// counted per UTC day and type: one range scan of `logs (type, date)` a type.
    pub async fn log_counts_by_day(
        &self,
        types: &[&str],
        from: &str,
        before: &str,
    ) -> Result<Vec<DayCount>, StoreError> {
        if types.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = (0..types.len()).map(|i| format!("${}", i + 3)).collect();
        let sql = format!(
            "SELECT substr(date, 1, 10) AS day, type, COUNT(*), MIN(date), MAX(date) FROM logs \
             WHERE type IN ({}) AND date >= $1 AND date < $2 GROUP BY substr(date, 1, 10), type",
            list.join(",")
        );
        let mut params = Vec::from(values![from, before]);
        params.extend(types.iter().map(|t| SqlValue::from(*t)));
        self.db
            .scan(&sql, &params, |r| {
                Ok(DayCount {
                    day: r.get_at(0)?,
                    kind: r.get_at(1)?,
                    count: u64::try_from(r.get_at::<i64>(2)?).unwrap_or(0),
                    first: r.get_at(3)?,
                    last: r.get_at(4)?,
                })
            })
            .await
    }

    /// Users of any connection whose last login is at or after `since`.
    pub async fn count_users_logged_in_since(&self, since: &str) -> Result<u64, StoreError> {
        let sql = "SELECT COUNT(*) FROM users WHERE last_login >= $1";
        self.db.scan_count(sql, &values![since]).await
    }

    pub async fn log(&self, log_id: &str) -> Result<Option<Value>, StoreError> {
        self.db.opt("SELECT body FROM logs WHERE log_id = $1", &values![log_id], first_json).await
    }

    pub async fn logs(&self, q: &LogQuery) -> Result<(Vec<Value>, u64), StoreError> {
        let filter = "($1 IS NULL OR type = $1) AND ($2 IS NULL OR user_id = $2) AND ($3 IS NULL OR client_id = $3) \
             AND ($4 IS NULL OR connection_id = $4) AND ($5 IS NULL OR ip = $5) AND ($6 IS NULL OR date >= $6) \
             AND ($7 IS NULL OR date <= $7)";
        let order = if q.after.is_some() || !q.descending { "ASC" } else { "DESC" };
        let list = format!(
            "SELECT body FROM logs WHERE {filter} AND ($8 IS NULL OR log_id > $8) ORDER BY log_id {order} LIMIT $9 OFFSET $10"
        );
        let count_sql = format!("SELECT COUNT(*) FROM logs WHERE {filter}");
        let params = values![
            &q.kind,
            &q.user_id,
            &q.client_id,
            &q.connection_id,
            &q.ip,
            &q.date_from,
            &q.date_to,
            &q.after,
            q.limit,
            q.offset
        ];
        let bodies = self.db.scan(&list, &params, first_json).await?;
        Ok((bodies, self.db.scan_count(&count_sql, &params[..7]).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::LogQuery;

    #[test]
    fn q_terms_quotes_and_ranges() {
        let mut q = LogQuery::default();
        q.apply_q(r#"type:s AND user_id:"auth0|a b" ip:203.0.113.9 date:[2026-01-01 TO *]"#).unwrap();
        assert_eq!(q.kind.as_deref(), Some("s"));
        assert_eq!(q.user_id.as_deref(), Some("auth0|a b"));
        assert_eq!(q.ip.as_deref(), Some("203.0.113.9"));
        assert_eq!((q.date_from.as_deref(), q.date_to), (Some("2026-01-01"), None));
    }

    #[test]
    fn q_refuses_what_it_does_not_know() {
        for (q, reason) in [
            ("type", "expected field:value"),
            ("type:\"s", "unterminated quote"),
            ("date:[2026 TO", "unterminated range"),
            ("date:[2026]", "date range needs TO"),
            ("date:2026", "date takes a range [from TO to]"),
            ("type:\"\"", "empty value for type"),
            ("password:x", "unknown field password"),
        ] {
            assert_eq!(LogQuery::default().apply_q(q), Err(reason.to_string()), "{q}");
        }
    }
}
