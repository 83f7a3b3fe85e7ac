//! The `sql` legacy store: the customer's MySQL/MariaDB, PostgreSQL or SQLite database,
//! asked through configured queries. Named parameters (`:email`, …) are rewritten to the
//! dialect's placeholders and always bound; result columns are named after Auth0's
//! profile fields.

use crate::config::SqlConfig;
use crate::profile::Profile;
use crate::{LegacyError, ListedUser, Login, NewLegacyUser, Page};
use gatehouse_hash::{Hasher, PasswordHash};
use serde_json::{Map, Value};
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{Column, Row};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

/// The named parameters each query may use.
fn allowed_params(query: &str) -> &'static [&'static str] {
    match query {
        "login" | "get_user" => &["email", "username"],
        "create" => &["email", "username", "password_hash"],
        "change_password" => &["email", "password_hash"],
        "verify" => &["email"],
        "delete" => &["user_id"],
        "list" => &["limit", "offset", "after"],
        _ => &[],
    }
}

/// Checks a configured query's named parameters.
pub(crate) fn check_query(name: &str, sql: &str, url: &str) -> Result<(), String> {
    rewrite(sql, style_for(url), allowed_params(name)).map(|_| ())
}

fn style_for(url: &str) -> Placeholders {
    if url.starts_with("mysql://") || url.starts_with("mariadb://") {
        Placeholders::Question
    } else {
        Placeholders::Numbered
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placeholders {
    /// `?` per occurrence, backslash escapes in strings (MySQL/MariaDB).
    Question,
    /// `$N` per distinct name (PostgreSQL, SQLite).
    Numbered,
}

/// Rewrites `:name` parameters to placeholders: `$1, $2…` per distinct name when
/// `numbered` (PostgreSQL, SQLite), else `?` per occurrence (MySQL). Returns the SQL and
/// the parameter names in binding order. Text inside string literals, quoted
/// identifiers and comments is left alone, as are PostgreSQL casts (`::text`).
pub fn rewrite_named_params(sql: &str, numbered: bool, allowed: &[&str]) -> Result<(String, Vec<String>), String> {
    rewrite(sql, if numbered { Placeholders::Numbered } else { Placeholders::Question }, allowed)
}

fn rewrite(sql: &str, style: Placeholders, allowed: &[&str]) -> Result<(String, Vec<String>), String> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = String::with_capacity(sql.len());
    let mut names: Vec<String> = Vec::new();
    let mut i = 0;
    let ident_start = |c: char| c.is_ascii_alphabetic() || c == '_';
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    // Copies chars[i..end] and moves on.
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let end = match c {
            '\'' | '"' | '`' => {
                let mut j = i + 1;
                loop {
                    match chars.get(j) {
                        None => return Err(format!("unterminated {c} quote")),
                        Some('\\') if style == Placeholders::Question && c != '`' => j += 2,
                        Some(&q) if q == c => {
                            if chars.get(j + 1) == Some(&c) {
                                j += 2; // doubled quote inside the literal
                            } else {
                                break j + 1;
                            }
                        }
                        Some(_) => j += 1,
                    }
                }
            }
            '-' if next == Some('-') => chars[i..].iter().position(|&c| c == '\n').map_or(chars.len(), |p| i + p),
            '#' if style == Placeholders::Question => {
                chars[i..].iter().position(|&c| c == '\n').map_or(chars.len(), |p| i + p)
            }
            '/' if next == Some('*') => {
                let mut j = i + 2;
                while j < chars.len() && !(chars[j] == '*' && chars.get(j + 1) == Some(&'/')) {
                    j += 1;
                }
                if j >= chars.len() {
                    return Err("unterminated /* comment".into());
                }
                j + 2
            }
            '$' if style == Placeholders::Numbered && next.is_some_and(|n| n == '$' || ident_start(n)) => {
                // A dollar-quoted string: $tag$ … $tag$.
                let tag_end = chars[i + 1..].iter().position(|&c| c == '$').map(|p| i + 1 + p);
                match tag_end {
                    Some(t) if chars[i + 1..t].iter().all(|&c| ident(c)) => {
                        let tag: String = chars[i..=t].iter().collect();
                        let rest: String = chars[t + 1..].iter().collect();
                        match rest.find(&tag) {
                            Some(p) => t + 1 + rest[..p].chars().count() + tag.chars().count(),
                            None => return Err(format!("unterminated {tag} string")),
                        }
                    }
                    _ => i + 1,
                }
            }
            ':' if next == Some(':') => i + 2,
            ':' if next.is_some_and(ident_start) && !(i > 0 && ident(chars[i - 1])) => {
                let mut j = i + 1;
                while j < chars.len() && ident(chars[j]) {
                    j += 1;
                }
                let name: String = chars[i + 1..j].iter().collect();
                if !allowed.contains(&name.as_str()) {
                    let takes = allowed.iter().map(|a| format!(":{a}")).collect::<Vec<_>>().join(", ");
                    return Err(format!("unknown parameter :{name}; this query takes {takes}"));
                }
                match style {
                    Placeholders::Question => {
                        out.push('?');
                        names.push(name);
                    }
                    Placeholders::Numbered => {
                        let n = match names.iter().position(|x| *x == name) {
                            Some(p) => p + 1,
                            None => {
                                names.push(name);
                                names.len()
                            }
                        };
                        out.push_str(&format!("${n}"));
                    }
                }
                i = j;
                continue;
            }
            _ => i + 1,
        };
        out.extend(&chars[i..end]);
        i = end;
    }
    Ok((out, names))
}

#[derive(Debug)]
enum Pool {
    MySql(MySqlPool),
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

#[derive(Debug)]
struct Prepared {
    sql: String,
    params: Vec<String>,
}

#[derive(Debug)]
pub(crate) struct SqlStore {
    pool: Pool,
    queries: BTreeMap<String, Prepared>,
    custom_password_hash: Option<Value>,
}

/// A value bound to a named parameter.
#[derive(Debug, Clone)]
enum Param {
    Text(Option<String>),
    Int(i64),
}

fn text(s: &str) -> Param {
    Param::Text(Some(s.to_string()))
}

macro_rules! bind_params {
    ($query:expr, $prepared:expr, $values:expr) => {{
        let mut q = $query;
        for name in &$prepared.params {
            q = match $values.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()) {
                Some(Param::Int(i)) => q.bind(i),
                Some(Param::Text(t)) => q.bind(t),
                None => q.bind(None::<String>),
            };
        }
        q
    }};
}

/// Reads every column of a row as JSON, whatever its SQL type.
macro_rules! row_to_map {
    ($row:expr) => {{
        let row = $row;
        let mut m = Map::new();
        for (i, col) in row.columns().iter().enumerate() {
            let v: Option<Value> = if let Ok(v) = row.try_get::<Option<String>, _>(i) {
                v.map(Value::String)
            } else if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
                v.map(Value::from)
            } else if let Ok(v) = row.try_get::<Option<i32>, _>(i) {
                v.map(Value::from)
            } else if let Ok(v) = row.try_get::<Option<i16>, _>(i) {
                v.map(Value::from)
            } else if let Ok(v) = row.try_get::<Option<bool>, _>(i) {
                v.map(Value::Bool)
            } else if let Ok(v) = row.try_get::<Option<f64>, _>(i) {
                v.map(Value::from)
            } else if let Ok(v) = row.try_get::<Option<Vec<u8>>, _>(i) {
                v.map(|b| Value::String(String::from_utf8_lossy(&b).into_owned()))
            } else {
                None
            };
            m.insert(col.name().to_string(), v.unwrap_or(Value::Null));
        }
        m
    }};
}

fn db_error(what: &str, e: sqlx::Error) -> LegacyError {
    LegacyError::unavailable(what, e)
}

impl SqlStore {
    pub(crate) fn new(c: SqlConfig, timeout: Duration) -> Result<Self, crate::ConfigError> {
        let bad_url = |e: sqlx::Error| crate::config::ConfigError {
            field: ".url".into(),
            reason: format!("is not a usable database URL: {e}"),
        };
        let idle = Some(Duration::from_secs(300));
        let (pool, style) = if c.url.starts_with("mysql://") || c.url.starts_with("mariadb://") {
            let url = c.url.replacen("mariadb://", "mysql://", 1);
            let options = MySqlConnectOptions::from_str(&url).map_err(bad_url)?;
            let pool = MySqlPoolOptions::new()
                .max_connections(c.max_connections)
                .acquire_timeout(timeout)
                .idle_timeout(idle)
                .connect_lazy_with(options);
            (Pool::MySql(pool), Placeholders::Question)
        } else if c.url.starts_with("postgres") {
            let options = PgConnectOptions::from_str(&c.url).map_err(bad_url)?;
            let pool = PgPoolOptions::new()
                .max_connections(c.max_connections)
                .acquire_timeout(timeout)
                .idle_timeout(idle)
                .connect_lazy_with(options);
            (Pool::Postgres(pool), Placeholders::Numbered)
        } else {
            // The customer's file: never created by us.
            let options = SqliteConnectOptions::from_str(&c.url).map_err(bad_url)?.create_if_missing(false);
            let pool = SqlitePoolOptions::new()
                .max_connections(c.max_connections)
                .acquire_timeout(timeout)
                .idle_timeout(idle)
                .connect_lazy_with(options);
            (Pool::Sqlite(pool), Placeholders::Numbered)
        };
        let mut queries = BTreeMap::new();
        for (name, sql) in c.queries {
            let (sql, params) = rewrite(&sql, style, allowed_params(&name))
                .map_err(|reason| crate::config::ConfigError { field: format!(".queries.{name}"), reason })?;
            queries.insert(name, Prepared { sql, params });
        }
        Ok(Self { pool, queries, custom_password_hash: c.custom_password_hash })
    }

    pub(crate) fn has_query(&self, name: &str) -> bool {
        self.queries.contains_key(name)
    }

    fn query(&self, name: &'static str, option: &'static str) -> Result<&Prepared, LegacyError> {
        self.queries.get(name).ok_or(LegacyError::Unsupported(name, option))
    }

    async fn fetch(
        &self,
        name: &'static str,
        values: &[(&str, Param)],
    ) -> Result<Vec<Map<String, Value>>, LegacyError> {
        let p = self.query(name, name)?;
        let what = format!("the {name} query failed");
        match &self.pool {
            Pool::MySql(pool) => {
                let rows = bind_params!(sqlx::query(&p.sql), p, values)
                    .fetch_all(pool)
                    .await
                    .map_err(|e| db_error(&what, e))?;
                Ok(rows.iter().map(|r| row_to_map!(r)).collect())
            }
            Pool::Postgres(pool) => {
                let rows = bind_params!(sqlx::query(&p.sql), p, values)
                    .fetch_all(pool)
                    .await
                    .map_err(|e| db_error(&what, e))?;
                Ok(rows.iter().map(|r| row_to_map!(r)).collect())
            }
            Pool::Sqlite(pool) => {
                let rows = bind_params!(sqlx::query(&p.sql), p, values)
                    .fetch_all(pool)
                    .await
                    .map_err(|e| db_error(&what, e))?;
                Ok(rows.iter().map(|r| row_to_map!(r)).collect())
            }
        }
    }

    /// Runs a write; the number of rows it changed. A unique violation is `UserExists`.
    async fn execute(
        &self,
        name: &'static str,
        option: &'static str,
        values: &[(&str, Param)],
    ) -> Result<u64, LegacyError> {
        let p = self.query(name, option)?;
        let what = format!("the {name} query failed");
        let result = match &self.pool {
            Pool::MySql(pool) => {
                bind_params!(sqlx::query(&p.sql), p, values).execute(pool).await.map(|r| r.rows_affected())
            }
            Pool::Postgres(pool) => {
                bind_params!(sqlx::query(&p.sql), p, values).execute(pool).await.map(|r| r.rows_affected())
            }
            Pool::Sqlite(pool) => {
                bind_params!(sqlx::query(&p.sql), p, values).execute(pool).await.map(|r| r.rows_affected())
            }
        };
        match result {
            Ok(n) => Ok(n),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Err(LegacyError::UserExists),
            Err(e) => Err(db_error(&what, e)),
        }
    }

    /// The password hash of a result row: the `custom_password_hash` template filled from
    /// the row, or the self-describing `password_hash` column.
    fn hash_of(&self, row: &Map<String, Value>, hasher: &Hasher) -> Result<Option<PasswordHash>, String> {
        if let Some(template) = &self.custom_password_hash {
            let filled = fill_template(template, row)?;
            return hasher.parse_custom_password_hash(&filled).map(Some).map_err(|e| e.to_string());
        }
        match row.get("password_hash") {
            Some(Value::String(s)) if !s.is_empty() => {
                hasher.parse_password_hash(s).map(Some).map_err(|e| e.to_string())
            }
            _ => Ok(None),
        }
    }

    fn profile(what: &str, row: &Map<String, Value>) -> Result<Profile, LegacyError> {
        Profile::from_fields(row).map_err(|e| LegacyError::Unavailable(format!("the {what} query: {e}")))
    }

    pub(crate) async fn login(&self, login: &str, hasher: &Hasher) -> Result<Login, LegacyError> {
        let rows = self.fetch("login", &[("email", text(login)), ("username", text(login))]).await?;
        let Some(row) = rows.into_iter().next() else { return Ok(Login::Rejected) };
        let profile = Self::profile("login", &row)?;
        match self.hash_of(&row, hasher) {
            Ok(Some(hash)) => Ok(Login::CheckHash(profile, hash)),
            Ok(None) => {
                tracing::warn!(legacy_user_id = %profile.user_id, "the legacy login query returned no password_hash");
                Ok(Login::Rejected)
            }
            Err(e) => {
                tracing::warn!(legacy_user_id = %profile.user_id, error = %e, "a legacy password hash is unusable");
                Ok(Login::Rejected)
            }
        }
    }

    pub(crate) async fn get_user(&self, login: &str) -> Result<Option<Profile>, LegacyError> {
        let rows = self.fetch("get_user", &[("email", text(login)), ("username", text(login))]).await?;
        rows.first().map(|r| Self::profile("get_user", r)).transpose()
    }

    pub(crate) async fn create(&self, u: &NewLegacyUser) -> Result<(), LegacyError> {
        let values = [
            ("email", text(&u.email)),
            ("username", Param::Text(u.username.clone())),
            ("password_hash", text(&u.password_hash)),
        ];
        self.execute("create", "queries.create", &values).await.map(|_| ())
    }

    pub(crate) async fn change_password(&self, email: &str, password_hash: &str) -> Result<bool, LegacyError> {
        let values = [("email", text(email)), ("password_hash", text(password_hash))];
        Ok(self.execute("change_password", "queries.change_password", &values).await? > 0)
    }

    pub(crate) async fn verify(&self, email: &str) -> Result<(), LegacyError> {
        self.execute("verify", "queries.verify", &[("email", text(email))]).await.map(|_| ())
    }

    pub(crate) async fn delete(&self, user_id: &str) -> Result<(), LegacyError> {
        self.execute("delete", "queries.delete", &[("user_id", text(user_id))]).await.map(|_| ())
    }

    /// `after` is `<offset>:<last user_id>` from the previous page.
    pub(crate) async fn list(&self, after: Option<&str>, limit: u32, hasher: &Hasher) -> Result<Page, LegacyError> {
        self.query("list", "queries.list")?;
        let (offset, last) = match after.and_then(|a| a.split_once(':')) {
            Some((o, last)) => (o.parse::<i64>().unwrap_or(0), Some(last.to_string())),
            None => (0, None),
        };
        let values =
            [("limit", Param::Int(i64::from(limit))), ("offset", Param::Int(offset)), ("after", Param::Text(last))];
        let rows = self.fetch("list", &values).await?;
        let full = rows.len() >= limit as usize;
        let mut users = Vec::with_capacity(rows.len());
        for row in &rows {
            let profile = Self::profile("list", row)?;
            let hash = match self.hash_of(row, hasher) {
                Ok(h) => h,
                Err(e) => {
                    tracing::warn!(legacy_user_id = %profile.user_id, error = %e, "a legacy password hash is unusable; imported without it");
                    None
                }
            };
            users.push(ListedUser { profile, hash });
        }
        let next = match (full, users.last()) {
            (true, Some(last)) => Some(format!("{}:{}", offset + rows.len() as i64, last.profile.user_id)),
            _ => None,
        };
        Ok(Page { users, next })
    }
}

/// Fills `{{column}}` placeholders in the string values of a `custom_password_hash`
/// template from a result row. A string that is only a placeholder takes the column's
/// value as is (so a number stays a number).
fn fill_template(template: &Value, row: &Map<String, Value>) -> Result<Value, String> {
    Ok(match template {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                out.insert(k.clone(), fill_template(v, row)?);
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(|v| fill_template(v, row)).collect::<Result<_, _>>()?),
        Value::String(s) if s.contains("{{") => {
            let column = |name: &str| match row.get(name.trim()) {
                None => {
                    Err(format!("custom_password_hash names column {:?}, which the query does not return", name.trim()))
                }
                Some(Value::Null) => Err(format!("column {:?} is null", name.trim())),
                Some(v) => Ok(v.clone()),
            };
            if let Some(name) = s.strip_prefix("{{").and_then(|r| r.strip_suffix("}}")).filter(|n| !n.contains("{{")) {
                return column(name);
            }
            let mut out = String::new();
            let mut rest = s.as_str();
            while let Some(start) = rest.find("{{") {
                out.push_str(&rest[..start]);
                let after = &rest[start + 2..];
                let end = after.find("}}").ok_or("an unclosed {{ in custom_password_hash")?;
                match column(&after[..end])? {
                    Value::String(v) => out.push_str(&v),
                    other => out.push_str(&other.to_string()),
                }
                rest = &after[end + 2..];
            }
            out.push_str(rest);
            Value::String(out)
        }
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LOGIN: &[&str] = &["email", "username"];

    #[test]
    fn named_params_become_placeholders() {
        let sql = "SELECT id FROM t WHERE mail = :email OR nick = :username OR mail2 = :email";
        let (pg, names) = rewrite_named_params(sql, true, LOGIN).unwrap();
        assert_eq!(pg, "SELECT id FROM t WHERE mail = $1 OR nick = $2 OR mail2 = $1");
        assert_eq!(names, ["email", "username"]);
        let (my, names) = rewrite_named_params(sql, false, LOGIN).unwrap();
        assert_eq!(my, "SELECT id FROM t WHERE mail = ? OR nick = ? OR mail2 = ?");
        assert_eq!(names, ["email", "username", "email"]);
    }

    #[test]
    fn literals_comments_and_casts_are_left_alone() {
        let sql = "SELECT ':email', \"a:email\", `b:email`, x::text, $q$ :email $q$ -- :email\n\
                   FROM t /* :email */ WHERE a = :email AND b = 'it''s :username'";
        let (pg, names) = rewrite_named_params(sql, true, LOGIN).unwrap();
        assert_eq!(
            pg,
            "SELECT ':email', \"a:email\", `b:email`, x::text, $q$ :email $q$ -- :email\n\
             FROM t /* :email */ WHERE a = $1 AND b = 'it''s :username'"
        );
        assert_eq!(names, ["email"]);
        // MySQL: a backslash escapes the quote inside a literal.
        let (my, names) = rewrite_named_params(r"SELECT 'a\':email' # :email", false, LOGIN).unwrap();
        assert_eq!(my, r"SELECT 'a\':email' # :email");
        assert!(names.is_empty());
        assert!(rewrite_named_params("SELECT 'open", true, LOGIN).is_err());
    }

    #[test]
    fn unknown_params_are_refused() {
        let e = rewrite_named_params("SELECT 1 WHERE a = :password", true, LOGIN).unwrap_err();
        assert_eq!(e, "unknown parameter :password; this query takes :email, :username");
        assert!(check_query("delete", "DELETE FROM t WHERE id = :user_id", "sqlite:x").is_ok());
        assert!(check_query("delete", "DELETE FROM t WHERE mail = :email", "sqlite:x").is_err());
    }

    #[test]
    fn templates_take_columns() {
        let row = json!({"pw": "0bf5d953f8247e5c2532a593f576c329", "salt": "abc", "rounds": 10})
            .as_object()
            .cloned()
            .unwrap();
        let t = json!({"algorithm": "md5", "hash": {"value": "{{pw}}", "encoding": "hex"},
            "salt": {"value": "x{{ salt }}", "position": "prefix"}, "n": "{{rounds}}"});
        let filled = fill_template(&t, &row).unwrap();
        assert_eq!(
            filled,
            json!({"algorithm": "md5", "hash": {"value": "0bf5d953f8247e5c2532a593f576c329", "encoding": "hex"},
                "salt": {"value": "xabc", "position": "prefix"}, "n": 10})
        );
        assert!(fill_template(&json!({"v": "{{missing}}"}), &row).is_err());
    }
}
