//! Who may use the admin console, and their console sessions.
//!
//! Console access is authorization like any other: the console is an API
//! ([`CONSOLE_API`]) with two permissions, held through two roles that every start
//! ensures exist ([`VIEWER_ROLE`] reads, [`ADMINISTRATOR_ROLE`] also changes). An
//! administrator signs in through Gatehouse's own hosted login as the built-in console
//! client ([`CONSOLE_CLIENT_ID`]), so attack protection (and every later login rule)
//! applies; the console then keeps its own session, apart from end users' single
//! sign-on. Access is read afresh on every request: a blocked administrator, or one
//! whose role was taken away, is out at the next click; a new password ends every
//! console session (`session_end::sign_out_everywhere`).

use crate::secrets::{hash_secret, random_token};
use crate::state::ServerConfig;
use crate::users::{create_user, UserError};
use crate::Services;
use gatehouse_core::authorization::{ApiScope, Permission, ResourceServer, Role};
use gatehouse_core::client::Client;
use gatehouse_core::connection::DEFAULT_DATABASE_CONNECTION;
use gatehouse_core::ids::{new_resource_server_id, new_role_id};
use gatehouse_core::user::User;
use gatehouse_core::validate::normalize_login;
use gatehouse_store::{ConflictOn, ConsoleSession, Store, StoreError};
use serde_json::{json, Map};

/// The API whose permissions open the console.
pub const CONSOLE_API: &str = "urn:gatehouse:console";
/// Read everything the console shows.
pub const READ: &str = "console:read";
/// Change things through the console (implies reading).
pub const WRITE: &str = "console:write";
pub const VIEWER_ROLE: &str = "Console viewer";
pub const ADMINISTRATOR_ROLE: &str = "Console administrator";
/// The built-in client the console signs administrators in as.
pub use gatehouse_core::client::CONSOLE_CLIENT_ID;
/// Where the hosted login sends an administrator back to, under the issuer.
pub const CALLBACK_PATH: &str = "admin/callback";

/// A console session lasts at most this long …
pub const SESSION_TTL_SECS: i64 = 12 * 3600;
/// … and ends after this long without a request.
pub const IDLE_TTL_SECS: i64 = 30 * 60;
/// `last_seen_at` is written at most this often (a page view is not a write each time).
const TOUCH_EVERY_SECS: i64 = 60;

/// What a console user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    Viewer,
    Administrator,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Administrator => "administrator",
        }
    }
}

/// A signed-in console user, as of this request.
#[derive(Debug, Clone)]
pub struct Admin {
    pub user: User,
    pub access: Access,
    /// The SHA-256 of the session's secret (what the store keys it by).
    pub session_hash: String,
}

impl Admin {
    /// How the audit log names this administrator.
    pub fn name(&self) -> String {
        self.user.email.clone().or(self.user.username.clone()).unwrap_or_else(|| self.user.user_id.clone())
    }
}

/// Ensures the console's API, its two roles and its client exist (the client may use
/// every database connection: `login::connection_for`). Its callback follows the issuer
/// on every start.
pub async fn ensure_console(store: &Store, config: &ServerConfig, now: &str) -> Result<(), StoreError> {
    if store.resource_server_by_identifier(CONSOLE_API).await?.is_none() {
        let mut api = ResourceServer::new(new_resource_server_id(), CONSOLE_API.into(), now);
        api.name = "Gatehouse admin console".into();
        api.scopes = vec![
            ApiScope { value: READ.into(), description: "See everything the admin console shows".into() },
            ApiScope { value: WRITE.into(), description: "Change users and settings in the admin console".into() },
        ];
        ignore_conflict(store.insert_resource_server(&api).await)?;
    }
    for (name, description, scopes) in [
        (VIEWER_ROLE, "Reads everything in the admin console, changes nothing", &[READ][..]),
        (ADMINISTRATOR_ROLE, "Uses the whole admin console", &[READ, WRITE][..]),
    ] {
        if store.role_by_name(name).await?.is_some() {
            continue;
        }
        let role = Role {
            id: new_role_id(),
            name: name.into(),
            description: Some(description.into()),
            created_at: now.into(),
            updated_at: now.into(),
        };
        match store.insert_role(&role).await {
            Ok(()) => {
                let permissions: Vec<Permission> = scopes
                    .iter()
                    .map(|s| Permission {
                        resource_server_identifier: CONSOLE_API.into(),
                        permission_name: (*s).into(),
                    })
                    .collect();
                store.add_role_permissions(&role.id, &permissions, now).await?;
            }
            // Another node created it first.
            Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let callback = format!("{}{CALLBACK_PATH}", config.issuer);
    match store.client(CONSOLE_CLIENT_ID).await? {
        Some(mut c) if c.callbacks != [callback.clone()] => {
            c.callbacks = vec![callback];
            c.updated_at = now.into();
            store.update_client(&c).await?;
        }
        Some(_) => {}
        None => {
            ignore_conflict(store.insert_client(&console_client(callback, now)).await)?;
        }
    }
    Ok(())
}

/// `Ok(true)` when inserted, `Ok(false)` when another node had inserted it first.
fn ignore_conflict(r: Result<(), StoreError>) -> Result<bool, StoreError> {
    match r {
        Ok(()) => Ok(true),
        Err(StoreError::Conflict(ConflictOn::Name | ConflictOn::Id | ConflictOn::Other)) => Ok(false),
        Err(e) => Err(e),
    }
}

fn console_client(callback: String, now: &str) -> Client {
    Client {
        client_id: CONSOLE_CLIENT_ID.into(),
        name: "Gatehouse admin console".into(),
        description: Some("Built in: signs administrators in to /admin.".into()),
        app_type: Some("regular_web".into()),
        is_first_party: true,
        grant_types: vec!["authorization_code".into()],
        callbacks: vec![callback],
        allowed_logout_urls: Vec::new(),
        web_origins: Vec::new(),
        allowed_origins: Vec::new(),
        // The console redeems its codes in-process, with PKCE; it holds no secret.
        token_endpoint_auth_method: "none".into(),
        client_secret_hash: None,
        client_metadata: Map::new(),
        oidc_logout: None,
        cross_origin_authentication: false,
        cross_origin_loc: None,
        created_at: now.into(),
        updated_at: now.into(),
    }
}

/// Gives the console to `email` (configured as the first administrator): creates the user
/// in the default database connection with `password` (held to its policy) unless the
/// user exists, and gives them the administrator role. Returns whether a user was made.
pub async fn ensure_first_administrator(state: &Services, email: &str, password: &str) -> Result<bool, UserError> {
    let connection = state
        .store
        .connection_by_name(DEFAULT_DATABASE_CONNECTION)
        .await?
        .ok_or_else(gatehouse_core::Error::connection_not_found)?;
    let existing = state.store.user_by_login(&connection.id, &normalize_login(email)).await?;
    let (user, created) = match existing {
        Some(user) => (user, false),
        None => {
            let body = json!({
                "connection": connection.name,
                "email": email,
                "password": password,
                "email_verified": true,
                "verify_email": false,
            });
            (create_user(state, &body).await?, true)
        }
    };
    let role = state.store.role_by_name(ADMINISTRATOR_ROLE).await?.ok_or_else(|| gatehouse_core::Error::NotFound {
        code: "inexistent_role",
        message: "The console roles are missing".into(),
    })?;
    state.store.add_user_roles(&[(user.user_id.clone(), role.id)], &state.now()).await?;
    Ok(created)
}

/// Whether any user holds the administrator role (a start without one says how to get one).
pub async fn has_administrator(state: &Services) -> Result<bool, StoreError> {
    let Some(role) = state.store.role_by_name(ADMINISTRATOR_ROLE).await? else { return Ok(false) };
    let (_, members) = state.store.role_members(&role.id, None, 0, 1).await?;
    Ok(members > 0)
}

/// What `user` may do in the console: nothing when blocked or holding neither permission.
pub async fn access_of(state: &Services, user: &User) -> Result<Option<Access>, StoreError> {
    if user.blocked {
        return Ok(None);
    }
    let held = state.store.user_api_permissions(&user.user_id, CONSOLE_API).await?;
    Ok(if held.iter().any(|p| p == WRITE) {
        Some(Access::Administrator)
    } else if held.iter().any(|p| p == READ) {
        Some(Access::Viewer)
    } else {
        None
    })
}

/// Starts a console session for `user_id`; returns its secret (for the cookie).
pub async fn start_session(
    state: &Services,
    user_id: &str,
    ip: Option<String>,
    user_agent: Option<String>,
) -> Result<String, StoreError> {
    let secret = random_token();
    let now = state.clock.now().unix_timestamp();
    state
        .store
        .insert_console_session(&ConsoleSession {
            id_hash: hash_secret(&secret),
            user_id: user_id.into(),
            created_at: now,
            last_seen_at: now,
            expires_at: now + SESSION_TTL_SECS,
            ip,
            user_agent,
        })
        .await?;
    Ok(secret)
}

/// The administrator behind session secret `secret`, if the session is live and its
/// user may still use the console (a session whose user may not is ended).
pub async fn session(state: &Services, secret: &str) -> Result<Option<Admin>, StoreError> {
    let now = state.clock.now().unix_timestamp();
    let id_hash = hash_secret(secret);
    let Some(s) = state.store.console_session(&id_hash, now, now - IDLE_TTL_SECS).await? else { return Ok(None) };
    let user = state.store.user(&s.user_id).await?;
    let access = match &user {
        Some(u) => access_of(state, u).await?,
        None => None,
    };
    let (Some(user), Some(access)) = (user, access) else {
        state.store.delete_console_session(&id_hash).await?;
        return Ok(None);
    };
    if now - s.last_seen_at >= TOUCH_EVERY_SECS {
        state.store.touch_console_session(&id_hash, now).await?;
    }
    Ok(Some(Admin { user, access, session_hash: id_hash }))
}

/// Ends the session whose id hash is `session_hash`.
pub async fn end_session(state: &Services, session_hash: &str) -> Result<(), StoreError> {
    state.store.delete_console_session(session_hash).await?;
    Ok(())
}
