//! Time as a dependency: everything that needs "now" takes a [`Clock`], so tests can
//! pin it and expiry logic can be checked without sleeping.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> OffsetDateTime;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place allowed to read the system time
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that only moves when told to; for tests.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn at_unix(seconds: i64) -> Self {
        Self(Arc::new(AtomicI64::new(seconds * 1000)))
    }
    pub fn advance_secs(&self, seconds: i64) {
        self.0.fetch_add(seconds * 1000, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        let millis = self.0.load(Ordering::SeqCst);
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

/// Auth0's timestamp form: ISO-8601 UTC with milliseconds, `2017-11-02T23:34:03.803Z`.
/// Fixed width, so stored timestamps sort correctly as text.
pub fn iso8601(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Parses an RFC 3339 timestamp into Auth0's canonical form.
pub fn parse_iso8601(s: &str) -> Option<String> {
    OffsetDateTime::parse(s, &Rfc3339).ok().map(iso8601)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_millis_and_z() {
        let c = ManualClock::at_unix(1_509_665_643);
        assert_eq!(iso8601(c.now()), "2017-11-02T23:34:03.000Z");
    }

    #[test]
    fn parses_offsets_to_utc() {
        assert_eq!(parse_iso8601("2017-11-03T01:34:03.803+02:00").as_deref(), Some("2017-11-02T23:34:03.803Z"));
        assert_eq!(parse_iso8601("yesterday"), None);
    }
}
