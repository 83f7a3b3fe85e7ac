//! What Auth0's statistics count: the audit event types behind each daily figure, the
//! `from`/`to` day range of `GET /api/v2/stats/daily`, and the window of an active user.

use crate::log_event::codes;
use crate::Error;
use time::{Date, Duration, Month};

/// A figure of a day's statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DailyStat {
    Logins,
    Signups,
    LeakedPasswords,
    /// Gatehouse's addition to Auth0's figures.
    FailedLogins,
}

impl DailyStat {
    pub const ALL: [DailyStat; 4] =
        [DailyStat::Logins, DailyStat::Signups, DailyStat::LeakedPasswords, DailyStat::FailedLogins];

    /// The audit event types the figure counts.
    pub fn event_types(self) -> &'static [&'static str] {
        match self {
            DailyStat::Logins => &[codes::SUCCESS_LOGIN],
            DailyStat::Signups => &[codes::SUCCESS_SIGNUP],
            DailyStat::LeakedPasswords => &[codes::SIGNUP_PASSWORD_LEAK, codes::RESET_PASSWORD_LEAK, "pwd_leak"],
            DailyStat::FailedLogins => {
                &[codes::FAILED_LOGIN, codes::FAILED_LOGIN_PASSWORD, codes::FAILED_LOGIN_USERNAME]
            }
        }
    }

    /// The figure an event of type `kind` counts toward, if any.
    pub fn of(kind: &str) -> Option<DailyStat> {
        DailyStat::ALL.into_iter().find(|s| s.event_types().contains(&kind))
    }

    /// Every event type any figure counts.
    pub fn all_event_types() -> Vec<&'static str> {
        DailyStat::ALL.iter().flat_map(|s| s.event_types().iter().copied()).collect()
    }
}

/// The longest range `GET /api/v2/stats/daily` answers, in days.
pub const MAX_DAYS: i64 = 366;
/// The days shown when the request names no `from`.
pub const DEFAULT_DAYS: i64 = 30;
/// A user is active if they logged in within this many days (Auth0's figure).
pub const ACTIVE_DAYS: i64 = 30;

/// An inclusive range of UTC days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRange {
    pub from: Date,
    pub to: Date,
}

impl DayRange {
    /// Reads Auth0's `from` and `to` (`YYYYMMDD`, both inclusive). Without `to` the range
    /// ends `today`; without `from` it starts [`DEFAULT_DAYS`] days before its end.
    pub fn parse(from: Option<&str>, to: Option<&str>, today: Date) -> Result<DayRange, Error> {
        let to = match to {
            Some(t) => parse_day("to", t)?,
            None => today,
        };
        let from = match from {
            Some(f) => parse_day("from", f)?,
            None => to
                .checked_sub(Duration::days(DEFAULT_DAYS - 1))
                .ok_or_else(|| Error::query("Query validation error: 'to is too early' on property to."))?,
        };
        if from > to {
            return Err(Error::query("Query validation error: 'from must not be after to' on property from."));
        }
        if (to - from).whole_days() >= MAX_DAYS {
            return Err(Error::query(format!(
                "Query validation error: 'at most {MAX_DAYS} days at a time' on property from."
            )));
        }
        Ok(DayRange { from, to })
    }

    /// The days of the range, in order.
    pub fn days(self) -> impl Iterator<Item = Date> {
        let mut next = Some(self.from);
        std::iter::from_fn(move || {
            let day = next?;
            next = day.next_day().filter(|d| *d <= self.to);
            Some(day)
        })
    }
}

/// `YYYYMMDD` → the date.
fn parse_day(field: &str, s: &str) -> Result<Date, Error> {
    let bad =
        || Error::query(format!("Query validation error: '{field} must be a date as YYYYMMDD' on property {field}."));
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let year: i32 = s[..4].parse().map_err(|_| bad())?;
    let month: u8 = s[4..6].parse().map_err(|_| bad())?;
    let day: u8 = s[6..].parse().map_err(|_| bad())?;
    let month = Month::try_from(month).map_err(|_| bad())?;
    Date::from_calendar_date(year, month, day).map_err(|_| bad())
}

/// A day as its stored timestamps begin: `2026-12-06`.
pub fn day_prefix(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u8, d: u8) -> Date {
        Date::from_calendar_date(y, Month::try_from(m).unwrap(), d).unwrap()
    }

    #[test]
    fn ranges_default_and_refuse() {
        let today = date(2026, 12, 6);
        let r = DayRange::parse(None, None, today).unwrap();
        assert_eq!((r.from, r.to), (date(2026, 11, 7), today));
        assert_eq!(r.days().count(), 30);
        let r = DayRange::parse(Some("20260228"), Some("20260301"), today).unwrap();
        assert_eq!(r.days().map(day_prefix).collect::<Vec<_>>(), ["2026-02-28", "2026-03-01"]);
        for (from, to) in
            [("2026-01-01", "20260102"), ("20260230", "20260301"), ("20260105", "20260101"), ("20200101", "20260101")]
        {
            assert!(DayRange::parse(Some(from), Some(to), today).is_err(), "{from} {to}");
        }
    }

    #[test]
    fn every_counted_type_has_one_figure() {
        for kind in DailyStat::all_event_types() {
            assert!(DailyStat::of(kind).is_some(), "{kind}");
        }
        assert_eq!(DailyStat::of("fp"), Some(DailyStat::FailedLogins));
        assert_eq!(DailyStat::of("sapi"), None);
    }
}
