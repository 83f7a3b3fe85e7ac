//! Jobs: persisted, claimed safely by one node at a time (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL; SQLite serialises writers), checkpointed with their errors in one
//! transaction, and taken over from a node whose heartbeat stopped.

use crate::error::StoreError;
use crate::rows::FromRow;
use crate::sql::Dialect;
use crate::store::{BeginWrite, Store};
use gatehouse_core::job::{Job, JobStatus};
use gatehouse_core::user::User;
use serde_json::Value;
use sqlx::types::Json;

/// Progress of a running job, written with the errors found since the last checkpoint.
#[derive(Debug, Clone)]
pub struct JobProgress {
    pub resume_at: i64,
    pub summary: Value,
    pub percentage_done: i64,
    pub time_left_seconds: Option<i64>,
    /// `(record index, error JSON)`.
    pub errors: Vec<(i64, Value)>,
}

impl Store {
    pub async fn insert_job(&self, j: &Job) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO jobs (id, kind, status, connection_id, params, summary, resume_at, percentage_done, \
                 time_left_seconds, status_details, file, claimed_by, heartbeat_at, created_at, updated_at) \
                 VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)",
            )
            .bind(&j.id)
            .bind(j.kind.as_str())
            .bind(j.status.as_str())
            .bind(&j.connection_id)
            .bind(Json(&j.params))
            .bind(j.summary.as_ref().map(Json))
            .bind(j.resume_at)
            .bind(j.percentage_done)
            .bind(j.time_left_seconds)
            .bind(&j.status_details)
            .bind(&j.file)
            .bind(&j.claimed_by)
            .bind(&j.heartbeat_at)
            .bind(&j.created_at)
            .bind(&j.updated_at)
            .execute(pool)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    pub async fn job(&self, id: &str) -> Result<Option<Job>, StoreError> {
        on_pool!(self, |pool| {
            let row = sqlx::query("SELECT * FROM jobs WHERE id = $1").bind(id).fetch_optional(pool).await?;
            row.as_ref().map(Job::from_row).transpose()
        })
    }

    /// Claims the oldest job waiting for a worker, or one whose worker stopped sending
    /// heartbeats before `stale_before`, for `node`. At most one node wins each job.
    pub async fn claim_job(&self, node: &str, now: &str, stale_before: &str) -> Result<Option<Job>, StoreError> {
        let skip_locked = match self.dialect() {
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        let sql = format!(
            "UPDATE jobs SET status = $1, claimed_by = $2, heartbeat_at = $3, updated_at = $3 WHERE id = \
             (SELECT id FROM jobs WHERE status = $4 OR (status = $1 AND (heartbeat_at IS NULL OR heartbeat_at < $5)) \
             ORDER BY created_at, id LIMIT 1{skip_locked}) RETURNING *"
        );
        on_pool!(self, |pool| {
            let row = sqlx::query(&sql)
                .bind(JobStatus::Processing.as_str())
                .bind(node)
                .bind(now)
                .bind(JobStatus::Pending.as_str())
                .bind(stale_before)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(Job::from_row).transpose()
        })
    }

    /// Records progress and the errors found since the last checkpoint, in one
    /// transaction, if `node` still holds the job. Returns whether it does.
    pub async fn checkpoint_job(&self, id: &str, node: &str, p: &JobProgress, now: &str) -> Result<bool, StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let held = sqlx::query(
                "UPDATE jobs SET resume_at = $3, summary = $4, percentage_done = $5, time_left_seconds = $6, \
                 heartbeat_at = $7, updated_at = $7 WHERE id = $1 AND claimed_by = $2 AND status = $8",
            )
            .bind(id)
            .bind(node)
            .bind(p.resume_at)
            .bind(Json(&p.summary))
            .bind(p.percentage_done)
            .bind(p.time_left_seconds)
            .bind(now)
            .bind(JobStatus::Processing.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected()
                > 0;
            if !held {
                tx.rollback().await?;
                return Ok(false);
            }
            for (index, error) in &p.errors {
                sqlx::query(
                    "INSERT INTO job_errors (job_id, record_index, error) VALUES ($1, $2, $3) \
                     ON CONFLICT (job_id, record_index) DO UPDATE SET error = excluded.error",
                )
                .bind(id)
                .bind(index)
                .bind(Json(error))
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Tells other nodes that `node` is still working on the job.
    pub async fn heartbeat_job(&self, id: &str, node: &str, now: &str) -> Result<bool, StoreError> {
        let n = on_pool!(self, |pool| {
            sqlx::query("UPDATE jobs SET heartbeat_at = $3 WHERE id = $1 AND claimed_by = $2 AND status = $4")
                .bind(id)
                .bind(node)
                .bind(now)
                .bind(JobStatus::Processing.as_str())
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        Ok(n > 0)
    }

    /// Ends a job: `completed` or `failed`, with its summary, details and output file.
    pub async fn finish_job(
        &self,
        id: &str,
        status: JobStatus,
        summary: Option<&Value>,
        status_details: Option<&str>,
        file: Option<&str>,
        now: &str,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE jobs SET status = $2, summary = COALESCE($3, summary), status_details = $4, \
                 file = COALESCE($5, file), percentage_done = 100, time_left_seconds = NULL, updated_at = $6 WHERE id = $1",
            )
            .bind(id)
            .bind(status.as_str())
            .bind(summary.map(Json))
            .bind(status_details)
            .bind(file)
            .bind(now)
            .execute(pool)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    /// The errors of a job, in record order, from `after` (exclusive), at most `limit`.
    pub async fn job_errors(&self, id: &str, after: Option<i64>, limit: u32) -> Result<Vec<Value>, StoreError> {
        on_pool!(self, |pool| {
            let rows: Vec<Json<Value>> = sqlx::query_scalar(
                "SELECT error FROM job_errors WHERE job_id = $1 AND ($2 IS NULL OR record_index > $2) \
                 ORDER BY record_index LIMIT $3",
            )
            .bind(id)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
            Ok(rows.into_iter().map(|j| j.0).collect())
        })
    }

    /// Jobs whose data may be deleted (finished before `before`), with their files.
    pub async fn delete_jobs_finished_before(&self, before: &str) -> Result<Vec<String>, StoreError> {
        on_pool!(self, |pool| {
            let files: Vec<Option<String>> =
                sqlx::query_scalar("DELETE FROM jobs WHERE status IN ($1, $2) AND updated_at < $3 RETURNING file")
                    .bind(JobStatus::Completed.as_str())
                    .bind(JobStatus::Failed.as_str())
                    .bind(before)
                    .fetch_all(pool)
                    .await?;
            Ok(files.into_iter().flatten().collect())
        })
    }

    /// A secret the server generated for itself: the stored one, or `fresh` stored now
    /// (the first node to store one wins; every node then reads the same value).
    pub async fn server_secret(&self, name: &str, fresh: &str, now: &str) -> Result<String, StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(fresh)
            .bind(now)
            .execute(pool)
            .await?;
            let v: String = sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
                .bind(name)
                .fetch_one(pool)
                .await?;
            Ok(v)
        })
    }

    /// Users in `user_id` order after `after`, optionally of one connection: the export's
    /// keyset scan, constant memory whatever the number of users.
    pub async fn users_after(
        &self,
        connection_id: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<User>, StoreError> {
        on_pool!(self, |pool| {
            let rows = sqlx::query(
                // `user_id > $2` must stay a plain range so that every page is an index
                // seek (an `OR` around it made SQLite rescan from the start: quadratic);
                // every id sorts after ''.
                "SELECT * FROM users WHERE user_id > $2 AND ($1 IS NULL OR connection_id = $1) \
                 ORDER BY user_id LIMIT $3",
            )
            .bind(connection_id)
            .bind(after.unwrap_or(""))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
            rows.iter().map(User::from_row).collect()
        })
    }
}
