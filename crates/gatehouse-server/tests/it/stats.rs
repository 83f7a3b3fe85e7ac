//! `/api/v2/stats`: the daily figures counted from the audit log (logins, sign-ups,
//! failed logins, one entry a day, quiet days included) and the active users, on a clock
//! the test holds; `read:stats` is required.

use crate::kit::{auth0_error, App, Backend, Server, ADMIN_ID, ADMIN_SECRET, DB};
use gatehouse_core::clock::{Clock, ManualClock, SystemClock};
use gatehouse_core::stats::day_prefix;
use serde_json::{json, Value};
use std::sync::Arc;

crate::on_both_backends!(daily_counts_logins_signups_and_failures, active_users_and_the_scope);

/// Noon (UTC) of today: tokens are checked against the real time too, so the test's clock
/// starts near it.
fn noon_today() -> (i64, time::Date) {
    let today = SystemClock.now().date();
    (today.midnight().assume_utc().unix_timestamp() + 12 * 3600, today)
}

/// `2026-03-01T00:00:00.000Z` and `20260301` of a day.
fn day(d: time::Date) -> (String, String) {
    (format!("{}T00:00:00.000Z", day_prefix(d)), day_prefix(d).replace('-', ""))
}

async fn password_login(s: &Server, app: &App, email: &str, password: &str) -> u16 {
    let form = [
        ("grant_type", "http://auth0.com/oauth/grant-type/password-realm"),
        ("client_id", app.client_id.as_str()),
        ("client_secret", app.secret.as_str()),
        ("realm", DB),
        ("username", email),
        ("password", password),
    ];
    s.token(&form).await.0
}

async fn day_of_activity(s: &Server, clock: &ManualClock) {
    let body = json!({"name": "Web app", "app_type": "regular_web", "enabled_connections": [DB],
        "grant_types": ["http://auth0.com/oauth/grant-type/password-realm"]});
    let (status, c) = s.api("POST", "/api/v2/clients", Some(body)).await;
    assert_eq!(status, 201, "{c}");
    let app =
        App { client_id: c["client_id"].as_str().unwrap().into(), secret: c["client_secret"].as_str().unwrap().into() };
    s.create_user(json!({"email": "ada@example.com", "password": "Analytical engine 1843!"})).await;
    assert_eq!(password_login(s, &app, "ada@example.com", "Analytical engine 1843!").await, 200);
    assert_eq!(password_login(s, &app, "ada@example.com", "Analytical engine 1843!").await, 200);
    assert_eq!(password_login(s, &app, "ada@example.com", "wrong password").await, 403);
    let body = json!({"client_id": app.client_id, "connection": DB,
        "email": "grace@example.com", "password": "Compiler pioneer 1952!"});
    let (status, signed) = s.call("POST", "/dbconnections/signup", Some(body), None).await;
    assert_eq!(status, 200, "{signed}");
    // The next day is quiet but for one failed login (at 01:00, within the admin token's day).
    clock.advance_secs(13 * 3600);
    assert_eq!(password_login(s, &app, "nobody@example.com", "whatever it is").await, 403);
}

async fn daily_counts_logins_signups_and_failures(b: Backend) {
    let (noon, today) = noon_today();
    let clock = ManualClock::at_unix(noon);
    let s = Server::start_with_clock(b, Arc::new(clock.clone()), |_| {}).await;
    day_of_activity(&s, &clock).await;
    let (before, after) = (today.previous_day().unwrap(), today.next_day().unwrap());
    let path = format!("/api/v2/stats/daily?from={}&to={}", day(before).1, day(after).1);
    let (status, days) = s.api("GET", &path, None).await;
    assert_eq!(status, 200, "{days}");
    let figures: Vec<Value> = days
        .as_array()
        .unwrap()
        .iter()
        .map(|d| json!([d["date"], d["logins"], d["signups"], d["failed_logins"], d["leaked_passwords"]]))
        .collect();
    assert_eq!(
        figures,
        vec![json!([day(before).0, 0, 0, 0, 0]), json!([day(today).0, 2, 1, 1, 0]), json!([day(after).0, 0, 0, 1, 0]),]
    );
    let busy = &days[1];
    let at_noon = format!("{}T12:00:00.000Z", day_prefix(today));
    assert_eq!((&busy["created_at"], &busy["updated_at"]), (&json!(at_noon), &json!(at_noon)), "{busy}");
    assert_eq!(days[0]["created_at"], days[0]["date"]);

    // Without `from`, the 30 days up to `to`; without either, up to today.
    let (_, month) = s.api("GET", &format!("/api/v2/stats/daily?to={}", day(today).1), None).await;
    assert_eq!(month.as_array().unwrap().len(), 30);
    assert_eq!(month[29]["logins"], json!(2));
    let (_, recent) = s.api("GET", "/api/v2/stats/daily", None).await;
    assert_eq!(recent[29]["date"], json!(day(after).0), "{recent}");

    for bad in ["from=2026-03-01", "from=20260302&to=20260301", "from=20200101&to=20260101", "since=20260101"] {
        let (status, body) = s.api("GET", &format!("/api/v2/stats/daily?{bad}"), None).await;
        auth0_error(status, &body, "invalid_query_string");
        assert_eq!(status, 400, "{bad}: {body}");
    }
    s.stop().await;
}

async fn active_users_and_the_scope(b: Backend) {
    let clock = ManualClock::at_unix(noon_today().0);
    let s = Server::start_with_clock(b, Arc::new(clock.clone()), |_| {}).await;
    let (status, n) = s.api("GET", "/api/v2/stats/active-users", None).await;
    assert_eq!((status, n), (200, json!(0)));
    let reader = s.token_with(&["read:stats"]).await;
    let (status, _) = s.call("GET", "/api/v2/stats/active-users", None, Some(&reader)).await;
    assert_eq!(status, 200);
    let other = s.token_with(&["read:users"]).await;
    for path in ["/api/v2/stats/active-users", "/api/v2/stats/daily"] {
        let (status, body) = s.call("GET", path, None, Some(&other)).await;
        auth0_error(status, &body, "insufficient_scope");
    }
    day_of_activity(&s, &clock).await;
    s.create_user(json!({"email": "never@example.com", "password": "Never logged in 2026!"})).await;
    // Ada logged in; Grace signed up (a sign-up is no login); the third never came.
    assert_eq!(s.api("GET", "/api/v2/stats/active-users", None).await, (200, json!(1)));
    clock.advance_secs(31 * 86_400);
    let admin = s.client_credentials(ADMIN_ID, ADMIN_SECRET, None).await;
    assert_eq!(s.call("GET", "/api/v2/stats/active-users", None, Some(&admin)).await, (200, json!(0)));

    s.stop().await;
}
