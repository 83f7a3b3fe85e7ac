//! Job files kept in the database (migration 0031), for nodes that share no disk: a file
//! is a `job_files` row and its chunks in order. The row is written first and given its
//! size only after the last chunk, so a file cut short (a crash, a lost connection) is
//! never read as complete; the services' sweep deletes it once no job claims it.

use crate::error::StoreError;
use crate::rows::first_string;
use crate::store::Store;

impl Store {
    /// Starts storing job file `name` afresh: an earlier copy, complete or not, goes.
    pub async fn begin_job_file(&self, name: &str, now: &str) -> Result<(), StoreError> {
        let params = values![name, now];
        self.db
            .transaction(move |mut c| {
                Box::pin(async move {
                    // Each statement takes only the values it names: the delete's text is
                    // also `delete_job_file`'s, and PostgreSQL keeps it prepared for one.
                    c.execute("DELETE FROM job_files WHERE name = $1", &params[..1]).await?;
                    c.execute("INSERT INTO job_files (name, stored_at) VALUES ($1, $2)", &params).await
                })
            })
            .await?;
        Ok(())
    }

    /// Stores chunk `seq` (from 0) of job file `name`, begun by [`Store::begin_job_file`].
    pub async fn put_job_file_chunk(&self, name: &str, seq: i64, data: Vec<u8>) -> Result<(), StoreError> {
        let sql = "INSERT INTO job_file_chunks (name, seq, data) VALUES ($1, $2, $3)";
        self.db.execute(sql, values![name, seq, data]).await?;
        Ok(())
    }

    /// Marks job file `name` complete at `size` bytes; whether it was still there.
    pub async fn complete_job_file(&self, name: &str, size: i64) -> Result<bool, StoreError> {
        Ok(self.db.execute("UPDATE job_files SET size = $2 WHERE name = $1", values![name, size]).await? > 0)
    }

    /// The size of job file `name` if it is stored complete.
    pub async fn job_file_size(&self, name: &str) -> Result<Option<i64>, StoreError> {
        let sql = "SELECT size FROM job_files WHERE name = $1 AND size IS NOT NULL";
        self.db.opt(sql, &values![name], |r| r.get::<i64>("size")).await
    }

    /// Chunk `seq` of job file `name`.
    pub async fn job_file_chunk(&self, name: &str, seq: i64) -> Result<Option<Vec<u8>>, StoreError> {
        let sql = "SELECT data FROM job_file_chunks WHERE name = $1 AND seq = $2";
        self.db.opt(sql, &values![name, seq], |r| r.get::<Vec<u8>>("data")).await
    }

    /// Deletes job file `name` and its chunks; whether there was one.
    pub async fn delete_job_file(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.db.execute("DELETE FROM job_files WHERE name = $1", values![name]).await? > 0)
    }

    /// The job files (complete or not) stored before `before`.
    pub async fn job_files_stored_before(&self, before: &str) -> Result<Vec<String>, StoreError> {
        let sql = "SELECT name FROM job_files WHERE stored_at < $1 ORDER BY name";
        self.db.all(sql, &values![before], first_string).await
    }
}
