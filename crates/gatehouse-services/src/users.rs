//! Creating, changing and deleting a user, as an administrator does it (the Management
//! API and the admin console alike): Auth0's validation of the body, the connection's
//! password policy, its legacy store in delegated or import mode, and what a change
//! ends (a new password signs the user out everywhere and lifts brute-force blocks).

use crate::legacy::{delegated_change_password, delegated_create, store_for};
use crate::session_end::{end_sessions_of_user, sign_out_everywhere, Initiator};
use crate::signup::{check_new_password, send_verification_email, PasswordError, Setter};
use crate::Services;
use gatehouse_core::ids::new_user_local_id;
use gatehouse_core::user::{new_user, user_patch, User};
use gatehouse_core::Error;
use gatehouse_legacy::LegacyError;
use gatehouse_store::{Arrival, StoreError};
use serde_json::Value;

/// Why an administrator's change to a user was refused, or failed.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// The body, the password or a rule of the domain refused it.
    #[error(transparent)]
    Refused(#[from] Error),
    #[error(transparent)]
    Legacy(#[from] LegacyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<PasswordError> for UserError {
    fn from(e: PasswordError) -> Self {
        match e {
            PasswordError::Rejected(r) => Error::WeakPassword(r).into(),
            PasswordError::Internal(m) => Self::Internal(m),
            PasswordError::Legacy(e) => e.into(),
        }
    }
}

type Result<T, E = UserError> = std::result::Result<T, E>;

/// Creates a user from Auth0's `POST /api/v2/users` body. A connection with a legacy
/// store in delegated mode creates the user there first (Gatehouse keeps the profile);
/// in import mode a user still waiting there is a conflict. Sends the verification
/// email unless the body says `verify_email: false` or the email is verified.
pub async fn create_user(state: &Services, body: &Value) -> Result<User> {
    let connection_name = match body.get("connection") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(_) => return Err(Error::invalid_field("connection", "Expected type string").into()),
        None => return Err(Error::missing_field("connection").into()),
    };
    let connection = state
        .store
        .connection_by_name(&connection_name)
        .await?
        .ok_or_else(|| Error::body("Connection does not exist."))?;
    let created = new_user(body, &connection, new_user_local_id(), &state.now())?;
    if let Some(legacy) = store_for(state, &connection)? {
        let login = created.user.email.clone().or(created.user.username.clone()).unwrap_or_default();
        if legacy.import_mode() {
            // A user still waiting in the legacy store must not get a duplicate here.
            if legacy.get_user(&login).await?.is_some() {
                return Err(Error::user_exists().into());
            }
        } else {
            let password = created.password.as_deref().ok_or_else(|| Error::missing_field("password"))?;
            return Ok(delegated_create(
                state,
                &connection,
                &legacy,
                &login,
                created.user.username.as_deref(),
                password,
            )
            .await?);
        }
    }
    let mut user = created.user;
    if let Some(password) = created.password {
        check_new_password(state, &connection, &password, &user, false, Setter::Admin).await?;
        user.password_hash = Some(state.hashing.hash(password).await.map_err(|e| UserError::Internal(e.to_string()))?);
    }
    state.store.insert_arrived_user(&user, Arrival::Api, &user.created_at).await?;
    if let Some(hash) = &user.password_hash {
        state.store.record_password(&user.user_id, hash, &user.created_at).await?;
    }
    // Auth0 emails a new unverified user unless `verify_email` is false.
    let verify = body.get("verify_email").and_then(Value::as_bool).unwrap_or(!user.email_verified);
    if verify && !user.email_verified {
        send_verification_email(state, &user, None, true).await?;
    }
    Ok(user)
}

/// Applies Auth0's `PATCH /api/v2/users/{id}` body to user `id`. A new password is held
/// to the connection's policy (set in the legacy store when it delegates), ends every
/// session and refresh grant of the user and lifts brute-force blocks. Blocking a user
/// ends their sessions and refresh grants too.
pub async fn update_user(state: &Services, id: &str, body: &Value) -> Result<User> {
    let existing = state.store.user(id).await?.ok_or_else(Error::user_not_found)?;
    let connection = state.store.connection(&existing.connection_id).await?.ok_or_else(Error::connection_not_found)?;
    let mut patch = user_patch(body, &connection)?;
    let delegated = store_for(state, &connection)?.filter(|l| !l.import_mode());
    if let Some(p) = &patch.password {
        check_new_password(state, &connection, p, &existing, true, Setter::Admin).await?;
    }
    let password_changed = patch.password.is_some();
    let new_hash = match (patch.password.take(), &delegated) {
        // Delegated: the password lives in the legacy store only.
        (Some(p), Some(legacy)) => {
            if !delegated_change_password(state, legacy, &existing, &p).await? {
                return Err(Error::user_not_found().into());
            }
            None
        }
        (Some(p), None) => Some(state.hashing.hash(p).await.map_err(|e| UserError::Internal(e.to_string()))?),
        (None, _) => None,
    };
    if let (Some(legacy), Some(Value::Bool(true))) = (&delegated, body.get("email_verified")) {
        if let Some(email) = &existing.email {
            legacy.verify(email).await?;
        }
    }
    let recorded = new_hash.clone();
    let now = state.now();
    let updated = state
        .store
        .modify_user(id, |user| {
            patch.apply(user, &now);
            if let Some(hash) = new_hash {
                user.password_hash = Some(hash);
                user.last_password_reset = Some(now.clone());
            }
            Ok::<_, UserError>(())
        })
        .await
        .map_err(|e| match e {
            StoreError::NotFound => Error::user_not_found().into(),
            other => UserError::from(other),
        })??;
    if let Some(hash) = recorded {
        state.store.record_password(&updated.user_id, &hash, &updated.updated_at).await?;
    }
    if updated.blocked && !existing.blocked {
        // A blocked user's sessions and refresh grants end with the block.
        sign_out_everywhere(state, &updated.user_id, Initiator::SessionRevoked).await?;
    }
    if password_changed {
        sign_out_everywhere(state, &updated.user_id, Initiator::PasswordChanged).await?;
        // A new password lifts brute-force blocks, as in Auth0.
        let identifiers = crate::attack::login_identifiers(&updated);
        crate::attack::release_blocks(state, &identifiers, Some(&updated.user_id), Some(&connection)).await?;
    }
    Ok(updated)
}

/// Deletes user `id`: from a delegating legacy store first (by its own id), then its
/// sessions (so their applications hear of it), then the user. Deleting a user who does
/// not exist succeeds, as in Auth0.
pub async fn delete_user(state: &Services, id: &str) -> Result<()> {
    if let Some(user) = state.store.user(id).await? {
        if let Some(connection) = state.store.connection(&user.connection_id).await? {
            if let Some(legacy) = store_for(state, &connection)?.filter(|l| !l.import_mode()) {
                legacy.delete(user.local_id()).await?;
            }
        }
    }
    end_sessions_of_user(state, id, Initiator::AccountDeleted).await?;
    state.store.delete_user(id).await?;
    Ok(())
}
