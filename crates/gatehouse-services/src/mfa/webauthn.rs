//! WebAuthn second factors: security keys (`webauthn-roaming`) and platform authenticators
//! (`webauthn-platform`), enrolled and used on the hosted `/u/mfa` page of a waiting login.
//! The ceremonies themselves (CBOR, COSE keys, attestation, signatures, origin and RP ID)
//! are kanidm's `webauthn-rs`; this module owns what surrounds them:
//!
//! - the relying party: its id is the issuer's host and the only origin accepted is the
//!   issuer's own (scheme, host and port exactly), so a server reached under an IP
//!   address has no WebAuthn ([`relying_party`]);
//! - the ceremony's state between its two requests: server-side, bound to the waiting
//!   login, taken once, worthless after [`CEREMONY_TTL_SECS`];
//! - user verification per factor: a security key is asked for it where it can (its PIN,
//!   `preferred`), a platform authenticator must do it (`required`: the device's unlock);
//! - the signature counter, checked by the library against the stored credential and
//!   again by the store's compare-and-set ([`gatehouse_store::Store::use_webauthn_credential`]):
//!   a counter that does not move forward refuses the assertion (a cloned authenticator).

use super::challenge::{new_recovery_code, user_authenticators, Checked, CodeError, Passed, Pending};
use super::settings::mfa_settings;
use crate::Services;
use gatehouse_core::log_event::codes;
use gatehouse_core::mfa::{FactorKind, MfaFactor};
use gatehouse_core::secret::Secret;
use gatehouse_store::StoreError;
use serde_json::Value;
use sha2::{Digest, Sha256};
use webauthn_rs::prelude::{
    AuthenticatorAttachment, Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, SecurityKey, SecurityKeyAuthentication, SecurityKeyRegistration, Url, Uuid, Webauthn,
    WebauthnBuilder,
};

/// How long a ceremony's challenge may be answered (the browser's own timeout is 5
/// minutes too).
pub const CEREMONY_TTL_SECS: i64 = 300;

/// The relying party of the issuer `issuer`: `None` when WebAuthn cannot work there (its
/// host is an IP address, which browsers refuse as a relying-party id).
pub fn relying_party_for(issuer: &str, name: &str) -> Option<Webauthn> {
    let origin = Url::parse(issuer).ok()?;
    let host = origin.domain()?.to_string();
    let mut origin_only = origin.clone();
    origin_only.set_path("");
    origin_only.set_query(None);
    origin_only.set_fragment(None);
    WebauthnBuilder::new(&host, &origin_only).ok()?.rp_name(name).build().ok()
}

/// The relying party of this server (see [`relying_party_for`]).
pub fn relying_party(state: &Services) -> Option<Webauthn> {
    relying_party_for(&state.config.issuer, &state.config.branding.name)
}

/// The user handle the authenticator keeps for `user_id`: the first 16 bytes of its
/// SHA-256 (never the id itself, which may carry an email address).
pub fn user_handle(user_id: &str) -> Uuid {
    let digest = Sha256::digest(user_id.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes)
}

/// A credential id as the store keeps it: base64url without padding.
pub fn credential_id_text(id: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id)
}

fn purpose(action: &str, kind: FactorKind) -> String {
    format!("{action}:{}", kind.as_str())
}

fn ensure_webauthn(kind: FactorKind) -> Result<(), CodeError> {
    if kind.is_webauthn() {
        Ok(())
    } else {
        Err(CodeError::NoFactor)
    }
}

fn corrupt(e: impl std::fmt::Display) -> CodeError {
    CodeError::Store(StoreError::Corrupt(e.to_string()))
}

/// The user's confirmed credentials of `kind`, with their factors.
async fn credentials(state: &Services, user_id: &str, kind: FactorKind) -> Result<Vec<MfaFactor>, StoreError> {
    Ok(state
        .store
        .mfa_factors(user_id)
        .await?
        .into_iter()
        .filter(|f| f.kind == kind && f.confirmed && f.secret.is_some())
        .collect())
}

/// Starts enrolling an authenticator of `kind` for the waiting login: the options for
/// `navigator.credentials.create` (JSON). Only a user without a usable second factor
/// enrols at login (with one, they pass it first).
pub async fn start_registration(state: &Services, p: &Pending, kind: FactorKind) -> Result<Value, CodeError> {
    ensure_webauthn(kind)?;
    let rp = relying_party(state).ok_or(CodeError::NoFactor)?;
    let (enabled, _) = mfa_settings(state).await?;
    if p.passed || !enabled.allows(kind) || !user_authenticators(state, &p.user).await?.is_empty() {
        return Err(CodeError::NoFactor);
    }
    let user = &p.user;
    let handle = user_handle(&user.user_id);
    let name = user.email.clone().or_else(|| user.username.clone()).unwrap_or_else(|| user.user_id.clone());
    let display = user.name.clone().unwrap_or_else(|| name.clone());
    let (options, saved) = match kind {
        FactorKind::WebauthnRoaming => {
            let attachment = Some(AuthenticatorAttachment::CrossPlatform);
            let (mut ccr, reg) =
                rp.start_securitykey_registration(handle, &name, &display, None, None, attachment).map_err(corrupt)?;
            // The library asks a security key to protect the credential with user
            // verification while verification is only `preferred`; Chromium refuses that
            // combination outright (NotSupportedError: "Requested protection policy is
            // inconsistent"), so the request goes without it (it was not enforced anyway).
            if let Some(ext) = ccr.public_key.extensions.as_mut() {
                ext.cred_protect = None;
            }
            (serde_json::to_value(&ccr), serde_json::to_string(&reg))
        }
        _ => {
            let (mut ccr, reg) = rp.start_passkey_registration(handle, &name, &display, None).map_err(corrupt)?;
            if let Some(sel) = ccr.public_key.authenticator_selection.as_mut() {
                sel.authenticator_attachment = Some(AuthenticatorAttachment::Platform);
            }
            (serde_json::to_value(&ccr), serde_json::to_string(&reg))
        }
    };
    let (options, saved) = (options.map_err(corrupt)?, saved.map_err(corrupt)?);
    let expires = state.clock.now().unix_timestamp() + CEREMONY_TTL_SECS;
    state.store.put_webauthn_ceremony(&p.id_hash, &purpose("register", kind), &saved, expires).await?;
    Ok(options)
}

/// Finishes the enrolment begun by [`start_registration`] with the browser's answer
/// (`response`, the credential as JSON), and passes the waiting login. With the
/// recovery-code factor enabled the user gets a recovery code to show now.
pub async fn finish_registration(
    state: &Services,
    p: &Pending,
    kind: FactorKind,
    response: &str,
    ip: Option<&str>,
) -> Result<Passed, CodeError> {
    ensure_webauthn(kind)?;
    if p.passed {
        return Err(CodeError::Spent);
    }
    let rp = relying_party(state).ok_or(CodeError::NoFactor)?;
    let now = state.clock.now().unix_timestamp();
    let saved = state.store.take_webauthn_ceremony(&p.id_hash, &purpose("register", kind), now).await?;
    let Some(saved) = saved else { return Err(CodeError::Expired) };
    if !user_authenticators(state, &p.user).await?.is_empty() {
        return Err(CodeError::NoFactor);
    }
    let refused = |reason: String| async move {
        let description = format!("WebAuthn enrolment refused: {reason}");
        state.audit.record(super::challenge::event(state, codes::MFA_AUTH_FAILED, p, &description, ip)).await;
        CodeError::NotAccepted
    };
    let answer: RegisterPublicKeyCredential = match serde_json::from_str(response) {
        Ok(a) => a,
        Err(e) => return Err(refused(format!("unreadable answer ({e})")).await),
    };
    let (credential, credential_id) = match kind {
        FactorKind::WebauthnRoaming => {
            let reg: SecurityKeyRegistration = serde_json::from_str(&saved).map_err(corrupt)?;
            match rp.finish_securitykey_registration(&answer, &reg) {
                Ok(key) => (serde_json::to_string(&key), credential_id_text(key.cred_id().as_ref())),
                Err(e) => return Err(refused(e.to_string()).await),
            }
        }
        _ => {
            let reg: PasskeyRegistration = serde_json::from_str(&saved).map_err(corrupt)?;
            match rp.finish_passkey_registration(&answer, &reg) {
                Ok(key) => (serde_json::to_string(&key), credential_id_text(key.cred_id().as_ref())),
                Err(e) => return Err(refused(e.to_string()).await),
            }
        }
    };
    let credential = credential.map_err(corrupt)?;
    if state.store.mfa_factor_by_credential(&credential_id).await?.is_some() {
        return Err(refused("the credential is registered already".into()).await);
    }
    let factor = MfaFactor {
        id: format!("{}|dev_{}", kind.as_str(), hex::encode(rand::random::<[u8; 12]>())),
        user_id: p.user.user_id.clone(),
        kind,
        secret: Some(Secret::new(credential)),
        value: Some(default_name(kind).to_string()),
        confirmed: true,
        last_step: None,
        created_at: state.now(),
        position: 0,
        last_auth_at: Some(state.now()),
        credential_id: Some(credential_id),
    };
    match state.store.insert_mfa_factors(std::slice::from_ref(&factor)).await {
        Ok(_) => {}
        Err(StoreError::Conflict { .. }) => return Err(refused("the credential is registered already".into()).await),
        Err(e) => return Err(e.into()),
    }
    let (enabled, _) = mfa_settings(state).await?;
    let recovery_code = if enabled.allows(FactorKind::RecoveryCode) {
        Some(new_recovery_code(state, &p.user.user_id, true).await?)
    } else {
        None
    };
    if !state.store.pass_mfa_pending(&p.id_hash, now).await? {
        return Err(CodeError::Spent);
    }
    let description = format!("{} enrolled", default_name(kind));
    state.audit.record(super::challenge::event(state, codes::MFA_ENROLLED, p, &description, ip)).await;
    Ok(Passed { recovery_code })
}

/// The name a new credential gets (people see it on the console's user page).
pub fn default_name(kind: FactorKind) -> &'static str {
    match kind {
        FactorKind::WebauthnPlatform => "Device (fingerprint, face or screen lock)",
        _ => "Security key",
    }
}

/// Starts the challenge of the user's credentials of `kind` for the waiting login: the
/// options for `navigator.credentials.get` (JSON).
pub async fn start_assertion(state: &Services, p: &Pending, kind: FactorKind) -> Result<Value, CodeError> {
    ensure_webauthn(kind)?;
    if p.passed {
        return Err(CodeError::Spent);
    }
    let rp = relying_party(state).ok_or(CodeError::NoFactor)?;
    let creds = credentials(state, &p.user.user_id, kind).await?;
    if creds.is_empty() {
        return Err(CodeError::NoFactor);
    }
    let secrets = creds.iter().filter_map(|f| f.secret.as_ref()).map(Secret::expose);
    let (options, saved) = match kind {
        FactorKind::WebauthnRoaming => {
            let keys = secrets.map(serde_json::from_str).collect::<Result<Vec<SecurityKey>, _>>().map_err(corrupt)?;
            let (rcr, auth) = rp.start_securitykey_authentication(&keys).map_err(corrupt)?;
            (serde_json::to_value(&rcr), serde_json::to_string(&auth))
        }
        _ => {
            let keys = secrets.map(serde_json::from_str).collect::<Result<Vec<Passkey>, _>>().map_err(corrupt)?;
            let (rcr, auth) = rp.start_passkey_authentication(&keys).map_err(corrupt)?;
            (serde_json::to_value(&rcr), serde_json::to_string(&auth))
        }
    };
    let (options, saved) = (options.map_err(corrupt)?, saved.map_err(corrupt)?);
    let expires = state.clock.now().unix_timestamp() + CEREMONY_TTL_SECS;
    state.store.put_webauthn_ceremony(&p.id_hash, &purpose("assert", kind), &saved, expires).await?;
    Ok(options)
}

/// Checks the browser's answer to [`start_assertion`] (for `prove`, which counts a refusal
/// against the user's second-factor counter and passes the login on success).
pub(super) async fn check_assertion(
    state: &Services,
    p: &Pending,
    kind: FactorKind,
    response: &str,
) -> Result<Checked, CodeError> {
    ensure_webauthn(kind)?;
    let rp = relying_party(state).ok_or(CodeError::NoFactor)?;
    let now = state.clock.now().unix_timestamp();
    let saved = state.store.take_webauthn_ceremony(&p.id_hash, &purpose("assert", kind), now).await?;
    let Some(saved) = saved else { return Ok(Checked::Refused(CodeError::Expired)) };
    let Ok(answer) = serde_json::from_str::<PublicKeyCredential>(response) else {
        return Ok(Checked::Refused(CodeError::NotAccepted));
    };
    let creds = credentials(state, &p.user.user_id, kind).await?;
    let used = credential_id_text(answer.get_credential_id());
    let Some(factor) = creds.iter().find(|f| f.credential_id.as_deref() == Some(used.as_str())) else {
        return Ok(Checked::Refused(CodeError::NotAccepted));
    };
    let stored = factor.secret.as_ref().map(Secret::expose).unwrap_or_default();
    let updated = match kind {
        FactorKind::WebauthnRoaming => {
            let auth: SecurityKeyAuthentication = serde_json::from_str(&saved).map_err(corrupt)?;
            let mut key: SecurityKey = serde_json::from_str(stored).map_err(corrupt)?;
            match rp.finish_securitykey_authentication(&answer, &auth) {
                Ok(result) => {
                    key.update_credential(&result);
                    (serde_json::to_string(&key).map_err(corrupt)?, result.counter())
                }
                Err(_) => return Ok(Checked::Refused(CodeError::NotAccepted)),
            }
        }
        _ => {
            let auth: PasskeyAuthentication = serde_json::from_str(&saved).map_err(corrupt)?;
            let mut key: Passkey = serde_json::from_str(stored).map_err(corrupt)?;
            match rp.finish_passkey_authentication(&answer, &auth) {
                Ok(result) => {
                    key.update_credential(&result);
                    (serde_json::to_string(&key).map_err(corrupt)?, result.counter())
                }
                Err(_) => return Ok(Checked::Refused(CodeError::NotAccepted)),
            }
        }
    };
    let (credential, counter) = updated;
    if !state
        .store
        .use_webauthn_credential(&factor.id, &Secret::new(credential), i64::from(counter), &state.now())
        .await?
    {
        return Ok(Checked::Refused(CodeError::NotAccepted));
    }
    Ok(Checked::Accepted { recovery_code: None })
}
