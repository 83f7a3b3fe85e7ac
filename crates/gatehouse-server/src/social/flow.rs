//! The upstream sign-in: redirect to the provider, `GET|POST /login/callback`, and what
//! a verified profile leads to — a returning user, a new user, or (when the provider
//! vouches for an email an existing account has) the hosted page where the user proves
//! that account before the two are linked. Never linked silently, never on an
//! unverified email.

use super::fetch::sanitize_code;
use super::id_token::{self, Expected};
use super::{callback_url, derive, SocialError};
use crate::auth::authorize::{redirect, with_query, AuthorizeRequest};
use crate::auth::secrets::{ct_eq, hash_secret, pkce_s256, random_token};
use crate::auth::ClientIp;
use crate::error::PageError;
use crate::extract::read_body;
use crate::pages::login::{complete_login, SignInMethod};
use crate::pages::{cookies, error_page};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use gatehouse_core::connection::Connection;
use gatehouse_core::identity::Identity;
use gatehouse_core::log_event::codes;
use gatehouse_core::social::{
    is_social_strategy, new_upstream_user, normalize_profile, profile_data, refresh_profile, upstream_user_id,
    Protocol, Upstream, UpstreamProfile,
};
use gatehouse_core::user::User;
use gatehouse_store::{StoreError, UpstreamTransaction};
use serde_json::Value;
use std::collections::HashMap;

const MAX_CALLBACK_FORM: usize = 64 * 1024;

/// Whether `connection` is a social or OIDC connection the client may sign in with.
pub fn enabled_upstream(connection: &Connection, client_id: &str) -> bool {
    connection.is_upstream() && connection.enabled_clients.iter().any(|c| c == client_id)
}

/// Starts a sign-in at `connection` for the waiting authorization request `req`:
/// stores the transaction (bound to `browser`) and returns the provider URL, with
/// `state`, `nonce` and a PKCE S256 challenge.
pub async fn start(
    state: &AppState,
    browser: &str,
    connection: &Connection,
    req: &AuthorizeRequest,
) -> Result<String, SocialError> {
    let u = Upstream::from_connection(connection).map_err(|e| SocialError::Connection(e.to_string()))?;
    let endpoints = state.upstreams.endpoints(&u).await?;
    let now = state.clock.now().unix_timestamp();
    let st = random_token();
    state
        .store
        .insert_upstream_transaction(&UpstreamTransaction {
            id_hash: hash_secret(&st),
            browser_hash: hash_secret(browser),
            connection_id: connection.id.clone(),
            params: serde_json::to_string(req).map_err(|e| SocialError::Internal(e.to_string()))?,
            profile: None,
            link_user_id: None,
            created_at: now,
            expires_at: now + state.config.login_transaction_ttl_secs,
        })
        .await?;
    let challenge = pkce_s256(&derive(&st, "pkce"));
    let nonce = derive(&st, "nonce");
    let redirect_uri = callback_url(&state.config);
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", u.client_id.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("scope", u.scope.as_str()),
        ("state", st.as_str()),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    if u.protocol == Protocol::Oidc {
        params.push(("nonce", nonce.as_str()));
    }
    if u.strategy == "apple" {
        // Apple posts the answer when name or email is requested.
        params.push(("response_mode", "form_post"));
    }
    Ok(with_query(&endpoints.authorization, &params))
}

/// `GET|POST /login/callback`: the provider's answer.
pub async fn callback(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    ip: ClientIp,
    body: Body,
) -> Response {
    let mut params: HashMap<String, String> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned().collect();
    if method == Method::POST {
        match read_body(body, MAX_CALLBACK_FORM).await {
            Ok(bytes) => params.extend(url::form_urlencoded::parse(&bytes).into_owned()),
            Err(_) => {
                return fail(&state, SocialError::InvalidState("oversized callback"), None, ip.0.as_deref()).await
            }
        }
        // A provider's form post is cross-site, so SameSite=Lax cookies stay behind; a
        // redirect to the same callback as a top-level GET brings them.
        if cookies::get(&headers, cookies::BROWSER).is_none() {
            let mut r = redirect(&with_query(&callback_url(&state.config), &sorted(&params)));
            *r.status_mut() = StatusCode::SEE_OTHER;
            return r;
        }
    }
    let mut connection = None;
    match handle_callback(&state, &headers, &params, ip.0.as_deref(), &mut connection).await {
        Ok(r) => r,
        Err(e) => fail(&state, e, connection.as_ref(), ip.0.as_deref()).await,
    }
}

fn sorted(params: &HashMap<String, String>) -> Vec<(&str, &str)> {
    let mut v: Vec<(&str, &str)> = params
        .iter()
        .filter(|(k, _)| ["state", "code", "error", "error_description"].contains(&k.as_str()))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    v.sort();
    v
}

/// Ends a failed sign-in: an audit event (`f`, or `fs` when no account could be made)
/// and the hosted error page.
pub async fn fail(state: &AppState, e: SocialError, connection: Option<&Connection>, ip: Option<&str>) -> Response {
    let kind = if matches!(e, SocialError::EmailInUse) { codes::FAILED_SIGNUP } else { codes::FAILED_LOGIN };
    let mut event = crate::audit::event(state, kind);
    event.connection = connection.map(|c| c.name.clone());
    event.connection_id = connection.map(|c| c.id.clone());
    event.ip = ip.map(str::to_string);
    event.description = Some(e.to_string());
    crate::audit::record(state, event).await;
    let page = PageError::from(e);
    error_page(state, &page).await.into_response()
}

async fn handle_callback(
    state: &AppState,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
    ip: Option<&str>,
    connection_out: &mut Option<Connection>,
) -> Result<Response, SocialError> {
    let st = params.get("state").filter(|s| !s.is_empty()).ok_or(SocialError::InvalidState("no state"))?;
    let browser = cookies::get(headers, cookies::BROWSER).ok_or(SocialError::InvalidState("no browser cookie"))?;
    let now = state.clock.now().unix_timestamp();
    let id_hash = hash_secret(st);
    let t = state
        .store
        .upstream_transaction(&id_hash, now)
        .await?
        .filter(|t| t.profile.is_none())
        .ok_or(SocialError::InvalidState("unknown, used or expired state"))?;
    if !ct_eq(&t.browser_hash, &hash_secret(&browser)) {
        return Err(SocialError::InvalidState("the sign-in was started in another browser"));
    }
    // Single use: of two concurrent callbacks with this state, one continues.
    let t = state
        .store
        .take_upstream_transaction(&id_hash, now)
        .await?
        .ok_or(SocialError::InvalidState("unknown, used or expired state"))?;
    let connection = state
        .store
        .connection(&t.connection_id)
        .await?
        .ok_or_else(|| SocialError::Connection("the connection was deleted".into()))?;
    *connection_out = Some(connection.clone());
    let req: AuthorizeRequest = serde_json::from_str(&t.params).map_err(|e| SocialError::Internal(e.to_string()))?;
    if let Some(error) = params.get("error") {
        return Err(if error == "access_denied" {
            SocialError::AccessDenied
        } else {
            SocialError::Upstream(sanitize_code(error))
        });
    }
    let code = params.get("code").filter(|c| !c.is_empty()).ok_or_else(|| SocialError::Upstream("no code".into()))?;
    let profile = upstream_profile(state, &connection, st, code).await?;
    finish(state, headers, &connection, &req, profile, ip, &browser).await
}

/// Apple's client secret is a short-lived ES256 JWT signed with the developer's key.
fn client_secret(state: &AppState, u: &Upstream) -> Result<String, SocialError> {
    let Some(k) = &u.apple_key else {
        return u.client_secret.clone().ok_or_else(|| SocialError::Connection("no client_secret".into()));
    };
    let now = state.clock.now().unix_timestamp();
    let claims = serde_json::json!({
        "iss": k.team_id, "iat": now, "exp": now + 300, "aud": "https://appleid.apple.com", "sub": u.client_id,
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(k.key_id.clone());
    let key = jsonwebtoken::EncodingKey::from_ec_pem(k.private_key_pem.as_bytes())
        .map_err(|e| SocialError::Connection(format!("options.app_secret is not a usable key: {e}")))?;
    jsonwebtoken::encode(&header, &claims, &key).map_err(|e| SocialError::Internal(e.to_string()))
}

/// Exchanges the code and turns the provider's answer into a verified, normalized profile.
pub async fn upstream_profile(
    state: &AppState,
    connection: &Connection,
    st: &str,
    code: &str,
) -> Result<UpstreamProfile, SocialError> {
    let u = Upstream::from_connection(connection).map_err(|e| SocialError::Connection(e.to_string()))?;
    let ep = state.upstreams.endpoints(&u).await?;
    let secret = client_secret(state, &u)?;
    let tokens = state
        .upstreams
        .exchange_code(&ep, &u.client_id, &secret, code, &derive(st, "pkce"), &callback_url(&state.config))
        .await?;
    let claims = match u.protocol {
        Protocol::Oidc => {
            let token = tokens.id_token.ok_or_else(|| SocialError::InvalidIdToken("the provider sent none".into()))?;
            let h = id_token::header(&token).map_err(SocialError::InvalidIdToken)?;
            let (Some(jwks_uri), Some(issuer)) = (ep.jwks_uri.as_deref(), ep.issuer.as_deref()) else {
                return Err(SocialError::Connection("no issuer or jwks_uri".into()));
            };
            let keys = state.upstreams.keys(jwks_uri, h.kid.as_deref()).await?;
            let key = id_token::select_key(&h, &keys).map_err(SocialError::InvalidIdToken)?;
            let nonce = derive(st, "nonce");
            let expected =
                Expected { issuer, client_id: &u.client_id, nonce: &nonce, now: state.clock.now().unix_timestamp() };
            let mut claims = id_token::verify(&token, &h, key, &expected).map_err(SocialError::InvalidIdToken)?;
            if let (true, Some(url), Some(at)) = (u.strategy == "oidc", &ep.userinfo, &tokens.access_token) {
                let info = state.upstreams.user_info(url, at).await?;
                // OpenID Connect Core §5.3.2: user info about someone else is discarded.
                if info.get("sub") == claims.get("sub") {
                    for (k, v) in info {
                        claims.entry(k).or_insert(v);
                    }
                }
            }
            claims
        }
        Protocol::OAuth2 => {
            let at = tokens.access_token.ok_or_else(|| SocialError::Upstream("no access token".into()))?;
            let url = ep.userinfo.as_deref().ok_or_else(|| SocialError::Connection("no userinfo_endpoint".into()))?;
            let mut claims = state.upstreams.user_info(url, &at).await?;
            claims.remove("email_verified");
            if u.strategy == "github" {
                let emails = format!("{}/emails", url.trim_end_matches('/'));
                if let Some(email) = state.upstreams.github_verified_email(&emails, &at).await? {
                    claims.insert("email".into(), Value::String(email));
                    claims.insert("email_verified".into(), Value::Bool(true));
                }
            }
            claims
        }
    };
    normalize_profile(&u, &claims).map_err(SocialError::InvalidProfile)
}

/// A verified profile: sign in the user it belongs to, or send the user to prove an
/// existing account with the same verified email, or create a new user.
#[allow(clippy::too_many_arguments)]
async fn finish(
    state: &AppState,
    headers: &HeaderMap,
    c: &Connection,
    req: &AuthorizeRequest,
    p: UpstreamProfile,
    ip: Option<&str>,
    browser: &str,
) -> Result<Response, SocialError> {
    let (_, local) = upstream_user_id(c, &p.sub);
    if let Some(owner) = state.store.identity_owner(&c.strategy, &local).await? {
        return sign_in(state, headers, c, req, owner, &p, ip).await;
    }
    if let (true, Some(email)) = (p.email_verified, &p.email) {
        let existing = state.store.users_by_email(email).await?;
        let provable = existing.into_iter().find(|u| u.provider == "auth0" && u.password_hash.is_some() && !u.blocked);
        if let Some(target) = provable {
            let handle = random_token();
            let now = state.clock.now().unix_timestamp();
            state
                .store
                .insert_upstream_transaction(&UpstreamTransaction {
                    id_hash: hash_secret(&handle),
                    browser_hash: hash_secret(browser),
                    connection_id: c.id.clone(),
                    params: serde_json::to_string(req).map_err(|e| SocialError::Internal(e.to_string()))?,
                    profile: Some(profile_to_json(&p)),
                    link_user_id: Some(target.user_id.clone()),
                    created_at: now,
                    expires_at: now + state.config.login_transaction_ttl_secs,
                })
                .await?;
            let mut r = redirect(&format!("/u/link?state={handle}"));
            *r.status_mut() = StatusCode::SEE_OTHER;
            return Ok(r);
        }
    }
    create_and_sign_in(state, headers, c, req, &p, ip).await
}

/// A new user of the connection, signed in.
pub async fn create_and_sign_in(
    state: &AppState,
    headers: &HeaderMap,
    c: &Connection,
    req: &AuthorizeRequest,
    p: &UpstreamProfile,
    ip: Option<&str>,
) -> Result<Response, SocialError> {
    let now = state.now();
    let mut user = new_upstream_user(c, p, &now);
    user.logins_count = 1;
    user.last_login = Some(now);
    user.last_ip = ip.map(str::to_string);
    match state.store.insert_user(&user).await {
        Ok(()) => {}
        // The same first sign-in finished concurrently: continue as that user.
        Err(StoreError::Conflict(gatehouse_store::ConflictOn::Id)) => {
            let (_, local) = upstream_user_id(c, &p.sub);
            let owner = state.store.identity_owner(&c.strategy, &local).await?.ok_or(SocialError::EmailInUse)?;
            return sign_in(state, headers, c, req, owner, p, ip).await;
        }
        Err(StoreError::Conflict(_)) => return Err(SocialError::EmailInUse),
        Err(e) => return Err(e.into()),
    }
    event(state, codes::SUCCESS_SIGNUP, c, &user, ip).await;
    event(state, codes::SUCCESS_LOGIN, c, &user, ip).await;
    Ok(complete_login(state, headers, req, &user.user_id, SignInMethod::Federated, ip).await?)
}

/// A returning user (the identity's own user, or the user it is linked to), signed in;
/// its own profile is refreshed from the provider unless the connection says not to.
async fn sign_in(
    state: &AppState,
    headers: &HeaderMap,
    c: &Connection,
    req: &AuthorizeRequest,
    owner: User,
    p: &UpstreamProfile,
    ip: Option<&str>,
) -> Result<Response, SocialError> {
    let (full, _) = upstream_user_id(c, &p.sub);
    if owner.user_id == full && owner.connection_id != c.id {
        return Err(SocialError::Connection("this account belongs to another connection".into()));
    }
    if owner.blocked {
        return Err(SocialError::Blocked);
    }
    let refresh =
        owner.user_id == full && Upstream::from_connection(c).map(|u| u.update_profile_on_login).unwrap_or(false);
    let now = state.now();
    let ip_owned = ip.map(str::to_string);
    let updated = state
        .store
        .modify_user(&owner.user_id, |u| {
            if u.blocked {
                return Err(SocialError::Blocked);
            }
            if refresh {
                refresh_profile(u, p);
            }
            u.logins_count += 1;
            u.last_login = Some(now.clone());
            if ip_owned.is_some() {
                u.last_ip = ip_owned;
            }
            u.updated_at = now.clone();
            Ok(())
        })
        .await??;
    event(state, codes::SUCCESS_LOGIN, c, &updated, ip).await;
    Ok(complete_login(state, headers, req, &updated.user_id, SignInMethod::Federated, ip).await?)
}

async fn event(state: &AppState, kind: &str, c: &Connection, u: &User, ip: Option<&str>) {
    let mut e = crate::audit::event(state, kind);
    e.connection = Some(c.name.clone());
    e.connection_id = Some(c.id.clone());
    e.user_id = Some(u.user_id.clone());
    e.user_name = u.email.clone().or_else(|| u.nickname.clone());
    e.ip = ip.map(str::to_string);
    crate::audit::record(state, e).await;
}

/// The identity a verified upstream profile becomes when it is linked to an account.
pub fn identity_for(c: &Connection, p: &UpstreamProfile, now: &str) -> Identity {
    let (_, local) = upstream_user_id(c, &p.sub);
    Identity {
        provider: c.strategy.clone(),
        user_id: local,
        connection_id: c.id.clone(),
        connection: c.name.clone(),
        is_social: is_social_strategy(&c.strategy),
        profile_data: profile_data(p),
        created_at: now.to_string(),
    }
}

pub fn profile_to_json(p: &UpstreamProfile) -> String {
    serde_json::json!({
        "sub": p.sub, "email": p.email, "email_verified": p.email_verified, "name": p.name,
        "given_name": p.given_name, "family_name": p.family_name, "nickname": p.nickname, "picture": p.picture,
    })
    .to_string()
}

pub fn profile_from_json(s: &str) -> Option<UpstreamProfile> {
    let v: Value = serde_json::from_str(s).ok()?;
    let str_of = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    Some(UpstreamProfile {
        sub: str_of("sub")?,
        email: str_of("email"),
        email_verified: v.get("email_verified").and_then(Value::as_bool).unwrap_or(false),
        name: str_of("name"),
        given_name: str_of("given_name"),
        family_name: str_of("family_name"),
        nickname: str_of("nickname"),
        picture: str_of("picture"),
    })
}
