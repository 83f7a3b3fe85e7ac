//! What every handler can reach: the store, the signing keys, the hashing pool, the
//! clock and the runtime configuration. Passed explicitly; there are no globals.

use crate::hashing::HashPool;
use crate::keys::KeyRing;
use gatehouse_core::clock::Clock;
use gatehouse_store::Store;
use std::path::PathBuf;
use std::sync::Arc;

pub use gatehouse_core::branding::Branding;

/// Runtime configuration, already validated.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Public base URL, always ending in `/` (Auth0's `iss` form).
    pub issuer: String,
    /// Lifetime of access tokens (Management API and user tokens).
    pub access_token_ttl_secs: i64,
    /// Lifetime of ID tokens (Auth0's default: 10 hours).
    pub id_token_ttl_secs: i64,
    /// Inactivity lifetime of a refresh grant: a token not exchanged within this lapses
    /// (each rotation starts it afresh).
    pub refresh_token_ttl_secs: i64,
    /// Absolute lifetime of a refresh grant: no rotation outlives its first token by more.
    pub refresh_token_family_ttl_secs: i64,
    /// Lifetime of a single sign-on session (Auth0's default inactivity timeout: 3 days).
    pub session_ttl_secs: i64,
    /// Lifetime of an authorization code.
    pub auth_code_ttl_secs: i64,
    /// How long a user has to finish the hosted login page.
    pub login_transaction_ttl_secs: i64,
    /// Audiences (APIs) user access tokens may be issued for, besides `<issuer>userinfo`.
    pub api_audiences: Vec<String>,
    pub branding: Branding,
    /// A directory whose `*.html` files replace the embedded page templates of the same name.
    pub template_dir: Option<PathBuf>,
    /// Where job files (uploaded imports, finished exports) live. Nodes that share one
    /// PostgreSQL must share this directory too, since any node may run any job.
    pub data_dir: PathBuf,
    pub jobs: JobsConfig,
    pub rate_limits: crate::ratelimit::RateLimitConfig,
    /// Stream audit events to this HTTP endpoint as well as storing them.
    pub log_stream: Option<crate::audit::LogStreamConfig>,
    /// Outgoing email (default: files in `<data_dir>/outbox`).
    pub mail: crate::mail::MailConfig,
    /// Outgoing text messages: passwordless codes of `sms` connections (default: files in
    /// `<data_dir>/sms-outbox`).
    pub sms: crate::sms::SmsConfig,
    /// Refuse the 10,000 most common (breached) passwords at sign-up and reset, whatever
    /// the connection's dictionary setting.
    pub breached_password_detection: bool,
    /// Threads that hash and verify passwords; 0 means one per core.
    pub hashing_threads: usize,
    /// Tell each response's time spent on password hashes in a `Server-Timing` header.
    /// Off by default: it tells a client exactly how long its password check took.
    pub server_timing: bool,
    /// The sandbox of Actions and custom database scripts: its time and memory limits,
    /// the hosts scripts may reach, its threads.
    pub scripts: gatehouse_scripts::Limits,
}

/// Limits and timings of background jobs.
#[derive(Debug, Clone)]
pub struct JobsConfig {
    /// Jobs one node runs at once.
    pub concurrency: usize,
    /// Largest import file accepted.
    pub max_import_bytes: u64,
    /// How long an export's download link stays valid (each `GET` of the job gives a
    /// fresh one).
    pub download_link_ttl_secs: i64,
    /// A running job's node proves it is alive this often …
    pub heartbeat_secs: u64,
    /// … and another node takes the job over when it has been silent this long.
    pub stale_after_secs: i64,
    /// Finished jobs, their errors and files are deleted after this long.
    pub retention_secs: i64,
    /// Where job files are kept; `None`: in the database on PostgreSQL, in the data
    /// directory on SQLite (see [`crate::job_files`]).
    pub files: Option<crate::job_files::JobFileStorage>,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            concurrency: 2,
            max_import_bytes: 4 * 1024 * 1024 * 1024,
            download_link_ttl_secs: 600,
            heartbeat_secs: 3,
            stale_after_secs: 15,
            retention_secs: 86_400,
            files: None,
        }
    }
}

impl ServerConfig {
    pub fn new(issuer: &str) -> Self {
        let issuer = if issuer.ends_with('/') { issuer.to_string() } else { format!("{issuer}/") };
        Self {
            issuer,
            access_token_ttl_secs: 86_400,
            id_token_ttl_secs: 36_000,
            refresh_token_ttl_secs: 30 * 86_400,
            refresh_token_family_ttl_secs: 365 * 86_400,
            session_ttl_secs: 3 * 86_400,
            auth_code_ttl_secs: 60,
            login_transaction_ttl_secs: 3_600,
            api_audiences: Vec::new(),
            branding: Branding::default(),
            template_dir: None,
            data_dir: PathBuf::from("data"),
            jobs: JobsConfig::default(),
            rate_limits: crate::ratelimit::RateLimitConfig::default(),
            log_stream: None,
            mail: crate::mail::MailConfig::default(),
            sms: crate::sms::SmsConfig::default(),
            breached_password_detection: true,
            hashing_threads: 0,
            server_timing: false,
            scripts: gatehouse_scripts::Limits::default(),
        }
    }

    /// The audience of access tokens that only serve `/userinfo`.
    pub fn userinfo_audience(&self) -> String {
        format!("{}userinfo", self.issuer)
    }

    /// Cookies are `Secure` when the public URL is https (so plain-http local runs work).
    pub fn secure_cookies(&self) -> bool {
        self.issuer.starts_with("https://")
    }

    /// Where social and OpenID Connect providers send the browser back.
    pub fn social_callback_url(&self) -> String {
        format!("{}login/callback", self.issuer)
    }

    /// The audience of Management API tokens: `<issuer>api/v2/`.
    pub fn management_audience(&self) -> String {
        format!("{}api/v2/", self.issuer)
    }
}

#[derive(Clone)]
pub struct Services {
    pub store: Store,
    pub config: Arc<ServerConfig>,
    pub keys: KeyRing,
    pub hashing: HashPool,
    pub clock: Arc<dyn Clock>,
    /// Signs export download links; generated once per store, shared by every node.
    pub link_key: Arc<gatehouse_core::secret::Secret>,
    /// This process's name in job claims.
    pub node_id: Arc<str>,
    pub rate_limiter: crate::ratelimit::RateLimiter,
    pub audit: crate::audit::AuditLog,
    pub mail: crate::mail::Mail,
    /// Sends the passwordless codes of `sms` connections.
    pub sms: crate::sms::SmsSender,
    /// Wakes the job worker when a job is created.
    pub job_created: Arc<tokio::sync::Notify>,
    /// The connections' legacy identity stores, built on first use.
    pub legacy: crate::legacy::Registry,
    /// The client for social and OIDC providers, with its discovery and JWKS caches.
    pub upstreams: Arc<crate::social::Upstreams>,
    pub metrics: crate::metrics::Metrics,
    /// The JavaScript sandbox that runs Actions and custom database scripts.
    pub scripts: gatehouse_scripts::Sandbox,
}

impl Services {
    pub fn now(&self) -> String {
        gatehouse_core::clock::iso8601(self.clock.now())
    }
}
