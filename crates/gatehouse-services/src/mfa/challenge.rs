//! The second step of a login, for the hosted pages and the MFA API alike: whether a user
//! who passed the first factor needs a second ([`needed`]), the login waiting for it
//! ([`begin`], [`pending`], [`finish`]: server-side, hashed, short-lived, single use, and
//! never a session or a token by itself), the proofs ([`prove`]: a TOTP code, a recovery
//! code, an emailed code; each single use, compared in constant time, and under the
//! user's own brute-force counter), TOTP enrolment, recovery codes, and browsers
//! remembered for 30 days.

use super::settings::mfa_settings;
use super::totp::{self, TotpCheck};
use crate::secrets::{ct_eq, hash_secret, random_token};
use crate::Services;
use gatehouse_core::log_event::codes;
use gatehouse_core::mfa::{FactorKind, GuardianFactor, GuardianFactors, MfaFactor, MfaPolicy};
use gatehouse_core::secret::Secret;
use gatehouse_core::user::User;
use gatehouse_store::{FailureKey, MfaPending, StoreError};
use serde_json::Value;

/// How long a login may wait for its second factor (Auth0's `mfa_token`: 10 minutes).
pub const PENDING_TTL_SECS: i64 = 600;
/// How long "remember this browser" lasts (Auth0: 30 days).
pub const REMEMBER_SECS: i64 = 30 * 24 * 3600;
/// How long an emailed code works.
pub const EMAIL_CODE_TTL_SECS: i64 = 300;
/// A new code is emailed at most this often for one waiting login.
const EMAIL_RESEND_SECS: i64 = 30;
/// Wrong codes in a row that lock a user's second factor (Auth0: 10) …
const MAX_WRONG_CODES: i64 = 10;
/// … for this long after the last of them.
const LOCK_SECS: i64 = 15 * 60;

/// One way a user can pass the second step (Auth0's authenticator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticator {
    /// The factor's id (`totp|dev_…`, `email|dev_…`, `recovery-code|dev_…`).
    pub id: String,
    pub kind: FactorKind,
    /// Where an email factor's codes go.
    pub email: Option<String>,
}

/// What a login that passed its first factor needs next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// Nothing: the login is complete.
    Nothing,
    /// A second factor, one of these (never empty).
    Challenge(Vec<Authenticator>),
    /// The policy requires a second factor and the user has none: enrol one (TOTP).
    Enrol,
    /// The policy requires a second factor but no factor a user could enrol is enabled.
    Unavailable,
}

/// The factors the user can pass at login now: confirmed, and of an enabled kind. With
/// the email factor enabled and MFA required, a verified address counts as one.
async fn authenticators(
    state: &Services,
    user: &User,
    enabled: &GuardianFactors,
    policy: MfaPolicy,
) -> Result<Vec<Authenticator>, StoreError> {
    let mut found: Vec<Authenticator> = state
        .store
        .mfa_factors(&user.user_id)
        .await?
        .into_iter()
        .filter(|f| f.confirmed && enabled.allows(f.kind))
        .map(|f| Authenticator {
            email: (f.kind == FactorKind::Email).then(|| f.value.clone()).flatten(),
            id: f.id,
            kind: f.kind,
        })
        .collect();
    let has_email = found.iter().any(|a| a.kind == FactorKind::Email);
    if policy == MfaPolicy::AllApplications && enabled.allows(FactorKind::Email) && !has_email && user.email_verified {
        if let Some(email) = &user.email {
            let id = format!("email|dev_{}", &hash_secret(&format!("{}\n{email}", user.user_id))[..24]);
            found.push(Authenticator { id, kind: FactorKind::Email, email: Some(email.clone()) });
        }
    }
    // A recovery code alone is not a way in: it stands in for a lost factor.
    if found.iter().all(|a| a.kind == FactorKind::RecoveryCode) {
        found.clear();
    }
    Ok(found)
}

/// Whether `user`, who just passed their first factor, needs a second. `remembered` is
/// the browser's remember-me cookie, when the login comes through one.
pub async fn needed(state: &Services, user: &User, remembered: Option<&str>) -> Result<Need, StoreError> {
    let (enabled, policy) = mfa_settings(state).await?;
    if !enabled.any() && policy == MfaPolicy::Never {
        // The usual tenant: no factor read at all.
        return Ok(Need::Nothing);
    }
    let found = authenticators(state, user, &enabled, policy).await?;
    if found.is_empty() {
        return Ok(match policy {
            MfaPolicy::Never => Need::Nothing,
            MfaPolicy::AllApplications if enrollable(&enabled, state) => Need::Enrol,
            MfaPolicy::AllApplications => Need::Unavailable,
        });
    }
    if let Some(token) = remembered {
        let now = state.clock.now().unix_timestamp();
        if state.store.browser_remembered(&hash_secret(token), &user.user_id, now).await? {
            return Ok(Need::Nothing);
        }
    }
    Ok(Need::Challenge(found))
}

/// Whether a user could enrol a factor at login: an authenticator app, or a WebAuthn
/// authenticator where this server can be a relying party.
fn enrollable(enabled: &GuardianFactors, state: &Services) -> bool {
    enabled.is_enabled(GuardianFactor::Otp)
        || ((enabled.is_enabled(GuardianFactor::WebauthnRoaming)
            || enabled.is_enabled(GuardianFactor::WebauthnPlatform))
            && super::webauthn::relying_party(state).is_some())
}

/// What a user without a factor can enrol at login, in the order the page offers them.
pub async fn enrolment_kinds(state: &Services) -> Result<Vec<FactorKind>, StoreError> {
    let (enabled, _) = mfa_settings(state).await?;
    let webauthn = super::webauthn::relying_party(state).is_some();
    Ok([FactorKind::Totp, FactorKind::WebauthnRoaming, FactorKind::WebauthnPlatform]
        .into_iter()
        .filter(|k| enabled.allows(*k) && (webauthn || !k.is_webauthn()))
        .collect())
}

/// The authenticators the user may use now (for the MFA API's list and the pages' links).
pub async fn user_authenticators(state: &Services, user: &User) -> Result<Vec<Authenticator>, StoreError> {
    let (enabled, policy) = mfa_settings(state).await?;
    let mut all = authenticators(state, user, &enabled, policy).await?;
    // Listed with the others once there are others (Auth0 lists it too).
    if all.is_empty() {
        return Ok(all);
    }
    if enabled.allows(FactorKind::RecoveryCode) {
        for f in state.store.mfa_factors(&user.user_id).await? {
            if f.kind == FactorKind::RecoveryCode && f.confirmed && !all.iter().any(|a| a.id == f.id) {
                all.push(Authenticator { id: f.id, kind: f.kind, email: None });
            }
        }
    }
    Ok(all)
}

/// A login waiting for its second factor.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id_hash: String,
    pub user: User,
    pub client_id: String,
    /// What the caller asked to resume (its own JSON).
    pub context: Value,
    /// The factor passed; only what follows it (a recovery code shown) remains.
    pub passed: bool,
    row: MfaPending,
}

/// Starts waiting for `user_id`'s second factor: the handle that names the wait (a hosted
/// page's `state`, or an `mfa_token`). A hosted login is bound to its `browser` secret.
pub async fn begin(
    state: &Services,
    user: &User,
    client_id: &str,
    browser: Option<&str>,
    context: &Value,
) -> Result<String, StoreError> {
    let handle = random_token();
    let now = state.clock.now().unix_timestamp();
    let row = MfaPending {
        id_hash: hash_secret(&handle),
        user_id: user.user_id.clone(),
        client_id: client_id.to_string(),
        browser_hash: browser.map(hash_secret),
        context: context.to_string(),
        created_at: now,
        expires_at: now + PENDING_TTL_SECS,
        passed_at: None,
        email_code_hash: None,
        email_sent_at: None,
        oob_code_hash: None,
    };
    state.store.insert_mfa_pending(&row).await?;
    let mut e = state.audit.event(codes::MFA_REQUIRED);
    e.user_id = Some(user.user_id.clone());
    e.client_id = Some(client_id.to_string());
    e.connection = Some(user.connection.clone());
    e.description = Some("Multifactor authentication required".into());
    state.audit.record(e).await;
    Ok(handle)
}

/// The live wait named by `handle`: a hosted one only for the browser that began it, an
/// `mfa_token` only without a browser. A user deleted or blocked meanwhile ends it.
pub async fn pending(state: &Services, handle: &str, browser: Option<&str>) -> Result<Option<Pending>, StoreError> {
    let now = state.clock.now().unix_timestamp();
    let Some(row) = state.store.mfa_pending(&hash_secret(handle), now).await? else { return Ok(None) };
    let bound = match (&row.browser_hash, browser) {
        (Some(h), Some(b)) => ct_eq(h, &hash_secret(b)),
        (None, None) => true,
        _ => false,
    };
    if !bound {
        return Ok(None);
    }
    let Some(user) = state.store.user(&row.user_id).await?.filter(|u| !u.blocked) else { return Ok(None) };
    let context = serde_json::from_str(&row.context).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(Some(Pending {
        id_hash: row.id_hash.clone(),
        user,
        client_id: row.client_id.clone(),
        context,
        passed: row.passed_at.is_some(),
        row,
    }))
}

/// Ends a wait whose factor passed: `true` for the one caller that may now finish the
/// login (a double submit gets `false`).
pub async fn finish(state: &Services, p: &Pending) -> Result<bool, StoreError> {
    state.store.take_mfa_pending(&p.id_hash, state.clock.now().unix_timestamp()).await
}

/// Why a proof was refused.
#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    #[error("The code is not valid.")]
    Wrong,
    /// A right TOTP code of a time step already used.
    #[error("This code was already used. Wait for the next one.")]
    Replayed,
    /// No live emailed code (never sent, expired, or another challenge's).
    #[error("The code has expired. Ask for a new one.")]
    Expired,
    /// Too many wrong codes in a row: the second factor is locked for a while.
    #[error("Too many failed codes. Wait for some minutes before retrying.")]
    TooManyAttempts,
    /// The user has no factor of this kind enabled.
    #[error("This factor is not available.")]
    NoFactor,
    /// The wait already passed its factor (or ended).
    #[error("This login has already been completed or has expired.")]
    Spent,
    /// A WebAuthn answer that did not pass (wrong origin or relying party, a signature
    /// that does not verify, another ceremony's challenge, a counter gone backwards).
    #[error("Your security key or device was not accepted. Try again.")]
    NotAccepted,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A proof offered for the second step.
#[derive(Debug, Clone, Copy)]
pub enum Proof<'a> {
    Otp(&'a str),
    RecoveryCode(&'a str),
    /// The code from the email, on the hosted page.
    EmailCode(&'a str),
    /// The MFA API's out-of-band answer: the challenge's `oob_code` and the emailed code.
    Oob {
        oob_code: &'a str,
        binding_code: &'a str,
    },
    /// A WebAuthn assertion (the credential as JSON) from a credential of `kind`.
    Webauthn {
        kind: FactorKind,
        response: &'a str,
    },
}

/// A passed second step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passed {
    /// A new recovery code to show once: after a recovery code was used (it is spent), or
    /// after a first enrolment.
    pub recovery_code: Option<String>,
}

/// The user's second-factor counter: consecutive wrong codes across every address (who
/// has the password can change address), locked after [`MAX_WRONG_CODES`].
struct CodeGuard {
    connection_id: String,
    identifier: String,
    user_id: String,
}

impl CodeGuard {
    fn new(user: &User) -> Self {
        Self {
            connection_id: user.connection_id.clone(),
            identifier: format!("mfa|{}", user.user_id),
            user_id: user.user_id.clone(),
        }
    }

    fn key(&self) -> FailureKey<'_> {
        FailureKey { connection_id: &self.connection_id, identifier: &self.identifier, ip: "" }
    }

    fn lapsed_before(state: &Services) -> String {
        gatehouse_core::clock::iso8601(state.clock.now() - time::Duration::seconds(LOCK_SECS))
    }

    async fn locked(&self, state: &Services) -> Result<bool, StoreError> {
        let lapsed = Self::lapsed_before(state);
        Ok(state.store.login_failure_state(&self.connection_id, &self.identifier, "", &lapsed).await?.blocked)
    }

    /// Counts a wrong code: whether the user's factor is now locked.
    async fn failed(&self, state: &Services) -> Result<bool, StoreError> {
        let lapsed = Self::lapsed_before(state);
        let count = state
            .store
            .record_login_failure(self.key(), Some(self.user_id.as_str()), &state.now(), &lapsed, MAX_WRONG_CODES)
            .await?;
        Ok(count.failures >= MAX_WRONG_CODES)
    }

    async fn succeeded(&self, state: &Services) -> Result<(), StoreError> {
        state.store.reset_login_failures(&self.connection_id, &self.identifier, "").await
    }
}

pub(super) fn event(
    state: &Services,
    kind: &str,
    p: &Pending,
    description: &str,
    ip: Option<&str>,
) -> gatehouse_core::log_event::LogEvent {
    let mut e = state.audit.event(kind);
    e.user_id = Some(p.user.user_id.clone());
    e.user_name = p.user.email.clone().or_else(|| p.user.username.clone());
    e.client_id = Some(p.client_id.clone());
    e.connection = Some(p.user.connection.clone());
    e.connection_id = Some(p.user.connection_id.clone());
    e.ip = ip.map(str::to_string);
    e.description = Some(description.to_string());
    e
}

/// What a proof's check found, before the counters and the log see it.
pub(super) enum Checked {
    Accepted { recovery_code: Option<String> },
    Refused(CodeError),
}

/// Checks `proof` for the waiting login. A wrong code counts against the user's
/// second-factor counter; at [`MAX_WRONG_CODES`] in a row the factor locks (every
/// proof refused, the right one too) for [`LOCK_SECS`] after the last. On success the
/// wait is marked passed (once: a second success for it is `Spent`).
pub async fn prove(state: &Services, p: &Pending, proof: Proof<'_>, ip: Option<&str>) -> Result<Passed, CodeError> {
    if p.passed {
        return Err(CodeError::Spent);
    }
    let guard = CodeGuard::new(&p.user);
    if guard.locked(state).await? {
        return Err(CodeError::TooManyAttempts);
    }
    let (enabled, _) = mfa_settings(state).await?;
    let now = state.clock.now().unix_timestamp();
    let checked = match proof {
        Proof::Otp(code) if enabled.allows(FactorKind::Totp) => {
            match totp::verify_totp(&state.store, &p.user.user_id, code.trim(), now, &state.now()).await? {
                TotpCheck::Accepted => Checked::Accepted { recovery_code: None },
                TotpCheck::Replayed => Checked::Refused(CodeError::Replayed),
                TotpCheck::Wrong => Checked::Refused(CodeError::Wrong),
                TotpCheck::NoFactor => return Err(CodeError::NoFactor),
            }
        }
        Proof::RecoveryCode(code) if enabled.allows(FactorKind::RecoveryCode) => {
            use_recovery_code(state, &p.user, code).await?
        }
        Proof::EmailCode(code) if enabled.allows(FactorKind::Email) => check_email_code(&p.row, code, now),
        Proof::Oob { oob_code, binding_code } if enabled.allows(FactorKind::Email) => match &p.row.oob_code_hash {
            Some(h) if ct_eq(h, &hash_secret(oob_code)) => check_email_code(&p.row, binding_code, now),
            _ => Checked::Refused(CodeError::Expired),
        },
        Proof::Webauthn { kind, response } if enabled.allows(kind) => {
            super::webauthn::check_assertion(state, p, kind, response).await?
        }
        _ => return Err(CodeError::NoFactor),
    };
    let recovery = matches!(proof, Proof::RecoveryCode(_));
    match checked {
        Checked::Accepted { recovery_code } => {
            guard.succeeded(state).await?;
            if !state.store.pass_mfa_pending(&p.id_hash, now).await? {
                return Err(CodeError::Spent);
            }
            let kind = if recovery { codes::MFA_RECOVERY_SUCCEEDED } else { codes::MFA_AUTH_SUCCEEDED };
            state.audit.record(event(state, kind, p, "Second factor passed", ip)).await;
            Ok(Passed { recovery_code })
        }
        Checked::Refused(e) => {
            let kind = if recovery { codes::MFA_RECOVERY_FAILED } else { codes::MFA_AUTH_FAILED };
            state.audit.record(event(state, kind, p, &e.to_string(), ip)).await;
            if guard.failed(state).await? {
                let description = "Too many failed second-factor codes; the factor is locked for 15 minutes";
                state.audit.record(event(state, codes::MFA_TOO_MANY_CODES, p, description, ip)).await;
                return Err(CodeError::TooManyAttempts);
            }
            Err(e)
        }
    }
}

fn check_email_code(row: &MfaPending, code: &str, now: i64) -> Checked {
    match (&row.email_code_hash, row.email_sent_at) {
        (Some(h), Some(sent)) if sent + EMAIL_CODE_TTL_SECS > now => {
            if ct_eq(h, &hash_secret(code.trim())) {
                Checked::Accepted { recovery_code: None }
            } else {
                Checked::Refused(CodeError::Wrong)
            }
        }
        _ => Checked::Refused(CodeError::Expired),
    }
}

/// A recovery code as users type it: case, spaces and dashes do not matter.
fn normalize_recovery_code(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect()
}

/// Spends the user's recovery code if `code` is it, and gives them a new one.
async fn use_recovery_code(state: &Services, user: &User, code: &str) -> Result<Checked, StoreError> {
    let presented = hash_secret(&normalize_recovery_code(code));
    let stored: Vec<MfaFactor> = state
        .store
        .mfa_factors(&user.user_id)
        .await?
        .into_iter()
        .filter(|f| f.kind == FactorKind::RecoveryCode && f.confirmed)
        .collect();
    let mut matched = None;
    for f in &stored {
        if f.value.as_deref().is_some_and(|h| ct_eq(h, &presented)) {
            matched = Some(f.id.clone());
        }
    }
    let Some(id) = matched else { return Ok(Checked::Refused(CodeError::Wrong)) };
    // Deleting it is what spends it: of two uses at once, one deletes.
    if !state.store.delete_mfa_factor(&user.user_id, &id).await? {
        return Ok(Checked::Refused(CodeError::Wrong));
    }
    let fresh = new_recovery_code(state, &user.user_id, true).await?;
    Ok(Checked::Accepted { recovery_code: Some(fresh) })
}

/// 24 characters of `A-Z2-7` (120 bits), as Auth0's recovery codes look.
fn recovery_code_text() -> String {
    totp::base32_encode(&rand::random::<[u8; 15]>())
}

fn factor_id(kind: FactorKind) -> String {
    format!("{}|dev_{}", kind.as_str(), hex::encode(rand::random::<[u8; 12]>()))
}

/// Stores a new recovery code for the user, in place of any they had: the code, to be
/// shown once (only its hash is kept).
pub(super) async fn new_recovery_code(state: &Services, user_id: &str, confirmed: bool) -> Result<String, StoreError> {
    let code = recovery_code_text();
    let factor = MfaFactor {
        id: factor_id(FactorKind::RecoveryCode),
        user_id: user_id.to_string(),
        kind: FactorKind::RecoveryCode,
        secret: None,
        value: Some(hash_secret(&code)),
        confirmed,
        last_step: None,
        created_at: state.now(),
        position: 0,
        last_auth_at: None,
        credential_id: None,
    };
    state.store.replace_recovery_code(&factor).await?;
    Ok(code)
}

/// `POST /api/v2/users/{id}/recovery-code-regeneration`: a new recovery code for the
/// user (the old one stops working), shown once.
pub async fn regenerate_recovery_code(state: &Services, user_id: &str) -> Result<String, StoreError> {
    new_recovery_code(state, user_id, true).await
}

/// A TOTP enrolment in progress: the secret to show (as text and as a QR code of `uri`).
#[derive(Debug, Clone)]
pub struct TotpEnrolment {
    pub factor_id: String,
    pub secret: Secret,
    /// The `otpauth://` URI.
    pub uri: String,
    /// For the MFA API's associate: the recovery code that will work once the enrolment is
    /// confirmed, when the recovery-code factor is enabled.
    pub recovery_code: Option<String>,
}

/// The user's TOTP enrolment in progress, or a new one: an unconfirmed factor with a new
/// secret (sealed by the store), which counts for nothing until its first code passes.
pub async fn totp_enrolment(state: &Services, user: &User, with_recovery: bool) -> Result<TotpEnrolment, StoreError> {
    let waiting = state
        .store
        .mfa_factors(&user.user_id)
        .await?
        .into_iter()
        .find(|f| f.kind == FactorKind::Totp && !f.confirmed && f.secret.is_some());
    let factor = match waiting {
        Some(f) => f,
        None => {
            let f = MfaFactor {
                id: factor_id(FactorKind::Totp),
                user_id: user.user_id.clone(),
                kind: FactorKind::Totp,
                secret: Some(Secret::new(totp::new_secret())),
                value: None,
                confirmed: false,
                last_step: None,
                created_at: state.now(),
                position: 0,
                last_auth_at: None,
                credential_id: None,
            };
            state.store.insert_mfa_factors(std::slice::from_ref(&f)).await?;
            f
        }
    };
    let secret = factor.secret.clone().unwrap_or_else(|| Secret::new(String::new()));
    let account = user.email.clone().or_else(|| user.username.clone()).unwrap_or_else(|| user.user_id.clone());
    let uri = totp::otpauth_uri(secret.expose(), &state.config.branding.name, &account);
    let (enabled, _) = mfa_settings(state).await?;
    let recovery_code = if with_recovery && enabled.allows(FactorKind::RecoveryCode) {
        Some(new_recovery_code(state, &user.user_id, false).await?)
    } else {
        None
    };
    Ok(TotpEnrolment { factor_id: factor.id, secret, uri, recovery_code })
}

/// Confirms the enrolment `factor_id` with its first code, and passes the waiting login.
/// With the recovery-code factor enabled, the user gets a recovery code: the one the
/// enrolment announced, or a new one to show now.
pub async fn confirm_totp(
    state: &Services,
    p: &Pending,
    factor_id: &str,
    code: &str,
    ip: Option<&str>,
) -> Result<Passed, CodeError> {
    if p.passed {
        return Err(CodeError::Spent);
    }
    let guard = CodeGuard::new(&p.user);
    if guard.locked(state).await? {
        return Err(CodeError::TooManyAttempts);
    }
    let now = state.clock.now().unix_timestamp();
    let user_id = &p.user.user_id;
    let check = totp::verify_totp_factor(&state.store, user_id, factor_id, code.trim(), now, &state.now()).await?;
    let refused = match check {
        TotpCheck::Accepted => None,
        TotpCheck::Replayed => Some(CodeError::Replayed),
        TotpCheck::Wrong => Some(CodeError::Wrong),
        TotpCheck::NoFactor => return Err(CodeError::NoFactor),
    };
    if let Some(e) = refused {
        state.audit.record(event(state, codes::MFA_AUTH_FAILED, p, &e.to_string(), ip)).await;
        if guard.failed(state).await? {
            return Err(CodeError::TooManyAttempts);
        }
        return Err(e);
    }
    guard.succeeded(state).await?;
    if !state.store.confirm_mfa_factor(user_id, factor_id, &state.now()).await? {
        return Err(CodeError::Spent);
    }
    let (enabled, _) = mfa_settings(state).await?;
    let mut recovery_code = None;
    if enabled.allows(FactorKind::RecoveryCode) {
        let announced = state
            .store
            .mfa_factors(user_id)
            .await?
            .into_iter()
            .find(|f| f.kind == FactorKind::RecoveryCode && !f.confirmed);
        match announced {
            Some(f) => {
                state.store.confirm_mfa_factor(user_id, &f.id, &state.now()).await?;
            }
            None => recovery_code = Some(new_recovery_code(state, user_id, true).await?),
        }
    }
    if !state.store.pass_mfa_pending(&p.id_hash, now).await? {
        return Err(CodeError::Spent);
    }
    state.audit.record(event(state, codes::MFA_ENROLLED, p, "Authenticator app enrolled", ip)).await;
    Ok(Passed { recovery_code })
}

/// Emails a new code to the user's email authenticator for the waiting login, unless
/// one went less than 30 seconds ago (then nothing is sent, and `None` is returned).
/// With `oob`, the MFA API's challenge: the `oob_code` that names it is returned.
pub async fn send_email_code(
    state: &Services,
    p: &Pending,
    to: &Authenticator,
    oob: bool,
) -> Result<Option<String>, CodeError> {
    let Some(address) = to.email.as_deref().filter(|_| to.kind == FactorKind::Email) else {
        return Err(CodeError::NoFactor);
    };
    let now = state.clock.now().unix_timestamp();
    if p.row.email_sent_at.is_some_and(|t| t + EMAIL_RESEND_SECS > now) && !oob {
        return Ok(None);
    }
    let code = format!("{:06}", rand::Rng::gen_range(&mut rand::thread_rng(), 0..1_000_000u32));
    let oob_code = oob.then(random_token);
    let oob_hash = oob_code.as_deref().map(hash_secret);
    if !state.store.set_mfa_email_code(&p.id_hash, &hash_secret(&code), oob_hash.as_deref(), now).await? {
        return Err(CodeError::Spent);
    }
    let ttl = (EMAIL_CODE_TTL_SECS / 60).to_string();
    let email = state.mail.compose("mfa-code.txt", address, &[("code", &code), ("ttl_minutes", &ttl)]).await;
    let failure = crate::mail::OnFailure {
        kind: codes::MFA_AUTH_FAILED,
        user_id: Some(p.user.user_id.clone()),
        connection: Some((p.user.connection_id.clone(), p.user.connection.clone())),
    };
    state.mail.send_in_background(email, failure);
    state.audit.record(event(state, codes::MFA_EMAIL_SENT, p, "Second-factor code emailed", None)).await;
    Ok(Some(oob_code.unwrap_or_default()))
}

/// Remembers this browser for the user (30 days): the cookie's value.
pub async fn remember_browser(state: &Services, user_id: &str) -> Result<String, StoreError> {
    let token = random_token();
    let now = state.clock.now().unix_timestamp();
    state.store.remember_browser(&hash_secret(&token), user_id, now, now + REMEMBER_SECS).await?;
    Ok(token)
}

/// `POST /api/v2/users/{id}/multifactor/actions/invalidate-remember-browser`: every
/// browser remembered for the user must pass the second factor again.
pub async fn forget_browsers(state: &Services, user_id: &str) -> Result<u64, StoreError> {
    state.store.forget_browsers(user_id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_24_characters_and_read_leniently() {
        let code = recovery_code_text();
        assert_eq!(code.len(), 24);
        assert!(code.bytes().all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)));
        assert_eq!(normalize_recovery_code(" abcd-EFGH 2345 "), "ABCDEFGH2345");
    }
}
