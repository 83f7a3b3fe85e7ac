//! Cross-origin authentication, Auth0's embedded login (Lock, auth0.js): a page of the
//! application sends the credentials to `/co/authenticate`, gets a `login_ticket`, and
//! sends the browser to `/authorize` with it, where the ticket becomes a session and a
//! code. The ticket alone is not enough: `/authorize` also wants its `co_verifier`, which
//! only the browser that authenticated holds (in Gatehouse's cookie, or, where the browser
//! withholds that cookie, in the application's storage, read back through the
//! application's `cross_origin_loc` page). A ticket copied from a URL or a log is useless.
//!
//! Tickets are single use, short-lived and stored as hashes (`tickets`, kind `login`);
//! the verifier only as its hash. Whether the request came from an origin the client
//! allows is the HTTP edge's to check; the rest is here.

use crate::login::{accept_password, connection_for, ConnectionError, LoginError};
use crate::passwordless::{self, PasswordlessError};
use crate::secrets::{ct_eq, hash_secret, random_token};
use crate::Services;
use gatehouse_core::client::Client;
use gatehouse_store::{StoreError, Ticket, TicketKind};
use serde_json::{json, Map, Value};

/// How long a login ticket may wait for `/authorize`.
pub const LOGIN_TICKET_TTL_SECS: i64 = 300;

/// Auth0's credential types.
pub const PASSWORD: &str = "password";
pub const PASSWORD_REALM: &str = "http://auth0.com/oauth/grant-type/password-realm";
pub const PASSWORDLESS_OTP: &str = "http://auth0.com/oauth/grant-type/passwordless/otp";

/// Why `/co/authenticate` gave no ticket. The messages are Auth0's.
#[derive(Debug, thiserror::Error)]
pub enum CrossOriginError {
    /// The client does not allow cross-origin authentication.
    #[error("Cross origin login not allowed.")]
    NotAllowed,
    #[error("{0}")]
    InvalidRequest(String),
    #[error("Unknown credential type parameter.")]
    UnsupportedCredentialType,
    #[error("Unknown realm {0}.")]
    UnknownRealm(String),
    #[error(transparent)]
    Login(LoginError),
    #[error(transparent)]
    Passwordless(PasswordlessError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What `/co/authenticate` was sent.
#[derive(Debug, Default)]
pub struct Credentials<'a> {
    pub credential_type: Option<&'a str>,
    pub username: Option<&'a str>,
    pub password: Option<&'a str>,
    pub otp: Option<&'a str>,
    pub realm: Option<&'a str>,
}

/// A new login ticket, for the page that authenticated.
#[derive(Debug)]
pub struct LoginTicket {
    pub login_ticket: String,
    pub co_verifier: String,
    pub co_id: String,
}

/// Checks the credentials (a password, or a passwordless code) for `client`, which must
/// allow cross-origin authentication, and issues a login ticket for the user.
pub async fn authenticate(
    state: &Services,
    client: &Client,
    req: Credentials<'_>,
    ip: Option<&str>,
) -> Result<LoginTicket, CrossOriginError> {
    if !client.cross_origin_authentication {
        return Err(CrossOriginError::NotAllowed);
    }
    let invalid = |what: &str| CrossOriginError::InvalidRequest(format!("Invalid request body. {what}"));
    let credential_type = req.credential_type.ok_or_else(|| invalid("Missing credential_type."))?;
    let username = req.username.filter(|u| !u.is_empty()).ok_or_else(|| invalid("Missing username."))?;
    let (user, method) = match credential_type {
        PASSWORD | PASSWORD_REALM => {
            let password = req.password.filter(|p| !p.is_empty()).ok_or_else(|| invalid("Missing password."))?;
            let realm = if credential_type == PASSWORD_REALM {
                Some(req.realm.ok_or_else(|| invalid("Missing realm."))?)
            } else {
                req.realm
            };
            let connection = connection_for(state, client, realm).await.map_err(|e| match e {
                ConnectionError::Store(e) => CrossOriginError::Store(e),
                _ => CrossOriginError::UnknownRealm(realm.unwrap_or_default().to_string()),
            })?;
            let user = accept_password::<()>(state, &connection, username, password, ip, None)
                .await
                .map_err(CrossOriginError::Login)?
                .user;
            (user, "pwd")
        }
        PASSWORDLESS_OTP => {
            let otp = req.otp.filter(|p| !p.is_empty()).ok_or_else(|| invalid("Missing otp."))?;
            let realm = req.realm.ok_or_else(|| invalid("Missing realm."))?;
            let connection = passwordless::connection_for(state, client, realm).await.map_err(|e| match e {
                PasswordlessError::Store(e) => CrossOriginError::Store(e),
                _ => CrossOriginError::UnknownRealm(realm.to_string()),
            })?;
            let method = if connection.strategy == "sms" { "sms" } else { "email" };
            let user = passwordless::verify(state, &connection, username, otp, ip)
                .await
                .map_err(CrossOriginError::Passwordless)?;
            (user, method)
        }
        _ => return Err(CrossOriginError::UnsupportedCredentialType),
    };
    let now = state.clock.now().unix_timestamp();
    let issued = LoginTicket { login_ticket: random_token(), co_verifier: random_token(), co_id: random_token() };
    let mut params = Map::new();
    params.insert("co_id".into(), json!(issued.co_id));
    params.insert("co_verifier_hash".into(), json!(hash_secret(&issued.co_verifier)));
    params.insert("method".into(), json!(method));
    state
        .store
        .insert_ticket(&Ticket {
            ticket_hash: hash_secret(&issued.login_ticket),
            kind: TicketKind::Login,
            user_id: user.user_id,
            client_id: Some(client.client_id.clone()),
            result_url: None,
            params,
            created_at: now,
            expires_at: now + LOGIN_TICKET_TTL_SECS,
            used_at: None,
        })
        .await?;
    Ok(issued)
}

/// A live login ticket of `client_id`, not used yet.
#[derive(Debug, Clone)]
pub struct PendingTicket {
    ticket: Ticket,
}

impl PendingTicket {
    /// The id the `cross_origin_loc` page is asked the verifier of.
    pub fn co_id(&self) -> &str {
        self.ticket.params.get("co_id").and_then(Value::as_str).unwrap_or_default()
    }

    /// Whether `verifier` is the ticket's `co_verifier`.
    pub fn verified_by(&self, verifier: &str) -> bool {
        let stored = self.ticket.params.get("co_verifier_hash").and_then(Value::as_str).unwrap_or_default();
        !stored.is_empty() && ct_eq(&hash_secret(verifier), stored)
    }
}

/// The user a redeemed ticket signs in, and how they proved it (`pwd`, `email`, `sms`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redeemed {
    pub user_id: String,
    pub method: String,
}

/// The live login ticket whose hash is `ticket_hash` (see [`ticket_hash`]) if it was
/// issued to `client_id`.
pub async fn pending(
    state: &Services,
    client_id: &str,
    ticket_hash: &str,
) -> Result<Option<PendingTicket>, StoreError> {
    let now = state.clock.now().unix_timestamp();
    let live = state.store.live_ticket(ticket_hash, now).await?;
    Ok(live
        .filter(|t| t.kind == TicketKind::Login && t.client_id.as_deref() == Some(client_id))
        .map(|ticket| PendingTicket { ticket }))
}

/// The stored form of a login ticket (what a login transaction may keep of it).
pub fn ticket_hash(login_ticket: &str) -> String {
    hash_secret(login_ticket)
}

/// Uses up `ticket` given its verifier: the user it signs in, for the one caller that
/// wins it with the right verifier; `None` otherwise.
pub async fn redeem(state: &Services, ticket: &PendingTicket, verifier: &str) -> Result<Option<Redeemed>, StoreError> {
    if !ticket.verified_by(verifier) {
        return Ok(None);
    }
    let now = state.clock.now().unix_timestamp();
    let Some(used) = state.store.consume_ticket(&ticket.ticket.ticket_hash, now).await? else { return Ok(None) };
    let method = used.params.get("method").and_then(Value::as_str).unwrap_or("pwd").to_string();
    Ok(Some(Redeemed { user_id: used.user_id, method }))
}
