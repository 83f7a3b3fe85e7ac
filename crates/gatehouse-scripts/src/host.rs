//! What scripts reach through the prelude's modules: hashing and digests answered at
//! once on the sandbox thread, and the customer's databases, HTTP services and timers
//! run on the async runtime. Every outbound connection is checked against the
//! configured hosts first.
//!
//! Values cross as JSON; bytes as arrays of numbers.

use crate::engine::Limits;
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use serde_json::{json, Map, Value};
use sha2::Digest as _;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Column, Executor, Row, TypeInfo};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The most rows a query may hand a script.
const MAX_ROWS: usize = 10_000;
/// The most bytes of an HTTP answer a script may read.
const MAX_BODY: usize = 4 << 20;
/// The most console output one run keeps.
const MAX_LOG_BYTES: usize = 64 << 10;
/// bcrypt costs above this would outlast any sensible deadline.
const MAX_BCRYPT_COST: u32 = 14;

/// What the sandbox's threads share: the allowed hosts, the HTTP client and the
/// database pools scripts opened (kept for the next run, per connection settings).
pub(crate) struct HostEnv {
    allowed: Vec<String>,
    http: reqwest::Client,
    mysql: Mutex<HashMap<String, MySqlPool>>,
    pg: Mutex<HashMap<String, PgPool>>,
    hasher: gatehouse_hash::Hasher,
}

impl HostEnv {
    pub(crate) fn new(limits: &Limits) -> Result<Self, String> {
        let allowed: Vec<String> = limits.allowed_hosts.iter().map(|h| h.trim().to_ascii_lowercase()).collect();
        let for_redirects = allowed.clone();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                let allowed = attempt.url().host_str().is_some_and(|h| host_allowed(&for_redirects, h));
                if attempt.previous().len() >= 5 || !allowed {
                    attempt.stop()
                } else {
                    attempt.follow()
                }
            }))
            .user_agent("Gatehouse-Actions")
            .build()
            .map_err(|e| format!("the sandbox's HTTP client: {e}"))?;
        let hasher = gatehouse_hash::Hasher::new(Default::default(), Default::default());
        Ok(Self { allowed, http, mysql: Mutex::new(HashMap::new()), pg: Mutex::new(HashMap::new()), hasher })
    }

    fn check_host(&self, host: &str) -> Result<(), String> {
        if host_allowed(&self.allowed, host) {
            Ok(())
        } else {
            Err(op_error(
                &format!("connecting to {host} is not allowed: add it to scripts.allowed_hosts"),
                Some("EHOSTNOTALLOWED"),
            ))
        }
    }
}

/// Whether `host` is one of `allowed` (exact, or under a `*.` entry).
pub(crate) fn host_allowed(allowed: &[String], host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    allowed.iter().any(|a| match a.strip_prefix("*.") {
        Some(suffix) => host.len() > suffix.len() && host.ends_with(suffix) && host.ends_with(&format!(".{suffix}")),
        None => *a == host,
    })
}

/// An operation's failure as the prelude reads it (`{message, code}`).
pub(crate) fn op_error(message: &str, code: Option<&str>) -> String {
    json!({"message": message, "code": code}).to_string()
}

/// One run's bookkeeping on its sandbox thread.
pub(crate) struct RunState {
    next_id: Cell<u64>,
    outstanding: Cell<u64>,
    tasks: RefCell<Vec<tokio::task::AbortHandle>>,
    logs: RefCell<(Vec<String>, usize)>,
    secrets: Vec<String>,
    deadline: Instant,
}

impl RunState {
    pub(crate) fn new(secrets: Vec<String>, deadline: Instant) -> Self {
        Self {
            next_id: Cell::new(0),
            outstanding: Cell::new(0),
            tasks: RefCell::new(Vec::new()),
            logs: RefCell::new((Vec::new(), 0)),
            secrets,
            deadline,
        }
    }

    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    pub(crate) fn started(&self) -> u64 {
        let id = self.next_id.get() + 1;
        self.next_id.set(id);
        self.outstanding.set(self.outstanding.get() + 1);
        id
    }

    pub(crate) fn track(&self, task: tokio::task::AbortHandle) {
        self.tasks.borrow_mut().push(task);
    }

    pub(crate) fn finished(&self) {
        self.outstanding.set(self.outstanding.get().saturating_sub(1));
    }

    pub(crate) fn outstanding(&self) -> u64 {
        self.outstanding.get()
    }

    /// Stops whatever the run started and is still running.
    pub(crate) fn abort_all(&self) {
        for t in self.tasks.borrow_mut().drain(..) {
            t.abort();
        }
    }

    /// `text` with every secret of the run replaced.
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "[redacted]");
            }
        }
        out
    }

    fn log(&self, level: &str, line: &str) {
        let mut logs = self.logs.borrow_mut();
        if logs.1 >= MAX_LOG_BYTES {
            return;
        }
        let line = self.redact(line);
        let line = if level == "log" || level == "info" { line } else { format!("[{level}] {line}") };
        logs.1 += line.len();
        logs.0.push(line);
    }

    pub(crate) fn take_logs(&self) -> Vec<String> {
        std::mem::take(&mut self.logs.borrow_mut().0)
    }
}

// ---- answered at once -------------------------------------------------------------------

fn byte_array(v: &Value, what: &str) -> Result<Vec<u8>, String> {
    v.as_array()
        .ok_or_else(|| format!("{what} must be bytes"))?
        .iter()
        .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()).ok_or_else(|| format!("{what} must be bytes")))
        .collect()
}

fn digest(alg: &str, data: &[u8]) -> Result<Vec<u8>, String> {
    Ok(match alg.to_ascii_lowercase().as_str() {
        "md5" => md5::Md5::digest(data).to_vec(),
        "sha1" => sha1::Sha1::digest(data).to_vec(),
        "sha256" => sha2::Sha256::digest(data).to_vec(),
        "sha384" => sha2::Sha384::digest(data).to_vec(),
        "sha512" => sha2::Sha512::digest(data).to_vec(),
        other => return Err(format!("Digest method not supported: {other}")),
    })
}

fn hmac(alg: &str, key: &[u8], data: &[u8]) -> Result<Vec<u8>, String> {
    macro_rules! mac {
        ($d:ty) => {{
            let mut m = <Hmac<$d> as Mac>::new_from_slice(key).map_err(|e| e.to_string())?;
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }};
    }
    Ok(match alg.to_ascii_lowercase().as_str() {
        "md5" => mac!(md5::Md5),
        "sha1" => mac!(sha1::Sha1),
        "sha256" => mac!(sha2::Sha256),
        "sha384" => mac!(sha2::Sha384),
        "sha512" => mac!(sha2::Sha512),
        other => return Err(format!("Invalid digest: {other}")),
    })
}

fn pbkdf2(digest: &str, password: &[u8], salt: &[u8], rounds: u32, out: &mut [u8]) -> Result<(), String> {
    match digest.to_ascii_lowercase().as_str() {
        "sha1" => pbkdf2::pbkdf2_hmac::<sha1::Sha1>(password, salt, rounds, out),
        "sha256" => pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt, rounds, out),
        "sha512" => pbkdf2::pbkdf2_hmac::<sha2::Sha512>(password, salt, rounds, out),
        other => return Err(format!("Invalid digest: {other}")),
    }
    Ok(())
}

/// An operation answered on the sandbox thread (it never waits on I/O).
pub(crate) fn sync_op(env: &HostEnv, state: &RunState, op: &str, arg: &str) -> Result<String, String> {
    let a: Value = serde_json::from_str(arg).map_err(|e| format!("bad argument to {op}: {e}"))?;
    let text = |k: &str| a[k].as_str().map(str::to_string).ok_or_else(|| format!("{op}: {k} must be a string"));
    let number = |k: &str, max: u64| {
        a[k].as_f64()
            .filter(|n| *n >= 0.0 && n.fract() == 0.0 && *n <= max as f64)
            .map(|n| n as u64)
            .ok_or_else(|| format!("{op}: {k} must be an integer from 0 to {max}"))
    };
    let out = match op {
        "log" => {
            state.log(a["level"].as_str().unwrap_or("log"), a["line"].as_str().unwrap_or(""));
            Value::Null
        }
        "bcrypt.salt" => {
            let rounds = number("rounds", u64::from(MAX_BCRYPT_COST))? as u32;
            json!(gatehouse_hash::bcrypt_salt(rounds.max(4)))
        }
        "bcrypt.hash" => {
            let password = text("password")?;
            let setting = match a.get("salt").and_then(Value::as_str) {
                Some(s) => s.to_string(),
                None => gatehouse_hash::bcrypt_salt((number("rounds", u64::from(MAX_BCRYPT_COST))? as u32).max(4)),
            };
            json!(gatehouse_hash::bcrypt_with_setting(&password, &setting, MAX_BCRYPT_COST).ok_or_else(|| {
                "Invalid salt. Salt must be in the form of: $Vers$log2(NumRounds)$saltvalue".to_string()
            })?)
        }
        "bcrypt.compare" => {
            let password = text("password")?;
            let hash = text("hash")?;
            // Only bcrypt, as Node's module; anything else does not match.
            let ok = hash.starts_with("$2")
                && env.hasher.parse_password_hash(&hash).is_ok_and(|h| env.hasher.verify(&h, &password));
            json!(ok)
        }
        "crypto.digest" => json!(digest(&text("alg")?, &byte_array(&a["data"], "data")?)?),
        "crypto.hmac" => json!(hmac(&text("alg")?, &byte_array(&a["key"], "key")?, &byte_array(&a["data"], "data")?)?),
        "crypto.random" => {
            let mut b = vec![0u8; number("n", 65_536)? as usize];
            rand::thread_rng().fill_bytes(&mut b);
            json!(b)
        }
        "crypto.pbkdf2" => {
            let rounds = number("iterations", 2_000_000)? as u32;
            let mut out = vec![0u8; number("keylen", 1_024)? as usize];
            let password = byte_array(&a["password"], "password")?;
            pbkdf2(&text("digest")?, &password, &byte_array(&a["salt"], "salt")?, rounds.max(1), &mut out)?;
            json!(out)
        }
        other => return Err(format!("unknown host operation {other}")),
    };
    Ok(out.to_string())
}

// ---- run on the async runtime ------------------------------------------------------------

/// An operation that waits on the outside world. `Ok` and `Err` both carry JSON.
pub(crate) async fn async_op(env: &HostEnv, op: &str, arg: &str) -> Result<String, String> {
    let a: Value = serde_json::from_str(arg).map_err(|e| op_error(&format!("bad argument to {op}: {e}"), None))?;
    let out = match op {
        "timer" => {
            let ms = a["ms"].as_f64().unwrap_or(0.0).clamp(0.0, 60_000.0);
            tokio::time::sleep(Duration::from_millis(ms as u64)).await;
            Value::Null
        }
        "mysql.ping" => {
            let pool = mysql_pool(env, &a["config"])?;
            pool.acquire().await.map_err(sql_error)?;
            Value::Null
        }
        "mysql.query" => mysql_query(env, &a).await?,
        "pg.ping" => {
            let pool = pg_pool(env, &a["config"])?;
            pool.acquire().await.map_err(sql_error)?;
            Value::Null
        }
        "pg.query" => pg_query(env, &a).await?,
        "http" => http(env, &a).await?,
        other => return Err(op_error(&format!("unknown host operation {other}"), None)),
    };
    Ok(out.to_string())
}

fn sql_error(e: sqlx::Error) -> String {
    match &e {
        sqlx::Error::Database(db) => {
            let code = if db.is_unique_violation() { Some("ER_DUP_ENTRY") } else { None };
            op_error(db.message(), code)
        }
        _ => op_error(&e.to_string(), Some("ECONNREFUSED")),
    }
}

/// The connection fields node-mysql and node-postgres take as an object (the drivers
/// differ only in the options type they fill).
struct ConnectFields<'a> {
    host: &'a str,
    port: Option<u16>,
    user: Option<&'a str>,
    /// An empty password is none (node-mysql and node-postgres send none).
    password: Option<&'a str>,
    database: Option<&'a str>,
}

impl<'a> ConnectFields<'a> {
    fn of(config: &'a Value) -> Result<Self, String> {
        let s = |k: &str| config.get(k).and_then(Value::as_str);
        let port = match config.get("port").and_then(|p| p.as_u64().or_else(|| p.as_str()?.parse().ok())) {
            Some(port) => Some(u16::try_from(port).map_err(|_| op_error("bad port", None))?),
            None => None,
        };
        Ok(Self {
            host: s("host").unwrap_or("localhost"),
            port,
            user: s("user"),
            password: s("password").filter(|p| !p.is_empty()),
            database: s("database"),
        })
    }
}

/// The pool for node-mysql connection settings (`host`, `port`, `user`, `password`,
/// `database`, or a `url`), built once per distinct settings.
fn mysql_pool(env: &HostEnv, config: &Value) -> Result<MySqlPool, String> {
    let key = config.to_string();
    if let Some(p) = env.mysql.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return Ok(p);
    }
    let options = match config.get("url").and_then(Value::as_str) {
        Some(url) => MySqlConnectOptions::from_str(&url.replacen("mariadb://", "mysql://", 1))
            .map_err(|e| op_error(&format!("bad connection URL: {e}"), None))?,
        None => {
            let f = ConnectFields::of(config)?;
            let mut o = MySqlConnectOptions::new().host(f.host);
            if let Some(port) = f.port {
                o = o.port(port);
            }
            if let Some(u) = f.user {
                o = o.username(u);
            }
            if let Some(p) = f.password {
                o = o.password(p);
            }
            if let Some(d) = f.database {
                o = o.database(d);
            }
            o
        }
    };
    env.check_host(options.get_host())?;
    let pool = MySqlPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(5))
        .idle_timeout(Some(Duration::from_secs(300)))
        .connect_lazy_with(options);
    if let Ok(mut m) = env.mysql.lock() {
        m.insert(key, pool.clone());
    }
    Ok(pool)
}

/// Whether a statement answers with rows (node-mysql then gives an array).
fn returns_rows(sql: &str) -> bool {
    let first = sql.trim_start().split(|c: char| !c.is_ascii_alphabetic()).next().unwrap_or("");
    matches!(
        first.to_ascii_uppercase().as_str(),
        "SELECT" | "SHOW" | "WITH" | "DESC" | "DESCRIBE" | "EXPLAIN" | "VALUES" | "TABLE"
    ) || sql.to_ascii_uppercase().contains(" RETURNING ")
}

fn params(a: &Value) -> Vec<Value> {
    a["params"].as_array().cloned().unwrap_or_default()
}

macro_rules! row_to_json {
    ($row:expr) => {{
        let row = $row;
        let mut m = Map::new();
        for (i, col) in row.columns().iter().enumerate() {
            let v: Value = if let Ok(v) = row.try_get::<Option<String>, _>(i) {
                v.map_or(Value::Null, Value::String)
            } else if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
                v.map_or(Value::Null, Value::from)
            } else if let Ok(v) = row.try_get::<Option<i32>, _>(i) {
                v.map_or(Value::Null, Value::from)
            } else if let Ok(v) = row.try_get::<Option<i16>, _>(i) {
                v.map_or(Value::Null, Value::from)
            } else if let Ok(v) = row.try_get::<Option<i8>, _>(i) {
                v.map_or(Value::Null, Value::from)
            } else if let Ok(v) = row.try_get::<Option<bool>, _>(i) {
                v.map_or(Value::Null, Value::Bool)
            } else if let Ok(v) = row.try_get::<Option<f64>, _>(i) {
                v.map_or(Value::Null, Value::from)
            } else if let Ok(v) = row.try_get::<Option<f32>, _>(i) {
                v.map_or(Value::Null, |f| Value::from(f64::from(f)))
            } else if let Ok(v) = row.try_get::<Option<Value>, _>(i) {
                v.unwrap_or(Value::Null)
            } else if let Ok(v) = row.try_get::<Option<Vec<u8>>, _>(i) {
                v.map_or(Value::Null, |b| Value::String(String::from_utf8_lossy(&b).into_owned()))
            } else {
                Value::Null
            };
            m.insert(col.name().to_string(), v);
        }
        Value::Object(m)
    }};
}

async fn mysql_query(env: &HostEnv, a: &Value) -> Result<Value, String> {
    let pool = mysql_pool(env, &a["config"])?;
    let sql = a["sql"].as_str().ok_or_else(|| op_error("the query must be a string", None))?;
    let mut q = sqlx::query(sql);
    for p in params(a) {
        q = match p {
            Value::Null => q.bind(None::<String>),
            Value::Bool(b) => q.bind(b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => q.bind(i),
                None => q.bind(n.as_f64().unwrap_or(0.0)),
            },
            Value::String(s) => q.bind(s),
            other => q.bind(other.to_string()),
        };
    }
    if returns_rows(sql) {
        let rows = q.fetch_all(&pool).await.map_err(sql_error)?;
        let rows: Vec<Value> = rows.iter().take(MAX_ROWS).map(|r| row_to_json!(r)).collect();
        Ok(json!({"rows": rows}))
    } else {
        let done = q.execute(&pool).await.map_err(sql_error)?;
        Ok(json!({"affectedRows": done.rows_affected(), "insertId": done.last_insert_id()}))
    }
}

/// The pool for node-postgres settings: a connection string, or `connectionString`,
/// `host`, `port`, `user`, `password`, `database`.
fn pg_pool(env: &HostEnv, config: &Value) -> Result<PgPool, String> {
    let key = config.to_string();
    if let Some(p) = env.pg.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return Ok(p);
    }
    let url = config.as_str().or_else(|| config.get("connectionString").and_then(Value::as_str));
    let options = match url {
        Some(url) => {
            PgConnectOptions::from_str(url).map_err(|e| op_error(&format!("bad connection string: {e}"), None))?
        }
        None => {
            let f = ConnectFields::of(config)?;
            let mut o = PgConnectOptions::new_without_pgpass().host(f.host);
            if let Some(port) = f.port {
                o = o.port(port);
            }
            if let Some(u) = f.user {
                o = o.username(u);
            }
            if let Some(p) = f.password {
                o = o.password(p);
            }
            if let Some(d) = f.database {
                o = o.database(d);
            }
            o
        }
    };
    env.check_host(options.get_host())?;
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(5))
        .idle_timeout(Some(Duration::from_secs(300)))
        .connect_lazy_with(options);
    if let Ok(mut m) = env.pg.lock() {
        m.insert(key, pool.clone());
    }
    Ok(pool)
}

/// node-postgres sends parameters untyped and the server infers their types; sqlx binds
/// typed values, so each value is converted to the type PostgreSQL infers for its place.
async fn pg_query(env: &HostEnv, a: &Value) -> Result<Value, String> {
    let pool = pg_pool(env, &a["config"])?;
    let sql = a["sql"].as_str().ok_or_else(|| op_error("the query must be a string", None))?;
    let mut conn = pool.acquire().await.map_err(sql_error)?;
    let described = (&mut *conn).describe(sql).await.map_err(sql_error)?;
    let types: Vec<String> = match described.parameters() {
        Some(sqlx::Either::Left(types)) => types.iter().map(|t| t.name().to_string()).collect(),
        _ => Vec::new(),
    };
    let mut q = sqlx::query(sql);
    for (i, p) in params(a).into_iter().enumerate() {
        let ty = types.get(i).map_or("TEXT", String::as_str);
        let as_text = |p: &Value| match p {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let bad = |p: &Value| {
            op_error(&format!("invalid input syntax for type {}: \"{}\"", ty.to_lowercase(), as_text(p)), Some("22P02"))
        };
        let int = |p: &Value| p.as_i64().or_else(|| p.as_str()?.trim().parse().ok()).ok_or_else(|| bad(p));
        let float = |p: &Value| p.as_f64().or_else(|| p.as_str()?.trim().parse().ok()).ok_or_else(|| bad(p));
        q = if p.is_null() {
            q.bind(None::<String>)
        } else {
            match ty {
                "INT2" => q.bind(i16::try_from(int(&p)?).map_err(|_| bad(&p))?),
                "INT4" => q.bind(i32::try_from(int(&p)?).map_err(|_| bad(&p))?),
                "INT8" => q.bind(int(&p)?),
                "FLOAT4" => q.bind(float(&p)? as f32),
                "FLOAT8" => q.bind(float(&p)?),
                "BOOL" => q.bind(match &p {
                    Value::Bool(b) => *b,
                    other => matches!(as_text(other).to_ascii_lowercase().as_str(), "t" | "true" | "1" | "yes" | "on"),
                }),
                "JSON" | "JSONB" => q.bind(match &p {
                    Value::String(s) => serde_json::from_str(s).unwrap_or(Value::String(s.clone())),
                    other => other.clone(),
                }),
                "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "CHAR" | "UNKNOWN" | "CITEXT" => q.bind(as_text(&p)),
                other => {
                    return Err(op_error(
                        &format!(
                        "parameter ${} has type {}, which Gatehouse's pg module cannot bind yet (cast it: ${}::text)",
                        i + 1,
                        other.to_lowercase(),
                        i + 1
                    ),
                        None,
                    ))
                }
            }
        };
    }
    let command = sql.trim_start().split(|c: char| !c.is_ascii_alphabetic()).next().unwrap_or("").to_ascii_uppercase();
    if returns_rows(sql) {
        let rows = q.fetch_all(&mut *conn).await.map_err(sql_error)?;
        let fields: Vec<Value> =
            rows.first().map(|r| r.columns().iter().map(|c| json!({"name": c.name()})).collect()).unwrap_or_default();
        let rows: Vec<Value> = rows.iter().take(MAX_ROWS).map(|r| row_to_json!(r)).collect();
        Ok(json!({"command": command, "rowCount": rows.len(), "rows": rows, "fields": fields}))
    } else {
        let done = q.execute(&mut *conn).await.map_err(sql_error)?;
        Ok(json!({"command": command, "rowCount": done.rows_affected(), "rows": [], "fields": []}))
    }
}

async fn http(env: &HostEnv, a: &Value) -> Result<Value, String> {
    let url = a["url"].as_str().unwrap_or_default();
    let parsed =
        url::Url::parse(url).map_err(|e| op_error(&format!("Invalid URL {url}: {e}"), Some("ERR_INVALID_URL")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(op_error(&format!("Only http and https URLs can be fetched, not {url}"), Some("ERR_INVALID_URL")));
    }
    env.check_host(parsed.host_str().unwrap_or(""))?;
    let method = reqwest::Method::from_str(a["method"].as_str().unwrap_or("GET"))
        .map_err(|_| op_error("Invalid HTTP method", None))?;
    let mut req = env.http.request(method, parsed);
    if let Some(headers) = a["headers"].as_object() {
        for (k, v) in headers {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            req = req.header(k.as_str(), v);
        }
    }
    if let Some(body) = a["body"].as_str() {
        req = req.body(body.to_string());
    }
    let mut resp = req.send().await.map_err(|e| op_error(&e.to_string(), Some("ECONNREFUSED")))?;
    let status = resp.status();
    let mut headers = Map::new();
    for (k, v) in resp.headers() {
        headers.insert(k.as_str().to_string(), json!(String::from_utf8_lossy(v.as_bytes())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| op_error(&e.to_string(), Some("ECONNRESET")))? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(op_error(&format!("the answer is larger than {MAX_BODY} bytes"), Some("ERR_BODY_TOO_LARGE")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(json!({
        "status": status.as_u16(),
        "statusText": status.canonical_reason().unwrap_or(""),
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
    }))
}

#[cfg(test)]
mod tests {
    use super::host_allowed;

    #[test]
    fn hosts_match_exactly_or_under_a_wildcard() {
        let allowed = vec!["127.0.0.1".to_string(), "*.example.com".to_string()];
        assert!(host_allowed(&allowed, "127.0.0.1"));
        assert!(host_allowed(&allowed, "api.example.com"));
        assert!(host_allowed(&allowed, "API.Example.com"));
        assert!(!host_allowed(&allowed, "example.com"));
        assert!(!host_allowed(&allowed, "evilexample.com"));
        assert!(!host_allowed(&allowed, "127.0.0.2"));
        assert!(!host_allowed(&[], "127.0.0.1"));
    }
}
