//! PostgreSQL through sqlx: the pool, the binding of [`SqlValue`]s, and running a
//! statement on the pool or on one connection.

use super::{Row, RowSource};
use crate::error::StoreError;
use crate::sql::{SqlType, SqlValue};
use sqlx::postgres::{PgArgumentBuffer, PgArguments, PgConnectOptions, PgPool, PgPoolOptions, PgTypeInfo};
use sqlx::{PgExecutor, Postgres};
use std::str::FromStr;
use std::time::Duration;

type Query<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

/// A pool on the database `url` names, its tables in `schema` (created if missing) if one
/// is given, migrated.
pub(super) async fn connect(url: &str, schema: Option<&str>) -> Result<PgPool, StoreError> {
    let mut options = PgConnectOptions::from_str(url)?;
    if let Some(schema) = schema {
        if !schema.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') || schema.is_empty() {
            return Err(StoreError::UnsupportedUrl(format!("schema {schema:?} must be [A-Za-z0-9_]+")));
        }
        let admin = PgPoolOptions::new().max_connections(1).connect_with(options.clone()).await?;
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"")).execute(&admin).await?;
        admin.close().await;
        options = options.options([("search_path", schema)]);
    }
    let pool =
        PgPoolOptions::new().max_connections(16).acquire_timeout(Duration::from_secs(10)).connect_with(options).await?;
    crate::migrate::postgres(&pool).await?;
    Ok(pool)
}

/// JSON text bound as `jsonb` as it is, without a round trip through `serde_json::Value`.
struct JsonText<'a>(&'a str);

impl sqlx::Type<Postgres> for JsonText<'_> {
    fn type_info() -> PgTypeInfo {
        <sqlx::types::Json<()> as sqlx::Type<Postgres>>::type_info()
    }
}

impl<'q> sqlx::Encode<'q, Postgres> for JsonText<'_> {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        // `jsonb`'s binary form: a version byte, then the text.
        buf.push(1);
        buf.extend_from_slice(self.0.as_bytes());
        Ok(sqlx::encode::IsNull::No)
    }
}

/// `sql` with `params` bound to `$1`, `$2`, … in order.
fn query<'q>(sql: &'q str, params: &'q [SqlValue]) -> Query<'q> {
    params.iter().fold(sqlx::query(sql), |q, value| match value {
        SqlValue::Text(s) => q.bind(s.as_str()),
        SqlValue::Int(i) => q.bind(*i),
        SqlValue::Float(f) => q.bind(*f),
        SqlValue::Bool(b) => q.bind(*b),
        SqlValue::Json(text) => q.bind(JsonText(text)),
        SqlValue::TextList(list) => q.bind(list.as_slice()),
        SqlValue::Bytes(bytes) => q.bind(bytes.as_slice()),
        SqlValue::Null(SqlType::Text) => q.bind(None::<&str>),
        SqlValue::Null(SqlType::Int) => q.bind(None::<i64>),
        SqlValue::Null(SqlType::Bool) => q.bind(None::<bool>),
        SqlValue::Null(SqlType::Json) => q.bind(None::<JsonText<'q>>),
    })
}

/// Up to `limit` rows of `sql` (one is fetched as one: the rest are never sent).
pub(super) async fn rows<'c, T>(
    executor: impl PgExecutor<'c>,
    sql: &str,
    params: &[SqlValue],
    limit: usize,
    decode: &impl Fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let query = query(sql, params);
    let rows = match limit {
        1 => query.fetch_optional(executor).await?.into_iter().collect(),
        _ => query.fetch_all(executor).await?,
    };
    rows.iter().take(limit).map(|r| decode(&Row::new(RowSource::Postgres(r)))).collect()
}

pub(super) async fn execute<'c>(
    executor: impl PgExecutor<'c>,
    sql: &str,
    params: &[SqlValue],
) -> Result<u64, StoreError> {
    Ok(query(sql, params).execute(executor).await?.rows_affected())
}
