//! The console's home: users and how they arrived per connection (the migration's
//! progress), logins, sign-ups and failed logins per day as charts drawn on the server
//! (SVG, each with the same figures as a table for screen readers), and recent jobs.

use super::{Console, ConsoleError, Page};
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_core::stats::DayRange;
use gatehouse_services::stats::{self, DailyStats};
use gatehouse_services::Services;
use minijinja::context;
use serde::Serialize;
use time::Duration;

/// Days the charts cover.
const DAYS: i64 = 30;
const CHART_WIDTH: u64 = 600;
const CHART_HEIGHT: u64 = 160;

#[derive(Serialize)]
struct Bar {
    x: u64,
    y: u64,
    width: u64,
    height: u64,
    label: String,
}

#[derive(Serialize)]
struct Chart {
    title: &'static str,
    width: u64,
    height: u64,
    max: u64,
    total: u64,
    series: Vec<&'static str>,
    bars: Vec<Bar>,
    /// Each day: its date and one figure per series.
    rows: Vec<(String, Vec<u64>)>,
}

/// A series of a chart: its name and the figure it takes from a day.
type Series = (&'static str, fn(&DailyStats) -> u64);

/// A bar chart of `series` over `days`, bars side by side.
fn chart(title: &'static str, days: &[DailyStats], series: &[Series]) -> Chart {
    let max = days.iter().flat_map(|d| series.iter().map(move |(_, f)| f(d))).max().unwrap_or(0).max(1);
    let slot = CHART_WIDTH / (days.len().max(1) as u64);
    let bar_width = (slot.saturating_sub(2) / series.len().max(1) as u64).max(1);
    let mut bars = Vec::new();
    let mut rows = Vec::new();
    for (i, d) in days.iter().enumerate() {
        let day = d.date.get(..10).unwrap_or(&d.date).to_string();
        let figures: Vec<u64> = series.iter().map(|(_, f)| f(d)).collect();
        for (j, ((name, _), value)) in series.iter().zip(&figures).enumerate() {
            let height = value * CHART_HEIGHT / max;
            bars.push(Bar {
                x: i as u64 * slot + j as u64 * bar_width,
                y: CHART_HEIGHT - height,
                width: bar_width,
                height,
                label: format!("{day}: {value} {name}"),
            });
        }
        rows.push((day, figures));
    }
    let total = rows.iter().map(|(_, f)| f.iter().sum::<u64>()).sum();
    Chart {
        title,
        width: CHART_WIDTH,
        height: CHART_HEIGHT,
        max,
        total,
        series: series.iter().map(|(n, _)| *n).collect(),
        bars,
        rows,
    }
}

#[derive(Serialize)]
struct ConnectionRow {
    id: String,
    name: String,
    strategy: String,
    users: u64,
    migrated: u64,
    on_login: u64,
    in_bulk: u64,
    imported: u64,
    created_here: u64,
    legacy_store: Option<&'static str>,
}

pub async fn show(console: Console, State(state): State<Services>) -> Result<Page, ConsoleError> {
    let today = state.clock.now().date();
    let from = today.checked_sub(Duration::days(DAYS - 1)).unwrap_or(today);
    // The figures include what happened up to this request.
    state.audit.flush().await;
    let days = stats::daily(&state.store, DayRange { from, to: today }).await?;
    let active = stats::active_users(&state.store, state.clock.now()).await?;
    let (connections, _) = state.store.connections(None, None, None, 0, 100).await?;
    let mut rows = Vec::with_capacity(connections.len());
    for c in connections {
        let a = state.store.arrivals(&c.id).await?;
        let legacy = gatehouse_services::legacy::store_for(&state, &c).ok().flatten().map(|l| l.kind());
        rows.push(ConnectionRow {
            migrated: a.migrated(),
            id: c.id,
            name: c.name,
            strategy: c.strategy,
            users: a.users,
            on_login: a.on_login,
            in_bulk: a.migrate_remaining,
            imported: a.imported,
            created_here: a.signed_up + a.created_by_api + a.other,
            legacy_store: legacy,
        });
    }
    let total_users: u64 = rows.iter().map(|r| r.users).sum();
    let jobs = state.store.recent_jobs(5).await?;
    let jobs: Vec<_> = jobs
        .iter()
        .map(|j| {
            context! {
                id => j.id,
                kind => j.kind.as_str(),
                status => j.status.as_str(),
                percentage_done => j.percentage_done,
                time_left_seconds => j.time_left_seconds,
                created_at => j.created_at,
                summary => j.summary.as_ref().map(|s| s.to_string()),
            }
        })
        .collect();
    let activity =
        chart("Logins and sign-ups per day", &days, &[("logins", |d| d.logins), ("sign-ups", |d| d.signups)]);
    let failures = chart("Failed logins per day", &days, &[("failed logins", |d| d.failed_logins)]);
    console.page(
        StatusCode::OK,
        "home.html",
        context! {
            title => "Home",
            nav => "home",
            total_users,
            active_users => active,
            connections => rows,
            charts => vec![activity, failures],
            jobs,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(date: &str, logins: u64, signups: u64) -> DailyStats {
        DailyStats { date: date.into(), logins, signups, ..Default::default() }
    }

    #[test]
    fn bars_scale_to_the_busiest_day_and_sit_on_the_baseline() {
        let days = [day("2026-12-01T00:00:00.000Z", 10, 0), day("2026-12-02T00:00:00.000Z", 5, 2)];
        let c = chart("t", &days, &[("logins", |d| d.logins), ("sign-ups", |d| d.signups)]);
        assert_eq!(c.max, 10);
        assert_eq!(c.total, 17);
        assert_eq!(c.bars.len(), 4);
        assert_eq!((c.bars[0].height, c.bars[0].y), (CHART_HEIGHT, 0));
        assert_eq!(c.bars[2].height, CHART_HEIGHT / 2);
        assert_eq!(c.bars[2].y + c.bars[2].height, CHART_HEIGHT);
        assert_eq!(c.bars[3].label, "2026-12-02: 2 sign-ups");
        assert_eq!(c.rows[1], ("2026-12-02".to_string(), vec![5, 2]));
        assert!(c.bars.iter().all(|b| b.x + b.width <= CHART_WIDTH));
    }

    #[test]
    fn a_quiet_month_draws_no_bars_but_does_not_divide_by_zero() {
        let days = [day("2026-12-01T00:00:00.000Z", 0, 0)];
        let c = chart("t", &days, &[("logins", |d| d.logins)]);
        assert_eq!((c.max, c.total, c.bars[0].height), (1, 0, 0));
    }
}
