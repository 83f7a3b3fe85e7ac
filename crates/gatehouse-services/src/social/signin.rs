//! What a sign-in through a provider decides, once the browser is back: the code
//! exchanged and the answer verified into a normalized profile ([`upstream_profile`]),
//! then a returning user, a new user, or (when the provider vouches for an email an
//! existing account has) a link the user must prove first ([`resolve`]). Never linked
//! silently, never on an unverified email.

use super::id_token::{self, Expected};
use super::{derive, SocialError};
use crate::secrets::{hash_secret, random_token};
use crate::Services;
use gatehouse_core::connection::Connection;
use gatehouse_core::identity::Identity;
use gatehouse_core::log_event::codes;
use gatehouse_core::social::{
    is_social_strategy, new_upstream_user, normalize_profile, profile_data, refresh_profile, upstream_user_id,
    Protocol, Upstream, UpstreamProfile,
};
use gatehouse_core::user::User;
use gatehouse_store::{Arrival, StoreError, UpstreamTransaction};
use serde_json::Value;

/// Apple's client secret is a short-lived ES256 JWT signed with the developer's key.
fn client_secret(state: &Services, u: &Upstream) -> Result<String, SocialError> {
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
    state: &Services,
    connection: &Connection,
    st: &str,
    code: &str,
) -> Result<UpstreamProfile, SocialError> {
    let u = Upstream::from_connection(connection).map_err(|e| SocialError::Connection(e.to_string()))?;
    let ep = state.upstreams.endpoints(&u).await?;
    let secret = client_secret(state, &u)?;
    let tokens = state
        .upstreams
        .exchange_code(&ep, &u.client_id, &secret, code, &derive(st, "pkce"), &state.config.social_callback_url())
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

/// Where a verified profile leads.
pub enum Outcome {
    /// The user it belongs to (returning, or new), signed in: counters and events written.
    SignedIn(Box<User>),
    /// An existing account has the provider-verified email: the user must prove it on the
    /// link page, under this handle, before the two are linked.
    ProveAccount { handle: String },
}

/// A verified profile: sign in the user it belongs to, or have the user prove an existing
/// account with the same verified email, or create a new user. `params` is the waiting
/// authorization request, kept with a link for when it is proven; `browser` the browser
/// the sign-in is bound to.
pub async fn resolve(
    state: &Services,
    c: &Connection,
    params: &str,
    p: UpstreamProfile,
    ip: Option<&str>,
    browser: &str,
) -> Result<Outcome, SocialError> {
    let (_, local) = upstream_user_id(c, &p.sub);
    if let Some(owner) = state.store.identity_owner(&c.strategy, &local).await? {
        return returning_user(state, c, owner, &p, ip).await.map(|u| Outcome::SignedIn(Box::new(u)));
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
                    params: params.to_string(),
                    profile: Some(profile_to_json(&p)),
                    link_user_id: Some(target.user_id.clone()),
                    created_at: now,
                    expires_at: now + state.config.login_transaction_ttl_secs,
                })
                .await?;
            return Ok(Outcome::ProveAccount { handle });
        }
    }
    new_user(state, c, &p, ip).await.map(|u| Outcome::SignedIn(Box::new(u)))
}

/// A new user of the connection, signed in.
pub async fn new_user(
    state: &Services,
    c: &Connection,
    p: &UpstreamProfile,
    ip: Option<&str>,
) -> Result<User, SocialError> {
    let now = state.now();
    let mut user = new_upstream_user(c, p, &now);
    user.logins_count = 1;
    user.last_login = Some(now);
    user.last_ip = ip.map(str::to_string);
    match state.store.insert_arrived_user(&user, Arrival::SignUp, &user.created_at).await {
        Ok(()) => {}
        // The same first sign-in finished concurrently: continue as that user.
        Err(StoreError::Conflict(gatehouse_store::ConflictOn::Id)) => {
            let (_, local) = upstream_user_id(c, &p.sub);
            let owner = state.store.identity_owner(&c.strategy, &local).await?.ok_or(SocialError::EmailInUse)?;
            return returning_user(state, c, owner, p, ip).await;
        }
        Err(StoreError::Conflict(_)) => return Err(SocialError::EmailInUse),
        Err(e) => return Err(e.into()),
    }
    event(state, codes::SUCCESS_SIGNUP, c, &user, ip).await;
    event(state, codes::SUCCESS_LOGIN, c, &user, ip).await;
    Ok(user)
}

/// A returning user (the identity's own user, or the user it is linked to), signed in;
/// its own profile is refreshed from the provider unless the connection says not to.
async fn returning_user(
    state: &Services,
    c: &Connection,
    owner: User,
    p: &UpstreamProfile,
    ip: Option<&str>,
) -> Result<User, SocialError> {
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
    Ok(updated)
}

async fn event(state: &Services, kind: &str, c: &Connection, u: &User, ip: Option<&str>) {
    let mut e = state.audit.event(kind);
    e.connection = Some(c.name.clone());
    e.connection_id = Some(c.id.clone());
    e.user_id = Some(u.user_id.clone());
    e.user_name = u.email.clone().or_else(|| u.nickname.clone());
    e.ip = ip.map(str::to_string);
    state.audit.record(e).await;
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
