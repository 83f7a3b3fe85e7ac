//! `gatehouse serve`: open the store, bootstrap it, listen, and stop gracefully.

use crate::config::Config;
use anyhow::Context;
use gatehouse_core::clock::{Clock, SystemClock};
use gatehouse_hash::Hasher;
use gatehouse_services::state::ServerConfig;
use gatehouse_store::Store;
use std::io::IsTerminal;
use std::sync::Arc;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

pub fn init_logging(config: &Config) {
    let filter = EnvFilter::try_new(&config.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if config.json_logs {
        builder.json().with_current_span(false).init();
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).init();
    }
}

/// Opens the store and makes sure it has what a new store has (the default connection).
/// Secrets are sealed under `secrets.keys`; without them, under the public development
/// key, which is said loudly.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let keys = config.secret_keys()?;
    if keys.is_development() {
        tracing::warn!(
            "secrets.keys is not set: secrets (signing keys, upstream and legacy-store credentials, MFA secrets) \
             are sealed under the PUBLIC development key, so a copy of the database reveals them. \
             Set secrets.keys (or GATEHOUSE_SECRETS__KEYS / GATEHOUSE_SECRETS__KEYS_FILE) before production use; \
             `gatehouse secrets generate-key` makes one"
        );
    }
    Ok(Store::connect(&config.database_url)
        .await
        .with_context(|| format!("cannot open the store {}", redact(&config.database_url)))?
        .with_secret_keys(keys))
}

/// [`open_store`] plus the default database connection a new store has.
pub async fn open_store_with_defaults(config: &Config) -> anyhow::Result<Store> {
    let store = open_store(config).await?;
    let now = gatehouse_core::clock::iso8601(SystemClock.now());
    gatehouse_services::bootstrap::ensure_default_connection(&store, &now)
        .await
        .context("cannot create the default connection")?;
    Ok(store)
}

/// The database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("*****"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

fn server_config(config: &Config) -> ServerConfig {
    let mut c = ServerConfig::new(&config.issuer);
    c.data_dir = config.data_dir.clone();
    c.jobs = config.jobs.clone();
    c.rate_limits = config.rate_limits.clone();
    c.log_stream = config.log_stream.clone();
    c.branding = config.branding.clone();
    c.template_dir = config.template_dir.clone();
    c.api_audiences = config.api_audiences.clone();
    c.mail = config.mail.clone();
    c.sms = config.sms.clone();
    c.breached_password_detection = config.breached_password_detection;
    c.hashing_threads = config.hashing_threads;
    c.server_timing = config.server_timing;
    c.scripts = config.scripts.clone();
    let secs = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    c.access_token_ttl_secs = secs(config.tokens.access_token_ttl_secs);
    c.id_token_ttl_secs = secs(config.tokens.id_token_ttl_secs);
    c.refresh_token_ttl_secs = secs(config.tokens.refresh_token_ttl_secs);
    c.refresh_token_family_ttl_secs = secs(config.tokens.refresh_token_family_ttl_secs);
    c.session_ttl_secs = secs(config.tokens.session_ttl_secs);
    c
}

pub async fn run(config: Config) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let hasher = Hasher::new(config.argon2, config.limits.clone());
    let admin = config.admin.as_ref().map(|(id, secret)| (id.as_str(), secret.as_str()));
    let (state, created) = gatehouse_services::prepare(store.clone(), server_config(&config), hasher, clock, admin)
        .await
        .context("cannot prepare the server")?;
    if let Some(c) = created {
        // Shown once, on the terminal, never through the log pipeline.
        let branded = config.branding.name != gatehouse_services::state::Branding::default().name;
        print!("{}", first_start_text(&config.issuer, &c.client_id, &c.client_secret, branded));
    }
    console_administrator(&state, &config).await?;
    let listener =
        TcpListener::bind(config.listen).await.with_context(|| format!("cannot listen on {}", config.listen))?;
    let tls = match &config.tls {
        Some(tls) => Some(crate::tls::server_config(tls, &config.data_dir)?),
        None => None,
    };
    tracing::info!(listen = %config.listen, issuer = %config.issuer, tls = tls.is_some(), store = %redact(&config.database_url), "gatehouse is serving");
    match tls {
        Some(tls) => gatehouse_server::serve_tls(listener, tls, state, shutdown_signal()).await,
        None => gatehouse_server::serve(listener, state, shutdown_signal()).await,
    }
    .context("server failed")?;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Gives the configured first administrator the console; without one, and with nobody
/// holding the console's administrator role, says how to get in.
async fn console_administrator(state: &gatehouse_services::Services, config: &Config) -> anyhow::Result<()> {
    use gatehouse_services::console;
    match &config.console_admin {
        Some((email, password)) => {
            let created = console::ensure_first_administrator(state, email, password)
                .await
                .context("console_admin_email: cannot make the console's first administrator")?;
            if created {
                tracing::info!(email = %email, "created the console's first administrator");
            }
        }
        None if !console::has_administrator(state).await? => {
            println!(
                "The admin console ({}admin) has no administrator yet: restart with\n  \
                 GATEHOUSE_CONSOLE_ADMIN_EMAIL=you@example.com GATEHOUSE_CONSOLE_ADMIN_PASSWORD=…\n\
                 or give an existing user the \"{}\" role (POST /api/v2/users/{{id}}/roles).",
                config.issuer,
                console::ADMINISTRATOR_ROLE
            );
        }
        None => {}
    }
    Ok(())
}

/// What the first start prints: the admin client's credentials, once, and the next steps
/// (a Management API token with them, where the API's description, this server's page
/// and the documentation are, and, until it is set, the branding end users will see).
pub fn first_start_text(issuer: &str, client_id: &str, client_secret: &str, branded: bool) -> String {
    let mut out = format!(
        "Created a Management API client (shown once, store it safely):\n  client_id:     {client_id}\n  \
         client_secret: {client_secret}\n\n\
         Next steps:\n\
         1. Get a Management API token with this client:\n     \
              curl -s {issuer}oauth/token -d grant_type=client_credentials \\\n       \
              -d client_id='{client_id}' -d client_secret='{client_secret}' -d audience={issuer}api/v2/\n\
         2. Call the Management API with it (Authorization: Bearer <access_token>); every endpoint is\n   \
            described at {issuer}api/v2/openapi.json\n\
         3. This server's page, with the OpenID Connect discovery document and the documentation:\n   \
            {issuer}; the admin console is {issuer}admin\n\
         4. Before users log in, enable your application on a connection (its enabled_clients, or\n   \
            \"enabled_connections\" when you create the application): see the README's tour.\n"
    );
    if !branded {
        out.push_str(
            "5. End users see the name \"Gatehouse\" on the login pages and in emails: set your own with\n   \
             [branding] name, logo_url and primary_color (docs/configuration.md, \"Branding\").\n",
        );
    }
    out
}

pub async fn rotate_keys(config: Config) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let ring = gatehouse_services::keys::KeyRing::load_or_create(&store, clock.clone()).await?;
    let kid = ring.rotate(&store, clock).await?;
    println!("new signing key: {kid} (running servers publish it within a minute)");
    Ok(())
}

/// `gatehouse secrets rotate`: re-seals every secret under the first key of
/// `secrets.keys`; afterwards the older keys can be removed.
pub async fn reseal_secrets(config: Config) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    let done = store.reseal_secrets().await.context("re-sealing failed")?;
    let left = store.unsealed_secret_count().await?;
    println!(
        "re-sealed under key {:?}: {} connections, {} actions, {} signing keys, {} server secrets, {} MFA factors",
        store.secret_keys().current_id(),
        done.connections,
        done.actions,
        done.signing_keys,
        done.server_secrets,
        done.mfa_factors
    );
    if left > 0 {
        anyhow::bail!("{left} secrets changed while re-sealing and are not yet under the current key: run it again");
    }
    println!("every secret is sealed under the current key; older keys can be removed from secrets.keys");
    store.close().await;
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

#[cfg(test)]
mod tests {
    use super::first_start_text;

    #[test]
    fn first_start_prints_the_next_steps() {
        let text = first_start_text("http://127.0.0.1:8080/", "cid", "sec", false);
        assert!(text.starts_with("Created a Management API client"), "{text}");
        assert!(text.contains("  client_id:     cid\n  client_secret: sec\n"), "{text}");
        assert!(text.contains("curl -s http://127.0.0.1:8080/oauth/token -d grant_type=client_credentials"), "{text}");
        assert!(text.contains("-d audience=http://127.0.0.1:8080/api/v2/"), "{text}");
        assert!(text.contains("http://127.0.0.1:8080/api/v2/openapi.json"), "{text}");
        assert!(text.contains("[branding]"), "{text}");
        assert!(!first_start_text("http://127.0.0.1:8080/", "cid", "sec", true).contains("[branding]"));
    }
}
