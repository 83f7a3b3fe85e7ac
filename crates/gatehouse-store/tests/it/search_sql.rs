//! User search (`q` and `sort`) against real databases: the same fixture and the same
//! assertions run on SQLite (always) and PostgreSQL (when `GATEHOUSE_TEST_POSTGRES_URL` is
//! set; each run gets a fresh, uniquely named schema that is dropped afterwards).

use std::str::FromStr;

use gatehouse_store::search::{self, compile, compile_sort, parse, SearchError};
use gatehouse_store::sql::{Dialect, SqlType, SqlValue};
use rand::{Rng, SeedableRng};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::Row;

const SQLITE_MIGRATION: &str = include_str!("../../migrations/sqlite/0001_init.sql");
const POSTGRES_MIGRATION: &str = include_str!("../../migrations/postgres/0001_init.sql");

/// The same two drivers the store uses: rusqlite on a temporary file, sqlx on PostgreSQL.
enum Db {
    Sqlite(rusqlite::Connection, std::path::PathBuf),
    Postgres(PgPool),
}

impl Db {
    fn dialect(&self) -> Dialect {
        match self {
            Db::Sqlite(..) => Dialect::Sqlite,
            Db::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs `SELECT user_id FROM users WHERE <where_sql> ORDER BY <order>` with `params`.
    async fn user_ids(&self, where_sql: &str, order: &str, params: &[SqlValue]) -> Result<Vec<String>, String> {
        let sql = format!("SELECT user_id FROM users WHERE {where_sql} ORDER BY {order}");
        match self {
            Db::Sqlite(c, _) => {
                let mut statement = sqlite_statement(c, &sql, params)?;
                let mut rows = statement.raw_query();
                let mut ids = Vec::new();
                while let Some(row) = rows.next().map_err(|e| e.to_string())? {
                    ids.push(row.get(0).map_err(|e| e.to_string())?);
                }
                Ok(ids)
            }
            Db::Postgres(pool) => {
                let rows = postgres_query(&sql, params).fetch_all(pool).await.map_err(|e| e.to_string())?;
                rows.iter().map(|r| r.try_get::<String, _>(0).map_err(|e| e.to_string())).collect()
            }
        }
    }

    /// Runs a statement.
    async fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<(), String> {
        match self {
            Db::Sqlite(c, _) => sqlite_statement(c, sql, params)?.raw_execute().map(|_| ()).map_err(|e| e.to_string()),
            Db::Postgres(pool) => {
                postgres_query(sql, params).execute(pool).await.map(|_| ()).map_err(|e| e.to_string())
            }
        }
    }
}

/// `sql` prepared on `c`, `params[N - 1]` bound to each `$N`.
fn sqlite_statement<'c>(
    c: &'c rusqlite::Connection,
    sql: &str,
    params: &[SqlValue],
) -> Result<rusqlite::Statement<'c>, String> {
    use rusqlite::types::Value;
    let mut statement = c.prepare(sql).map_err(|e| e.to_string())?;
    for (i, p) in params.iter().enumerate() {
        let value = match p {
            SqlValue::Text(s) | SqlValue::Json(s) => Value::Text(s.clone()),
            SqlValue::Int(i) => Value::Integer(*i),
            SqlValue::Float(f) => Value::Real(*f),
            SqlValue::Bool(b) => Value::Integer(i64::from(*b)),
            SqlValue::Null(_) => Value::Null,
            SqlValue::Bytes(b) => Value::Blob(b.clone()),
            SqlValue::TextList(_) => return Err("no lists on SQLite".into()),
        };
        if let Some(index) = statement.parameter_index(&format!("${}", i + 1)).map_err(|e| e.to_string())? {
            statement.raw_bind_parameter(index, value).map_err(|e| e.to_string())?;
        }
    }
    Ok(statement)
}

fn postgres_query<'q>(
    sql: &'q str,
    params: &'q [SqlValue],
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    params.iter().fold(sqlx::query(sql), |q, p| match p {
        SqlValue::Text(s) | SqlValue::Json(s) => q.bind(s.as_str()),
        SqlValue::Int(i) => q.bind(*i),
        SqlValue::Float(f) => q.bind(*f),
        SqlValue::Bool(b) => q.bind(*b),
        SqlValue::TextList(l) => q.bind(l.as_slice()),
        SqlValue::Bytes(b) => q.bind(b.as_slice()),
        SqlValue::Null(_) => q.bind(None::<&str>),
    })
}

struct User {
    id: &'static str,
    conn: &'static str,
    email: Option<&'static str>,
    email_verified: bool,
    username: Option<&'static str>,
    phone: Option<&'static str>,
    name: Option<&'static str>,
    nickname: Option<&'static str>,
    given: Option<&'static str>,
    family: Option<&'static str>,
    user_metadata: &'static str,
    app_metadata: &'static str,
    blocked: bool,
    logins: i64,
    last_login: Option<&'static str>,
    last_ip: Option<&'static str>,
    created_at: &'static str,
}

const BASE: User = User {
    id: "",
    conn: "db",
    email: None,
    email_verified: false,
    username: None,
    phone: None,
    name: None,
    nickname: None,
    given: None,
    family: None,
    user_metadata: "{}",
    app_metadata: "{}",
    blocked: false,
    logins: 0,
    last_login: None,
    last_ip: None,
    created_at: "2024-01-01T00:00:00.000Z",
};

// (id, name, strategy / provider)
const CONNECTIONS: [(&str, &str, &str); 3] = [
    ("db", "Username-Password-Authentication", "auth0"),
    ("google", "google-oauth2", "google-oauth2"),
    ("saml", "acme-saml", "samlp"),
];

fn users() -> Vec<User> {
    vec![
        User {
            id: "auth0|1001",
            email: Some("alice@example.com"),
            email_verified: true,
            username: Some("alice"),
            name: Some("Alice Smith"),
            nickname: Some("alice"),
            given: Some("Alice"),
            family: Some("Smith"),
            user_metadata: r#"{"plan":"gold","prefs":{"theme":"dark","fontSize":13}}"#,
            app_metadata: r#"{"age":30,"active":true,"roles":["admin","dev"]}"#,
            logins: 5,
            last_login: Some("2024-12-31T23:30:00.000Z"),
            last_ip: Some("10.0.0.1"),
            created_at: "2024-01-10T08:00:00.000Z",
            ..BASE
        },
        User {
            id: "auth0|1002",
            email: Some("bob@example.com"),
            username: Some("bob"),
            name: Some("Bob Jones"),
            nickname: Some("bobby"),
            given: Some("Bob"),
            family: Some("Jones"),
            user_metadata: r#"{"plan":"silver","tags":["beta","early"]}"#,
            app_metadata: r#"{"age":"30","active":false}"#,
            blocked: true,
            logins: 150,
            last_login: Some("2025-01-01T00:00:00.000Z"),
            last_ip: Some("10.0.0.2"),
            created_at: "2024-03-05T10:00:00.000Z",
            ..BASE
        },
        User {
            id: "google-oauth2|2001",
            conn: "google",
            email: Some("carol@gmail.com"),
            email_verified: true,
            name: Some("Carol O'Brien"),
            nickname: Some("carol"),
            given: Some("Carol"),
            family: Some("O'Brien"),
            user_metadata: r#"{"plan":"Gold"}"#,
            app_metadata: r#"{"age":30.0,"roles":["dev"]}"#,
            logins: 200,
            last_login: Some("2024-06-15T12:00:00.000Z"),
            last_ip: Some("192.168.1.1"),
            created_at: "2024-06-15T09:00:00.000Z",
            ..BASE
        },
        User {
            id: "google-oauth2|2002",
            conn: "google",
            email: Some("dave@example.org"),
            email_verified: true,
            name: Some("DAVE"),
            nickname: Some("dave"),
            given: Some("Dave"),
            app_metadata: r#"{"age":45,"active":"true"}"#,
            created_at: "2024-12-31T12:00:00.000Z",
            ..BASE
        },
        User {
            id: "auth0|1005",
            username: Some("eve"),
            phone: Some("+15551234567"),
            nickname: Some("eve"),
            user_metadata: r#"{"plan":null}"#,
            app_metadata: r#"{"tags":[],"obj":{}}"#,
            logins: 99,
            last_login: Some("2024-12-30T10:00:00.000Z"),
            created_at: "2025-01-01T00:00:00.000Z",
            ..BASE
        },
        User {
            id: "auth0|1006",
            email: Some("mallory@evil.com"),
            name: Some("x' OR 1=1 --"),
            nickname: Some("mallory"),
            user_metadata: r#"{"note":"'; DROP TABLE users; --"}"#,
            logins: 1,
            created_at: "2024-02-01T00:00:00.000Z",
            ..BASE
        },
        User {
            id: "auth0|1007",
            email: Some("frank@sub.example.com"),
            name: Some("Frank Castle"),
            nickname: Some("frank"),
            user_metadata: r#"{"display":{"fontSize":13}}"#,
            app_metadata: r#"{"score":7.5}"#,
            logins: 100,
            created_at: "2024-07-01T00:00:00.000Z",
            ..BASE
        },
        User {
            id: "auth0|1008",
            email: Some("grace@example.com"),
            name: Some("Grace Hopper"),
            nickname: Some("grace*star"),
            given: Some("Grace"),
            family: Some("Hopper"),
            app_metadata: r#"{"roles":"admin"}"#,
            logins: 101,
            created_at: "2024-12-31T23:59:59.999Z",
            ..BASE
        },
        User {
            id: "samlp|acme|3001",
            conn: "saml",
            email: Some("heidi@acme.com"),
            name: Some("Heidi Klum"),
            nickname: Some("heidi"),
            app_metadata: r#"{"flags":[1,2,3]}"#,
            logins: 3,
            created_at: "2023-11-11T11:11:11.111Z",
            ..BASE
        },
        User {
            id: "auth0|1010",
            email: Some("ivan@example.com"),
            username: Some("ivan_the_terrible"),
            name: Some("Ivan"),
            nickname: Some("Ivan"),
            user_metadata: r#"{"display":{"fontSize":"13"}}"#,
            app_metadata: r#"{"nested":{"deep":{"x":"y"}}}"#,
            logins: 50,
            created_at: "2024-05-01T12:00:00.000Z",
            ..BASE
        },
    ]
}

fn text(s: &str) -> SqlValue {
    SqlValue::Text(s.to_string())
}

async fn load_fixture(db: &Db) {
    let json = match db.dialect() {
        Dialect::Sqlite => "$N",
        Dialect::Postgres => "CAST($N AS jsonb)",
    };
    for (id, name, strategy) in CONNECTIONS {
        db.execute(
            "INSERT INTO connections (id, name, strategy, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4)",
            &[id, name, strategy, "2023-01-01T00:00:00.000Z"].map(text),
        )
        .await
        .expect("insert connection");
    }
    // Column list and how each value is placed.
    let columns: [(&str, &str); 19] = [
        ("user_id", "$N"),
        ("connection_id", "$N"),
        ("connection", "$N"),
        ("provider", "$N"),
        ("email", "$N"),
        ("email_verified", "$N"),
        ("username", "$N"),
        ("phone_number", "$N"),
        ("phone_verified", "$N"),
        ("name", "$N"),
        ("nickname", "$N"),
        ("given_name", "$N"),
        ("family_name", "$N"),
        ("user_metadata", json),
        ("app_metadata", json),
        ("blocked", "$N"),
        ("logins_count", "$N"),
        ("last_login", "$N"),
        ("last_ip", "$N"),
    ];
    let mut names: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
    names.extend(["created_at", "updated_at"]);
    let mut values: Vec<String> =
        columns.iter().enumerate().map(|(i, (_, tpl))| tpl.replace("$N", &format!("${}", i + 1))).collect();
    values.push(format!("${}", columns.len() + 1));
    values.push(format!("${}", columns.len() + 1));
    let insert = format!("INSERT INTO users ({}) VALUES ({})", names.join(", "), values.join(", "));
    let o = |v: Option<&str>| v.map_or(SqlValue::Null(SqlType::Text), text);
    for u in users() {
        let (conn_id, conn_name, provider) =
            CONNECTIONS.iter().find(|(id, _, _)| *id == u.conn).copied().expect("connection");
        let params = vec![
            text(u.id),
            text(conn_id),
            text(conn_name),
            text(provider),
            o(u.email),
            SqlValue::Bool(u.email_verified),
            o(u.username),
            o(u.phone),
            SqlValue::Bool(u.phone.is_some()),
            o(u.name),
            o(u.nickname),
            o(u.given),
            o(u.family),
            text(u.user_metadata),
            text(u.app_metadata),
            SqlValue::Bool(u.blocked),
            SqlValue::Int(u.logins),
            o(u.last_login),
            o(u.last_ip),
            text(u.created_at),
        ];
        db.execute(&insert, &params).await.expect("insert user");
    }
}

const ALL: &[&str] = &[
    "auth0|1001",
    "auth0|1002",
    "google-oauth2|2001",
    "google-oauth2|2002",
    "auth0|1005",
    "auth0|1006",
    "auth0|1007",
    "auth0|1008",
    "samlp|acme|3001",
    "auth0|1010",
];

fn all_except(excluded: &[&str]) -> Vec<&'static str> {
    ALL.iter().copied().filter(|id| !excluded.contains(id)).collect()
}

/// `(q, expected user_ids in any order)`.
fn cases() -> Vec<(&'static str, Vec<&'static str>)> {
    let u1 = "auth0|1001";
    let u2 = "auth0|1002";
    let u3 = "google-oauth2|2001";
    let u4 = "google-oauth2|2002";
    let u5 = "auth0|1005";
    let u6 = "auth0|1006";
    let u7 = "auth0|1007";
    let u8 = "auth0|1008";
    let u9 = "samlp|acme|3001";
    let u10 = "auth0|1010";
    vec![
        // exact matches and case rules
        ("email:alice@example.com", vec![u1]),
        ("email:ALICE@Example.COM", vec![u1]),
        (r#"name:"alice smith""#, vec![u1]),
        ("name:dave", vec![u4]),
        ("nickname:ivan", vec![u10]),
        ("username:alice", vec![u1]),
        ("username:Alice", vec![]),
        (r#"given_name:carol AND family_name:"o'brien""#, vec![u3]),
        (r#"phone_number:"+15551234567""#, vec![u5]),
        (r"phone_number:\+15551234567", vec![u5]),
        (r#"user_id:"auth0|1001""#, vec![u1]),
        ("last_ip:10.0.0.1", vec![u1]),
        // special fields
        (r#"email.domain:"example.com""#, vec![u1, u2, u8, u10]),
        ("email.domain:EXAMPLE.COM", vec![u1, u2, u8, u10]),
        ("email.domain:*example.com", vec![u1, u2, u7, u8, u10]),
        (r#"identities.connection:"google-oauth2""#, vec![u3, u4]),
        ("identities.provider:samlp", vec![u9]),
        (r#"identities.user_id:"acme|3001""#, vec![u9]),
        ("identities.user_id:2001", vec![u3]),
        // booleans and integers
        ("email_verified:true", vec![u1, u3, u4]),
        ("email_verified:false", all_except(&[u1, u3, u4])),
        ("phone_verified:true", vec![u5]),
        ("blocked:true", vec![u2]),
        ("logins_count:5", vec![u1]),
        ("logins_count:[100 TO 200]", vec![u2, u3, u7, u8]),
        ("logins_count:{100 TO 200}", vec![u2, u8]),
        ("logins_count:[100 TO 200}", vec![u2, u7, u8]),
        ("logins_count:[* TO 3]", vec![u4, u6, u9]),
        ("logins_count:{99 TO *]", vec![u2, u3, u7, u8]),
        // timestamps, date-only bounds widened to whole days
        ("last_login:[* TO 2024-12-31]", vec![u1, u3, u5]),
        ("last_login:{* TO 2024-12-31}", vec![u3, u5]),
        ("last_login:[2024-12-31 TO *]", vec![u1, u2]),
        ("created_at:2024-12-31", vec![u4, u8]),
        ("created_at:[2025-01-01 TO *]", vec![u5]),
        ("created_at:{2024-12-31 TO *]", vec![u5]),
        (r#"created_at:"2024-05-01T12:00:00Z""#, vec![u10]),
        ("created_at:[2024-05-01T12:00:00.001Z TO 2024-06-15T09:00:00Z}", vec![]),
        ("created_at:[2024-05-01T12:00:00Z TO 2024-06-15T09:00:00Z]", vec![u3, u10]),
        ("created_at:2023*", vec![u9]),
        // existence
        ("_exists_:email", all_except(&[u5])),
        ("email:*", all_except(&[u5])),
        ("NOT _exists_:email", vec![u5]),
        ("_exists_:last_login", vec![u1, u2, u3, u5]),
        ("*", ALL.to_vec()),
        // wildcards
        ("name:al*", vec![u1]),
        ("name:*ith", vec![u1]),
        ("name:*IEN", vec![u3]),
        ("name:c*n", vec![u3]),
        ("user_id:auth0|100*", vec![u1, u2, u5, u6, u7, u8]),
        (r"nickname:grace\*star", vec![u8]),
        (r"nickname:grace\**", vec![u8]),
        ("nickname:grace*", vec![u8]),
        ("last_ip:10.0.0.*", vec![u1, u2]),
        ("username:ivan_*", vec![u10]),
        ("username:iva_*", vec![]),
        // bare terms: email / name / nickname / given / family / username, any case
        ("alice", vec![u1]),
        ("ALICE", vec![u1]),
        ("bob*", vec![u2]),
        ("hopper", vec![u8]),
        ("alice bob", vec![u1, u2]),
        ("alice OR bob", vec![u1, u2]),
        ("gold", vec![]),
        // boolean structure (Lucene semantics)
        (r#"email.domain:"example.com" AND NOT blocked:true"#, vec![u1, u8, u10]),
        (r#"email.domain:"example.com" -blocked:true"#, vec![u1, u8, u10]),
        (r#"(email.domain:"example.com" OR identities.provider:samlp) AND logins_count:[50 TO *]"#, vec![u2, u8, u10]),
        (r#"NOT name:"Alice Smith""#, all_except(&[u1])),
        ("NOT blocked:true AND logins_count:[100 TO *]", vec![u3, u7, u8]),
        ("nickname:alice AND email_verified:true OR blocked:true", vec![u1]),
        ("nickname:alice OR NOT blocked:false", vec![]),
        ("nickname:alice OR (NOT blocked:false)", vec![u1, u2]),
        ("name:(alice* OR bob*)", vec![u1, u2]),
        ("NOT (name:a* OR name:b*)", all_except(&[u1, u2])),
        // metadata: strings (case-sensitive), numbers, booleans, arrays, nesting
        (r#"user_metadata.plan:"gold""#, vec![u1]),
        ("user_metadata.plan:Gold", vec![u3]),
        ("_exists_:user_metadata.plan", vec![u1, u2, u3]),
        ("user_metadata.prefs.fontSize:13", vec![u1]),
        ("user_metadata.display.fontSize:13", vec![u7, u10]),
        ("user_metadata.tags:beta", vec![u2]),
        ("user_metadata.plan:*", vec![u1, u2, u3]),
        ("NOT _exists_:user_metadata.plan", all_except(&[u1, u2, u3])),
        ("app_metadata.age:30", vec![u1, u2, u3]),
        // a number literal matches equal numbers, but only the identical string
        ("app_metadata.age:30.0", vec![u1, u3]),
        (r#"app_metadata.age:"30""#, vec![u1, u2, u3]),
        ("app_metadata.age:[31 TO 50]", vec![u4]),
        ("app_metadata.age:[* TO 30]", vec![u1, u3]),
        ("app_metadata.age:{30 TO *]", vec![u4]),
        ("app_metadata.active:true", vec![u1, u4]),
        ("app_metadata.active:false", vec![u2]),
        ("app_metadata.roles:admin", vec![u1, u8]),
        ("app_metadata.roles:dev", vec![u1, u3]),
        ("app_metadata.roles:ad*", vec![u1, u8]),
        ("app_metadata.roles:[a TO c]", vec![u1, u8]),
        ("app_metadata.score:7.5", vec![u7]),
        ("app_metadata.score:{7 TO 8}", vec![u7]),
        ("app_metadata.flags:2", vec![u9]),
        ("app_metadata.flags:[3 TO *]", vec![u9]),
        ("_exists_:app_metadata.tags", vec![]),
        ("_exists_:app_metadata.obj", vec![]),
        ("_exists_:app_metadata.nested", vec![u10]),
        ("app_metadata.nested:y", vec![]),
        ("app_metadata.nested.deep.x:y", vec![u10]),
        ("NOT _exists_:app_metadata.roles", all_except(&[u1, u3, u8])),
        ("app_metadata.missing.path:1", vec![]),
        // injection attempts: harmless literal matches
        (r#"email:"x' OR 1=1 --""#, vec![]),
        (r#"name:"x' OR 1=1 --""#, vec![u6]),
        (r#""x' OR 1=1 --""#, vec![u6]),
        (r"name:x'\ OR\ 1=1\ --", vec![u6]),
        (r#"user_metadata.note:"'; DROP TABLE users; --""#, vec![u6]),
        (r#"email:"\"; DROP TABLE users; --""#, vec![]),
        (r#"app_metadata.roles:[a TO "b' OR '1'='1"]"#, vec![u1, u8]),
        ("name:%", vec![]),
        ("name:_*", vec![]),
        ("name:*%%%", vec![]),
        ("username:[a TO z]", vec![u1, u2, u5, u10]),
    ]
}

/// Queries that must be rejected (before any SQL exists).
const REJECTED: &[(&str, &str)] = &[
    ("user_metadata.a'b:1", "invalid character"),
    (r#"user_metadata.a")) OR 1=1 --:1"#, "unexpected '\"'"),
    (r#"user_metadata.a\"\)\)\ OR\ 1=1\ --:1"#, "invalid character '\"'"),
    ("user_metadata.$.a:1", "invalid character"),
    ("_exists_:user_metadata.x'", "invalid character"),
    ("email:x' OR 1=1 --", "expected a term"),
    ("emial:alice", "unknown field 'emial' at position 0"),
    ("password_hash:*", "not searchable"),
    ("picture:x", "not searchable"),
    ("user_metadata.plan:go*", "wildcards are not supported"),
];

/// Every assertion, for one backend. Returns failure descriptions (so the caller can
/// clean up before failing).
async fn check_backend(db: &Db) -> Vec<String> {
    let mut failures = Vec::new();
    let dialect = db.dialect();
    for (q, expected) in cases() {
        let mut expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        expected.sort();
        // Once with placeholders from $1, once after two caller-bound parameters.
        for first in [1, 3] {
            let compiled = match compile(q, dialect, first) {
                Ok(c) => c,
                Err(e) => {
                    failures.push(format!("{dialect:?} {q:?}: compile error: {e}"));
                    continue;
                }
            };
            let (where_sql, params) = if first == 1 {
                (compiled.sql.clone(), compiled.params.clone())
            } else {
                let mut params = vec![text("nobody"), SqlValue::Int(-1)];
                params.extend(compiled.params.clone());
                (format!("user_id <> $1 AND logins_count > $2 AND {}", compiled.sql), params)
            };
            match db.user_ids(&where_sql, "user_id", &params).await {
                Ok(mut got) => {
                    got.sort();
                    if got != expected {
                        failures.push(format!(
                            "{dialect:?} {q:?}: expected {expected:?}, got {got:?}\n  sql: {}\n  params: {:?}",
                            compiled.sql, compiled.params
                        ));
                    }
                }
                Err(e) => failures.push(format!(
                    "{dialect:?} {q:?}: SQL error {e}\n  sql: {}\n  params: {:?}",
                    compiled.sql, compiled.params
                )),
            }
        }
    }

    for (q, msg) in REJECTED {
        match compile(q, dialect, 1) {
            Ok(c) => failures.push(format!("{dialect:?} {q:?}: accepted as {}", c.sql)),
            Err(e) if !e.to_string().contains(msg) => {
                failures.push(format!("{dialect:?} {q:?}: error {e} lacks {msg:?}"))
            }
            Err(_) => {}
        }
    }

    // Sorting: exact order, `user_id` tiebreaker, NULLs last.
    let sorts: &[(&str, &str, &[&str])] = &[
        (r#"email.domain:"example.com""#, "logins_count:-1", &["auth0|1002", "auth0|1008", "auth0|1010", "auth0|1001"]),
        ("_exists_:last_login", "last_login:1", &["google-oauth2|2001", "auth0|1005", "auth0|1001", "auth0|1002"]),
        (
            "logins_count:[* TO 5]",
            "last_login:-1",
            // NULLs last, then the user_id tiebreaker in the same (descending) direction
            &["auth0|1001", "samlp|acme|3001", "google-oauth2|2002", "auth0|1006"],
        ),
        (
            "logins_count:[* TO 5]",
            "created_at:1",
            &["samlp|acme|3001", "auth0|1001", "auth0|1006", "google-oauth2|2002"],
        ),
        ("identities.connection:google-oauth2", "user_id:-1", &["google-oauth2|2002", "google-oauth2|2001"]),
    ];
    for (q, sort, expected) in sorts {
        let compiled = compile(q, dialect, 1).expect("valid query");
        let order = compile_sort(sort).expect("valid sort");
        match db.user_ids(&compiled.sql, &order, &compiled.params).await {
            Ok(got) if got == *expected => {}
            Ok(got) => failures.push(format!("{dialect:?} {q:?} sort {sort}: expected {expected:?}, got {got:?}")),
            Err(e) => failures.push(format!("{dialect:?} {q:?} sort {sort}: SQL error {e}")),
        }
    }

    // The injection attempts above left the table intact.
    match db.user_ids("1 = 1", "user_id", &[]).await {
        Ok(all) if all.len() == ALL.len() => {}
        other => failures.push(format!("{dialect:?}: users table changed: {other:?}")),
    }

    // Random valid queries produce SQL the database accepts.
    failures.extend(random_queries_execute(db).await);
    failures
}

const FIELDS: &[&str] = &[
    "email",
    "name",
    "nickname",
    "username",
    "user_id",
    "blocked",
    "logins_count",
    "created_at",
    "last_login",
    "email.domain",
    "identities.connection",
    "identities.user_id",
    "user_metadata.plan",
    "user_metadata.a.b",
    "app_metadata.age",
    "app_metadata.roles",
];
const VALUES: &[&str] = &[
    "alice",
    "a*",
    "*ice",
    "\"x y\"",
    "30",
    "7.5",
    "true",
    "false",
    "2024-12-31",
    "2024-05-01T12:00:00Z",
    "[1 TO 5]",
    "{a TO *]",
    "[* TO 2024-12-31]",
    "*",
    "'",
    "\\\"",
    "%_",
    "(a OR b)",
];

/// Random queries built from real fields and values; the valid ones must run.
async fn random_queries_execute(db: &Db) -> Vec<String> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut failures = Vec::new();
    let mut ran = 0;
    for _ in 0..400 {
        let n = rng.gen_range(1..5);
        let mut q = String::new();
        for i in 0..n {
            if i > 0 {
                q.push_str(["AND ", "OR ", "", "AND NOT ", "-"][rng.gen_range(0..5)]);
            }
            if rng.gen_bool(0.2) {
                q.push_str("_exists_:");
                q.push_str(FIELDS[rng.gen_range(0..FIELDS.len())]);
            } else {
                q.push_str(FIELDS[rng.gen_range(0..FIELDS.len())]);
                q.push(':');
                q.push_str(VALUES[rng.gen_range(0..VALUES.len())]);
            }
            q.push(' ');
        }
        let Ok(compiled) = compile(&q, db.dialect(), 1) else {
            continue;
        };
        ran += 1;
        if let Err(e) = db.user_ids(&compiled.sql, "user_id", &compiled.params).await {
            failures.push(format!("{:?} random {q:?}: SQL error {e}\n  sql: {}", db.dialect(), compiled.sql));
        }
    }
    if ran < 100 {
        failures.push(format!("only {ran} random queries were valid"));
    }
    failures
}

fn report(failures: &[String]) {
    if !failures.is_empty() {
        panic!("{} failure(s):\n{}", failures.len(), failures.join("\n"));
    }
}

#[tokio::test]
async fn search_on_sqlite() {
    let file = std::env::temp_dir().join(format!("gh_search_{:016x}.db", rand::random::<u64>()));
    let c = rusqlite::Connection::open(&file).expect("open sqlite");
    c.execute_batch(SQLITE_MIGRATION).expect("migrate sqlite");
    let db = Db::Sqlite(c, file);
    load_fixture(&db).await;
    let failures = check_backend(&db).await;
    if let Db::Sqlite(c, file) = db {
        drop(c);
        let _ = std::fs::remove_file(file);
    }
    report(&failures);
}

#[tokio::test]
async fn search_on_postgres() {
    let Ok(url) = std::env::var("GATEHOUSE_TEST_POSTGRES_URL") else {
        eprintln!("GATEHOUSE_TEST_POSTGRES_URL is not set; skipping the PostgreSQL search tests");
        return;
    };
    let admin = PgPool::connect(&url).await.expect("connect to postgres");
    let schema = format!("gh_search_{:016x}", rand::random::<u64>());
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&admin).await.expect("create schema");

    let failures = async {
        let options =
            PgConnectOptions::from_str(&url).expect("postgres url").options([("search_path", schema.as_str())]);
        let pool =
            PgPoolOptions::new().max_connections(2).connect_with(options).await.expect("connect with search_path");
        if let Err(e) = sqlx::raw_sql(POSTGRES_MIGRATION).execute(&pool).await {
            return vec![format!("migrate postgres: {e}")];
        }
        let db = Db::Postgres(pool);
        load_fixture(&db).await;
        let failures = check_backend(&db).await;
        if let Db::Postgres(pool) = db {
            pool.close().await;
        }
        failures
    }
    .await;

    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(&admin).await.expect("drop schema");
    admin.close().await;
    report(&failures);
}

/// Garbage in, an error (or a query) out — never a panic, and compiled output is always
/// consistent: exactly one parameter per placeholder number.
#[test]
fn random_input_never_panics() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    let pieces: &[&str] = &[
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        "\"",
        "\\",
        ":",
        "*",
        "?",
        " ",
        " ",
        "AND",
        "OR",
        "NOT",
        "TO",
        "&&",
        "||",
        "!",
        "-",
        "+",
        "_exists_",
        "email",
        "name",
        "user_metadata.",
        "app_metadata.a",
        ".",
        "'",
        "$",
        "%",
        "_",
        "é",
        "\u{0}",
        "\n",
        "2024-12-31",
        "1",
        "-1",
        "true",
        "logins_count",
        "created_at",
        "email.domain",
        "identities.user_id",
        "x",
    ];
    let mut ok = 0;
    for i in 0..20_000 {
        let q: String = if i % 4 == 0 {
            // arbitrary chars, including multi-byte ones
            (0..rng.gen_range(0..40))
                .map(|_| {
                    let c: u32 = if rng.gen_bool(0.8) { rng.gen_range(0x20..0x7f) } else { rng.gen_range(0..0x3000) };
                    char::from_u32(c).unwrap_or('?')
                })
                .collect()
        } else {
            (0..rng.gen_range(0..25)).map(|_| pieces[rng.gen_range(0..pieces.len())]).collect()
        };
        let parsed = parse(&q);
        for dialect in [Dialect::Sqlite, Dialect::Postgres] {
            let first = rng.gen_range(1..10);
            match (compile(&q, dialect, first), &parsed) {
                (Ok(c), Ok(_)) => {
                    ok += 1;
                    check_placeholders(&q, &c.sql, first, c.params.len());
                }
                (Err(e), Err(pe)) => {
                    assert_eq!(&e, pe, "{q:?}");
                    assert!(e.to_string().starts_with("Invalid query: "), "{e}");
                }
                (c, p) => panic!("{q:?}: parse {p:?} but compile {c:?}"),
            }
        }
    }
    assert!(ok > 1000, "only {ok} random inputs were valid");

    // Pathological sizes are bounded, not slow or recursive.
    let deep = "(".repeat(100_000);
    assert!(matches!(parse(&deep), Err(SearchError::TooLong { .. })));
    let deep = format!("{}a", "(".repeat(2000));
    assert!(matches!(parse(&deep), Err(SearchError::TooComplex { .. })));
    let many = "a ".repeat(2000);
    assert!(matches!(parse(&many), Err(SearchError::TooComplex { .. })));
    let nots = "NOT ".repeat(1000);
    assert!(parse(&nots).is_err());
    assert!(parse(&format!("{}a", "-".repeat(1000))).is_err());
    assert_eq!(search::MAX_QUERY_BYTES, 4096);
}

/// Every `$N` in `sql` lies in `first..first + n_params`, and each is used.
fn check_placeholders(q: &str, sql: &str, first: usize, n_params: usize) {
    let mut used = vec![false; n_params];
    let bytes = sql.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' {
            let start = i + 1;
            let mut end = start;
            while end < bytes.len() && bytes[end].is_ascii_digit() {
                end += 1;
            }
            let n: usize = sql[start..end].parse().unwrap_or_else(|_| panic!("{q:?}: bare '$' in SQL {sql}"));
            assert!(n >= first && n < first + n_params, "{q:?}: ${n} out of range in {sql}");
            used[n - first] = true;
            i = end;
        } else {
            i += 1;
        }
    }
    assert!(used.iter().all(|u| *u), "{q:?}: unused parameter in {sql}");
}
