//! Password hashing off the async runtime, on a fixed set of threads (one per core), so a
//! burst of logins or creates never starves other requests.
//!
//! Each hashing thread takes the next queued hash as soon as it finishes one. With a
//! semaphore in front of `spawn_blocking` instead, a finished hash first had to wake its
//! request's task, which released the permit, which woke the next task, which handed its
//! hash to a blocking thread: a core sat idle for every one of those hand-offs.

use crate::metrics::Metrics;
use gatehouse_hash::{HashError, Hasher, PasswordHash};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use subtle::ConstantTimeEq;
use tokio::sync::oneshot;

type Job = Box<dyn FnOnce(&Hasher) + Send>;

#[derive(Clone, Debug)]
pub struct HashPool {
    hasher: Arc<Hasher>,
    jobs: mpsc::Sender<Job>,
    threads: usize,
    /// Hashes queued or running.
    in_flight: Arc<AtomicUsize>,
    metrics: Metrics,
}

/// Counts a hash in flight until it is dropped: after the hash, or with a job that
/// panicked or never reached a thread.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Self(count.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HashPoolError {
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error("hashing task failed: {0}")]
    Task(String),
}

impl HashPool {
    /// `threads` hashes run at once; the rest wait in order. The threads end when the
    /// last clone of the pool is dropped.
    pub fn new(hasher: Hasher, threads: usize, metrics: Metrics) -> Self {
        let hasher = Arc::new(hasher);
        let threads = threads.max(1);
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let (hasher, queue) = (hasher.clone(), queue.clone());
            let spawned = std::thread::Builder::new().name(format!("hashing-{i}")).spawn(move || loop {
                // The lock is held only while waiting for a job, never while hashing.
                let job = match queue.lock() {
                    Ok(q) => q.recv(),
                    Err(_) => return,
                };
                let Ok(job) = job else { return };
                // A job that panics fails its own request (its answer is dropped), not the thread.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&hasher)));
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a hashing thread");
            }
        }
        Self { hasher, jobs, threads, in_flight: Arc::default(), metrics }
    }

    pub fn hasher(&self) -> &Hasher {
        &self.hasher
    }

    /// Whether one more hash would leave a hashing thread, and so a core, idle beside it.
    /// A heuristic read of a moment: by the time it is acted on, others may have queued.
    pub fn leaves_a_core_idle(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) + 1 < self.threads
    }

    async fn run<T: Send + 'static>(
        &self,
        operation: &'static str,
        f: impl FnOnce(&Hasher) -> T + Send + 'static,
    ) -> Result<T, HashPoolError> {
        let (done, result) = oneshot::channel();
        let metrics = self.metrics.clone();
        let in_flight = InFlight::new(&self.in_flight);
        let job: Job = Box::new(move |hasher| {
            let started = std::time::Instant::now();
            let answer = f(hasher);
            let spent = started.elapsed();
            metrics.observe_hash(operation, spent.as_secs_f64());
            // No longer in flight by the time its request sees the answer.
            drop(in_flight);
            let _ = done.send((answer, spent));
        });
        self.jobs.send(job).map_err(|_| HashPoolError::Task("the hashing threads have stopped".into()))?;
        // A job that panicked drops its sender without an answer.
        let (answer, spent) = result.await.map_err(|_| HashPoolError::Task("a hashing job failed".into()))?;
        crate::metrics::add_hashing_time(spent);
        Ok(answer)
    }

    /// Hashes a new password (argon2id) into its stored form.
    pub async fn hash(&self, password: String) -> Result<String, HashPoolError> {
        Ok(self.run("hash", move |h| h.hash(&password).map(|p| p.to_stored())).await??)
    }

    /// Verifies a password against a stored hash; `None` as the hash still costs one
    /// verify, so unknown users take as long as known ones.
    pub async fn verify(&self, stored: Option<PasswordHash>, password: String) -> Result<bool, HashPoolError> {
        self.run("verify", move |h| match stored {
            Some(hash) => h.verify(&hash, &password),
            None => {
                h.dummy_verify(&password);
                false
            }
        })
        .await
    }
}

/// Client secrets are 64 random alphanumerics (≈ 380 bits), so a single SHA-256 is a
/// sufficient one-way function; a slow hash would only slow every token request.
pub fn hash_client_secret(secret: &str) -> String {
    format!("sha256${}", hex::encode(Sha256::digest(secret.as_bytes())))
}

pub fn verify_client_secret(stored: &str, presented: &str) -> bool {
    let expected = hash_client_secret(presented);
    stored.as_bytes().ct_eq(expected.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_hashes_all_finish_on_two_threads_with_their_own_answers() -> Result<(), HashPoolError> {
        let cheap = gatehouse_hash::Argon2Config { memory_kib: 256, iterations: 1, parallelism: 1 };
        let metrics = Metrics::default();
        let pool = HashPool::new(Hasher::new(cheap, gatehouse_hash::Limits::default()), 2, metrics.clone());
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..16 {
            let pool = pool.clone();
            tasks.spawn(async move {
                let stored = pool.hash(format!("password {i}")).await?;
                let parsed = pool.hasher().parse_stored(&stored)?;
                let right = pool.verify(Some(parsed.clone()), format!("password {i}")).await?;
                let wrong = pool.verify(Some(parsed), format!("password {}", i + 1)).await?;
                let unknown_user = pool.verify(None, format!("password {i}")).await?;
                Ok::<_, HashPoolError>((right, wrong, unknown_user))
            });
        }
        let mut finished = 0;
        while let Some(answer) = tasks.join_next().await {
            let answer = answer.map_err(|e| HashPoolError::Task(e.to_string()))??;
            assert_eq!(answer, (true, false, false));
            finished += 1;
        }
        assert_eq!(finished, 16);
        // Every hash and verify was timed: 16 hashes, 48 verifies (unknown users' included).
        let text = metrics.render();
        assert!(text.contains("gatehouse_password_hash_duration_seconds_count{operation=\"hash\"} 16"), "{text}");
        assert!(text.contains("gatehouse_password_hash_duration_seconds_count{operation=\"verify\"} 48"), "{text}");
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_core_is_idle_beside_a_hash_only_while_a_thread_is_free() -> Result<(), HashPoolError> {
        let cheap = gatehouse_hash::Argon2Config { memory_kib: 256, iterations: 1, parallelism: 1 };
        let hasher = || Hasher::new(cheap, gatehouse_hash::Limits::default());
        assert!(!HashPool::new(hasher(), 1, Metrics::default()).leaves_a_core_idle());
        let pool = HashPool::new(hasher(), 2, Metrics::default());
        assert!(pool.leaves_a_core_idle());
        // One job holds a thread until released: the next hash would take the last one.
        let (release, held) = std::sync::mpsc::channel::<()>();
        let busy = pool.clone();
        let job = tokio::spawn(async move { busy.run("verify", move |_| held.recv().is_ok()).await });
        let mut waited = 0;
        while pool.leaves_a_core_idle() && waited < 1_000 {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            waited += 1;
        }
        assert!(!pool.leaves_a_core_idle(), "a running hash is counted");
        let _ = release.send(());
        assert!(job.await.map_err(|e| HashPoolError::Task(e.to_string()))??);
        assert!(pool.leaves_a_core_idle(), "the finished job is no longer counted");
        Ok(())
    }

    #[test]
    fn client_secret_round_trip() {
        let stored = hash_client_secret("s3cret");
        assert!(!stored.contains("s3cret"));
        assert!(verify_client_secret(&stored, "s3cret"));
        assert!(!verify_client_secret(&stored, "s3cret "));
    }
}
