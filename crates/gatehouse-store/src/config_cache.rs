//! Configuration rows that token requests read on every call — the client, its grant
//! for an API, the API, the connection, the attack-protection settings — kept for a moment, so
//! that a login reads from the database only what is its own (the user and its failure
//! counters) — and what an Actions trigger runs. Each of those reads cost two thread hand-offs to SQLite's worker.
//!
//! Every configuration write through this store forgets everything (such writes are
//! rare), so a node sees its own changes at once; a change made by another node or
//! process is seen within [`CONFIG_TTL`]. A read that overlapped a write never keeps
//! what it read (the generation check). Only rows that exist are kept: ids nobody has
//! cannot fill the cache, and a row created elsewhere is found at once.

use crate::error::StoreError;
use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How stale another node's configuration change may be seen here.
pub const CONFIG_TTL: Duration = Duration::from_secs(1);

/// A bound on the entries (clients × APIs × connections of a large tenant); past it the
/// expired ones go, and if that is not enough, all of them.
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum ConfigKey {
    Client(String),
    /// An API by identifier.
    ResourceServer(String),
    ClientGrant(String, String),
    /// A connection by one of its unique columns (`name` or `id`) and the value.
    Connection(&'static str, String),
    Settings(String, String),
    /// What a trigger runs (its bound, deployed actions).
    TriggerActions(String),
}

type Entry = (Instant, Arc<dyn Any + Send + Sync>);

#[derive(Default)]
pub(crate) struct ConfigCache {
    generation: AtomicU64,
    entries: Mutex<HashMap<ConfigKey, Entry>>,
}

impl std::fmt::Debug for ConfigCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigCache").field("generation", &self.generation.load(Ordering::Relaxed)).finish()
    }
}

impl ConfigCache {
    /// The row under `key`: kept, or loaded by `load` (and kept if it exists).
    pub(crate) async fn through<T, F, Fut>(&self, key: ConfigKey, load: F) -> Result<Option<T>, StoreError>
    where
        T: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<T>, StoreError>>,
    {
        if let Some(kept) = self.get::<T>(&key) {
            return Ok(Some(kept));
        }
        let generation = self.generation.load(Ordering::Acquire);
        let loaded = load().await?;
        if let Some(row) = &loaded {
            self.put(key, row.clone(), generation);
        }
        Ok(loaded)
    }

    fn get<T: Clone + 'static>(&self, key: &ConfigKey) -> Option<T> {
        let entries = self.entries.lock().ok()?;
        let (at, value) = entries.get(key)?;
        if at.elapsed() > CONFIG_TTL {
            return None;
        }
        value.downcast_ref::<T>().cloned()
    }

    fn put<T: Send + Sync + 'static>(&self, key: ConfigKey, value: T, read_at: u64) {
        let Ok(mut entries) = self.entries.lock() else { return };
        // A write finished while this was being read: what was read may predate it.
        if self.generation.load(Ordering::Acquire) != read_at {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (at, _)| at.elapsed() <= CONFIG_TTL);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, (Instant::now(), Arc::new(value)));
    }

    /// Forgets everything when dropped: held by a configuration write for its duration,
    /// so whichever way it ends (it may have committed even when it reports an error),
    /// nothing read before it stays.
    pub(crate) fn forget_after(&self) -> ForgetAfter<'_> {
        ForgetAfter(self)
    }

    pub(crate) fn forget_all(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            self.generation.fetch_add(1, Ordering::AcqRel);
            entries.clear();
        }
    }
}

pub(crate) struct ForgetAfter<'a>(&'a ConfigCache);

impl Drop for ForgetAfter<'_> {
    fn drop(&mut self) {
        self.0.forget_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn key() -> ConfigKey {
        ConfigKey::Client("c1".into())
    }

    #[tokio::test]
    async fn a_kept_row_is_not_read_again_and_a_write_forgets_it() {
        let cache = ConfigCache::default();
        let loads = AtomicUsize::new(0);
        let load = |v: &'static str| {
            loads.fetch_add(1, Ordering::Relaxed);
            async move { Ok(Some(v.to_string())) }
        };
        assert_eq!(cache.through(key(), || load("a")).await.ok().flatten().as_deref(), Some("a"));
        assert_eq!(cache.through(key(), || load("b")).await.ok().flatten().as_deref(), Some("a"));
        assert_eq!(loads.load(Ordering::Relaxed), 1);
        cache.forget_all();
        assert_eq!(cache.through(key(), || load("b")).await.ok().flatten().as_deref(), Some("b"));
        assert_eq!(loads.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn a_read_overlapping_a_write_is_not_kept_nor_is_a_missing_row() {
        let cache = ConfigCache::default();
        let stale = cache
            .through(key(), || async {
                // The write commits and forgets while this read is in flight.
                cache.forget_all();
                Ok(Some("before the write".to_string()))
            })
            .await;
        assert_eq!(stale.ok().flatten().as_deref(), Some("before the write"), "the caller still gets its read");
        assert_eq!(cache.get::<String>(&key()), None);
        assert_eq!(cache.through(key(), || async { Ok(None::<String>) }).await.ok(), Some(None));
        assert_eq!(cache.get::<String>(&key()), None);
    }

    #[tokio::test]
    async fn a_row_kept_under_one_type_is_not_read_as_another() {
        let cache = ConfigCache::default();
        let _ = cache.through(key(), || async { Ok(Some(7_u32)) }).await;
        assert_eq!(cache.get::<String>(&key()), None);
        assert_eq!(cache.get::<u32>(&key()), Some(7));
    }
}
