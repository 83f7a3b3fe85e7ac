//! The grants of the token endpoint: `authorization_code` (with PKCE and replay
//! revocation), `refresh_token` (rotation, reuse detection, narrowing), `password` and
//! Auth0's `password-realm` (answered `mfa_required` with an `mfa_token` when the user
//! needs a second factor), Auth0's MFA grants that redeem that token (`mfa-otp`,
//! `mfa-oob`, `mfa-recovery-code`), and `client_credentials` for any API the client has a
//! grant to.
//!
//! What a user token for an API carries is decided at every issue, the refresh too
//! (`authorization::user_token_grant`): a role removed since the last token is not in
//! the next.
//!
//! Each takes what the request said (absent parameters as `None`, so the checks run in
//! the order Auth0 answers them) and gives the token response, or a [`GrantError`] the
//! HTTP surface words as OAuth errors.

use crate::authorization::{user_token_grant, UserTokenGrant};
use crate::issue::{issue, sign, sign_access_token, AccessTokenClaims, Grant, IssueError, Refresh};
use crate::keys::KeyError;
use crate::login::{accept_password, connection_for, ConnectionError, LoginError};
use crate::mfa::challenge::{self, CodeError, Need, Pending, Proof};
use crate::secrets::{hash_secret, pkce_matches, random_token};
use crate::Services;
use gatehouse_core::authorization::ResourceServer;
use gatehouse_core::client::Client;
use gatehouse_core::connection::DEFAULT_DATABASE_CONNECTION;
use gatehouse_core::user::User;
use gatehouse_store::{CodeRedemption, RefreshRedemption, RefreshRequest, RefreshToken, StoreError, Successor};
use serde_json::{json, Value};

/// Auth0's grant type for a password login to a named connection (`realm`).
pub const PASSWORD_REALM: &str = "http://auth0.com/oauth/grant-type/password-realm";
/// Auth0's grants that finish a password login with a second factor.
pub const MFA_OTP: &str = "http://auth0.com/oauth/grant-type/mfa-otp";
pub const MFA_OOB: &str = "http://auth0.com/oauth/grant-type/mfa-oob";
pub const MFA_RECOVERY_CODE: &str = "http://auth0.com/oauth/grant-type/mfa-recovery-code";

/// Why a grant gave no tokens. The messages are Auth0's `error_description`s.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error("Missing required parameter: {0}")]
    MissingParameter(&'static str),
    #[error("Grant type '{0}' not allowed for the client.")]
    GrantTypeNotAllowed(String),
    #[error("Public clients cannot use client_credentials")]
    PublicClient,
    #[error("No audience parameter was provided, and no default audience has been configured")]
    NoAudience,
    #[error("Service not found: {0}")]
    UnknownAudience(String),
    #[error(
        "Client is not authorized to access \"{0}\". You need to create a \"client-grant\" associated to this API."
    )]
    NoClientGrant(String),
    #[error("Client has not been granted scopes: {0}")]
    ScopesNotGranted(String),
    #[error("Invalid authorization code")]
    InvalidCode,
    #[error("The redirect_uri does not match the one used in the authorization request.")]
    RedirectMismatch,
    #[error("Failed to verify code verifier")]
    CodeVerifierMismatch,
    #[error("code_verifier given for a code issued without PKCE")]
    UnexpectedCodeVerifier,
    #[error("Unknown or invalid refresh token.")]
    UnknownRefreshToken,
    #[error("The requested scope exceeds the scope granted to the refresh token.")]
    ScopeExceeded,
    #[error("The user no longer exists.")]
    UserGone,
    #[error("user is blocked")]
    Blocked,
    /// The password was right and the user needs a second factor: the `mfa_token` that
    /// the MFA API and grants take.
    #[error("Multifactor authentication required")]
    MfaRequired(String),
    /// The policy requires a second factor but no factor a user could enrol is enabled.
    #[error("Multifactor authentication is required, but no factor is enabled for users to enroll.")]
    MfaUnavailable,
    /// The `mfa_token` is not a live one of this client.
    #[error("mfa_token is expired")]
    MfaTokenExpired,
    #[error("Malformed mfa_token")]
    MfaTokenMalformed,
    /// A wrong second-factor code; the parameter that carried it.
    #[error("Invalid {0}.")]
    WrongCode(&'static str),
    #[error(transparent)]
    Code(CodeError),
    /// The connection named by the grant cannot be used by the client.
    #[error("{0}")]
    Connection(ConnectionError),
    /// The trigger's Actions denied the grant or failed.
    #[error(transparent)]
    Actions(#[from] crate::actions::ActionsRefusal),
    #[error(transparent)]
    Login(#[from] LoginError),
    /// A passwordless code refused, or its connection not usable.
    #[error(transparent)]
    Passwordless(crate::passwordless::PasswordlessError),
    #[error(transparent)]
    Issue(#[from] IssueError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ConnectionError> for GrantError {
    fn from(e: ConnectionError) -> Self {
        match e {
            ConnectionError::Store(e) => Self::Store(e),
            refused => Self::Connection(refused),
        }
    }
}

impl From<KeyError> for GrantError {
    fn from(e: KeyError) -> Self {
        Self::Issue(IssueError::Signing(e))
    }
}

fn required<'a>(value: Option<&'a str>, name: &'static str) -> Result<&'a str, GrantError> {
    value.filter(|v| !v.is_empty()).ok_or(GrantError::MissingParameter(name))
}

/// The client must list the grant type.
fn check_grant_allowed(client: &Client, grant_type: &str) -> Result<(), GrantError> {
    if client.grant_types.iter().any(|g| g == grant_type) {
        Ok(())
    } else {
        Err(GrantError::GrantTypeNotAllowed(grant_type.to_string()))
    }
}

/// The user a grant was issued to, if it still exists and is not blocked.
fn active(user: Option<User>) -> Result<User, GrantError> {
    let user = user.ok_or(GrantError::UserGone)?;
    if user.blocked {
        return Err(GrantError::Blocked);
    }
    Ok(user)
}

/// The API a user token is for: none for `/userinfo` alone, else an API other than the
/// Management API (which only clients are granted, by client grants).
pub async fn api_for_user_token(
    state: &Services,
    audience: Option<&str>,
) -> Result<Option<ResourceServer>, GrantError> {
    let Some(audience) = audience.filter(|a| !a.is_empty() && *a != state.config.userinfo_audience()) else {
        return Ok(None);
    };
    match state.store.resource_server_by_identifier(audience).await? {
        Some(api) if !api.is_system => Ok(Some(api)),
        _ => Err(GrantError::UnknownAudience(audience.to_string())),
    }
}

/// What `authorization_code` was sent.
pub struct CodeExchange<'a> {
    pub code: Option<&'a str>,
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
}

pub async fn authorization_code(state: &Services, client: &Client, req: CodeExchange<'_>) -> Result<Value, GrantError> {
    check_grant_allowed(client, "authorization_code")?;
    let code = required(req.code, "code")?;
    let now = state.clock.now().unix_timestamp();
    let redeemed = match state.store.redeem_auth_code(&hash_secret(code), now).await? {
        CodeRedemption::Redeemed(c) => c,
        CodeRedemption::Replayed(c) => {
            // RFC 6749 §4.1.2: a reused code revokes what was issued from it.
            let revoked = state.store.revoke_refresh_family(&c.family_id, now).await?;
            tracing::warn!(client_id = %c.client_id, revoked, "authorization code replayed; its tokens are revoked");
            return Err(GrantError::InvalidCode);
        }
        CodeRedemption::Unknown => return Err(GrantError::InvalidCode),
    };
    if redeemed.client_id != client.client_id || redeemed.expires_at <= now {
        return Err(GrantError::InvalidCode);
    }
    if req.redirect_uri != Some(redeemed.redirect_uri.as_str()) {
        return Err(GrantError::RedirectMismatch);
    }
    match (&redeemed.code_challenge, req.code_verifier) {
        (Some(challenge), Some(verifier)) if pkce_matches(verifier, challenge) => {}
        (Some(_), _) => return Err(GrantError::CodeVerifierMismatch),
        (None, Some(_)) => return Err(GrantError::UnexpectedCodeVerifier),
        (None, None) => {}
    }
    let user = active(state.store.user(&redeemed.user_id).await?)?;
    let api = api_for_user_token(state, redeemed.audience.as_deref()).await?;
    let UserTokenGrant { scope, permissions } =
        user_token_grant(state, api.as_ref(), &user.user_id, &redeemed.scope).await?;
    // The claims of the login that issued the code (post-login ran before it was
    // issued); a code from before that ran them at the login runs them now.
    let claims = match &redeemed.action_claims {
        Some(stored) => serde_json::from_value(stored.clone())
            .map_err(|e| crate::actions::ActionsRefusal::Failed(format!("the code's claims are unreadable: {e}")))?,
        None => post_login(state, client, &user, "oidc-basic-profile", &scope, api.as_ref(), None).await?,
    };
    let grant = Grant {
        client,
        user: &user,
        scope,
        api: api.as_ref(),
        permissions,
        nonce: redeemed.nonce.clone(),
        auth_time: redeemed.auth_time,
        sid: redeemed.sid.clone(),
        gty: None,
        amr: redeemed.amr.as_deref().map(|a| a.split(' ').map(str::to_string).collect()),
        claims,
    };
    Ok(issue(state, &grant, Refresh::Mint { family_id: redeemed.family_id.clone() }).await?)
}

/// What `refresh_token` was sent.
pub struct RefreshExchange<'a> {
    pub refresh_token: Option<&'a str>,
    /// A narrower scope than the family's, if asked for.
    pub scope: Option<&'a str>,
}

pub async fn refresh_token(state: &Services, client: &Client, req: RefreshExchange<'_>) -> Result<Value, GrantError> {
    check_grant_allowed(client, "refresh_token")?;
    let presented = required(req.refresh_token, "refresh_token")?;
    let token_hash = hash_secret(presented);
    let requested = req.scope.filter(|s| !s.is_empty());
    let scopes: Vec<&str> = requested.map(|r| r.split(' ').filter(|s| !s.is_empty()).collect()).unwrap_or_default();
    let request = RefreshRequest { token_hash: &token_hash, client_id: &client.client_id, scopes: &scopes };
    let now = state.clock.now().unix_timestamp();
    // The successor keeps the original grant (and scope) of the family.
    let secret = random_token();
    let successor_hash = hash_secret(&secret);
    let successor = Successor { token_hash: &successor_hash, expires_at: now + state.config.refresh_token_ttl_secs };
    // The usual case, one write: the token rotated because everything about it holds.
    if let Some((existing, user)) = state.store.rotate_refresh_token_if_granted(&request, &successor, now).await? {
        let scope = narrowed_scope(&existing, requested, &scopes)?;
        return refreshed(state, client, &user, &existing, &scope, secret).await;
    }
    // Otherwise a second look says why, each refusal as Auth0 words it; a token already
    // rotated is a reuse, and revokes its family.
    let (existing, user) =
        state.store.refresh_token_and_user(&token_hash).await?.ok_or(GrantError::UnknownRefreshToken)?;
    // A token is only ever redeemed by the client it was issued to.
    if existing.client_id != client.client_id {
        return Err(GrantError::UnknownRefreshToken);
    }
    let user = active(user)?;
    let scope = narrowed_scope(&existing, requested, &scopes)?;
    match state.store.rotate_refresh_token(&token_hash, &successor, now).await? {
        // Only a race gets here (the token became redeemable in between): as above.
        RefreshRedemption::Rotated(_) => refreshed(state, client, &user, &existing, &scope, secret).await,
        RefreshRedemption::Reused(t) => {
            tracing::warn!(client_id = %t.client_id, family = %t.family_id, "refresh token reused; family revoked");
            Err(GrantError::UnknownRefreshToken)
        }
        RefreshRedemption::Invalid => Err(GrantError::UnknownRefreshToken),
    }
}

/// The tokens of a rotated refresh token: the grant of its family at the scope asked
/// for, less what the user no longer holds; never more than the family was granted.
async fn refreshed(
    state: &Services,
    client: &Client,
    user: &User,
    existing: &RefreshToken,
    scope: &str,
    secret: String,
) -> Result<Value, GrantError> {
    let api = api_for_user_token(state, existing.audience.as_deref()).await?;
    let UserTokenGrant { scope, permissions } = user_token_grant(state, api.as_ref(), &user.user_id, scope).await?;
    let claims = post_login(state, client, user, "oauth2-refresh-token", &scope, api.as_ref(), None).await?;
    let grant = Grant {
        client,
        user,
        scope,
        api: api.as_ref(),
        permissions,
        nonce: None,
        auth_time: existing.auth_time,
        sid: existing.sid.clone(),
        gty: None,
        amr: None,
        claims,
    };
    Ok(issue(state, &grant, Refresh::Rotated(secret)).await?)
}

/// The scope of a refresh: the family's, or the part of it `requested` (split into
/// `scopes`) names; asking for more than the family was granted is refused.
fn narrowed_scope(existing: &RefreshToken, requested: Option<&str>, scopes: &[&str]) -> Result<String, GrantError> {
    let Some(requested) = requested else { return Ok(existing.scope.clone()) };
    if !existing.grants(scopes) {
        return Err(GrantError::ScopeExceeded);
    }
    Ok(requested.to_string())
}

/// What `password` or `password-realm` was sent.
pub struct PasswordExchange<'a> {
    /// `password`, or [`PASSWORD_REALM`].
    pub grant_type: &'a str,
    pub realm: Option<&'a str>,
    pub username: Option<&'a str>,
    pub password: Option<&'a str>,
    pub audience: Option<&'a str>,
    pub scope: Option<&'a str>,
}

/// `password` (the default directory, `Username-Password-Authentication`) and
/// `password-realm` (the connection named by `realm`). `ip` is the end user's.
pub async fn password(
    state: &Services,
    client: &Client,
    req: PasswordExchange<'_>,
    ip: Option<&str>,
) -> Result<Value, GrantError> {
    check_grant_allowed(client, req.grant_type)?;
    let realm =
        if req.grant_type == PASSWORD_REALM { required(req.realm, "realm")? } else { DEFAULT_DATABASE_CONNECTION };
    let username = required(req.username, "username")?;
    let password = required(req.password, "password")?;
    let api = api_for_user_token(state, req.audience).await?;
    let connection = connection_for(state, client, Some(realm)).await?;
    let requested = req.scope.unwrap_or("");
    let family_id = random_token();
    let auth_time = || state.clock.now().unix_timestamp();
    let mint = || Refresh::Mint { family_id: family_id.clone() };
    let actions_run = state.store.has_bindings(gatehouse_core::action::POST_LOGIN).await?;
    if actions_run || api.as_ref().is_some_and(ResourceServer::reads_permissions) {
        // The token depends on what the user holds, or on what the post-login Actions
        // say, known once the login has succeeded.
        let user = accept_password::<()>(state, &connection, username, password, ip, None).await?.user;
        second_factor(state, client, &user, &req).await?;
        let granted = user_token_grant(state, api.as_ref(), &user.user_id, requested).await?;
        let claims = post_login(state, client, &user, "oauth2-password", &granted.scope, api.as_ref(), ip).await?;
        let mut grant = password_grant(client, &user, api.as_ref(), granted, auth_time());
        grant.claims = claims;
        return Ok(issue(state, &grant, mint()).await?);
    }
    // Otherwise the tokens are signed while the password is verified if a core is free
    // for it, else once the login has succeeded; either way they are handed out (and a
    // refresh token stored) only then.
    let granted = UserTokenGrant {
        scope: gatehouse_core::authorization::user_token_scope(requested, api.as_ref(), None),
        permissions: None,
    };
    let sign_for =
        |user: &User| sign(state, &password_grant(client, user, api.as_ref(), granted.clone(), auth_time()), mint());
    let accepted = accept_password(state, &connection, username, password, ip, Some(&sign_for)).await?;
    // Tokens signed early are dropped, never handed out, if a second factor is needed.
    second_factor(state, client, &accepted.user, &req).await?;
    Ok(accepted.early.unwrap_or_else(|| sign_for(&accepted.user))?.hand_out(state).await?)
}

/// After a right password: nothing when the user needs no second factor, else the
/// `mfa_token` (a waiting login holding what the grant asked for) as `MfaRequired`.
async fn second_factor(
    state: &Services,
    client: &Client,
    user: &User,
    req: &PasswordExchange<'_>,
) -> Result<(), GrantError> {
    match challenge::needed(state, user, None).await? {
        Need::Nothing => Ok(()),
        Need::Unavailable => Err(GrantError::MfaUnavailable),
        Need::Challenge(_) | Need::Enrol => {
            let context = json!({"audience": req.audience, "scope": req.scope, "amr": ["pwd"]});
            let token = challenge::begin(state, user, &client.client_id, None, &context).await?;
            Err(GrantError::MfaRequired(token))
        }
    }
}

/// The waiting login an `mfa_token` names, if it is live and the client's.
pub async fn mfa_pending(state: &Services, client: &Client, token: Option<&str>) -> Result<Pending, GrantError> {
    let token = required(token, "mfa_token")?;
    if token.len() != 43 || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(GrantError::MfaTokenMalformed);
    }
    match challenge::pending(state, token, None).await? {
        Some(p) if crate::secrets::ct_eq(&p.client_id, &client.client_id) => Ok(p),
        _ => Err(GrantError::MfaTokenExpired),
    }
}

/// What an MFA grant was sent.
pub struct MfaExchange<'a> {
    /// [`MFA_OTP`], [`MFA_OOB`] or [`MFA_RECOVERY_CODE`].
    pub grant_type: &'a str,
    pub mfa_token: Option<&'a str>,
    pub otp: Option<&'a str>,
    pub oob_code: Option<&'a str>,
    pub binding_code: Option<&'a str>,
    pub recovery_code: Option<&'a str>,
}

/// A refused code as the grant words it: a wrong or replayed one names its parameter.
fn code_error(param: &'static str) -> impl Fn(CodeError) -> GrantError {
    move |e| match e {
        CodeError::Wrong | CodeError::Replayed => GrantError::WrongCode(param),
        CodeError::Store(e) => GrantError::Store(e),
        other => GrantError::Code(other),
    }
}

/// `mfa-otp`, `mfa-oob` and `mfa-recovery-code`: the second factor for a waiting
/// password login, then its tokens (`amr: ["pwd", "mfa"]` in the ID token). An `mfa-otp`
/// for a user enrolling through `/mfa/associate` confirms the enrolment. The
/// recovery-code grant's answer carries the user's new recovery code.
pub async fn mfa(
    state: &Services,
    client: &Client,
    req: MfaExchange<'_>,
    ip: Option<&str>,
) -> Result<Value, GrantError> {
    check_grant_allowed(client, req.grant_type)?;
    let pending = mfa_pending(state, client, req.mfa_token).await?;
    let passed = match req.grant_type {
        MFA_OTP => {
            let otp = required(req.otp, "otp")?;
            match challenge::prove(state, &pending, Proof::Otp(otp), ip).await {
                Err(CodeError::NoFactor) => {
                    // No confirmed app yet: this is the first code of an enrolment.
                    let enrolling = state
                        .store
                        .mfa_factors(&pending.user.user_id)
                        .await?
                        .into_iter()
                        .find(|f| f.kind == gatehouse_core::mfa::FactorKind::Totp && !f.confirmed);
                    let Some(f) = enrolling else { return Err(GrantError::Code(CodeError::NoFactor)) };
                    challenge::confirm_totp(state, &pending, &f.id, otp, ip).await
                }
                other => other,
            }
            .map_err(code_error("otp_code"))?
        }
        MFA_OOB => {
            let oob_code = required(req.oob_code, "oob_code")?;
            let binding_code = required(req.binding_code, "binding_code")?;
            challenge::prove(state, &pending, Proof::Oob { oob_code, binding_code }, ip)
                .await
                .map_err(code_error("binding_code"))?
        }
        _ => {
            let code = required(req.recovery_code, "recovery_code")?;
            challenge::prove(state, &pending, Proof::RecoveryCode(code), ip)
                .await
                .map_err(code_error("recovery_code"))?
        }
    };
    let finished = pending;
    if !challenge::finish(state, &finished).await? {
        return Err(GrantError::MfaTokenExpired);
    }
    let context = &finished.context;
    let api = api_for_user_token(state, context["audience"].as_str()).await?;
    let requested = context["scope"].as_str().unwrap_or("");
    let granted = user_token_grant(state, api.as_ref(), &finished.user.user_id, requested).await?;
    let mut amr: Vec<String> =
        context["amr"].as_array().into_iter().flatten().filter_map(|m| m.as_str().map(str::to_string)).collect();
    amr.push("mfa".into());
    let grant = Grant {
        amr: Some(amr),
        gty: Some("mfa"),
        ..password_grant(client, &finished.user, api.as_ref(), granted, state.clock.now().unix_timestamp())
    };
    let mut body = issue(state, &grant, Refresh::Mint { family_id: random_token() }).await?;
    if let (Some(code), Some(obj)) = (passed.recovery_code, body.as_object_mut()) {
        obj.insert("recovery_code".into(), json!(code));
    }
    Ok(body)
}

/// Auth0's grant type for a passwordless code.
pub const PASSWORDLESS_OTP: &str = "http://auth0.com/oauth/grant-type/passwordless/otp";

/// What the `passwordless/otp` grant was sent.
pub struct PasswordlessExchange<'a> {
    /// The passwordless connection: `email` or `sms` (Auth0's `realm`).
    pub realm: Option<&'a str>,
    /// The email address or phone number the code was sent to.
    pub username: Option<&'a str>,
    pub otp: Option<&'a str>,
    pub audience: Option<&'a str>,
    pub scope: Option<&'a str>,
}

/// `http://auth0.com/oauth/grant-type/passwordless/otp`: a code sent by
/// `/passwordless/start` for tokens (signing the user up on first use).
pub async fn passwordless_otp(
    state: &Services,
    client: &Client,
    req: PasswordlessExchange<'_>,
    ip: Option<&str>,
) -> Result<Value, GrantError> {
    check_grant_allowed(client, PASSWORDLESS_OTP)?;
    let realm = required(req.realm, "realm")?;
    let username = required(req.username, "username")?;
    let otp = required(req.otp, "otp")?;
    let api = api_for_user_token(state, req.audience).await?;
    let connection =
        crate::passwordless::connection_for(state, client, realm).await.map_err(GrantError::Passwordless)?;
    let user =
        crate::passwordless::verify(state, &connection, username, otp, ip).await.map_err(GrantError::Passwordless)?;
    let granted = user_token_grant(state, api.as_ref(), &user.user_id, req.scope.unwrap_or("")).await?;
    let mut grant = password_grant(client, &user, api.as_ref(), granted, state.clock.now().unix_timestamp());
    grant.gty = Some("passwordless");
    Ok(issue(state, &grant, Refresh::Mint { family_id: random_token() }).await?)
}

/// What a password login's tokens are issued for.
fn password_grant<'a>(
    client: &'a Client,
    user: &'a User,
    api: Option<&'a ResourceServer>,
    granted: UserTokenGrant,
    auth_time: i64,
) -> Grant<'a> {
    Grant {
        client,
        user,
        scope: granted.scope,
        api,
        permissions: granted.permissions,
        nonce: None,
        auth_time,
        sid: None,
        gty: Some("password"),
        amr: None,
        claims: Default::default(),
    }
}

/// Runs the post-login Actions for a code the hosted login is about to issue, as Auth0
/// runs them before it redirects back: a deny or a failure means no code (the caller
/// sends the error to the client instead); the claims are kept with the code for its
/// exchange. The event is the one the exchange would give (the same scope and API).
pub async fn post_login_for_code(
    state: &Services,
    client_id: &str,
    user_id: &str,
    requested_scope: &str,
    audience: Option<&str>,
    ip: Option<&str>,
) -> Result<crate::actions::LoginClaims, GrantError> {
    let client = state.store.client(client_id).await?.ok_or(GrantError::InvalidCode)?;
    let user = active(state.store.user(user_id).await?)?;
    let api = api_for_user_token(state, audience).await?;
    let UserTokenGrant { scope, .. } = user_token_grant(state, api.as_ref(), &user.user_id, requested_scope).await?;
    post_login(state, &client, &user, "oidc-basic-profile", &scope, api.as_ref(), ip).await
}

/// Runs the post-login Actions for a user token about to be issued.
async fn post_login(
    state: &Services,
    client: &Client,
    user: &User,
    protocol: &'static str,
    scope: &str,
    api: Option<&ResourceServer>,
    ip: Option<&str>,
) -> Result<crate::actions::LoginClaims, GrantError> {
    let login =
        crate::actions::PostLogin { client, user, protocol, scope, audience: api.map(|a| a.identifier.as_str()), ip };
    Ok(crate::actions::post_login(state, &login).await?)
}

/// What `client_credentials` was sent (the client already authenticated).
pub struct ClientCredentials<'a> {
    pub audience: Option<&'a str>,
    pub scope: Option<&'a str>,
}

/// `client_credentials`: a confidential client's token for an API it has a client
/// grant to, with the grant's scopes or the part of them asked for.
pub async fn client_credentials(
    state: &Services,
    client: &Client,
    req: ClientCredentials<'_>,
) -> Result<Value, GrantError> {
    if !client.is_confidential() {
        return Err(GrantError::PublicClient);
    }
    check_grant_allowed(client, "client_credentials")?;
    let audience = req.audience.ok_or(GrantError::NoAudience)?;
    let api = state
        .store
        .resource_server_by_identifier(audience)
        .await?
        .ok_or_else(|| GrantError::UnknownAudience(audience.to_string()))?;
    let grant = state
        .store
        .client_grant(&client.client_id, audience)
        .await?
        .ok_or_else(|| GrantError::NoClientGrant(audience.to_string()))?;
    // What the grant lists and the API still defines.
    let granted: Vec<&str> = grant.scope.iter().map(String::as_str).filter(|s| api.defines(s)).collect();
    let scopes: Vec<&str> = match req.scope {
        Some(requested) => {
            let requested: Vec<&str> = requested.split(' ').filter(|s| !s.is_empty()).collect();
            let missing: Vec<&str> = requested.iter().copied().filter(|s| !granted.contains(s)).collect();
            if !missing.is_empty() {
                return Err(GrantError::ScopesNotGranted(missing.join(" ")));
            }
            requested
        }
        None => granted,
    };
    let scope = scopes.join(" ");
    let custom = crate::actions::credentials_exchange(state, client, audience, &scope).await?;
    let now = state.clock.now().unix_timestamp();
    let claims = AccessTokenClaims {
        iss: state.config.issuer.clone(),
        sub: format!("{}@clients", client.client_id),
        aud: json!(audience),
        iat: now,
        exp: now + api.token_lifetime,
        permissions: api.token_dialect.carries_permissions().then(|| scopes.iter().map(|s| s.to_string()).collect()),
        scope,
        custom,
        ..Default::default()
    }
    .in_dialect_of(Some(&api), &client.client_id, Some("client-credentials"));
    let access_token = sign_access_token(state, &api, &claims)?;
    Ok(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": api.token_lifetime,
        "scope": claims.scope,
    }))
}
