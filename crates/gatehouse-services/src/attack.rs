//! Attack protection around a login: brute-force blocks (consecutive failures of one
//! identifier from one IP, kept in the store so every node sees them and they outlive a
//! restart) and suspicious-IP throttling (failed logins and sign-ups per IP across
//! accounts, token buckets in the rate limiter's counter: memory or Redis).
//!
//! The settings are Auth0's attack-protection documents, read from the store on use so
//! a change made through any node applies on all of them at once.

use crate::Services;
use gatehouse_core::attack_protection::{
    allowlisted, BreachedPasswordDetection, BruteForceProtection, CountMode, SuspiciousIpThrottling,
};
use gatehouse_core::connection::Connection;
use gatehouse_core::log_event::codes;
use gatehouse_core::user::User;
use gatehouse_core::validate::normalize_login;
use gatehouse_store::{LoginBlock, StoreError};
use serde_json::Value;

pub const BRUTE_FORCE_SETTING: &str = "attack_protection.brute_force_protection";
pub const SUSPICIOUS_IP_SETTING: &str = "attack_protection.suspicious_ip_throttling";
pub const BREACHED_PASSWORD_SETTING: &str = "attack_protection.breached_password_detection";

/// How long a block lives after the last failure (Auth0: 30 days).
const BLOCK_LIFETIME_SECS: i64 = 30 * 24 * 3600;

/// Why attack protection refused a login before the password was looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Too many consecutive failures for this identifier (from this IP).
    IdentifierBlocked,
    /// Too many failures from this IP across accounts.
    IpThrottled,
}

/// The stored settings document, or the defaults when none was ever saved.
fn brute_force_from(stored: Option<Value>) -> BruteForceProtection {
    stored.map(|v| BruteForceProtection::from_stored(&v)).unwrap_or_default()
}

fn suspicious_ip_from(stored: Option<Value>) -> SuspiciousIpThrottling {
    stored.map(|v| SuspiciousIpThrottling::from_stored(&v)).unwrap_or_default()
}

pub async fn brute_force_settings(state: &Services) -> Result<BruteForceProtection, StoreError> {
    Ok(brute_force_from(state.store.setting(BRUTE_FORCE_SETTING).await?))
}

pub async fn suspicious_ip_settings(state: &Services) -> Result<SuspiciousIpThrottling, StoreError> {
    Ok(suspicious_ip_from(state.store.setting(SUSPICIOUS_IP_SETTING).await?))
}

/// The rules in force for one login attempt.
pub struct LoginGuard {
    brute_force: Option<BruteForceProtection>,
    throttling: Option<SuspiciousIpThrottling>,
    connection_id: String,
    identifier: String,
    /// The counter's IP: the client's, or empty when counting across addresses.
    counter_ip: String,
    ip: String,
    /// Set by [`LoginGuard::check`]: a failure counter exists for a success to reset.
    counted: bool,
}

impl LoginGuard {
    /// Loads the settings and decides which protections apply to `identifier` from `ip`.
    /// A connection can opt out of brute-force protection (`options.brute_force_protection`);
    /// allow-listed addresses are exempt.
    pub async fn new(
        state: &Services,
        connection: &Connection,
        identifier: &str,
        ip: Option<&str>,
    ) -> Result<Self, StoreError> {
        let connection_opts_in =
            connection.options.get("brute_force_protection").and_then(Value::as_bool).unwrap_or(true);
        let (brute_force, throttling) = state.store.setting_pair(BRUTE_FORCE_SETTING, SUSPICIOUS_IP_SETTING).await?;
        let (brute_force, throttling) = (brute_force_from(brute_force), suspicious_ip_from(throttling));
        let brute_force = (connection_opts_in && brute_force.enabled && !allowlisted(&brute_force.allowlist, ip))
            .then_some(brute_force);
        let throttling =
            (throttling.blocks() && ip.is_some() && !allowlisted(&throttling.allowlist, ip)).then_some(throttling);
        let ip = ip.unwrap_or("").to_string();
        let counter_ip = match brute_force.as_ref().map(|b| b.mode) {
            Some(CountMode::PerIdentifier) => String::new(),
            _ => ip.clone(),
        };
        Ok(Self {
            brute_force,
            throttling,
            connection_id: connection.id.clone(),
            identifier: identifier.to_string(),
            counter_ip,
            ip,
            counted: false,
        })
    }

    fn lapsed_before(state: &Services) -> String {
        gatehouse_core::clock::iso8601(state.clock.now() - time::Duration::seconds(BLOCK_LIFETIME_SECS))
    }

    /// Checked before the password: a blocked pair or a throttled IP is refused without
    /// another verify (which would let the attacker keep guessing).
    pub async fn check(&mut self, state: &Services) -> Result<Option<Refusal>, StoreError> {
        if let Some(t) = &self.throttling {
            let now_ms = now_ms(state);
            let s = t.pre_login;
            if !state.rate_limiter.bucket("sip-login", &self.ip, s.max_attempts, s.rate_ms, now_ms, false).await {
                return Ok(Some(Refusal::IpThrottled));
            }
        }
        if let Some(b) = &self.brute_force {
            if !self.identifier.is_empty() {
                let failures = state
                    .store
                    .login_failure_state(
                        &self.connection_id,
                        &self.identifier,
                        &self.counter_ip,
                        &Self::lapsed_before(state),
                    )
                    .await?;
                self.counted = failures.counted;
                if b.blocks() && failures.blocked {
                    return Ok(Some(Refusal::IdentifierBlocked));
                }
            }
        }
        Ok(None)
    }

    /// Counts a failed attempt. Returns true when this failure created a block (the
    /// caller notifies the user once).
    pub async fn failed(&self, state: &Services, user_id: Option<&str>) -> Result<bool, StoreError> {
        if let Some(t) = &self.throttling {
            let s = t.pre_login;
            state.rate_limiter.bucket("sip-login", &self.ip, s.max_attempts, s.rate_ms, now_ms(state), true).await;
        }
        let Some(b) = &self.brute_force else { return Ok(false) };
        if self.identifier.is_empty() {
            return Ok(false);
        }
        let count = state
            .store
            .record_login_failure(
                gatehouse_store::FailureKey {
                    connection_id: &self.connection_id,
                    identifier: &self.identifier,
                    ip: &self.counter_ip,
                },
                user_id,
                &state.now(),
                &Self::lapsed_before(state),
                i64::from(b.max_attempts),
            )
            .await?;
        Ok(count.newly_blocked && b.blocks())
    }

    /// A success ends the run of consecutive failures.
    pub async fn succeeded(&self, state: &Services) -> Result<(), StoreError> {
        // Most logins follow no failure: nothing to reset, no write.
        if self.brute_force.is_some() && self.counted {
            state.store.reset_login_failures(&self.connection_id, &self.identifier, &self.counter_ip).await?;
        }
        Ok(())
    }

    /// Whether the brute-force shield asks for the user to be emailed about a new block.
    pub fn notifies_user(&self) -> bool {
        self.brute_force.as_ref().is_some_and(BruteForceProtection::notifies_user)
    }
}

/// Sign-ups per IP (the `pre-user-registration` stage): spends one attempt and says
/// whether the sign-up may go ahead.
pub async fn signup_allowed(state: &Services, ip: Option<&str>) -> Result<bool, StoreError> {
    let Some(ip) = ip else { return Ok(true) };
    let t = suspicious_ip_settings(state).await?;
    if !t.blocks() || allowlisted(&t.allowlist, Some(ip)) {
        return Ok(true);
    }
    let s = t.pre_user_registration;
    Ok(state.rate_limiter.bucket("sip-signup", ip, s.max_attempts, s.rate_ms, now_ms(state), true).await)
}

fn now_ms(state: &Services) -> i64 {
    i64::try_from(state.clock.now().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The identifiers a user logs in with, as the login normalizes them: the keys of
/// their brute-force counters.
pub fn login_identifiers(user: &User) -> Vec<String> {
    [user.email.as_deref(), user.username.as_deref()].into_iter().flatten().map(normalize_login).collect()
}

/// A block no failure renewed for this long is over (and no longer listed).
const BLOCK_LAPSES_AFTER_DAYS: i64 = 30;

fn lapsed_before(state: &Services) -> String {
    gatehouse_core::clock::iso8601(state.clock.now() - time::Duration::days(BLOCK_LAPSES_AFTER_DAYS))
}

/// The live brute-force blocks on `user` (in its own connection).
pub async fn blocks_of_user(state: &Services, user: &User) -> Result<Vec<LoginBlock>, StoreError> {
    let blocks = state.store.login_blocks(&login_identifiers(user), Some(&user.user_id), &lapsed_before(state)).await?;
    Ok(blocks.into_iter().filter(|b| b.connection_id == user.connection_id).collect())
}

/// The live brute-force blocks on `identifier` (normalized), in any connection.
pub async fn blocks_of_identifier(state: &Services, identifier: &str) -> Result<Vec<LoginBlock>, StoreError> {
    state.store.login_blocks(&[identifier.to_string()], None, &lapsed_before(state)).await
}

/// Why a change to the attack-protection settings was refused, or failed.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Refused(#[from] gatehouse_core::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Applies Auth0's `PATCH …/brute-force-protection` body; returns the new settings.
pub async fn change_brute_force(state: &Services, body: &Value) -> Result<BruteForceProtection, SettingsError> {
    crate::settings::update(state, BRUTE_FORCE_SETTING, |stored| {
        let next = brute_force_from(stored.cloned()).patched(body)?;
        let doc = next.to_json();
        Ok((next, doc))
    })
    .await
}

/// Applies Auth0's `PATCH …/suspicious-ip-throttling` body; returns the new settings.
pub async fn change_suspicious_ip(state: &Services, body: &Value) -> Result<SuspiciousIpThrottling, SettingsError> {
    crate::settings::update(state, SUSPICIOUS_IP_SETTING, |stored| {
        let next = suspicious_ip_from(stored.cloned()).patched(body)?;
        let doc = next.to_json();
        Ok((next, doc))
    })
    .await
}

/// Breached-password detection in force: the configuration's `breached_password_detection`
/// under the document set through the Management API.
pub async fn breached_password_settings(state: &Services) -> Result<BreachedPasswordDetection, StoreError> {
    Ok(breached_password_from(state, state.store.setting(BREACHED_PASSWORD_SETTING).await?.as_ref()))
}

fn breached_password_from(state: &Services, stored: Option<&Value>) -> BreachedPasswordDetection {
    let configured = state.config.breached_password_detection;
    stored.map_or_else(
        || BreachedPasswordDetection::configured(configured),
        |v| BreachedPasswordDetection::from_stored(v, configured),
    )
}

/// Applies Auth0's `PATCH …/breached-password-detection` body; returns the new settings.
pub async fn change_breached_password(
    state: &Services,
    body: &Value,
) -> Result<BreachedPasswordDetection, SettingsError> {
    crate::settings::update(state, BREACHED_PASSWORD_SETTING, |stored| {
        let next = breached_password_from(state, stored).patched(body)?;
        let doc = next.to_json();
        Ok((next, doc))
    })
    .await
}

/// Lifts every block of a user (the admin's `DELETE /api/v2/user-blocks/{id}`, the
/// unblock link, a password change) and logs `ublkdu` when there was one.
pub async fn release_blocks(
    state: &Services,
    identifiers: &[String],
    user_id: Option<&str>,
    connection: Option<&Connection>,
) -> Result<u64, StoreError> {
    let lifted = state.store.clear_login_blocks(identifiers, user_id).await?;
    if lifted > 0 {
        let mut e = state.audit.event(codes::USER_BLOCK_RELEASED);
        e.user_id = user_id.map(str::to_string);
        e.user_name = identifiers.first().cloned();
        if let Some(c) = connection {
            e.connection = Some(c.name.clone());
            e.connection_id = Some(c.id.clone());
        }
        e.description = Some(format!("{lifted} login block(s) released"));
        state.audit.record(e).await;
    }
    Ok(lifted)
}

/// How long the unblock link of a notice works.
const UNBLOCK_TICKET_TTL_SECS: i64 = 5 * 24 * 3600;

/// Emails a user that logins to their account from `ip` were blocked, with a single-use
/// unblock link. Unknown identifiers and users without an email get nothing (there is
/// nobody to tell). Sent in the background: the login's answer never waits for SMTP.
pub async fn notify_blocked_user(
    state: &Services,
    connection: &Connection,
    user_id: Option<&str>,
    _identifier: &str,
    ip: Option<&str>,
) {
    let Some(user_id) = user_id else { return };
    let user = match state.store.user(user_id).await {
        Ok(Some(u)) => u,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "could not load the blocked user to notify them");
            return;
        }
    };
    let Some(email) = user.email.clone() else { return };
    let request = crate::tickets::TicketRequest {
        kind: gatehouse_store::TicketKind::Unblock,
        user: &user,
        client_id: None,
        result_url: None,
        ttl_secs: UNBLOCK_TICKET_TTL_SECS,
        params: serde_json::Map::new(),
    };
    let link = match crate::tickets::issue_ticket(state, request).await {
        Ok(link) => link,
        Err(e) => {
            tracing::warn!(error = %e, "could not issue an unblock ticket");
            return;
        }
    };
    let ttl = (UNBLOCK_TICKET_TTL_SECS / 3600).to_string();
    let vars =
        [("email", email.as_str()), ("link", link.as_str()), ("ip", ip.unwrap_or("unknown")), ("ttl_hours", &ttl)];
    let message = state.mail.compose("unblock.txt", &email, &vars).await;
    let on_failure = crate::mail::OnFailure {
        kind: codes::BLOCKED_ACCOUNT,
        user_id: Some(user.user_id.clone()),
        connection: Some((connection.id.clone(), connection.name.clone())),
    };
    state.mail.send_in_background(message, on_failure);
}
