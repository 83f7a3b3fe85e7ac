//! The `auth0` legacy store: a live Auth0 tenant (or anything speaking its dialect, such
//! as another Gatehouse). Passwords are checked by the tenant's `/oauth/token`
//! password-realm grant, the end user's address forwarded in `auth0-forwarded-for` so the
//! tenant's brute-force protection sees the user, not Gatehouse; profiles come from its
//! Management API under a client-credentials token kept until it expires; `list` reads the
//! tenant's `users-exports` job file. Auth0's refusals that are not a wrong password
//! (`mfa_required`, `too_many_attempts`, a blocked user) and its rate limits (429, backed
//! off as `Retry-After` or `X-RateLimit-Reset` says, within the store's time) become
//! [`LegacyError`]s of their own.

use crate::config::Auth0Config;
use crate::profile::Profile;
use crate::{LegacyError, ListedUser, Login, NewLegacyUser, Page};
use gatehouse_core::clock::Clock;
use gatehouse_core::secret::Secret;
use reqwest::header::HeaderMap;
use reqwest::RequestBuilder;
use serde_json::{json, Map, Value};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Auth0's grant type for a password login against one named connection.
pub const PASSWORD_REALM: &str = "http://auth0.com/oauth/grant-type/password-realm";

/// The fields asked of a users export: what a migrated user keeps.
const EXPORT_FIELDS: &[&str] = &[
    "user_id",
    "email",
    "email_verified",
    "username",
    "name",
    "given_name",
    "family_name",
    "nickname",
    "picture",
    "created_at",
    "user_metadata",
    "app_metadata",
    "identities",
];

/// Tries of one call that the tenant answers with a rate limit.
const RATE_LIMIT_TRIES: u32 = 5;

#[derive(Debug)]
pub(crate) struct Auth0Store {
    client: reqwest::Client,
    domain: url::Url,
    client_id: String,
    client_secret: Secret,
    connection: String,
    clock: Arc<dyn Clock>,
    /// The Management API token and when it expires (unix seconds).
    token: tokio::sync::Mutex<Option<(Secret, i64)>>,
    /// The users export being read by `list`, continued page after page.
    export: Arc<Mutex<Option<ExportReader>>>,
    /// How long a users export may take to be ready.
    export_wait: Duration,
}

/// An open users-export file: which job, how many lines were read, the reader.
struct ExportReader {
    job_id: String,
    line: u64,
    path: PathBuf,
    reader: Box<dyn BufRead + Send>,
}

impl std::fmt::Debug for ExportReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportReader").field("job_id", &self.job_id).field("line", &self.line).finish()
    }
}

impl Drop for ExportReader {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::debug!(path = %self.path.display(), error = %e, "users export file already gone");
        }
    }
}

/// An answer of the tenant: status, headers, JSON body (`Null` when empty or not JSON).
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    fn error_code(&self) -> &str {
        self.body.get("error").and_then(Value::as_str).unwrap_or("")
    }
    fn describe(&self) -> String {
        let d = self.body.get("error_description").or_else(|| self.body.get("message")).and_then(Value::as_str);
        format!("HTTP {} {} {}", self.status, self.error_code(), d.unwrap_or("")).trim_end().to_string()
    }
}

impl Auth0Store {
    pub(crate) fn new(c: Auth0Config, timeout: Duration, clock: Arc<dyn Clock>) -> Result<Self, crate::ConfigError> {
        let client = crate::http::client(timeout)?;
        Ok(Self {
            client,
            domain: c.domain,
            client_id: c.client_id,
            client_secret: Secret::new(c.client_secret),
            connection: c.connection,
            clock,
            token: tokio::sync::Mutex::new(None),
            export: Arc::new(Mutex::new(None)),
            export_wait: c.export_timeout,
        })
    }

    /// How long `list` may take: the first page waits for the users export.
    pub(crate) fn list_budget(&self) -> Duration {
        self.export_wait
    }

    fn url(&self, path: &str) -> Result<url::Url, LegacyError> {
        self.domain.join(path).map_err(|e| LegacyError::unavailable("the tenant's URL", e))
    }

    /// `/api/v2/<segments>`, each segment percent-encoded (`auth0|…` has a `|`).
    fn api_url(&self, segments: &[&str]) -> Result<url::Url, LegacyError> {
        let mut url = self.url("api/v2/")?;
        url.path_segments_mut()
            .map_err(|()| LegacyError::Unavailable("the tenant's URL cannot have a path".into()))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// The Management API's audience: `https://<domain>/api/v2/`.
    fn audience(&self) -> String {
        format!("{}api/v2/", self.domain)
    }

    /// Sends the request `build` makes, again while the tenant answers 429 for a rate
    /// limit (not `too_many_attempts`, a user's block), waiting as it says, until
    /// `deadline`.
    async fn send(
        &self,
        what: &str,
        deadline: Instant,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Answer, LegacyError> {
        let mut tries = 0;
        loop {
            tries += 1;
            let resp = build().send().await.map_err(|e| LegacyError::unavailable(what, e))?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let text = resp.text().await.map_err(|e| LegacyError::unavailable(what, e))?;
            let body = serde_json::from_str(&text).unwrap_or(Value::Null);
            let answer = Answer { status, headers, body };
            if status != 429 || answer.error_code() == "too_many_attempts" {
                return Ok(answer);
            }
            let wait = self.retry_after(&answer.headers);
            if tries >= RATE_LIMIT_TRIES || Instant::now() + wait > deadline {
                return Err(LegacyError::RateLimited { retry_after_secs: wait.as_secs().max(1) });
            }
            tracing::info!(call = what, wait_ms = wait.as_millis() as u64, "the old tenant rate-limits; backing off");
            tokio::time::sleep(wait).await;
        }
    }

    /// `Retry-After` (seconds), else `X-RateLimit-Reset` (unix seconds), else one second.
    fn retry_after(&self, headers: &HeaderMap) -> Duration {
        let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<i64>().ok());
        let secs = match (header("retry-after"), header("x-ratelimit-reset")) {
            (Some(s), _) => s,
            (None, Some(reset)) => reset - self.clock.now().unix_timestamp(),
            (None, None) => 1,
        };
        Duration::from_secs(secs.clamp(0, 3600) as u64)
    }

    /// A Management API token, reused until a minute before it expires.
    async fn management_token(&self, deadline: Instant) -> Result<String, LegacyError> {
        let mut cached = self.token.lock().await;
        let now = self.clock.now().unix_timestamp();
        if let Some((token, expires)) = &*cached {
            if *expires - 60 > now {
                return Ok(token.expose().to_string());
            }
        }
        let audience = self.audience();
        let url = self.url("oauth/token")?;
        let answer = self
            .send("management token", deadline, || {
                self.client.post(url.clone()).form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", self.client_id.as_str()),
                    ("client_secret", self.client_secret.expose()),
                    ("audience", audience.as_str()),
                ])
            })
            .await?;
        if answer.status != 200 {
            return Err(LegacyError::Unavailable(format!(
                "the old tenant refused a Management API token to client {} (it needs a client grant for {audience} \
                 with read:users): {}",
                self.client_id,
                answer.describe()
            )));
        }
        let token = answer.body.get("access_token").and_then(Value::as_str).ok_or_else(|| {
            LegacyError::Unavailable("the old tenant's client-credentials answer has no access_token".into())
        })?;
        let expires_in = answer.body.get("expires_in").and_then(Value::as_i64).unwrap_or(0);
        *cached = Some((Secret::new(token.to_string()), now + expires_in));
        Ok(token.to_string())
    }

    /// A Management API call (`path` under `/api/v2/`), with the token.
    async fn management(
        &self,
        what: &str,
        deadline: Instant,
        method: reqwest::Method,
        path: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Answer, LegacyError> {
        let token = self.management_token(deadline).await?;
        let url = self.api_url(path)?;
        let answer = self
            .send(what, deadline, || {
                let mut req = self.client.request(method.clone(), url.clone()).bearer_auth(&token).query(query);
                if let Some(b) = body {
                    req = req.json(b);
                }
                req
            })
            .await?;
        if answer.status == 401 {
            // Revoked or expired early: the next call asks for a new one.
            *self.token.lock().await = None;
        }
        Ok(answer)
    }

    fn deadline(timeout: Duration) -> Instant {
        Instant::now() + timeout
    }

    /// Whether a tenant user belongs to the configured database connection.
    fn in_connection(&self, user: &Value) -> bool {
        let first = user.get("identities").and_then(Value::as_array).and_then(|ids| ids.first());
        first.is_some_and(|i| {
            i.get("provider").and_then(Value::as_str) == Some("auth0")
                && i.get("connection").and_then(Value::as_str) == Some(self.connection.as_str())
        })
    }

    fn profile(&self, user: &Value) -> Result<Profile, LegacyError> {
        let m = user.as_object().ok_or_else(|| LegacyError::Unavailable("a tenant user is not an object".into()))?;
        Profile::from_auth0_user(m).map_err(|e| LegacyError::Unavailable(format!("a tenant user: {e}")))
    }

    /// The connection's user with this email or username, from the Management API.
    async fn find(&self, login: &str, deadline: Instant) -> Result<Option<Value>, LegacyError> {
        let answer = if login.contains('@') {
            self.management(
                "users-by-email",
                deadline,
                reqwest::Method::GET,
                &["users-by-email"],
                &[("email", login)],
                None,
            )
            .await?
        } else {
            let q = format!("username:\"{}\"", login.replace(['\\', '"'], ""));
            self.management(
                "user search",
                deadline,
                reqwest::Method::GET,
                &["users"],
                &[("q", q.as_str()), ("search_engine", "v3")],
                None,
            )
            .await?
        };
        if answer.status != 200 {
            return Err(LegacyError::Unavailable(format!("the old tenant's user lookup: {}", answer.describe())));
        }
        let users = answer.body.as_array().cloned().unwrap_or_default();
        Ok(users.into_iter().find(|u| self.in_connection(u)))
    }

    pub(crate) async fn login(
        &self,
        login: &str,
        password: &str,
        ip: Option<&str>,
        timeout: Duration,
    ) -> Result<Login, LegacyError> {
        let deadline = Self::deadline(timeout);
        let url = self.url("oauth/token")?;
        let answer = self
            .send("password-realm login", deadline, || {
                let mut req = self.client.post(url.clone()).form(&[
                    ("grant_type", PASSWORD_REALM),
                    ("realm", self.connection.as_str()),
                    ("username", login),
                    ("password", password),
                    ("client_id", self.client_id.as_str()),
                    ("client_secret", self.client_secret.expose()),
                ]);
                if let Some(ip) = ip {
                    req = req.header("auth0-forwarded-for", ip);
                }
                req
            })
            .await?;
        match (answer.status, answer.error_code()) {
            (200, _) => {}
            (_, "invalid_grant") => return Ok(Login::Rejected),
            (_, "mfa_required") => {
                return Err(LegacyError::Refused {
                    code: "mfa_required",
                    reason: "the old tenant requires multi-factor authentication for this user".into(),
                })
            }
            (_, "password_leaked") => {
                return Err(LegacyError::Refused {
                    code: "password_leaked",
                    reason: "the old tenant found this password in a data breach and blocked it".into(),
                })
            }
            (_, "too_many_attempts") => return Err(LegacyError::TooManyAttempts),
            (401, "unauthorized") => return Err(LegacyError::UserBlocked),
            _ => {
                return Err(LegacyError::Unavailable(format!(
                    "the old tenant refused the password-realm grant of client {} on connection {} (the client \
                     needs the password-realm grant and the connection enabled): {}",
                    self.client_id,
                    self.connection,
                    answer.describe()
                )))
            }
        }
        // The password is right: the profile comes from the Management API.
        match self.find(login, deadline).await? {
            Some(user) => Ok(Login::Verified(self.profile(&user)?)),
            None => Err(LegacyError::Unavailable(format!(
                "the old tenant accepted the password of a user its Management API does not show in connection {}",
                self.connection
            ))),
        }
    }

    pub(crate) async fn get_user(&self, login: &str, timeout: Duration) -> Result<Option<Profile>, LegacyError> {
        match self.find(login, Self::deadline(timeout)).await? {
            Some(user) => Ok(Some(self.profile(&user)?)),
            None => Ok(None),
        }
    }

    pub(crate) async fn create(&self, u: &NewLegacyUser, timeout: Duration) -> Result<(), LegacyError> {
        let mut body = json!({"connection": self.connection, "email": u.email, "password": u.password});
        if let Some(name) = &u.username {
            body["username"] = json!(name);
        }
        let answer = self
            .management("create user", Self::deadline(timeout), reqwest::Method::POST, &["users"], &[], Some(&body))
            .await?;
        match answer.status {
            200..=299 => Ok(()),
            409 => Err(LegacyError::UserExists),
            400 if answer.body.get("errorCode").and_then(Value::as_str) == Some("auth0_idp_error")
                || answer.describe().contains("already exists") =>
            {
                Err(LegacyError::UserExists)
            }
            _ => Err(LegacyError::Unavailable(format!("the old tenant's user create: {}", answer.describe()))),
        }
    }

    /// A PATCH of the connection's user with this email; `false` when there is none.
    async fn patch_by_email(&self, email: &str, patch: Value, timeout: Duration) -> Result<bool, LegacyError> {
        let deadline = Self::deadline(timeout);
        let Some(user) = self.find(email, deadline).await? else { return Ok(false) };
        let id = user.get("user_id").and_then(Value::as_str).unwrap_or_default();
        let answer =
            self.management("update user", deadline, reqwest::Method::PATCH, &["users", id], &[], Some(&patch)).await?;
        match answer.status {
            200..=299 => Ok(true),
            404 => Ok(false),
            _ => Err(LegacyError::Unavailable(format!("the old tenant's user update: {}", answer.describe()))),
        }
    }

    pub(crate) async fn change_password(
        &self,
        email: &str,
        password: &str,
        timeout: Duration,
    ) -> Result<bool, LegacyError> {
        self.patch_by_email(email, json!({"password": password, "connection": self.connection}), timeout).await
    }

    pub(crate) async fn verify(&self, email: &str, timeout: Duration) -> Result<(), LegacyError> {
        self.patch_by_email(email, json!({"email_verified": true}), timeout).await.map(|_| ())
    }

    /// `user_id` without its `auth0|` prefix, as the profile gave it.
    pub(crate) async fn delete(&self, user_id: &str, timeout: Duration) -> Result<(), LegacyError> {
        let id = format!("auth0|{user_id}");
        let answer = self
            .management("delete user", Self::deadline(timeout), reqwest::Method::DELETE, &["users", &id], &[], None)
            .await?;
        match answer.status {
            200..=299 | 404 => Ok(()),
            _ => Err(LegacyError::Unavailable(format!("the old tenant's user delete: {}", answer.describe()))),
        }
    }

    // ---- list: the users export -----------------------------------------------------

    /// The old connection's id, which a users export is asked for.
    async fn connection_id(&self, deadline: Instant) -> Result<String, LegacyError> {
        let answer = self
            .management(
                "connection lookup",
                deadline,
                reqwest::Method::GET,
                &["connections"],
                &[("name", self.connection.as_str()), ("strategy", "auth0")],
                None,
            )
            .await?;
        if answer.status != 200 {
            return Err(LegacyError::Unavailable(format!(
                "the old tenant's connection lookup (the client needs read:connections): {}",
                answer.describe()
            )));
        }
        let list = answer.body.as_array().cloned().unwrap_or_default();
        list.iter()
            .find(|c| c.get("name").and_then(Value::as_str) == Some(self.connection.as_str()))
            .and_then(|c| c.get("id").and_then(Value::as_str))
            .map(str::to_string)
            .ok_or_else(|| LegacyError::Unavailable(format!("the old tenant has no connection {}", self.connection)))
    }

    /// Starts a users export of the connection; the job's id.
    async fn start_export(&self, deadline: Instant) -> Result<String, LegacyError> {
        let connection_id = self.connection_id(deadline).await?;
        let fields: Vec<Value> = EXPORT_FIELDS.iter().map(|f| json!({"name": f})).collect();
        let body = json!({"connection_id": connection_id, "format": "json", "fields": fields});
        let answer = self
            .management("users export", deadline, reqwest::Method::POST, &["jobs", "users-exports"], &[], Some(&body))
            .await?;
        match (answer.status, answer.body.get("id").and_then(Value::as_str)) {
            (200 | 201, Some(id)) => Ok(id.to_string()),
            _ => Err(LegacyError::Unavailable(format!("the old tenant's users export: {}", answer.describe()))),
        }
    }

    /// Waits for the export job to complete; its download location.
    async fn export_location(&self, job_id: &str, deadline: Instant) -> Result<String, LegacyError> {
        let mut pause = Duration::from_millis(200);
        loop {
            let answer =
                self.management("export job", deadline, reqwest::Method::GET, &["jobs", job_id], &[], None).await?;
            if answer.status != 200 {
                return Err(LegacyError::Unavailable(format!("the old tenant's export job: {}", answer.describe())));
            }
            match answer.body.get("status").and_then(Value::as_str) {
                Some("completed") => {
                    return answer.body.get("location").and_then(Value::as_str).map(str::to_string).ok_or_else(|| {
                        LegacyError::Unavailable("the old tenant's completed export has no location".into())
                    })
                }
                Some("failed" | "expired") => {
                    return Err(LegacyError::Unavailable(format!(
                        "the old tenant's export job {job_id} ended {}",
                        answer.body["status"]
                    )))
                }
                _ => {}
            }
            if Instant::now() + pause > deadline {
                return Err(LegacyError::Unavailable(format!(
                    "the old tenant's export job {job_id} did not complete in time"
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    }

    /// Downloads the export (gzip-compressed NDJSON) to a temporary file and opens it.
    async fn open_export(&self, job_id: &str, deadline: Instant) -> Result<ExportReader, LegacyError> {
        let location = self.export_location(job_id, deadline).await?;
        let url = url::Url::parse(&location).map_err(|e| LegacyError::unavailable("the export location", e))?;
        // A signed link on its own (Auth0's is another host): no token goes with it.
        let resp = self
            .client
            .get(url)
            .timeout(deadline.saturating_duration_since(Instant::now()))
            .send()
            .await
            .map_err(|e| LegacyError::unavailable("the export download", e))?;
        if !resp.status().is_success() {
            return Err(LegacyError::Unavailable(format!("the export download answered HTTP {}", resp.status())));
        }
        let path = std::env::temp_dir().join(format!("gatehouse-auth0-export-{job_id}-{}.json.gz", std::process::id()));
        let mut file =
            tokio::fs::File::create(&path).await.map_err(|e| LegacyError::unavailable("the export file", e))?;
        let mut resp = resp;
        while let Some(chunk) = resp.chunk().await.map_err(|e| LegacyError::unavailable("the export download", e))? {
            tokio::io::AsyncWriteExt::write_all(&mut file, &chunk)
                .await
                .map_err(|e| LegacyError::unavailable("the export file", e))?;
        }
        // tokio's writes finish on another thread: wait for them before reading back.
        tokio::io::AsyncWriteExt::flush(&mut file).await.map_err(|e| LegacyError::unavailable("the export file", e))?;
        drop(file);
        let opened = std::fs::File::open(&path).map_err(|e| LegacyError::unavailable("the export file", e))?;
        let mut raw = BufReader::new(opened);
        // Auth0 sends `.json.gz`; a file served uncompressed is read as it is.
        let gzip =
            raw.fill_buf().map_err(|e| LegacyError::unavailable("the export file", e))?.starts_with(&[0x1f, 0x8b]);
        let reader: Box<dyn BufRead + Send> =
            if gzip { Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(raw))) } else { Box::new(raw) };
        Ok(ExportReader { job_id: job_id.to_string(), line: 0, path, reader })
    }

    /// A page of the connection's users from a users export. `after` is
    /// `<job id>:<lines read>`; a reader lost (another process, a restart) is opened
    /// again from the job's fresh location and skipped to where the page starts.
    pub(crate) async fn list(&self, after: Option<&str>, limit: u32) -> Result<Page, LegacyError> {
        let deadline = Self::deadline(self.export_wait);
        let (job_id, line) = match after {
            None => (self.start_export(deadline).await?, 0),
            Some(cursor) => {
                let (job, line) = cursor
                    .rsplit_once(':')
                    .and_then(|(j, l)| l.parse::<u64>().ok().map(|l| (j.to_string(), l)))
                    .ok_or_else(|| LegacyError::Unavailable(format!("not a users-export position: {cursor}")))?;
                (job, line)
            }
        };
        let current = self.export.lock().ok().and_then(|mut e| e.take());
        let mut reader = match current {
            Some(r) if r.job_id == job_id && r.line == line => r,
            _ => self.open_export(&job_id, deadline).await?,
        };
        let slot = self.export.clone();
        let limit = limit as usize;
        let read = tokio::task::spawn_blocking(move || {
            let mut lines = Vec::with_capacity(limit);
            let mut buf = String::new();
            // Skip what earlier pages read (only after a reopen).
            while reader.line < line {
                buf.clear();
                match reader.reader.read_line(&mut buf) {
                    Ok(0) => break,
                    Ok(_) => reader.line += 1,
                    Err(e) => return Err(LegacyError::unavailable("reading the export", e)),
                }
            }
            let mut end = false;
            while lines.len() < limit {
                buf.clear();
                match reader.reader.read_line(&mut buf) {
                    Ok(0) => {
                        end = true;
                        break;
                    }
                    Ok(_) => {
                        reader.line += 1;
                        if !buf.trim().is_empty() {
                            lines.push((reader.line, buf.trim().to_string()));
                        }
                    }
                    Err(e) => return Err(LegacyError::unavailable("reading the export", e)),
                }
            }
            let next = (!end).then(|| format!("{}:{}", reader.job_id, reader.line));
            if !end {
                if let Ok(mut s) = slot.lock() {
                    *s = Some(reader);
                }
            }
            Ok((lines, next))
        })
        .await
        .map_err(|e| LegacyError::unavailable("reading the export", e))??;
        let (lines, next) = read;
        let mut users = Vec::with_capacity(lines.len());
        for (n, text) in lines {
            let user: Value = serde_json::from_str(&text)
                .map_err(|e| LegacyError::Unavailable(format!("line {n} of the users export is not JSON: {e}")))?;
            let m = user.as_object().cloned().unwrap_or_else(Map::new);
            let profile = Profile::from_auth0_user(&m)
                .map_err(|e| LegacyError::Unavailable(format!("line {n} of the users export: {e}")))?;
            users.push(ListedUser { profile, hash: None });
        }
        Ok(Page { users, next })
    }
}
