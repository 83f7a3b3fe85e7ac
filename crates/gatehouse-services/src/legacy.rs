//! Legacy identity stores in Gatehouse's flows: automatic migration on first login
//! (`import_mode: true`), delegated mode (`import_mode: false`: the legacy store stays the
//! source of truth and Gatehouse keeps a profile copy without a password hash),
//! [`legacy_user_exists`] for sign-up and password reset, and `migrate-remaining` (the
//! bulk import of the users who never logged in).
//!
//! The connectors themselves are `gatehouse-legacy`'s; this module decides what to do
//! with their answers; logins through them are `crate::login`'s.

use crate::Services;
use gatehouse_core::clock::Clock;
use gatehouse_core::connection::Connection;
use gatehouse_core::user::{default_display, User};
use gatehouse_core::validate::{check_picture_url, validate_metadata, Email, Username};
use gatehouse_hash::Hasher;
use gatehouse_legacy::{LegacyError, LegacyStore, NewLegacyUser, Profile};
use gatehouse_migrate::{validate, HashExport, RawRecord, RecordError};
use gatehouse_store::{Arrival, BulkOutcome, Store, StoreError};
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// The legacy stores of the connections in use, built once per configuration (their
/// pools and clients are reused) and rebuilt when a connection's options change.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    stores: Arc<Mutex<HashMap<String, (String, LegacyStore)>>>,
}

impl Registry {
    /// The legacy store `connection` configures, if any.
    pub fn for_connection(
        &self,
        connection: &Connection,
        clock: Arc<dyn Clock>,
        sandbox: &gatehouse_scripts::Sandbox,
    ) -> Result<Option<LegacyStore>, gatehouse_legacy::ConfigError> {
        let o = &connection.options;
        if !o.contains_key("legacy_store") && !o.contains_key("customScripts") {
            return Ok(None);
        }
        let fingerprint = json!([
            o.get("legacy_store"),
            o.get("import_mode"),
            o.get("enabledDatabaseCustomization"),
            o.get("customScripts"),
            o.get("configuration")
        ])
        .to_string();
        if let Ok(stores) = self.stores.lock() {
            if let Some((f, store)) = stores.get(&connection.id) {
                if *f == fingerprint {
                    return Ok(Some(store.clone()));
                }
            }
        }
        let built = LegacyStore::for_connection(o, clock, Some(sandbox), &connection.name)?;
        if let (Some(store), Ok(mut stores)) = (&built, self.stores.lock()) {
            stores.insert(connection.id.clone(), (fingerprint, store.clone()));
        }
        Ok(built)
    }
}

/// The connection's legacy store; a configuration that no longer parses is an outage.
pub fn store_for(state: &Services, connection: &Connection) -> Result<Option<LegacyStore>, LegacyError> {
    state.legacy.for_connection(connection, state.clock.clone(), &state.scripts).map_err(|e| {
        tracing::error!(connection = %connection.name, error = %e, "the connection's legacy_store is unusable");
        LegacyError::Unavailable(e.to_string())
    })
}

/// A Gatehouse user from a legacy profile: `auth0|<legacy user_id>`, email normalized,
/// the username kept when the connection uses usernames, Auth0's display defaults; the
/// metadata and creation time an Auth0 tenant gives are kept.
pub fn user_from_profile(connection: &Connection, p: &Profile, now: &str) -> Result<User, String> {
    let email = match &p.email {
        Some(e) => {
            Some(Email::parse(e).map_err(|r| format!("the legacy profile's email is invalid: {r}"))?.into_string())
        }
        None => None,
    };
    let username = match (&p.username, connection.requires_username()) {
        (Some(u), true) => {
            let (min, max) = connection.username_bounds();
            Some(
                Username::parse(u, min, max)
                    .map_err(|r| format!("the legacy profile's username is invalid: {r}"))?
                    .into_string(),
            )
        }
        _ => None,
    };
    if email.is_none() && username.is_none() {
        return Err("the legacy profile has neither an email nor a username".into());
    }
    for (field, m) in [("user_metadata", &p.user_metadata), ("app_metadata", &p.app_metadata)] {
        validate_metadata(field, m).map_err(|e| format!("the legacy profile's {field} is unusable: {e}"))?;
    }
    let mut user = User {
        user_id: format!("auth0|{}", p.user_id),
        connection_id: connection.id.clone(),
        connection: connection.name.clone(),
        provider: "auth0".into(),
        email,
        email_verified: p.email_verified,
        username,
        phone_number: None,
        phone_verified: false,
        name: p.name.clone(),
        nickname: p.nickname.clone(),
        given_name: p.given_name.clone(),
        family_name: p.family_name.clone(),
        picture: p.picture.clone().filter(|u| check_picture_url(u).is_ok()),
        password_hash: None,
        user_metadata: p.user_metadata.clone(),
        app_metadata: p.app_metadata.clone(),
        blocked: false,
        logins_count: 0,
        last_login: None,
        last_ip: None,
        last_password_reset: None,
        // An Auth0 tenant's user keeps the day it was created there.
        created_at: p.created_at.clone().unwrap_or_else(|| now.to_string()),
        updated_at: now.to_string(),
    };
    default_display(&mut user);
    Ok(user)
}

/// A password reset was asked for `email`, which Gatehouse does not hold: the user the
/// connection's legacy store has under that email is brought in first, so the reset can
/// go ahead. In import mode the user is migrated now without a password (their legacy
/// password keeps working until the reset is done, see [`finish_migration_login`]); in
/// delegated mode the profile copy is made. `None` when there is no legacy store, it does
/// not know the email, or it is unavailable (logged).
pub async fn user_for_reset(
    state: &Services,
    connection: &Connection,
    email: &str,
) -> Result<Option<User>, StoreError> {
    let Ok(Some(legacy)) = store_for(state, connection) else { return Ok(None) };
    let profile = match lookup(connection, &legacy, email).await {
        Ok(Some(p)) if p.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(email)) => p,
        Ok(_) | Err(_) => return Ok(None),
    };
    if !legacy.import_mode() {
        return match sync_profile(state, connection, &profile, None).await {
            Ok(user) => Ok(Some(user)),
            Err(e) => {
                tracing::warn!(connection = %connection.name, error = ?e, "legacy profile unusable for a password reset");
                Ok(None)
            }
        };
    }
    let now = state.now();
    let user = match user_from_profile(connection, &profile, &now) {
        Ok(u) => u,
        Err(e) => {
            tracing::warn!(connection = %connection.name, legacy_user_id = %profile.user_id, error = %e, "unusable legacy profile");
            return Ok(None);
        }
    };
    match state.store.insert_arrived_user(&user, Arrival::Reset, &now).await {
        Ok(()) => Ok(Some(user)),
        // Migrated meanwhile (a login, another reset): that user it is.
        Err(StoreError::Conflict(_)) => {
            Ok(state.store.user_by_login(&connection.id, email).await?.filter(|u| u.user_id == user.user_id))
        }
        Err(e) => Err(e),
    }
}

#[derive(Debug)]
pub enum SyncError {
    Profile(String),
    Store(StoreError),
}

/// Writes the delegated profile copy (never a password hash); with `login = Some(ip)` the
/// login counters move too.
pub async fn sync_profile(
    state: &Services,
    connection: &Connection,
    profile: &Profile,
    login: Option<Option<&str>>,
) -> Result<User, SyncError> {
    let now = state.now();
    let fresh = user_from_profile(connection, profile, &now).map_err(SyncError::Profile)?;
    let ip = login.flatten().map(str::to_string);
    for _ in 0..2 {
        let changed = state
            .store
            .modify_user(&fresh.user_id, |u| {
                u.email = fresh.email.clone();
                u.email_verified = fresh.email_verified;
                u.username = fresh.username.clone();
                u.name = fresh.name.clone();
                u.nickname = fresh.nickname.clone();
                u.given_name = fresh.given_name.clone();
                u.family_name = fresh.family_name.clone();
                u.picture = fresh.picture.clone();
                u.password_hash = None;
                if login.is_some() {
                    u.logins_count += 1;
                    u.last_login = Some(now.clone());
                    if ip.is_some() {
                        u.last_ip = ip.clone();
                    }
                }
                u.updated_at = now.clone();
                Ok::<_, ()>(())
            })
            .await;
        match changed {
            Ok(Ok(u)) => return Ok(u),
            Ok(Err(())) => {}
            Err(StoreError::NotFound) => {
                let mut u = fresh.clone();
                if login.is_some() {
                    u.logins_count = 1;
                    u.last_login = Some(now.clone());
                    u.last_ip = ip.clone();
                }
                match state.store.insert_arrived_user(&u, Arrival::Delegated, &now).await {
                    Ok(()) => return Ok(u),
                    // Created meanwhile: update it on the next round.
                    Err(StoreError::Conflict(_)) => continue,
                    Err(e) => return Err(SyncError::Store(e)),
                }
            }
            Err(e) => return Err(SyncError::Store(e)),
        }
    }
    Err(SyncError::Profile(format!(
        "the profile of legacy user {} conflicts with another user of the connection",
        profile.user_id
    )))
}

/// For sign-up and password reset: the not-yet-migrated (import mode) or delegated user
/// the connection's legacy store has under `login` (an email or username). `None` when
/// the connection has no legacy store or the store does not know the login. Sign-up
/// must refuse such a login (`user_exists`), or a duplicate of a legacy user would be
/// made; a password reset may continue with [`import_with_password`].
pub async fn legacy_user(
    state: &Services,
    connection: &Connection,
    login: &str,
) -> Result<Option<Profile>, LegacyError> {
    let Some(legacy) = store_for(state, connection)? else { return Ok(None) };
    lookup(connection, &legacy, login).await
}

/// `get_user` for a typed login (trimmed, an email normalized), an outage logged.
async fn lookup(connection: &Connection, legacy: &LegacyStore, login: &str) -> Result<Option<Profile>, LegacyError> {
    let login = login.trim();
    let login = Email::parse(login).map(Email::into_string).unwrap_or_else(|_| login.to_ascii_lowercase());
    legacy.get_user(&login).await.inspect_err(|e| {
        tracing::warn!(connection = %connection.name, error = %e, "legacy store unavailable during a user lookup");
    })
}

/// Whether the connection's legacy store knows `login` (see [`legacy_user`]).
pub async fn legacy_user_exists(state: &Services, connection: &Connection, login: &str) -> Result<bool, LegacyError> {
    Ok(legacy_user(state, connection, login).await?.is_some())
}

/// Delegated sign-up (and Management API create): the legacy store creates the user,
/// then its profile is copied here.
pub async fn delegated_create(
    state: &Services,
    connection: &Connection,
    legacy: &LegacyStore,
    email: &str,
    username: Option<&str>,
    password: &str,
) -> Result<User, LegacyError> {
    let password_hash =
        state.hashing.hash(password.to_string()).await.map_err(|e| LegacyError::Unavailable(e.to_string()))?;
    let new = NewLegacyUser {
        email: email.to_string(),
        username: username.map(str::to_string),
        password: password.to_string(),
        password_hash,
    };
    legacy.create(&new).await?;
    let profile = legacy
        .get_user(email)
        .await?
        .ok_or_else(|| LegacyError::Unavailable("get_user does not find the user create just made".into()))?;
    sync_profile(state, connection, &profile, None).await.map_err(|e| LegacyError::Unavailable(format!("{e:?}")))
}

/// Delegated password change: the legacy store's password changes; nothing is stored here.
pub async fn delegated_change_password(
    state: &Services,
    legacy: &LegacyStore,
    user: &User,
    password: &str,
) -> Result<bool, LegacyError> {
    let login = user.email.clone().or(user.username.clone()).unwrap_or_default();
    let hash = state.hashing.hash(password.to_string()).await.map_err(|e| LegacyError::Unavailable(e.to_string()))?;
    legacy.change_password(&login, password, &hash).await
}

// ---- migrate-remaining -----------------------------------------------------------------

/// What `migrate-remaining` did: users read from the legacy store, imported, skipped
/// because they are already in Gatehouse, and refused by validation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RemainingSummary {
    pub total: u64,
    pub inserted: u64,
    pub skipped: u64,
    pub failed: u64,
}

/// Users read from the legacy store per page.
pub const REMAINING_PAGE: u32 = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum RemainingError {
    #[error("the connection has no legacy store (options.enabledDatabaseCustomization and options.legacy_store)")]
    NoLegacyStore,
    #[error(transparent)]
    Legacy(#[from] LegacyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Sink(String),
}

/// The Auth0 import record of a legacy profile (the password hash is set afterwards, as
/// the parsed hash the legacy store gave).
fn import_record(connection: &Connection, p: &Profile) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            m.insert(k.into(), json!(v));
        }
    };
    put("email", &p.email);
    if connection.requires_username() {
        put("username", &p.username);
    }
    put("name", &p.name);
    put("given_name", &p.given_name);
    put("family_name", &p.family_name);
    put("nickname", &p.nickname);
    put("picture", &p.picture);
    m.insert("email_verified".into(), json!(p.email_verified));
    for (k, v) in [("user_metadata", &p.user_metadata), ("app_metadata", &p.app_metadata)] {
        if !v.is_empty() {
            m.insert(k.into(), Value::Object(v.clone()));
        }
    }
    Value::Object(m)
}

/// Bulk-imports every legacy user not yet in Gatehouse, with the hash the legacy store
/// holds or, for a store that gives none (an Auth0 tenant), the one `hashes` (Auth0's
/// password-hash export) has under the user's id; users without either must reset their
/// password. Through the import pipeline's validation and bulk write with `upsert` off:
/// a user already here (migrated on login, or by an earlier run) is a conflict and stays
/// untouched. `page_done` sees the running summary and each page's failed records (after
/// the last page, the export's hashes no user took); it may stop the run by failing.
pub async fn migrate_remaining<F, Fut>(
    store: &Store,
    hasher: &Hasher,
    connection: &Connection,
    legacy: &LegacyStore,
    hashes: Option<&HashExport>,
    now: &str,
    mut page_done: F,
) -> Result<RemainingSummary, RemainingError>
where
    F: FnMut(RemainingSummary, Vec<RecordError>) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let mut summary = RemainingSummary::default();
    let mut after: Option<String> = None;
    let mut joined = HashSet::new();
    loop {
        let page = legacy.list(after.as_deref(), REMAINING_PAGE, hasher).await?;
        let mut rows = Vec::with_capacity(page.users.len());
        let mut errors = Vec::new();
        for listed in page.users {
            let mut user = import_record(connection, &listed.profile);
            if listed.hash.is_none() {
                if let Some(h) = hashes {
                    // Validation parses the export's hash like any imported one.
                    user["user_id"] = json!(listed.profile.user_id);
                    joined.extend(h.join(&mut user));
                    if let Value::Object(m) = &mut user {
                        m.remove("user_id");
                    }
                }
            }
            let record = RawRecord { index: summary.total, line: 0, user, mapping_errors: Vec::new() };
            summary.total += 1;
            match validate(&record, connection, hasher, now) {
                Ok(mut checked) => {
                    checked.user.user_id = format!("auth0|{}", listed.profile.user_id);
                    if let Some(hash) = listed.hash {
                        checked.user.password_hash = Some(hash.to_stored());
                    }
                    if let Some(created) = &listed.profile.created_at {
                        checked.user.created_at = created.clone();
                    }
                    rows.push(checked.user);
                }
                Err(e) => {
                    summary.failed += 1;
                    errors.push(e);
                }
            }
        }
        let ids: Vec<String> = rows.iter().map(|u| u.user_id.clone()).collect();
        let outcomes = store.insert_users_bulk(rows).await?;
        let mut inserted = Vec::new();
        for (id, outcome) in ids.into_iter().zip(outcomes) {
            match outcome {
                BulkOutcome::Inserted => {
                    summary.inserted += 1;
                    inserted.push(id);
                }
                BulkOutcome::Conflict(_) => summary.skipped += 1,
            }
        }
        store.record_arrived(&connection.id, &inserted, Arrival::MigrateRemaining, now).await?;
        page_done(summary, errors).await.map_err(RemainingError::Sink)?;
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    if let Some(h) = hashes {
        let unjoined = h.unjoined(&joined, summary.total);
        if !unjoined.is_empty() {
            summary.failed += unjoined.len() as u64;
            page_done(summary, unjoined).await.map_err(RemainingError::Sink)?;
        }
    }
    Ok(summary)
}
