//! Jobs: persisted, claimed safely by one node at a time (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL; SQLite serialises writers), checkpointed with their errors in one
//! transaction, and taken over from a node whose heartbeat stopped.

use crate::error::StoreError;
use crate::rows::{first_json, first_string, FromRow};
use crate::sql::{Dialect, SqlValue};
use crate::store::Store;
use gatehouse_core::job::{Job, JobStatus};
use gatehouse_core::user::User;
use serde_json::Value;

/// Progress of a running job, written with the errors found since the last checkpoint.
/// A page of the keyset scan over users: at most `$3` users after id `$2`, of connection
/// `$1` unless it is NULL. `user_id > $2` must stay a plain range so that every page is an
/// index seek (an `OR` around it made SQLite rescan from the start: quadratic); every id
/// sorts after ''.
pub(crate) const USERS_AFTER: &str = "SELECT * FROM users WHERE user_id > $2 AND ($1 IS NULL OR connection_id = $1) \
    ORDER BY user_id LIMIT $3";

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
        self.db
            .execute(
                "INSERT INTO jobs (id, kind, status, connection_id, params, summary, resume_at, percentage_done, \
                 time_left_seconds, status_details, file, claimed_by, heartbeat_at, created_at, updated_at) \
                 VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)",
                values![
                    &j.id,
                    j.kind.as_str(),
                    j.status.as_str(),
                    &j.connection_id,
                    SqlValue::json(&j.params),
                    SqlValue::json_or_null(j.summary.as_ref()),
                    j.resume_at,
                    j.percentage_done,
                    &j.time_left_seconds,
                    &j.status_details,
                    &j.file,
                    &j.claimed_by,
                    &j.heartbeat_at,
                    &j.created_at,
                    &j.updated_at,
                ],
            )
            .await?;
        Ok(())
    }

    pub async fn job(&self, id: &str) -> Result<Option<Job>, StoreError> {
        self.db.opt("SELECT * FROM jobs WHERE id = $1", &values![id], Job::from_row).await
    }

    /// The most recent jobs, newest first (the console's list of what runs and ran).
    pub async fn recent_jobs(&self, limit: u32) -> Result<Vec<Job>, StoreError> {
        self.db
            .all(
                "SELECT * FROM jobs ORDER BY created_at DESC, id DESC LIMIT $1",
                &values![i64::from(limit)],
                Job::from_row,
            )
            .await
    }

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
        let claim = values![JobStatus::Processing.as_str(), node, now, JobStatus::Pending.as_str(), stale_before];
        self.db.write_opt(&sql, claim, Job::from_row).await
    }

    pub async fn checkpoint_job(&self, id: &str, node: &str, p: &JobProgress, now: &str) -> Result<bool, StoreError> {
        let progress = values![
            id,
            node,
            p.resume_at,
            SqlValue::json(&p.summary),
            p.percentage_done,
            p.time_left_seconds,
            now,
            JobStatus::Processing.as_str(),
        ];
        let errors: Vec<_> = p.errors.iter().map(|(index, error)| values![id, *index, SqlValue::json(error)]).collect();
        self.db
            .transaction(move |mut c| {
                Box::pin(async move {
                    let held = c
                        .execute(
                            "UPDATE jobs SET resume_at = $3, summary = $4, percentage_done = $5, \
                             time_left_seconds = $6, heartbeat_at = $7, updated_at = $7 \
                             WHERE id = $1 AND claimed_by = $2 AND status = $8",
                            &progress,
                        )
                        .await?
                        > 0;
                    // Another node took the job over: nothing of this checkpoint is written.
                    if held {
                        for error in &errors {
                            c.execute(
                                "INSERT INTO job_errors (job_id, record_index, error) VALUES ($1, $2, $3) \
                                 ON CONFLICT (job_id, record_index) DO UPDATE SET error = excluded.error",
                                error,
                            )
                            .await?;
                        }
                    }
                    Ok(held)
                })
            })
            .await
    }

    pub async fn heartbeat_job(&self, id: &str, node: &str, now: &str) -> Result<bool, StoreError> {
        let beat = self.db.execute(
            "UPDATE jobs SET heartbeat_at = $3 WHERE id = $1 AND claimed_by = $2 AND status = $4",
            values![id, node, now, JobStatus::Processing.as_str()],
        );
        Ok(beat.await? > 0)
    }

    pub async fn finish_job(
        &self,
        id: &str,
        status: JobStatus,
        summary: Option<&Value>,
        status_details: Option<&str>,
        file: Option<&str>,
        now: &str,
    ) -> Result<(), StoreError> {
        self.db
            .execute(
                "UPDATE jobs SET status = $2, summary = COALESCE($3, summary), status_details = $4, \
                 file = COALESCE($5, file), percentage_done = 100, time_left_seconds = NULL, updated_at = $6 \
                 WHERE id = $1",
                values![id, status.as_str(), SqlValue::json_or_null(summary), status_details, file, now],
            )
            .await?;
        Ok(())
    }

    pub async fn job_errors(&self, id: &str, after: Option<i64>, limit: u32) -> Result<Vec<Value>, StoreError> {
        self.db
            .all(
                "SELECT error FROM job_errors WHERE job_id = $1 AND ($2 IS NULL OR record_index > $2) \
                 ORDER BY record_index LIMIT $3",
                &values![id, after, limit],
                first_json,
            )
            .await
    }

    pub async fn delete_jobs_finished_before(&self, before: &str) -> Result<Vec<String>, StoreError> {
        let files = self.db.write_all(
            "DELETE FROM jobs WHERE status IN ($1, $2) AND updated_at < $3 RETURNING file",
            values![JobStatus::Completed.as_str(), JobStatus::Failed.as_str(), before],
            |r| r.get::<Option<String>>("file"),
        );
        Ok(files.await?.into_iter().flatten().collect())
    }

    pub async fn server_secret(&self, name: &str, fresh: &str, now: &str) -> Result<String, StoreError> {
        self.db
            .execute(
                "INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
                values![name, self.secrets.seal(fresh)?, now],
            )
            .await?;
        let sql = "SELECT value FROM server_secrets WHERE name = $1";
        let stored = self.db.one(sql, &values![name], first_string).await?;
        self.secrets.open(&stored)
    }

    pub async fn users_after(
        &self,
        connection_id: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<User>, StoreError> {
        self.db.all(USERS_AFTER, &values![connection_id, after.unwrap_or(""), limit], User::from_row).await
    }
}
