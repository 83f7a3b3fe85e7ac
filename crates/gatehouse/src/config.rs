//! Configuration: defaults < `gatehouse.toml` < `GATEHOUSE_*` environment (`__` nests)
//! < command-line flags, read into [`RawConfig`] and validated into [`Config`] in one step.
//!
//! Secrets may also come from files (`*_FILE` variables or `*_file` keys), so they need
//! not sit in the environment of every process.

use anyhow::{bail, Context};
use figment::providers::{Format, Serialized, Toml};
use figment::Figment;
use gatehouse_hash::{Argon2Config, Limits};
use gatehouse_services::job_files::JobFileStorage;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The default store: an embedded SQLite file next to the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/gatehouse.db";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
const DEFAULT_CONFIG_FILE: &str = "gatehouse.toml";

/// The configuration as written by the operator, before validation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    pub listen: String,
    pub issuer: Option<String>,
    pub database_url: String,
    pub admin_client_id: Option<String>,
    pub admin_client_secret: Option<String>,
    pub admin_client_secret_file: Option<PathBuf>,
    /// The first administrator of the admin console: created in the default database
    /// connection with this password unless the user exists, and given the console role.
    pub console_admin_email: Option<String>,
    pub console_admin_password: Option<String>,
    pub console_admin_password_file: Option<PathBuf>,
    /// `text` (default on a terminal) or `json`.
    pub log_format: Option<String>,
    /// A `tracing` filter, e.g. `info,gatehouse_server=debug`.
    pub log: String,
    /// Job files (uploaded imports, finished exports). Shared storage when several nodes
    /// share one PostgreSQL.
    pub data_dir: PathBuf,
    pub hash: HashSettings,
    pub jobs: JobSettings,
    pub rate_limits: RateLimitSettings,
    pub log_stream: Option<LogStreamSettings>,
    /// How the hosted pages look.
    pub branding: BrandingSettings,
    /// A directory whose `*.html` files replace the embedded page templates.
    pub template_dir: Option<PathBuf>,
    /// APIs (audiences) user access tokens may be issued for.
    pub api_audiences: Vec<String>,
    pub tokens: TokenSettings,
    /// Outgoing email.
    pub mail: MailSettings,
    /// Outgoing text messages (passwordless codes of `sms` connections).
    pub sms: SmsSettings,
    /// Refuse the 10,000 most common (breached) passwords at sign-up and reset.
    pub breached_password_detection: bool,
    /// HTTPS on `listen`.
    pub tls: TlsSettings,
    /// The keys that seal secrets at rest.
    pub secrets: SecretsSettings,
    /// The sandbox of Actions and custom database scripts.
    pub scripts: ScriptsSettings,
}

/// The sandbox that runs Actions and custom database scripts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScriptsSettings {
    /// How long one run may take (Auth0: 20 s).
    pub timeout_ms: u64,
    /// The most memory one run's JavaScript may hold.
    pub memory_mb: u64,
    /// The only hosts scripts may connect to (HTTP, MySQL, PostgreSQL): exact names or
    /// `*.example.com`. Empty: none.
    pub allowed_hosts: Vec<String>,
    /// Sandbox threads.
    pub threads: usize,
}

impl Default for ScriptsSettings {
    fn default() -> Self {
        Self { timeout_ms: 20_000, memory_mb: 64, allowed_hosts: Vec::new(), threads: 2 }
    }
}

/// HTTPS on the listener: a PEM certificate chain and key, or (for development) a
/// self-signed certificate for `localhost` and `127.0.0.1` made once under `data_dir`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSettings {
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub self_signed: bool,
}

/// Where the listener's certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tls {
    Files {
        cert_file: PathBuf,
        key_file: PathBuf,
    },
    /// `data_dir/tls/self-signed.{crt,key}`, made at the first start.
    SelfSigned,
}

/// The key-encryption keys that seal the secrets the store keeps (signing keys, upstream
/// and legacy-store credentials, MFA secrets): `ID:BASE64` entries of 32 bytes, the first
/// seals, all open. From `keys` or a file (`keys_file`, one entry a line), not both.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsSettings {
    pub keys: Vec<String>,
    pub keys_file: Option<PathBuf>,
}

impl std::fmt::Debug for SecretsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretsSettings {{ keys: <{} redacted>, keys_file: {:?} }}", self.keys.len(), self.keys_file)
    }
}

/// Outgoing email: `transport = "outbox"` (files, for development) or `"smtp"`.
/// Outgoing text messages: `transport = "outbox"` (files, for development) or
/// `"webhook"` (a JSON `POST` of `{"to","body"}` to a gateway of your own).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmsSettings {
    pub transport: String,
    /// Default: `<data_dir>/sms-outbox`.
    pub outbox_dir: Option<PathBuf>,
    pub webhook_url: Option<String>,
    /// Sent as `Authorization: Bearer <token>`.
    pub webhook_token: Option<String>,
    pub webhook_token_file: Option<PathBuf>,
    pub timeout_secs: u64,
}

impl Default for SmsSettings {
    fn default() -> Self {
        Self {
            transport: "outbox".into(),
            outbox_dir: None,
            webhook_url: None,
            webhook_token: None,
            webhook_token_file: None,
            timeout_secs: gatehouse_services::sms::SmsConfig::default().timeout_secs,
        }
    }
}

/// The token never shows in debug output.
impl std::fmt::Debug for SmsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsSettings")
            .field("transport", &self.transport)
            .field("outbox_dir", &self.outbox_dir)
            .field("webhook_url", &self.webhook_url)
            .field("webhook_token", &self.webhook_token.as_ref().map(|_| "<redacted>"))
            .field("webhook_token_file", &self.webhook_token_file)
            .field("timeout_secs", &self.timeout_secs)
            .finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailSettings {
    pub from: String,
    pub transport: String,
    /// Default: `<data_dir>/outbox`.
    pub outbox_dir: Option<PathBuf>,
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    /// `starttls` (default), `tls` (implicit TLS) or `none` (a local sink only).
    pub smtp_security: String,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<String>,
    pub smtp_password_file: Option<PathBuf>,
    pub timeout_secs: u64,
    /// Who gets import completion emails.
    pub admin_emails: Vec<String>,
}

impl Default for MailSettings {
    fn default() -> Self {
        let d = gatehouse_services::mail::MailConfig::default();
        Self {
            from: d.from,
            transport: "outbox".into(),
            outbox_dir: None,
            smtp_host: None,
            smtp_port: None,
            smtp_security: "starttls".into(),
            smtp_username: None,
            smtp_password: None,
            smtp_password_file: None,
            timeout_secs: d.timeout_secs,
            admin_emails: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrandingSettings {
    pub name: String,
    pub logo_url: Option<String>,
    pub primary_color: String,
    pub page_background: String,
}

impl Default for BrandingSettings {
    fn default() -> Self {
        let b = gatehouse_services::state::Branding::default();
        Self { name: b.name, logo_url: b.logo_url, primary_color: b.primary_color, page_background: b.page_background }
    }
}

/// Lifetimes, in seconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenSettings {
    pub access_token_ttl_secs: u64,
    pub id_token_ttl_secs: u64,
    pub refresh_token_ttl_secs: u64,
    pub refresh_token_family_ttl_secs: u64,
    pub session_ttl_secs: u64,
}

impl Default for TokenSettings {
    fn default() -> Self {
        let d = gatehouse_services::state::ServerConfig::new("http://localhost/");
        let secs = |v: i64| u64::try_from(v).unwrap_or(0);
        Self {
            access_token_ttl_secs: secs(d.access_token_ttl_secs),
            id_token_ttl_secs: secs(d.id_token_ttl_secs),
            refresh_token_ttl_secs: secs(d.refresh_token_ttl_secs),
            refresh_token_family_ttl_secs: secs(d.refresh_token_family_ttl_secs),
            session_ttl_secs: secs(d.session_ttl_secs),
        }
    }
}

/// Stream audit events to an HTTP endpoint (batched POSTs of JSON arrays).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogStreamSettings {
    pub url: String,
    pub token: Option<String>,
    #[serde(default = "default_batch")]
    pub batch_size: usize,
}

fn default_batch() -> usize {
    100
}

/// Requests allowed per minute; `redis_url` shares the budgets between nodes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitSettings {
    pub authentication_per_ip_per_minute: u64,
    pub management_per_token_per_minute: u64,
    pub redis_url: Option<String>,
    /// Key prefix in Redis, so several deployments can share one Redis.
    pub redis_prefix: String,
    /// The longest a request waits on Redis.
    pub redis_timeout_ms: u64,
    /// `open` (count nothing, let requests through) or `closed` (503) while Redis is down.
    pub redis_failure_mode: String,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        let d = gatehouse_services::ratelimit::RateLimitConfig::default();
        Self {
            authentication_per_ip_per_minute: d.authentication_per_ip.limit,
            management_per_token_per_minute: d.management_per_token.limit,
            redis_url: None,
            redis_prefix: d.redis_prefix,
            redis_timeout_ms: u64::try_from(d.redis_timeout.as_millis()).unwrap_or(50),
            redis_failure_mode: d.on_redis_failure.as_str().into(),
        }
    }
}

/// Background jobs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobSettings {
    pub concurrency: u64,
    pub max_import_bytes: u64,
    pub download_link_ttl_secs: u64,
    /// `database` or `directory`; unset: `database` on PostgreSQL, `directory` on SQLite.
    pub files: Option<String>,
}

impl Default for JobSettings {
    fn default() -> Self {
        let d = gatehouse_services::state::JobsConfig::default();
        Self {
            concurrency: d.concurrency as u64,
            max_import_bytes: d.max_import_bytes,
            download_link_ttl_secs: u64::try_from(d.download_link_ttl_secs).unwrap_or(600),
            files: None,
        }
    }
}

/// argon2id parameters for new hashes and caps on imported ones.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HashSettings {
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    pub bcrypt_max_cost: u32,
    pub pbkdf2_max_iterations: u32,
    pub scrypt_max_memory_bytes: u64,
    pub argon2_max_memory_kib: u32,
    /// Threads that hash and verify passwords; 0 means one per core.
    pub threads: usize,
    /// Say in a `Server-Timing: hash;dur=<ms>` response header how long the request
    /// waited on password hashes (for benchmarks and debugging; off by default).
    pub server_timing: bool,
}

impl Default for HashSettings {
    fn default() -> Self {
        let a = Argon2Config::default();
        let l = Limits::default();
        Self {
            argon2_memory_kib: a.memory_kib,
            argon2_iterations: a.iterations,
            argon2_parallelism: a.parallelism,
            bcrypt_max_cost: l.bcrypt_max_cost,
            pbkdf2_max_iterations: l.pbkdf2_max_iterations,
            scrypt_max_memory_bytes: l.scrypt_max_memory_bytes,
            argon2_max_memory_kib: l.argon2_max_memory_kib,
            threads: 0,
            server_timing: false,
        }
    }
}

impl Default for RawConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.into(),
            issuer: None,
            database_url: DEFAULT_DATABASE_URL.into(),
            admin_client_id: None,
            admin_client_secret: None,
            admin_client_secret_file: None,
            console_admin_email: None,
            console_admin_password: None,
            console_admin_password_file: None,
            log_format: None,
            log: "info".into(),
            data_dir: PathBuf::from("data"),
            hash: HashSettings::default(),
            jobs: JobSettings::default(),
            rate_limits: RateLimitSettings::default(),
            log_stream: None,
            branding: BrandingSettings::default(),
            template_dir: None,
            api_audiences: Vec::new(),
            tokens: TokenSettings::default(),
            mail: MailSettings::default(),
            sms: SmsSettings::default(),
            breached_password_detection: true,
            tls: TlsSettings::default(),
            secrets: SecretsSettings::default(),
            scripts: ScriptsSettings::default(),
        }
    }
}

/// Top-level keys, as `GATEHOUSE_<KEY>` variables take them.
const KEYS: &[&str] = &[
    "listen",
    "issuer",
    "database_url",
    "admin_client_id",
    "admin_client_secret",
    "admin_client_secret_file",
    "console_admin_email",
    "console_admin_password",
    "console_admin_password_file",
    "log_format",
    "log",
    "hash",
    "data_dir",
    "jobs",
    "rate_limits",
    "log_stream",
    "branding",
    "template_dir",
    "api_audiences",
    "tokens",
    "mail",
    "sms",
    "breached_password_detection",
    "tls",
    "secrets",
    "scripts",
    "config",
];

/// Nested keys whose values are text.
const NESTED_TEXT_KEYS: &[&str] = &[
    "log_stream.url",
    "log_stream.token",
    "rate_limits.redis_url",
    "rate_limits.redis_prefix",
    "rate_limits.redis_failure_mode",
    "jobs.files",
    "branding.name",
    "branding.logo_url",
    "branding.primary_color",
    "branding.page_background",
    "mail.from",
    "mail.transport",
    "mail.outbox_dir",
    "mail.smtp_host",
    "mail.smtp_security",
    "mail.smtp_username",
    "mail.smtp_password",
    "mail.smtp_password_file",
    "sms.transport",
    "sms.outbox_dir",
    "sms.webhook_url",
    "sms.webhook_token",
    "sms.webhook_token_file",
    "tls.cert_file",
    "tls.key_file",
    "secrets.keys_file",
];

/// Keys whose values are `true` or `false`.
const BOOLEAN_KEYS: &[&str] = &["breached_password_detection", "hash.server_timing", "tls.self_signed"];

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub issuer: String,
    pub database_url: String,
    pub admin: Option<(String, String)>,
    /// The console's first administrator: email and password.
    pub console_admin: Option<(String, String)>,
    pub json_logs: bool,
    pub log_filter: String,
    pub argon2: Argon2Config,
    pub limits: Limits,
    pub hashing_threads: usize,
    pub server_timing: bool,
    pub data_dir: PathBuf,
    pub jobs: gatehouse_services::state::JobsConfig,
    pub rate_limits: gatehouse_services::ratelimit::RateLimitConfig,
    pub log_stream: Option<gatehouse_services::audit::LogStreamConfig>,
    pub branding: gatehouse_services::state::Branding,
    pub template_dir: Option<PathBuf>,
    pub api_audiences: Vec<String>,
    pub tokens: TokenSettings,
    pub mail: gatehouse_services::mail::MailConfig,
    pub sms: gatehouse_services::sms::SmsConfig,
    pub breached_password_detection: bool,
    pub tls: Option<Tls>,
    /// `secrets.keys` entries, checked; empty: the development key.
    pub secret_keys: Vec<gatehouse_core::secret::Secret>,
    pub scripts: gatehouse_scripts::Limits,
}

impl Config {
    /// The keys the store seals secrets under.
    pub fn secret_keys(&self) -> anyhow::Result<gatehouse_store::SecretKeys> {
        if self.secret_keys.is_empty() {
            return Ok(gatehouse_store::SecretKeys::development());
        }
        let entries: Vec<&str> = self.secret_keys.iter().map(|s| s.expose()).collect();
        Ok(gatehouse_store::SecretKeys::parse(&entries)?)
    }
}

/// Flags that override everything else.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub listen: Option<String>,
    pub database_url: Option<String>,
}

/// Reads and validates the configuration from the file, the process environment and
/// `overrides`. Returns the config and the names of unknown `GATEHOUSE_*` variables, to
/// be warned about once logging is up.
pub fn load(overrides: &Overrides) -> anyhow::Result<(Config, Vec<String>)> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    load_from(overrides, &env)
}

fn load_from(overrides: &Overrides, env: &[(String, String)]) -> anyhow::Result<(Config, Vec<String>)> {
    let env_config_file = env.iter().find(|(k, _)| k == "GATEHOUSE_CONFIG").map(|(_, v)| PathBuf::from(v));
    let file = overrides.config_file.clone().or(env_config_file);
    let mut figment = Figment::from(Serialized::defaults(RawConfig::default()));
    match &file {
        Some(path) => {
            if !path.exists() {
                bail!("config file {} does not exist", path.display());
            }
            figment = figment.merge(Toml::file(path));
        }
        None if Path::new(DEFAULT_CONFIG_FILE).exists() => figment = figment.merge(Toml::file(DEFAULT_CONFIG_FILE)),
        None => {}
    }
    let mut unknown = Vec::new();
    for (name, value) in env {
        let Some(key) = name.strip_prefix("GATEHOUSE_") else { continue };
        if !is_known_env_key(key) {
            unknown.push(name.clone());
            continue;
        }
        if key == "CONFIG" {
            continue;
        }
        let path = key.to_ascii_lowercase().replace("__", ".");
        // Top-level settings and the few nested text settings are strings; the other
        // nested settings are numbers, but for the flags.
        figment = if ["api_audiences", "mail.admin_emails", "secrets.keys", "scripts.allowed_hosts"]
            .contains(&path.as_str())
        {
            let list: Vec<&str> = value.split(',').map(str::trim).filter(|v| !v.is_empty()).collect();
            figment.merge(Serialized::default(&path, list))
        } else if BOOLEAN_KEYS.contains(&path.as_str()) {
            let b: bool = value.parse().with_context(|| format!("{name}: {value:?} is not true or false"))?;
            figment.merge(Serialized::default(&path, b))
        } else if path.contains('.') && !NESTED_TEXT_KEYS.contains(&path.as_str()) {
            let n: u64 = value.parse().with_context(|| format!("{name}: {value:?} is not a whole number"))?;
            figment.merge(Serialized::default(&path, n))
        } else {
            figment.merge(Serialized::default(&path, value))
        };
    }
    if let Some(l) = &overrides.listen {
        figment = figment.merge(Serialized::default("listen", l));
    }
    if let Some(d) = &overrides.database_url {
        figment = figment.merge(Serialized::default("database_url", d));
    }
    let raw: RawConfig = figment.extract().context("invalid configuration")?;
    let secret_file = raw.admin_client_secret_file.clone();
    Ok((validate(raw, secret_file)?, unknown))
}

fn is_known_env_key(k: &str) -> bool {
    let top = k.split("__").next().unwrap_or(k).to_ascii_lowercase();
    KEYS.contains(&top.as_str())
}

fn validate(raw: RawConfig, secret_file: Option<PathBuf>) -> anyhow::Result<Config> {
    let listen: SocketAddr =
        raw.listen.parse().with_context(|| format!("listen: {:?} is not a host:port address", raw.listen))?;
    let tls = match (&raw.tls.cert_file, &raw.tls.key_file, raw.tls.self_signed) {
        (None, None, false) => None,
        (None, None, true) => Some(Tls::SelfSigned),
        (Some(c), Some(k), false) => Some(Tls::Files { cert_file: c.clone(), key_file: k.clone() }),
        (_, _, true) => bail!("tls.self_signed: cannot be combined with tls.cert_file and tls.key_file"),
        _ => bail!("tls: give both tls.cert_file and tls.key_file (PEM)"),
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let issuer = raw.issuer.clone().unwrap_or_else(|| format!("{scheme}://{listen}/"));
    let parsed = url::Url::parse(&issuer).with_context(|| format!("issuer: {issuer:?} is not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.query().is_some() || parsed.fragment().is_some() {
        bail!("issuer: {issuer:?} must be an http(s) URL without query or fragment");
    }
    let url = raw.database_url.as_str();
    if !(url.starts_with("sqlite:") || url.starts_with("postgres:") || url.starts_with("postgresql:")) {
        bail!("database_url: use sqlite://PATH or postgres://…");
    }
    let secret = match (&raw.admin_client_secret, secret_file) {
        (Some(_), Some(_)) => bail!("admin_client_secret: give the secret or a file holding it, not both"),
        (Some(s), None) => Some(s.clone()),
        (None, Some(path)) => Some(
            std::fs::read_to_string(&path)
                .with_context(|| format!("admin_client_secret_file: cannot read {}", path.display()))?
                .trim_end_matches(['\r', '\n'])
                .to_string(),
        ),
        (None, None) => None,
    };
    let admin = match (raw.admin_client_id, secret) {
        (Some(id), Some(secret)) => {
            if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_graphic()) {
                bail!("admin_client_id: 1 to 128 printable ASCII characters");
            }
            if secret.len() < 16 {
                bail!("admin_client_secret: at least 16 characters");
            }
            Some((id, secret))
        }
        (None, None) => None,
        _ => bail!("admin_client_id and admin_client_secret go together: set both or neither"),
    };
    let console_password = match (&raw.console_admin_password, &raw.console_admin_password_file) {
        (Some(_), Some(_)) => bail!("console_admin_password: give the password or a file holding it, not both"),
        (Some(p), None) => Some(p.clone()),
        (None, Some(path)) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("console_admin_password_file: cannot read {}", path.display()))?
                .trim_end_matches(['\r', '\n'])
                .to_string(),
        ),
        (None, None) => None,
    };
    let console_admin = match (raw.console_admin_email.clone(), console_password) {
        (Some(email), Some(password)) => {
            if gatehouse_core::validate::Email::parse(&email).is_err() {
                bail!("console_admin_email: {email:?} is not an email address");
            }
            Some((email, password))
        }
        (None, None) => None,
        _ => bail!("console_admin_email and console_admin_password go together: set both or neither"),
    };
    let json_logs = match raw.log_format.as_deref() {
        None | Some("text") => false,
        Some("json") => true,
        Some(other) => bail!("log_format: {other:?} is not one of text, json"),
    };
    let h = &raw.hash;
    if !(8..=4 * 1024 * 1024).contains(&h.argon2_memory_kib)
        || !(1..=64).contains(&h.argon2_iterations)
        || !(1..=64).contains(&h.argon2_parallelism)
    {
        bail!("hash: argon2 memory must be 8 KiB..4 GiB, iterations and parallelism 1..64");
    }
    if h.threads > 1024 {
        bail!("hash.threads: 0 (one per core) to 1024");
    }
    let argon2 = Argon2Config {
        memory_kib: h.argon2_memory_kib,
        iterations: h.argon2_iterations,
        parallelism: h.argon2_parallelism,
    };
    let limits = Limits {
        bcrypt_max_cost: h.bcrypt_max_cost,
        pbkdf2_max_iterations: h.pbkdf2_max_iterations,
        scrypt_max_memory_bytes: h.scrypt_max_memory_bytes,
        argon2_max_memory_kib: h.argon2_max_memory_kib.max(argon2.memory_kib),
        ..Limits::default()
    };
    let j = &raw.jobs;
    if !(1..=64).contains(&j.concurrency) || j.download_link_ttl_secs == 0 || j.download_link_ttl_secs > 7 * 86_400 {
        bail!("jobs: concurrency must be 1..64 and download_link_ttl_secs 1..604800");
    }
    let files = match j.files.as_deref() {
        None => None,
        Some(name) => Some(
            JobFileStorage::parse(name)
                .with_context(|| format!("jobs.files: {name:?} is not a storage: use database or directory"))?,
        ),
    };
    let jobs = gatehouse_services::state::JobsConfig {
        concurrency: usize::try_from(j.concurrency).unwrap_or(1),
        max_import_bytes: j.max_import_bytes,
        download_link_ttl_secs: i64::try_from(j.download_link_ttl_secs).unwrap_or(600),
        files,
        ..Default::default()
    };
    let r = &raw.rate_limits;
    if r.authentication_per_ip_per_minute == 0 || r.management_per_token_per_minute == 0 {
        bail!("rate_limits: limits must be at least 1 request per minute");
    }
    if let Some(u) = &r.redis_url {
        if !(u.starts_with("redis://") || u.starts_with("rediss://")) {
            bail!("rate_limits.redis_url: use redis://host:port or rediss://…");
        }
    }
    if r.redis_prefix.is_empty() || r.redis_prefix.len() > 64 || r.redis_prefix.chars().any(char::is_whitespace) {
        bail!("rate_limits.redis_prefix: 1 to 64 characters, no spaces");
    }
    if !(1..=10_000).contains(&r.redis_timeout_ms) {
        bail!("rate_limits.redis_timeout_ms: 1 to 10000 milliseconds");
    }
    let on_redis_failure = match r.redis_failure_mode.as_str() {
        "open" => gatehouse_services::ratelimit::FailureMode::Open,
        "closed" => gatehouse_services::ratelimit::FailureMode::Closed,
        other => bail!("rate_limits.redis_failure_mode: {other:?} is not open or closed"),
    };
    let minute = |limit| gatehouse_services::ratelimit::Quota { limit, window_secs: 60 };
    let rate_limits = gatehouse_services::ratelimit::RateLimitConfig {
        authentication_per_ip: minute(r.authentication_per_ip_per_minute),
        management_per_token: minute(r.management_per_token_per_minute),
        redis_url: r.redis_url.clone(),
        redis_prefix: r.redis_prefix.clone(),
        redis_timeout: std::time::Duration::from_millis(r.redis_timeout_ms),
        on_redis_failure,
    };
    let log_stream = match raw.log_stream {
        None => None,
        Some(l) => {
            let u = url::Url::parse(&l.url).with_context(|| format!("log_stream.url: {:?} is not a URL", l.url))?;
            if !matches!(u.scheme(), "http" | "https") || !(1..=10_000).contains(&l.batch_size) {
                bail!("log_stream: url must be http(s) and batch_size 1..10000");
            }
            Some(gatehouse_services::audit::LogStreamConfig {
                url: l.url,
                token: l.token.map(gatehouse_core::secret::Secret::new),
                batch_size: l.batch_size,
            })
        }
    };
    let b = &raw.branding;
    let branding = gatehouse_services::state::Branding {
        name: b.name.clone(),
        logo_url: b.logo_url.clone(),
        primary_color: b.primary_color.clone(),
        page_background: b.page_background.clone(),
    };
    if let Err(e) = branding.validate() {
        match e {
            gatehouse_core::Error::InvalidField { field, reason } => bail!("branding.{field}: {reason}"),
            other => bail!("branding: {other}"),
        }
    }
    if let Some(dir) = &raw.template_dir {
        if !dir.is_dir() {
            bail!("template_dir: {} is not a directory", dir.display());
        }
    }
    let t = &raw.tokens;
    for (name, v, max) in [
        ("access_token_ttl_secs", t.access_token_ttl_secs, 30 * 86_400),
        ("id_token_ttl_secs", t.id_token_ttl_secs, 30 * 86_400),
        ("refresh_token_ttl_secs", t.refresh_token_ttl_secs, 365 * 86_400),
        ("refresh_token_family_ttl_secs", t.refresh_token_family_ttl_secs, 10 * 365 * 86_400),
        ("session_ttl_secs", t.session_ttl_secs, 365 * 86_400),
    ] {
        if v == 0 || v > max {
            bail!("tokens.{name}: 1 to {max} seconds");
        }
    }
    let mail = mail_config(&raw.mail)?;
    let sms = sms_config(&raw.sms)?;
    let secret_keys = secret_keys(&raw.secrets)?;
    let sc = &raw.scripts;
    if !(100..=60_000).contains(&sc.timeout_ms) {
        bail!("scripts.timeout_ms: 100 to 60000 milliseconds");
    }
    if !(8..=1024).contains(&sc.memory_mb) {
        bail!("scripts.memory_mb: 8 to 1024");
    }
    if !(1..=64).contains(&sc.threads) {
        bail!("scripts.threads: 1 to 64");
    }
    if let Some(bad) = sc.allowed_hosts.iter().find(|h| h.trim().is_empty() || h.contains('/') || h.contains(':')) {
        bail!(
            "scripts.allowed_hosts: {bad:?} is not a host name (no scheme, port or path; *.example.com for subdomains)"
        );
    }
    let scripts = gatehouse_scripts::Limits {
        timeout: std::time::Duration::from_millis(sc.timeout_ms),
        memory_bytes: usize::try_from(sc.memory_mb << 20).unwrap_or(usize::MAX),
        allowed_hosts: sc.allowed_hosts.clone(),
        threads: sc.threads,
    };
    Ok(Config {
        scripts,
        secret_keys,
        mail,
        sms,
        breached_password_detection: raw.breached_password_detection,
        branding,
        template_dir: raw.template_dir.clone(),
        api_audiences: raw.api_audiences.clone(),
        tokens: raw.tokens.clone(),
        log_stream,
        rate_limits,
        listen,
        issuer,
        database_url: raw.database_url,
        admin,
        console_admin,
        json_logs,
        log_filter: raw.log,
        argon2,
        limits,
        hashing_threads: h.threads,
        server_timing: h.server_timing,
        data_dir: raw.data_dir,
        jobs,
        tls,
    })
}

fn sms_config(m: &SmsSettings) -> anyhow::Result<gatehouse_services::sms::SmsConfig> {
    use gatehouse_services::sms::{SmsConfig, SmsTransport};
    if !(1..=300).contains(&m.timeout_secs) {
        bail!("sms.timeout_secs: 1 to 300 seconds");
    }
    let transport = match m.transport.as_str() {
        "outbox" => SmsTransport::Outbox { dir: m.outbox_dir.clone() },
        "webhook" => {
            let Some(url) = m.webhook_url.clone().filter(|u| u.starts_with("https://") || u.starts_with("http://"))
            else {
                bail!("sms.webhook_url: an http(s) URL is required when sms.transport is webhook");
            };
            let token = match (&m.webhook_token, &m.webhook_token_file) {
                (Some(_), Some(_)) => bail!("sms.webhook_token: give the token or a file holding it, not both"),
                (Some(t), None) => Some(t.clone()),
                (None, Some(path)) => Some(
                    std::fs::read_to_string(path)
                        .with_context(|| format!("sms.webhook_token_file: cannot read {}", path.display()))?
                        .trim_end_matches(['\r', '\n'])
                        .to_string(),
                ),
                (None, None) => None,
            };
            SmsTransport::Webhook { url, token: token.map(gatehouse_core::secret::Secret::new) }
        }
        other => bail!("sms.transport: {other:?} is not one of outbox, webhook"),
    };
    Ok(SmsConfig { transport, timeout_secs: m.timeout_secs })
}

fn mail_config(m: &MailSettings) -> anyhow::Result<gatehouse_services::mail::MailConfig> {
    use gatehouse_services::mail::{MailConfig, MailTransport, SmtpSecurity};
    if !(1..=300).contains(&m.timeout_secs) {
        bail!("mail.timeout_secs: 1 to 300 seconds");
    }
    let valid_address = |a: &str| a.contains('@') && !a.chars().any(|c| c.is_control());
    if !valid_address(&m.from) {
        bail!("mail.from: {:?} is not an email address (e.g. \"Gatehouse <no-reply@example.com>\")", m.from);
    }
    if let Some(bad) = m.admin_emails.iter().find(|a| !valid_address(a)) {
        bail!("mail.admin_emails: {bad:?} is not an email address");
    }
    let transport = match m.transport.as_str() {
        "outbox" => MailTransport::Outbox { dir: m.outbox_dir.clone() },
        "smtp" => {
            let Some(host) = m.smtp_host.clone().filter(|h| !h.is_empty()) else {
                bail!("mail.smtp_host: required when mail.transport is smtp");
            };
            let security = match m.smtp_security.as_str() {
                "starttls" => SmtpSecurity::StartTls,
                "tls" => SmtpSecurity::Tls,
                "none" => SmtpSecurity::None,
                other => bail!("mail.smtp_security: {other:?} is not one of starttls, tls, none"),
            };
            let port = m.smtp_port.unwrap_or(match security {
                SmtpSecurity::StartTls => 587,
                SmtpSecurity::Tls => 465,
                SmtpSecurity::None => 25,
            });
            let password = match (&m.smtp_password, &m.smtp_password_file) {
                (Some(_), Some(_)) => bail!("mail.smtp_password: give the password or a file holding it, not both"),
                (Some(p), None) => Some(p.clone()),
                (None, Some(path)) => Some(
                    std::fs::read_to_string(path)
                        .with_context(|| format!("mail.smtp_password_file: cannot read {}", path.display()))?
                        .trim_end_matches(['\r', '\n'])
                        .to_string(),
                ),
                (None, None) => None,
            };
            if m.smtp_username.is_some() != password.is_some() {
                bail!("mail.smtp_username and mail.smtp_password go together: set both or neither");
            }
            MailTransport::Smtp {
                host,
                port,
                security,
                username: m.smtp_username.clone(),
                password: password.map(gatehouse_core::secret::Secret::new),
            }
        }
        other => bail!("mail.transport: {other:?} is not one of outbox, smtp"),
    };
    Ok(MailConfig {
        from: m.from.clone(),
        transport,
        timeout_secs: m.timeout_secs,
        admin_emails: m.admin_emails.clone(),
    })
}

/// The `secrets.keys` entries, from the list or the file, each checked.
fn secret_keys(s: &SecretsSettings) -> anyhow::Result<Vec<gatehouse_core::secret::Secret>> {
    let entries: Vec<String> = match (&s.keys_file, s.keys.is_empty()) {
        (Some(_), false) => bail!("secrets.keys: give the keys or a file holding them, not both"),
        (Some(path), true) => std::fs::read_to_string(path)
            .with_context(|| format!("secrets.keys_file: cannot read {}", path.display()))?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect(),
        (None, _) => s.keys.clone(),
    };
    if s.keys_file.is_some() && entries.is_empty() {
        bail!("secrets.keys_file: the file holds no key");
    }
    if !entries.is_empty() {
        gatehouse_store::SecretKeys::parse(&entries)?;
    }
    Ok(entries.into_iter().map(gatehouse_core::secret::Secret::new).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn secret_keys_come_from_the_environment_or_a_file_newest_first() {
        let (k1, k2) =
            ("k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=", "k2:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=");
        let (c, _) =
            load_from(&Overrides::default(), &env(&[("GATEHOUSE_SECRETS__KEYS", &format!("{k2}, {k1}"))])).unwrap();
        assert_eq!(c.secret_keys().unwrap().current_id(), "k2");
        let path = std::env::temp_dir().join(format!("gh-kek-{}", std::process::id()));
        std::fs::write(&path, format!("# newest first\n{k1}\n\ndev\n")).unwrap();
        let file = env(&[("GATEHOUSE_SECRETS__KEYS_FILE", path.to_str().unwrap())]);
        let (c, _) = load_from(&Overrides::default(), &file).unwrap();
        assert_eq!(c.secret_keys().unwrap().current_id(), "k1");
        assert!(!format!("{c:?}").contains("AQEBAQEB"), "keys never show in Debug");
        let both = env(&[("GATEHOUSE_SECRETS__KEYS_FILE", path.to_str().unwrap()), ("GATEHOUSE_SECRETS__KEYS", k2)]);
        assert!(load_from(&Overrides::default(), &both).is_err());
        assert!(load_from(&Overrides::default(), &env(&[("GATEHOUSE_SECRETS__KEYS", "k1:short")])).is_err());
        std::fs::remove_file(&path).unwrap();
        let (c, _) = load_from(&Overrides::default(), &[]).unwrap();
        assert!(c.secret_keys().unwrap().is_development());
    }

    #[test]
    fn defaults_need_nothing() {
        let (c, unknown) = load_from(&Overrides::default(), &[]).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.issuer, "http://127.0.0.1:8080/");
        assert_eq!(c.database_url, DEFAULT_DATABASE_URL);
        assert!(c.admin.is_none());
        assert!(unknown.is_empty());
    }

    #[test]
    fn env_wins_over_file_and_flags_win_over_env() {
        let dir = std::env::temp_dir().join(format!("gh-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("gatehouse.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\nissuer = \"https://id.example.com\"\n[hash]\nargon2_iterations = 3\n",
        )
        .unwrap();
        let overrides = Overrides { config_file: Some(file.clone()), ..Default::default() };
        let (c, _) = load_from(&overrides, &env(&[("GATEHOUSE_LISTEN", "127.0.0.1:9100")])).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:9100");
        assert_eq!(c.issuer, "https://id.example.com");
        assert_eq!(c.argon2.iterations, 3);
        let (c, _) = load_from(
            &Overrides { listen: Some("127.0.0.1:9200".into()), ..overrides.clone() },
            &env(&[("GATEHOUSE_LISTEN", "127.0.0.1:9100"), ("GATEHOUSE_HASH__ARGON2_ITERATIONS", "4")]),
        )
        .unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:9200");
        assert_eq!(c.argon2.iterations, 4);
        std::fs::write(&file, "lisen = \"typo\"\n").unwrap();
        let e = load_from(&overrides, &[]).unwrap_err();
        assert!(format!("{e:#}").contains("lisen"), "{e:#}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn admin_credentials_come_in_pairs_and_from_files() {
        let e = load_from(&Overrides::default(), &env(&[("GATEHOUSE_ADMIN_CLIENT_ID", "admin")])).unwrap_err();
        assert!(e.to_string().contains("go together"));
        let path = std::env::temp_dir().join(format!("gh-secret-{}", std::process::id()));
        std::fs::write(&path, "0123456789abcdef-secret\n").unwrap();
        let (c, _) = load_from(
            &Overrides::default(),
            &env(&[
                ("GATEHOUSE_ADMIN_CLIENT_ID", "admin"),
                ("GATEHOUSE_ADMIN_CLIENT_SECRET_FILE", path.to_str().unwrap()),
            ]),
        )
        .unwrap();
        assert_eq!(c.admin, Some(("admin".into(), "0123456789abcdef-secret".into())));
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn nested_text_and_number_settings_from_the_environment() {
        let (c, _) = load_from(
            &Overrides::default(),
            &env(&[
                ("GATEHOUSE_RATE_LIMITS__REDIS_URL", "redis://127.0.0.1:6379"),
                ("GATEHOUSE_RATE_LIMITS__AUTHENTICATION_PER_IP_PER_MINUTE", "50"),
                ("GATEHOUSE_LOG_STREAM__URL", "https://logs.example.com/ingest"),
                ("GATEHOUSE_LOG_STREAM__TOKEN", "12345"),
            ]),
        )
        .unwrap();
        assert_eq!(c.rate_limits.redis_url.as_deref(), Some("redis://127.0.0.1:6379"));
        assert_eq!(c.rate_limits.authentication_per_ip.limit, 50);
        assert_eq!(c.rate_limits.redis_timeout, std::time::Duration::from_millis(50), "the default");
        assert_eq!(c.rate_limits.on_redis_failure, gatehouse_services::ratelimit::FailureMode::Open);
        let (r, _) = load_from(
            &Overrides::default(),
            &env(&[
                ("GATEHOUSE_RATE_LIMITS__REDIS_TIMEOUT_MS", "20"),
                ("GATEHOUSE_RATE_LIMITS__REDIS_FAILURE_MODE", "closed"),
            ]),
        )
        .unwrap();
        assert_eq!(r.rate_limits.redis_timeout, std::time::Duration::from_millis(20));
        assert_eq!(r.rate_limits.on_redis_failure, gatehouse_services::ratelimit::FailureMode::Closed);
        let stream = c.log_stream.unwrap();
        assert_eq!(stream.url, "https://logs.example.com/ingest");
        assert_eq!(stream.token.map(|t| t.expose().to_string()).as_deref(), Some("12345"));
        assert_eq!(stream.batch_size, 100);
        let (c, _) = load_from(
            &Overrides::default(),
            &env(&[
                ("GATEHOUSE_API_AUDIENCES", "https://api.example.com/, https://other.example.com/"),
                ("GATEHOUSE_BRANDING__NAME", "Acme"),
                ("GATEHOUSE_BRANDING__PRIMARY_COLOR", "#123abc"),
                ("GATEHOUSE_TOKENS__ID_TOKEN_TTL_SECS", "600"),
            ]),
        )
        .unwrap();
        assert_eq!(c.api_audiences, ["https://api.example.com/", "https://other.example.com/"]);
        assert_eq!(c.branding.name, "Acme");
        assert_eq!(c.branding.primary_color, "#123abc");
        assert_eq!(c.tokens.id_token_ttl_secs, 600);
        let e = load_from(&Overrides::default(), &env(&[("GATEHOUSE_BRANDING__PRIMARY_COLOR", "red; }")])).unwrap_err();
        assert!(e.to_string().contains("branding.primary_color"), "{e}");
        assert!(!c.server_timing, "off unless asked for");
        let (c, _) = load_from(&Overrides::default(), &env(&[("GATEHOUSE_HASH__SERVER_TIMING", "true")])).unwrap();
        assert!(c.server_timing);
        let e = load_from(&Overrides::default(), &env(&[("GATEHOUSE_HASH__SERVER_TIMING", "1")])).unwrap_err();
        assert!(e.to_string().contains("GATEHOUSE_HASH__SERVER_TIMING"), "{e}");
        assert_eq!(c.jobs.files, None, "chosen by the backend unless set");
        let (c, _) = load_from(&Overrides::default(), &env(&[("GATEHOUSE_JOBS__FILES", "database")])).unwrap();
        assert_eq!(c.jobs.files, Some(JobFileStorage::Database));
        let e = load_from(&Overrides::default(), &env(&[("GATEHOUSE_JOBS__FILES", "s3")])).unwrap_err();
        assert!(format!("{e:#}").contains("jobs.files"), "{e:#}");
    }

    #[test]
    fn mail_settings() {
        let (c, _) = load_from(&Overrides::default(), &[]).unwrap();
        assert!(matches!(c.mail.transport, gatehouse_services::mail::MailTransport::Outbox { dir: None }));
        assert!(c.breached_password_detection);
        let (c, _) = load_from(
            &Overrides::default(),
            &env(&[
                ("GATEHOUSE_MAIL__TRANSPORT", "smtp"),
                ("GATEHOUSE_MAIL__SMTP_HOST", "smtp.example.com"),
                ("GATEHOUSE_MAIL__SMTP_SECURITY", "tls"),
                ("GATEHOUSE_MAIL__SMTP_USERNAME", "mailer"),
                ("GATEHOUSE_MAIL__SMTP_PASSWORD", "pw"),
                ("GATEHOUSE_MAIL__ADMIN_EMAILS", "a@example.com, b@example.com"),
                ("GATEHOUSE_BREACHED_PASSWORD_DETECTION", "false"),
            ]),
        )
        .unwrap();
        let gatehouse_services::mail::MailTransport::Smtp { port, username, .. } = &c.mail.transport else {
            panic!("{:?}", c.mail.transport)
        };
        assert_eq!((*port, username.as_deref()), (465, Some("mailer")));
        assert_eq!(c.mail.admin_emails, ["a@example.com", "b@example.com"]);
        assert!(!c.breached_password_detection);
        for (k, v, expected) in
            [("GATEHOUSE_MAIL__TRANSPORT", "pigeon", "mail.transport"), ("GATEHOUSE_MAIL__FROM", "nobody", "mail.from")]
        {
            let e = load_from(&Overrides::default(), &env(&[(k, v)])).unwrap_err();
            assert!(format!("{e:#}").contains(expected), "{k}: {e:#}");
        }
        let e = load_from(&Overrides::default(), &env(&[("GATEHOUSE_MAIL__TRANSPORT", "smtp")])).unwrap_err();
        assert!(e.to_string().contains("mail.smtp_host"), "{e}");
    }

    #[test]
    fn unknown_variables_are_reported_not_fatal() {
        let (_, unknown) =
            load_from(&Overrides::default(), &env(&[("GATEHOUSE_LISTN", "x"), ("GATEHOUSE_LOG", "debug")])).unwrap();
        assert_eq!(unknown, vec!["GATEHOUSE_LISTN".to_string()]);
    }

    #[test]
    fn bad_values_name_the_key() {
        for (k, v, expected) in [
            ("GATEHOUSE_LISTEN", "nowhere", "listen"),
            ("GATEHOUSE_DATABASE_URL", "mysql://x", "database_url"),
            ("GATEHOUSE_ISSUER", "ftp://x", "issuer"),
            ("GATEHOUSE_LOG_FORMAT", "xml", "log_format"),
            ("GATEHOUSE_RATE_LIMITS__REDIS_FAILURE_MODE", "maybe", "rate_limits.redis_failure_mode"),
            ("GATEHOUSE_RATE_LIMITS__REDIS_TIMEOUT_MS", "0", "rate_limits.redis_timeout_ms"),
        ] {
            let e = load_from(&Overrides::default(), &env(&[(k, v)])).unwrap_err();
            assert!(format!("{e:#}").contains(expected), "{k}: {e:#}");
        }
    }

    #[test]
    fn tls_is_files_or_self_signed() {
        let c = load_from(&Overrides::default(), &env(&[("GATEHOUSE_TLS__SELF_SIGNED", "true")])).unwrap().0;
        assert_eq!(c.tls, Some(Tls::SelfSigned));
        assert_eq!(c.issuer, "https://127.0.0.1:8080/", "the default issuer follows the scheme");
        let files = [("GATEHOUSE_TLS__CERT_FILE", "/etc/gh/cert.pem"), ("GATEHOUSE_TLS__KEY_FILE", "/etc/gh/key.pem")];
        let c = load_from(&Overrides::default(), &env(&files)).unwrap().0;
        assert_eq!(
            c.tls,
            Some(Tls::Files { cert_file: "/etc/gh/cert.pem".into(), key_file: "/etc/gh/key.pem".into() })
        );
        assert_eq!(load_from(&Overrides::default(), &env(&[])).unwrap().0.tls, None);
        let half = load_from(&Overrides::default(), &env(&files[..1])).unwrap_err();
        assert!(format!("{half:#}").contains("tls.key_file"), "{half:#}");
        let both = [files[0], files[1], ("GATEHOUSE_TLS__SELF_SIGNED", "true")];
        let e = load_from(&Overrides::default(), &env(&both)).unwrap_err();
        assert!(format!("{e:#}").contains("tls.self_signed"), "{e:#}");
    }
}
