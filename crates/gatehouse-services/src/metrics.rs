//! Prometheus metrics (served at `/metrics`) (text exposition format 0.0.4): HTTP requests by
//! route group and status class with a latency histogram, password hashes and verifies
//! with theirs (their sum against the requests' tells what a login adds to its hash),
//! audit events by Auth0 type code (logins, failures, blocks, sign-ups…), and requests
//! the rate limiter decided without its Redis counter (by outcome). Counters
//! are per process; Prometheus sums the nodes.
//!
//! Only counts leave here: no identifiers, no addresses, no paths with ids in them
//! (requests are grouped by the first path segment).
//!
//! Where `[hash] server_timing` is on, each response that waited on a password hash also
//! says for how long, in a `Server-Timing: hash;dur=<ms>` header: what a client (or the
//! login benchmark) needs to tell the hash's time from the rest of its own request's.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bounds (seconds) of the request-latency histogram buckets.
const LATENCY_BUCKETS: [f64; 11] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

#[derive(Default)]
struct Histogram {
    /// Cumulative counts per bucket of `LATENCY_BUCKETS`.
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (slot, bound) in self.buckets.iter_mut().zip(LATENCY_BUCKETS) {
            if seconds <= bound {
                *slot += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }

    /// `name_bucket`, `name_sum` and `name_count` lines with the label `key="value"`.
    fn render(&self, out: &mut String, name: &str, key: &str, value: &str) {
        for (bound, n) in LATENCY_BUCKETS.iter().zip(self.buckets) {
            let _ = writeln!(out, "{name}_bucket{{{key}=\"{value}\",le=\"{bound}\"}} {n}");
        }
        let _ = writeln!(out, "{name}_bucket{{{key}=\"{value}\",le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{key}=\"{value}\"}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{key}=\"{value}\"}} {}", self.count);
    }
}

#[derive(Default)]
struct Counters {
    /// (group, status class) → requests.
    requests: BTreeMap<(&'static str, &'static str), u64>,
    latency: BTreeMap<&'static str, Histogram>,
    /// `verify` / `hash` → time on a hashing thread.
    hashing: BTreeMap<&'static str, Histogram>,
    /// Audit event type → events.
    events: BTreeMap<String, u64>,
    /// `allowed` / `refused` → requests decided without the Redis counter.
    rate_limit_unavailable: BTreeMap<&'static str, u64>,
}

/// The process's metrics, shared by every handler.
#[derive(Clone, Default)]
pub struct Metrics(Arc<Mutex<Counters>>);

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

/// Route groups; anything else is `other`, so arbitrary paths cannot grow the label set.
fn group(path: &str) -> &'static str {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    match first {
        "api" => "management",
        "oauth" => "oauth",
        "authorize" => "authorize",
        "u" => "pages",
        "dbconnections" => "dbconnections",
        "userinfo" => "userinfo",
        "login" => "social",
        ".well-known" => "well_known",
        "healthz" | "readyz" | "metrics" => "operations",
        "v2" | "oidc" => "logout",
        _ => "other",
    }
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

impl Metrics {
    pub fn observe_request(&self, path: &str, status: u16, seconds: f64) {
        let Ok(mut c) = self.0.lock() else { return };
        let g = group(path);
        *c.requests.entry((g, status_class(status))).or_default() += 1;
        c.latency.entry(g).or_default().observe(seconds);
    }

    pub fn observe_event(&self, kind: &str) {
        let Ok(mut c) = self.0.lock() else { return };
        // Event types are a fixed vocabulary of our own codes, never outside input.
        *c.events.entry(kind.to_string()).or_default() += 1;
    }

    /// One password verify or hash (`operation`), timed on its hashing thread.
    pub fn observe_hash(&self, operation: &'static str, seconds: f64) {
        if let Ok(mut c) = self.0.lock() {
            c.hashing.entry(operation).or_default().observe(seconds);
        }
    }

    /// A request the rate limiter decided without Redis: `allowed` or `refused`.
    pub fn observe_rate_limit_unavailable(&self, outcome: &'static str) {
        if let Ok(mut c) = self.0.lock() {
            *c.rate_limit_unavailable.entry(outcome).or_default() += 1;
        }
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let Ok(c) = self.0.lock() else { return String::new() };
        let mut out = String::new();
        out.push_str("# HELP gatehouse_http_requests_total HTTP requests by route group and status class.\n");
        out.push_str("# TYPE gatehouse_http_requests_total counter\n");
        for ((g, class), n) in &c.requests {
            let _ = writeln!(out, "gatehouse_http_requests_total{{group=\"{g}\",status=\"{class}\"}} {n}");
        }
        out.push_str("# HELP gatehouse_http_request_duration_seconds HTTP request latency by route group.\n");
        out.push_str("# TYPE gatehouse_http_request_duration_seconds histogram\n");
        for (g, h) in &c.latency {
            h.render(&mut out, "gatehouse_http_request_duration_seconds", "group", g);
        }
        out.push_str(
            "# HELP gatehouse_password_hash_duration_seconds Password verifies and hashes, on their thread.\n",
        );
        out.push_str("# TYPE gatehouse_password_hash_duration_seconds histogram\n");
        for (op, h) in &c.hashing {
            h.render(&mut out, "gatehouse_password_hash_duration_seconds", "operation", op);
        }
        out.push_str("# HELP gatehouse_events_total Audit events by Auth0 type code (s, f, fp, ss, limit_wc, …).\n");
        out.push_str("# TYPE gatehouse_events_total counter\n");
        for (kind, n) in &c.events {
            let _ = writeln!(out, "gatehouse_events_total{{type=\"{kind}\"}} {n}");
        }
        out.push_str(
            "# HELP gatehouse_rate_limit_unavailable_total Requests decided without the Redis rate-limit counter.\n",
        );
        out.push_str("# TYPE gatehouse_rate_limit_unavailable_total counter\n");
        for (outcome, n) in &c.rate_limit_unavailable {
            let _ = writeln!(out, "gatehouse_rate_limit_unavailable_total{{outcome=\"{outcome}\"}} {n}");
        }
        out
    }
}

tokio::task_local! {
    /// The time the current request's task has waited on password hashes so far.
    static HASHING: Cell<Duration>;
}

/// Counts `spent` hashing towards the request whose task this is, if it reports timings.
pub fn add_hashing_time(spent: Duration) {
    let _ = HASHING.try_with(|total| total.set(total.get() + spent));
}

/// Runs `work` (a request) and tells how long it waited on password hashes.
pub async fn timing_hashes<F: Future>(work: F) -> (F::Output, Duration) {
    HASHING
        .scope(Cell::new(Duration::ZERO), async {
            let output = work.await;
            (output, HASHING.with(Cell::get))
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.observe_request("/oauth/token", 200, 0.004);
        m.observe_request("/oauth/token", 403, 0.3);
        m.observe_request("/users/../etc/passwd", 404, 0.0001);
        m.observe_event("s");
        m.observe_event("s");
        m.observe_event("fp");
        m.observe_rate_limit_unavailable("allowed");
        m.observe_rate_limit_unavailable("allowed");
        let text = m.render();
        assert!(text.contains("gatehouse_http_requests_total{group=\"oauth\",status=\"2xx\"} 1"), "{text}");
        assert!(text.contains("gatehouse_http_requests_total{group=\"oauth\",status=\"4xx\"} 1"));
        assert!(
            text.contains("gatehouse_http_requests_total{group=\"other\",status=\"4xx\"} 1"),
            "paths never become labels"
        );
        assert!(text.contains("gatehouse_http_request_duration_seconds_bucket{group=\"oauth\",le=\"0.005\"} 1"));
        assert!(text.contains("gatehouse_http_request_duration_seconds_bucket{group=\"oauth\",le=\"0.5\"} 2"));
        assert!(text.contains("gatehouse_http_request_duration_seconds_bucket{group=\"oauth\",le=\"+Inf\"} 2"));
        assert!(text.contains("gatehouse_http_request_duration_seconds_count{group=\"oauth\"} 2"));
        assert!(text.contains("gatehouse_events_total{type=\"s\"} 2"));
        assert!(text.contains("gatehouse_events_total{type=\"fp\"} 1"));
        assert!(text.contains("gatehouse_rate_limit_unavailable_total{outcome=\"allowed\"} 2"), "{text}");
    }
}
