//! Migrations: `migrations/postgres` through sqlx's migrator, `migrations/sqlite` through
//! rusqlite here. Both record what they applied in sqlx's `_sqlx_migrations` table, with
//! sqlx's checksums, so a database keeps its history whichever of them applied it.

use crate::error::StoreError;
use sha2::{Digest, Sha384};

/// `(version, description, SQL)` of every SQLite migration, in order (see `build.rs`).
const SQLITE: &[(i64, &str, &str)] = include!(concat!(env!("OUT_DIR"), "/sqlite_migrations.rs"));

pub(crate) async fn postgres(pool: &sqlx::PgPool) -> Result<(), StoreError> {
    sqlx::migrate!("./migrations/postgres").run(pool).await?;
    Ok(())
}

/// Applies the SQLite migrations not applied yet, each in a transaction of its own.
pub(crate) fn sqlite(c: &mut rusqlite::Connection) -> Result<(), StoreError> {
    c.execute_batch(
        "CREATE TABLE IF NOT EXISTS _sqlx_migrations (
            version BIGINT PRIMARY KEY,
            description TEXT NOT NULL,
            installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
            success BOOLEAN NOT NULL,
            checksum BLOB NOT NULL,
            execution_time BIGINT NOT NULL
        );",
    )?;
    let applied: Vec<(i64, bool, Vec<u8>)> = c
        .prepare("SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (version, description, sql) in SQLITE {
        let checksum = Sha384::digest(sql.as_bytes()).to_vec();
        match applied.iter().find(|(v, ..)| v == version) {
            Some((_, false, _)) => {
                return Err(StoreError::Migration(format!(
                    "migration {version} failed half-way before: fix it by hand"
                )))
            }
            Some((_, true, stored)) if *stored != checksum => {
                return Err(StoreError::Migration(format!("migration {version} was changed after it was applied")))
            }
            Some(_) => continue,
            None => {}
        }
        let started = std::time::Instant::now();
        let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(sql).map_err(|e| StoreError::Migration(format!("migration {version}: {e}")))?;
        let took = i64::try_from(started.elapsed().as_nanos()).unwrap_or(i64::MAX);
        tx.execute(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (?1, ?2, TRUE, ?3, ?4)",
            rusqlite::params![version, description, checksum, took],
        )?;
        tx.commit()?;
    }
    Ok(())
}
