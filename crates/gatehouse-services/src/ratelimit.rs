//! Rate limits: fixed windows and token buckets counted in memory (one node) or in Redis
//! (several nodes share one budget). The server answers with them.
//!
//! Buckets: the Authentication API per client IP, the Management API per access token.
//! Every Redis call is bounded (`redis_timeout`, tens of milliseconds). When Redis does
//! not answer, the limiter fails open by default: the request goes ahead uncounted, an
//! outage of the counter must not become an outage of every login. Configured to fail
//! closed, such requests are refused ([`Unavailable`]) instead. Either way each one is
//! counted in the metrics and a warning is logged every few seconds, not per request.
//! The token buckets of attack protection always fail open: when the limiter fails
//! closed, the request limit in front of every login has refused already.

mod link;

use crate::metrics::Metrics;
use link::Link;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

/// `limit` requests per `window_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u64,
    pub window_secs: u64,
}

/// The limits a node enforces.
#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    /// Per client IP on the Authentication API (`/oauth/token`, `/authorize`, `/u/*`, …).
    pub authentication_per_ip: Quota,
    /// Per access token on the Management API.
    pub management_per_token: Quota,
    /// `redis://…` to share budgets between nodes; in memory otherwise.
    pub redis_url: Option<String>,
    /// Prefix of the Redis keys, so deployments can share one Redis.
    pub redis_prefix: String,
    /// The longest a request waits on Redis before it is decided without it.
    pub redis_timeout: Duration,
    /// What happens to a request Redis could not count.
    pub on_redis_failure: FailureMode,
}

/// What the limiter does with a request when Redis cannot count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailureMode {
    /// Let it through uncounted (the default).
    #[default]
    Open,
    /// Refuse it: 503 with `Retry-After`.
    Closed,
}

impl FailureMode {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureMode::Open => "open",
            FailureMode::Closed => "closed",
        }
    }
}

/// How many seconds a client refused for want of Redis is told to wait.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 1;

/// A request refused because Redis could not count it and the limiter fails closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the rate limit counter is unavailable")]
pub struct Unavailable {
    pub retry_after_secs: u64,
}

/// The shared counter's state, for `/readyz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterHealth {
    /// Counted in this process's memory: nothing to lose.
    Memory,
    /// Redis answers.
    Up,
    /// Redis does not answer; requests are decided by the failure mode.
    Down(FailureMode),
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            authentication_per_ip: Quota { limit: 300, window_secs: 60 },
            management_per_token: Quota { limit: 1_000, window_secs: 60 },
            redis_url: None,
            redis_prefix: "gatehouse:rl".into(),
            redis_timeout: Duration::from_millis(50),
            on_redis_failure: FailureMode::Open,
        }
    }
}

/// The answer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u64,
    pub remaining: u64,
    /// Unix time (seconds) when the window resets.
    pub reset: i64,
}

#[derive(Default)]
struct MemoryCounters {
    /// Fixed windows: key → (window start, hits).
    windows: HashMap<String, (i64, u64)>,
    /// Token buckets: key → theoretical arrival time in unix milliseconds (GCRA).
    buckets: HashMap<String, i64>,
}

#[derive(Clone)]
enum Counter {
    Memory(Arc<Mutex<MemoryCounters>>),
    Redis(Link),
}

/// Counts hits per key and window.
#[derive(Clone)]
pub struct RateLimiter {
    counter: Counter,
    prefix: String,
    mode: FailureMode,
    metrics: Metrics,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.counter {
            Counter::Memory(_) => "memory",
            Counter::Redis(_) => "redis",
        };
        write!(f, "RateLimiter({kind})")
    }
}

/// Entries kept in memory before expired windows are swept.
const SWEEP_AT: usize = 100_000;

/// INCR the window's counter, giving it its expiry on the first hit; returns the count.
static REDIS_HIT: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
",
    )
});

impl RateLimiter {
    pub fn in_memory() -> Self {
        Self {
            counter: Counter::Memory(Arc::default()),
            prefix: String::new(),
            mode: FailureMode::Open,
            metrics: Metrics::default(),
        }
    }

    /// Counts in Redis at `c.redis_url`. A Redis that is down at start is not an error:
    /// the limiter starts degraded and reconnects in the background.
    pub async fn redis(url: &str, c: &RateLimitConfig, metrics: Metrics) -> Result<Self, redis::RedisError> {
        let link = Link::open(url, c.redis_timeout).await?;
        Ok(Self { counter: Counter::Redis(link), prefix: c.redis_prefix.clone(), mode: c.on_redis_failure, metrics })
    }

    pub async fn from_config(c: &RateLimitConfig, metrics: Metrics) -> Result<Self, redis::RedisError> {
        match &c.redis_url {
            Some(url) => Self::redis(url, c, metrics).await,
            None => Ok(Self { metrics, ..Self::in_memory() }),
        }
    }

    /// The shared counter's state now.
    pub fn health(&self) -> CounterHealth {
        match &self.counter {
            Counter::Memory(_) => CounterHealth::Memory,
            Counter::Redis(link) if link.is_up() => CounterHealth::Up,
            Counter::Redis(_) => CounterHealth::Down(self.mode),
        }
    }

    /// A request Redis could not count: metrics, a warning now and then, and the
    /// failure mode's answer (`true`: let it through).
    fn decided_without_redis(&self, link: &Link, fault: &link::Fault, fail_open: bool) -> bool {
        let outcome = if fail_open { "allowed" } else { "refused" };
        self.metrics.observe_rate_limit_unavailable(outcome);
        if let Some(requests) = link.decided_without() {
            tracing::warn!(
                error = %fault,
                requests,
                outcome,
                "rate limits: Redis unavailable; requests decided without counting them since the last warning"
            );
        }
        fail_open
    }

    /// Counts one hit of `key` against `quota` at `now` (unix seconds). `Err` only when
    /// Redis could not count it and the limiter fails closed.
    pub async fn hit(&self, bucket: &str, key: &str, quota: Quota, now: i64) -> Result<Decision, Unavailable> {
        let window = i64::try_from(quota.window_secs.max(1)).unwrap_or(60);
        let start = now - now.rem_euclid(window);
        let reset = start + window;
        let count = match &self.counter {
            Counter::Memory(map) => {
                let Ok(mut counters) = map.lock() else { return Ok(open(quota, reset)) };
                let map = &mut counters.windows;
                if map.len() >= SWEEP_AT {
                    map.retain(|_, (s, _)| *s + window > now);
                }
                let entry = map.entry(format!("{bucket}:{key}")).or_insert((start, 0));
                if entry.0 != start {
                    *entry = (start, 0);
                }
                entry.1 += 1;
                entry.1
            }
            Counter::Redis(link) => {
                let redis_key = format!("{}:{bucket}:{key}:{start}", self.prefix);
                let mut script = REDIS_HIT.key(&redis_key);
                script.arg(window + 1);
                match link.invoke::<u64>(&script).await {
                    Ok(n) => n,
                    Err(fault) => {
                        let fail_open = self.mode == FailureMode::Open;
                        if self.decided_without_redis(link, &fault, fail_open) {
                            return Ok(open(quota, reset));
                        }
                        return Err(Unavailable { retry_after_secs: UNAVAILABLE_RETRY_AFTER_SECS });
                    }
                }
            }
        };
        Ok(Decision {
            allowed: count <= quota.limit,
            limit: quota.limit,
            remaining: quota.limit.saturating_sub(count),
            reset,
        })
    }
}

/// One GCRA step on a token bucket of `capacity` tokens gaining one every `refill_ms`:
/// returns whether a token is available and, when `take`, the new arrival time to store.
fn gcra(tat: Option<i64>, now_ms: i64, capacity: u32, refill_ms: u64, take: bool) -> (bool, Option<i64>) {
    let refill = i64::try_from(refill_ms).unwrap_or(i64::MAX / 4);
    let burst = refill.saturating_mul(i64::from(capacity));
    let next = tat.unwrap_or(now_ms).max(now_ms).saturating_add(refill);
    let available = next - now_ms <= burst;
    (available, (available && take).then_some(next))
}

/// The same GCRA step in Redis, atomically. ARGV: now_ms, refill_ms, burst_ms, take (1/0).
static REDIS_BUCKET: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local now = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
if tat < now then tat = now end
local nxt = tat + tonumber(ARGV[2])
if nxt - now > tonumber(ARGV[3]) then return 0 end
if ARGV[4] == '1' then
  redis.call('SET', KEYS[1], string.format('%d', nxt), 'PX', string.format('%d', nxt - now + 1000))
end
return 1
",
    )
});

impl RateLimiter {
    /// Whether the token bucket `bucket`/`key` (`capacity` tokens, one more every
    /// `refill_ms`) has a token; with `take`, spends it. Always fails open (see the
    /// module's documentation).
    pub async fn bucket(
        &self,
        bucket: &str,
        key: &str,
        capacity: u32,
        refill_ms: u64,
        now_ms: i64,
        take: bool,
    ) -> bool {
        let full_key = format!("{bucket}:{key}");
        match &self.counter {
            Counter::Memory(map) => {
                let Ok(mut counters) = map.lock() else { return true };
                let tats = &mut counters.buckets;
                if tats.len() >= SWEEP_AT {
                    tats.retain(|_, tat| *tat > now_ms);
                }
                let (available, next) = gcra(tats.get(&full_key).copied(), now_ms, capacity, refill_ms, take);
                if let Some(next) = next {
                    tats.insert(full_key, next);
                }
                available
            }
            Counter::Redis(link) => {
                let burst = refill_ms.saturating_mul(u64::from(capacity));
                let mut script = REDIS_BUCKET.key(format!("{}:{full_key}", self.prefix));
                script.arg(now_ms).arg(refill_ms).arg(burst).arg(if take { "1" } else { "0" });
                match link.invoke::<i64>(&script).await {
                    Ok(n) => n == 1,
                    Err(fault) => self.decided_without_redis(link, &fault, true),
                }
            }
        }
    }
}

fn open(quota: Quota, reset: i64) -> Decision {
    Decision { allowed: true, limit: quota.limit, remaining: quota.limit, reset }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_windows_count_and_reset() {
        let l = RateLimiter::in_memory();
        let q = Quota { limit: 2, window_secs: 60 };
        let d1 = l.hit("b", "k", q, 120).await.unwrap();
        let d2 = l.hit("b", "k", q, 130).await.unwrap();
        let d3 = l.hit("b", "k", q, 179).await.unwrap();
        assert_eq!((d1.allowed, d1.remaining, d1.reset), (true, 1, 180));
        assert_eq!((d2.allowed, d2.remaining), (true, 0));
        assert!(!d3.allowed);
        assert!(l.hit("b", "other", q, 179).await.unwrap().allowed, "keys are independent");
        assert!(l.hit("b", "k", q, 180).await.unwrap().allowed, "a new window starts afresh");
    }

    #[tokio::test]
    async fn memory_buckets_drain_and_refill() {
        let l = RateLimiter::in_memory();
        let t0 = 1_000_000;
        for i in 0..3 {
            assert!(l.bucket("ip", "a", 3, 1000, t0, false).await, "peeking never spends ({i})");
            assert!(l.bucket("ip", "a", 3, 1000, t0, true).await, "token {i}");
        }
        assert!(!l.bucket("ip", "a", 3, 1000, t0, false).await, "empty after three");
        assert!(!l.bucket("ip", "a", 3, 1000, t0 + 999, true).await, "not refilled yet");
        assert!(l.bucket("ip", "b", 3, 1000, t0, true).await, "keys are independent");
        assert!(l.bucket("ip", "a", 3, 1000, t0 + 1000, true).await, "one token back after the rate");
        assert!(!l.bucket("ip", "a", 3, 1000, t0 + 1000, false).await);
        assert!(l.bucket("ip", "a", 3, 1000, t0 + 10_000, false).await);
    }
}
