//! Gatehouse's flows, apart from any network edge: password, legacy and social login,
//! sign-up, Actions, tickets and resets, sessions and their endings, APIs, roles and
//! permissions, token issuance, signing
//! keys, the import/export pipelines and the job worker, mail, the audit log and attack
//! protection, passwordless codes and cross-origin (embedded) login.
//!
//! Every surface (the Management and Authentication APIs and hosted pages in
//! `gatehouse-server`, the CLI in `gatehouse`) calls these; none of them is written
//! twice. This crate knows nothing of HTTP: its errors are typed domain enums that each
//! surface maps to its own answers in one place. Rules live in `gatehouse-core`,
//! storage in `gatehouse-store`.

pub mod actions;
pub mod attack;
pub mod audit;
pub mod authorization;
pub mod bootstrap;
pub mod branding;
pub mod clients;
pub mod connections;
pub mod console;
pub mod cross_origin;
pub mod email_settings;
pub mod export;
pub mod grants;
pub mod hashing;
pub mod import;
pub mod issue;
pub mod job_files;
pub mod job_requests;
pub mod jobs;
pub mod keys;
pub mod legacy;
pub mod liquid_templates;
pub mod login;
pub mod mail;
pub mod metrics;
pub mod mfa;
pub mod page_template;
pub mod passkeys;
pub mod passwordless;
pub mod ratelimit;
pub mod secrets;
pub mod session_end;
pub mod settings;
pub mod signup;
pub mod sms;
pub mod social;
pub mod state;
pub mod stats;
pub mod templates;
pub mod tickets;
pub mod users;

use gatehouse_core::clock::Clock;
use gatehouse_hash::Hasher;
use gatehouse_store::Store;
use hashing::HashPool;
use keys::KeyRing;
use state::ServerConfig;
use std::sync::Arc;

pub use state::Services;

/// Why the services could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Keys(#[from] keys::KeyError),
    #[error("bootstrapping the store failed: {0}")]
    Store(#[from] gatehouse_store::StoreError),
    #[error("the rate limit store's URL: {0}")]
    RateLimits(#[from] redis::RedisError),
    #[error("mail configuration: {0}")]
    Mail(#[from] mail::MailError),
    #[error("the script sandbox: {0}")]
    Scripts(#[from] gatehouse_scripts::ScriptError),
}

/// Everything a start needs before it can answer requests: the default connection, the
/// admin client (given credentials, or new ones returned to be shown once) and the
/// services. The binary and the test kit both start through here.
pub async fn prepare(
    store: Store,
    config: ServerConfig,
    hasher: Hasher,
    clock: Arc<dyn Clock>,
    admin: Option<(&str, &str)>,
) -> Result<(Services, Option<bootstrap::NewAdminCredentials>), StartError> {
    let now = gatehouse_core::clock::iso8601(clock.now());
    bootstrap::ensure_default_connection(&store, &now).await?;
    bootstrap::ensure_apis(&store, &config, &now).await?;
    console::ensure_console(&store, &config, &now).await?;
    let created = bootstrap::ensure_admin_client(&store, &config, admin, &now).await?;
    let services = build(store, config, hasher, clock).await?;
    Ok((services, created))
}

/// Builds the services over a store: loads (or creates) signing keys, starts the hashing
/// threads, the audit writer and the log stream.
pub async fn build(
    store: Store,
    config: ServerConfig,
    hasher: Hasher,
    clock: Arc<dyn Clock>,
) -> Result<Services, StartError> {
    let keys = KeyRing::load_or_create(&store, clock.clone()).await?;
    let (config_sms, config_data_dir) = (config.sms.clone(), config.data_dir.clone());
    let metrics = metrics::Metrics::default();
    let threads = match config.hashing_threads {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let hashing = HashPool::new(hasher, threads, metrics.clone());
    let now = gatehouse_core::clock::iso8601(clock.now());
    let link_key = store.server_secret(jobs::LINK_KEY_NAME, &jobs::new_link_key(), &now).await?;
    let rate_limiter = ratelimit::RateLimiter::from_config(&config.rate_limits, metrics.clone()).await?;
    let audit = audit::AuditLog::start(store.clone(), config.log_stream.clone(), metrics.clone(), clock.clone());
    let scripts = gatehouse_scripts::Sandbox::new(config.scripts.clone())?;
    let mail = mail::Mail::new(
        &config.mail,
        &config.data_dir,
        audit.clone(),
        config.branding.name.clone(),
        store.clone(),
        config.template_dir.clone(),
    )?;
    Ok(Services {
        audit,
        store,
        config: Arc::new(config),
        keys,
        hashing,
        clock,
        link_key: Arc::new(gatehouse_core::secret::Secret::new(link_key)),
        node_id: Arc::from(gatehouse_core::ids::new_node_id()),
        job_created: Arc::new(tokio::sync::Notify::new()),
        rate_limiter,
        mail,
        sms: sms::SmsSender::new(&config_sms, &config_data_dir),
        legacy: legacy::Registry::default(),
        upstreams: Arc::new(social::Upstreams::new()),
        metrics,
        scripts,
    })
}
