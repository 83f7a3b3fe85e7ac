//! Passkeys as a FIRST factor of a database connection that enables them
//! (`options.authentication_methods.passkey.enabled`): signing up with a passkey instead
//! of a password, and signing in with one, without typing a name. The relying party, the
//! user handle and the ceremony storage are `mfa::webauthn`'s; this module owns the rules
//! around the two ceremonies:
//!
//! - both are bound to the hosted login transaction (its id hash), single use and
//!   worthless after [`CEREMONY_TTL_SECS`];
//! - the credential is discoverable (a resident key) and user verification is required,
//!   so a passkey is two factors in itself (the device, and its unlock): a passkey login
//!   is not asked for a second factor (as Auth0), and its `amr` is [`PASSKEY_AMR`];
//! - sign-in finds the user by the credential id (unique across users) and checks the
//!   user handle the authenticator returned against that user's; one answer, "not
//!   accepted", for an unknown credential and a bad signature alike, so the button tells
//!   nobody which accounts exist; failures count against the IP (suspicious-IP
//!   throttling) and, once the credential names a user, against that user's identifier
//!   (brute-force protection), as a password's do; a blocked user is told so only after
//!   the passkey verified;
//! - sign-up registers the credential BEFORE any user exists: the user and the passkey
//!   are written together once the ceremony succeeded, so a failed or abandoned ceremony
//!   leaves nothing behind (the pending sign-up lives only in the ceremony's state).

use crate::attack::{LoginGuard, Refusal};
use crate::login::{login_event, LoginError};
use crate::mfa::webauthn::{credential_id_text, relying_party, user_handle, CEREMONY_TTL_SECS};
use crate::signup::{sign_up_with, FirstCredential, SignupError};
use crate::Services;
use gatehouse_core::connection::Connection;
use gatehouse_core::ids::new_user_local_id;
use gatehouse_core::log_event::codes;
use gatehouse_core::mfa::{FactorKind, MfaFactor};
use gatehouse_core::secret::Secret;
use gatehouse_core::user::{passkey_signup_user, User};
use gatehouse_core::validate::normalize_login;
use gatehouse_store::{LoginRecord, StoreError};
use serde_json::{json, Value};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential,
};

/// The `amr` of a passkey login (RFC 8176): `hwk`, proof of possession of a key kept by
/// an authenticator; `user`, the user-presence test; and `mfa`, because user verification
/// is required (the device's PIN or biometric on top of holding it), which is also why
/// such a login is not asked for a second factor.
pub const PASSKEY_AMR: [&str; 3] = ["hwk", "user", "mfa"];

/// The name a passkey gets where people see it.
pub const PASSKEY_NAME: &str = "Passkey";

const LOGIN: &str = "passkey-login";
const SIGNUP: &str = "passkey-signup";

/// Why a passkey ceremony did not end in a sign-in or a sign-up.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// The connection does not enable passkeys, or this server cannot be a relying party.
    #[error("Passkeys are not available here.")]
    Unavailable,
    /// No live ceremony: it expired, was answered already, or another replaced it.
    #[error("That took too long. Try again.")]
    Expired,
    /// The answer did not verify, or names no passkey of this connection.
    #[error("The passkey was not accepted. Try again, or use another way to sign in.")]
    NotAccepted,
    /// Refused as a password login would be: the user is blocked, the identifier or the IP
    /// is (attack protection).
    #[error(transparent)]
    Refused(LoginError),
    #[error(transparent)]
    Signup(SignupError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn corrupt(e: impl std::fmt::Display) -> PasskeyError {
    PasskeyError::Store(StoreError::Corrupt(e.to_string()))
}

/// Starts the sign-in ceremony of the login transaction `tx_hash`: the options for
/// `navigator.credentials.get` (no allowed credentials: the authenticator offers its
/// passkeys for this relying party; `mediation` is `conditional`, for the autofill).
pub async fn start_login(state: &Services, connection: &Connection, tx_hash: &str) -> Result<Value, PasskeyError> {
    if !connection.authentication_methods().passkey {
        return Err(PasskeyError::Unavailable);
    }
    let rp = relying_party(state).ok_or(PasskeyError::Unavailable)?;
    let (options, saved) = rp.start_discoverable_authentication().map_err(corrupt)?;
    let saved = serde_json::to_string(&saved).map_err(corrupt)?;
    let expires = state.clock.now().unix_timestamp() + CEREMONY_TTL_SECS;
    state.store.put_webauthn_ceremony(tx_hash, LOGIN, &saved, expires).await?;
    serde_json::to_value(&options).map_err(corrupt)
}

/// Checks the browser's answer to [`start_login`] and records the login (as a password
/// login does: `last_login`, `logins_count`, the audit event): the user it signs in.
pub async fn finish_login(
    state: &Services,
    connection: &Connection,
    tx_hash: &str,
    response: &str,
    ip: Option<&str>,
) -> Result<User, PasskeyError> {
    if !connection.authentication_methods().passkey {
        return Err(PasskeyError::Unavailable);
    }
    let rp = relying_party(state).ok_or(PasskeyError::Unavailable)?;
    // The IP first, before anything is looked up.
    let mut by_ip = LoginGuard::new(state, connection, "", ip).await?;
    if let Some(refusal) = by_ip.check(state).await? {
        return Err(refused(state, connection, None, "", ip, refusal).await);
    }
    let now = state.clock.now().unix_timestamp();
    let Some(saved) = state.store.take_webauthn_ceremony(tx_hash, LOGIN, now).await? else {
        return Err(PasskeyError::Expired);
    };
    let saved: DiscoverableAuthentication = serde_json::from_str(&saved).map_err(corrupt)?;
    let found = match serde_json::from_str::<PublicKeyCredential>(response) {
        Ok(answer) => identify(state, connection, &rp, &answer).await?.map(|f| (answer, f)),
        Err(_) => None,
    };
    let Some((answer, (factor, user))) = found else {
        by_ip.failed(state, None).await?;
        login_event(state, codes::FAILED_LOGIN, connection, None, "", ip, Some("Passkey not recognised")).await;
        return Err(PasskeyError::NotAccepted);
    };
    let login = normalize_login(user.email.as_deref().or(user.username.as_deref()).unwrap_or_default());
    let mut guard = LoginGuard::new(state, connection, &login, ip).await?;
    if let Some(refusal) = guard.check(state).await? {
        return Err(refused(state, connection, Some(&user), &login, ip, refusal).await);
    }
    let stored = factor.secret.as_ref().map(Secret::expose).unwrap_or_default();
    let mut key: Passkey = serde_json::from_str(stored).map_err(corrupt)?;
    let verified = rp.finish_discoverable_authentication(&answer, saved, &[DiscoverableKey::from(&key)]);
    let accepted = match verified {
        Ok(result) => {
            key.update_credential(&result);
            let credential = Secret::new(serde_json::to_string(&key).map_err(corrupt)?);
            // The counter's compare-and-set: a cloned authenticator's old counter fails.
            state
                .store
                .use_webauthn_credential(&factor.id, &credential, i64::from(result.counter()), &state.now())
                .await?
        }
        Err(_) => false,
    };
    if !accepted {
        guard.failed(state, Some(&user.user_id)).await?;
        let why = Some("Passkey not accepted");
        login_event(state, codes::FAILED_LOGIN, connection, Some(&user.user_id), &login, ip, why).await;
        return Err(PasskeyError::NotAccepted);
    }
    if user.blocked {
        let why = Some("user is blocked");
        login_event(state, codes::FAILED_LOGIN, connection, Some(&user.user_id), &login, ip, why).await;
        return Err(PasskeyError::Refused(LoginError::Blocked));
    }
    guard.succeeded(state).await?;
    let record = LoginRecord { now: &state.now(), ip, upgrade: None };
    // None: deleted between the check and the update.
    let updated = state.store.record_login(&user.user_id, &record).await?.ok_or(PasskeyError::NotAccepted)?;
    login_event(state, codes::SUCCESS_LOGIN, connection, Some(&updated.user_id), &login, ip, Some("Passkey")).await;
    Ok(updated)
}

/// The passkey and user an answer names: a passkey of `connection`'s user whose user
/// handle is the one the authenticator returned.
async fn identify(
    state: &Services,
    connection: &Connection,
    rp: &webauthn_rs::Webauthn,
    answer: &PublicKeyCredential,
) -> Result<Option<(MfaFactor, User)>, StoreError> {
    let Ok((handle, credential_id)) = rp.identify_discoverable_authentication(answer) else { return Ok(None) };
    let Some(factor) = state.store.mfa_factor_by_credential(&credential_id_text(credential_id)).await? else {
        return Ok(None);
    };
    if factor.kind != FactorKind::Passkey || !factor.confirmed || factor.secret.is_none() {
        return Ok(None);
    }
    let Some(user) = state.store.user(&factor.user_id).await? else { return Ok(None) };
    if user.connection_id != connection.id || user_handle(&user.user_id) != handle {
        return Ok(None);
    }
    Ok(Some((factor, user)))
}

async fn refused(
    state: &Services,
    connection: &Connection,
    user: Option<&User>,
    login: &str,
    ip: Option<&str>,
    refusal: Refusal,
) -> PasskeyError {
    let (kind, error) = match refusal {
        Refusal::IdentifierBlocked => (codes::BLOCKED_ACCOUNT, LoginError::TooManyAttempts),
        Refusal::IpThrottled => (codes::BLOCKED_IP, LoginError::SuspiciousIp),
    };
    let user_id = user.map(|u| u.user_id.as_str());
    login_event(state, kind, connection, user_id, login, ip, Some(&error.to_string())).await;
    PasskeyError::Refused(error)
}

/// Starts signing up with a passkey: checks the sign-up (`fields`: the email, and the
/// username where the connection requires one; no password), then the options for
/// `navigator.credentials.create`. Nothing is written but the ceremony, which carries
/// the pending sign-up until [`finish_signup`].
pub async fn start_signup(
    state: &Services,
    connection: &Connection,
    tx_hash: &str,
    fields: &Value,
) -> Result<Value, PasskeyError> {
    if !connection.authentication_methods().passkey {
        return Err(PasskeyError::Unavailable);
    }
    if !connection.signup_allowed() {
        return Err(PasskeyError::Signup(SignupError::Disabled));
    }
    let rp = relying_party(state).ok_or(PasskeyError::Unavailable)?;
    let local_id = new_user_local_id();
    let user = passkey_signup_user(fields, connection, local_id.clone(), &state.now())
        .map_err(|e| PasskeyError::Signup(SignupError::Invalid(e)))?;
    // Said now rather than after the ceremony, which would leave a passkey on the
    // device for an account that never was (the password sign-up says it too).
    for (login, taken) in [(&user.email, SignupError::UserExists), (&user.username, SignupError::UsernameExists)] {
        if let Some(login) = login {
            if state.store.user_by_login(&connection.id, &normalize_login(login)).await?.is_some() {
                return Err(PasskeyError::Signup(taken));
            }
        }
    }
    let (options, registration) = resident_key_registration(&rp, &user)?;
    let pending = json!({"registration": registration, "local_id": local_id, "fields": fields});
    let expires = state.clock.now().unix_timestamp() + CEREMONY_TTL_SECS;
    state.store.put_webauthn_ceremony(tx_hash, SIGNUP, &pending.to_string(), expires).await?;
    Ok(options)
}

/// A passkey's registration for `user`: the options for `navigator.credentials.create`
/// and the state to check the answer against. The library's passkey ceremony (user
/// verification required), asking for a resident key: a passkey is found by the
/// authenticator without a name typed.
fn resident_key_registration(rp: &webauthn_rs::Webauthn, user: &User) -> Result<(Value, Value), PasskeyError> {
    let name = user.email.clone().or_else(|| user.username.clone()).unwrap_or_else(|| user.user_id.clone());
    let (options, registration) =
        rp.start_passkey_registration(user_handle(&user.user_id), &name, &name, None).map_err(corrupt)?;
    let mut options = serde_json::to_value(&options).map_err(corrupt)?;
    let selection = &mut options["publicKey"]["authenticatorSelection"];
    selection["residentKey"] = json!("required");
    selection["requireResidentKey"] = json!(true);
    Ok((options, serde_json::to_value(&registration).map_err(corrupt)?))
}

/// Finishes the sign-up begun by [`start_signup`] with the browser's new credential: the
/// user, created without a password and with the passkey, in one write (through the
/// sign-up's rules: throttling, Actions, the audit event, the verification email).
pub async fn finish_signup(
    state: &Services,
    connection: &Connection,
    tx_hash: &str,
    response: &str,
    client_id: Option<&str>,
    ip: Option<&str>,
) -> Result<User, PasskeyError> {
    if !connection.authentication_methods().passkey {
        return Err(PasskeyError::Unavailable);
    }
    let rp = relying_party(state).ok_or(PasskeyError::Unavailable)?;
    let now = state.clock.now().unix_timestamp();
    let Some(pending) = state.store.take_webauthn_ceremony(tx_hash, SIGNUP, now).await? else {
        return Err(PasskeyError::Expired);
    };
    let pending: Value = serde_json::from_str(&pending).map_err(corrupt)?;
    let registration: PasskeyRegistration = serde_json::from_value(pending["registration"].clone()).map_err(corrupt)?;
    let local_id = pending["local_id"].as_str().ok_or_else(|| corrupt("a pending sign-up without its id"))?;
    let Ok(answer) = serde_json::from_str::<RegisterPublicKeyCredential>(response) else {
        return Err(PasskeyError::NotAccepted);
    };
    let key = rp.finish_passkey_registration(&answer, &registration).map_err(|_| PasskeyError::NotAccepted)?;
    let credential_id = credential_id_text(key.cred_id().as_ref());
    if state.store.mfa_factor_by_credential(&credential_id).await?.is_some() {
        return Err(PasskeyError::NotAccepted);
    }
    let factor = passkey_factor(state, &format!("auth0|{local_id}"), &key, credential_id)?;
    let credential = FirstCredential::Passkey { local_id: local_id.to_string(), factor: Box::new(factor) };
    sign_up_with(state, connection, &pending["fields"], credential, client_id, ip).await.map_err(PasskeyError::Signup)
}

/// The factor that keeps passkey `key` of user `user_id`.
fn passkey_factor(
    state: &Services,
    user_id: &str,
    key: &Passkey,
    credential_id: String,
) -> Result<MfaFactor, PasskeyError> {
    Ok(MfaFactor {
        id: format!("{}|dev_{}", FactorKind::Passkey.as_str(), hex::encode(rand::random::<[u8; 12]>())),
        user_id: user_id.to_string(),
        kind: FactorKind::Passkey,
        secret: Some(Secret::new(serde_json::to_string(key).map_err(corrupt)?)),
        value: Some(PASSKEY_NAME.to_string()),
        confirmed: true,
        last_step: None,
        created_at: state.now(),
        position: 0,
        last_auth_at: None,
        credential_id: Some(credential_id),
    })
}

const ENROL: &str = "passkey-enrol";

/// Progressive enrolment: after `user`'s password login on the transaction `tx_hash`,
/// the options for `navigator.credentials.create` when the connection asks to offer a
/// passkey and this user has none and was never offered one (the offer is recorded now:
/// once). `None`: carry on with the login. Only for a login that needs no second factor
/// (the caller's check): a password alone must not be able to add a way in that skips
/// the second factor. The ceremony carries the user the password proved, so both of its
/// answers (a passkey, or "not now") need it, once.
pub async fn offer_enrolment(
    state: &Services,
    connection: &Connection,
    tx_hash: &str,
    user: &User,
) -> Result<Option<Value>, PasskeyError> {
    let methods = connection.authentication_methods();
    if !methods.passkey || !methods.progressive_enrollment || user.connection_id != connection.id {
        return Ok(None);
    }
    let Some(rp) = relying_party(state) else { return Ok(None) };
    let factors = state.store.mfa_factors(&user.user_id).await?;
    if factors.iter().any(|f| f.kind == FactorKind::Passkey) {
        return Ok(None);
    }
    if !state.store.mark_passkey_offered(&user.user_id, &state.now()).await? {
        return Ok(None);
    }
    let (options, registration) = resident_key_registration(&rp, user)?;
    let pending = json!({"registration": registration, "user_id": user.user_id});
    let expires = state.clock.now().unix_timestamp() + CEREMONY_TTL_SECS;
    state.store.put_webauthn_ceremony(tx_hash, ENROL, &pending.to_string(), expires).await?;
    Ok(Some(options))
}

/// The answer to [`offer_enrolment`]: the new passkey (`response`), or none (the user
/// chose "not now"). The user whose login goes on, and whether a passkey was added. A
/// passkey that does not verify is not added, and the login goes on all the same (the
/// password passed; the offer was optional).
pub async fn answer_enrolment(
    state: &Services,
    tx_hash: &str,
    response: Option<&str>,
    ip: Option<&str>,
) -> Result<(String, bool), PasskeyError> {
    let now = state.clock.now().unix_timestamp();
    let Some(pending) = state.store.take_webauthn_ceremony(tx_hash, ENROL, now).await? else {
        return Err(PasskeyError::Expired);
    };
    let pending: Value = serde_json::from_str(&pending).map_err(corrupt)?;
    let user_id = pending["user_id"].as_str().ok_or_else(|| corrupt("a passkey offer without its user"))?.to_string();
    let Some(response) = response else { return Ok((user_id, false)) };
    let rp = relying_party(state).ok_or(PasskeyError::Unavailable)?;
    let registration: PasskeyRegistration = serde_json::from_value(pending["registration"].clone()).map_err(corrupt)?;
    let key = match serde_json::from_str::<RegisterPublicKeyCredential>(response) {
        Ok(answer) => rp.finish_passkey_registration(&answer, &registration).ok(),
        Err(_) => None,
    };
    let Some(key) = key else { return Ok((user_id, false)) };
    let credential_id = credential_id_text(key.cred_id().as_ref());
    let factor = passkey_factor(state, &user_id, &key, credential_id)?;
    match state.store.insert_mfa_factors(std::slice::from_ref(&factor)).await {
        Ok(_) => {}
        Err(StoreError::Conflict(_)) => return Ok((user_id, false)),
        Err(e) => return Err(e.into()),
    }
    let mut e = state.audit.event(codes::MFA_ENROLLED);
    e.user_id = Some(user_id.clone());
    e.ip = ip.map(str::to_string);
    e.description = Some("Passkey enrolled".into());
    state.audit.record(e).await;
    Ok((user_id, true))
}
