//! Auth0's tenant statistics from the store: the daily figures (logins, sign-ups, leaked
//! passwords and, Gatehouse's addition, failed logins) counted from the audit log, and the
//! active users (logged in within the last 30 days) from the users' last logins.

use gatehouse_core::clock::iso8601;
use gatehouse_core::stats::{day_prefix, DailyStat, DayRange, ACTIVE_DAYS};
use gatehouse_store::{Store, StoreError};
use std::collections::BTreeMap;
use time::{Date, Duration, OffsetDateTime, Time};

/// One day's figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DailyStats {
    /// The day's first instant, `2026-12-06T00:00:00.000Z` (Auth0's form).
    pub date: String,
    pub logins: u64,
    pub signups: u64,
    pub leaked_passwords: u64,
    pub failed_logins: u64,
    /// The first and the last counted event of the day; the day's first instant when
    /// nothing happened.
    pub created_at: String,
    pub updated_at: String,
}

fn start_of(day: Date) -> String {
    iso8601(day.with_time(Time::MIDNIGHT).assume_utc())
}

/// Every day of `range`, in order, with its figures (zero on a quiet day).
pub async fn daily(store: &Store, range: DayRange) -> Result<Vec<DailyStats>, StoreError> {
    let before = range.to.next_day().map(start_of).unwrap_or_else(|| format!("{}~", day_prefix(range.to)));
    let counts = store.log_counts_by_day(&DailyStat::all_event_types(), &start_of(range.from), &before).await?;
    let mut days: BTreeMap<String, DailyStats> = range
        .days()
        .map(|d| {
            let start = start_of(d);
            (
                day_prefix(d),
                DailyStats { date: start.clone(), created_at: start.clone(), updated_at: start, ..Default::default() },
            )
        })
        .collect();
    let mut seen: BTreeMap<String, (String, String)> = BTreeMap::new();
    for c in counts {
        let (Some(day), Some(stat)) = (days.get_mut(&c.day), DailyStat::of(&c.kind)) else { continue };
        match stat {
            DailyStat::Logins => day.logins += c.count,
            DailyStat::Signups => day.signups += c.count,
            DailyStat::LeakedPasswords => day.leaked_passwords += c.count,
            DailyStat::FailedLogins => day.failed_logins += c.count,
        }
        let span = seen.entry(c.day).or_insert_with(|| (c.first.clone(), c.last.clone()));
        span.0 = span.0.clone().min(c.first);
        span.1 = span.1.clone().max(c.last);
    }
    for (key, (first, last)) in seen {
        if let Some(day) = days.get_mut(&key) {
            day.created_at = first;
            day.updated_at = last;
        }
    }
    Ok(days.into_values().collect())
}

/// Users who logged in within the last [`ACTIVE_DAYS`] days before `now`.
pub async fn active_users(store: &Store, now: OffsetDateTime) -> Result<u64, StoreError> {
    store.count_users_logged_in_since(&iso8601(now - Duration::days(ACTIVE_DAYS))).await
}
